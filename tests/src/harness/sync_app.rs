//! The sync app: a feed server, the XOR sandbox, a store, and one connection.
use std::sync::Arc;
use std::time::Duration;

use xor_lever_shared::adapters::memory::MemoryStore;
use xor_lever_shared::adapters::retry::RetryPolicy;
use xor_lever_shared::adapters::sqlite::SqliteStore;
use xor_lever_shared::adapters::xor::XorBoards;
use xor_lever_shared::domain::ports::XOR_API_KEY;
use xor_lever_shared::domain::*;
use xor_lever_shared::usecases::{SyncDeps, SyncOptions, SyncReport, sync_connection};

use super::StoreKind;
use crate::{FeedServer, XorSandbox, moto};

pub struct App {
    pub xor: XorSandbox,
    pub feed: FeedServer,
    pub deps: SyncDeps,
    pub id: ConnectionId,
    pub opts: SyncOptions,
    /// With `StoreKind::Aws`: the moto table and secret prefix (for a function binary's env).
    pub aws: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

pub async fn spawn_app(kind: StoreKind, feed: Vec<u8>) -> App {
    let xor = XorSandbox::spawn().await;
    let feed = FeedServer::spawn(feed).await;
    let http = xor_lever_shared::config::http_client();
    let mut aws = None;
    let (deps, dir) = match kind {
        StoreKind::Memory => (xor_lever_shared::config::sync_deps(Arc::new(MemoryStore::new()), http), None),
        StoreKind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
            (xor_lever_shared::config::sync_deps(store, http), Some(dir))
        }
        StoreKind::Aws => {
            // DynamoDB for state, Secrets Manager for secrets, as deployed.
            let table = moto::dynamo_store().await;
            let secrets = moto::secrets_store().await;
            aws = Some((table.table().to_owned(), secrets.prefix().to_owned()));
            (aws_sync_deps(table, secrets, http), None)
        }
        StoreKind::AwsAs(_) => {
            let ((table, secrets), _) = moto::enforced_stores(moto::Principal::Admin).await;
            aws = Some((table.table().to_owned(), secrets.prefix().to_owned()));
            (aws_sync_deps(table, secrets, http), None)
        }
    };
    let id = ConnectionId::parse(&format!("acme-{:06x}", fastrand::u32(..0xffffff))).unwrap();
    let mut conn = Connection::new(id.clone(), feed.url.clone(), xor.url.clone(), 0);
    conn.xor_max_rps = 500.0;
    deps.connections.create_connection(&conn).await.unwrap();
    deps.secrets.create_secret(&id, XOR_API_KEY, Some(&SecretString::new(format!("xor_test_{id}")))).await.unwrap();
    // Set up as the operator; from here on, act as the function.
    let deps = match kind {
        StoreKind::AwsAs(p) => {
            let (table, prefix) = aws.clone().unwrap();
            let (t, s) = moto::stores_as(p, &table, &prefix).await;
            aws_sync_deps(t, s, xor_lever_shared::config::http_client())
        }
        _ => deps,
    };
    // Short timeouts and retries: the sandboxes answer in milliseconds.
    let mut deps = deps;
    deps.boards = Arc::new(XorBoards {
        http: xor_lever_shared::config::http_client(),
        timeout: Duration::from_millis(500),
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            budget: Duration::from_secs(3),
        },
    });
    let opts = SyncOptions::default();
    App { xor, feed, deps, id, opts, aws, _dir: dir }
}

fn aws_sync_deps(
    table: xor_lever_shared::adapters::dynamodb::DynamoStore,
    secrets: xor_lever_shared::adapters::secrets_manager::SecretsManagerStore,
    http: reqwest::Client,
) -> SyncDeps {
    let table = Arc::new(table);
    let mut deps = xor_lever_shared::config::sync_deps(Arc::new(MemoryStore::new()), http);
    deps.connections = table.clone();
    deps.mappings = table.clone();
    deps.catalogs = table.clone();
    deps.runs = table;
    deps.secrets = Arc::new(secrets);
    deps
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
    /// The fan-out worker's ports on this app's moto table (its leases) and `queue`.
    pub async fn turn_deps(
        &self,
        queue: Arc<dyn xor_lever_shared::domain::queue::SyncQueue>,
    ) -> xor_lever_shared::usecases::turns::TurnDeps {
        let (table, _) = self.aws.clone().expect("an AWS app");
        let sdk = xor_lever_shared::config::aws_sdk_config().await;
        let leases = Arc::new(xor_lever_shared::adapters::dynamodb::DynamoStore::new(
            xor_lever_shared::config::dynamo_client(&sdk),
            table,
        ));
        xor_lever_shared::usecases::turns::TurnDeps { sync: self.deps.clone(), lever: None, leases, queue }
    }

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
