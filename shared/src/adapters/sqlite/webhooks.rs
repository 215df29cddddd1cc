//! Webhook deliveries, screening claims and leases.
use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::*;
use crate::domain::webhook::{decide_claim, end_claim_record, lease_available};

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
                // The body stays as stored: an update never brings back one an erasure removed.
                "UPDATE deliveries SET status = ?3, doc = json_set(?4, '$.body', json_extract(doc, '$.body')) WHERE connection = ?1 AND webhook_id = ?2",
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
        let items = rows
            .map(|d| from_json::<Delivery>("delivery", &d.map_err(err("deliveries"))?))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DeliveryPage::from_one_more(items, limit))
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
