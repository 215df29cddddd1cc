//! The candidates put in Lever: opportunity links (`OPP#<opportunity>`), erasure tombstones
//! (`ERASED#<key>`), and erasing a delivery's raw body.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use super::*;

#[async_trait]
impl CandidateStore for DynamoStore {
    async fn put_link(&self, l: &CandidateLink) -> Result<(), StoreError> {
        let doc = serde_json::to_string(l).expect("serialises");
        self.put_doc(&l.connection, format!("OPP#{}", l.opportunity_id), doc, "put_link").await
    }

    async fn link(&self, c: &ConnectionId, opportunity_id: &str) -> Result<Option<CandidateLink>, StoreError> {
        self.read_doc(c, format!("OPP#{opportunity_id}"), "link", "candidate link").await
    }

    async fn put_tombstone(&self, t: &Tombstone) -> Result<(), StoreError> {
        let doc = serde_json::to_string(t).expect("serialises");
        self.put_doc(&t.connection, format!("ERASED#{}", t.key), doc, "put_tombstone").await
    }

    async fn tombstone(&self, c: &ConnectionId, key: &str) -> Result<Option<Tombstone>, StoreError> {
        self.read_doc(c, format!("ERASED#{key}"), "tombstone", "tombstone").await
    }

    async fn erase_body(&self, c: &ConnectionId, webhook_id: &str) -> Result<bool, StoreError> {
        // The body is the Binary `body` attribute (the `doc` holds an empty one), so removing
        // the attribute leaves the record whole, body empty; one conditional write, so a
        // missing delivery is not created.
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(c))
            .key("sk", s(format!("WH#{webhook_id}")))
            .update_expression("REMOVE #body")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#body", "body")
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => {
                self.erase_body_in_doc(c, webhook_id, &out.attributes.unwrap_or_default()).await?;
                Ok(true)
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(crate::adapters::sdk_unavailable("erase_body", e)),
        }
    }
}

impl DynamoStore {
    /// Items written before bodies were Binary keep the body in `doc` (see `item_delivery`):
    /// the document is rewritten with it empty, only if it is still the one just read. Lost to
    /// a whole-item write (which may have put a stale body back), it is a conflict: erase again.
    async fn erase_body_in_doc(&self, c: &ConnectionId, webhook_id: &str, item: &Item) -> Result<(), StoreError> {
        let Some(old) = get_s(item, "doc") else { return Ok(()) };
        let mut d: Delivery = serde_json::from_str(old).map_err(|e| StoreError::corrupt("delivery", e))?;
        if d.body.is_empty() {
            return Ok(());
        }
        d.body = Vec::new();
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(c))
            .key("sk", s(format!("WH#{webhook_id}")))
            .update_expression("SET #doc = :new")
            .condition_expression("#doc = :old")
            .expression_attribute_names("#doc", "doc")
            .expression_attribute_values(":new", s(serde_json::to_string(&d).expect("serialises")))
            .expression_attribute_values(":old", s(old))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::Conflict { what: format!("delivery {c}/{webhook_id}") })
            }
            Err(e) => Err(crate::adapters::sdk_unavailable("erase_body", e)),
        }
    }

    /// A whole-item write of one JSON document (links and tombstones are upserts).
    async fn put_doc(&self, c: &ConnectionId, sk: String, doc: String, op: &'static str) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(c))
            .item("sk", s(sk))
            .item("doc", s(doc))
            .send()
            .await
            .map_err(unavailable(op))?;
        Ok(())
    }

    /// The JSON document of one item, read consistently (a link is read right after it is
    /// written, when Lever's event follows the create).
    async fn read_doc<T: serde::de::DeserializeOwned>(
        &self,
        c: &ConnectionId,
        sk: String,
        op: &'static str,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        let Some(item) = self.get_consistent(c, sk, op).await? else { return Ok(None) };
        serde_json::from_str(get_s(&item, "doc").unwrap_or("")).map(Some).map_err(|e| StoreError::corrupt(what, e))
    }
}
