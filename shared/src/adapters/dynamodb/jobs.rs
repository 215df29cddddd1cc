//! Job mappings and sync runs.
use async_trait::async_trait;

use super::*;

fn mapping_item(m: &JobMapping) -> Item {
    let mut i = Item::from([
        ("pk".into(), pk(&m.connection)),
        ("sk".into(), s(format!("JOB#{}", m.posting_id))),
        ("posting_id".into(), s(m.posting_id.as_str())),
        ("xor_job_id".into(), s(&m.xor_job_id)),
        ("title".into(), s(&m.title)),
        ("content_hash".into(), s(&m.content_hash)),
        ("status".into(), s(if m.is_active() { "active" } else { "closed" })),
        ("generation".into(), n(m.generation)),
        ("version".into(), n(m.version)),
        ("updated_at".into(), n(m.updated_at)),
    ]);
    // GSI1 finds a mapping by XOR's job id (webhooks name XOR's job, not Lever's posting).
    i.insert("gsi1pk".into(), s(format!("XJOB#{}#{}", m.connection, m.xor_job_id)));
    i.insert("gsi1sk".into(), s(m.posting_id.as_str()));
    for (k, v) in [("chatbot_url", &m.chatbot_url), ("webchat_url", &m.webchat_url), ("location", &m.location)] {
        if let Some(v) = v {
            i.insert(k.into(), s(v));
        }
    }
    i
}

pub(super) fn item_mapping(c: &ConnectionId, i: &Item) -> Result<JobMapping, StoreError> {
    let what = || format!("mapping {c}/{}", get_s(i, "posting_id").unwrap_or("?"));
    let req = |k: &str| {
        get_s(i, k).map(str::to_owned).ok_or_else(|| StoreError::corrupt_because(what(), format!("missing {k}")))
    };
    Ok(JobMapping {
        connection: c.clone(),
        posting_id: PostingId::parse(&req("posting_id")?).map_err(|e| StoreError::corrupt(what(), e))?,
        xor_job_id: req("xor_job_id")?,
        chatbot_url: get_s(i, "chatbot_url").map(str::to_owned),
        webchat_url: get_s(i, "webchat_url").map(str::to_owned),
        title: req("title")?,
        location: get_s(i, "location").map(str::to_owned),
        content_hash: req("content_hash")?,
        status: match get_s(i, "status") {
            Some("active") => MappingStatus::Active,
            Some("closed") => MappingStatus::Closed,
            other => return Err(StoreError::corrupt_because(what(), format!("status {other:?}"))),
        },
        generation: get_n(i, "generation").unwrap_or(0) as u32,
        version: get_n(i, "version").ok_or_else(|| StoreError::corrupt_because(what(), "missing version"))? as u64,
        updated_at: get_n(i, "updated_at").unwrap_or(0),
    })
}

#[async_trait]
impl MappingStore for DynamoStore {
    async fn mappings(&self, c: &ConnectionId) -> Result<Vec<JobMapping>, StoreError> {
        self.query_prefix(c, "JOB#", "mappings").await?.iter().map(|i| item_mapping(c, i)).collect()
    }

    async fn mapping(&self, c: &ConnectionId, p: &PostingId) -> Result<Option<JobMapping>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(c))
            .key("sk", s(format!("JOB#{p}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable("mapping"))?;
        out.item.map(|i| item_mapping(c, &i)).transpose()
    }

    async fn upsert_mapping(&self, mut m: JobMapping, expected: Option<u64>) -> Result<JobMapping, StoreError> {
        m.version = expected.unwrap_or(0) + 1;
        let mut req = self.client.put_item().table_name(&self.table).set_item(Some(mapping_item(&m)));
        req = match expected {
            None => req.condition_expression("attribute_not_exists(pk)"),
            Some(v) => req.condition_expression("version = :v").expression_attribute_values(":v", n(v)),
        };
        match req.send().await {
            Ok(_) => Ok(m),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::Conflict { what: format!("mapping {}/{}", m.connection, m.posting_id) })
            }
            Err(e) => Err(crate::adapters::sdk_unavailable("upsert_mapping", e)),
        }
    }

    async fn mapping_by_xor_job(&self, c: &ConnectionId, xor_job_id: &str) -> Result<Option<JobMapping>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :k")
            .expression_attribute_values(":k", s(format!("XJOB#{c}#{xor_job_id}")))
            .limit(1)
            .send()
            .await
            .map_err(unavailable("mapping_by_xor_job"))?;
        out.items.unwrap_or_default().first().map(|i| item_mapping(c, i)).transpose()
    }
}

#[async_trait]
impl RunStore for DynamoStore {
    async fn record_run(&self, run: &SyncRun) -> Result<(), StoreError> {
        let item = Item::from([
            ("pk".into(), pk(&run.connection)),
            ("sk".into(), s(format!("RUN#{:013}#{}", run.started_at_ms, run.run_id))),
            ("doc".into(), s(serde_json::to_string(run).expect("serialises"))),
            ("expires_at".into(), n(run.started_at_ms / 1000 + RUN_TTL_SECS)),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable("record_run"))?;
        Ok(())
    }

    async fn runs(&self, c: &ConnectionId, limit: usize) -> Result<Vec<SyncRun>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", pk(c))
            .expression_attribute_values(":p", s("RUN#"))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(unavailable("runs"))?;
        out.items
            .unwrap_or_default()
            .iter()
            .map(|i| serde_json::from_str(get_s(i, "doc").unwrap_or("")).map_err(|e| StoreError::corrupt("run", e)))
            .collect()
    }
}
