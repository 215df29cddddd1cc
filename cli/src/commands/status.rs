use std::process::ExitCode;

use super::connections::describe;
use super::print_table;
use crate::store::{Ctx, Result};

pub async fn run(ctx: &Ctx, json: bool) -> Result<ExitCode> {
    let deps = ctx.deps().await?;
    let all = deps.connections.connections().await?;
    let mut rows = Vec::new();
    for c in all {
        let v = describe(ctx, &deps, &c.id).await?;
        if json {
            println!("{v}");
            continue;
        }
        rows.push([
            c.id.to_string(),
            c.status.as_str().into(),
            v["last_sync"]["outcome"].as_str().unwrap_or("never").to_owned(),
            v["webhooks_pending"].to_string(),
            v["webhooks_pending_reauth"].to_string(),
            v["webhooks_failed"].to_string(),
        ]);
    }
    if !json {
        print_table(["CONNECTION", "STATUS", "LAST SYNC", "PENDING", "REAUTH", "FAILED"], rows);
    }
    Ok(ExitCode::SUCCESS)
}
