//! `xor-lever status`: every connection at a glance (what the dashboard shows, from the store):
//! its status, the last run and its outcome, the jobs it has in XOR, the deliveries waiting or
//! failed, and when Lever ends its authorization (a year after it was given; the access token
//! itself is refreshed by the product). `--json`: one object per line, for scripts.
use std::process::ExitCode;

use super::connections::describe;
use crate::store::{Ctx, Result};

pub async fn run(ctx: &Ctx, json: bool) -> Result<ExitCode> {
    let deps = ctx.deps().await?;
    let all = deps.connections.connections().await?;
    let now = xor_lever_shared::usecases::now_ms();
    let mut rows = Vec::new();
    for c in all {
        let v = describe(ctx, &deps, &c.id).await?;
        if json {
            println!("{v}");
            continue;
        }
        rows.push(row(&v, now));
    }
    if !json {
        print(rows);
    }
    Ok(ExitCode::SUCCESS)
}

/// How a row reads at a glance: fine, needs a look, needs action.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Health {
    Fine,
    Look,
    Act,
}

fn row(v: &serde_json::Value, now_ms: i64) -> (Health, [String; 9]) {
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let outcome = v["last_sync"]["outcome"]["outcome"]
        .as_str()
        .or_else(|| v["last_sync"]["outcome"].as_str())
        .unwrap_or("never")
        .to_owned();
    let last = v["last_sync"]["finished_at_ms"].as_i64().map_or("—".to_owned(), |t| ago(now_ms - t));
    let renew = v["authorization_renewal_due"].as_bool().unwrap_or(false);
    let ends = v["authorization_ends_at_unix"].as_i64().map_or("—".to_owned(), |t| {
        let left = t * 1000 - now_ms;
        let when = if left <= 0 { "ended".to_owned() } else { format!("in {}", span(left)) };
        if renew { format!("{when}: authorize again") } else { when }
    });
    let status = v["status"].as_str().unwrap_or("?").to_owned();
    let (waiting, failed) = (n("webhooks_pending") + n("webhooks_pending_reauth"), n("webhooks_failed"));
    // Outcomes reach XOR through Lever's webhooks: a connected one without them needs a new
    // authorization (it predates them, or they were removed).
    let no_outcomes = status == "connected" && n("lever_webhooks_registered") == 0;
    let outcomes = match (status.as_str(), no_outcomes) {
        (_, true) => "authorize again".to_owned(),
        ("connected", false) => "on".to_owned(),
        _ => "—".to_owned(),
    };
    let health = if status == "revoked" || failed > 0 || matches!(outcome.as_str(), "error" | "feed_error") {
        Health::Act
    } else if status != "connected" || waiting > 0 || outcome == "partial" || renew || no_outcomes {
        Health::Look
    } else {
        Health::Fine
    };
    let cells = [
        v["connection"].as_str().unwrap_or("?").to_owned(),
        status,
        outcome,
        last,
        match n("jobs_held_back") {
            0 => n("jobs_in_xor").to_string(),
            held => format!("{} ({held} held back)", n("jobs_in_xor")),
        },
        waiting.to_string(),
        failed.to_string(),
        ends,
        outcomes,
    ];
    (health, cells)
}

/// The table, each line coloured by its health where the terminal supports it (`NO_COLOR`,
/// `CLICOLOR` and a non-terminal stdout turn colour off). Whole lines are coloured after the
/// table is laid out, so the escape codes never count as width.
fn print(rows: Vec<(Health, [String; 9])>) {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING).set_header([
        "CONNECTION",
        "STATUS",
        "LAST RUN",
        "FINISHED",
        "JOBS IN XOR",
        "WAITING",
        "FAILED",
        "AUTHORIZATION ENDS",
        "OUTCOMES TO XOR",
    ]);
    let health: Vec<Health> = rows.iter().map(|(h, _)| *h).collect();
    for (_, cells) in rows {
        t.add_row(cells);
    }
    let text = t.to_string();
    let mut lines = text.lines();
    if let Some(header) = lines.next() {
        println!("{}", console::style(header).bold());
    }
    for (line, h) in lines.zip(health) {
        let s = console::style(line);
        let s = match h {
            Health::Fine => s.green(),
            Health::Look => s.yellow(),
            Health::Act => s.red(),
        };
        println!("{s}");
    }
}

fn span(ms: i64) -> String {
    let m = ms / 60_000;
    match m {
        0 => format!("{} s", ms / 1000),
        1..=119 => format!("{m} min"),
        120..=2879 => format!("{} h", m / 60),
        _ => format!("{} days", m / 1440),
    }
}

fn ago(ms: i64) -> String {
    format!("{} ago", span(ms.max(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_says_what_an_operator_checks() {
        let now = 1_800_000_000_000;
        let v = serde_json::json!({
            "connection": "acme", "status": "connected", "jobs_in_xor": 4,
            "last_sync": {"finished_at_ms": now - 5 * 60_000, "outcome": {"outcome": "completed"}},
            "webhooks_pending": 1, "webhooks_pending_reauth": 0, "webhooks_failed": 0,
            "authorization_ends_at_unix": now / 1000 + 200 * 86_400, "authorization_renewal_due": false,
            "lever_webhooks_registered": 4,
        });
        let (h, cells) = row(&v, now);
        assert_eq!(
            cells,
            ["acme", "connected", "completed", "5 min ago", "4", "1", "0", "in 200 days", "on"].map(String::from)
        );
        assert_eq!(h, Health::Look, "a delivery waits");
        let mut held = v.clone();
        held["jobs_held_back"] = 2.into();
        assert_eq!(row(&held, now).1[4], "4 (2 held back)", "postings the job filter holds back");
        let mut before = v.clone();
        before["webhooks_pending"] = 0.into();
        before["lever_webhooks_registered"] = 0.into();
        let (h, cells) = row(&before, now);
        assert_eq!(
            (h, cells[8].as_str()),
            (Health::Look, "authorize again"),
            "an authorization from before the webhooks"
        );
        let soon = serde_json::json!({
            "connection": "acme", "status": "connected", "jobs_in_xor": 4,
            "last_sync": {"finished_at_ms": now - 5 * 60_000, "outcome": {"outcome": "completed"}},
            "authorization_ends_at_unix": now / 1000 + 20 * 86_400, "authorization_renewal_due": true,
        });
        let (h, cells) = row(&soon, now);
        assert_eq!((h, cells[7].as_str()), (Health::Look, "in 20 days: authorize again"));
        let revoked = serde_json::json!({"connection": "b", "status": "revoked", "last_sync": null});
        let (h, cells) = row(&revoked, now);
        assert_eq!((h, cells[2].as_str(), cells[3].as_str(), cells[7].as_str()), (Health::Act, "never", "—", "—"));
    }
}
