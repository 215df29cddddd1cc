//! Runs on the schedule (EventBridge Scheduler): syncs every connected connection, a few at a
//! time, and stops starting XOR calls before the invocation's deadline. An operator can also
//! invoke it with `{"connection": "acme", "force": true, "dry_run": false}` for one connection.
use std::time::{Duration, SystemTime};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;
use xor_lever::domain::{ConnectionId, IdError, RunOutcome, StoreError, SyncSummary};
use xor_lever::metrics::MetricLine;
use xor_lever::usecases::webhook::{LeverContext, RetrySummary, retry_waiting_until};
use xor_lever::usecases::{AllReport, Skipped, SyncDeps, SyncOptions, now_ms, sync_all, sync_connection};

/// Time kept back from the Lambda deadline for recording the runs and answering.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// The time an invocation's work must end by: its deadline (`Context::deadline`, Unix ms) less
/// [`DEADLINE_MARGIN`], as an `Instant` (the sync's) and as Unix ms (replays, leases). `None`
/// without a deadline (`Context::default()`: tests, local runs).
pub(crate) fn work_deadline(deadline_ms: u64) -> Option<(Instant, i64)> {
    if deadline_ms == 0 {
        return None;
    }
    let remaining = Duration::from_millis(deadline_ms)
        .checked_sub(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default())
        .unwrap_or_default();
    Some((
        Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN),
        deadline_ms as i64 - DEADLINE_MARGIN.as_millis() as i64,
    ))
}

/// The operator's event. Strict: a misspelt key (`{"conection": "acme"}`) is an error, never
/// "sync everything".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ManualEvent {
    pub connection: Option<String>,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub dry_run: bool,
}

pub(crate) enum SyncEvent {
    Scheduled,
    Manual(ManualEvent),
}

/// Why an invocation failed, and whether trying it again can help. The runtime reports it as a
/// [`Diagnostic`] whose `error_type` is `Retryable` or `NonRetryable` (the function's failure
/// record and CloudWatch Logs show which).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event is not one this function understands: the same event will fail again.
    #[error("unrecognised event: {0}")]
    BadEvent(String),
    #[error("unrecognised event: {0}")]
    BadConnectionId(#[from] IdError),
    /// The store failed: a later run can succeed.
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    /// The sync queue did not take every turn: a later run can succeed.
    #[error("{0}")]
    Queue(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl HandlerError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::BadEvent(_) | Self::BadConnectionId(_) => false,
            Self::Store(e) => matches!(e, StoreError::Unavailable { .. } | StoreError::Conflict { .. }),
            Self::Queue(_) => true,
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = if e.is_retryable() { "Retryable" } else { "NonRetryable" };
        Diagnostic { error_type: error_type.into(), error_message: e.to_string() }
    }
}

/// EventBridge's shape (it has `detail-type`): the schedule's event, or a malformed one of its
/// kind (counted as a scheduled run that failed: the heartbeat's business). Anything else is an
/// operator's event.
pub(crate) fn from_eventbridge(payload: &Value) -> bool {
    payload.get("detail-type").is_some()
}

pub(crate) fn parse_event(payload: Value) -> Result<SyncEvent, HandlerError> {
    // An EventBridge event must be the schedule's; anything else must be the operator's event,
    // exactly.
    if from_eventbridge(&payload) {
        let e: EventBridgeEvent<Value> =
            serde_json::from_value(payload).map_err(|e| HandlerError::BadEvent(e.to_string()))?;
        if e.detail_type != "Scheduled Event" {
            return Err(HandlerError::BadEvent(format!("detail-type {:?} is not a schedule", e.detail_type)));
        }
        return Ok(SyncEvent::Scheduled);
    }
    let m: ManualEvent = serde_json::from_value(payload).map_err(|e| {
        HandlerError::BadEvent(format!(
            "{e} (expected a scheduled event or {{\"connection\", \"force\", \"dry_run\"}})"
        ))
    })?;
    Ok(SyncEvent::Manual(m))
}

