//! The production store: one DynamoDB table.
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | connection | `CONN#<id>` | `CONN` | `gsi1pk = "CONN"` lists connections; status and feed state are their own attributes |
//! | job mapping | `CONN#<id>` | `JOB#<posting>` | one paginated Query reads a connection's mappings; `version` guards writes |
//! | webhook delivery | `CONN#<id>` | `WH#<webhook id>` | raw body + status; `gsi1pk = "WH#<id>#<status>"`, `gsi1sk = "<received ms>#<webhook id>"` lists one connection's deliveries of one status, newest first, a page at a time; finished ones expire (`expires_at`, TTL) |
//! | screening claim | `CONN#<id>` | `SCREEN#<candidate>#<job>` | the idempotency lock: owner, lease, attempts, opportunity |
//! | lease | `CONN#<id>` | `LEASE#<name>` | e.g. one OAuth refresh at a time |
//! | sync run | `CONN#<id>` | `RUN#<ms>#<run id>` | newest first by a reverse Query; expires after 90 days (`expires_at`, TTL) |
//! | invitation | `CONN#<id>` | `INVITE#<sha-256 of the token>` | the connect link's; `used_at_ms` set once by a conditional update; removed a day after it expires (TTL) |
use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

use crate::domain::webhook::ClaimRecord;
use crate::domain::*;

pub const GSI1: &str = "gsi1";
/// Every DynamoDB call gives up after this (set on the client: `config::aws_sdk_config`).
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(4);
const RUN_TTL_SECS: i64 = 90 * 24 * 3600;

type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn pk(c: &ConnectionId) -> AttributeValue {
    AttributeValue::S(format!("CONN#{c}"))
}
fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn unavailable<E: std::error::Error + 'static>(op: &'static str) -> impl Fn(E) -> StoreError {
    move |e| StoreError::unavailable(op, DisplayErrorContext(&e))
}

fn get_s<'a>(item: &'a Item, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}
fn get_n(item: &Item, k: &str) -> Option<i64> {
    item.get(k).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

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
    if let Some(u) = &m.chatbot_url {
        i.insert("chatbot_url".into(), s(u));
    }
    i
}

fn item_mapping(c: &ConnectionId, i: &Item) -> Result<JobMapping, StoreError> {
    let what = || format!("mapping {c}/{}", get_s(i, "posting_id").unwrap_or("?"));
    let req =
        |k: &str| get_s(i, k).map(str::to_owned).ok_or_else(|| StoreError::corrupt(what(), format!("missing {k}")));
    Ok(JobMapping {
        connection: c.clone(),
        posting_id: PostingId::parse(&req("posting_id")?).map_err(|e| StoreError::corrupt(what(), e))?,
        xor_job_id: req("xor_job_id")?,
        chatbot_url: get_s(i, "chatbot_url").map(str::to_owned),
        title: req("title")?,
        content_hash: req("content_hash")?,
        status: match get_s(i, "status") {
            Some("active") => MappingStatus::Active,
            Some("closed") => MappingStatus::Closed,
            other => return Err(StoreError::corrupt(what(), format!("status {other:?}"))),
        },
        generation: get_n(i, "generation").unwrap_or(0) as u32,
        version: get_n(i, "version").ok_or_else(|| StoreError::corrupt(what(), "missing version"))? as u64,
        updated_at: get_n(i, "updated_at").unwrap_or(0),
    })
}

