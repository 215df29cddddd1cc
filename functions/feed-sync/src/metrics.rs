//! The function's figures as CloudWatch EMF lines (namespace `XorLever`, `xor_lever_shared::metrics`):
//! one for the run or the batch (`Stack`; the alarms watch `SyncRuns`, `SyncFailures`,
//! `RevokedConnections`, `WebhooksWaiting`, `AuthorizationsExpiring`) and one per connection
//! synced (`Stack`, `Connection`). On the error path, the run's line with `RunErrors` 1 and the
//! error's type.
use xor_lever_shared::domain::{RunOutcome, SyncSummary};
use xor_lever_shared::metrics::{Counters, Metric, MetricLine};
use xor_lever_shared::usecases::Skipped;
use xor_lever_shared::usecases::schedule::{ConnectionResult, Dispatched, RunReport};
use xor_lever_shared::usecases::turns::TurnOutcome;
use xor_lever_shared::usecases::webhook::RetrySummary;

use crate::handler::HandlerError;

/// An in-place run's lines.
pub(crate) fn run_lines(
    result: &Result<RunReport, HandlerError>,
    scheduled: bool,
    duration_ms: u128,
    counters: &Counters,
) -> Vec<MetricLine> {
    let run = run_line(scheduled, duration_ms, counters);
    let r = match result {
        Err(e) => return vec![with_error(run, e)],
        Ok(r) => r,
    };
    let failed = |c: &ConnectionResult| sync_failed(&c.outcome, &c.summary);
    let mut run = run.count(Metric::RunErrors, 0);
    // Only what was measured: a dry run or a failed sweep says nothing about waiting deliveries
    // (a 0 would clear the waiting alarm).
    if let Some(w) = &r.webhooks {
        run = replay_counts(run, w);
    }
    if let Some(due) = &r.renewals_due {
        run = run.count(Metric::AuthorizationsExpiring, due.len());
    }
    let mut lines = vec![
        run.count(Metric::ConnectionsSynced, r.connections.len())
            .count(Metric::ConnectionsSkipped, r.skipped.len())
            .count(Metric::SyncFailures, r.connections.iter().filter(|c| failed(c)).count())
            .count(Metric::RevokedConnections, unattended(&r.skipped))
            .count(Metric::LeverCheckFailures, r.lever_check_failures),
    ];
    for c in &r.connections {
        lines.push(connection_line(&c.summary, &c.outcome, c.guard.is_some(), failed(c)));
    }
    lines
}

/// The dispatcher's line: the heartbeat (`SyncRuns` for the schedule's run), what it sent.
pub(crate) fn dispatch_line(
    result: &Result<Dispatched, HandlerError>,
    scheduled: bool,
    duration_ms: u128,
    counters: &Counters,
) -> MetricLine {
    let line = run_line(scheduled, duration_ms, counters);
    match result {
        Err(e) => with_error(line, e),
        Ok(d) => {
            let line = line
                .count(Metric::RunErrors, 0)
                .count(Metric::ConnectionsDispatched, d.sent)
                .count(Metric::ConnectionsSkipped, d.skipped.len())
                .count(Metric::RevokedConnections, unattended(&d.skipped));
            match &d.renewals_due {
                Some(due) => line.count(Metric::AuthorizationsExpiring, due.len()),
                None => line,
            }
        }
    }
}

/// A run's line, the scheduled function's heartbeat: it counts scheduled runs only (`SyncRuns`);
/// an operator's run (or a first sync after a connect) is a `ManualRuns` and must not hide a
/// schedule that stopped.
fn run_line(scheduled: bool, duration_ms: u128, counters: &Counters) -> MetricLine {
    invocation_line(duration_ms, counters).count(if scheduled { Metric::SyncRuns } else { Metric::ManualRuns }, 1)
}

/// What every invocation's line carries: its duration, a cold start, what it counted.
fn invocation_line(duration_ms: u128, counters: &Counters) -> MetricLine {
    MetricLine::new(None).millis(Metric::DurationMs, duration_ms).with_cold_start().with_counters(counters)
}

/// A run's line on the error path: `RunErrors` 1 and whether retrying can help.
fn with_error(line: MetricLine, e: &HandlerError) -> MetricLine {
    let kind = if e.is_retryable() { "Retryable" } else { "NonRetryable" };
    line.count(Metric::RunErrors, 1).property("error_type", kind)
}

