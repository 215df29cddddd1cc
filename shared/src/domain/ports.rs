//! The ports: the stores (narrow on purpose, as in aws-samples/serverless-rust-demo: each use case
//! takes only the stores it needs, and each adapter — DynamoDB with Secrets Manager, SQLite,
//! memory — implements them all) and the sync trigger (a Lambda invoke, a background task).
use async_trait::async_trait;

use super::candidate::{CandidateLink, Tombstone};
use super::connection::{Connection, ConnectionStatus, FeedState, LeverSettings};
use super::ids::{ConnectionId, PostingId};
use super::invitation::Invitation;
use super::job::JobMapping;
use super::job_filter::{CatalogEntry, JobFilter};
use super::run::SyncRun;
use super::secret::SecretString;
use super::webhook::{Claim, ClaimEnd, Delivery, DeliveryCursor, DeliveryPage, DeliveryStatus};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An optimistic write lost: somebody else wrote the item since we read it.
    #[error("conflict writing {what}: it changed since it was read")]
    Conflict { what: String },
    #[error("{what} already exists")]
    AlreadyExists { what: String },
    #[error("{what} not found")]
    NotFound { what: String },
    /// The backend failed (network, throttling, disk): retry later. `message` is the whole
    /// chain of causes (an SDK error's own text is terse); `source` keeps the error itself.
    #[error("store unavailable during {op}: {message}")]
    Unavailable {
        op: &'static str,
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// Stored data we cannot read back: a bug or a manual edit.
    #[error("corrupt record {what}: {message}")]
    Corrupt {
        what: String,
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

/// A cause kept as it was.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `e` and its causes, `: `-separated.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !out.ends_with(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        cur = c.source();
    }
    out
}

impl StoreError {
    pub fn unavailable(op: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable { op, message: error_chain(&e), source: Some(Box::new(e)) }
    }
    /// A failure described in words (no error value to keep).
    pub fn unavailable_because(op: &'static str, why: impl Into<String>) -> Self {
        Self::Unavailable { op, message: why.into(), source: None }
    }
    pub fn corrupt(what: impl Into<String>, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Corrupt { what: what.into(), message: error_chain(&e), source: Some(Box::new(e)) }
    }
    pub fn corrupt_because(what: impl Into<String>, why: impl Into<String>) -> Self {
        Self::Corrupt { what: what.into(), message: why.into(), source: None }
    }
}

#[async_trait]
pub trait MappingStore: Send + Sync {
    /// All mappings of one connection (active and closed).
    async fn mappings(&self, connection: &ConnectionId) -> Result<Vec<JobMapping>, StoreError>;
    async fn mapping(&self, connection: &ConnectionId, posting: &PostingId) -> Result<Option<JobMapping>, StoreError>;
    /// Writes `mapping` with `version = expected + 1` (or 1 when `expected` is `None`, which
    /// requires that no mapping exists). Fails with [`StoreError::Conflict`] when the stored
    /// version is not `expected`. Returns the written mapping.
    async fn upsert_mapping(&self, mapping: JobMapping, expected: Option<u64>) -> Result<JobMapping, StoreError>;
    /// The mapping whose XOR job is `xor_job_id` (a webhook names XOR's job, not Lever's posting).
    async fn mapping_by_xor_job(
        &self,
        connection: &ConnectionId,
        xor_job_id: &str,
    ) -> Result<Option<JobMapping>, StoreError>;
}

#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Fails with [`StoreError::AlreadyExists`] when the id is taken.
    async fn create_connection(&self, connection: &Connection) -> Result<(), StoreError>;
    async fn connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError>;
    async fn connections(&self) -> Result<Vec<Connection>, StoreError>;
    async fn set_status(&self, id: &ConnectionId, status: ConnectionStatus) -> Result<(), StoreError>;
    async fn set_feed_state(&self, id: &ConnectionId, state: &FeedState) -> Result<(), StoreError>;
    /// Writes the connection's Lever settings (perform_as, hosts) on their own.
    async fn set_lever(&self, id: &ConnectionId, lever: &LeverSettings) -> Result<(), StoreError>;
    /// The customer's feed moved (`connections set-feed-url`): the new URL, and the feed's
    /// validators (ETag, Last-Modified) forgotten, since they were the old URL's; the
    /// mass-close guard's memory is kept, so a much smaller feed is still held.
    async fn set_feed_url(&self, id: &ConnectionId, url: &str) -> Result<(), StoreError>;
    /// Writes the connection's job filter (issue 26) on its own, optimistically: `filter.version`
    /// is the new version, and the stored one must be `filter.version - 1` (0: never set), else
    /// [`StoreError::Conflict`] (someone changed it since it was read).
    async fn set_job_filter(&self, id: &ConnectionId, filter: &JobFilter) -> Result<(), StoreError>;
}

