//! A recorded Lever event, confirmed with Lever and sent to XOR (issue 25, docs/outcomes.md).
//!
//! The event's `data` is not signed: the opportunity is read from Lever first, and only what
//! Lever shows now is sent (`lever_webhook::confirm`); a deletion is believed only when Lever no
//! longer has the opportunity, and only then is anything erased. XOR is told once per event
//! (the event's token is the idempotency key), in order per candidate (the sweep's
//! `forward_in_order`); XOR down: the event waits (`pending`); XOR's 4xx: `failed`, visible.
use std::collections::HashMap;
use std::sync::Mutex;

use super::lever_call::with_token;
use super::lever_events::is_lever_event;
use super::{LeverContext, Outcome};
use crate::domain::ats::lever_webhook::{CandidateOutcome, Confirmed, LeverDelivery, confirm};
use crate::domain::ats::{ArchiveReason, Stage};
use crate::domain::ports::XOR_API_KEY;
use crate::domain::*;

/// Sweeps a Lever event is tried in before it fails for good (12 hours at a 15-minute schedule).
pub const MAX_ATTEMPTS: u32 = 48;

/// How long a connection's stage and archive-reason names are kept before they are read again.
pub const NAMES_TTL_MS: i64 = 10 * 60 * 1000;

/// Each connection's stage and archive-reason names, read from Lever at most every
/// [`NAMES_TTL_MS`] (a sweep forwarding a hundred events reads them once).
#[derive(Default)]
pub struct NameCache(Mutex<HashMap<ConnectionId, (i64, Names)>>);

#[derive(Clone, Default)]
struct Names {
    stages: Vec<Stage>,
    reasons: Vec<ArchiveReason>,
}

impl Names {
    fn stage(&self, id: &str) -> String {
        self.stages.iter().find(|s| s.id == id && !s.text.is_empty()).map_or_else(|| id.to_owned(), |s| s.text.clone())
    }
    fn reason(&self, id: &str) -> String {
        self.reasons.iter().find(|r| r.id == id && !r.text.is_empty()).map_or_else(|| id.to_owned(), |r| r.text.clone())
    }
    fn is_hire(&self, id: &str) -> bool {
        self.reasons.iter().any(|r| r.id == id && r.kind.as_deref() == Some("hired"))
    }
}

/// Confirms `d` (a recorded Lever event) with Lever and sends it to XOR; the outcome for the
/// record. The caller writes the record.
pub(super) async fn forward(deps: &LeverContext, conn: &Connection, d: &Delivery, deadline_ms: i64) -> Outcome {
    debug_assert!(is_lever_event(d));
    let Ok(event) = LeverDelivery::parse(&d.body) else {
        return Outcome::Failed("the recorded body is not a Lever delivery".into());
    };
    if conn.status != ConnectionStatus::Connected {
        return Outcome::PendingReauth(format!("the connection is {}", conn.status.as_str()));
    }
    let opportunity = d.opportunity_id.clone().unwrap_or_default();
    let link = match deps.candidates.link(&conn.id, &opportunity).await {
        Ok(Some(l)) => l,
        Ok(None) => return Outcome::Failed("no candidate of XOR's has this opportunity".into()),
        Err(e) => return Outcome::Pending(format!("the candidate record is unavailable: {e}")),
    };
    let lever = deps.lever_for(conn);
    let now = match with_token(deps, conn, &*lever, deadline_ms, |t| {
        let (lever, id) = (lever.clone(), opportunity.clone());
        async move { lever.opportunity(&t, &id).await }
    })
    .await
    {
        Ok(o) => o,
        Err(e) => return Outcome::from(e),
    };
    let names = match names(deps, conn, &*lever, deadline_ms).await {
        Ok(n) => n,
        Err(waits) => return waits,
    };
    match confirm(&event.event, &event.data, now.as_ref(), |r| names.is_hire(r)) {
        Confirmed::Nothing(why) => done(why),
        Confirmed::Refused(why) => Outcome::Failed(why),
        Confirmed::Erase => {
            // Once erased, a retry (XOR was down) or a second deletion only tells XOR.
            if link.erased_at_ms.is_none() {
                let nk = format!("{}#{}", link.candidate_id, link.job_id);
                if let Err(e) = super::erase::erase_screening(deps, &conn.id, &nk, "Lever: candidateDeleted").await {
                    return Outcome::Pending(format!("the erasure did not finish: {e}"));
                }
            }
            tell_xor(deps, conn, &link, &event, CandidateOutcome::Deleted, &names, deadline_ms).await
        }
        Confirmed::Send(_) if link.erased_at_ms.is_some() => {
            done("the candidate was erased: nothing more is sent".into())
        }
        Confirmed::Send(_) if link.outcome_at_ms.is_some_and(|t| t > event.triggered_at) => {
            done("a later outcome was sent already".into())
        }
        Confirmed::Send(outcome) => tell_xor(deps, conn, &link, &event, outcome, &names, deadline_ms).await,
    }
}

