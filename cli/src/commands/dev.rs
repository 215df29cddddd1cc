//! `xor-lever dev`: the whole jobs story on one machine, no AWS account. Starts the XOR sandbox,
//! serves the bundled sample feed on loopback, registers a connection in a fresh embedded store,
//! syncs, prints the jobs XOR now has, and shows that a second sync changes nothing.
use std::process::ExitCode;

use xor_lever::adapters::xor::{XorClient, XorSettings};
use xor_lever::domain::connection::XOR_ASSUMED_MAX_RPS;
use xor_lever::domain::ports::XOR_API_KEY;
use xor_lever::domain::{Connection, ConnectionId, SecretString};
use xor_lever::usecases::{SyncOptions, now_ms};
use xor_lever_sandbox::xor::Config;
use xor_lever_sandbox::{FeedServer, XorSandbox};

use super::cell;
use super::sync::{print_reports, run_sync};
use crate::store::{Ctx, Result, embedded_deps};

const SAMPLE_FEED: &[u8] = include_bytes!("../../../fixtures/lever-feed-sample.xml");

#[derive(clap::Args)]
pub struct DevArgs {
    /// Keep the sandboxes running after the demo (Ctrl-C stops them).
    #[arg(long)]
    pub keep_running: bool,
}

pub async fn run(ctx: &Ctx, args: DevArgs) -> Result<ExitCode> {
    let dir = ctx.state_dir.join("dev");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let xor =
        XorSandbox::spawn_on("127.0.0.1:0", Config { rate_limit_rps: XOR_ASSUMED_MAX_RPS, latency_ms: 0 }).await?;
    let feed = FeedServer::spawn_on("127.0.0.1:0", SAMPLE_FEED.to_vec()).await?;
    println!("1. XOR sandbox at {}; the sample Lever feed at {}", xor.url, feed.url);

    let http = xor_lever::config::http_client();
    let deps = embedded_deps(&dir, http.clone())?;
    let id = ConnectionId::parse("demo")?;
    let key = SecretString::new("xor_test_demo");
    deps.secrets.put_secret(&id, XOR_API_KEY, &key).await?;
    deps.connections
        .create_connection(&Connection::new(id.clone(), feed.url.clone(), xor.url.clone(), now_ms() / 1000))
        .await?;
    println!("2. connection `demo` registered in a fresh embedded store ({})", dir.join("state.db").display());

    println!("3. first sync:");
    let opts = SyncOptions::default();
    let reports = run_sync(&deps, &opts, Some(&id)).await?;
    print_reports(&reports, false, false);

    let client = XorClient::new(http, XorSettings::new(&xor.url, key));
    let jobs = client.list_all().await?;
    println!("4. XOR now has {} jobs:", jobs.len());
    println!("   {}  {}  {}  {}", cell("XOR ID", 10), cell("STATUS", 7), cell("TITLE", 38), "CHATBOT");
    for j in &jobs {
        println!(
            "   {}  {}  {}  {}",
            cell(&j.id, 10),
            cell(&j.status, 7),
            cell(j.title.as_deref().unwrap_or("-"), 38),
            j.chatbot_url.as_deref().unwrap_or("-")
        );
    }

    let writes_before = xor.stats().writes;
    println!("5. second sync (the feed answers 304 Not Modified):");
    print_reports(&run_sync(&deps, &opts, Some(&id)).await?, false, false);
    println!("6. a full re-read (--force: no conditional GET):");
    print_reports(
        &run_sync(&deps, &SyncOptions { force: true, ..SyncOptions::default() }, Some(&id)).await?,
        false,
        false,
    );
    let extra_writes = xor.stats().writes - writes_before;
    println!("   XOR writes since the first sync: {extra_writes}");
    if extra_writes != 0 || jobs.len() != 4 {
        return Err(format!(
            "expected 4 jobs and no further writes, saw {} jobs and {extra_writes} writes",
            jobs.len()
        )
        .into());
    }
    println!("done: jobs flow Lever → XOR. State is in {}.", dir.display());
    if args.keep_running {
        println!("sandboxes keep running; Ctrl-C stops them");
        tokio::signal::ctrl_c().await?;
    }
    Ok(ExitCode::SUCCESS)
}
