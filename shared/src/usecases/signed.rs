//! Short signed tokens (`base64url(json).base64url(hmac)`) for the OAuth state, the Lever
//! section's links and its sessions. Each use has a key of its own, derived from the Lever app's
//! secret and a label, so no extra secret needs provisioning and one kind of token is never
//! accepted as another.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use crate::domain::ats::AppCredentials;

fn key(app: &AppCredentials, label: &str) -> Hmac<Sha256> {
    let mut k = Hmac::<Sha256>::new_from_slice(app.client_secret.as_bytes()).expect("any key length");
    k.update(label.as_bytes());
    let derived = k.finalize().into_bytes();
    Hmac::<Sha256>::new_from_slice(&derived).expect("any key length")
}

pub fn sign<T: Serialize>(app: &AppCredentials, label: &str, claims: &T) -> String {
    let payload = B64URL.encode(serde_json::to_vec(claims).expect("serialises"));
    let mut mac = key(app, label);
    mac.update(payload.as_bytes());
    format!("{payload}.{}", B64URL.encode(mac.finalize().into_bytes()))
}

/// The claims of a token signed under `label`; `None` when it is not one (altered, another
/// label or deployment, not a token at all). The signature is checked in constant time.
pub fn open<T: DeserializeOwned>(app: &AppCredentials, label: &str, token: &str) -> Option<T> {
    let (payload, sig) = token.split_once('.')?;
    let sig = B64URL.decode(sig).ok()?;
    let mut mac = key(app, label);
    mac.update(payload.as_bytes());
    mac.verify_slice(&sig).ok()?;
    serde_json::from_slice(&B64URL.decode(payload).ok()?).ok()
}

/// A MAC of `data` under `label`, for values derived from a token (a form's CSRF field).
pub fn mac(app: &AppCredentials, label: &str, data: &str) -> String {
    let mut m = key(app, label);
    m.update(data.as_bytes());
    B64URL.encode(m.finalize().into_bytes())
}

/// Equal strings, compared in constant time for equal lengths.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_only_under_its_own_label_and_unaltered() {
        let app = AppCredentials { client_id: "c".into(), client_secret: "s".into() };
        let t = sign(&app, "a", &vec![1, 2]);
        assert_eq!(open::<Vec<i32>>(&app, "a", &t), Some(vec![1, 2]));
        assert_eq!(open::<Vec<i32>>(&app, "b", &t), None);
        let other = AppCredentials { client_secret: "t".into(), ..app.clone() };
        assert_eq!(open::<Vec<i32>>(&other, "a", &t), None);
        let (p, s) = t.split_once('.').unwrap();
        let forged = format!("{}.{s}", B64URL.encode(b"[1,3]"));
        assert_eq!(open::<Vec<i32>>(&app, "a", &forged), None, "{p}");
    }
}
