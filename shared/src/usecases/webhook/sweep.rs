//! The scheduled sweep of waiting deliveries, and the operator's listings.
use futures::stream::{self, StreamExt};

use super::{LeverContext, replay};
use crate::domain::*;

/// What a sweep of waiting deliveries did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetrySummary {
    pub replayed: usize,
    pub completed: usize,
    pub failed: usize,
    /// Deliveries the system will replay by itself (Lever or a store was down, a crash).
    pub still_waiting: usize,
    /// `pending_reauth` deliveries of connections that are not connected (revoked, disabled,
    /// pending): they wait for a person, not for Lever, and never count as waiting (the
    /// deliveries-waiting alarm would then stay on for a churned customer).
    pub held: usize,
}

impl RetrySummary {
    pub fn add(&mut self, o: RetrySummary) {
        self.replayed += o.replayed;
        self.completed += o.completed;
        self.failed += o.failed;
        self.still_waiting += o.still_waiting;
        self.held += o.held;
    }
}

/// Replays of one connection run at a time in a sweep.
pub const REPLAYS_AT_ONCE: usize = 4;

/// A delivery still `received` this long after its last update lost its processor (a crash):
/// its claim's lease has ended, so it is taken over.
pub const STUCK_AFTER_MS: i64 = 5 * 60 * 1000;

/// Replays what waits: `pending` deliveries, `pending_reauth` ones of connections that are
/// connected again, and `received` ones whose processor died. Run by the scheduled function so
/// that nothing depends on XOR's retries alone. Connection by connection, each with a fair
/// share of `limit` (one customer's backlog never starves the others; issue 14 moves this to a
/// message per connection); stops starting replays at `deadline_ms`. `pending_reauth`
/// deliveries of connections that are not connected are counted as held.
pub async fn retry_waiting(deps: &LeverContext, deadline_ms: i64, limit: usize) -> Result<RetrySummary, StoreError> {
    retry_waiting_until(deps, deadline_ms, deadline_ms, limit).await
}

/// The same, starting no replay after `start_before_ms` (the sweep's share of an invocation that
/// has other work: the scheduled function replays first, within a share, then syncs).
pub async fn retry_waiting_until(
    deps: &LeverContext,
    deadline_ms: i64,
    start_before_ms: i64,
    limit: usize,
) -> Result<RetrySummary, StoreError> {
    let mut summary = RetrySummary::default();
    let connections = deps.connections.connections().await?;
    let share = (limit / connections.len().max(1)).max(10);
    for conn in connections {
        summary.add(retry_connection(deps, &conn, deadline_ms, start_before_ms, share).await?);
    }
    Ok(summary)
}

/// One connection's waiting deliveries, at most `limit` replayed (its turn in the fan-out, or
/// its share of a sweep).
pub async fn retry_connection(
    deps: &LeverContext,
    conn: &Connection,
    deadline_ms: i64,
    start_before_ms: i64,
    limit: usize,
) -> Result<RetrySummary, StoreError> {
    let now = (deps.clock)();
    let mut summary = RetrySummary::default();
    if conn.status != ConnectionStatus::Connected {
        let waiting = deps.webhooks.deliveries(&conn.id, DeliveryStatus::PendingReauth, limit, None).await?;
        summary.held += waiting.items.len();
    }
    let mut statuses = vec![DeliveryStatus::Pending, DeliveryStatus::Received];
    if conn.status == ConnectionStatus::Connected {
        statuses.push(DeliveryStatus::PendingReauth);
    }
    let mut budget = limit;
    for status in statuses {
        if budget == 0 {
            break;
        }
        let ready = due(deps, conn, status, budget, now).await?;
        let outcomes = replay_due(deps, ready, deadline_ms, start_before_ms).await;
        tally(&mut summary, &mut budget, outcomes);
    }
    // A finished screening's personal data goes after its own retention (docs/data-protection.md).
    if let Err(e) = super::erase::expire_bodies(deps, &conn.id).await {
        tracing::warn!(connection = %conn.id, error = %e, "screening bodies past their retention not removed this time");
    }
    Ok(summary)
}

/// The deliveries of `conn` in `status` to replay now (at most `budget`), oldest first.
async fn due(
    deps: &LeverContext,
    conn: &Connection,
    status: DeliveryStatus,
    budget: usize,
    now: i64,
) -> Result<Vec<Delivery>, StoreError> {
    let page = deps.webhooks.deliveries(&conn.id, status, budget, None).await?;
    // Oldest first; one being processed right now is left to its processor.
    Ok(page
        .items
        .into_iter()
        .rev()
        .filter(|d| !(d.status == DeliveryStatus::Received && now - d.updated_at_ms < STUCK_AFTER_MS))
        .collect())
}

