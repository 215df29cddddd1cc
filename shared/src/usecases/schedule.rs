//! The scheduled run (docs/sync.md, docs/scaling.md): what one run of the feed-sync function
//! does, whoever invoked it (the schedule or an operator). Waiting deliveries are replayed first,
//! within their share of the time, so a long sync never starves them; then the feeds are synced:
//! here, connection after connection (no sync queue: `run_here`), or as one turn per connection
//! sent to the sync queue (the deployed fan-out: `dispatch_run`; `usecases::turns` takes them,
//! with the same share rule for each turn's replays).
use serde::Serialize;
use tokio::time::Instant;

use super::context::LeverContext;
use super::sync::{Skipped, SyncDeps, SyncOptions, sync_all, sync_connection};
use super::turns::{DispatchError, dispatch};
use super::webhook::{RetrySummary, retry_waiting_until};
use crate::domain::queue::{SyncQueue, SyncTurn, TurnReason};
use crate::domain::*;

/// Replays start only in the first 1/REPLAY_SHARE of a run's (or a turn's) time: the sync gets
/// the rest.
pub const REPLAY_SHARE: i64 = 4;
/// At most this many waiting deliveries are replayed by one in-place run (every connection's)…
pub const RUN_REPLAY_LIMIT: usize = 200;
/// …and by one connection's turn.
pub const TURN_REPLAY_LIMIT: usize = 50;

/// When replays must have started by, for work that ends at `end_ms` (Unix ms).
pub fn replay_cutoff(now_ms: i64, end_ms: i64) -> i64 {
    now_ms + (end_ms - now_ms).max(0) / REPLAY_SHARE
}

/// What a run is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The schedule's tick: every connection.
    Schedule,
    /// An operator's run: one connection or every one, with the guard lifted or as a dry run.
    Operator { connection: Option<ConnectionId>, force: bool, dry_run: bool },
}

impl Request {
    fn dry_run(&self) -> bool {
        matches!(self, Self::Operator { dry_run: true, .. })
    }
}

/// When the run's work must end: as the sync measures it, and as Unix ms (replays, leases).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    pub ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// A request this run cannot carry out as asked: the same request fails again.
    #[error("{0}")]
    Refused(&'static str),
    /// The store failed: a later run can succeed.
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    /// The sync queue did not take every turn: a later run can succeed.
    #[error("{0}")]
    Dispatch(#[source] DispatchError),
}

/// One connection's sync, as a run reports it.
#[derive(Debug, Serialize)]
pub struct ConnectionResult {
    #[serde(flatten)]
    pub summary: SyncSummary,
    #[serde(flatten)]
    pub outcome: RunOutcome,
    pub guard: Option<String>,
}

/// What an in-place run did.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub connections: Vec<ConnectionResult>,
    /// Connections not synced (revoked, disabled, pending), with the reason.
    pub skipped: Vec<Skipped>,
    /// Webhook deliveries that waited (Lever down, app revoked, a crashed attempt), replayed.
    /// `None`: nothing measured (a dry run, or the sweep could not list them).
    pub webhooks: Option<RetrySummary>,
    /// Connections whose Lever authorization could not be checked (synced anyway).
    pub lever_check_failures: usize,
    /// Connections whose Lever authorization ends within 30 days (measured when every
    /// connection was listed: not by a one-connection run).
    pub renewals_due: Option<Vec<String>>,
}

/// What a dispatching run sent.
#[derive(Debug, Serialize)]
pub struct Dispatched {
    pub sent: usize,
    pub skipped: Vec<Skipped>,
    /// Connections whose Lever authorization ends within 30 days (`None`: one connection's
    /// turn, nothing measured).
    pub renewals_due: Option<Vec<String>>,
}

/// The run in place (no sync queue): replays first, then the sync of one or every connection,
/// `concurrency` connections at a time.
pub async fn run_here(
    sync: &SyncDeps,
    lever: Option<&LeverContext>,
    concurrency: usize,
    request: Request,
    deadline: Option<Deadline>,
) -> Result<RunReport, ScheduleError> {
    let webhooks = match lever {
        Some(w) if !request.dry_run() => replay_first(w, deadline).await,
        _ => None,
    };
    let mut opts = SyncOptions { deadline: deadline.map(|d| d.at), ..SyncOptions::default() };
    let one = match request {
        Request::Schedule => None,
        Request::Operator { connection, force, dry_run } => {
            (opts.force, opts.dry_run) = (force, dry_run);
            connection
        }
    };
    let all = match &one {
        None => sync_all(sync, &opts, concurrency, lever).await?,
        Some(id) => super::AllReport {
            reports: vec![sync_connection(sync, id, &opts).await],
            skipped: Vec::new(),
            lever_check_failures: 0,
            renewals_due: Vec::new(),
        },
    };
    let connections = all
        .reports
        .into_iter()
        .map(|r| ConnectionResult { summary: r.run.summary, outcome: r.run.outcome, guard: r.run.guard })
        .collect();
    Ok(RunReport {
        connections,
        skipped: all.skipped,
        webhooks,
        lever_check_failures: all.lever_check_failures,
        renewals_due: one.is_none().then_some(all.renewals_due),
    })
}

/// Every connection's waiting deliveries, within the first share of the run's time. A sweep
/// that cannot list them is logged and measured as nothing (the next run sweeps again).
async fn replay_first(w: &LeverContext, deadline: Option<Deadline>) -> Option<RetrySummary> {
    let now = super::now_ms();
    let (end, start_before) = match deadline {
        Some(d) => (d.ms, replay_cutoff(now, d.ms)),
        None => (now + 60_000, now + 60_000),
    };
    match retry_waiting_until(w, end, start_before, RUN_REPLAY_LIMIT).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = %e, "could not sweep waiting webhook deliveries");
            None
        }
    }
}

/// The deployed run: one turn per connection to the sync queue (the schedule's, or an
/// operator's run of every connection), or one operator's turn. A dry run is not queued (its
/// plan would be lost), and `force` names one connection.
pub async fn dispatch_run(
    connections: &dyn ConnectionStore,
    queue: &dyn SyncQueue,
    request: Request,
) -> Result<Dispatched, ScheduleError> {
    match request {
        Request::Schedule | Request::Operator { connection: None, force: false, dry_run: false } => {
            let r = dispatch(connections, queue).await.map_err(|e| match e {
                DispatchError::Store(e) => ScheduleError::Store(e),
                e => ScheduleError::Dispatch(e),
            })?;
            Ok(Dispatched { sent: r.sent, skipped: r.skipped, renewals_due: Some(r.renewals_due) })
        }
        Request::Operator { dry_run: true, .. } => Err(ScheduleError::Refused(
            "a dry run is not queued (its plan would be lost): run `xor-lever sync --dry-run` against the deployment",
        )),
        Request::Operator { connection: None, force: true, .. } => {
            Err(ScheduleError::Refused("`force` lets every connection's mass-close guard through: name one connection"))
        }
        Request::Operator { connection: Some(id), force, .. } => {
            let turn = SyncTurn { force, ..SyncTurn::new(id, TurnReason::Operator) };
            queue
                .send(&[turn], 0)
                .await
                .map_err(|source| ScheduleError::Dispatch(DispatchError::Queue { sent: 0, source }))?;
            Ok(Dispatched { sent: 1, skipped: Vec::new(), renewals_due: None })
        }
    }
}
