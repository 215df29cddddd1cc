//! A feed posting as XOR's job body, and the mapping that remembers which XOR job it became.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ids::{ConnectionId, PostingId};

/// `location` of XOR's job body (docs/xor-contract.md §1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub postal_code: Option<String>,
    /// `onsite`, `remote`, `hybrid`, or the feed's own word (lower-cased) when it is another one.
    pub remote: Option<String>,
}

/// One validated posting from the feed, in the shape of XOR's job body (docs/xor-contract.md §1) plus
/// `extra`: every element the mapping does not know, kept by name so nothing is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub source: String,
    pub external_id: PostingId,
    pub title: String,
    pub description_html: Option<String>,
    pub company: Option<String>,
    pub location: Location,
    pub employment_type: Option<String>,
    pub category: Option<String>,
    pub apply_url: Option<String>,
    pub posting_url: Option<String>,
    /// UTC RFC 3339, seconds precision (`2026-11-23T10:15:00Z`).
    pub posted_at: Option<String>,
    pub extra: BTreeMap<String, String>,
}

impl Posting {
    /// The body sent to XOR, serialised once: it is what we hash and what we send.
    pub fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a posting always serialises")
    }

    /// The content hash the plan compares: SHA-256 of the exact body XOR receives, so any change
    /// XOR would see (including `extra`) is an update, and nothing else is.
    pub fn content_hash(&self) -> String {
        hash_body(&self.to_body())
    }
}

pub fn hash_body(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingStatus {
    Active,
    Closed,
}

/// Which XOR job a Lever posting became. `version` is the optimistic-concurrency counter: every
/// write states the version it read, so two overlapping runs cannot overwrite each other blindly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMapping {
    pub connection: ConnectionId,
    pub posting_id: PostingId,
    pub xor_job_id: String,
    pub chatbot_url: Option<String>,
    /// XOR's web chat for the job (recruiters share it beside the chatbot link).
    #[serde(default)]
    pub webchat_url: Option<String>,
    pub title: String,
    /// The posting's place, as a recruiter reads it ("Berlin, DE · remote").
    #[serde(default)]
    pub location: Option<String>,
    pub content_hash: String,
    pub status: MappingStatus,
    /// Bumped each time a closed posting is re-opened as a new XOR job; part of the create's
    /// idempotency key so a re-open is not answered with the old, closed job.
    pub generation: u32,
    pub version: u64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl Location {
    /// "City, State, Country · remote": the parts present; `None` when there are none.
    pub fn label(&self) -> Option<String> {
        let place: Vec<&str> =
            [&self.city, &self.state, &self.country].into_iter().flatten().map(String::as_str).collect();
        let mut out = place.join(", ");
        if let Some(r) = self.remote.as_deref().filter(|r| *r != "onsite") {
            if !out.is_empty() {
                out.push_str(" · ");
            }
            out.push_str(r);
        }
        (!out.is_empty()).then_some(out)
    }
}

impl JobMapping {
    pub fn is_active(&self) -> bool {
        self.status == MappingStatus::Active
    }
}
