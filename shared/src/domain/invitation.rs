//! The operator's invitation to connect one connection to Lever: the connect link carries its
//! token, the store keeps only the token's SHA-256 (a leaked table grants nothing), and it is
//! good once, until it expires.
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ids::ConnectionId;

/// How long a connect link is good for unless the operator says otherwise.
pub const DEFAULT_INVITATION_DAYS: u32 = 7;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub connection: ConnectionId,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// Set once, by the authorization that used it.
    pub used_at_ms: Option<i64>,
}

/// Why an invitation cannot be used (each is a readable page, never a redirect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationState {
    Live,
    Used,
    Expired,
}

impl Invitation {
    pub fn new(connection: ConnectionId, token: &str, now_ms: i64, valid_days: u32) -> Self {
        Self {
            connection,
            token_hash: hash_token(token),
            created_at_ms: now_ms,
            expires_at_ms: now_ms + i64::from(valid_days) * 24 * 3600 * 1000,
            used_at_ms: None,
        }
    }

    pub fn state(&self, now_ms: i64) -> InvitationState {
        match self.used_at_ms {
            Some(_) => InvitationState::Used,
            None if now_ms >= self.expires_at_ms => InvitationState::Expired,
            None => InvitationState::Live,
        }
    }
}

/// What the store keys an invitation by. Tokens carry 256 random bits, so an unsalted hash is
/// enough: there is nothing to guess.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_lives_until_used_or_expired() {
        let id = ConnectionId::parse("acme").unwrap();
        let mut i = Invitation::new(id, "tok", 1_000, 7);
        assert_eq!(i.token_hash, hash_token("tok"));
        assert_ne!(i.token_hash, "tok");
        assert_eq!(i.state(1_000), InvitationState::Live);
        assert_eq!(i.state(1_000 + 7 * 86_400_000), InvitationState::Expired);
        i.used_at_ms = Some(2_000);
        assert_eq!(i.state(2_000), InvitationState::Used);
    }
}
