//! What the product keeps about a candidate it put in Lever, after the opportunity exists: the
//! link from Lever's opportunity to XOR's candidate (Lever's events name the opportunity; XOR
//! knows the candidate), the latest outcome forwarded, and the tombstone an erasure leaves.
//!
//! None of it is personal data: ids (XOR's pseudonymous candidate id, Lever's opportunity id),
//! times and stage words. The person's name, email, phone, links and answers live only in the
//! screening delivery's raw body, which an erasure removes (docs/data-protection.md).
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ids::ConnectionId;

/// One opportunity the product created (or adopted) for one XOR screening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateLink {
    pub connection: ConnectionId,
    pub opportunity_id: String,
    /// XOR's candidate and job ids (the screening's).
    pub candidate_id: String,
    pub job_id: String,
    /// The screening delivery that created it.
    pub webhook_id: String,
    pub created_at_ms: i64,
    /// The latest outcome sent to XOR (`hired`, `stage_changed: Phone screen`, …), and when it
    /// happened in Lever: the section page's "latest in Lever".
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub outcome_at_ms: Option<i64>,
    /// Set once the candidate was erased (Lever deleted them, or an operator asked).
    #[serde(default)]
    pub erased_at_ms: Option<i64>,
}

/// What an erasure leaves: enough to refuse creating the person again when XOR retries their
/// screening, nothing to recognise them by (the XOR candidate id is kept only as its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    pub connection: ConnectionId,
    /// [`tombstone_key`] of XOR's candidate id.
    pub key: String,
    pub erased_at_ms: i64,
    /// Why: `lever: candidateDeleted`, `operator`.
    pub by: String,
}

/// The hash a tombstone is found by: SHA-256 of the connection and XOR's candidate id, so one
/// connection's tombstone never answers for another's candidate.
pub fn tombstone_key(connection: &ConnectionId, candidate_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(connection.as_str().as_bytes());
    h.update([0]);
    h.update(candidate_id.as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tombstone_key_is_per_connection_and_hides_the_id() {
        let a = ConnectionId::parse("acme").unwrap();
        let b = ConnectionId::parse("beta").unwrap();
        assert_ne!(tombstone_key(&a, "cand_1"), tombstone_key(&b, "cand_1"));
        assert_eq!(tombstone_key(&a, "cand_1"), tombstone_key(&a, "cand_1"));
        assert!(!tombstone_key(&a, "cand_1").contains("cand"));
        assert_eq!(tombstone_key(&a, "cand_1").len(), 64);
    }
}
