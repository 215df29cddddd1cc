//! Which postings become XOR jobs (issue 26, docs/sync.md "Which jobs go to XOR"):
//! `connections filter show|set|clear` and `jobs switch`. The next sync applies a change (closes
//! what leaves the selection, under the mass-close guard; creates what enters it);
//! `sync --connection ID --dry-run` shows the effect first.
use std::collections::BTreeSet;
use std::process::ExitCode;

use clap::Subcommand;
use xor_lever_shared::domain::{ConnectionId, Dimension, JobFilter, Rules, Switch};
use xor_lever_shared::usecases::now_ms;

use crate::store::{Ctx, Result};

/// One include and one exclude flag per dimension (repeat a flag for several values).
#[derive(clap::Args, Default)]
pub struct RuleArgs {
    #[arg(long)]
    include_team: Vec<String>,
    #[arg(long)]
    exclude_team: Vec<String>,
    #[arg(long)]
    include_department: Vec<String>,
    #[arg(long)]
    exclude_department: Vec<String>,
    #[arg(long)]
    include_city: Vec<String>,
    #[arg(long)]
    exclude_city: Vec<String>,
    #[arg(long)]
    include_country: Vec<String>,
    #[arg(long)]
    exclude_country: Vec<String>,
    /// onsite, remote, hybrid (as the feed says them).
    #[arg(long)]
    include_workplace: Vec<String>,
    #[arg(long)]
    exclude_workplace: Vec<String>,
    #[arg(long)]
    include_commitment: Vec<String>,
    #[arg(long)]
    exclude_commitment: Vec<String>,
    /// Words of the title (each of the value's words must be a word of the title).
    #[arg(long)]
    include_title: Vec<String>,
    #[arg(long)]
    exclude_title: Vec<String>,
}

impl RuleArgs {
    fn rules(self) -> Rules {
        let pairs = [
            (Dimension::Team, self.include_team, self.exclude_team),
            (Dimension::Department, self.include_department, self.exclude_department),
            (Dimension::City, self.include_city, self.exclude_city),
            (Dimension::Country, self.include_country, self.exclude_country),
            (Dimension::Workplace, self.include_workplace, self.exclude_workplace),
            (Dimension::Commitment, self.include_commitment, self.exclude_commitment),
            (Dimension::Title, self.include_title, self.exclude_title),
        ];
        let mut r = Rules::default();
        for (dim, inc, exc) in pairs {
            let set = |v: Vec<String>| {
                v.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect::<BTreeSet<_>>()
            };
            let (inc, exc) = (set(inc), set(exc));
            if !inc.is_empty() {
                r.include.insert(dim, inc);
            }
            if !exc.is_empty() {
                r.exclude.insert(dim, exc);
            }
        }
        r
    }
}

#[derive(Subcommand)]
pub enum FilterCommand {
    /// The rules, the switches and who changed them.
    Show {
        id: ConnectionId,
        #[arg(long)]
        json: bool,
    },
    /// Replaces the rules with these (switches stay). Empty includes: every posting.
    Set {
        id: ConnectionId,
        #[command(flatten)]
        rules: RuleArgs,
        /// Who asks (kept in the filter's history).
        #[arg(long, default_value = "operator")]
        by: String,
    },
    /// Removes every rule and switch: every posting is published again.
    Clear {
        id: ConnectionId,
        #[arg(long, default_value = "operator")]
        by: String,
    },
}

#[derive(Subcommand)]
pub enum JobsCommand {
    /// One posting on or off whatever the rules say (`auto`: the rules decide again).
    Switch {
        id: ConnectionId,
        posting: String,
        #[arg(value_parser = ["on", "off", "auto"])]
        state: String,
        #[arg(long, default_value = "operator")]
        by: String,
    },
}

/// Reads the filter, changes it with `change`, writes it (optimistic: a concurrent change is
/// refused and nothing is written); the next sync reads the feed in full.
async fn update(
    ctx: &Ctx,
    id: &ConnectionId,
    by: &str,
    change: impl FnOnce(&mut JobFilter) -> String,
) -> Result<JobFilter> {
    let w = ctx.lever_context().await?;
    Ok(xor_lever_shared::usecases::job_filter::change_filter(w.connections.as_ref(), id, by, now_ms(), None, change)
        .await?)
}

pub async fn filter(ctx: &Ctx, cmd: FilterCommand) -> Result<ExitCode> {
    match cmd {
        FilterCommand::Show { id, json } => {
            let w = ctx.lever_context().await?;
            let conn = w.connections.connection(&id).await?.ok_or_else(|| format!("no connection {id}"))?;
            if json {
                println!("{}", serde_json::to_string(&conn.job_filter)?);
            } else {
                print!("{}", describe(&conn.job_filter));
            }
        }
        FilterCommand::Set { id, rules, by } => {
            let rules = rules.rules();
            rules.check_bounds()?;
            let f = update(ctx, &id, &by, |f| {
                f.rules = rules;
                format!("rules set: {}", words(&f.rules))
            })
            .await?;
            println!("connection {id}: job filter v{} — {}", f.version, words(&f.rules));
            println!(
                "the next sync applies it; `xor-lever sync --connection {id} --dry-run` shows what it would create and close"
            );
        }
        FilterCommand::Clear { id, by } => {
            let f = update(ctx, &id, &by, |f| {
                f.rules = Rules::default();
                f.switches.clear();
                "cleared: every posting published".into()
            })
            .await?;
            println!(
                "connection {id}: job filter v{} cleared; every posting of the feed is published by the next sync",
                f.version
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn jobs(ctx: &Ctx, cmd: JobsCommand) -> Result<ExitCode> {
    let JobsCommand::Switch { id, posting, state, by } = cmd;
    // A posting id as the feed gives them (never control characters into the history).
    let posting =
        xor_lever_shared::domain::PostingId::parse(&posting).map_err(|e| format!("{posting:?}: {e}"))?.to_string();
    let at = now_ms();
    let f = update(ctx, &id, &by, |f| {
        match state.as_str() {
            "auto" => {
                f.switches.remove(&posting);
            }
            s => {
                f.switches.insert(posting.clone(), Switch { on: s == "on", by: by.clone(), at_ms: at });
            }
        }
        format!("posting {posting} switched {state}")
    })
    .await?;
    println!(
        "connection {id}: posting {posting} switched {state} (job filter v{}); the next sync applies it",
        f.version
    );
    Ok(ExitCode::SUCCESS)
}

/// The rules in a line: `include team: Field Ops; exclude title: VP`.
pub fn words(r: &Rules) -> String {
    let part = |kind: &str, m: &std::collections::BTreeMap<Dimension, BTreeSet<String>>| {
        m.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(d, v)| format!("{kind} {}: {}", d.as_str(), v.iter().cloned().collect::<Vec<_>>().join(", ")))
            .collect::<Vec<_>>()
    };
    let all = [part("include", &r.include), part("exclude", &r.exclude)].concat();
    if all.is_empty() { "no rules (every posting)".into() } else { all.join("; ") }
}

fn describe(f: &JobFilter) -> String {
    let mut out = format!("rules: {}\n", words(&f.rules));
    for (posting, s) in &f.switches {
        out.push_str(&format!("switch: {posting} {} (by {})\n", if s.on { "on" } else { "off" }, s.by));
    }
    for c in f.history.iter().rev() {
        out.push_str(&format!("v{} by {}: {}\n", c.version, c.by, c.what));
    }
    out
}
