//! The embedded store for local runs: one SQLite file in the state directory. Same contract as
//! DynamoDB (the shared contract tests run against both): optimistic versions on mappings,
//! status and feed state written apart from the connection's configuration.
use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use rusqlite::{Connection as Db, OptionalExtension, TransactionBehavior, params};

use crate::domain::webhook::{decide_claim, end_claim_record, lease_available};
use crate::domain::*;

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
";

fn err(op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
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

    fn db(&self) -> std::sync::MutexGuard<'_, Db> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain types serialise")
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::corrupt(what, e))
}

fn row_to_connection(id: String, config: String, status: String, feed: String) -> Result<Connection, StoreError> {
    let mut c: Connection = from_json(&format!("connection {id}"), &config)?;
    c.status = ConnectionStatus::parse(&status)
        .ok_or_else(|| StoreError::corrupt(format!("connection {id}"), format!("status {status:?}")))?;
    c.feed = from_json(&format!("connection {id}"), &feed)?;
    Ok(c)
}

#[async_trait]
impl MappingStore for SqliteStore {
    async fn mappings(&self, c: &ConnectionId) -> Result<Vec<JobMapping>, StoreError> {
        let db = self.db();
        let mut st = db.prepare_cached("SELECT doc FROM mappings WHERE connection = ?1").map_err(err("mappings"))?;
        let docs = st.query_map([c.as_str()], |r| r.get::<_, String>(0)).map_err(err("mappings"))?;
        docs.map(|d| from_json("mapping", &d.map_err(err("mappings"))?)).collect()
    }

    async fn mapping(&self, c: &ConnectionId, p: &PostingId) -> Result<Option<JobMapping>, StoreError> {
        let db = self.db();
        let doc: Option<String> = db
            .query_row(
                "SELECT doc FROM mappings WHERE connection = ?1 AND posting_id = ?2",
                [c.as_str(), p.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(err("mapping"))?;
        doc.map(|d| from_json("mapping", &d)).transpose()
    }

    async fn upsert_mapping(&self, mut m: JobMapping, expected: Option<u64>) -> Result<JobMapping, StoreError> {
        m.version = expected.unwrap_or(0) + 1;
        let doc = to_json(&m);
        let db = self.db();
        let changed = match expected {
            None => db.execute(
                "INSERT INTO mappings (connection, posting_id, doc, version) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![m.connection.as_str(), m.posting_id.as_str(), doc, m.version as i64],
            ),
            Some(v) => db.execute(
                "UPDATE mappings SET doc = ?3, version = ?4 WHERE connection = ?1 AND posting_id = ?2 AND version = ?5",
                params![m.connection.as_str(), m.posting_id.as_str(), doc, m.version as i64, v as i64],
            ),
        }
        .map_err(err("upsert_mapping"))?;
        if changed == 1 {
            Ok(m)
        } else {
            Err(StoreError::Conflict { what: format!("mapping {}/{}", m.connection, m.posting_id) })
        }
    }

    async fn mapping_by_xor_job(&self, c: &ConnectionId, xor_job_id: &str) -> Result<Option<JobMapping>, StoreError> {
        let doc: Option<String> = self
            .db()
            .query_row(
                "SELECT doc FROM mappings WHERE connection = ?1 AND json_extract(doc, '$.xor_job_id') = ?2",
                [c.as_str(), xor_job_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(err("mapping_by_xor_job"))?;
        doc.map(|d| from_json("mapping", &d)).transpose()
    }
}

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn create_connection(&self, c: &Connection) -> Result<(), StoreError> {
        let changed = self
            .db()
            .execute(
                "INSERT INTO connections (id, config, status, feed) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![c.id.as_str(), to_json(c), c.status.as_str(), to_json(&c.feed)],
            )
            .map_err(err("create_connection"))?;
        if changed == 0 {
            return Err(StoreError::AlreadyExists { what: format!("connection {}", c.id) });
        }
        Ok(())
    }

    async fn connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        let row = self
            .db()
            .query_row("SELECT config, status, feed FROM connections WHERE id = ?1", [id.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })
            .optional()
            .map_err(err("connection"))?;
        row.map(|(c, s, f)| row_to_connection(id.to_string(), c, s, f)).transpose()
    }

    async fn connections(&self) -> Result<Vec<Connection>, StoreError> {
        let db = self.db();
        let mut st = db
            .prepare_cached("SELECT id, config, status, feed FROM connections ORDER BY id")
            .map_err(err("connections"))?;
        let rows =
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).map_err(err("connections"))?;
        rows.map(|r| {
            let (id, c, s, f) = r.map_err(err("connections"))?;
            row_to_connection(id, c, s, f)
        })
        .collect()
    }

    async fn set_status(&self, id: &ConnectionId, status: ConnectionStatus) -> Result<(), StoreError> {
        let n = self
            .db()
            .execute("UPDATE connections SET status = ?2 WHERE id = ?1", params![id.as_str(), status.as_str()])
            .map_err(err("set_status"))?;
        if n == 0 {
            return Err(StoreError::NotFound { what: format!("connection {id}") });
        }
        Ok(())
    }

    async fn set_feed_state(&self, id: &ConnectionId, state: &FeedState) -> Result<(), StoreError> {
        let n = self
            .db()
            .execute("UPDATE connections SET feed = ?2 WHERE id = ?1", params![id.as_str(), to_json(state)])
            .map_err(err("set_feed_state"))?;
        if n == 0 {
            return Err(StoreError::NotFound { what: format!("connection {id}") });
        }
        Ok(())
    }

    async fn set_lever(&self, id: &ConnectionId, lever: &LeverSettings) -> Result<(), StoreError> {
        let n = self
            .db()
            .execute(
                "UPDATE connections SET config = json_set(config, '$.lever', json(?2)) WHERE id = ?1",
                params![id.as_str(), to_json(lever)],
            )
            .map_err(err("set_lever"))?;
        if n == 0 {
            return Err(StoreError::NotFound { what: format!("connection {id}") });
        }
        Ok(())
    }
}

#[async_trait]
impl RunStore for SqliteStore {
    async fn record_run(&self, run: &SyncRun) -> Result<(), StoreError> {
        self.db()
            .execute(
                "INSERT OR REPLACE INTO runs (connection, started_at_ms, run_id, doc) VALUES (?1, ?2, ?3, ?4)",
                params![run.connection.as_str(), run.started_at_ms, run.run_id, to_json(run)],
            )
            .map_err(err("record_run"))?;
        Ok(())
    }

