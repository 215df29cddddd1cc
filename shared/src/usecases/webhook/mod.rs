//! XOR's "screening passed" webhook → one Lever opportunity, exactly once.
//!
//! 1. the signature is checked before anything else (constant time, any secret of the rotation);
//! 2. the delivery is recorded durably (raw body) — the record is what makes "nothing lost" true;
//! 3. the screening's claim (connection, candidate, job) is taken with a lease that ends with the
//!    invocation, so two deliveries of one screening (or 20 of one webhook) make one opportunity,
//!    and a crashed attempt is taken over once its lease ends;
//! 4. the XOR job resolves to the Lever posting through the job mappings;
//! 5. the opportunity is created with the report (and the resume) attached and a note added; a
//!    retried attempt first looks in Lever and adopts an opportunity it made before
//!    (`opportunity`); Lever calls go through one token-handling wrapper (`lever_call`);
//! 6. the claim and the delivery are marked completed with the opportunity id.
//!
//! What waits is replayed by the scheduled sweep (`sweep`).

use serde_json::{Value, json};

use crate::domain::ports::WEBHOOK_SECRET;
use crate::domain::webhook::{
    Event, MAX_BODY_BYTES, ScreeningPassed, SignedParts, WebhookSecret, parse_event, precheck,
};
use crate::domain::*;

pub use super::context::LeverContext;
pub use super::{Clock, system_clock};

pub mod erase;
mod forward;
mod lever_call;
pub mod lever_events;
mod opportunity;
mod stats;
mod sweep;
#[cfg(test)]
mod tests;
mod unmapped;

pub use erase::{EraseError, Erased, erase_by_email, erase_candidate, erase_screening};
pub use forward::NameCache;
pub use lever_events::receive_lever;
use opportunity::attempt_create;
pub use opportunity::{NOTE_HEADING, POSTING_KNOWLEDGE_MS, screening_note};
pub use sweep::{
    RetrySummary, STUCK_AFTER_MS, count_deliveries, list_deliveries, retry_connection, retry_waiting,
    retry_waiting_until,
};

/// What the webhook tells XOR, in the use case's words; the router (`http::status_of`) says it
/// in HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Taken: done, failed for good (kept, replayable), a duplicate, or an event we ignore.
    Accepted,
    /// The body or a header is not usable (kept when signed).
    BadRequest,
    /// Not signed by this connection's secret.
    Unsigned,
    UnknownConnection,
    TooLarge,
    /// Another attempt holds this screening: retry after a while.
    InProgress,
    /// Lever, AWS, or the connection's authorization is not there now: retry later.
    RetryLater,
    /// Lever's token seen before with another body: a replay, refused.
    Conflict,
}

/// The answer to XOR, and how the delivery was recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub reply: Reply,
    pub body: Value,
    pub retry_after: Option<u64>,
    /// The delivery's recorded status, when the answer comes from one (callers decide on this,
    /// never on the body's text).
    pub delivery: Option<DeliveryStatus>,
    /// The path's connection was found in the store (only then may it name a metric: a made-up
    /// path, refused on its headers before any lookup, must not create one).
    pub known_connection: bool,
    /// A delivery seen before, answered with its first outcome (counted once, not again).
    pub duplicate: bool,
    /// The Lever opportunity a completed delivery created (the metric line's property).
    pub opportunity_id: Option<String>,
}

impl Answer {
    pub(crate) fn new(reply: Reply, body: Value) -> Self {
        Self {
            reply,
            body,
            retry_after: None,
            delivery: None,
            known_connection: false,
            duplicate: false,
            opportunity_id: None,
        }
    }
    fn retry(reply: Reply, body: Value, after: u64) -> Self {
        Self { retry_after: Some(after), ..Self::new(reply, body) }
    }
    pub(crate) fn of(self, d: DeliveryStatus) -> Self {
        Self { delivery: Some(d), ..self }
    }
}

/// The webhook's signature headers as received.
#[derive(Debug, Clone, Default)]
pub struct SignedHeaders {
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
}

enum Outcome {
    /// The opportunity, and a remark for the record (the note could not be added).
    Completed(Done),
    Failed(String),
    Pending(String),
    PendingReauth(String),
    Busy(i64),
    /// Test hook: the process died here (no cleanup, no answer).
    Crashed,
}

/// A completed delivery's opportunity: its id, Lever's link to it when the create gave one, and
/// a remark for the record.
struct Done {
    opportunity: String,
    url: Option<String>,
    remark: Option<String>,
}

