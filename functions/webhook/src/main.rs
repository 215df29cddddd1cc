use axum::Router;
use lambda_http::tower::ServiceExt;
use lambda_http::{Error, Request, service_fn};
use tokio::sync::OnceCell;
use xor_lever_shared::config::{AwsStores, Settings, aws_sdk_config, http_client, lever_context};

#[tokio::main]
async fn main() -> Result<(), Error> {
    xor_lever_shared::metrics::process_started();
    lambda_http::tracing::init_default_subscriber();
    // Configuration is checked at init; the clients (and their TLS roots) are built on the first
    // request, once per process (see docs/benchmarks.md, Cold start).
    let settings: &'static Settings = Box::leak(Box::new(Settings::from_env()?));
    let app: &'static OnceCell<Router> = Box::leak(Box::new(OnceCell::new()));
    lambda_http::run(service_fn(move |req: Request| async move {
        let router = app
            .get_or_init(|| async {
                // Lever's part of config's wiring only: the sync's ports (and its feed client)
                // are not this function's, and would only lengthen its cold start.
                let stores = AwsStores::new(&aws_sdk_config().await, settings);
                webhook::app(lever_context(&stores, settings, http_client()), settings.public_url.clone())
            })
            .await
            .clone();
        router.oneshot(req).await
    }))
    .await
}