    async fn runs(&self, c: &ConnectionId, limit: usize) -> Result<Vec<SyncRun>, StoreError> {
        let db = self.db();
        let mut st = db
            .prepare_cached(
                "SELECT doc FROM runs WHERE connection = ?1 ORDER BY started_at_ms DESC, run_id DESC LIMIT ?2",
            )
            .map_err(err("runs"))?;
        let docs = st.query_map(params![c.as_str(), limit as i64], |r| r.get::<_, String>(0)).map_err(err("runs"))?;
        docs.map(|d| from_json("run", &d.map_err(err("runs"))?)).collect()
    }
}

#[async_trait]
impl SecretStore for SqliteStore {
    async fn secret(&self, c: &ConnectionId, kind: &str) -> Result<Option<SecretString>, StoreError> {
        let v: Option<String> = self
            .db()
            .query_row("SELECT value FROM secrets WHERE connection = ?1 AND kind = ?2", [c.as_str(), kind], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err("secret"))?;
        // '' is a secret created without a value yet (no secret is empty).
        Ok(v.filter(|v| !v.is_empty()).map(SecretString::new))
    }

    async fn put_secret(&self, c: &ConnectionId, kind: &str, v: &SecretString) -> Result<(), StoreError> {
        let n = self
            .db()
            .execute(
                "UPDATE secrets SET value = ?3 WHERE connection = ?1 AND kind = ?2",
                params![c.as_str(), kind, v.expose()],
            )
            .map_err(err("put_secret"))?;
        if n == 0 {
            return Err(StoreError::NotFound { what: format!("secret {c}/{kind}") });
        }
        Ok(())
    }

    async fn create_secret(&self, c: &ConnectionId, kind: &str, v: Option<&SecretString>) -> Result<(), StoreError> {
        let db = self.db();
        match v {
            Some(v) => db.execute(
                "INSERT INTO secrets (connection, kind, value) VALUES (?1, ?2, ?3) ON CONFLICT (connection, kind) DO UPDATE SET value = excluded.value",
                params![c.as_str(), kind, v.expose()],
            ),
            None => db.execute(
                "INSERT INTO secrets (connection, kind, value) VALUES (?1, ?2, '') ON CONFLICT (connection, kind) DO NOTHING",
                params![c.as_str(), kind],
            ),
        }
        .map_err(err("create_secret"))?;
        Ok(())
    }

    // App-wide secrets live under the empty connection id (never a valid ConnectionId).
    async fn app_secret(&self, kind: &str) -> Result<Option<SecretString>, StoreError> {
        let v: Option<String> = self
            .db()
            .query_row("SELECT value FROM secrets WHERE connection = '' AND kind = ?1", [kind], |r| r.get(0))
            .optional()
            .map_err(err("app_secret"))?;
        Ok(v.map(SecretString::new))
    }

