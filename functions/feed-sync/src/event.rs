//! The events the feed-sync function takes, read into a `schedule::Request`: the schedule's
//! (EventBridge Scheduler), or an operator's `{"connection": "acme", "force": true, "dry_run":
//! false}`. And the invocation's deadline, as the work's.
use std::time::{Duration, SystemTime};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;
use xor_lever_shared::domain::ConnectionId;
use xor_lever_shared::usecases::schedule::{Deadline, Request};

use crate::handler::HandlerError;

/// Time kept back from the Lambda deadline for recording the runs and answering.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// The time an invocation's work must end by: its deadline (`Context::deadline`, Unix ms) less
/// [`DEADLINE_MARGIN`]. `None` without a deadline (`Context::default()`: tests, local runs).
pub(crate) fn work_deadline(deadline_ms: u64) -> Option<Deadline> {
    if deadline_ms == 0 {
        return None;
    }
    let remaining = Duration::from_millis(deadline_ms)
        .checked_sub(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default())
        .unwrap_or_default();
    Some(Deadline {
        at: Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN),
        ms: deadline_ms as i64 - DEADLINE_MARGIN.as_millis() as i64,
    })
}

/// The operator's event. Strict: a misspelt key (`{"conection": "acme"}`) is an error, never
/// "sync everything".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManualEvent {
    connection: Option<String>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    dry_run: bool,
}

/// EventBridge's shape (it has `detail-type`): the schedule's event, or a malformed one of its
/// kind (counted as a scheduled run that failed: the heartbeat's business). Anything else is an
/// operator's event.
pub(crate) fn from_eventbridge(payload: &Value) -> bool {
    payload.get("detail-type").is_some()
}

/// An EventBridge event must be the schedule's; anything else must be the operator's event,
/// exactly.
pub(crate) fn parse_event(payload: Value) -> Result<Request, HandlerError> {
    if from_eventbridge(&payload) {
        let e: EventBridgeEvent<Value> = serde_json::from_value(payload).map_err(HandlerError::Unreadable)?;
        if e.detail_type != "Scheduled Event" {
            return Err(HandlerError::BadEvent(format!("detail-type {:?} is not a schedule", e.detail_type)));
        }
        return Ok(Request::Schedule);
    }
    let m: ManualEvent = serde_json::from_value(payload).map_err(HandlerError::NotAnOperatorEvent)?;
    let connection = m.connection.as_deref().map(ConnectionId::parse).transpose()?;
    Ok(Request::Operator { connection, force: m.force, dry_run: m.dry_run })
}