#[derive(Debug, Serialize)]
pub struct ConnectionResult {
    #[serde(flatten)]
    pub summary: SyncSummary,
    #[serde(flatten)]
    pub outcome: RunOutcome,
    pub guard: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SyncResponse {
    pub connections: Vec<ConnectionResult>,
    /// Connections not synced (revoked, disabled, pending), with the reason.
    pub skipped: Vec<Skipped>,
    /// Webhook deliveries that waited (Lever down, app revoked, a crashed attempt), replayed.
    pub webhooks: Option<RetrySummary>,
    /// Connections whose Lever authorization could not be checked (synced anyway).
    pub lever_check_failures: usize,
    /// Connections whose Lever authorization ends within 30 days (measured when every
    /// connection was listed: not by a one-connection run).
    pub renewals_due: Option<Vec<String>>,
}

pub struct Handler {
    pub deps: SyncDeps,
    pub concurrency: usize,
    /// Present in the deployed function: each run also replays waiting webhook deliveries.
    pub webhooks: Option<LeverContext>,
    /// Present when deployed with the sync queue (`SYNC_QUEUE_URL`): the schedule dispatches
    /// turns and SQS batches are taken as turns (fanout.rs); absent, a run syncs everything.
    pub turns: Option<xor_lever::usecases::turns::TurnDeps>,
}

/// At most this many waiting deliveries are replayed per run…
const REPLAY_LIMIT: usize = 200;
/// …and none starts after the first 1/REPLAY_SHARE of the time left (the sync gets the rest).
const REPLAY_SHARE: i64 = 4;

fn is_dry_run(e: &SyncEvent) -> bool {
    matches!(e, SyncEvent::Manual(ManualEvent { dry_run: true, .. }))
}

impl Handler {
    /// A bad event fails as `NonRetryable`; a store outage as `Retryable` (the next scheduled run
    /// is the retry: see template.yaml, `EventInvokeConfig`).
    /// Every exit emits the run's metrics (`metrics`): a run that returns, with figures or an
    /// error, is a heartbeat; one that times out or crashes emits nothing, which the heartbeat
    /// alarm (missing data = breaching) sees.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<SyncResponse, HandlerError> {
        let started = std::time::Instant::now();
        let (started_ms, scheduled) = (now_ms(), from_eventbridge(&event.payload));
        let result = self.run(event).await;
        for line in metrics(&result, scheduled, started.elapsed().as_millis()) {
            line.at(started_ms).emit();
        }
        result
    }

    async fn run(&self, event: LambdaEvent<Value>) -> Result<SyncResponse, HandlerError> {
        let (payload, ctx) = event.into_parts();
        let parsed = parse_event(payload)?;
        let end = work_deadline(ctx.deadline);
        let mut opts = SyncOptions { deadline: end.map(|(at, _)| at), ..SyncOptions::default() };
        // Replays first, within a share of the time: a long sync never starves them.
        let webhooks = match &self.webhooks {
            Some(w) if !is_dry_run(&parsed) => {
                let now = now_ms();
                let (deadline, start_before) = match end {
                    Some((_, end)) => (end, now + (end - now).max(0) / REPLAY_SHARE),
                    None => (now + 60_000, now + 60_000),
                };
                match retry_waiting_until(w, deadline, start_before, REPLAY_LIMIT).await {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::error!(error = %e, "could not sweep waiting webhook deliveries");
                        None
                    }
                }
            }
            _ => None,
        };
        let every_connection = !matches!(parsed, SyncEvent::Manual(ManualEvent { connection: Some(_), .. }));
        let all = match parsed {
            SyncEvent::Scheduled => sync_all(&self.deps, &opts, self.concurrency, self.webhooks.as_ref()).await?,
            SyncEvent::Manual(ManualEvent { connection, force, dry_run }) => {
                opts.force = force;
                opts.dry_run = dry_run;
                match connection {
                    None => sync_all(&self.deps, &opts, self.concurrency, self.webhooks.as_ref()).await?,
                    Some(id) => {
                        let id = ConnectionId::parse(&id)?;
                        AllReport {
                            reports: vec![sync_connection(&self.deps, &id, &opts).await],
                            skipped: Vec::new(),
                            lever_check_failures: 0,
                            renewals_due: Vec::new(),
                        }
                    }
                }
            }
        };
        let connections = all
            .reports
            .into_iter()
            .map(|r| ConnectionResult { summary: r.run.summary, outcome: r.run.outcome, guard: r.run.guard })
            .collect();
        Ok(SyncResponse {
            connections,
            skipped: all.skipped,
            webhooks,
            lever_check_failures: all.lever_check_failures,
            renewals_due: every_connection.then_some(all.renewals_due),
        })
    }
}