/// The crash points, in the order a delivery passes them: each is a test in
/// `tests/tests/webhook_e2e.rs` (the next delivery, or the scheduled sweep, repairs the state).
pub const CRASH_POINTS: [&str; 5] =
    ["after_record", "after_claim", "after_create", "before_complete", "after_claim_end"];

/// Test hook: true when a test asks the process to die at `point`.
fn crashed(deps: &LeverContext, point: &str) -> bool {
    deps.crash_at.as_ref().is_some_and(|f| f(point))
}

fn crash_answer() -> Answer {
    // What XOR sees of a process that died: no answer (a timeout), which it retries.
    Answer::retry(Reply::InProgress, json!({"status": "in_progress"}), 5)
}

/// Handles one delivery. `deadline_ms`: when this invocation must have answered (its claim's
/// lease ends then, so a crashed attempt is taken over by the next one).
pub async fn receive(
    deps: &LeverContext,
    connection: &str,
    h: &SignedHeaders,
    body: &[u8],
    deadline_ms: i64,
) -> Answer {
    if body.len() > MAX_BODY_BYTES {
        return Answer::new(
            Reply::TooLarge,
            json!({"error": format!("the body is larger than {MAX_BODY_BYTES} bytes")}),
        );
    }
    let Ok(cid) = ConnectionId::parse(connection) else {
        return Answer::new(Reply::UnknownConnection, json!({"error": "unknown connection"}));
    };
    let now_ms = (deps.clock)();
    // The headers' shape and freshness first: a request that cannot be signed costs no store
    // read and no MAC (docs/security.md: an unauthenticated request is cheap to refuse).
    let signed = match precheck(h.id.as_deref(), h.timestamp.as_deref(), h.signature.as_deref(), now_ms / 1000) {
        Ok(p) => p,
        Err(e) => return unsigned(&cid, &e),
    };
    let conn = match deps.connections.connection(&cid).await {
        Ok(Some(c)) => c,
        Ok(None) => return Answer::new(Reply::UnknownConnection, json!({"error": "unknown connection"})),
        Err(e) => return unavailable(&cid, "connection lookup", &e),
    };
    Answer { known_connection: true, ..receive_for(deps, &conn, h, &signed, body, now_ms, deadline_ms).await }
}

/// The rest of [`receive`], for a connection that exists.
async fn receive_for(
    deps: &LeverContext,
    conn: &Connection,
    h: &SignedHeaders,
    signed: &SignedParts<'_>,
    body: &[u8],
    now_ms: i64,
    deadline_ms: i64,
) -> Answer {
    let cid = conn.id.clone();
    match check_signature(deps, &cid, signed, body, now_ms).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return unsigned(&cid, &e),
        Err(e) => return unavailable(&cid, "webhook secret", &e),
    }
    let webhook_id = h.id.clone().unwrap_or_default();
    // `lever:` is where Lever's events are recorded: an XOR id there could shadow one.
    if webhook_id.len() > 200 || webhook_id.chars().any(char::is_control) || webhook_id.starts_with("lever:") {
        return Answer::new(Reply::BadRequest, json!({"error": "webhook-id is not a usable id"}));
    }
    let mut delivery = received(&cid, &webhook_id, body, now_ms);
    let screening = match parse_event(body) {
        Ok(Event::Other(kind)) => {
            tracing::info!(connection = %cid, webhook_id, event = %kind, "event type ignored");
            return Answer::new(Reply::Accepted, json!({"status": "ignored", "type": kind}));
        }
        Ok(Event::ScreeningPassed(s)) => s,
        Err(reason) => return rejected(deps, delivery, &reason, now_ms).await,
    };
    delivery.event_type = Some(crate::domain::webhook::SCREENING_PASSED.into());
    delivery.natural_key = Some(screening.natural_key());
    match erase::is_erased(deps, &cid, &screening).await {
        Ok(false) => {}
        Ok(true) => return erased(deps, delivery, now_ms).await,
        Err(e) => return unavailable(&cid, "erasure lookup", &e),
    }
    match deps.webhooks.insert_delivery(&delivery).await {
        Ok(None) => {}
        Ok(Some(existing)) if existing.status.is_final() => return answer_for(&existing, true),
        Ok(Some(existing)) => delivery = existing,
        Err(e) => return unavailable(&cid, "record delivery", &e),
    }
    if crashed(deps, "after_record") {
        return crash_answer();
    }
    process(deps, &conn, &mut delivery, &screening, deadline_ms).await
}

