//! Locally (`xor-lever serve`, `dev`): a connection's first sync runs as a background task. The
//! sync itself is handed in by the caller that wires the process (the CLI), so this adapter
//! knows nothing of the use cases.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{ConnectionId, SyncTrigger, TriggerError};

type Spawn = Arc<dyn Fn(ConnectionId) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

pub struct BackgroundSyncTrigger(pub Spawn);

#[async_trait]
impl SyncTrigger for BackgroundSyncTrigger {
    async fn trigger(&self, connection: &ConnectionId) -> Result<(), TriggerError> {
        tokio::spawn((self.0)(connection.clone()));
        Ok(())
    }
}