/// Completed with nothing sent, and why (the record's reason).
fn done(why: String) -> Outcome {
    Outcome::Completed(super::Done { opportunity: String::new(), url: None, remark: Some(why) })
}

/// The connection's names, from the cache or Lever. Without them the event waits (a hire could
/// not be told from another archive, and XOR would get ids instead of words); an authorization
/// from before `archive_reasons:read:admin` waits for the next one (`pending_reauth`).
async fn names(deps: &LeverContext, conn: &Connection, lever: &dyn Ats, deadline_ms: i64) -> Result<Names, Outcome> {
    let now = (deps.clock)();
    if let Some((at, n)) = deps.names.0.lock().unwrap_or_else(|p| p.into_inner()).get(&conn.id).cloned()
        && now - at < NAMES_TTL_MS
    {
        return Ok(n);
    }
    let stages = with_token(deps, conn, lever, deadline_ms, |t| async move { lever.stages(&t).await })
        .await
        .map_err(Outcome::from)?;
    let reasons = with_token(deps, conn, lever, deadline_ms, |t| async move { lever.archive_reasons(&t).await })
        .await
        .map_err(Outcome::from)?;
    let n = Names { stages, reasons };
    deps.names.0.lock().unwrap_or_else(|p| p.into_inner()).insert(conn.id.clone(), (now, n.clone()));
    Ok(n)
}

/// Sends `outcome` to XOR under the event's idempotency key, and keeps it as the candidate's
/// latest outcome (the section page's).
async fn tell_xor(
    deps: &LeverContext,
    conn: &Connection,
    link: &CandidateLink,
    event: &LeverDelivery,
    outcome: CandidateOutcome,
    names: &Names,
    deadline_ms: i64,
) -> Outcome {
    let body = candidate_event(link, event, &outcome, names);
    // The state's key, not the delivery's: the same state is one event at XOR, whichever
    // delivery, retry or replay reports it.
    let key = format!("xor-lever:{}:{}:{}", conn.id, link.opportunity_id, outcome.state_key(event.triggered_at));
    let sent = send(deps, conn, &link.candidate_id, &key, &body, deadline_ms).await;
    if let Err(o) = sent {
        return o;
    }
    let mut kept =
        deps.candidates.link(&conn.id, &link.opportunity_id).await.ok().flatten().unwrap_or_else(|| link.clone());
    let label = body
        .stage
        .as_ref()
        .or(body.reason.as_ref())
        .map_or_else(|| outcome.name().to_owned(), |w| format!("{}: {w}", outcome.name()));
    if kept.outcome_at_ms.is_none_or(|t| t <= event.triggered_at) {
        kept.outcome = Some(label.clone());
        kept.outcome_at_ms = Some(event.triggered_at);
        if let Err(e) = deps.candidates.put_link(&kept).await {
            tracing::warn!(connection = %conn.id, error = %e, "the candidate's latest outcome was not kept");
        }
    }
    done(format!("sent to XOR: {label}"))
}

