//! Webhook deliveries, screening claims and leases.
use async_trait::async_trait;

use super::*;
use crate::domain::webhook::ClaimRecord;

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
    // The body as a Binary attribute (its bytes as signed, 256 KB at most), the rest as JSON.
    let rest = Delivery { body: Vec::new(), ..d.clone() };
    i.insert("doc".into(), s(serde_json::to_string(&rest).expect("serialises")));
    i.insert("body".into(), AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(d.body.clone())));
    // A whole-item write: a delivery that waits again loses its expiry.
    if let Some(t) = d.expires_at {
        i.insert("expires_at".into(), n(t));
    }
    i
}

fn item_delivery(i: &Item) -> Result<Delivery, StoreError> {
    let mut d: Delivery =
        serde_json::from_str(get_s(i, "doc").unwrap_or("")).map_err(|e| StoreError::corrupt("delivery", e))?;
    // Items written before bodies were Binary keep theirs in the document.
    if let Some(AttributeValue::B(b)) = i.get("body") {
        d.body = b.clone().into_inner();
    }
    Ok(d)
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
            Err(e) => Err(crate::adapters::sdk_unavailable("insert_delivery", e)),
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

    /// Every attribute but `body`, which stays as stored: an update never brings back a body an
    /// erasure removed (the delivery may have been read before it).
    async fn update_delivery(&self, d: &Delivery) -> Result<(), StoreError> {
        let mut item = delivery_item(d);
        item.remove("body");
        let (pk_v, sk_v) = (item.remove("pk"), item.remove("sk"));
        let expires = item.remove("expires_at");
        let mut names = Vec::new();
        let mut req =
            self.client.update_item().table_name(&self.table).set_key(Some(
                [("pk".to_owned(), pk_v.unwrap_or(s(""))), ("sk".to_owned(), sk_v.unwrap_or(s("")))].into(),
            ));
        for (i, (k, v)) in item.into_iter().enumerate() {
            names.push(format!("#a{i} = :v{i}"));
            req = req.expression_attribute_names(format!("#a{i}"), k).expression_attribute_values(format!(":v{i}"), v);
        }
        let mut expr = format!("SET {}", names.join(", "));
        match expires {
            Some(t) => {
                expr.push_str(", expires_at = :exp");
                req = req.expression_attribute_values(":exp", t);
            }
            None => expr.push_str(" REMOVE expires_at"),
        }
        let res = req.update_expression(expr).condition_expression("attribute_exists(pk)").send().await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::NotFound { what: format!("delivery {}/{}", d.connection, d.webhook_id) })
            }
            Err(e) => Err(crate::adapters::sdk_unavailable("update_delivery", e)),
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
            Err(e) => Err(crate::adapters::sdk_unavailable("claim_screening", e)),
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
            Err(e) => Err(crate::adapters::sdk_unavailable("end_claim", e)),
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
            Err(e) => Err(crate::adapters::sdk_unavailable("try_lease", e)),
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
            Err(e) => Err(crate::adapters::sdk_unavailable("release_lease", e)),
        }
    }
}
