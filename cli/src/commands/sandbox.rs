use std::process::ExitCode;

use xor_lever_sandbox::XorSandbox;
use xor_lever_sandbox::xor::Config;

use crate::store::Result;

#[derive(clap::Args)]
pub struct SandboxArgs {
    /// Where the XOR sandbox listens.
    #[arg(long, default_value = "127.0.0.1:8480")]
    pub listen: String,
    /// XOR's assumed rate limit per API key (requests/s); 0 turns it off.
    #[arg(long, default_value_t = xor_lever::domain::connection::XOR_ASSUMED_MAX_RPS)]
    pub rate_limit: f64,
}

pub async fn run(args: SandboxArgs) -> Result<ExitCode> {
    let sb = XorSandbox::spawn_on(&args.listen, Config { rate_limit_rps: args.rate_limit, latency_ms: 0 }).await?;
    println!(
        "XOR sandbox on {} (controls under {}/_sandbox/: stats, faults, config, jobs, reset). Ctrl-C stops it.",
        sb.url, sb.url
    );
    tokio::signal::ctrl_c().await?;
    Ok(ExitCode::SUCCESS)
}