    async fn put_app_secret(&self, kind: &str, v: &SecretString) -> Result<(), StoreError> {
        self.db()
            .execute(
                "INSERT INTO secrets (connection, kind, value) VALUES ('', ?1, ?2) ON CONFLICT (connection, kind) DO UPDATE SET value = excluded.value",
                params![kind, v.expose()],
            )
            .map_err(err("put_app_secret"))?;
        Ok(())
    }
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn insert_delivery(&self, d: &Delivery) -> Result<Option<Delivery>, StoreError> {
        let db = self.db();
        let n = db
            .execute(
                "INSERT INTO deliveries (connection, webhook_id, received_at_ms, status, doc) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                params![d.connection.as_str(), d.webhook_id, d.received_at_ms, d.status.as_str(), to_json(d)],
            )
            .map_err(err("insert_delivery"))?;
        if n == 1 {
            return Ok(None);
        }
        let doc: String = db
            .query_row(
                "SELECT doc FROM deliveries WHERE connection = ?1 AND webhook_id = ?2",
                [d.connection.as_str(), d.webhook_id.as_str()],
                |r| r.get(0),
            )
            .map_err(err("insert_delivery"))?;
        Ok(Some(from_json("delivery", &doc)?))
    }

    async fn delivery(&self, c: &ConnectionId, id: &str) -> Result<Option<Delivery>, StoreError> {
        let doc: Option<String> = self
            .db()
            .query_row("SELECT doc FROM deliveries WHERE connection = ?1 AND webhook_id = ?2", [c.as_str(), id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err("delivery"))?;
        doc.map(|d| from_json("delivery", &d)).transpose()
    }

    async fn update_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        let n = self
            .db()
            .execute(
                "UPDATE deliveries SET status = ?3, doc = ?4 WHERE connection = ?1 AND webhook_id = ?2",
                params![d.connection.as_str(), d.webhook_id, d.status.as_str(), to_json(d)],
            )
            .map_err(err("update_delivery"))?;
        if n == 0 {
            return Err(StoreError::NotFound { what: format!("delivery {}/{}", d.connection, d.webhook_id) });
        }
        Ok(())
    }

    async fn deliveries(
        &self,
        c: &ConnectionId,
        status: DeliveryStatus,
        limit: usize,
        after: Option<&DeliveryCursor>,
    ) -> Result<DeliveryPage, StoreError> {
        let db = self.db();
        let mut stmt = db
            .prepare_cached(
                "SELECT doc FROM deliveries WHERE connection = ?1 AND status = ?2
                   AND (?3 IS NULL OR (received_at_ms, webhook_id) < (?3, ?4))
                 ORDER BY received_at_ms DESC, webhook_id DESC LIMIT ?5",
            )
            .map_err(err("deliveries"))?;
        let rows = stmt
            .query_map(
                params![
                    c.as_str(),
                    status.as_str(),
                    after.map(|a| a.received_at_ms),
                    after.map(|a| a.webhook_id.as_str()),
                    (limit + 1) as i64
                ],
                |r| r.get::<_, String>(0),
            )
            .map_err(err("deliveries"))?;
        let mut items = rows
            .map(|d| from_json::<Delivery>("delivery", &d.map_err(err("deliveries"))?))
            .collect::<Result<Vec<_>, _>>()?;
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more { items.last().map(Delivery::cursor) } else { None };
        Ok(DeliveryPage { items, next })
    }

    async fn claim_screening(
        &self,
        c: &ConnectionId,
        nk: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Claim, StoreError> {
        let mut db = self.db();
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err("claim"))?;
        let doc: Option<String> = tx
            .query_row("SELECT doc FROM claims WHERE connection = ?1 AND natural_key = ?2", [c.as_str(), nk], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err("claim"))?;
        let existing: Option<ClaimRecord> = doc.map(|d| from_json("claim", &d)).transpose()?;
        let (claim, write) = decide_claim(existing.as_ref(), owner, now_ms, until_ms);
        if let Some(rec) = write {
            tx.execute(
                "INSERT OR REPLACE INTO claims (connection, natural_key, doc) VALUES (?1, ?2, ?3)",
                params![c.as_str(), nk, to_json(&rec)],
            )
            .map_err(err("claim"))?;
        }
        tx.commit().map_err(err("claim"))?;
        Ok(claim)
    }

