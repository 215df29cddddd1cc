use feed_sync::handler::Handler;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use xor_lever::config::{Settings, aws_deps, aws_sdk_config, http_client, webhook_deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = Settings::from_env()?;
    // Clients are built once per cold start and reused by every invocation.
    let sdk = aws_sdk_config().await;
    let http = http_client();
    let handler = Handler {
        deps: aws_deps(&sdk, &settings, http.clone()),
        concurrency: settings.sync_concurrency,
        webhooks: Some(webhook_deps(&sdk, &settings, http)),
    };
    let handler = &handler;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move { handler.handle(event).await },
    ))
    .await
}