/// Replays `due`: each one's recorded status, or `None` when there was no time left to start it
/// (or, for a Lever event, when an earlier event of its candidate still waits).
async fn replay_due(
    deps: &LeverContext,
    due: Vec<Delivery>,
    deadline_ms: i64,
    start_before_ms: i64,
) -> Vec<Option<DeliveryStatus>> {
    // Lever's events go to XOR in order per candidate: one opportunity's events are a chain,
    // replayed one after the other, that stops at the first one still waiting. Each screening
    // is a chain of its own.
    let mut chains: Vec<Vec<Delivery>> = Vec::new();
    for d in due {
        let same = |c: &Vec<Delivery>| {
            super::lever_events::is_lever_event(&d)
                && c.first().is_some_and(|f| super::lever_events::is_lever_event(f) && f.natural_key == d.natural_key)
        };
        match chains.iter_mut().find(|c| same(c)) {
            Some(c) => c.push(d),
            None => chains.push(vec![d]),
        }
    }
    // Within a chain, in the order things happened in Lever (Lever's own time, not ours: a
    // retry Lever delivers late still goes before what happened after it).
    for c in chains.iter_mut().filter(|c| c.len() > 1) {
        c.sort_by_key(|d| {
            crate::domain::ats::lever_webhook::LeverDelivery::parse(&d.body)
                .map_or(d.received_at_ms, |e| e.triggered_at)
        });
    }
    // A few at once: one slow Lever answer does not hold the rest of the sweep (Lever's
    // rate limiter still paces the calls).
    let runs: Vec<Vec<Option<DeliveryStatus>>> = stream::iter(chains)
        .map(|chain| replay_chain(deps, chain, deadline_ms, start_before_ms))
        .buffer_unordered(REPLAYS_AT_ONCE)
        .collect()
        .await;
    runs.into_iter().flatten().collect()
}

/// Replays a chain in order; once one is left waiting, the rest wait too (`None`).
async fn replay_chain(
    deps: &LeverContext,
    chain: Vec<Delivery>,
    deadline_ms: i64,
    start_before_ms: i64,
) -> Vec<Option<DeliveryStatus>> {
    let mut out = Vec::with_capacity(chain.len());
    let mut blocked = false;
    for d in chain {
        let t = (deps.clock)();
        if blocked || t + 10_000 >= deadline_ms || t >= start_before_ms {
            out.push(None); // no time left to start it (or its turn): it waits for the next sweep
            continue;
        }
        let answer = replay(deps, &d.connection, &d.webhook_id, deadline_ms).await;
        // A replay that could not run (a store error) still waits.
        let status = answer.ok().and_then(|a| a.delivery).unwrap_or(DeliveryStatus::Pending);
        blocked = !status.is_final();
        out.push(Some(status));
    }
    out
}

/// Counts the replays' outcomes into `summary`; each replay started spends one of `budget`.
fn tally(summary: &mut RetrySummary, budget: &mut usize, outcomes: Vec<Option<DeliveryStatus>>) {
    for o in outcomes {
        match o {
            None => summary.still_waiting += 1,
            Some(st) => {
                *budget = budget.saturating_sub(1);
                summary.replayed += 1;
                match st {
                    DeliveryStatus::Completed => summary.completed += 1,
                    DeliveryStatus::Failed => summary.failed += 1,
                    _ => summary.still_waiting += 1,
                }
            }
        }
    }
}

/// Deliveries for an operator's listing, newest first: one connection's or every
/// connection's, one status or all, at most `limit` (each store read is a page of `limit`).
pub async fn list_deliveries(
    deps: &LeverContext,
    connection: Option<&ConnectionId>,
    status: Option<DeliveryStatus>,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    let connections = match connection {
        Some(c) => vec![c.clone()],
        None => deps.connections.connections().await?.into_iter().map(|c| c.id).collect(),
    };
    let statuses = status.map_or(DeliveryStatus::ALL.to_vec(), |s| vec![s]);
    let mut out = Vec::new();
    for c in &connections {
        for st in &statuses {
            out.extend(deps.webhooks.deliveries(c, *st, limit, None).await?.items);
        }
    }
    out.sort_by(|a, b| b.received_at_ms.cmp(&a.received_at_ms).then(b.webhook_id.cmp(&a.webhook_id)));
    out.truncate(limit);
    Ok(out)
}

/// How many deliveries of `connection` are in `status` (counted a page at a time, up to `cap`).
pub async fn count_deliveries(
    deps: &LeverContext,
    connection: &ConnectionId,
    status: DeliveryStatus,
    cap: usize,
) -> Result<usize, StoreError> {
    let (mut n, mut after) = (0, None);
    loop {
        let page = deps.webhooks.deliveries(connection, status, 500.min(cap - n).max(1), after.as_ref()).await?;
        n += page.items.len();
        match page.next {
            Some(next) if n < cap => after = Some(next),
            _ => return Ok(n.min(cap)),
        }
    }
}
