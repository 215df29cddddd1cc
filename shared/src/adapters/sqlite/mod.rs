//! The embedded store for local runs: one SQLite file in the state directory. Same contract as
//! DynamoDB (the shared contract tests run against both): optimistic versions on mappings,
//! status and feed state written apart from the connection's configuration.
use std::path::Path;
use std::sync::Mutex;

use rusqlite::Connection as Db;

use crate::domain::*;

mod candidates;
mod catalog;
mod connections;
mod jobs;
mod webhooks;

pub struct SqliteStore {
    db: Mutex<Db>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS connections (
  id TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, feed TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mappings (
  connection TEXT NOT NULL, posting_id TEXT NOT NULL, doc TEXT NOT NULL, version INTEGER NOT NULL,
  PRIMARY KEY (connection, posting_id));
CREATE TABLE IF NOT EXISTS runs (
  connection TEXT NOT NULL, started_at_ms INTEGER NOT NULL, run_id TEXT NOT NULL, doc TEXT NOT NULL,
  PRIMARY KEY (connection, run_id));
CREATE INDEX IF NOT EXISTS mappings_by_xor_job ON mappings (connection, json_extract(doc, '$.xor_job_id'));
CREATE TABLE IF NOT EXISTS deliveries (
  connection TEXT NOT NULL, webhook_id TEXT NOT NULL, received_at_ms INTEGER NOT NULL, status TEXT NOT NULL,
  doc TEXT NOT NULL, PRIMARY KEY (connection, webhook_id));
CREATE INDEX IF NOT EXISTS deliveries_by_status ON deliveries (status, received_at_ms);
CREATE INDEX IF NOT EXISTS deliveries_by_connection_status ON deliveries (connection, status, received_at_ms, webhook_id);
CREATE TABLE IF NOT EXISTS claims (
  connection TEXT NOT NULL, natural_key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (connection, natural_key));
CREATE TABLE IF NOT EXISTS leases (
  connection TEXT NOT NULL, name TEXT NOT NULL, owner TEXT NOT NULL, until_ms INTEGER NOT NULL,
  PRIMARY KEY (connection, name));
CREATE TABLE IF NOT EXISTS secrets (
  connection TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (connection, kind));
CREATE TABLE IF NOT EXISTS invitations (
  connection TEXT NOT NULL, token_hash TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (connection, token_hash));
CREATE TABLE IF NOT EXISTS candidate_links (
  connection TEXT NOT NULL, opportunity_id TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (connection, opportunity_id));
CREATE TABLE IF NOT EXISTS tombstones (
  connection TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (connection, key));
CREATE TABLE IF NOT EXISTS catalogs (connection TEXT PRIMARY KEY, doc TEXT NOT NULL);
";

pub(super) fn err(op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::unavailable(op, e)
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/state.db`. The directory is made owner-only: it holds
    /// API keys.
    pub fn open_dir(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::unavailable("open", e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        Self::open(&dir.join("state.db"))
    }

    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Db::open(path).map_err(err("open"))?;
        db.busy_timeout(std::time::Duration::from_secs(5)).map_err(err("open"))?;
        db.execute_batch(SCHEMA).map_err(err("open"))?;
        Ok(Self { db: Mutex::new(db) })
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Db::open_in_memory().map_err(err("open"))?;
        db.execute_batch(SCHEMA).map_err(err("open"))?;
        Ok(Self { db: Mutex::new(db) })
    }

    pub(super) fn db(&self) -> std::sync::MutexGuard<'_, Db> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialise")
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::corrupt(what, e))
}

pub(super) fn row_to_connection(
    id: String,
    config: String,
    status: String,
    feed: String,
) -> Result<Connection, StoreError> {
    let mut c: Connection = from_json(&format!("connection {id}"), &config)?;
    c.status = ConnectionStatus::parse(&status)
        .ok_or_else(|| StoreError::corrupt_because(format!("connection {id}"), format!("status {status:?}")))?;
    c.feed = from_json(&format!("connection {id}"), &feed)?;
    Ok(c)
}
