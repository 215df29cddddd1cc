//! The OAuth `state` (HMAC-signed, short-lived, single use, carrying the nonce's hash) and the
//! cookie that binds the flow to the browser that started it.
use serde::{Deserialize, Serialize};

use super::{CALLBACK_PATH, ConnectError, unavailable};
use crate::usecases::context::LeverContext;
use crate::usecases::signed;

#[derive(Serialize, Deserialize)]
pub(super) struct StateClaims {
    /// connection
    pub(super) c: String,
    /// SHA-256 of the nonce the browser's cookie holds (the state travels through URLs and
    /// Lever: whoever sees it must not learn the cookie's value). Single use.
    pub(super) n: String,
    /// expiry, Unix ms
    pub(super) e: i64,
    /// the invitation's hash
    pub(super) i: String,
}

/// The state's key label (a key of its own, derived from the deployment's signing key).
const STATE: &str = "xor-lever oauth state v3";

pub(super) async fn sign_state(deps: &LeverContext, claims: &StateClaims) -> Result<String, ConnectError> {
    signed::sign(deps, STATE, claims).await.map_err(unavailable)
}

pub(super) async fn open_state(deps: &LeverContext, state: &str, now_ms: i64) -> Result<StateClaims, ConnectError> {
    let (claims, _): (StateClaims, _) =
        signed::open(deps, STATE, state).await.map_err(unavailable)?.ok_or(ConnectError::ForgedState)?;
    if claims.e < now_ms {
        return Err(ConnectError::ExpiredState);
    }
    Ok(claims)
}

pub(super) fn redirect_uri(base_url: &str) -> String {
    format!("{}{CALLBACK_PATH}", base_url.trim_end_matches('/'))
}

/// The cookie that binds the flow to the browser that started it (`usecases::cookie`).
const STATE_COOKIE: &str = "xor_lever_oauth";

pub fn state_cookie_name(base_url: &str) -> String {
    crate::usecases::cookie::name(base_url, STATE_COOKIE)
}

/// `Set-Cookie` for the nonce (`Max-Age` 0 with an empty value clears it).
pub fn state_cookie(base_url: &str, nonce: &str, max_age_s: i64) -> String {
    crate::usecases::cookie::set(base_url, STATE_COOKIE, nonce, max_age_s)
}