#[async_trait]
pub trait RunStore: Send + Sync {
    async fn record_run(&self, run: &SyncRun) -> Result<(), StoreError>;
    /// Newest first.
    async fn runs(&self, connection: &ConnectionId, limit: usize) -> Result<Vec<SyncRun>, StoreError>;
}

/// Per-connection secrets. Names are `<kind>` under the connection (`xor-api-key`, …); adapters
/// decide where that lands (a Secrets Manager name prefix, an embedded table).
///
/// Creating a secret is the operator's act (`connections add`); the functions only write new
/// values of secrets that exist (the Lever token pair), so their IAM policy grants
/// `PutSecretValue` on those alone.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The current value; `None` when the secret does not exist or has no value yet.
    async fn secret(&self, connection: &ConnectionId, kind: &str) -> Result<Option<SecretString>, StoreError>;
    /// A new value for an existing secret; [`StoreError::NotFound`] when it does not exist.
    async fn put_secret(&self, connection: &ConnectionId, kind: &str, value: &SecretString) -> Result<(), StoreError>;
    /// Creates the secret (with `value`, or none yet), or writes `value` if it exists.
    async fn create_secret(
        &self,
        connection: &ConnectionId,
        kind: &str,
        value: Option<&SecretString>,
    ) -> Result<(), StoreError>;
    /// Deployment-wide secrets (the Lever OAuth app's client id and secret).
    async fn app_secret(&self, kind: &str) -> Result<Option<SecretString>, StoreError>;
    async fn put_app_secret(&self, kind: &str, value: &SecretString) -> Result<(), StoreError>;
}

/// The app secret kind holding the Lever OAuth app credentials (JSON `{client_id, client_secret}`).
pub const LEVER_APP: &str = "lever-app";

/// Webhook deliveries and the per-screening claim (the idempotency record, after AWS Powertools:
/// a conditional write of an in-progress claim with a lease; a finished one answers retries).
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Inserts the delivery unless one with its id exists; returns the existing one if so.
    async fn insert_delivery(&self, d: &Delivery) -> Result<Option<Delivery>, StoreError>;
    async fn delivery(&self, connection: &ConnectionId, webhook_id: &str) -> Result<Option<Delivery>, StoreError>;
    /// Writes status, result, reason and attempts of an existing delivery.
    async fn update_delivery(&self, d: &Delivery) -> Result<(), StoreError>;
    /// One connection's deliveries in one status, newest first: at most `limit` of them, after
    /// `after` (the store reads no more than the page; no listing reads a whole partition).
    async fn deliveries(
        &self,
        connection: &ConnectionId,
        status: DeliveryStatus,
        limit: usize,
        after: Option<&DeliveryCursor>,
    ) -> Result<DeliveryPage, StoreError>;
    /// Takes the screening's claim for `owner` until `lease_until_ms`, unless it is done or held
    /// by another live lease.
    async fn claim_screening(
        &self,
        connection: &ConnectionId,
        natural_key: &str,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Claim, StoreError>;
    /// Ends `owner`'s claim (a no-op if another owner took it over meanwhile).
    async fn end_claim(
        &self,
        connection: &ConnectionId,
        natural_key: &str,
        owner: &str,
        end: ClaimEnd,
    ) -> Result<(), StoreError>;
}

/// The candidates the product put in Lever (issue 25): the link Lever's events are matched
/// against, the tombstone an erasure leaves, and the erasure of a delivery's raw body.
#[async_trait]
pub trait CandidateStore: Send + Sync {
    /// Writes the link (a whole-item write: the caller read it first when it updates one).
    async fn put_link(&self, link: &CandidateLink) -> Result<(), StoreError>;
    async fn link(&self, connection: &ConnectionId, opportunity_id: &str) -> Result<Option<CandidateLink>, StoreError>;
    async fn put_tombstone(&self, t: &Tombstone) -> Result<(), StoreError>;
    async fn tombstone(&self, connection: &ConnectionId, key: &str) -> Result<Option<Tombstone>, StoreError>;
    /// Removes a delivery's raw body (the only place a candidate's personal data is kept),
    /// keeping the record (status, ids, outcome). False when there is no such delivery.
    async fn erase_body(&self, connection: &ConnectionId, webhook_id: &str) -> Result<bool, StoreError>;
}

