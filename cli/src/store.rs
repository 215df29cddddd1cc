//! Which store the CLI works on: the embedded SQLite file, or the deployment's DynamoDB.
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::OnceCell;
use xor_lever_shared::adapters::dynamodb::DynamoStore;
use xor_lever_shared::adapters::sqlite::SqliteStore;
use xor_lever_shared::config::{Settings, Wiring, aws_sdk_config, http_client};
use xor_lever_shared::usecases::SyncDeps;
use xor_lever_shared::usecases::context::LeverContext;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StoreKind {
    Embedded,
    Dynamodb,
}

pub struct Ctx {
    pub state_dir: PathBuf,
    pub kind: StoreKind,
    /// Built once, on first use (a command that needs no store builds none).
    wiring: OnceCell<Wiring>,
}

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

impl Ctx {
    pub fn new(state_dir: PathBuf, kind: StoreKind) -> Self {
        Self { state_dir, kind, wiring: OnceCell::new() }
    }

    /// The process's one wiring: the embedded store's, or the deployment's (as the Lambdas
    /// build it: `config::wiring`).
    pub async fn wiring(&self) -> Result<&Wiring> {
        self.wiring
            .get_or_try_init(|| async {
                match self.kind {
                    StoreKind::Embedded => embedded_wiring(&self.state_dir, http_client()),
                    StoreKind::Dynamodb => Ok(xor_lever_shared::config::wiring(&Settings::from_env()?).await),
                }
            })
            .await
    }

    /// The sync's ports.
    pub async fn deps(&self) -> Result<SyncDeps> {
        Ok(self.wiring().await?.sync.clone())
    }

    /// Lever's ports (OAuth, webhooks, replays) on the same store. `XOR_LEVER_RESUME_HOSTS` is
    /// checked here, where the resume download is wired, not by commands that never fetch one.
    pub async fn lever_context(&self) -> Result<LeverContext> {
        xor_lever_shared::config::resume_hosts_from_env()?;
        Ok(self.wiring().await?.lever.clone())
    }
}

impl Ctx {
    /// The deployment's sync queue, when working on one that has it (`SYNC_QUEUE_URL`, the
    /// stack's `SyncQueueUrl` output).
    pub async fn sync_queue(&self) -> Result<Option<Box<dyn xor_lever_shared::domain::queue::SyncQueue>>> {
        Ok(match (self.kind, Settings::from_env().ok().and_then(|s| s.sync_queue_url)) {
            (StoreKind::Dynamodb, Some(url)) => {
                Some(Box::new(xor_lever_shared::config::sqs_queue(&aws_sdk_config().await, &url)))
            }
            _ => None,
        })
    }
}

impl Ctx {
    pub async fn init(&self) -> Result<std::process::ExitCode> {
        match self.kind {
            StoreKind::Embedded => {
                SqliteStore::open_dir(&self.state_dir)?;
                println!("embedded store ready in {}", self.state_dir.display());
            }
            StoreKind::Dynamodb => {
                let settings = Settings::from_env()?;
                let sdk = aws_sdk_config().await;
                DynamoStore::new(xor_lever_shared::config::dynamo_client(&sdk), &settings.table_name)
                    .create_table()
                    .await?;
                println!("DynamoDB table {} ready", settings.table_name);
            }
        }
        Ok(std::process::ExitCode::SUCCESS)
    }
}

/// The embedded store's wiring: one SQLite store behind the sync's and Lever's ports.
pub fn embedded_wiring(dir: &std::path::Path, http: reqwest::Client) -> Result<Wiring> {
    let s = Arc::new(SqliteStore::open_dir(dir)?);
    let sync = xor_lever_shared::config::sync_deps(s.clone(), http.clone());
    let mut lever = xor_lever_shared::config::lever_context_on(s.clone(), s, http);
    // An unusable XOR_LEVER_RESUME_HOSTS is refused by `Ctx::lever_context` (and `dev` sets its own).
    let hosts = xor_lever_shared::config::resume_hosts_from_env().unwrap_or_default();
    lever.files = xor_lever_shared::config::resume_fetcher(hosts);
    Ok(Wiring { sync, lever, turns: None, public_url: None })
}