    async fn end_claim(&self, c: &ConnectionId, nk: &str, owner: &str, end: ClaimEnd) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err("end_claim"))?;
        let doc: Option<String> = tx
            .query_row("SELECT doc FROM claims WHERE connection = ?1 AND natural_key = ?2", [c.as_str(), nk], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err("end_claim"))?;
        if let Some(d) = doc {
            let mut rec: ClaimRecord = from_json("claim", &d)?;
            end_claim_record(&mut rec, owner, &end);
            tx.execute(
                "UPDATE claims SET doc = ?3 WHERE connection = ?1 AND natural_key = ?2",
                params![c.as_str(), nk, to_json(&rec)],
            )
            .map_err(err("end_claim"))?;
        }
        tx.commit().map_err(err("end_claim"))
    }
}

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn try_lease(
        &self,
        c: &ConnectionId,
        name: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let mut db = self.db();
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err("lease"))?;
        let cur: Option<(String, i64)> = tx
            .query_row(
                "SELECT owner, until_ms FROM leases WHERE connection = ?1 AND name = ?2",
                [c.as_str(), name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err("lease"))?;
        let free = lease_available(cur.as_ref().map(|(o, u)| (o.as_str(), *u)), owner, now);
        if free {
            tx.execute(
                "INSERT OR REPLACE INTO leases (connection, name, owner, until_ms) VALUES (?1, ?2, ?3, ?4)",
                params![c.as_str(), name, owner, until],
            )
            .map_err(err("lease"))?;
        }
        tx.commit().map_err(err("lease"))?;
        Ok(free)
    }

    async fn release_lease(&self, c: &ConnectionId, name: &str, owner: &str) -> Result<(), StoreError> {
        self.db()
            .execute("DELETE FROM leases WHERE connection = ?1 AND name = ?2 AND owner = ?3", [c.as_str(), name, owner])
            .map_err(err("release_lease"))?;
        Ok(())
    }
}

#[async_trait]
impl InvitationStore for SqliteStore {
    async fn put_invitation(&self, i: &Invitation) -> Result<(), StoreError> {
        self.db()
            .execute(
                "INSERT OR REPLACE INTO invitations (connection, token_hash, doc) VALUES (?1, ?2, ?3)",
                params![i.connection.as_str(), i.token_hash, to_json(i)],
            )
            .map_err(err("put_invitation"))?;
        Ok(())
    }

    async fn invitation(&self, c: &ConnectionId, hash: &str) -> Result<Option<Invitation>, StoreError> {
        let doc: Option<String> = self
            .db()
            .query_row(
                "SELECT doc FROM invitations WHERE connection = ?1 AND token_hash = ?2",
                [c.as_str(), hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(err("invitation"))?;
        doc.map(|d| from_json("invitation", &d)).transpose()
    }

    async fn use_invitation(&self, c: &ConnectionId, hash: &str, now_ms: i64) -> Result<bool, StoreError> {
        let mut db = self.db();
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err("use_invitation"))?;
        let doc: Option<String> = tx
            .query_row(
                "SELECT doc FROM invitations WHERE connection = ?1 AND token_hash = ?2",
                [c.as_str(), hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(err("use_invitation"))?;
        let Some(mut i) = doc.map(|d| from_json::<Invitation>("invitation", &d)).transpose()? else {
            return Ok(false);
        };
        if i.state(now_ms) != InvitationState::Live {
            return Ok(false);
        }
        i.used_at_ms = Some(now_ms);
        tx.execute(
            "UPDATE invitations SET doc = ?3 WHERE connection = ?1 AND token_hash = ?2",
            params![c.as_str(), hash, to_json(&i)],
        )
        .map_err(err("use_invitation"))?;
        tx.commit().map_err(err("use_invitation"))?;
        Ok(true)
    }

    async fn revoke_invitations(&self, c: &ConnectionId, now_ms: i64) -> Result<usize, StoreError> {
        let mut db = self.db();
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err("revoke_invitations"))?;
        let docs: Vec<String> = {
            let mut stmt =
                tx.prepare("SELECT doc FROM invitations WHERE connection = ?1").map_err(err("revoke_invitations"))?;
            let rows = stmt.query_map([c.as_str()], |r| r.get(0)).map_err(err("revoke_invitations"))?;
            rows.collect::<Result<_, _>>().map_err(err("revoke_invitations"))?
        };
        let mut n = 0;
        for d in docs {
            let mut i: Invitation = from_json("invitation", &d)?;
            if i.state(now_ms) == InvitationState::Live {
                i.used_at_ms = Some(now_ms);
                tx.execute(
                    "UPDATE invitations SET doc = ?3 WHERE connection = ?1 AND token_hash = ?2",
                    params![c.as_str(), i.token_hash, to_json(&i)],
                )
                .map_err(err("revoke_invitations"))?;
                n += 1;
            }
        }
        tx.commit().map_err(err("revoke_invitations"))?;
        Ok(n)
    }
}
