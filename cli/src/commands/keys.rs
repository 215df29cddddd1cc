//! The deployment's signing keys (docs/security.md): what signs page links, section sessions,
//! CSRF fields and the OAuth state. Random, ours alone, rotatable.
use std::process::ExitCode;

use clap::Subcommand;
use xor_lever_shared::usecases::now_ms;
use xor_lever_shared::usecases::signed::{init_keys, rotate_keys};

use crate::store::{Ctx, Result};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make the first signing key (256 random bits from the OS), unless one exists.
    Init,
    /// Make a new signing key; links and sessions signed with the previous one keep working for
    /// the grace period, then are refused.
    Rotate {
        /// Days the previous key stays valid, at most 90 (0 after a leak: every link and session
        /// it signed is void, in warm functions within a minute).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(0..=90))]
        grace_days: u32,
    },
    /// The keys' ids and dates (never the keys).
    Show,
}

pub async fn run(ctx: &Ctx, cmd: KeysCommand) -> Result<ExitCode> {
    let deps = ctx.deps().await?;
    let now = now_ms();
    match cmd {
        KeysCommand::Init => {
            if init_keys(deps.secrets.as_ref(), now).await? {
                println!("signing key created");
            } else {
                println!("a signing key exists already (rotate it with `xor-lever keys rotate`)");
            }
        }
        KeysCommand::Rotate { grace_days } => {
            let keys = rotate_keys(deps.secrets.as_ref(), now, i64::from(grace_days) * 86_400_000).await?;
            println!(
                "new signing key {}; the previous one keeps working for {grace_days} day(s); warm functions pick the new one up within a minute",
                keys.keys[0].id
            );
        }
        KeysCommand::Show => {
            let keys = xor_lever_shared::usecases::signed::stored_keys(deps.secrets.as_ref()).await?;
            let date = |ms: i64| {
                time::OffsetDateTime::from_unix_timestamp(ms / 1000)
                    .ok()
                    .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
                    .unwrap_or_default()
            };
            super::print_table(
                ["KEY", "CREATED", "RETIRES"],
                keys.keys.iter().enumerate().map(|(i, k)| {
                    let retires = match k.retires_ms {
                        Some(r) => date(r),
                        None if i == 0 => "(current)".into(),
                        None => "-".into(),
                    };
                    [k.id.clone(), date(k.created_ms), retires]
                }),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
