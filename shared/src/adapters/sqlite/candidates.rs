//! The candidates put in Lever: opportunity links, erasure tombstones, and erasing a delivery's
//! raw body.
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::*;

#[async_trait]
impl CandidateStore for SqliteStore {
    async fn put_link(&self, l: &CandidateLink) -> Result<(), StoreError> {
        self.db()
            .execute(
                "INSERT OR REPLACE INTO candidate_links (connection, opportunity_id, doc) VALUES (?1, ?2, ?3)",
                params![l.connection.as_str(), l.opportunity_id, to_json(l)],
            )
            .map_err(err("put_link"))?;
        Ok(())
    }

    async fn link(&self, c: &ConnectionId, opportunity_id: &str) -> Result<Option<CandidateLink>, StoreError> {
        let doc: Option<String> = self
            .db()
            .query_row(
                "SELECT doc FROM candidate_links WHERE connection = ?1 AND opportunity_id = ?2",
                [c.as_str(), opportunity_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(err("link"))?;
        doc.map(|d| from_json("candidate link", &d)).transpose()
    }

    async fn put_tombstone(&self, t: &Tombstone) -> Result<(), StoreError> {
        self.db()
            .execute(
                "INSERT OR REPLACE INTO tombstones (connection, key, doc) VALUES (?1, ?2, ?3)",
                params![t.connection.as_str(), t.key, to_json(t)],
            )
            .map_err(err("put_tombstone"))?;
        Ok(())
    }

    async fn tombstone(&self, c: &ConnectionId, key: &str) -> Result<Option<Tombstone>, StoreError> {
        let doc: Option<String> = self
            .db()
            .query_row("SELECT doc FROM tombstones WHERE connection = ?1 AND key = ?2", [c.as_str(), key], |r| r.get(0))
            .optional()
            .map_err(err("tombstone"))?;
        doc.map(|d| from_json("tombstone", &d)).transpose()
    }

    async fn erase_body(&self, c: &ConnectionId, webhook_id: &str) -> Result<bool, StoreError> {
        // The body lives inside the delivery's document (text, or `{"base64": …}`); the empty
        // string is how an empty body serialises, so the record reads back whole, body empty.
        // One statement: a concurrent status update cannot slip in between a read and a write.
        let n = self
            .db()
            .execute(
                "UPDATE deliveries SET doc = json_set(doc, '$.body', '') WHERE connection = ?1 AND webhook_id = ?2",
                [c.as_str(), webhook_id],
            )
            .map_err(err("erase_body"))?;
        Ok(n == 1)
    }
}