/// A delivery as first recorded: received, its raw body kept.
pub(crate) fn received(cid: &ConnectionId, webhook_id: &str, body: &[u8], now_ms: i64) -> Delivery {
    Delivery {
        connection: cid.clone(),
        webhook_id: webhook_id.to_owned(),
        received_at_ms: now_ms,
        status: DeliveryStatus::Received,
        event_type: None,
        natural_key: None,
        body: body.to_vec(),
        opportunity_id: None,
        opportunity_url: None,
        reason: None,
        attempts: 0,
        updated_at_ms: now_ms,
        expires_at: None,
    }
}

/// A screening of a candidate who was erased: recorded without its body, and answered as done
/// so XOR stops retrying; nothing is created in Lever again.
async fn erased(deps: &LeverContext, mut delivery: Delivery, now_ms: i64) -> Answer {
    let cid = delivery.connection.clone();
    delivery.body = Vec::new();
    delivery.reason = Some("the candidate was erased: not created again".into());
    delivery.set_status(DeliveryStatus::Completed, now_ms, deps.delivery_retention_days);
    let delivery = match deps.webhooks.insert_delivery(&delivery).await {
        Ok(None) => delivery,
        Ok(Some(first)) => first,
        Err(e) => return unavailable(&cid, "record delivery", &e),
    };
    tracing::info!(connection = %cid, webhook_id = %delivery.webhook_id, "screening of an erased candidate: nothing created");
    Answer::new(Reply::Accepted, json!({"status": "erased", "reason": delivery.reason})).of(delivery.status)
}

/// A signed body we cannot read: kept raw as `rejected`, with where it is wrong (never the
/// value: `EventError`), and answered 400 so XOR stops retrying it.
pub(crate) async fn rejected(
    deps: &LeverContext,
    mut delivery: Delivery,
    reason: &(dyn std::fmt::Display + Sync),
    now_ms: i64,
) -> Answer {
    let (cid, webhook_id) = (delivery.connection.clone(), delivery.webhook_id.clone());
    delivery.set_status(DeliveryStatus::Rejected, now_ms, deps.delivery_retention_days);
    let reason = reason.to_string();
    delivery.reason = Some(reason.clone());
    if let Err(e) = deps.webhooks.insert_delivery(&delivery).await {
        return unavailable(&cid, "record delivery", &e);
    }
    tracing::warn!(connection = %cid, webhook_id, reason, "webhook body rejected (kept raw)");
    Answer::new(Reply::BadRequest, json!({"status": "rejected", "reason": reason})).of(DeliveryStatus::Rejected)
}

fn unsigned(cid: &ConnectionId, e: &crate::domain::webhook::SignatureError) -> Answer {
    tracing::warn!(connection = %cid, reason = %e, "webhook signature refused");
    Answer::new(Reply::Unsigned, json!({"error": "invalid signature"}))
}

/// One MAC per secret of the connection's (cached) webhook secrets; a signature that matches no
/// cached secret is checked once more against a fresh read (`SecretCache::check`): a secret
/// rotated a moment ago works at once (XOR stops retrying on a 401).
async fn check_signature(
    deps: &LeverContext,
    cid: &ConnectionId,
    signed: &SignedParts<'_>,
    body: &[u8],
    now_ms: i64,
) -> Result<Result<(), crate::domain::webhook::SignatureError>, StoreError> {
    let key = format!("{cid}/{WEBHOOK_SECRET}");
    let load = || deps.secrets.secret(cid, WEBHOOK_SECRET);
    let verify = |s: Option<SecretString>| {
        let secrets = s.map(|s| WebhookSecret::parse_list(s.expose(), now_ms / 1000)).unwrap_or_default();
        signed.verify(&secrets, body)
    };
    deps.secret_cache.check(&key, now_ms, load, verify, Result::is_ok).await
}

/// Why a delivery cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no delivery {webhook_id} for connection {connection}")]
    NoDelivery { connection: ConnectionId, webhook_id: String },
    #[error("the connection no longer exists")]
    NoConnection,
    #[error("delivery {webhook_id} is a {kind} event: nothing to replay")]
    NotAScreening { webhook_id: String, kind: String },
    #[error("delivery {webhook_id} was rejected: {reason}")]
    Rejected {
        webhook_id: String,
        #[source]
        reason: crate::domain::webhook::EventError,
    },
}

