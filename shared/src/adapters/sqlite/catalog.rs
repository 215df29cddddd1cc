//! Each connection's catalog: the postings of its last feed read, one JSON array per
//! connection (a row has no size limit worth chunking for, unlike a DynamoDB item).
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::*;

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn put_catalog(&self, c: &ConnectionId, entries: &[CatalogEntry]) -> Result<(), StoreError> {
        // One statement: a reader sees the old catalog or the new one, whole.
        self.db()
            .execute(
                "INSERT OR REPLACE INTO catalogs (connection, doc) VALUES (?1, ?2)",
                params![c.as_str(), to_json(&entries)],
            )
            .map_err(err("put_catalog"))?;
        Ok(())
    }

    async fn catalog(&self, c: &ConnectionId) -> Result<Vec<CatalogEntry>, StoreError> {
        let doc: Option<String> = self
            .db()
            .query_row("SELECT doc FROM catalogs WHERE connection = ?1", [c.as_str()], |r| r.get(0))
            .optional()
            .map_err(err("catalog"))?;
        doc.map(|d| from_json(&format!("catalog of connection {c}"), &d)).transpose().map(Option::unwrap_or_default)
    }
}
