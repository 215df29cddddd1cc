use lambda_http::Error;
use xor_lever::config::{Settings, aws_sdk_config, http_client, webhook_deps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let settings = Settings::from_env()?;
    // Clients are built once per cold start and reused by every invocation.
    let sdk = aws_sdk_config().await;
    lambda_http::run(webhook::app(webhook_deps(&sdk, &settings, http_client()))).await
}