/// The skipped connections the `RevokedConnections` alarm counts: revoked, and no connect link
/// sent since (the alarm returns to OK once the operator has sent one, or disabled it).
fn unattended(skipped: &[Skipped]) -> usize {
    skipped.iter().filter(|s| s.unattended).count()
}

/// A sync the `SyncFailures` alarm counts: the feed unusable, the run broken, or XOR failing jobs.
fn sync_failed(outcome: &RunOutcome, s: &SyncSummary) -> bool {
    matches!(outcome, RunOutcome::FeedError { .. } | RunOutcome::Error { .. }) || s.failed > 0
}

/// What the replays of waiting deliveries did, on a run's or a batch's line.
fn replay_counts(line: MetricLine, w: &RetrySummary) -> MetricLine {
    line.count(Metric::WebhooksReplayed, w.replayed)
        .count(Metric::WebhooksWaiting, w.still_waiting)
        .count(Metric::WebhooksHeld, w.held)
        .count(Metric::DeliveriesCompleted, w.completed)
        .count(Metric::DeliveriesFailed, w.failed)
}

/// One connection's sync as a metric line (`Stack`, `Connection`).
fn connection_line(s: &SyncSummary, outcome: &RunOutcome, guard: bool, failed: bool) -> MetricLine {
    MetricLine::new(Some(&s.connection))
        .count(Metric::JobsCreated, s.created)
        .count(Metric::JobsUpdated, s.updated)
        .count(Metric::JobsClosed, s.closed)
        .count(Metric::JobsFailed, s.failed)
        .count(Metric::JobsDeferred, s.deferred)
        .count(Metric::CreatesRepaired, s.creates_repaired)
        .count(Metric::CreatesUnanswered, s.creates_unanswered)
        .count(Metric::PostingsSkipped, s.skipped)
        .count(Metric::FeedPostings, s.postings)
        .bytes(Metric::FeedBytes, s.feed_bytes)
        .count(Metric::FeedNotModified, usize::from(*outcome == RunOutcome::NotModified))
        .count(Metric::GuardTrips, usize::from(guard))
        .count(Metric::SyncFailed, usize::from(failed))
}

/// The figures of one batch of turns.
#[derive(Default)]
pub(crate) struct TurnCounts {
    taken: usize,
    busy: usize,
    skipped: usize,
    pub(crate) failed: usize,
    continued: usize,
    revoked: usize,
    sync_failures: usize,
    check_failures: usize,
    /// What the replays did, when any ran (`None`: nothing measured, no 0 to clear the alarm).
    webhooks: Option<RetrySummary>,
    connection_lines: Vec<MetricLine>,
}

impl TurnCounts {
    pub(crate) fn add(&mut self, o: &TurnOutcome) {
        match o {
            TurnOutcome::Busy { .. } => self.busy += 1,
            TurnOutcome::Skipped { skipped, webhooks } => {
                self.skipped += 1;
                self.revoked += usize::from(skipped.unattended);
                self.add_replays(webhooks);
            }
            TurnOutcome::Taken { report, webhooks, continued, lever_check_failed } => {
                self.taken += 1;
                self.continued += usize::from(*continued);
                self.check_failures += usize::from(*lever_check_failed);
                let run = &report.run;
                let failed = sync_failed(&run.outcome, &run.summary);
                self.sync_failures += usize::from(failed);
                self.add_replays(webhooks);
                self.connection_lines.push(connection_line(&run.summary, &run.outcome, run.guard.is_some(), failed));
            }
        }
    }

    fn add_replays(&mut self, w: &Option<RetrySummary>) {
        if let Some(w) = w {
            self.webhooks.get_or_insert_default().add(w.clone());
        }
    }

    /// The batch's line (`DurationMs` since `started`), then each connection's.
    pub(crate) fn emit(self, duration_ms: u128, counters: &Counters) {
        let line = invocation_line(duration_ms, counters)
            .count(Metric::TurnsTaken, self.taken)
            .count(Metric::TurnsBusy, self.busy)
            .count(Metric::TurnsSkipped, self.skipped)
            .count(Metric::TurnsFailed, self.failed)
            .count(Metric::TurnsContinued, self.continued)
            .count(Metric::ConnectionsSynced, self.taken)
            .count(Metric::SyncFailures, self.sync_failures)
            .count(Metric::RevokedConnections, self.revoked)
            .count(Metric::LeverCheckFailures, self.check_failures);
        // Only what was measured (a 0 would clear the waiting alarm).
        match &self.webhooks {
            Some(w) => replay_counts(line, w),
            None => line,
        }
        .emit();
        for l in self.connection_lines {
            l.emit();
        }
    }
}
