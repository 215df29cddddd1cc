//! In-memory stores for unit tests and `--dry-run` experiments. Same contract as the others.
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::webhook::ClaimRecord;
use crate::domain::*;

#[derive(Default)]
pub struct MemoryStore {
    connections: Mutex<BTreeMap<ConnectionId, Connection>>,
    mappings: Mutex<BTreeMap<(ConnectionId, PostingId), JobMapping>>,
    runs: Mutex<Vec<SyncRun>>,
    /// `None`: created without a value yet.
    secrets: Mutex<HashMap<(ConnectionId, String), Option<SecretString>>>,
    invitations: Mutex<HashMap<(ConnectionId, String), Invitation>>,
    app_secrets: Mutex<HashMap<String, SecretString>>,
    webhooks: Mutex<WebhookState>,
    links: Mutex<HashMap<(ConnectionId, String), CandidateLink>>,
    /// Keyed by the tombstone's hashed key (`tombstone_key`), never the candidate id.
    tombstones: Mutex<HashMap<(ConnectionId, String), Tombstone>>,
    catalogs: Mutex<HashMap<ConnectionId, Vec<CatalogEntry>>>,
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
    async fn mapping_by_xor_job(&self, c: &ConnectionId, xor_job_id: &str) -> Result<Option<JobMapping>, StoreError> {
        Ok(self.mappings.lock().unwrap().values().find(|m| &m.connection == c && m.xor_job_id == xor_job_id).cloned())
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
    async fn set_lever(&self, id: &ConnectionId, lever: &LeverSettings) -> Result<(), StoreError> {
        let mut all = self.connections.lock().unwrap();
        let c = all.get_mut(id).ok_or_else(|| StoreError::NotFound { what: format!("connection {id}") })?;
        c.lever = lever.clone();
        Ok(())
    }
    async fn set_feed_url(&self, id: &ConnectionId, url: &str) -> Result<(), StoreError> {
        let mut all = self.connections.lock().unwrap();
        let c = all.get_mut(id).ok_or_else(|| StoreError::NotFound { what: format!("connection {id}") })?;
        c.feed_url = url.to_owned();
        (c.feed.etag, c.feed.last_modified) = (None, None);
        Ok(())
    }
    async fn set_job_filter(&self, id: &ConnectionId, filter: &JobFilter) -> Result<(), StoreError> {
        let mut all = self.connections.lock().unwrap();
        let c = all.get_mut(id).ok_or_else(|| StoreError::NotFound { what: format!("connection {id}") })?;
        // Optimistic: the writer read version n and writes n + 1; anything else lost a race.
        if c.job_filter.version.checked_add(1) != Some(filter.version) {
            return Err(StoreError::Conflict { what: format!("job filter of connection {id}") });
        }
        c.job_filter = filter.clone();
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
        Ok(self.secrets.lock().unwrap().get(&(c.clone(), kind.to_owned())).cloned().flatten())
    }
    async fn put_secret(&self, c: &ConnectionId, kind: &str, v: &SecretString) -> Result<(), StoreError> {
        match self.secrets.lock().unwrap().get_mut(&(c.clone(), kind.to_owned())) {
            Some(slot) => {
                *slot = Some(v.clone());
                Ok(())
            }
            None => Err(StoreError::NotFound { what: format!("secret {c}/{kind}") }),
        }
    }
    async fn create_secret(&self, c: &ConnectionId, kind: &str, v: Option<&SecretString>) -> Result<(), StoreError> {
        let mut all = self.secrets.lock().unwrap();
        let slot = all.entry((c.clone(), kind.to_owned())).or_default();
        if let Some(v) = v {
            *slot = Some(v.clone());
        }
        Ok(())
    }
    async fn app_secret(&self, kind: &str) -> Result<Option<SecretString>, StoreError> {
        Ok(self.app_secrets.lock().unwrap().get(kind).cloned())
    }
    async fn put_app_secret(&self, kind: &str, v: &SecretString) -> Result<(), StoreError> {
        self.app_secrets.lock().unwrap().insert(kind.to_owned(), v.clone());
        Ok(())
    }
}

#[derive(Default)]
pub(crate) struct WebhookState {
    deliveries: HashMap<(ConnectionId, String), Delivery>,
    claims: HashMap<(ConnectionId, String), ClaimRecord>,
    leases: HashMap<(ConnectionId, String), (String, i64)>,
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn insert_delivery(&self, d: &Delivery) -> Result<Option<Delivery>, StoreError> {
        let mut g = self.webhooks.lock().unwrap();
        let key = (d.connection.clone(), d.webhook_id.clone());
        if let Some(existing) = g.deliveries.get(&key) {
            return Ok(Some(existing.clone()));
        }
        g.deliveries.insert(key, d.clone());
        Ok(None)
    }
    async fn delivery(&self, c: &ConnectionId, id: &str) -> Result<Option<Delivery>, StoreError> {
        Ok(self.webhooks.lock().unwrap().deliveries.get(&(c.clone(), id.to_owned())).cloned())
    }
    async fn update_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        let mut g = self.webhooks.lock().unwrap();
        match g.deliveries.get_mut(&(d.connection.clone(), d.webhook_id.clone())) {
            Some(x) => {
                // The body stays as stored: an update never brings back one an erasure removed.
                *x = Delivery { body: std::mem::take(&mut x.body), ..d.clone() };
                Ok(())
            }
            None => Err(StoreError::NotFound { what: format!("delivery {}/{}", d.connection, d.webhook_id) }),
        }
    }
    async fn deliveries(
        &self,
        c: &ConnectionId,
        status: DeliveryStatus,
        limit: usize,
        after: Option<&DeliveryCursor>,
    ) -> Result<DeliveryPage, StoreError> {
        let g = self.webhooks.lock().unwrap();
        let key = |d: &Delivery| (d.received_at_ms, d.webhook_id.clone());
        let mut v: Vec<Delivery> = g
            .deliveries
            .values()
            .filter(|d| &d.connection == c && d.status == status)
            .filter(|d| after.is_none_or(|a| key(d) < (a.received_at_ms, a.webhook_id.clone())))
            .cloned()
            .collect();
        v.sort_by_key(|d| std::cmp::Reverse(key(d)));
        Ok(DeliveryPage::from_one_more(v, limit))
    }
    async fn claim_screening(
        &self,
        c: &ConnectionId,
        nk: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Claim, StoreError> {
        let mut g = self.webhooks.lock().unwrap();
        let key = (c.clone(), nk.to_owned());
        let (claim, write) = crate::domain::webhook::decide_claim(g.claims.get(&key), owner, now_ms, until_ms);
        if let Some(rec) = write {
            g.claims.insert(key, rec);
        }
        Ok(claim)
    }
    async fn end_claim(&self, c: &ConnectionId, nk: &str, owner: &str, end: ClaimEnd) -> Result<(), StoreError> {
        if let Some(r) = self.webhooks.lock().unwrap().claims.get_mut(&(c.clone(), nk.to_owned())) {
            crate::domain::webhook::end_claim_record(r, owner, &end);
        }
        Ok(())
    }
}

#[async_trait]
impl LeaseStore for MemoryStore {
    async fn try_lease(
        &self,
        c: &ConnectionId,
        name: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let mut g = self.webhooks.lock().unwrap();
        let key = (c.clone(), name.to_owned());
        let free =
            crate::domain::webhook::lease_available(g.leases.get(&key).map(|(o, u)| (o.as_str(), *u)), owner, now);
        if free {
            g.leases.insert(key, (owner.to_owned(), until));
        }
        Ok(free)
    }
    async fn release_lease(&self, c: &ConnectionId, name: &str, owner: &str) -> Result<(), StoreError> {
        let mut g = self.webhooks.lock().unwrap();
        let key = (c.clone(), name.to_owned());
        if g.leases.get(&key).is_some_and(|(o, _)| o == owner) {
            g.leases.remove(&key);
        }
        Ok(())
    }
}

#[async_trait]
impl InvitationStore for MemoryStore {
    async fn put_invitation(&self, i: &Invitation) -> Result<(), StoreError> {
        self.invitations.lock().unwrap().insert((i.connection.clone(), i.token_hash.clone()), i.clone());
        Ok(())
    }
    async fn invitation(&self, c: &ConnectionId, hash: &str) -> Result<Option<Invitation>, StoreError> {
        Ok(self.invitations.lock().unwrap().get(&(c.clone(), hash.to_owned())).cloned())
    }
    async fn use_invitation(&self, c: &ConnectionId, hash: &str, now_ms: i64) -> Result<bool, StoreError> {
        let mut all = self.invitations.lock().unwrap();
        match all.get_mut(&(c.clone(), hash.to_owned())) {
            Some(i) if i.state(now_ms) == InvitationState::Live => {
                i.used_at_ms = Some(now_ms);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    async fn revoke_invitations(&self, c: &ConnectionId, now_ms: i64) -> Result<usize, StoreError> {
        let mut all = self.invitations.lock().unwrap();
        let mut n = 0;
        for i in all.values_mut().filter(|i| &i.connection == c && i.state(now_ms) == InvitationState::Live) {
            i.used_at_ms = Some(now_ms);
            n += 1;
        }
        Ok(n)
    }
}

#[async_trait]
impl CandidateStore for MemoryStore {
    async fn put_link(&self, l: &CandidateLink) -> Result<(), StoreError> {
        self.links.lock().unwrap().insert((l.connection.clone(), l.opportunity_id.clone()), l.clone());
        Ok(())
    }
    async fn link(&self, c: &ConnectionId, opportunity_id: &str) -> Result<Option<CandidateLink>, StoreError> {
        Ok(self.links.lock().unwrap().get(&(c.clone(), opportunity_id.to_owned())).cloned())
    }
    async fn put_tombstone(&self, t: &Tombstone) -> Result<(), StoreError> {
        self.tombstones.lock().unwrap().insert((t.connection.clone(), t.key.clone()), t.clone());
        Ok(())
    }
    async fn tombstone(&self, c: &ConnectionId, key: &str) -> Result<Option<Tombstone>, StoreError> {
        Ok(self.tombstones.lock().unwrap().get(&(c.clone(), key.to_owned())).cloned())
    }
    async fn erase_body(&self, c: &ConnectionId, webhook_id: &str) -> Result<bool, StoreError> {
        // The record stays (status, ids, outcome): only the body held the person's data.
        match self.webhooks.lock().unwrap().deliveries.get_mut(&(c.clone(), webhook_id.to_owned())) {
            Some(d) => {
                d.body = Vec::new();
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl CatalogStore for MemoryStore {
    async fn put_catalog(&self, c: &ConnectionId, entries: &[CatalogEntry]) -> Result<(), StoreError> {
        self.catalogs.lock().unwrap().insert(c.clone(), entries.to_vec());
        Ok(())
    }
    async fn catalog(&self, c: &ConnectionId) -> Result<Vec<CatalogEntry>, StoreError> {
        Ok(self.catalogs.lock().unwrap().get(c).cloned().unwrap_or_default())
    }
}