fn item_connection(i: &Item) -> Result<Connection, StoreError> {
    let id = get_s(i, "id").unwrap_or("?").to_owned();
    let what = format!("connection {id}");
    let mut c: Connection =
        serde_json::from_str(get_s(i, "config").unwrap_or("")).map_err(|e| StoreError::corrupt(&what, e))?;
    // Lever settings are written on their own (`set_lever`): that attribute wins over the config's.
    if let Some(l) = get_s(i, "lever") {
        c.lever = serde_json::from_str(l).map_err(|e| StoreError::corrupt(&what, e))?;
    }
    c.status =
        get_s(i, "status").and_then(ConnectionStatus::parse).ok_or_else(|| StoreError::corrupt(&what, "bad status"))?;
    c.feed = FeedState {
        etag: get_s(i, "feed_etag").filter(|v| !v.is_empty()).map(str::to_owned),
        last_modified: get_s(i, "feed_last_modified").filter(|v| !v.is_empty()).map(str::to_owned),
        last_run_clean: i.get("feed_clean").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
        confirmed_at_ms: get_n(i, "feed_confirmed_at").filter(|t| *t > 0),
    };
    Ok(c)
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table as `template.yaml` declares it (for tests against moto and local use).
    /// An existing table is left alone.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let key =
            |name: &str, t| KeySchemaElement::builder().attribute_name(name).key_type(t).build().expect("complete");
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("complete")
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(key("gsi1pk", KeyType::Hash))
            .key_schema(key("gsi1sk", KeyType::Range))
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .expect("complete");
        let res = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            .attribute_definitions(attr("gsi1pk"))
            .attribute_definitions(attr("gsi1sk"))
            .global_secondary_indexes(gsi)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => Ok(()),
            Err(e) => Err(StoreError::unavailable("create_table", DisplayErrorContext(&e))),
        }
    }

    /// Every item a query returns, following pages (`build` makes the query for one page).
    async fn query_all(
        &self,
        op: &'static str,
        build: impl Fn() -> QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = build().set_exclusive_start_key(start.take()).send().await.map_err(unavailable(op))?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Every item of one partition whose sort key starts with `prefix`.
    async fn query_prefix(&self, c: &ConnectionId, prefix: &str, op: &'static str) -> Result<Vec<Item>, StoreError> {
        self.query_all(op, || {
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .expression_attribute_values(":pk", pk(c))
                .expression_attribute_values(":p", s(prefix))
        })
        .await
    }

    async fn update_connection(
        &self,
        id: &ConnectionId,
        op: &'static str,
        expr: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<(), StoreError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s("CONN"))
            .update_expression(expr)
            .condition_expression("attribute_exists(pk)");
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        if expr.contains("#st") {
            req = req.expression_attribute_names("#st", "status"); // a reserved word
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::NotFound { what: format!("connection {id}") })
            }
            Err(e) => Err(StoreError::unavailable(op, DisplayErrorContext(&e))),
        }
    }
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
            Err(e) => Err(StoreError::unavailable("upsert_mapping", DisplayErrorContext(&e))),
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
impl ConnectionStore for DynamoStore {
    async fn create_connection(&self, c: &Connection) -> Result<(), StoreError> {
        let item = Item::from([
            ("pk".into(), pk(&c.id)),
            ("sk".into(), s("CONN")),
            ("gsi1pk".into(), s("CONN")),
            ("gsi1sk".into(), s(c.id.as_str())),
            ("id".into(), s(c.id.as_str())),
            ("status".into(), s(c.status.as_str())),
            ("config".into(), s(serde_json::to_string(c).expect("serialises"))),
            ("feed_clean".into(), AttributeValue::Bool(false)),
        ]);
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::AlreadyExists { what: format!("connection {}", c.id) })
            }
            Err(e) => Err(StoreError::unavailable("create_connection", DisplayErrorContext(&e))),
        }
    }

    async fn connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s("CONN"))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable("connection"))?;
        out.item.as_ref().map(item_connection).transpose()
    }

    async fn connections(&self) -> Result<Vec<Connection>, StoreError> {
        let items = self
            .query_all("connections", || {
                self.client
                    .query()
                    .table_name(&self.table)
                    .index_name(GSI1)
                    .key_condition_expression("gsi1pk = :c")
                    .expression_attribute_values(":c", s("CONN"))
            })
            .await?;
        items.iter().map(item_connection).collect()
    }

    async fn set_status(&self, id: &ConnectionId, status: ConnectionStatus) -> Result<(), StoreError> {
        self.update_connection(id, "set_status", "SET #st = :s", vec![(":s", s(status.as_str()))]).await
    }

    async fn set_feed_state(&self, id: &ConnectionId, st: &FeedState) -> Result<(), StoreError> {
        // Absent validators are stored as empty strings: one SET expression, no REMOVE branch.
        let v = |o: &Option<String>| s(o.clone().unwrap_or_default());
        self.update_connection(
            id,
            "set_feed_state",
            "SET feed_etag = :e, feed_last_modified = :l, feed_clean = :c, feed_confirmed_at = :t",
            vec![
                (":e", v(&st.etag)),
                (":l", v(&st.last_modified)),
                (":c", AttributeValue::Bool(st.last_run_clean)),
                (":t", n(st.confirmed_at_ms.unwrap_or(0))),
            ],
        )
        .await
    }

    async fn set_lever(&self, id: &ConnectionId, lever: &LeverSettings) -> Result<(), StoreError> {
        let json = serde_json::to_string(lever).expect("serialises");
        self.update_connection(id, "set_lever", "SET lever = :l", vec![(":l", s(json))]).await
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

/// Whether an SDK error is throttling (callers may map it to "retry later").
pub fn is_throttling<E: ProvideErrorMetadata>(e: &E) -> bool {
    matches!(e.code(), Some("ThrottlingException" | "ProvisionedThroughputExceededException" | "RequestLimitExceeded"))
}

/// The delivery's full key in the table and in GSI1 (also a listing's `ExclusiveStartKey`).
fn delivery_key(c: &ConnectionId, status: DeliveryStatus, received_at_ms: i64, webhook_id: &str) -> Item {
    Item::from([
        ("pk".into(), pk(c)),
        ("sk".into(), s(format!("WH#{webhook_id}"))),
        ("gsi1pk".into(), s(format!("WH#{c}#{}", status.as_str()))),
        ("gsi1sk".into(), s(format!("{received_at_ms:013}#{webhook_id}"))),
    ])
}

fn delivery_item(d: &Delivery) -> Item {
    let mut i = delivery_key(&d.connection, d.status, d.received_at_ms, &d.webhook_id);
    i.insert("status".into(), s(d.status.as_str()));
    i.insert("doc".into(), s(serde_json::to_string(d).expect("serialises")));
    // A whole-item write: a delivery that waits again loses its expiry.
    if let Some(t) = d.expires_at {
        i.insert("expires_at".into(), n(t));
    }
    i
}

fn item_delivery(i: &Item) -> Result<Delivery, StoreError> {
    serde_json::from_str(get_s(i, "doc").unwrap_or("")).map_err(|e| StoreError::corrupt("delivery", e))
}

#[async_trait]
impl WebhookStore for DynamoStore {
    async fn insert_delivery(&self, d: &Delivery) -> Result<Option<Delivery>, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(d)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(None),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                self.delivery(&d.connection, &d.webhook_id).await
            }
            Err(e) => Err(StoreError::unavailable("insert_delivery", DisplayErrorContext(&e))),
        }
    }

    async fn delivery(&self, c: &ConnectionId, id: &str) -> Result<Option<Delivery>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(c))
            .key("sk", s(format!("WH#{id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable("delivery"))?;
        out.item.as_ref().map(item_delivery).transpose()
    }

    async fn update_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(d)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::NotFound { what: format!("delivery {}/{}", d.connection, d.webhook_id) })
            }
            Err(e) => Err(StoreError::unavailable("update_delivery", DisplayErrorContext(&e))),
        }
    }

    async fn deliveries(
        &self,
        c: &ConnectionId,
        status: DeliveryStatus,
        limit: usize,
        after: Option<&DeliveryCursor>,
    ) -> Result<DeliveryPage, StoreError> {
        if limit == 0 {
            return Ok(DeliveryPage::default());
        }
        let mut items = Vec::new();
        let mut start = after.map(|a| delivery_key(c, status, a.received_at_ms, &a.webhook_id));
        // `Limit` bounds what DynamoDB reads; a page can still come back short, so follow it
        // until the page is full or the index ends.
        loop {
            let want = limit.saturating_sub(items.len()).clamp(1, 1000) as i32;
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("gsi1pk = :k")
                .expression_attribute_values(":k", s(format!("WH#{c}#{}", status.as_str())))
                .scan_index_forward(false)
                .limit(want)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable("deliveries"))?;
            for i in page.items.unwrap_or_default() {
                items.push(item_delivery(&i)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() && items.len() < limit => start = Some(k),
                Some(k) if !k.is_empty() => {
                    let next = items.last().map(Delivery::cursor);
                    return Ok(DeliveryPage { items, next });
                }
                _ => return Ok(DeliveryPage { items, next: None }),
            }
        }
    }

    async fn claim_screening(
        &self,
        c: &ConnectionId,
        nk: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Claim, StoreError> {
        // The rule of `decide_claim`, as one conditional write.
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(c))
            .key("sk", s(format!("SCREEN#{nk}")))
            .update_expression("SET #owner = :o, lease_until = :u ADD attempts :one")
            .condition_expression(
                "attribute_not_exists(pk) OR (attribute_not_exists(opportunity_id) AND lease_until <= :now)",
            )
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":o", s(owner))
            .expression_attribute_values(":u", n(until_ms))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now_ms))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => {
                let attempts = out.attributes.as_ref().and_then(|a| get_n(a, "attempts")).unwrap_or(1) as u32;
                Ok(Claim::Acquired { attempt: attempts })
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                let rec = self.claim_record(c, nk).await?;
                Ok(match rec {
                    Some(ClaimRecord { opportunity_id: Some(o), .. }) => Claim::Done { opportunity_id: o },
                    Some(r) => Claim::Busy { until_ms: r.lease_until_ms },
                    None => Claim::Busy { until_ms: now_ms },
                })
            }
            Err(e) => Err(StoreError::unavailable("claim_screening", DisplayErrorContext(&e))),
        }
    }

    async fn end_claim(&self, c: &ConnectionId, nk: &str, owner: &str, end: ClaimEnd) -> Result<(), StoreError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(c))
            .key("sk", s(format!("SCREEN#{nk}")))
            .condition_expression("#owner = :o")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":o", s(owner))
            .expression_attribute_values(":zero", n(0));
        req = match end {
            ClaimEnd::Done { opportunity_id } => req
                .update_expression("SET lease_until = :zero, opportunity_id = :opp")
                .expression_attribute_values(":opp", s(opportunity_id)),
            ClaimEnd::Release => req.update_expression("SET lease_until = :zero"),
        };
        match req.send().await {
            Ok(_) => Ok(()),
            // Another attempt took the claim over: its end is its own business.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(StoreError::unavailable("end_claim", DisplayErrorContext(&e))),
        }
    }
}