/// The postings of each connection's last feed read, as the job filter sees them (issue 26: the
/// Lever section lists them, published or not, and previews a rule change over them).
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Replaces the connection's catalog (every posting of the feed just read).
    async fn put_catalog(&self, connection: &ConnectionId, entries: &[CatalogEntry]) -> Result<(), StoreError>;
    /// The last catalog written (empty before the first full read).
    async fn catalog(&self, connection: &ConnectionId) -> Result<Vec<CatalogEntry>, StoreError>;
}

/// Operator-issued invitations to connect (the connect link's token, kept as its hash).
#[async_trait]
pub trait InvitationStore: Send + Sync {
    async fn put_invitation(&self, invitation: &Invitation) -> Result<(), StoreError>;
    async fn invitation(&self, connection: &ConnectionId, token_hash: &str) -> Result<Option<Invitation>, StoreError>;
    /// Marks the invitation used at `now_ms`, if it is live: true for the one caller that did.
    async fn use_invitation(
        &self,
        connection: &ConnectionId,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Marks every live invitation of `connection` used at `now_ms` (a new link replaces the
    /// old ones; a reset voids them). Returns how many.
    async fn revoke_invitations(&self, connection: &ConnectionId, now_ms: i64) -> Result<usize, StoreError>;
}

/// Starts a connection's sync now (its first, once it connects): an asynchronous Lambda invoke
/// when deployed, a background task locally.
#[async_trait]
pub trait SyncTrigger: Send + Sync {
    async fn trigger(&self, connection: &ConnectionId) -> Result<(), TriggerError>;
}

#[derive(Debug, thiserror::Error)]
#[error("the sync could not be started: {message}")]
pub struct TriggerError {
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// Fetches a file a third party links to (the resume XOR hands over), bounded in size and time.
#[async_trait]
pub trait FileFetcher: Send + Sync {
    /// The file at `url`, within the adapter's own limits (size, time) and, at most, `time_left`.
    async fn fetch(&self, url: &str, time_left: std::time::Duration) -> Result<FetchedFile, FetchError>;
}

#[derive(Debug, Clone)]
pub struct FetchedFile {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Why a file could not be had (logged; the report says only that it could not be downloaded, so
/// a link cannot be used to probe a network through the recruiter's PDF; the candidate still
/// goes to Lever).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("not an http(s) link")]
    NotHttp,
    /// The link points where we never connect (a host off the allow-list, an internal address,
    /// a redirect).
    #[error("refused: {0}")]
    Refused(String),
    #[error("timed out")]
    TimedOut(#[source] BoxError),
    #[error("could not connect")]
    Connect(#[source] BoxError),
    #[error("HTTP {0} (expired?)")]
    Status(u16),
    #[error("larger than {0} MB")]
    TooLarge(u64),
    #[error("the download broke off")]
    BrokeOff(#[source] BoxError),
}

/// Short leases ("one OAuth refresh per connection at a time, across all Lambdas").
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// True when `owner` now holds `name` until `until_ms` (it was free, expired, or its own).
    async fn try_lease(
        &self,
        connection: &ConnectionId,
        name: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError>;
    async fn release_lease(&self, connection: &ConnectionId, name: &str, owner: &str) -> Result<(), StoreError>;
}

/// The longest one call to a table port (connections, mappings, deliveries, leases) may take
/// before the adapter gives up: the DynamoDB client is configured with it, and the use cases size
/// their leases and budgets from it.
pub const TABLE_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);
/// The same for the secret port (Secrets Manager).
pub const SECRET_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The secret kind holding a connection's XOR API key.
pub const XOR_API_KEY: &str = "xor-api-key";
/// Whitespace-separated `whsec_…` secrets, all accepted (rotation).
pub const WEBHOOK_SECRET: &str = "webhook-secret";
/// The Lever OAuth token pair (JSON), written only by a refresh or an authorization.
pub const LEVER_TOKENS: &str = "lever-oauth";
/// The signature tokens of the webhooks the app registered in the connection's Lever account
/// (JSON: event → {id, token}); written by the connect callback, read by Lever's webhook route.
pub const LEVER_WEBHOOKS: &str = "lever-webhooks";
