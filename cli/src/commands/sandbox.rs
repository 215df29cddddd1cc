use std::process::ExitCode;

use xor_lever_sandbox::xor::Config;
use xor_lever_sandbox::{LeverSandbox, XorSandbox};

use crate::store::Result;

#[derive(clap::Args)]
pub struct SandboxArgs {
    /// Where the XOR sandbox listens.
    #[arg(long, default_value = "127.0.0.1:8480")]
    pub listen: String,
    /// Where the Lever sandbox listens (OAuth and the Data API under /v1).
    #[arg(long)]
    pub lever_listen: Option<String>,
    /// XOR's assumed rate limit per API key (requests/s); 0 turns it off.
    #[arg(long, default_value_t = xor_lever_shared::domain::connection::XOR_ASSUMED_MAX_RPS)]
    pub rate_limit: f64,
}

pub async fn run(args: SandboxArgs) -> Result<ExitCode> {
    let xor = XorSandbox::spawn_on(&args.listen, Config { rate_limit_rps: args.rate_limit, latency_ms: 0 }).await?;
    println!("XOR sandbox on {} (controls under /_sandbox/: stats, faults, config, jobs, reset)", xor.url);
    let _lever = match &args.lever_listen {
        Some(addr) => {
            let l = LeverSandbox::spawn_on(addr).await?;
            println!(
                "Lever sandbox on {} (API {}; OAuth client {} / {}; controls under /_sandbox/: stats, faults, config, revoke, expire-tokens, tokens, postings, opportunities)",
                l.url,
                l.api_base(),
                xor_lever_sandbox::lever::CLIENT_ID,
                xor_lever_sandbox::lever::CLIENT_SECRET
            );
            Some(l)
        }
        None => None,
    };
    println!("Ctrl-C stops them.");
    tokio::signal::ctrl_c().await?;
    Ok(ExitCode::SUCCESS)
}
