use std::process::ExitCode;

use crate::store::{Ctx, Result};

#[derive(clap::Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8400")]
    pub listen: String,
    /// The public base URL Lever redirects back to (default: the address served).
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// The webhook routes (the Lambda's router) on a local address.
pub async fn run(ctx: &Ctx, args: ServeArgs) -> Result<ExitCode> {
    let mut deps = ctx.lever_context().await?;
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    // Without --public-url: the loopback address served, or (listening beyond loopback) the
    // host each request names, as the Lambda does without PublicUrl.
    let local = listener.local_addr()?;
    let public_url = match args.public_url {
        Some(u) => Some(xor_lever_shared::url::public_base(&u).map_err(|e| format!("--public-url: {e}"))?),
        None if local.ip().is_loopback() => Some(format!("http://{local}")),
        None => None,
    };
    // A new connection's first sync runs in the background, as the Lambda's async invoke would.
    let on = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    deps.sync_trigger = Some(background_sync(ctx.deps().await?, on));
    println!(
        "serving POST /webhooks/xor/{{connection_id}}, GET /oauth/lever/start and /oauth/lever/callback on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, xor_lever_shared::http::router(deps, public_url))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}

/// A sync trigger that runs the connection's sync in the background while `armed` (as the
/// Lambda's queued turn would); `dev` arms it once its own syncs are done.
pub fn background_sync(
    deps: xor_lever_shared::usecases::SyncDeps,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::sync::Arc<dyn xor_lever_shared::domain::SyncTrigger> {
    std::sync::Arc::new(xor_lever_shared::adapters::local_trigger::BackgroundSyncTrigger(std::sync::Arc::new(
        move |id| {
            let (deps, armed) = (deps.clone(), armed.clone());
            Box::pin(async move {
                if armed.load(std::sync::atomic::Ordering::SeqCst) {
                    xor_lever_shared::usecases::sync_connection(&deps, &id, &Default::default()).await;
                }
            })
        },
    )))
}
