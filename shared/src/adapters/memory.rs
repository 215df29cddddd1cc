//! In-memory stores for unit tests and `--dry-run` experiments. Same contract as the others.
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::*;

#[derive(Default)]
pub struct MemoryStore {
    connections: Mutex<BTreeMap<ConnectionId, Connection>>,
    mappings: Mutex<BTreeMap<(ConnectionId, PostingId), JobMapping>>,
    runs: Mutex<Vec<SyncRun>>,
    secrets: Mutex<HashMap<(ConnectionId, String), SecretString>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl MappingStore for MemoryStore {
    async fn mappings(&self, c: &ConnectionId) -> Result<Vec<JobMapping>, StoreError> {
        Ok(self.mappings.lock().unwrap().values().filter(|m| &m.connection == c).cloned().collect())
    }
    async fn mapping(&self, c: &ConnectionId, p: &PostingId) -> Result<Option<JobMapping>, StoreError> {
        Ok(self.mappings.lock().unwrap().get(&(c.clone(), p.clone())).cloned())
    }
    async fn upsert_mapping(&self, mut m: JobMapping, expected: Option<u64>) -> Result<JobMapping, StoreError> {
        let mut all = self.mappings.lock().unwrap();
        let key = (m.connection.clone(), m.posting_id.clone());
        if all.get(&key).map(|x| x.version) != expected {
            return Err(StoreError::Conflict { what: format!("mapping {}/{}", m.connection, m.posting_id) });
        }
        m.version = expected.unwrap_or(0) + 1;
        all.insert(key, m.clone());
        Ok(m)
    }
}

#[async_trait]
impl ConnectionStore for MemoryStore {
    async fn create_connection(&self, c: &Connection) -> Result<(), StoreError> {
        let mut all = self.connections.lock().unwrap();
        if all.contains_key(&c.id) {
            return Err(StoreError::AlreadyExists { what: format!("connection {}", c.id) });
        }
        all.insert(c.id.clone(), c.clone());
        Ok(())
    }
    async fn connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        Ok(self.connections.lock().unwrap().get(id).cloned())
    }
    async fn connections(&self) -> Result<Vec<Connection>, StoreError> {
        Ok(self.connections.lock().unwrap().values().cloned().collect())
    }
    async fn set_status(&self, id: &ConnectionId, status: ConnectionStatus) -> Result<(), StoreError> {
        let mut all = self.connections.lock().unwrap();
        let c = all.get_mut(id).ok_or_else(|| StoreError::NotFound { what: format!("connection {id}") })?;
        c.status = status;
        Ok(())
    }
    async fn set_feed_state(&self, id: &ConnectionId, state: &FeedState) -> Result<(), StoreError> {
        let mut all = self.connections.lock().unwrap();
        let c = all.get_mut(id).ok_or_else(|| StoreError::NotFound { what: format!("connection {id}") })?;
        c.feed = state.clone();
        Ok(())
    }
}

#[async_trait]
impl RunStore for MemoryStore {
    async fn record_run(&self, run: &SyncRun) -> Result<(), StoreError> {
        self.runs.lock().unwrap().push(run.clone());
        Ok(())
    }
    async fn runs(&self, c: &ConnectionId, limit: usize) -> Result<Vec<SyncRun>, StoreError> {
        let mut v: Vec<SyncRun> = self.runs.lock().unwrap().iter().filter(|r| &r.connection == c).cloned().collect();
        v.sort_by(|a, b| b.started_at_ms.cmp(&a.started_at_ms).then(b.run_id.cmp(&a.run_id)));
        v.truncate(limit);
        Ok(v)
    }
}

#[async_trait]
impl SecretStore for MemoryStore {
    async fn secret(&self, c: &ConnectionId, kind: &str) -> Result<Option<SecretString>, StoreError> {
        Ok(self.secrets.lock().unwrap().get(&(c.clone(), kind.to_owned())).cloned())
    }
    async fn put_secret(&self, c: &ConnectionId, kind: &str, v: &SecretString) -> Result<(), StoreError> {
        self.secrets.lock().unwrap().insert((c.clone(), kind.to_owned()), v.clone());
        Ok(())
    }
}
