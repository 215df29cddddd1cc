//! Connections, their secrets and their invitations.
use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::*;

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

    async fn set_feed_url(&self, id: &ConnectionId, url: &str) -> Result<(), StoreError> {
        let n = self
            .db()
            .execute(
                "UPDATE connections SET config = json_set(config, '$.feed_url', ?2), \
                 feed = json_set(feed, '$.etag', NULL, '$.last_modified', NULL) WHERE id = ?1",
                params![id.as_str(), url],
            )
            .map_err(err("set_feed_url"))?;
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

    async fn set_job_filter(&self, id: &ConnectionId, filter: &JobFilter) -> Result<(), StoreError> {
        // One UPDATE checks the stored version and writes: no other writer can slip in between.
        // A connection never given a filter has no `job_filter` key in its config: version 0.
        // Version 0 is never a write: -1 matches no stored version, so it is a conflict.
        let prev = filter.version.checked_sub(1).and_then(|v| i64::try_from(v).ok()).unwrap_or(-1);
        let db = self.db();
        let n = db
            .execute(
                "UPDATE connections SET config = json_set(config, '$.job_filter', json(?2)) \
                 WHERE id = ?1 AND COALESCE(json_extract(config, '$.job_filter.version'), 0) = ?3",
                params![id.as_str(), to_json(filter), prev],
            )
            .map_err(err("set_job_filter"))?;
        if n == 1 {
            return Ok(());
        }
        // Nothing changed: either there is no such connection, or its filter moved on.
        let exists = db
            .query_row("SELECT 1 FROM connections WHERE id = ?1", [id.as_str()], |_| Ok(()))
            .optional()
            .map_err(err("set_job_filter"))?
            .is_some();
        Err(if exists {
            StoreError::Conflict { what: format!("job filter of connection {id}") }
        } else {
            StoreError::NotFound { what: format!("connection {id}") }
        })
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
