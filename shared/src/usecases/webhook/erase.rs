//! Erasing what the product holds about one candidate (issue 25, docs/data-protection.md): Lever
//! deleted them (`candidateDeleted`, confirmed with Lever first), or an operator was asked to
//! (`xor-lever candidates erase`).
//!
//! The person's data (name, emails, phones, links, resume link, answers) lives only in the raw
//! bodies of their screening deliveries: those are removed, the records kept (status, ids), so
//! idempotency still holds. A tombstone (the candidate id's hash) is written first: XOR's late
//! retry of the same screening is then recorded without its body and creates nothing in Lever.
use crate::domain::webhook::{Event, SCREENING_PASSED, ScreeningPassed, parse_event};
use crate::domain::*;
use crate::usecases::context::LeverContext;

/// What an erasure did, for the operator (and the log).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    pub connection: String,
    /// XOR candidate ids erased.
    pub candidates: Vec<String>,
    /// Screening deliveries whose raw body was removed.
    pub bodies: usize,
    /// Lever opportunities whose link was marked erased.
    pub opportunities: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error("the store: {0}")]
    Store(#[from] StoreError),
}

/// Deliveries read per page while looking for a candidate's (an erasure reads the connection's
/// kept deliveries once: they expire after the retention, so this stays bounded).
const PAGE: usize = 200;

/// Erases XOR candidate `candidate_id` of connection `cid` (every screening of theirs: an
/// operator's erasure of a person); `by` says why (kept on the tombstone).
pub async fn erase_candidate(
    deps: &LeverContext,
    cid: &ConnectionId,
    candidate_id: &str,
    by: &str,
) -> Result<Erased, EraseError> {
    let prefix = format!("{candidate_id}#");
    erase(deps, cid, candidate_id, by, |nk| nk.starts_with(&prefix)).await
}

/// Erases one screening (`<candidate>#<job>`): what Lever's deletion of its opportunity erases
/// (the person may have other candidacies, in Lever and here, that stay).
pub async fn erase_screening(
    deps: &LeverContext,
    cid: &ConnectionId,
    natural_key: &str,
    by: &str,
) -> Result<Erased, EraseError> {
    erase(deps, cid, natural_key, by, |nk| nk == natural_key).await
}

/// The erasure: a tombstone for `key` first (so a screening arriving meanwhile creates
/// nothing), then the bodies of the screenings `matches` picks, each one still waiting closed as
/// erased (it must not create the person in Lever later), and their links marked.
async fn erase(
    deps: &LeverContext,
    cid: &ConnectionId,
    key: &str,
    by: &str,
    matches: impl Fn(&str) -> bool,
) -> Result<Erased, EraseError> {
    let now = (deps.clock)();
    let tomb =
        Tombstone { connection: cid.clone(), key: tombstone_key(cid, key), erased_at_ms: now, by: by.to_owned() };
    deps.candidates.put_tombstone(&tomb).await?;
    let mine = screenings(deps, cid, |d| d.natural_key.as_deref().is_some_and(&matches)).await?;
    let mut out = Erased { connection: cid.to_string(), ..Erased::default() };
    for d in &mine {
        if let Some(c) = d
            .natural_key
            .as_deref()
            .and_then(|k| k.split('#').next())
            .filter(|c| !out.candidates.iter().any(|x| x == c))
        {
            out.candidates.push(c.to_owned());
        }
        if !d.body.is_empty() && deps.candidates.erase_body(cid, &d.webhook_id).await? {
            out.bodies += 1;
        }
        if !d.status.is_final() {
            let mut closed = Delivery {
                body: Vec::new(),
                reason: Some("the candidate was erased: not created".into()),
                ..d.clone()
            };
            closed.set_status(DeliveryStatus::Completed, now, deps.delivery_retention_days);
            deps.webhooks.update_delivery(&closed).await?;
        }
        if let Some(opp) = d.opportunity_id.as_deref().filter(|o| !out.opportunities.iter().any(|x| x == o)) {
            out.opportunities.push(opp.to_owned());
        }
    }
    for opp in &out.opportunities {
        if let Some(mut link) = deps.candidates.link(cid, opp).await? {
            link.erased_at_ms.get_or_insert(now);
            deps.candidates.put_link(&link).await?;
        }
    }
    crate::metrics::count(|c| c.candidates_erased += 1);
    tracing::info!(connection = %cid, bodies = out.bodies, opportunities = out.opportunities.len(), by, "candidate erased");
    Ok(out)
}

