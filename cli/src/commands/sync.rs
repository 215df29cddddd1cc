use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};
use xor_lever_shared::domain::queue::{SyncQueue, SyncTurn, TurnReason};
use xor_lever_shared::domain::{ConnectionId, RunOutcome};
use xor_lever_shared::usecases::{Progress, SyncDeps, SyncOptions, SyncReport, sync_all, sync_connection};

use crate::store::{Ctx, Result};

#[derive(clap::Args)]
pub struct SyncArgs {
    /// Only this connection (default: every connected one).
    #[arg(long)]
    pub connection: Option<ConnectionId>,
    /// Print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Let the mass-close guard through, and fetch the feed in full (no conditional GET).
    #[arg(long)]
    pub force: bool,
    /// One summary object per connection per line.
    #[arg(long)]
    pub json: bool,
}

/// A progress bar on a terminal; nothing when piped.
struct Bar(Mutex<Option<ProgressBar>>);

impl Progress for Bar {
    fn start(&self, connection: &ConnectionId, writes: u64) {
        let pb = ProgressBar::new(writes);
        pb.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} XOR writes ({eta})")
                .unwrap()
                .progress_chars("=> "),
        );
        pb.set_prefix(connection.to_string());
        *self.0.lock().unwrap() = Some(pb);
    }
    fn advance(&self) {
        if let Some(pb) = &*self.0.lock().unwrap() {
            pb.inc(1);
        }
    }
    fn finish(&self) {
        if let Some(pb) = self.0.lock().unwrap().take() {
            pb.finish_and_clear();
        }
    }
}

