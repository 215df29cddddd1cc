use feed_sync::handler::Handler;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tokio::sync::OnceCell;
use xor_lever_shared::config::{Settings, wiring};

#[tokio::main]
async fn main() -> Result<(), Error> {
    xor_lever_shared::metrics::process_started();
    lambda_runtime::tracing::init_default_subscriber();
    // Configuration is checked at init (a bad deployment fails fast) ...
    let settings = Settings::from_env()?;
    // ... but the clients are built on the first event, once per process (their cost is most of
    // a cold start: see docs/benchmarks.md, Cold start).
    let handler: &'static OnceCell<Handler> = Box::leak(Box::new(OnceCell::new()));
    let settings: &'static Settings = Box::leak(Box::new(settings));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let h = handler
            .get_or_init(|| async {
                let w = wiring(settings).await;
                Handler {
                    deps: w.sync,
                    concurrency: settings.sync_concurrency,
                    webhooks: Some(w.lever),
                    turns: w.turns,
                }
            })
            .await;
        h.invoke(event).await
    }))
    .await
}