/// Processes a recorded delivery again (operator replay, the scheduled retry of pending ones).
pub async fn replay(
    deps: &LeverContext,
    connection: &ConnectionId,
    webhook_id: &str,
    deadline_ms: i64,
) -> Result<Answer, ReplayError> {
    let mut d = deps
        .webhooks
        .delivery(connection, webhook_id)
        .await?
        .ok_or_else(|| ReplayError::NoDelivery { connection: connection.clone(), webhook_id: webhook_id.to_owned() })?;
    if d.status == DeliveryStatus::Completed {
        return Ok(answer_for(&d, true));
    }
    let conn = deps.connections.connection(connection).await?.ok_or(ReplayError::NoConnection)?;
    if d.body.is_empty() && !d.status.is_final() {
        // Erased while it waited: nothing to create from, and nobody to create.
        d.reason = Some("the candidate was erased: not created".into());
        d.set_status(DeliveryStatus::Completed, (deps.clock)(), deps.delivery_retention_days);
        deps.webhooks.update_delivery(&d).await?;
        return Ok(answer_for(&d, false));
    }
    if lever_events::is_lever_event(&d) {
        let status = forward::forward_and_record(deps, &conn, &mut d, deadline_ms).await;
        return Ok(Answer::new(Reply::Accepted, json!({"status": status.as_str(), "reason": d.reason})).of(status));
    }
    let screening = match parse_event(&d.body) {
        Ok(Event::ScreeningPassed(s)) => s,
        Ok(Event::Other(kind)) => return Err(ReplayError::NotAScreening { webhook_id: webhook_id.to_owned(), kind }),
        Err(reason) => return Err(ReplayError::Rejected { webhook_id: webhook_id.to_owned(), reason }),
    };
    Ok(process(deps, &conn, &mut d, &screening, deadline_ms).await)
}

pub(crate) fn unavailable(cid: &ConnectionId, what: &str, e: &dyn std::fmt::Display) -> Answer {
    tracing::error!(connection = %cid, what, error = %e, "webhook could not be handled now");
    Answer::retry(Reply::RetryLater, json!({"status": "unavailable", "reason": format!("{what} is unavailable")}), 30)
}

fn answer_for(d: &Delivery, duplicate: bool) -> Answer {
    let reason = d.reason.clone();
    let answer = match d.status {
        DeliveryStatus::Completed => Answer::new(
            Reply::Accepted,
            json!({"status": "completed", "opportunity_id": d.opportunity_id, "duplicate": duplicate}),
        ),
        DeliveryStatus::Failed => {
            Answer::new(Reply::Accepted, json!({"status": "failed", "reason": reason, "duplicate": duplicate}))
        }
        DeliveryStatus::Rejected => Answer::new(Reply::BadRequest, json!({"status": "rejected", "reason": reason})),
        DeliveryStatus::Pending => Answer::retry(Reply::RetryLater, json!({"status": "pending", "reason": reason}), 60),
        DeliveryStatus::PendingReauth => {
            Answer::retry(Reply::RetryLater, json!({"status": "pending_reauth", "reason": reason}), 3600)
        }
        DeliveryStatus::Received => Answer::retry(Reply::InProgress, json!({"status": "in_progress"}), 5),
    };
    let decided = matches!(d.status, DeliveryStatus::Completed | DeliveryStatus::Failed);
    let opportunity_id = d.opportunity_id.clone().filter(|_| d.status == DeliveryStatus::Completed);
    Answer { duplicate: duplicate && decided, opportunity_id, ..answer.of(d.status) }
}