pub async fn run(ctx: &Ctx, args: SyncArgs) -> Result<ExitCode> {
    // Against a deployment with the sync queue: the turn is queued for the workers, as the
    // schedule's are (the sync runs in Lambda, with its permissions and its metrics), unless
    // this is a dry run (its plan is printed here).
    if let (Some(queue), false) = (ctx.sync_queue().await?, args.dry_run) {
        return enqueue(ctx, &*queue, &args).await;
    }
    let deps = ctx.deps().await?;
    let mut opts = SyncOptions { dry_run: args.dry_run, force: args.force, ..SyncOptions::default() };
    if std::io::stderr().is_terminal() && !args.json {
        opts.progress = Some(Arc::new(Bar(Mutex::new(None))));
    }
    let reports = run_sync(&deps, &opts, args.connection.as_ref()).await?;
    print_reports(&reports, args.json, args.dry_run);
    let bad = reports.iter().any(|r| {
        matches!(r.run.outcome, RunOutcome::FeedError { .. } | RunOutcome::Error { .. }) || r.run.summary.failed > 0
    });
    Ok(if bad { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

async fn enqueue(ctx: &Ctx, queue: &dyn SyncQueue, args: &SyncArgs) -> Result<ExitCode> {
    match &args.connection {
        Some(id) => {
            let turn = SyncTurn { force: args.force, ..SyncTurn::new(id.clone(), TurnReason::Operator) };
            queue.send(&[turn], 0).await?;
            println!("{id}: queued (the sync workers take it; `xor-lever status` shows the run)");
        }
        None if args.force => {
            return Err("--force lets a connection's mass-close guard through: name it with --connection".into());
        }
        None => {
            let deps = ctx.deps().await?;
            let r = xor_lever_shared::usecases::turns::dispatch(&*deps.connections, queue).await?;
            for s in &r.skipped {
                eprintln!("{}: skipped ({})", s.connection, s.reason);
            }
            println!("{} connection(s) queued", r.sent);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_sync(deps: &SyncDeps, opts: &SyncOptions, only: Option<&ConnectionId>) -> Result<Vec<SyncReport>> {
    Ok(match only {
        Some(id) => vec![sync_connection(deps, id, opts).await],
        None => {
            let all = sync_all(deps, opts, 4, None).await?;
            for s in &all.skipped {
                eprintln!("{}: skipped ({})", s.connection, s.reason);
            }
            all.reports
        }
    })
}

pub fn print_reports(reports: &[SyncReport], json: bool, dry_run: bool) {
    for r in reports {
        if json {
            println!("{}", report_json(r, dry_run));
            continue;
        }
        let outcome = outcome_text(&r.run.outcome);
        match (&r.plan, dry_run) {
            (Some(p), true) => print_plan(r, p, &outcome),
            (None, true) => println!("{}: {outcome}", r.run.summary.connection),
            _ => print_summary(r, &outcome),
        }
        print_details(r);
    }
}

/// One connection's line of `--json`: the summary, the outcome, the guard (and the plan of a
/// dry run).
fn report_json(r: &SyncReport, dry_run: bool) -> serde_json::Value {
    let mut v = serde_json::to_value(&r.run.summary).expect("serialises");
    let o = v.as_object_mut().expect("an object");
    if let serde_json::Value::Object(outcome) = serde_json::to_value(&r.run.outcome).expect("serialises") {
        o.extend(outcome);
    }
    o.insert("guard".into(), r.run.guard.clone().into());
    if dry_run {
        o.insert("plan".into(), serde_json::to_value(&r.plan).expect("serialises"));
    }
    v
}

fn outcome_text(outcome: &RunOutcome) -> String {
    match outcome {
        RunOutcome::FeedError { reason } => format!("feed error: {reason}"),
        RunOutcome::Error { reason } => format!("error: {reason}"),
        other => {
            serde_json::to_value(other).ok().and_then(|v| v["outcome"].as_str().map(str::to_owned)).unwrap_or_default()
        }
    }
}

/// A dry run's plan: what would be created, updated and closed.
fn print_plan(r: &SyncReport, p: &xor_lever_shared::domain::Plan, outcome: &str) {
    let s = &r.run.summary;
    println!(
        "{}: would create {}, update {}, close {}; {} unchanged, {} skipped, {} held back by the job filter ({outcome})",
        s.connection,
        p.creates.len(),
        p.updates.len(),
        p.closes.len(),
        p.unchanged,
        s.skipped,
        p.filtered.len()
    );
    for c in &p.creates {
        println!("  create {}", c.posting_id);
    }
    for u in &p.updates {
        println!("  update {u}");
    }
    let why =
        |id: &xor_lever_shared::domain::PostingId| p.filtered.iter().find(|(f, _)| f == id).map(|(_, r)| r.as_str());
    for c in &p.closes {
        match why(c) {
            Some(reason) => println!("  close  {c} ({reason})"),
            None => println!("  close  {c} (no longer in the feed)"),
        }
    }
    let never = p.filtered.iter().filter(|(id, _)| !p.closes.contains(id)).count();
    if never > 0 {
        println!("  {never} more held back by the job filter (not in XOR; `connections filter show` says why)");
    }
}

fn print_summary(r: &SyncReport, outcome: &str) {
    let s = &r.run.summary;
    if r.run.outcome == RunOutcome::NotModified {
        println!("{}: the feed is unchanged since the last clean run (304): nothing to do", s.connection);
        return;
    }
    println!(
        "{}: created {}, updated {}, closed {}, unchanged {}, failed {}, skipped {}{} ({outcome})",
        s.connection,
        s.created,
        s.updated,
        s.closed,
        s.unchanged,
        s.failed,
        s.skipped,
        if s.deferred > 0 { format!(", deferred {}", s.deferred) } else { String::new() }
    );
}

/// What follows a connection's line: unanswered creates, the guard, failures, warnings.
fn print_details(r: &SyncReport) {
    let s = &r.run.summary;
    if s.creates_repaired + s.creates_unanswered > 0 {
        println!(
            "  creates XOR did not answer: {} mapped by a second try with their key, {} left for the next run",
            s.creates_repaired, s.creates_unanswered
        );
    }
    if let Some(g) = &r.run.guard {
        println!("  guard: {g}");
    }
    for f in &r.run.failures {
        println!("  failed {} {}: {}", f.op, f.posting_id, f.error);
    }
    for w in &r.run.warnings {
        println!("  warning: {w}");
    }
}
