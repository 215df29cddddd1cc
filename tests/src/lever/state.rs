//! What the sandbox holds: its counters, the opportunities (with their files and notes) and
//! people, the tokens, the queued faults, behind one lock.
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use super::Config;
use crate::faults::Faults;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub requests: u64,
    pub refreshes: u64,
    pub refresh_failures: u64,
    pub code_exchanges: u64,
    pub opportunities_created: u64,
    pub unauthorized: u64,
    pub faults_served: u64,
    /// Calls answered with a redirect to the account's region.
    pub redirected: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredFile {
    pub field: String,
    pub name: String,
    pub content_type: String,
    pub size: usize,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredNote {
    pub id: String,
    pub value: String,
    pub user: String,
    pub secret: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredOpportunity {
    pub id: String,
    /// The application's id (Lever: `applications` lists these; the posting is on the application).
    pub application: String,
    pub contact: String,
    pub name: String,
    pub headline: Option<String>,
    pub location: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<Value>,
    pub links: Vec<String>,
    pub tags: Vec<String>,
    pub sources: Vec<String>,
    pub origin: Option<String>,
    pub postings: Vec<String>,
    pub owner: String,
    pub followers: Vec<String>,
    pub stage: String,
    #[serde(rename = "createdAt")]
    pub created_at: u128,
    /// Parts sent as `files[]` (and `file` to `/opportunities/{id}/files`).
    pub files: Vec<StoredFile>,
    /// The part sent as `resumeFile`.
    pub resumes: Vec<StoredFile>,
    pub notes: Vec<StoredNote>,
    /// On a confidential posting (Lever: "An opportunity can only be confidential if it is
    /// associated with a confidential job posting").
    pub confidential: bool,
    /// `{archivedAt, reason}` while archived (`reason`: an archive reason's id).
    pub archived: Option<Value>,
}

/// A person, deduplicated by email: their stored data wins over a later create's.
#[derive(Debug, Clone)]
pub(super) struct Contact {
    pub(super) name: String,
    pub(super) headline: Option<String>,
    pub(super) phones: Vec<Value>,
}

#[derive(Default)]
pub(super) struct Inner {
    pub(super) config: Config,
    pub(super) stats: Stats,
    pub(super) faults: Faults,
    pub(super) revoked: bool,
    pub(super) codes: HashMap<String, String>,   // code → redirect_uri
    pub(super) access: HashMap<String, Instant>, // token → expiry
    pub(super) scopes: HashMap<String, String>,  // access or refresh token, or code → the granted scopes
    pub(super) sources: Vec<String>,             // the account's source names (an existing one is reused)
    pub(super) refresh: HashMap<String, bool>,   // token → still live
    pub(super) born: HashMap<String, Instant>,   // refresh token → when its family's authorization happened
    pub(super) users: Vec<Value>,
    pub(super) postings: BTreeMap<String, Value>,
    pub(super) opportunities: Vec<StoredOpportunity>,
    pub(super) contacts: HashMap<String, String>, // lower-cased email → contact id
    pub(super) people: HashMap<String, Contact>,  // contact id → the person's data
    pub(super) buckets: HashMap<String, (f64, Instant)>,
    pub(super) seq: u64,
    /// The app's webhooks (`POST /v1/webhooks`), the Super Admin's switch, what was sent.
    pub(super) webhooks: Vec<super::webhooks::Registered>,
    pub(super) webhooks_enabled: bool,
    pub(super) sent: Vec<super::webhooks::Sent>,
}

impl Inner {
    pub(super) fn next(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{:08x}{:04x}", self.seq, fastrand::u16(..))
    }
}

#[derive(Clone, Default)]
pub struct LeverState(pub(super) Arc<Mutex<Inner>>);