async fn process(
    deps: &LeverContext,
    conn: &Connection,
    d: &mut Delivery,
    s: &ScreeningPassed,
    deadline_ms: i64,
) -> Answer {
    let nk = s.natural_key();
    let outcome = run(deps, conn, d, s, &nk, deadline_ms).await;
    let now = (deps.clock)();
    let status = match &outcome {
        Outcome::Completed(done) => {
            d.opportunity_id = Some(done.opportunity.clone()).filter(|o| !o.is_empty()).or(d.opportunity_id.take());
            d.opportunity_url = done.url.clone().or(d.opportunity_url.take());
            d.reason = done.remark.clone();
            DeliveryStatus::Completed
        }
        Outcome::Failed(r) => {
            d.reason = Some(r.clone());
            DeliveryStatus::Failed
        }
        Outcome::Pending(r) => {
            d.reason = Some(r.clone());
            DeliveryStatus::Pending
        }
        Outcome::PendingReauth(r) => {
            d.reason = Some(r.clone());
            DeliveryStatus::PendingReauth
        }
        Outcome::Crashed => return crash_answer(),
        Outcome::Busy(until) => {
            let secs = ((until - now) / 1000).clamp(1, 300) as u64;
            return Answer::retry(
                Reply::InProgress,
                json!({"status": "in_progress", "reason": "another attempt is processing this screening"}),
                secs,
            );
        }
    };
    if crashed(deps, "after_claim_end") {
        return crash_answer();
    }
    d.set_status(status, now, deps.delivery_retention_days);
    if status == DeliveryStatus::Completed {
        link(deps, conn, d, s).await;
    }
    let log_reason = d.reason.clone().unwrap_or_default();
    tracing::info!(connection = %conn.id, webhook_id = %d.webhook_id, candidate = %s.candidate_id, status = status.as_str(), reason = %log_reason, "webhook processed");
    if let Err(e) = deps.webhooks.update_delivery(d).await {
        // The claim is the source of truth for "done"; a retry answers from it.
        tracing::error!(connection = %conn.id, webhook_id = %d.webhook_id, error = %e, "could not update the delivery record");
    }
    answer_for(d, false)
}

/// Keeps the opportunity's link to XOR's candidate (Lever's events name the opportunity), once.
/// A failure is logged: the candidate is in Lever; only its outcomes would not reach XOR.
async fn link(deps: &LeverContext, conn: &Connection, d: &Delivery, s: &ScreeningPassed) {
    let Some(opportunity) = d.opportunity_id.clone() else { return };
    let made = CandidateLink {
        connection: conn.id.clone(),
        opportunity_id: opportunity.clone(),
        candidate_id: s.candidate_id.clone(),
        job_id: s.job_id.clone(),
        webhook_id: d.webhook_id.clone(),
        created_at_ms: d.updated_at_ms,
        outcome: None,
        outcome_at_ms: None,
        erased_at_ms: None,
    };
    let result = match deps.candidates.link(&conn.id, &opportunity).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => deps.candidates.put_link(&made).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::error!(connection = %conn.id, error = %e, "the opportunity's link to XOR's candidate was not kept: its outcomes will not reach XOR");
    }
}

async fn run(
    deps: &LeverContext,
    conn: &Connection,
    d: &mut Delivery,
    s: &ScreeningPassed,
    nk: &str,
    deadline_ms: i64,
) -> Outcome {
    if conn.status != ConnectionStatus::Connected {
        return Outcome::PendingReauth(format!("the connection is {}", conn.status.as_str()));
    }
    let owner = format!("{}/{}", d.webhook_id, crate::random::id128());
    let now = (deps.clock)();
    let attempt = match deps.webhooks.claim_screening(&conn.id, nk, &owner, now, deadline_ms.max(now + 1_000)).await {
        Ok(Claim::Acquired { attempt }) => attempt,
        Ok(Claim::Done { opportunity_id }) => {
            return Outcome::Completed(Done { opportunity: opportunity_id, url: None, remark: None });
        }
        Ok(Claim::Busy { until_ms }) => return Outcome::Busy(until_ms),
        Err(e) => return Outcome::Pending(format!("the idempotency record is unavailable: {e}")),
    };
    d.attempts += 1;
    if crashed(deps, "after_claim") {
        return Outcome::Crashed;
    }
    // Erased after this delivery was read (a sweep, a retry of a waiting one): nobody to create.
    if erase::is_erased(deps, &conn.id, s).await.unwrap_or(false) {
        let _ = deps.webhooks.end_claim(&conn.id, nk, &owner, ClaimEnd::Release).await;
        return Outcome::Completed(Done {
            opportunity: String::new(),
            url: None,
            remark: Some("the candidate was erased: not created".into()),
        });
    }
    let outcome = attempt_create(deps, conn, s, attempt, d.received_at_ms, deadline_ms).await;
    if matches!(outcome, Outcome::Crashed) || crashed(deps, "before_complete") {
        // A crash here leaves the claim leased and the delivery `received`: the next attempt
        // (after the lease) looks in Lever first and adopts what this one created.
        return Outcome::Crashed;
    }
    let end = match &outcome {
        Outcome::Completed(done) => ClaimEnd::Done { opportunity_id: done.opportunity.clone() },
        _ => ClaimEnd::Release,
    };
    if let Err(e) = deps.webhooks.end_claim(&conn.id, nk, &owner, end).await {
        tracing::error!(connection = %conn.id, error = %e, "could not end the screening claim; its lease will expire");
    }
    outcome
}
