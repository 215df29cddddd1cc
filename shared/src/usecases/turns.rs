//! The sync's fan-out (domain::queue): the schedule's dispatcher sends one turn per connected
//! connection; a worker takes each turn: the connection's waiting deliveries are replayed, its
//! feed is synced, and a sync that runs out of time continues in a new turn instead of waiting
//! for the next schedule. One connection per turn: a slow or large customer holds up only its own.
use std::sync::Arc;

use serde::Serialize;

use super::context::LeverContext;
use super::schedule::{TURN_REPLAY_LIMIT, replay_cutoff};
use super::sync::{Skipped, SyncDeps, SyncOptions, SyncReport, check_before_sync, sync_connection};
use super::webhook::{RetrySummary, retry_connection};
use crate::domain::queue::{
    BUSY_DELAY_SECS, CONTINUE_DELAY_SECS, MAX_INVOCATIONS, QueueError, SyncQueue, SyncTurn, TurnReason,
};
use crate::domain::*;

/// The lease a turn holds on its connection: a duplicate or overlapping turn finds it taken and
/// stands down, or comes back later when it is not the schedule's (the XOR writes would be
/// harmless anyway: idempotency keys and conditional mapping writes; the lease saves the
/// duplicate's calls and keeps one run record per run).
pub const SYNC_LEASE: &str = "sync";
/// The lease outlives the turn's deadline (the invocation's less its 5 s margin) by this much:
/// a worker that dies holding it frees the connection 5 s after the invocation's deadline.
const LEASE_MARGIN_MS: i64 = 10_000;

/// What a dispatch sent and skipped.
#[derive(Debug, Default, Serialize)]
pub struct DispatchReport {
    pub sent: usize,
    pub skipped: Vec<Skipped>,
    /// Connections whose Lever authorization ends within 30 days (`sync::renewals_due`).
    pub renewals_due: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("could not list the connections")]
    Store(#[from] StoreError),
    /// Some or all turns were not sent: those connections wait for the next tick.
    #[error("could not send every turn ({sent} sent)")]
    Queue {
        sent: usize,
        #[source]
        source: QueueError,
    },
}

/// Sends a turn for every connection (one paginated listing of the connections, the turns sent
/// in batches by the queue adapter). Those not connected are reported as skipped: their turn
/// syncs nothing, it only looks after their waiting deliveries (counts what waits for a new
/// authorization, replays what a crash left behind).
pub async fn dispatch(
    connections: &dyn ConnectionStore,
    queue: &dyn SyncQueue,
) -> Result<DispatchReport, DispatchError> {
    let mut report = DispatchReport::default();
    let mut turns = Vec::new();
    let all = connections.connections().await?;
    report.renewals_due = crate::usecases::sync::renewals_due(&all, crate::usecases::now_ms() / 1000);
    for c in all {
        if c.status != ConnectionStatus::Connected {
            report.skipped.push(Skipped::not_connected(&c, crate::usecases::now_ms()));
        }
        turns.push(SyncTurn::new(c.id, TurnReason::Schedule));
    }
    queue
        .send(&turns, 0)
        .await
        .map_err(|source| DispatchError::Queue { sent: turns.len() - source.connections.len(), source })?;
    report.sent = turns.len();
    Ok(report)
}

/// What a worker needs: the sync's ports, Lever's (replays and the authorization check), the
/// leases, and the queue (continuations).
#[derive(Clone)]
pub struct TurnDeps {
    pub sync: SyncDeps,
    pub lever: Option<LeverContext>,
    pub leases: Arc<dyn LeaseStore>,
    pub queue: Arc<dyn SyncQueue>,
}

/// What became of a turn. Every variant but an error acknowledges the message.
#[derive(Debug, Serialize)]
#[serde(tag = "turn", rename_all = "snake_case")]
pub enum TurnOutcome {
    /// The connection was synced (and its waiting deliveries replayed); `continued` when the
    /// sync ran out of time and its continuation was sent.
    Taken { report: Box<SyncReport>, webhooks: Option<RetrySummary>, continued: bool, lever_check_failed: bool },
    /// Another turn holds the connection right now (a duplicate message, an overlap); `requeued`
    /// when this turn was sent again for later (not the schedule's: see `must_wait_when_busy`).
    Busy { connection: String, requeued: bool },
    /// Unknown, not connected, or the Lever app was revoked; `webhooks` when its waiting
    /// deliveries were looked after.
    Skipped { skipped: Skipped, webhooks: Option<RetrySummary> },
}

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    /// The store could not be read: the message is retried (and, failing again, kept in the DLQ).
    #[error("the turn of {connection} could not start")]
    Store {
        connection: String,
        #[source]
        source: StoreError,
    },
    /// A busy connection's turn could not be sent again: the message is retried instead.
    #[error("the turn of {connection} could not be sent again")]
    Queue {
        connection: String,
        #[source]
        source: QueueError,
    },
}

