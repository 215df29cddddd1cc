//! Short signed tokens (`<key id>.base64url(json).base64url(hmac)`) for the OAuth state, the
//! Lever section's links and its sessions, signed with the deployment's own random keys
//! (`domain::signing`: never derived from a secret Lever or XOR also holds). Each use has a key
//! of its own, derived from the signing key and a label, so one kind of token is never accepted
//! as another; the key id lets a rotation keep earlier tokens valid for its grace.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use super::context::LeverContext;
use super::secret_cache::SECRET_TTL_MS;
pub use crate::domain::signing::{KeysError, SIGNING_KEYS, SigningKey, SigningKeys};
use crate::domain::{SecretStore, SecretString, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SignedError {
    #[error("the signing keys could not be read")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeysError),
}

fn key(k: &SigningKey, label: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(&k.bytes()).expect("any key length");
    m.update(label.as_bytes());
    let derived = m.finalize().into_bytes();
    Hmac::<Sha256>::new_from_slice(&derived).expect("any key length")
}

/// `claims` signed under `label` with key `k`.
pub fn sign_with<T: Serialize>(k: &SigningKey, label: &str, claims: &T) -> String {
    let head = format!("{}.{}", k.id, B64URL.encode(serde_json::to_vec(claims).expect("serialises")));
    let mut mac = key(k, label);
    mac.update(head.as_bytes());
    format!("{head}.{}", B64URL.encode(mac.finalize().into_bytes()))
}

/// The claims of a token signed under `label` by a live key of `keys`, and that key; `None` when
/// it is not one (altered, another label, deployment or retired key, not a token at all). The
/// signature is checked in constant time.
pub fn open_with<'k, T: DeserializeOwned>(
    keys: &'k SigningKeys,
    label: &str,
    token: &str,
    now_ms: i64,
) -> Option<(T, &'k SigningKey)> {
    let (head, sig) = token.rsplit_once('.')?;
    let (kid, payload) = head.split_once('.')?;
    let k = keys.find(kid, now_ms)?;
    let sig = B64URL.decode(sig).ok()?;
    let mut mac = key(k, label);
    mac.update(head.as_bytes());
    mac.verify_slice(&sig).ok()?;
    Some((serde_json::from_slice(&B64URL.decode(payload).ok()?).ok()?, k))
}

/// A MAC of `data` under `label` with key `k`, for values derived from a token (a form's CSRF
/// field, under the session's own key so a rotation does not void an open page's forms).
pub fn mac(k: &SigningKey, label: &str, data: &str) -> String {
    let mut m = key(k, label);
    m.update(data.as_bytes());
    B64URL.encode(m.finalize().into_bytes())
}

/// Equal strings, compared in constant time for equal lengths.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const CACHE_KEY: &str = "_app/signing-keys";

