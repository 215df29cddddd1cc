//! Who may do what: the bearer token, the scope each route needs, confidential data, the rate
//! limit, and the acting user of a write; `gate` runs these checks (and the injected faults)
//! before the Data API's work.
use std::time::Instant;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::faults::{take_delay, take_fault};
use super::lever_error;
use super::state::{Inner, LeverState};

/// The scope each route needs (Lever's reference names one per endpoint).
fn scope_for(op: &str) -> Option<&'static str> {
    Some(match op {
        "create" => "opportunities:write:admin",
        "find" => "opportunities:read:admin",
        "note" => "notes:write:admin",
        "notes" => "notes:read:admin",
        "file" => "files:write:admin",
        "users" | "user" => "users:read:admin",
        "posting" | "postings" => "postings:read:admin",
        "webhooks" => "webhooks:write:admin",
        "stages" => "stages:read:admin",
        "archive_reasons" => "archive_reasons:read:admin",
        _ => return None,
    })
}
/// Lever's scope for confidential data ("Access all confidential data"): without it, a request
/// for confidential postings or opportunities is an access error (DOCS: "Confidential Data";
/// the status, 403, is UNCONFIRMED).
pub const CONFIDENTIAL_SCOPE: &str = "confidential:access:admin";

pub(super) fn may_see_confidential(g: &Inner, headers: &HeaderMap) -> bool {
    let token = bearer(headers);
    g.scopes.get(&token).is_some_and(|granted| granted.split(' ').any(|s| s == CONFIDENTIAL_SCOPE))
}

pub(super) fn confidential_refused() -> Response {
    lever_error(StatusCode::FORBIDDEN, "ForbiddenError", "this token has no access to confidential data")
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned()
}

/// Auth, faults and rate limit for the Data API; a slow Lever (`delay_ms`) holds the request
/// first, before it looks at it.
pub(super) async fn gate(s: &LeverState, headers: &HeaderMap, op: &str) -> Result<(), Response> {
    if let Some(d) = take_delay(s, op) {
        tokio::time::sleep(d).await;
    }
    gate_now(s, headers, op)
}

fn gate_now(s: &LeverState, headers: &HeaderMap, op: &str) -> Result<(), Response> {
    let mut g = s.0.lock().unwrap();
    g.stats.requests += 1;
    if let Some(r) = take_fault(&mut g, op) {
        return Err(r);
    }
    let token = bearer(headers);
    let live = !g.revoked && g.access.get(&token).is_some_and(|exp| *exp > Instant::now());
    if g.revoked && g.config.revoked_status == 403 {
        return Err(lever_error(StatusCode::FORBIDDEN, "ForbiddenError", "the account does not authorize this app"));
    }
    if !live {
        g.stats.unauthorized += 1;
        return Err(lever_error(StatusCode::UNAUTHORIZED, "UnauthorizedError", "invalid or expired access token"));
    }
    if let Some(needed) = scope_for(op) {
        let granted = g.scopes.get(&token).cloned().unwrap_or_default();
        if !granted.split(' ').any(|s| s == needed) {
            return Err(lever_error(StatusCode::FORBIDDEN, "ForbiddenError", format!("this token lacks {needed}")));
        }
    }
    let rps = g.config.rate_limit_rps;
    // Lever: a token bucket per token, bursts of twice the rate.
    if rps > 0.0 && !crate::take_token(&mut g.buckets, &token, rps, rps * 2.0) {
        return Err(lever_error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "rate limit exceeded"));
    }
    Ok(())
}

/// A write's acting user: `perform_as` is required, and must be a user of the account.
pub(super) fn acting_user(g: &Inner, q: &[(String, String)]) -> Result<String, Response> {
    let perform_as = q.iter().find(|(k, _)| k == "perform_as").map(|(_, v)| v.clone()).unwrap_or_default();
    if perform_as.is_empty() {
        return Err(lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "perform_as is required"));
    }
    if !g.users.iter().any(|u| u["id"] == perform_as.as_str()) {
        return Err(lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "perform_as must be a Lever user id"));
    }
    Ok(perform_as)
}
