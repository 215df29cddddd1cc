//! Lever's webhook deliveries (issue 25, docs/outcomes.md): what happens in Lever to a candidate
//! XOR screened, received at `POST /webhooks/lever/{connection}`.
//!
//! Lever's signature covers only `token` and `triggeredAt`, never `data`, so receiving believes
//! only that Lever sent *something* recently, once: the signature is checked against the
//! webhook's token for that event, `triggeredAt` must be recent (`FRESHNESS_MS`), and the token is
//! remembered (the record's key), so a replay with another `data` is refused. What the event
//! says is read from Lever later, when it is forwarded (`forward`). Receiving does not call Lever
//! or XOR: Lever is answered as soon as the event is recorded.
//!
//! Most of an account's events are about candidates XOR never saw: those are answered 200 and
//! dropped without being stored.
use serde_json::json;

use super::{Answer, LeverContext, Reply, unavailable};
use crate::domain::ats::lever_webhook::{EVENTS, LeverDelivery};
use crate::domain::ports::LEVER_WEBHOOKS;
use crate::domain::*;
use crate::usecases::connect::subscribe::Hooks;

/// A Lever delivery is a few hundred bytes; anything near this is not one.
pub const MAX_LEVER_BODY_BYTES: usize = 64 * 1024;

/// The key a Lever event is recorded under: its token (48 random characters, the same on each
/// of Lever's retries), so the token is remembered for as long as the record is kept.
pub fn record_id(token: &str) -> String {
    format!("lever:{token}")
}

/// The event type a Lever event is recorded with (`lever.candidateHired`, …).
pub fn event_type(event: &str) -> String {
    format!("lever.{event}")
}

/// Whether a recorded delivery is one of Lever's events (not an XOR screening).
pub fn is_lever_event(d: &Delivery) -> bool {
    d.event_type.as_deref().is_some_and(|t| t.starts_with("lever."))
}

/// Handles one of Lever's deliveries: nothing is stored for a request that is not Lever's, or
/// for an event about a candidate XOR did not screen.
pub async fn receive_lever(deps: &LeverContext, connection: &str, body: &[u8]) -> Answer {
    if body.len() > MAX_LEVER_BODY_BYTES {
        return Answer::new(Reply::TooLarge, json!({"error": "not a Lever webhook delivery (too large)"}));
    }
    let Ok(cid) = ConnectionId::parse(connection) else {
        return Answer::new(Reply::UnknownConnection, json!({"error": "unknown connection"}));
    };
    // Shape and age first: a request that cannot be Lever's costs no store read and no MAC.
    let delivery = match LeverDelivery::parse(body) {
        Ok(d) => d,
        Err(e) => return Answer::new(Reply::BadRequest, json!({"error": e.to_string()})),
    };
    let now_ms = (deps.clock)();
    if let Err(e) = delivery.is_fresh(now_ms) {
        tracing::warn!(connection = %cid, reason = %e, "Lever delivery refused: not recent");
        return Answer::new(Reply::Unsigned, json!({"error": e.to_string()}));
    }
    let conn = match deps.connections.connection(&cid).await {
        Ok(Some(c)) => c,
        Ok(None) => return Answer::new(Reply::UnknownConnection, json!({"error": "unknown connection"})),
        Err(e) => return unavailable(&cid, "connection lookup", &e),
    };
    Answer { known_connection: true, ..received(deps, &conn, &delivery, body, now_ms).await }
}

