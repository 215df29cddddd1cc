//! The feed sync of one connection: fetch → parse → plan → apply → record.
//!
//! Memory stays bounded by the number of postings, not their size: the feed is spooled to a temp
//! file, a first streaming pass keeps only (id, hash) per posting for the plan, and a second pass
//! streams just the postings that need a write to the XOR workers through a small channel.
//! Each job's write to XOR and to its mapping is in `apply`.
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::ops::ControlFlow;

use futures::stream::{self, StreamExt};

use super::now_ms;
use crate::domain::plan::Create;
use crate::domain::ports::XOR_API_KEY;
use crate::domain::run::MAX_RECORDED;
use crate::domain::*;
use crate::feed::{self, FeedReport};

mod apply;
mod crash;
#[cfg(test)]
mod tests;
mod types;
use apply::{ApplyCtx, failure};
use crash::Crash;
pub use crash::SYNC_CRASH_POINTS;
pub use types::*;

/// Syncs every `connected` connection, at most `concurrency` at a time; the others are reported
/// as skipped. With `lever`, each connection's Lever authorization is checked first (a revoked
/// app is detected here, and a due refresh keeps the refresh token in use). One connection's
/// failure never stops the others: each gets its own report.
pub async fn sync_all(
    deps: &SyncDeps,
    opts: &SyncOptions,
    concurrency: usize,
    lever: Option<&crate::usecases::context::LeverContext>,
) -> Result<AllReport, StoreError> {
    let connections = deps.connections.connections().await?;
    let renewals_due = renewals_due(&connections, now_ms() / 1000);
    let check_failures = std::sync::atomic::AtomicUsize::new(0);
    let check_failures = &check_failures;
    let results: Vec<Result<SyncReport, Skipped>> = stream::iter(connections)
        .map(|c| async move {
            if c.status != ConnectionStatus::Connected {
                return Err(Skipped::not_connected(&c, now_ms()));
            }
            if let Some(w) = lever {
                // The invocation's end, as Unix ms (a refresh that may not finish does not start).
                let deadline_ms = match opts.deadline {
                    Some(d) => now_ms() + d.saturating_duration_since(tokio::time::Instant::now()).as_millis() as i64,
                    None => now_ms() + 15 * 60_000,
                };
                if check_before_sync(w, &c, deadline_ms).await? {
                    check_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            Ok(sync_connection(deps, &c.id, opts).await)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut all = AllReport {
        reports: Vec::new(),
        skipped: Vec::new(),
        lever_check_failures: check_failures.load(std::sync::atomic::Ordering::Relaxed),
        renewals_due,
    };
    for r in results {
        match r {
            Ok(rep) => all.reports.push(rep),
            Err(s) => {
                tracing::info!(connection = %s.connection, status = s.status.as_str(), reason = %s.reason, "connection skipped");
                all.skipped.push(s);
            }
        }
    }
    Ok(all)
}

/// Checks a connection's Lever authorization before its sync (a revoked app is detected here,
/// and a due refresh keeps the refresh token in use). `Err`: the app was revoked, the sync is
/// skipped. `Ok(true)`: Lever could not be checked (unreachable), counted; the jobs do not need
/// Lever, so the sync goes on. `Ok(false)`: fine, or a jobs-only connection.
pub async fn check_before_sync(
    w: &crate::usecases::context::LeverContext,
    c: &Connection,
    deadline_ms: i64,
) -> Result<bool, Skipped> {
    use crate::usecases::tokens::TokenError;
    match crate::usecases::lever_check::check_lever(w, c, deadline_ms).await {
        Err(TokenError::Revoked) => Err(Skipped {
            connection: c.id.to_string(),
            status: ConnectionStatus::Revoked,
            reason: "Lever refused our tokens: the app was revoked".into(),
            unattended: true,
        }),
        Err(e) => {
            tracing::debug!(connection = %c.id, error = %e, "Lever check inconclusive");
            Ok(!matches!(e, TokenError::NotAuthorized))
        }
        Ok(()) => Ok(false),
    }
}

pub async fn sync_connection(deps: &SyncDeps, id: &ConnectionId, opts: &SyncOptions) -> SyncReport {
    let started_at_ms = now_ms();
    let mut run = SyncRun {
        run_id: format!("{started_at_ms}-{}", hex::encode(crate::random::bytes::<4>())),
        connection: id.clone(),
        started_at_ms,
        finished_at_ms: started_at_ms,
        outcome: RunOutcome::Completed,
        summary: SyncSummary { connection: id.to_string(), invocation: opts.invocation.max(1), ..Default::default() },
        guard: None,
        failures: Vec::new(),
        warnings: Vec::new(),
    };
    let mut report = SyncReport { run: run.clone(), plan: None, conflicts: 0 };
    let crash = Crash::new(opts.crash_at.clone());
    let result = tokio::select! {
        // The death first: once it happened, the run is not polled again.
        biased;
        () = crash.died.notified() => None,
        r = run_sync(deps, id, opts, &mut run, &mut report, &crash) => Some(r),
    };
    let Some(result) = result else {
        // Test hook: the process died mid-run; what it wrote stays, nothing else is written.
        let at = crash.at.get().cloned().unwrap_or_default();
        run.outcome = RunOutcome::Error { reason: format!("the process died at {at} (test hook)") };
        report.run = run;
        return report;
    };
    if let Err(reason) = result {
        run.outcome = reason;
    }
    run.finished_at_ms = now_ms();
    tracing::info!(connection = %id, summary = ?run.summary, outcome = ?run.outcome, "sync finished");
    if !opts.dry_run {
        if let Err(e) = deps.runs.record_run(&run).await {
            tracing::error!(connection = %id, error = %e, "could not record the sync run");
        }
    }
    report.run = run;
    report
}

/// One run's steps (docs/sync.md): the connection and its key, the feed (or a 304), pass 1
/// (ids and hashes), the plan, pass 2 (the writes, then the creates XOR did not answer), the
/// tally, the feed's state.
async fn run_sync(
    deps: &SyncDeps,
    id: &ConnectionId,
    opts: &SyncOptions,
    run: &mut SyncRun,
    report: &mut SyncReport,
    crash: &Crash,
) -> Result<(), RunOutcome> {
    let (conn, api_key) = load(deps, id).await?;
    let Some((file, etag, last_modified)) = fetch_feed(deps, &conn, opts, run, crash).await? else {
        return Ok(());
    };
    run.summary.feed_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let (file, digests, feed_report, filtered, catalog) = first_pass(file, opts.feed_limits, &conn.job_filter).await?;
    note_feed_report(run, &feed_report);
    run.summary.postings = digests.len() + filtered.len();
    run.summary.filtered = filtered.len();
    let mappings = deps.mappings.mappings(id).await.map_err(|e| error(&e))?;
    let active_before = mappings.iter().filter(|m| m.is_active()).count();
    let mut the_plan = plan_run(&conn, opts, &digests, &feed_report, &mappings, run);
    the_plan.filtered = filtered;
    drop(digests);
    report.plan = Some(the_plan.clone());
    if opts.dry_run {
        run.outcome = RunOutcome::DryRun;
        return Ok(());
    }
    // What the Lever section lists and previews rules over: every posting of this read.
    if let Err(e) = deps.catalogs.put_catalog(id, &catalog).await {
        tracing::warn!(connection = %id, error = %e, "the postings list of the Lever section was not updated");
    }
    drop(catalog);
    let board = deps.boards.board(&conn, api_key);
    let ctx = ApplyCtx { deps, board: board.as_ref(), conn: &conn, opts, crash };
    let (mut outcomes, again) = write_jobs(&ctx, file, &the_plan, mappings).await;
    outcomes.extend(second_pass(&ctx, &conn, again, &mut run.summary).await);
    tally(id, outcomes, run, report);
    run.outcome = if run.summary.deferred > 0 { RunOutcome::Partial } else { RunOutcome::Completed };
    save_feed_state(deps, &conn, run, (etag, last_modified), active_before).await;
    crash.point("after_feed_state").await;
    Ok(())
}

/// A run that could not go on, with the reason for its record.
fn error(e: &dyn std::fmt::Display) -> RunOutcome {
    RunOutcome::Error { reason: e.to_string() }
}

/// The connection, and its XOR API key.
async fn load(deps: &SyncDeps, id: &ConnectionId) -> Result<(Connection, SecretString), RunOutcome> {
    let conn = deps
        .connections
        .connection(id)
        .await
        .map_err(|e| error(&e))?
        .ok_or_else(|| RunOutcome::Error { reason: format!("connection {id} does not exist") })?;
    let api_key = deps
        .secrets
        .secret(id, XOR_API_KEY)
        .await
        .map_err(|e| error(&e))?
        .ok_or_else(|| RunOutcome::Error { reason: format!("connection {id} has no XOR API key") })?;
    Ok((conn, api_key))
}

/// The feed, spooled to a file with its validators; `None` when it is unchanged since a clean
/// run (the run ends there, the mappings confirmed as of now).
async fn fetch_feed(
    deps: &SyncDeps,
    conn: &Connection,
    opts: &SyncOptions,
    run: &mut SyncRun,
    crash: &Crash,
) -> Result<Option<(File, Option<String>, Option<String>)>, RunOutcome> {
    // A 304 may skip the run only when the last run left nothing to retry: otherwise fetch in full.
    // And only under the filter that run applied: a changed selection applies to an unchanged feed.
    let same_filter = conn.feed.filter_version == conn.job_filter.version;
    let validators = (conn.feed.last_run_clean && same_filter && !opts.dry_run && !opts.force).then_some(&conn.feed);
    // A feed host that accepts and never answers must not hold the run past its deadline.
    let fetch = deps.feeds.fetch(&conn.feed_url, validators);
    let fetched = match opts.deadline {
        Some(d) => tokio::time::timeout_at(d, fetch)
            .await
            .unwrap_or_else(|_| Err(FeedFetchError::Transport(Failure::Deadline))),
        None => fetch.await,
    };
    match fetched {
        Ok(Fetched::NotModified) => {
            run.outcome = RunOutcome::NotModified;
            // Unchanged since a clean run: the mappings still match the feed, as of now.
            let state = FeedState { confirmed_at_ms: Some(now_ms()), ..conn.feed.clone() };
            if let Err(e) = deps.connections.set_feed_state(&conn.id, &state).await {
                tracing::warn!(connection = %conn.id, error = %e, "could not record the feed's confirmation");
            }
            crash.point("after_feed_state").await;
            Ok(None)
        }
        Ok(Fetched::Body { file, etag, last_modified, .. }) => Ok(Some((file, etag, last_modified))),
        Err(e) => Err(RunOutcome::FeedError { reason: e.to_string() }),
    }
}

/// What pass 1 hands on: the file, the digests of the postings the job filter publishes, the
/// feed's report, and the postings it holds back with why.
type FirstPass = (File, Vec<PostingDigest>, FeedReport, Vec<(PostingId, String)>, Vec<CatalogEntry>);

/// Pass 1: ids and hashes only (the file handed back for pass 2), through the connection's job
/// filter: a posting it holds back is planned as one the feed no longer lists (closed in XOR if
/// it was published, under the same mass-close guard; never created).
async fn first_pass(file: File, limits: feed::Limits, filter: &JobFilter) -> Result<FirstPass, RunOutcome> {
    let filter = filter.clone();
    tokio::task::spawn_blocking(move || -> Result<_, feed::FeedError> {
        let mut file = file;
        let (mut digests, mut held, mut catalog) = (Vec::new(), Vec::new(), Vec::new());
        let judge = filter.judge();
        let report = feed::parse(BufReader::new(&mut file), limits, |p| {
            let entry = CatalogEntry::of(&p);
            match judge.verdict_of(&entry) {
                v if v.publishes() => digests.push(PostingDigest { hash: p.content_hash(), id: p.external_id }),
                v => held.push((p.external_id, v.reason())),
            }
            catalog.push(entry);
            ControlFlow::Continue(())
        })?;
        Ok((file, digests, report, held, catalog))
    })
    .await
    .map_err(|e| error(&e))?
    .map_err(|e| RunOutcome::FeedError { reason: e.to_string() })
}

/// The plan from the feed's digests and the mappings, under the mass-close guard.
fn plan_run(
    conn: &Connection,
    opts: &SyncOptions,
    digests: &[PostingDigest],
    feed_report: &FeedReport,
    mappings: &[JobMapping],
    run: &mut SyncRun,
) -> Plan {
    let guard = GuardSettings {
        max_close_share: conn.max_close_share,
        peak: conn.feed.peak(now_ms()),
        force: opts.force || conn.allow_mass_close,
        ..GuardSettings::default()
    };
    let the_plan = plan(digests, &feed_report.invalid, mappings, guard);
    run.summary.unchanged = the_plan.unchanged;
    run.summary.held_closes = the_plan.held_closes;
    run.guard = the_plan.guard.clone();
    if let Some(g) = &the_plan.guard {
        tracing::warn!(connection = %conn.id, reason = %g, "mass-close guard held closes back");
    }
    the_plan
}

/// Pass 2: the postings that need a write, streamed from the file to the XOR writers, then the
/// closes. Returns the outcomes counted now, and the creates XOR did not answer (kept with their
/// posting for the second pass).
async fn write_jobs(
    ctx: &ApplyCtx<'_>,
    file: File,
    the_plan: &Plan,
    mappings: Vec<JobMapping>,
) -> (Vec<JobOutcome>, Vec<(Posting, Create)>) {
    let opts = ctx.opts;
    if let Some(p) = &opts.progress {
        p.start(&ctx.conn.id, the_plan.writes() as u64);
    }
    let by_id: HashMap<PostingId, JobMapping> = mappings.into_iter().map(|m| (m.posting_id.clone(), m)).collect();
    let creates: HashMap<PostingId, Create> =
        the_plan.creates.iter().map(|c| (c.posting_id.clone(), c.clone())).collect();
    let wanted: HashSet<PostingId> = creates.keys().chain(the_plan.updates.iter()).cloned().collect();
    let (rx, parser) = stream_postings(file, opts.feed_limits, wanted);
    let postings = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|p| (p, rx)) });
    let writes = postings
        .map(|p| {
            let create = creates.get(&p.external_id).cloned();
            let mapping = by_id.get(&p.external_id).cloned();
            write_one(ctx, p, create, mapping)
        })
        .buffer_unordered(ctx.conn.xor_concurrency.max(1));
    let to_close: Vec<JobMapping> = the_plan.closes.iter().filter_map(|pid| by_id.get(pid).cloned()).collect();
    let closes = stream::iter(to_close)
        .map(|m| async { (ctx.close(m).await, None) })
        .buffer_unordered(ctx.conn.xor_concurrency.max(1));
    let (outcomes, unanswered): (Vec<JobOutcome>, Vec<Option<(Posting, Create)>>) = writes
        .chain(closes)
        .inspect(|_| {
            if let Some(p) = &opts.progress {
                p.advance();
            }
        })
        .unzip()
        .await;
    let _ = parser.await;
    if let Some(p) = &opts.progress {
        p.finish();
    }
    // An outcome whose posting goes to the second pass is counted there; every other one
    // (an unanswered re-create after an update's 404 included: a failure) here.
    let mut counted = Vec::with_capacity(outcomes.len());
    let mut again = Vec::new();
    for (o, a) in outcomes.into_iter().zip(unanswered) {
        match a {
            Some(a) => again.push(a),
            None => counted.push(o),
        }
    }
    (counted, again)
}

/// The postings of `wanted`, read again from the start of the file on a blocking thread and
/// sent through a small channel (memory stays bounded by the channel, not the feed).
fn stream_postings(
    file: File,
    limits: feed::Limits,
    wanted: HashSet<PostingId>,
) -> (tokio::sync::mpsc::Receiver<Posting>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Posting>(64);
    let parser = tokio::task::spawn_blocking(move || {
        let mut file = file;
        if file.seek(SeekFrom::Start(0)).is_err() {
            return;
        }
        let _ = feed::parse(BufReader::new(&mut file as &mut File), limits, |p| {
            if !wanted.contains(&p.external_id) {
                return ControlFlow::Continue(());
            }
            match tx.blocking_send(p) {
                Ok(()) => ControlFlow::Continue(()),
                Err(_) => ControlFlow::Break(()),
            }
        });
    });
    (rx, parser)
}

/// One posting's write: its create or its update.
async fn write_one(
    ctx: &ApplyCtx<'_>,
    p: Posting,
    create: Option<Create>,
    mapping: Option<JobMapping>,
) -> (JobOutcome, Option<(Posting, Create)>) {
    match (create, mapping) {
        (Some(c), _) => {
            let o = ctx.create(&p, c.generation, c.reopens_version).await;
            // An unanswered create keeps its posting for the run's second pass.
            match o {
                JobOutcome::Unanswered(_) => (o, Some((p, c))),
                o => (o, None),
            }
        }
        (None, Some(m)) => (ctx.update(&p, m).await, None),
        (None, None) => (JobOutcome::Failed(failure(&p.external_id, "plan", "no plan entry")), None),
    }
}

/// The outcomes into the run's summary; failures recorded (at most MAX_RECORDED).
fn tally(id: &ConnectionId, outcomes: Vec<JobOutcome>, run: &mut SyncRun, report: &mut SyncReport) {
    for o in outcomes {
        let s = &mut run.summary;
        match o {
            JobOutcome::Created => s.created += 1,
            JobOutcome::Updated => s.updated += 1,
            JobOutcome::Closed => s.closed += 1,
            JobOutcome::Deferred => s.deferred += 1,
            JobOutcome::Conflict => report.conflicts += 1,
            JobOutcome::Failed(f) | JobOutcome::Unanswered(f) => {
                s.failed += 1;
                tracing::warn!(connection = %id, posting = %f.posting_id, op = %f.op, error = %f.error, "job failed; retried next run");
                if run.failures.len() < MAX_RECORDED {
                    run.failures.push(f);
                }
            }
        }
    }
}

/// The feed's state after a run: its validators (a 304 may skip the next run only after a
/// clean one) and the guard's memory of the day's high of active jobs.
async fn save_feed_state(
    deps: &SyncDeps,
    conn: &Connection,
    run: &SyncRun,
    (etag, last_modified): (Option<String>, Option<String>),
    active_before: usize,
) {
    let clean = run.is_clean();
    let mut state = FeedState {
        etag,
        last_modified,
        last_run_clean: clean,
        confirmed_at_ms: clean.then(now_ms),
        active_peaks: conn.feed.active_peaks.clone(),
        filter_version: conn.job_filter.version,
    };
    // The guard's memory: the day's high, before and after this run's writes.
    let s = &run.summary;
    let after = (active_before + s.created).saturating_sub(s.closed);
    state.note_active(active_before.max(after), now_ms());
    if let Err(e) = deps.connections.set_feed_state(&conn.id, &state).await {
        tracing::error!(connection = %conn.id, error = %e, "could not save the feed state; the next run fetches in full");
    }
}

/// At most this many unanswered creates keep their posting for the second pass (a posting may
/// be a megabyte): the rest are left for the next run, as a run keeps memory bounded.
const SECOND_PASS_MAX: usize = 100;

/// The second pass: the creates XOR did not answer, sent again with their keys once the run's
/// other writes are done (XOR gives back the job it made), so the run that made a job maps it
/// too. Skipped when XOR looks down (most creates went unanswered: a second try would only
/// wait), and bounded by the run's time. Counts `creates_repaired` and `creates_unanswered`
/// (left for the next run); the outcomes go on to the run's tally.
async fn second_pass(
    ctx: &ApplyCtx<'_>,
    conn: &Connection,
    again: Vec<(Posting, Create)>,
    summary: &mut SyncSummary,
) -> Vec<JobOutcome> {
    let attempted = summary.created + again.len();
    let down = again.len() > 10 && again.len() * 2 > attempted;
    let mut out = Vec::new();
    let mut tries = Vec::new();
    for (i, (p, c)) in again.into_iter().enumerate() {
        if down || i >= SECOND_PASS_MAX {
            summary.creates_unanswered += 1;
            out.push(JobOutcome::Failed(failure(
                &p.external_id,
                "create",
                "XOR did not answer; left for the next run",
            )));
        } else {
            tries.push((p, c));
        }
    }
    let results: Vec<JobOutcome> = stream::iter(tries)
        .map(|(p, c)| async move { ctx.create(&p, c.generation, c.reopens_version).await })
        .buffer_unordered(conn.xor_concurrency.max(1))
        .collect()
        .await;
    for o in results {
        match &o {
            JobOutcome::Created => summary.creates_repaired += 1,
            // Left for the next run: XOR may hold the job unmapped until then.
            JobOutcome::Unanswered(_) | JobOutcome::Deferred => summary.creates_unanswered += 1,
            // Mapped meanwhile (a webhook's repair, an overlapping run), or refused for good.
            JobOutcome::Conflict | JobOutcome::Failed(_) | JobOutcome::Updated | JobOutcome::Closed => {}
        }
        out.push(o);
    }
    out
}

fn note_feed_report(run: &mut SyncRun, r: &FeedReport) {
    run.summary.skipped = r.skipped;
    run.warnings = r.warnings.iter().take(MAX_RECORDED).map(|w| w.to_string()).collect();
    if r.warnings_total > 0 {
        tracing::warn!(connection = %run.connection, warnings = r.warnings_total, skipped = r.skipped, first = ?r.warnings.first().map(|w| w.to_string()), "feed warnings");
    }
}
