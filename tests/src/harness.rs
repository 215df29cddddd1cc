//! `spawn_app` for sync tests: a feed server, the XOR sandbox, a store, and one connection.
use std::sync::Arc;
use std::time::Duration;

use xor_lever::adapters::memory::MemoryStore;
use xor_lever::adapters::retry::RetryPolicy;
use xor_lever::adapters::sqlite::SqliteStore;
use xor_lever::domain::ports::XOR_API_KEY;
use xor_lever::domain::*;
use xor_lever::usecases::{SyncDeps, SyncOptions, SyncReport, sync_connection};

use crate::{FeedServer, XorSandbox, moto};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Sqlite,
    /// DynamoDB and Secrets Manager on moto.
    Aws,
}

pub struct App {
    pub xor: XorSandbox,
    pub feed: FeedServer,
    pub deps: SyncDeps,
    pub id: ConnectionId,
    pub opts: SyncOptions,
    _dir: Option<tempfile::TempDir>,
}

pub async fn spawn_app(kind: StoreKind, feed: Vec<u8>) -> App {
    let xor = XorSandbox::spawn().await;
    let feed = FeedServer::spawn(feed).await;
    let http = xor_lever::config::http_client();
    let (deps, dir) = match kind {
        StoreKind::Memory => (SyncDeps::from_store(Arc::new(MemoryStore::new()), http), None),
        StoreKind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
            (SyncDeps::from_store(store, http), Some(dir))
        }
        StoreKind::Aws => {
            // DynamoDB for state, Secrets Manager for secrets, as deployed.
            let mut deps = SyncDeps::from_store(Arc::new(MemoryStore::new()), http);
            let table = Arc::new(moto::dynamo_store().await);
            deps.connections = table.clone();
            deps.mappings = table.clone();
            deps.runs = table;
            deps.secrets = Arc::new(moto::secrets_store().await);
            (deps, None)
        }
    };
    let id = ConnectionId::parse(&format!("acme-{:06x}", fastrand::u32(..0xffffff))).unwrap();
    let mut conn = Connection::new(id.clone(), feed.url.clone(), xor.url.clone(), 0);
    conn.xor_max_rps = 500.0;
    deps.connections.create_connection(&conn).await.unwrap();
    deps.secrets.put_secret(&id, XOR_API_KEY, &SecretString::new(format!("xor_test_{id}"))).await.unwrap();
    let opts = SyncOptions {
        xor_timeout: Duration::from_millis(500),
        xor_retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            budget: Duration::from_secs(3),
        },
        ..SyncOptions::default()
    };
    App { xor, feed, deps, id, opts, _dir: dir }
}

impl App {
    pub async fn sync(&self) -> SyncReport {
        sync_connection(&self.deps, &self.id, &self.opts).await
    }
    pub async fn sync_with(&self, f: impl FnOnce(&mut SyncOptions)) -> SyncReport {
        let mut o = self.opts.clone();
        f(&mut o);
        sync_connection(&self.deps, &self.id, &o).await
    }
    pub async fn mappings(&self) -> Vec<JobMapping> {
        let mut m = self.deps.mappings.mappings(&self.id).await.unwrap();
        m.sort_by(|a, b| a.posting_id.cmp(&b.posting_id));
        m
    }
    /// XOR's active jobs by external id (panics on a duplicate: the thing we never allow).
    pub fn active_xor_jobs(&self) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        for j in self.xor.jobs().into_iter().filter(|j| j["status"] == "active") {
            let ext = j["external_id"].as_str().unwrap().to_owned();
            let prev = out.insert(ext.clone(), j["id"].as_str().unwrap().to_owned());
            assert!(prev.is_none(), "two active XOR jobs for posting {ext}");
        }
        out
    }
}
