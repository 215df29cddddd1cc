//! The OAuth `state` (HMAC-signed, short-lived, single use, carrying the nonce's hash) and the
//! cookie that binds the flow to the browser that started it.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{CALLBACK_PATH, ConnectError};
use crate::domain::ats::AppCredentials;

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

fn state_key(app: &AppCredentials) -> Hmac<Sha256> {
    // A key of its own, derived from the app secret: no extra secret to provision.
    let mut k = Hmac::<Sha256>::new_from_slice(app.client_secret.as_bytes()).expect("any key length");
    k.update(b"xor-lever oauth state v2");
    let key = k.finalize().into_bytes();
    Hmac::<Sha256>::new_from_slice(&key).expect("any key length")
}

pub(super) fn sign_state(app: &AppCredentials, claims: &StateClaims) -> String {
    let payload = B64URL.encode(serde_json::to_vec(claims).expect("serialises"));
    let mut mac = state_key(app);
    mac.update(payload.as_bytes());
    format!("{payload}.{}", B64URL.encode(mac.finalize().into_bytes()))
}

pub(super) fn open_state(app: &AppCredentials, state: &str, now_ms: i64) -> Result<StateClaims, ConnectError> {
    let (payload, sig) = state.split_once('.').ok_or(ConnectError::ForgedState)?;
    let sig = B64URL.decode(sig).map_err(|_| ConnectError::ForgedState)?;
    let mut mac = state_key(app);
    mac.update(payload.as_bytes());
    mac.verify_slice(&sig).map_err(|_| ConnectError::ForgedState)?;
    let claims: StateClaims = serde_json::from_slice(&B64URL.decode(payload).map_err(|_| ConnectError::ForgedState)?)
        .map_err(|_| ConnectError::ForgedState)?;
    if claims.e < now_ms {
        return Err(ConnectError::ExpiredState);
    }
    Ok(claims)
}

pub(super) fn redirect_uri(base_url: &str) -> String {
    format!("{}{CALLBACK_PATH}", base_url.trim_end_matches('/'))
}

/// The cookie that binds the flow to the browser that started it: `__Host-` (Secure, no Domain,
/// Path=/) on HTTPS; the same without the prefix on plain-HTTP loopback (`serve`, `dev`), where
/// browsers refuse `Secure` cookies.
pub fn state_cookie_name(base_url: &str) -> &'static str {
    if base_url.starts_with("https://") { "__Host-xor_lever_oauth" } else { "xor_lever_oauth" }
}

/// `Set-Cookie` for the nonce (`Max-Age` 0 with an empty value clears it).
pub fn state_cookie(base_url: &str, nonce: &str, max_age_s: i64) -> String {
    let secure = if base_url.starts_with("https://") { "; Secure" } else { "" };
    format!("{}={nonce}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}", state_cookie_name(base_url))
}
