use std::process::ExitCode;

use crate::store::{Ctx, Result};

#[derive(clap::Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8400")]
    pub listen: String,
}

/// The webhook routes (the Lambda's router) on a local address.
pub async fn run(ctx: &Ctx, args: ServeArgs) -> Result<ExitCode> {
    let deps = ctx.webhook_deps().await?;
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    println!("serving POST /webhooks/xor/{{connection_id}} on http://{}", listener.local_addr()?);
    axum::serve(listener, xor_lever::http::router(deps))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}