/// The stored value's keys (none when the secret holds no value yet).
fn parsed(stored: Option<SecretString>) -> Result<SigningKeys, SignedError> {
    Ok(SigningKeys::parse(stored.as_ref().map(|s| s.expose()).unwrap_or(r#"{"keys":[]}"#))?)
}

/// The deployment's signing keys (cached briefly: `secret_cache`).
pub async fn keys(deps: &LeverContext) -> Result<SigningKeys, SignedError> {
    let load = deps.secrets.app_secret(SIGNING_KEYS);
    parsed(deps.secret_cache.get(CACHE_KEY, (deps.clock)(), SECRET_TTL_MS, load).await?.0)
}

/// Signs `claims` with the current key.
pub async fn sign<T: Serialize>(deps: &LeverContext, label: &str, claims: &T) -> Result<String, SignedError> {
    let keys = keys(deps).await?;
    Ok(sign_with(keys.current((deps.clock)())?, label, claims))
}

/// Opens a token; when it names a key this process has not seen (a key rotated a moment ago, by
/// another process), the keys are read again once, at most every few seconds.
pub async fn open<T: DeserializeOwned>(
    deps: &LeverContext,
    label: &str,
    token: &str,
) -> Result<Option<(T, SigningKey)>, SignedError> {
    let now = (deps.clock)();
    let keys = keys(deps).await?;
    if let Some((c, k)) = open_with(&keys, label, token, now) {
        return Ok(Some((c, k.clone())));
    }
    let named = token.split_once('.').map(|(kid, _)| kid).unwrap_or_default();
    if keys.keys.iter().any(|k| k.id == named) {
        return Ok(None);
    }
    let (stored, read) = deps.secret_cache.reread(CACHE_KEY, now, deps.secrets.app_secret(SIGNING_KEYS)).await?;
    if !read {
        return Ok(None);
    }
    let keys = parsed(stored)?;
    Ok(open_with(&keys, label, token, now).map(|(c, k)| (c, k.clone())))
}

/// The stored keys, as they are (`keys show`).
pub async fn stored_keys(secrets: &dyn SecretStore) -> Result<SigningKeys, SignedError> {
    parsed(secrets.app_secret(SIGNING_KEYS).await?)
}

/// Makes the deployment's first signing key unless a usable one exists (`xor-lever keys init`,
/// and `lever-app set` on a first deploy). True when it made one.
pub async fn init_keys(secrets: &dyn SecretStore, now_ms: i64) -> Result<bool, SignedError> {
    let keys = match stored_keys(secrets).await {
        // A placeholder nobody can read is replaced, as an empty list is.
        Err(SignedError::Keys(KeysError::Unreadable)) => SigningKeys::default(),
        other => other?,
    };
    if keys.current(now_ms).is_ok() {
        return Ok(false);
    }
    let keys = SigningKeys { keys: vec![new_key(now_ms)] };
    secrets.put_app_secret(SIGNING_KEYS, &SecretString::new(keys.to_json())).await?;
    Ok(true)
}

/// A new current key; the previous one keeps working for `grace_ms` (`xor-lever keys rotate`).
/// Warm processes see the new key within `SECRET_TTL_MS`, or at once when a token names it.
pub async fn rotate_keys(secrets: &dyn SecretStore, now_ms: i64, grace_ms: i64) -> Result<SigningKeys, SignedError> {
    let keys = stored_keys(secrets).await?;
    keys.current(now_ms)?;
    let rotated = keys.rotate(new_key(now_ms), now_ms, grace_ms);
    secrets.put_app_secret(SIGNING_KEYS, &SecretString::new(rotated.to_json())).await?;
    Ok(rotated)
}

/// A fresh key (256 bits from the OS CSPRNG) with a random id.
pub fn new_key(now_ms: i64) -> SigningKey {
    SigningKey::new(format!("k{}", &crate::random::id128()[..8]), &crate::random::bytes::<32>(), now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_only_under_its_own_label_key_and_unaltered() {
        let keys = SigningKeys { keys: vec![new_key(0)] };
        let t = sign_with(keys.current(0).unwrap(), "a", &vec![1, 2]);
        assert_eq!(open_with::<Vec<i32>>(&keys, "a", &t, 1).map(|(c, _)| c), Some(vec![1, 2]));
        assert!(open_with::<Vec<i32>>(&keys, "b", &t, 1).is_none());
        let other = SigningKeys { keys: vec![SigningKey::new(keys.keys[0].id.clone(), &[9; 32], 0)] };
        assert!(open_with::<Vec<i32>>(&other, "a", &t, 1).is_none(), "same id, another key");
        let (head, s) = t.rsplit_once('.').unwrap();
        let kid = head.split_once('.').unwrap().0;
        let forged = format!("{kid}.{}.{s}", B64URL.encode(b"[1,3]"));
        assert!(open_with::<Vec<i32>>(&keys, "a", &forged, 1).is_none());
        // Rotated out: valid during the grace, refused after it.
        let rotated = keys.rotate(new_key(10), 10, 100);
        assert!(open_with::<Vec<i32>>(&rotated, "a", &t, 50).is_some());
        assert!(open_with::<Vec<i32>>(&rotated, "a", &t, 111).is_none());
    }

    #[test]
    fn keys_are_random_and_never_the_lever_client_secret() {
        let (a, b) = (new_key(0), new_key(0));
        assert_ne!(a.bytes(), b.bytes());
        assert_ne!(a.id, b.id);
        assert_eq!(a.bytes().len(), 32);
    }
}