impl DynamoStore {
    async fn claim_record(&self, c: &ConnectionId, nk: &str) -> Result<Option<ClaimRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(c))
            .key("sk", s(format!("SCREEN#{nk}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable("claim_record"))?;
        Ok(out.item.map(|i| ClaimRecord {
            owner: get_s(&i, "owner").unwrap_or_default().to_owned(),
            lease_until_ms: get_n(&i, "lease_until").unwrap_or(0),
            attempts: get_n(&i, "attempts").unwrap_or(0) as u32,
            opportunity_id: get_s(&i, "opportunity_id").map(str::to_owned),
        }))
    }
}

#[async_trait]
impl LeaseStore for DynamoStore {
    async fn try_lease(
        &self,
        c: &ConnectionId,
        name: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(c))
            .item("sk", s(format!("LEASE#{name}")))
            .item("owner", s(owner))
            .item("until_ms", n(until))
            .condition_expression("attribute_not_exists(pk) OR #owner = :o OR until_ms <= :now")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":o", s(owner))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(StoreError::unavailable("try_lease", DisplayErrorContext(&e))),
        }
    }

    async fn release_lease(&self, c: &ConnectionId, name: &str, owner: &str) -> Result<(), StoreError> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", pk(c))
            .key("sk", s(format!("LEASE#{name}")))
            .condition_expression("#owner = :o")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":o", s(owner))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(StoreError::unavailable("release_lease", DisplayErrorContext(&e))),
        }
    }
}