/// The rest of [`receive_lever`], for a connection that exists.
async fn received(deps: &LeverContext, conn: &Connection, d: &LeverDelivery, body: &[u8], now_ms: i64) -> Answer {
    let cid = &conn.id;
    match is_signed(deps, cid, d, now_ms).await {
        Ok(true) => {}
        Ok(false) => {
            // The event's name is the sender's text until it is signed: only one of ours is logged.
            let event = if EVENTS.contains(&d.event.as_str()) { d.event.as_str() } else { "(other)" };
            tracing::warn!(connection = %cid, event, "Lever delivery refused: bad signature");
            return Answer::new(Reply::Unsigned, json!({"error": "invalid signature"}));
        }
        Err(e) => return unavailable(cid, "Lever webhook tokens", &e),
    }
    // Lever's from here on.
    let Some(opportunity) = d.data.opportunity_id.clone().filter(|o| !o.is_empty() && o.len() <= 200) else {
        return super::rejected(deps, new_record(cid, d, body, now_ms), &"data.opportunityId is missing", now_ms).await;
    };
    match deps.candidates.link(cid, &opportunity).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::debug!(connection = %cid, event = %d.event, "Lever event about a candidate XOR did not screen: dropped");
            return Answer::new(
                Reply::Accepted,
                json!({"status": "ignored", "reason": "not a candidate XOR screened"}),
            );
        }
        Err(e) => return unavailable(cid, "candidate lookup", &e),
    }
    let mut record = new_record(cid, d, body, now_ms);
    record.natural_key = Some(opportunity.clone());
    record.opportunity_id = Some(opportunity);
    match deps.webhooks.insert_delivery(&record).await {
        Ok(None) => {
            tracing::info!(connection = %cid, event = %d.event, "Lever event recorded: sent to XOR by the next sweep");
            Answer::new(Reply::Accepted, json!({"status": "recorded"})).of(DeliveryStatus::Pending)
        }
        Ok(Some(first)) if same_delivery(&first.body, body) => Answer {
            duplicate: true,
            ..Answer::new(Reply::Accepted, json!({"status": first.status.as_str(), "duplicate": true})).of(first.status)
        },
        Ok(Some(_)) => {
            tracing::warn!(connection = %cid, event = %d.event, "Lever token seen before with another body: refused");
            Answer::new(Reply::Conflict, json!({"error": "this token was delivered before with another body"}))
        }
        Err(e) => unavailable(cid, "record Lever event", &e),
    }
}

/// Whether two bodies are the same delivery: the same JSON, however it was serialised (a
/// retry may order or space it differently).
fn same_delivery(a: &[u8], b: &[u8]) -> bool {
    a == b
        || matches!((serde_json::from_slice::<serde_json::Value>(a), serde_json::from_slice::<serde_json::Value>(b)), (Ok(x), Ok(y)) if x == y)
}

/// A Lever event as first recorded: waiting to be confirmed with Lever and sent to XOR.
fn new_record(cid: &ConnectionId, d: &LeverDelivery, body: &[u8], now_ms: i64) -> Delivery {
    Delivery {
        status: DeliveryStatus::Pending,
        event_type: Some(event_type(&d.event)),
        reason: Some("waiting to be confirmed with Lever and sent to XOR".into()),
        ..super::received(cid, &record_id(&d.token), body, now_ms)
    }
}

/// One MAC against the signature token of the event's webhook (the connection's secret, cached;
/// a miss checked once more against a fresh read: `SecretCache::check`).
async fn is_signed(
    deps: &LeverContext,
    cid: &ConnectionId,
    d: &LeverDelivery,
    now_ms: i64,
) -> Result<bool, StoreError> {
    if !EVENTS.contains(&d.event.as_str()) {
        return Ok(false); // no webhook of ours sends it: no token to check it with
    }
    let key = crate::usecases::connect::subscribe::cache_key(cid);
    let load = || deps.secrets.secret(cid, LEVER_WEBHOOKS);
    let check = |s: Option<SecretString>| {
        let hooks: Hooks = s.and_then(|s| serde_json::from_str(s.expose()).ok()).unwrap_or_default();
        hooks.get(&d.event).is_some_and(|h| d.is_signed_by([&SecretString::new(h.token.clone())]))
    };
    deps.secret_cache.check(&key, now_ms, load, check, |signed| *signed).await
}
