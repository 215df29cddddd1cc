//! Which store the CLI works on: the embedded SQLite file, or the deployment's DynamoDB.
use std::path::PathBuf;
use std::sync::Arc;

use xor_lever_shared::adapters::dynamodb::DynamoStore;
use xor_lever_shared::adapters::sqlite::SqliteStore;
use xor_lever_shared::config::{AwsStores, Settings, aws_deps, aws_sdk_config, http_client};
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
}

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

impl Ctx {
    pub async fn deps(&self) -> Result<SyncDeps> {
        let http = http_client();
        Ok(match self.kind {
            StoreKind::Embedded => embedded_deps(&self.state_dir, http)?,
            StoreKind::Dynamodb => {
                let settings = Settings::from_env()?;
                aws_deps(&AwsStores::new(&aws_sdk_config().await, &settings), &settings, http)
            }
        })
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

impl Ctx {
    /// The webhook use case's wiring on the same store.
    pub async fn lever_context(&self) -> Result<LeverContext> {
        let http = http_client();
        Ok(match self.kind {
            StoreKind::Embedded => embedded_lever_context(&self.state_dir, http)?,
            StoreKind::Dynamodb => {
                let settings = Settings::from_env()?;
                xor_lever_shared::config::lever_context(
                    &AwsStores::new(&aws_sdk_config().await, &settings),
                    &settings,
                    http,
                )
            }
        })
    }
}

pub fn embedded_lever_context(dir: &std::path::Path, http: reqwest::Client) -> Result<LeverContext> {
    let s = Arc::new(SqliteStore::open_dir(dir)?);
    let mut deps = xor_lever_shared::config::lever_context_on(s.clone(), s, http);
    deps.files = xor_lever_shared::config::resume_fetcher(xor_lever_shared::config::resume_hosts_from_env()?);
    Ok(deps)
}

pub fn embedded_deps(dir: &std::path::Path, http: reqwest::Client) -> Result<SyncDeps> {
    Ok(xor_lever_shared::config::sync_deps(Arc::new(SqliteStore::open_dir(dir)?), http))
}
