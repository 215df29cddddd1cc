use std::process::ExitCode;

use super::cell;
use super::connections::describe;
use crate::store::{Ctx, Result};

pub async fn run(ctx: &Ctx, json: bool) -> Result<ExitCode> {
    let deps = ctx.deps().await?;
    let all = deps.connections.connections().await?;
    if !json {
        println!(
            "{}  {}  {}  {}  {}  {}",
            cell("CONNECTION", 20),
            cell("STATUS", 10),
            cell("LAST SYNC", 14),
            cell("PENDING", 8),
            cell("REAUTH", 7),
            "FAILED"
        );
    }
    for c in all {
        let v = describe(ctx, &deps, &c.id).await?;
        if json {
            println!("{v}");
            continue;
        }
        let last = v["last_sync"]["outcome"].as_str().unwrap_or("never").to_owned();
        println!(
            "{}  {}  {}  {}  {}  {}",
            cell(c.id.as_str(), 20),
            cell(c.status.as_str(), 10),
            cell(&last, 14),
            cell(&v["webhooks_pending"].to_string(), 8),
            cell(&v["webhooks_pending_reauth"].to_string(), 7),
            v["webhooks_failed"]
        );
    }
    Ok(ExitCode::SUCCESS)
}
