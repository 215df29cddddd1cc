//! Erasing what the product holds about one candidate (issue 25, docs/data-protection.md): Lever
//! deleted them (`candidateDeleted`, confirmed with Lever first), or an operator was asked to
//! (`xor-lever candidates erase`).
//!
//! The person's data (name, emails, phones, links, resume link, answers) lives only in the raw
//! bodies of their screening deliveries: those are removed, the records kept (status, ids), so
//! idempotency still holds. A tombstone (the candidate id's hash) is written first: XOR's late
//! retry of the same screening is then recorded without its body and creates nothing in Lever.
use crate::domain::webhook::{Event, SCREENING_PASSED, parse_event};
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

/// Erases XOR candidate `candidate_id` of connection `cid`; `by` says why (kept on the tombstone).
pub async fn erase_candidate(
    deps: &LeverContext,
    cid: &ConnectionId,
    candidate_id: &str,
    by: &str,
) -> Result<Erased, EraseError> {
    let now = (deps.clock)();
    let tomb = Tombstone {
        connection: cid.clone(),
        key: tombstone_key(cid, candidate_id),
        erased_at_ms: now,
        by: by.to_owned(),
    };
    deps.candidates.put_tombstone(&tomb).await?;
    let prefix = format!("{candidate_id}#");
    let mine = screenings(deps, cid, |d| d.natural_key.as_deref().is_some_and(|k| k.starts_with(&prefix))).await?;
    let mut out =
        Erased { connection: cid.to_string(), candidates: vec![candidate_id.to_owned()], ..Erased::default() };
    for d in &mine {
        if !d.body.is_empty() && deps.candidates.erase_body(cid, &d.webhook_id).await? {
            out.bodies += 1;
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

/// Whether XOR's candidate was erased in this connection (a retried screening then creates
/// nothing).
pub async fn is_erased(deps: &LeverContext, cid: &ConnectionId, candidate_id: &str) -> Result<bool, StoreError> {
    Ok(deps.candidates.tombstone(cid, &tombstone_key(cid, candidate_id)).await?.is_some())
}
