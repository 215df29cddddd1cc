//! `xor-lever`: the operator CLI and local runner.
mod commands;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xor-lever", version, about = "Lever ↔ XOR integration: operator CLI and local runner")]
struct Cli {
    /// Where the embedded store keeps its state.
    #[arg(long, global = true, default_value = ".xor-lever", env = "XOR_LEVER_STATE_DIR")]
    state_dir: PathBuf,
    /// `embedded` (SQLite in --state-dir) or `dynamodb` (TABLE_NAME, SECRET_PREFIX and the usual
    /// AWS variables, AWS_ENDPOINT_URL included).
    #[arg(long, global = true, default_value = "embedded", env = "XOR_LEVER_STORE")]
    store: store::StoreKind,
    /// More logging on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read a Lever XML feed and show what XOR would receive.
    Feed {
        #[command(subcommand)]
        command: commands::feed::FeedCommand,
    },
    /// Manage connections (one per customer).
    Connections {
        #[command(subcommand)]
        command: commands::connections::ConnectionsCommand,
    },
    /// Create the store's tables if missing (DynamoDB: the table as template.yaml declares it,
    /// for moto or a hand-made environment; embedded: the SQLite file).
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// The Lever OAuth app's credentials.
    LeverApp {
        #[command(subcommand)]
        command: commands::lever_app::LeverAppCommand,
    },
    /// The deployment's signing keys (page links, sessions, the OAuth state): init, rotate, show.
    Keys {
        #[command(subcommand)]
        command: commands::keys::KeysCommand,
    },
    /// Serve the webhook routes locally (the Lambda's router).
    Serve(commands::serve::ServeArgs),
    /// Inspect and replay XOR webhook deliveries.
    Webhooks {
        #[command(subcommand)]
        command: commands::webhooks::WebhooksCommand,
    },
    /// Jobs one by one: switch a posting on or off whatever the connection's filter says.
    Jobs {
        #[command(subcommand)]
        command: commands::filter::JobsCommand,
    },
    /// A person's data: erase it on request (by email or XOR candidate id).
    Candidates {
        #[command(subcommand)]
        command: commands::candidates::CandidatesCommand,
    },
    /// Every connection: status, last run, waiting and failed webhooks.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Sync feeds into XOR now.
    Sync(commands::sync::SyncArgs),
    /// Check a deployment: the store, the Lever app (set, not the placeholder), the signing
    /// key, the sync queue, the public URL; then each connection. Exit 1 when one fails.
    Doctor(commands::doctor::DoctorArgs),
    /// Run the XOR (and Lever) sandboxes until stopped.
    #[cfg(feature = "sandbox")]
    Sandbox(commands::sandbox::SandboxArgs),
    /// The local end-to-end run: sandbox, sample feed, a connection, two syncs.
    #[cfg(feature = "sandbox")]
    Dev(commands::dev::DevArgs),
}

#[derive(Subcommand)]
enum StoreCommand {
    Init,
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let ctx = store::Ctx::new(cli.state_dir, cli.store);
    let result = match cli.command {
        Command::Feed { command } => commands::feed::run(command).await,
        Command::Connections { command } => commands::connections::run(&ctx, command).await,
        Command::Store { command: StoreCommand::Init } => ctx.init().await,
        Command::LeverApp { command } => commands::lever_app::run(&ctx, command).await,
        Command::Keys { command } => commands::keys::run(&ctx, command).await,
        Command::Serve(args) => commands::serve::run(&ctx, args).await,
        Command::Webhooks { command } => commands::webhooks::run(&ctx, command).await,
        Command::Jobs { command } => commands::filter::jobs(&ctx, command).await,
        Command::Candidates { command } => commands::candidates::run(&ctx, command).await,
        Command::Status { json } => commands::status::run(&ctx, json).await,
        Command::Sync(args) => commands::sync::run(&ctx, args).await,
        Command::Doctor(args) => commands::doctor::run(&ctx, args).await,
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => commands::sandbox::run(args).await,
        #[cfg(feature = "sandbox")]
        Command::Dev(args) => commands::dev::run(&ctx, args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
