//! The injected faults (`crate::faults`) as the sandbox serves them: an error in place of the
//! answer, a slow request, or an answer lost or held after the work is done.
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::Response;

use super::lever_error;
use super::state::{Inner, LeverState};
use crate::faults::Stage;

pub(super) fn take_fault(g: &mut Inner, op: &str) -> Option<Response> {
    let f = g.faults.take(op, Stage::Before)?;
    g.stats.faults_served += 1;
    let status = StatusCode::from_u16(f.status.unwrap_or(503)).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut r = lever_error(status, "Injected", format!("injected {}", status.as_u16()));
    if let Some(ra) = f.retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, ra.into());
    }
    Some(r)
}

/// A queued slow-down for `op`, taken once.
pub(super) fn take_delay(s: &LeverState, op: &str) -> Option<Duration> {
    let mut g = s.0.lock().unwrap();
    let f = g.faults.take(op, Stage::Delay)?;
    g.stats.faults_served += 1;
    f.delay_ms.map(Duration::from_millis)
}

/// A queued "lost answer" for `op`: the request is carried out, then answered with an error.
/// A fault after the work is done: the answer lost (an error status instead), or held
/// (`hang_ms`: it arrives that much later, past a caller's patience).
pub(super) enum AfterWork {
    Lost(StatusCode),
    Late(Duration),
}

pub(super) fn take_after_work(g: &mut Inner, op: &str) -> Option<AfterWork> {
    let f = g.faults.take(op, Stage::After)?;
    g.stats.faults_served += 1;
    Some(match (f.status, f.hang_ms) {
        (None, Some(ms)) => AfterWork::Late(Duration::from_millis(ms)),
        (status, _) => AfterWork::Lost(StatusCode::from_u16(status.unwrap_or(502)).unwrap_or(StatusCode::BAD_GATEWAY)),
    })
}
