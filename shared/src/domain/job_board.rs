//! The job board port: where the feed's postings become jobs with chatbot links. XOR implements
//! it over HTTP (`adapters::xor`, docs/xor-contract.md); use-case tests use a small fake.
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Connection, Posting, SecretString};

/// A job as XOR returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XorJob {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub chatbot_url: Option<String>,
    #[serde(default)]
    pub webchat_url: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// The body's `source` (`lever` for ours) and `location`, as XOR keeps them.
    #[serde(default)]
    pub source: Option<String>,
    /// Kept as XOR sent it: a shape we do not expect is no label, never an unreadable job.
    #[serde(default)]
    pub location: Option<serde_json::Value>,
}

impl XorJob {
    /// The place, as a recruiter reads it ("Berlin, DE · remote"), when XOR's `location` has
    /// the shape we send.
    pub fn location(&self) -> Option<String> {
        let l: super::Location = serde_json::from_value(self.location.clone()?).ok()?;
        l.label()
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum XorError {
    /// XOR answered with a final refusal (4xx other than 429): retrying will not help.
    #[error("XOR refused {op}: HTTP {status} {code}: {message}")]
    Rejected { op: &'static str, status: u16, code: String, message: String },
    /// 429, 5xx or timeouts until the retry policy gave up: try again on a later run.
    #[error("XOR unavailable for {op} after {attempts} attempt(s): {last}")]
    Unavailable {
        op: &'static str,
        attempts: u32,
        #[source]
        last: super::Failure,
    },
    #[error("XOR answered {op} with a body we cannot read: {source}")]
    Decode {
        op: &'static str,
        #[source]
        source: std::sync::Arc<serde_json::Error>,
    },
}

impl XorError {
    /// The HTTP status of a final refusal (a sync acts on 404 and 409).
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// One connection's job board (its key, its rate limit).
#[async_trait]
pub trait JobBoard: Send + Sync {
    /// Creates a job. The same `key` gives the same job back (a retry after a lost answer); the
    /// same key with another body is refused with 409.
    async fn create(&self, key: &str, job: &Posting) -> Result<XorJob, XorError>;
    /// A job that no longer exists is refused with 404.
    async fn update(&self, id: &str, job: &Posting) -> Result<XorJob, XorError>;
    /// Closing a closed job succeeds; a job that no longer exists is refused with 404.
    async fn close(&self, id: &str) -> Result<XorJob, XorError>;
    /// Every job this integration made (every page).
    async fn list_all(&self) -> Result<Vec<XorJob>, XorError>;
    /// One job by its id: a job that is not this key's, or does not exist, is refused with 404.
    async fn job(&self, id: &str) -> Result<XorJob, XorError>;
    /// Tells XOR what became of a candidate it screened. The same `key` is recorded once (a
    /// retry after a lost answer); the same key with another body is refused with 409.
    async fn candidate_event(&self, key: &str, candidate_id: &str, event: &CandidateEvent) -> Result<(), XorError>;
}

/// What became of a screened candidate in the ATS, as XOR receives it (docs/xor-contract.md §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateEvent {
    /// XOR's job the screening was for.
    pub job_id: String,
    /// `stage_changed`, `hired`, `archived`, `unarchived`, `deleted`.
    pub event: String,
    /// The stage's name, as the customer's recruiters see it (a stage change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Lever's archive reason, in the customer's words (an archive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it happened in Lever (RFC 3339).
    pub occurred_at: String,
    /// Lever's opportunity, for XOR's support to trace.
    pub ats_opportunity_id: String,
}

/// Makes a connection's board from its settings and its API key.
pub trait JobBoards: Send + Sync {
    fn board(&self, conn: &Connection, api_key: SecretString) -> Arc<dyn JobBoard>;
}

/// The idempotency key of a create: stable for one posting of one connection (and its re-open
/// generation), so a create retried after a lost response returns the same job.
pub fn idempotency_key(connection: &super::ConnectionId, posting: &super::PostingId, generation: u32) -> String {
    format!("xor-lever:{connection}:{posting}:{generation}")
}
