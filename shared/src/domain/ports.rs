//! The store ports. Narrow on purpose (as in aws-samples/serverless-rust-demo): each use case
//! takes only the stores it needs, and each adapter (DynamoDB, SQLite, memory) implements them all.
use async_trait::async_trait;

use super::connection::{Connection, ConnectionStatus, FeedState};
use super::ids::{ConnectionId, PostingId};
use super::job::JobMapping;
use super::run::SyncRun;
use super::secret::SecretString;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An optimistic write lost: somebody else wrote the item since we read it.
    #[error("conflict writing {what}: it changed since it was read")]
    Conflict { what: String },
    #[error("{what} already exists")]
    AlreadyExists { what: String },
    #[error("{what} not found")]
    NotFound { what: String },
    /// The backend failed (network, throttling, disk): retry later.
    #[error("store unavailable during {op}: {message}")]
    Unavailable { op: &'static str, message: String },
    /// Stored data we cannot read back: a bug or a manual edit.
    #[error("corrupt record {what}: {message}")]
    Corrupt { what: String, message: String },
}

impl StoreError {
    pub fn unavailable(op: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            op,
            message: e.to_string(),
        }
    }
    pub fn corrupt(what: impl Into<String>, e: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            what: what.into(),
            message: e.to_string(),
        }
    }
}

#[async_trait]
pub trait MappingStore: Send + Sync {
    /// All mappings of one connection (active and closed).
    async fn mappings(&self, connection: &ConnectionId) -> Result<Vec<JobMapping>, StoreError>;
    async fn mapping(
        &self,
        connection: &ConnectionId,
        posting: &PostingId,
    ) -> Result<Option<JobMapping>, StoreError>;
    /// Writes `mapping` with `version = expected + 1` (or 1 when `expected` is `None`, which
    /// requires that no mapping exists). Fails with [`StoreError::Conflict`] when the stored
    /// version is not `expected`. Returns the written mapping.
    async fn upsert_mapping(
        &self,
        mapping: JobMapping,
        expected: Option<u64>,
    ) -> Result<JobMapping, StoreError>;
}

#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Fails with [`StoreError::AlreadyExists`] when the id is taken.
    async fn create_connection(&self, connection: &Connection) -> Result<(), StoreError>;
    async fn connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError>;
    async fn connections(&self) -> Result<Vec<Connection>, StoreError>;
    async fn set_status(
        &self,
        id: &ConnectionId,
        status: ConnectionStatus,
    ) -> Result<(), StoreError>;
    async fn set_feed_state(&self, id: &ConnectionId, state: &FeedState) -> Result<(), StoreError>;
}

#[async_trait]
pub trait RunStore: Send + Sync {
    async fn record_run(&self, run: &SyncRun) -> Result<(), StoreError>;
    /// Newest first.
    async fn runs(
        &self,
        connection: &ConnectionId,
        limit: usize,
    ) -> Result<Vec<SyncRun>, StoreError>;
}

/// Per-connection secrets. Names are `<kind>` under the connection (`xor-api-key`, …); adapters
/// decide where that lands (a Secrets Manager name prefix, an embedded table).
#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn secret(
        &self,
        connection: &ConnectionId,
        kind: &str,
    ) -> Result<Option<SecretString>, StoreError>;
    async fn put_secret(
        &self,
        connection: &ConnectionId,
        kind: &str,
        value: &SecretString,
    ) -> Result<(), StoreError>;
}

/// The secret kind holding a connection's XOR API key.
pub const XOR_API_KEY: &str = "xor-api-key";