/// Takes one turn, ending by `deadline_ms` (Unix ms; the worker's invocation deadline less its
/// margin). `now` and the sync's own deadline come from `opts`.
pub async fn take_turn(
    deps: &TurnDeps,
    turn: &SyncTurn,
    opts: &SyncOptions,
    deadline_ms: i64,
) -> Result<TurnOutcome, TurnError> {
    let id = &turn.connection;
    let store_err = |source| TurnError::Store { connection: id.to_string(), source };
    let Some(conn) = deps.sync.connections.connection(id).await.map_err(store_err)? else {
        let reason = "no such connection (deleted since the turn was sent)".into();
        let skipped =
            Skipped { connection: id.to_string(), status: ConnectionStatus::Disabled, reason, unattended: false };
        return Ok(TurnOutcome::Skipped { skipped, webhooks: None });
    };
    let now = super::now_ms();
    if conn.status != ConnectionStatus::Connected {
        // Nothing to sync; what waits is counted, and what a crash left is replayed.
        let webhooks = match &deps.lever {
            Some(w) => retry_connection(w, &conn, deadline_ms, deadline_ms, TURN_REPLAY_LIMIT).await.ok(),
            None => None,
        };
        return Ok(TurnOutcome::Skipped { skipped: Skipped::not_connected(&conn, now), webhooks });
    }
    let owner = hex::encode(crate::random::bytes::<8>());
    if !deps.leases.try_lease(id, SYNC_LEASE, &owner, now, deadline_ms + LEASE_MARGIN_MS).await.map_err(store_err)? {
        let requeued = turn.must_wait_when_busy();
        if requeued {
            // If this send fails, the turn fails: SQS delivers it again.
            deps.queue
                .send(&[turn.after_wait()], BUSY_DELAY_SECS)
                .await
                .map_err(|source| TurnError::Queue { connection: id.to_string(), source })?;
        }
        tracing::info!(connection = %id, requeued, "another turn holds this connection: this one stands down");
        return Ok(TurnOutcome::Busy { connection: id.to_string(), requeued });
    }
    let outcome = turn_with_lease(deps, turn, &conn, opts, now, deadline_ms).await;
    // Freed at once for the continuation (it may otherwise wait out the lease).
    if let Err(e) = deps.leases.release_lease(id, SYNC_LEASE, &owner).await {
        tracing::warn!(connection = %id, error = %e, "could not release the sync lease (it expires by itself)");
    }
    Ok(outcome)
}

async fn turn_with_lease(
    deps: &TurnDeps,
    turn: &SyncTurn,
    conn: &Connection,
    opts: &SyncOptions,
    now: i64,
    deadline_ms: i64,
) -> TurnOutcome {
    let mut lever_check_failed = false;
    let mut webhooks = None;
    if let Some(w) = &deps.lever {
        match check_before_sync(w, conn, deadline_ms).await {
            Err(skipped) => return TurnOutcome::Skipped { skipped, webhooks: None },
            Ok(failed) => lever_check_failed = failed,
        }
        // Replays first, within a share of the time (none started after it, none running long
        // past it): a long sync never starves them, and they leave the sync its time.
        let share_end = replay_cutoff(now, deadline_ms);
        match retry_connection(w, conn, share_end.max(now + 15_000), share_end, TURN_REPLAY_LIMIT).await {
            Ok(s) => webhooks = Some(s),
            Err(e) => tracing::error!(connection = %conn.id, error = %e, "could not replay waiting deliveries"),
        }
    }
    let opts = SyncOptions { force: opts.force || turn.force, invocation: turn.invocation, ..opts.clone() };
    let report = sync_connection(&deps.sync, &conn.id, &opts).await;
    let mut continued = false;
    let s = &report.run.summary;
    let progressed = s.created + s.updated + s.closed + s.failed > 0;
    if report.run.outcome == RunOutcome::Partial {
        if !progressed {
            // Out of time before any XOR call (a slow feed host, a slow Lever check): another
            // turn at once would do the same; the next schedule tries again.
            tracing::warn!(connection = %conn.id, "out of time before any XOR write: no continuation");
        } else if turn.invocation < MAX_INVOCATIONS {
            match deps.queue.send(&[turn.continuation()], CONTINUE_DELAY_SECS).await {
                Ok(()) => continued = true,
                // Not lost: the next schedule's turn carries on where this one stopped.
                Err(e) => tracing::error!(connection = %conn.id, error = %e, "could not send the continuation"),
            }
        } else {
            tracing::warn!(connection = %conn.id, invocations = turn.invocation, "the sync is still unfinished after the most invocations in a row; the next schedule carries on");
        }
    }
    TurnOutcome::Taken { report: Box::new(report), webhooks, continued, lever_check_failed }
}
