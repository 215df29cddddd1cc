use std::process::ExitCode;

use clap::Subcommand;
use xor_lever::domain::ports::XOR_API_KEY;
use xor_lever::domain::{Connection, ConnectionId, SecretString};
use xor_lever::usecases::now_ms;

use super::cell;
use crate::store::{Ctx, Result};

#[derive(Subcommand)]
pub enum ConnectionsCommand {
    /// Register a customer: its Lever feed and its XOR account.
    Add {
        id: ConnectionId,
        #[arg(long)]
        feed_url: String,
        #[arg(long, default_value = "https://api.xor.ai")]
        xor_base_url: String,
        /// Stored in the secret store (Secrets Manager with --store dynamodb), never in the table.
        #[arg(long, env = "XOR_API_KEY", hide_env_values = true)]
        xor_api_key: String,
        #[arg(long, default_value_t = xor_lever::domain::connection::XOR_ASSUMED_MAX_RPS)]
        xor_max_rps: f64,
        /// Share of active jobs one run may close before the mass-close guard holds them.
        #[arg(long, default_value_t = 0.5)]
        max_close_share: f64,
        /// A standing override of the mass-close guard (the setting form of `sync --force`).
        #[arg(long)]
        allow_mass_close: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: ConnectionsCommand) -> Result<ExitCode> {
    let deps = ctx.deps().await?;
    match cmd {
        ConnectionsCommand::Add {
            id,
            feed_url,
            xor_base_url,
            xor_api_key,
            xor_max_rps,
            max_close_share,
            allow_mass_close,
        } => {
            for (name, url) in [("--feed-url", &feed_url), ("--xor-base-url", &xor_base_url)] {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(format!("{name} must be an http(s) URL, got {url:?}").into());
                }
            }
            if !(max_rps_ok(xor_max_rps) && (0.0..=1.0).contains(&max_close_share)) {
                return Err("--xor-max-rps must be in (0, 1000] and --max-close-share in [0, 1]".into());
            }
            let mut c = Connection::new(id.clone(), feed_url, xor_base_url, now_ms() / 1000);
            c.xor_max_rps = xor_max_rps;
            c.max_close_share = max_close_share;
            c.allow_mass_close = allow_mass_close;
            // The secret first: a connection that exists is always usable.
            deps.secrets.put_secret(&id, XOR_API_KEY, &SecretString::new(xor_api_key)).await?;
            deps.connections.create_connection(&c).await?;
            println!("connection {id} added (status {})", c.status.as_str());
        }
        ConnectionsCommand::List { json } => {
            let all = deps.connections.connections().await?;
            if json {
                for c in all {
                    println!("{}", serde_json::to_string(&c)?);
                }
            } else {
                println!("{}  {}  {}  {}", cell("ID", 20), cell("STATUS", 10), cell("FEED", 44), "XOR");
                for c in all {
                    println!(
                        "{}  {}  {}  {}",
                        cell(c.id.as_str(), 20),
                        cell(c.status.as_str(), 10),
                        cell(&c.feed_url, 44),
                        c.xor_base_url
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn max_rps_ok(r: f64) -> bool {
    r.is_finite() && r > 0.0 && r <= 1000.0
}
