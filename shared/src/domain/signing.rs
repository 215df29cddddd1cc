//! The deployment's signing keys: what signs every token that grants access (page links,
//! section sessions, CSRF fields, the OAuth state). Random (256 bits from the OS CSPRNG, made by
//! `xor-lever keys init`), kept in a secret of their own (`_app/signing-keys`), never derived from
//! anything a third party holds (Lever knows the OAuth client secret; XOR knows the webhook
//! secrets). Each token names its key's id, so a key can be rotated: `keys rotate` makes a new
//! current key and keeps the previous one valid for a grace period, after which it is retired.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::{Deserialize, Serialize};

/// The secret's kind (`<prefix>_app/signing-keys`).
pub const SIGNING_KEYS: &str = "signing-keys";
/// Bytes of a key (256 bits).
pub const KEY_BYTES: usize = 32;
/// The longest a rotated-out key keeps verifying: 90 days, a page link's longest life.
pub const MAX_GRACE_MS: i64 = 90 * 86_400_000;

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SigningKey {
    /// Short, random, public: named in each token.
    pub id: String,
    /// URL-safe base64 of [`KEY_BYTES`] bytes.
    key: String,
    /// Unix ms.
    pub created_ms: i64,
    /// Unix ms after which tokens of this key are refused (a rotated-out key's grace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retires_ms: Option<i64>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("id", &self.id).field("retires_ms", &self.retires_ms).finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn new(id: String, key: &[u8; KEY_BYTES], now_ms: i64) -> Self {
        Self { id, key: B64URL.encode(key), created_ms: now_ms, retires_ms: None }
    }

    /// The key's bytes (only `usecases::signed` uses them).
    pub fn bytes(&self) -> Vec<u8> {
        B64URL.decode(&self.key).unwrap_or_default()
    }

    fn live(&self, now_ms: i64) -> bool {
        self.retires_ms.is_none_or(|r| now_ms < r) && self.bytes().len() == KEY_BYTES
    }
}

/// The keys, newest first: the first is the one that signs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SigningKeys {
    pub keys: Vec<SigningKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error("no signing key: run `xor-lever keys init` (docs/security.md)")]
    Missing,
    #[error("the signing keys secret is unreadable")]
    Unreadable,
}

impl SigningKeys {
    /// The stored value; an empty or placeholder one (the template's `{"keys":[]}`) has no key.
    pub fn parse(stored: &str) -> Result<Self, KeysError> {
        let keys: Self = serde_json::from_str(stored).map_err(|_| KeysError::Unreadable)?;
        Ok(keys)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("serialises")
    }

    /// The key that signs now.
    pub fn current(&self, now_ms: i64) -> Result<&SigningKey, KeysError> {
        self.keys.first().filter(|k| k.live(now_ms)).ok_or(KeysError::Missing)
    }

    /// The key a token names, if it still verifies.
    pub fn find(&self, id: &str, now_ms: i64) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.id == id && k.live(now_ms))
    }

    /// A new current key; the one it replaces stays valid for `grace_ms` (at most
    /// [`MAX_GRACE_MS`]), older retired ones are dropped once their grace has ended.
    pub fn rotate(&self, new: SigningKey, now_ms: i64, grace_ms: i64) -> Self {
        let mut keys = vec![new];
        for (i, k) in self.keys.iter().enumerate() {
            let mut k = k.clone();
            if i == 0 && k.retires_ms.is_none() {
                k.retires_ms = Some(now_ms.saturating_add(grace_ms.clamp(0, MAX_GRACE_MS)));
            }
            if k.live(now_ms) {
                keys.push(k);
            }
        }
        Self { keys }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_previous_key_for_its_grace_only() {
        let a = SigningKeys { keys: vec![SigningKey::new("a".into(), &[1; 32], 0)] };
        assert_eq!(a.current(5).unwrap().id, "a");
        let b = a.rotate(SigningKey::new("b".into(), &[2; 32], 10), 10, 100);
        assert_eq!(b.current(20).unwrap().id, "b");
        assert!(b.find("a", 109).is_some());
        assert!(b.find("a", 110).is_none(), "retired at the end of its grace");
        let c = b.rotate(SigningKey::new("c".into(), &[3; 32], 200), 200, 100);
        assert_eq!(c.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), ["c", "b"], "a is dropped");
        assert_eq!(SigningKeys::parse(r#"{"keys":[]}"#).unwrap().current(0), Err(KeysError::Missing));
        let d = c.rotate(SigningKey::new("d".into(), &[4; 32], 300), 300, i64::MAX);
        assert_eq!(d.find("c", 0).unwrap().retires_ms, Some(300 + MAX_GRACE_MS), "the grace is capped");
        assert_eq!(SigningKeys::parse("set-me"), Err(KeysError::Unreadable));
        assert!(!format!("{:?}", a).contains("AQEB"), "no key material in Debug");
    }
}