/// The run's figures as CloudWatch EMF lines (namespace `XorLever`, `xor_lever::metrics`): one
/// for the run (`Stack`; the alarms watch `SyncRuns`, `SyncFailures`, `RevokedConnections`,
/// `WebhooksWaiting`, `AuthorizationsExpiring`) and one per connection synced (`Stack`, `Connection`). On the error path,
/// the run's line with `RunErrors` 1 and the error's type.
pub fn metrics(result: &Result<SyncResponse, HandlerError>, scheduled: bool, duration_ms: u128) -> Vec<MetricLine> {
    let run = run_line(scheduled, duration_ms);
    let r = match result {
        Err(e) => return vec![with_error(run, e)],
        Ok(r) => r,
    };
    let failed = |c: &ConnectionResult| sync_failed(&c.outcome, &c.summary);
    let mut run = run.count("RunErrors", 0);
    // Only what was measured: a dry run or a failed sweep says nothing about waiting deliveries
    // (a 0 would clear the waiting alarm).
    if let Some(w) = &r.webhooks {
        run = replay_counts(run, w);
    }
    if let Some(due) = &r.renewals_due {
        run = run.count("AuthorizationsExpiring", due.len());
    }
    let mut lines = vec![
        run.count("ConnectionsSynced", r.connections.len())
            .count("ConnectionsSkipped", r.skipped.len())
            .count("SyncFailures", r.connections.iter().filter(|c| failed(c)).count())
            .count("RevokedConnections", revoked(&r.skipped))
            .count("LeverCheckFailures", r.lever_check_failures),
    ];
    for c in &r.connections {
        lines.push(connection_line(&c.summary, &c.outcome, c.guard.is_some(), failed(c)));
    }
    lines
}

/// A run's line, the scheduled function's heartbeat: it counts scheduled runs only (`SyncRuns`);
/// an operator's run (or a first sync after a connect) is a `ManualRuns` and must not hide a
/// schedule that stopped.
pub(crate) fn run_line(scheduled: bool, duration_ms: u128) -> MetricLine {
    MetricLine::new(None)
        .count(if scheduled { "SyncRuns" } else { "ManualRuns" }, 1)
        .millis("DurationMs", duration_ms)
        .with_cold_start()
        .with_process_counts()
}

/// A run's line on the error path: `RunErrors` 1 and whether retrying can help.
pub(crate) fn with_error(line: MetricLine, e: &HandlerError) -> MetricLine {
    let kind = if e.is_retryable() { "Retryable" } else { "NonRetryable" };
    line.count("RunErrors", 1).property("error_type", kind)
}

/// The skipped connections the `RevokedConnections` alarm counts: revoked, and no connect link
/// sent since (the alarm returns to OK once the operator has sent one, or disabled it).
pub(crate) fn revoked(skipped: &[Skipped]) -> usize {
    skipped.iter().filter(|s| s.unattended).count()
}

/// A sync the `SyncFailures` alarm counts: the feed unusable, the run broken, or XOR failing jobs.
pub(crate) fn sync_failed(outcome: &RunOutcome, s: &SyncSummary) -> bool {
    matches!(outcome, RunOutcome::FeedError { .. } | RunOutcome::Error { .. }) || s.failed > 0
}

/// What the replays of waiting deliveries did, on a run's or a batch's line.
pub(crate) fn replay_counts(line: MetricLine, w: &RetrySummary) -> MetricLine {
    line.count("WebhooksReplayed", w.replayed)
        .count("WebhooksWaiting", w.still_waiting)
        .count("WebhooksHeld", w.held)
        .count("DeliveriesCompleted", w.completed)
        .count("DeliveriesFailed", w.failed)
}

/// One connection's sync as a metric line (`Stack`, `Connection`).
pub(crate) fn connection_line(s: &SyncSummary, outcome: &RunOutcome, guard: bool, failed: bool) -> MetricLine {
    MetricLine::new(Some(&s.connection))
        .count("JobsCreated", s.created)
        .count("JobsUpdated", s.updated)
        .count("JobsClosed", s.closed)
        .count("JobsFailed", s.failed)
        .count("JobsDeferred", s.deferred)
        .count("CreatesRepaired", s.creates_repaired)
        .count("CreatesUnanswered", s.creates_unanswered)
        .count("PostingsSkipped", s.skipped)
        .count("FeedPostings", s.postings)
        .bytes("FeedBytes", s.feed_bytes)
        .count("FeedNotModified", usize::from(*outcome == RunOutcome::NotModified))
        .count("GuardTrips", usize::from(guard))
        .count("SyncFailed", usize::from(failed))
}
