//! Job mappings and sync runs.
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::*;

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