#[async_trait]
impl InvitationStore for DynamoStore {
    async fn put_invitation(&self, i: &Invitation) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(&i.connection))
            .item("sk", s(format!("INVITE#{}", i.token_hash)))
            .item("doc", s(serde_json::to_string(i).expect("serialises")))
            .item("expires_at_ms", n(i.expires_at_ms))
            .item("expires_at", n(i.expires_at_ms / 1000 + 24 * 3600))
            .send()
            .await
            .map_err(unavailable("put_invitation"))?;
        Ok(())
    }

    async fn invitation(&self, c: &ConnectionId, hash: &str) -> Result<Option<Invitation>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(c))
            .key("sk", s(format!("INVITE#{hash}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable("invitation"))?;
        let Some(item) = out.item else { return Ok(None) };
        let mut i: Invitation = serde_json::from_str(get_s(&item, "doc").unwrap_or(""))
            .map_err(|e| StoreError::corrupt("invitation", e))?;
        // `used_at_ms` is written on its own, by `use_invitation`.
        i.used_at_ms = get_n(&item, "used_at_ms");
        Ok(Some(i))
    }

    async fn use_invitation(&self, c: &ConnectionId, hash: &str, now_ms: i64) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(c))
            .key("sk", s(format!("INVITE#{hash}")))
            .update_expression("SET used_at_ms = :now")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(used_at_ms) AND expires_at_ms > :now")
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(StoreError::unavailable("use_invitation", DisplayErrorContext(&e))),
        }
    }

    async fn revoke_invitations(&self, c: &ConnectionId, now_ms: i64) -> Result<usize, StoreError> {
        // A connection has a handful of invitations (each new link voids the others).
        let mut n = 0;
        for item in self.query_prefix(c, "INVITE#", "revoke_invitations").await? {
            let hash = get_s(&item, "sk").and_then(|sk| sk.strip_prefix("INVITE#")).unwrap_or_default();
            if self.use_invitation(c, hash, now_ms).await? {
                n += 1;
            }
        }
        Ok(n)
    }
}
