//! The production store: one DynamoDB table.
//!
//! | item | pk | sk | notes |
//! |---|---|---|---|
//! | connection | `CONN#<id>` | `CONN` | `gsi1pk = "CONN"` lists connections; status and feed state are their own attributes |
//! | job mapping | `CONN#<id>` | `JOB#<posting>` | one paginated Query reads a connection's mappings; `version` guards writes |
//! | webhook delivery | `CONN#<id>` | `WH#<webhook id>` | the raw body as a Binary attribute (`body`, its bytes as signed) + status and the rest as JSON (`doc`); `gsi1pk = "WH#<id>#<status>"`, `gsi1sk = "<received ms>#<webhook id>"` lists one connection's deliveries of one status, newest first, a page at a time; finished ones expire (`expires_at`, TTL) |
//! | screening claim | `CONN#<id>` | `SCREEN#<candidate>#<job>` | the idempotency lock: owner, lease, attempts, opportunity |
//! | lease | `CONN#<id>` | `LEASE#<name>` | e.g. one OAuth refresh at a time |
//! | sync run | `CONN#<id>` | `RUN#<ms>#<run id>` | newest first by a reverse Query; expires after 90 days (`expires_at`, TTL) |
//! | invitation | `CONN#<id>` | `INVITE#<sha-256 of the token>` | the connect link's; `used_at_ms` set once by a conditional update; removed a day after it expires (TTL) |
//! | candidate link | `CONN#<id>` | `OPP#<opportunity id>` | the Lever opportunity the product made for an XOR screening, as JSON (`doc`); no personal data |
//! | tombstone | `CONN#<id>` | `ERASED#<sha-256 of connection and candidate id>` | what an erasure leaves, as JSON (`doc`) |
//! | catalog head | `CONN#<id>` | `CAT#head` | the postings of the last feed read: names the current `generation` and its number of `chunks` |
//! | catalog chunk | `CONN#<id>` | `CAT#<generation>#<n, 4 digits>` | up to 1,000 of those postings (and 300 KB) as a JSON array (`doc`); written before the head names them, deleted once a new head replaces it |
use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

use crate::domain::*;

pub const GSI1: &str = "gsi1";
/// Every DynamoDB call gives up after this (set on the client: `config::aws_sdk_config`).
pub const CALL_TIMEOUT: std::time::Duration = crate::domain::ports::TABLE_CALL_TIMEOUT;
pub(super) const RUN_TTL_SECS: i64 = 90 * 24 * 3600;

pub(super) type Item = HashMap<String, AttributeValue>;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

mod candidates;
mod catalog;
mod connections;
mod jobs;
mod webhooks;

pub(super) fn pk(c: &ConnectionId) -> AttributeValue {
    AttributeValue::S(format!("CONN#{c}"))
}
pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub(super) fn unavailable<E: std::error::Error + Send + Sync + 'static>(op: &'static str) -> impl Fn(E) -> StoreError {
    move |e| crate::adapters::sdk_unavailable(op, e)
}

pub(super) fn get_s<'a>(item: &'a Item, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}
pub(super) fn get_n(item: &Item, k: &str) -> Option<i64> {
    item.get(k).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
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
            Err(e) => Err(crate::adapters::sdk_unavailable("create_table", e)),
        }
    }

    /// Every item a query returns, following pages (`build` makes the query for one page).
    pub(super) async fn query_all(
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

    /// One item of a connection's partition, read consistently (what was just written is seen).
    pub(super) async fn get_consistent(
        &self,
        c: &ConnectionId,
        sk: String,
        op: &'static str,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(c))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable(op))?;
        Ok(out.item)
    }

    /// Every item of one partition whose sort key starts with `prefix`.
    pub(super) async fn query_prefix(
        &self,
        c: &ConnectionId,
        prefix: &str,
        op: &'static str,
    ) -> Result<Vec<Item>, StoreError> {
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

    pub(super) async fn update_connection(
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
            Err(e) => Err(crate::adapters::sdk_unavailable(op, e)),
        }
    }
}