/// The body XOR receives.
fn candidate_event(
    link: &CandidateLink,
    event: &LeverDelivery,
    outcome: &CandidateOutcome,
    names: &Names,
) -> CandidateEvent {
    let (stage, reason) = match outcome {
        CandidateOutcome::StageChanged { stage_id } => (Some(names.stage(stage_id)), None),
        CandidateOutcome::Archived { reason_id: Some(r), .. } => (None, Some(names.reason(r))),
        _ => (None, None),
    };
    // The state's own time where Lever keeps one: two events reporting one hire make one body.
    let at = match outcome {
        CandidateOutcome::Hired { archived_at } | CandidateOutcome::Archived { archived_at, .. } => {
            archived_at.unwrap_or(event.triggered_at)
        }
        _ => event.triggered_at,
    };
    CandidateEvent {
        job_id: link.job_id.clone(),
        event: outcome.name().to_owned(),
        stage,
        reason,
        occurred_at: rfc3339(at),
        ats_opportunity_id: link.opportunity_id.clone(),
    }
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// One call to XOR with the connection's key: XOR's refusal is final (`failed`); anything else
/// that is not a success waits.
async fn send(
    deps: &LeverContext,
    conn: &Connection,
    candidate: &str,
    key: &str,
    body: &CandidateEvent,
    deadline_ms: i64,
) -> Result<(), Outcome> {
    let Some(boards) = deps.boards.as_ref() else {
        return Err(Outcome::Pending("no XOR client is wired here".into()));
    };
    let api_key = match deps.secrets.secret(&conn.id, XOR_API_KEY).await {
        Ok(Some(k)) => k,
        Ok(None) => return Err(Outcome::Pending("the connection has no XOR API key".into())),
        Err(e) => return Err(Outcome::Pending(format!("the XOR API key is unavailable: {e}"))),
    };
    let left = super::lever_call::time_left(deps, deadline_ms);
    match tokio::time::timeout(left, boards.board(conn, api_key).candidate_event(key, candidate, body)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e @ XorError::Rejected { status: 401 | 403, .. })) => {
            Err(Outcome::Pending(format!("{e}: the connection's XOR key")))
        }
        Ok(Err(e @ XorError::Rejected { .. })) => Err(Outcome::Failed(e.to_string())),
        Ok(Err(e)) => Err(Outcome::Pending(e.to_string())),
        Err(_) => Err(Outcome::Pending("XOR did not answer in time".into())),
    }
}

/// Forwards a recorded Lever event and writes what became of it: its status, and a reason.
pub(super) async fn forward_and_record(
    deps: &LeverContext,
    conn: &Connection,
    d: &mut Delivery,
    deadline_ms: i64,
) -> DeliveryStatus {
    d.attempts += 1;
    let (mut status, mut reason) = match forward(deps, conn, d, deadline_ms).await {
        Outcome::Completed(done) => (DeliveryStatus::Completed, done.remark),
        Outcome::Failed(r) => (DeliveryStatus::Failed, Some(r)),
        Outcome::PendingReauth(r) => (DeliveryStatus::PendingReauth, Some(r)),
        Outcome::Pending(r) => (DeliveryStatus::Pending, Some(r)),
        Outcome::Busy(_) | Outcome::Crashed => (DeliveryStatus::Pending, None),
    };
    // One that keeps failing would hold its candidate's later events for ever: it fails for
    // good (visible, replayable), and the chain moves on.
    if status == DeliveryStatus::Pending && d.attempts >= MAX_ATTEMPTS {
        status = DeliveryStatus::Failed;
        reason = Some(format!("gave up after {MAX_ATTEMPTS} attempts: {}", reason.unwrap_or_default()));
    }
    d.reason = reason;
    d.set_status(status, (deps.clock)(), deps.delivery_retention_days);
    crate::metrics::count(|c| match status {
        DeliveryStatus::Completed => c.outcomes_forwarded += 1,
        DeliveryStatus::Failed => c.outcomes_failed += 1,
        _ => c.outcomes_waiting += 1,
    });
    tracing::info!(connection = %conn.id, webhook_id = %d.webhook_id, status = status.as_str(), reason = %d.reason.clone().unwrap_or_default(), "Lever event forwarded");
    if let Err(e) = deps.webhooks.update_delivery(d).await {
        // XOR dedupes on the event's key: the next sweep sending it again is harmless.
        tracing::error!(connection = %conn.id, webhook_id = %d.webhook_id, error = %e, "could not update the Lever event's record");
    }
    status
}