/// Erases every candidate whose screening named `email` (case-insensitive), in `cid`.
pub async fn erase_by_email(
    deps: &LeverContext,
    cid: &ConnectionId,
    email: &str,
    by: &str,
) -> Result<Erased, EraseError> {
    let email = email.trim().to_lowercase();
    let found = screenings(deps, cid, |d| match parse_event(&d.body) {
        Ok(Event::ScreeningPassed(s)) => s.candidate.email.as_deref().is_some_and(|e| e.trim().to_lowercase() == email),
        _ => false,
    })
    .await?;
    let mut ids: Vec<String> =
        found.iter().filter_map(|d| d.natural_key.as_deref()?.split('#').next().map(str::to_owned)).collect();
    ids.sort();
    ids.dedup();
    let mut out = Erased { connection: cid.to_string(), ..Erased::default() };
    for id in ids {
        let one = erase_candidate(deps, cid, &id, by).await?;
        out.candidates.extend(one.candidates);
        out.bodies += one.bodies;
        out.opportunities.extend(one.opportunities);
    }
    Ok(out)
}

/// The connection's screening deliveries (every status) that `pick` keeps, a page at a time.
async fn screenings(
    deps: &LeverContext,
    cid: &ConnectionId,
    pick: impl Fn(&Delivery) -> bool,
) -> Result<Vec<Delivery>, StoreError> {
    let mut out = Vec::new();
    for status in DeliveryStatus::ALL {
        let mut after = None;
        loop {
            let page = deps.webhooks.deliveries(cid, status, PAGE, after.as_ref()).await?;
            out.extend(page.items.into_iter().filter(|d| d.event_type.as_deref() == Some(SCREENING_PASSED) && pick(d)));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
    }
    Ok(out)
}

/// Whether the screening was erased in this connection, or its candidate as a whole (a retried
/// screening then creates nothing): two key reads.
pub async fn is_erased(deps: &LeverContext, cid: &ConnectionId, s: &ScreeningPassed) -> Result<bool, StoreError> {
    for key in [s.candidate_id.clone(), s.natural_key()] {
        if deps.candidates.tombstone(cid, &tombstone_key(cid, &key)).await?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Bodies removed per connection per sweep at most (the rest wait for the next one).
const EXPIRE_PER_SWEEP: usize = 200;

/// Removes the raw body of the connection's finished screenings received more than
/// `body_retention_days` ago: the newest [`EXPIRE_PER_SWEEP`] past the cutoff, of each finished
/// status, every sweep (a delivery crosses the cutoff at the pace it was received; one left
/// after a long outage goes with its record's TTL). Returns how many were removed.
pub async fn expire_bodies(deps: &LeverContext, cid: &ConnectionId) -> Result<usize, StoreError> {
    let cutoff = (deps.clock)() - i64::from(deps.body_retention_days) * 24 * 3600 * 1000;
    let start = DeliveryCursor { received_at_ms: cutoff, webhook_id: String::new() };
    let mut removed = 0;
    for status in [DeliveryStatus::Completed, DeliveryStatus::Failed, DeliveryStatus::Rejected] {
        let page = deps.webhooks.deliveries(cid, status, EXPIRE_PER_SWEEP, Some(&start)).await?;
        // Lever's events carry ids only; an erased body has nothing left.
        for d in page.items.iter().filter(|d| !d.body.is_empty() && !super::lever_events::is_lever_event(d)) {
            removed += usize::from(deps.candidates.erase_body(cid, &d.webhook_id).await?);
        }
    }
    if removed > 0 {
        tracing::info!(connection = %cid, removed, days = deps.body_retention_days, "screening bodies past their retention removed");
    }
    Ok(removed)
}
