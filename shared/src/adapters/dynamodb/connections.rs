//! Connections and their invitations.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::*;

fn item_connection(i: &Item) -> Result<Connection, StoreError> {
    let id = get_s(i, "id").unwrap_or("?").to_owned();
    let what = format!("connection {id}");
    let mut c: Connection =
        serde_json::from_str(get_s(i, "config").unwrap_or("")).map_err(|e| StoreError::corrupt(&what, e))?;
    // The feed URL and the Lever settings are written on their own (`set_feed_url`, `set_lever`):
    // those attributes win over the config's.
    if let Some(u) = get_s(i, "feed_url") {
        c.feed_url = u.to_owned();
    }
    if let Some(l) = get_s(i, "lever") {
        c.lever = serde_json::from_str(l).map_err(|e| StoreError::corrupt(&what, e))?;
    }
    // Likewise the job filter (`set_job_filter`); until one is written, the config's stands.
    if let Some(f) = get_s(i, "job_filter") {
        c.job_filter = serde_json::from_str(f).map_err(|e| StoreError::corrupt(&what, e))?;
    }
    c.status = get_s(i, "status")
        .and_then(ConnectionStatus::parse)
        .ok_or_else(|| StoreError::corrupt_because(&what, "bad status"))?;
    c.feed = FeedState {
        etag: get_s(i, "feed_etag").filter(|v| !v.is_empty()).map(str::to_owned),
        last_modified: get_s(i, "feed_last_modified").filter(|v| !v.is_empty()).map(str::to_owned),
        last_run_clean: i.get("feed_clean").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
        confirmed_at_ms: get_n(i, "feed_confirmed_at").filter(|t| *t > 0),
        // A few (bucket, count) pairs as JSON text; absent before the guard remembered peaks.
        active_peaks: get_s(i, "feed_peaks").and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default(),
        filter_version: get_n(i, "feed_filter_version").unwrap_or(0) as u64,
    };
    Ok(c)
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
            // The version `set_job_filter` compares: the config's filter's (0 for a new one).
            ("job_filter_version".into(), n(c.job_filter.version)),
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
            Err(e) => Err(crate::adapters::sdk_unavailable("create_connection", e)),
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
            "SET feed_etag = :e, feed_last_modified = :l, feed_clean = :c, feed_confirmed_at = :t, feed_peaks = :p, feed_filter_version = :f",
            vec![
                (":e", v(&st.etag)),
                (":l", v(&st.last_modified)),
                (":c", AttributeValue::Bool(st.last_run_clean)),
                (":t", n(st.confirmed_at_ms.unwrap_or(0))),
                (":p", s(serde_json::to_string(&st.active_peaks).expect("serialises"))),
                (":f", n(st.filter_version as i64)),
            ],
        )
        .await
    }

    async fn set_feed_url(&self, id: &ConnectionId, url: &str) -> Result<(), StoreError> {
        // Validators are stored as empty strings when absent (set_feed_state).
        self.update_connection(
            id,
            "set_feed_url",
            "SET feed_url = :u, feed_etag = :empty, feed_last_modified = :empty",
            vec![(":u", s(url.to_owned())), (":empty", s(String::new()))],
        )
        .await
    }

    async fn set_lever(&self, id: &ConnectionId, lever: &LeverSettings) -> Result<(), StoreError> {
        let json = serde_json::to_string(lever).expect("serialises");
        self.update_connection(id, "set_lever", "SET lever = :l", vec![(":l", s(json))]).await
    }

    async fn set_job_filter(&self, id: &ConnectionId, filter: &JobFilter) -> Result<(), StoreError> {
        // Version 0 is never a write: the stored version is at least 0, so it lost a race.
        let Some(prev) = filter.version.checked_sub(1) else {
            return Err(self.job_filter_lost(id).await);
        };
        // Its own attributes, like `lever`: the JSON and the version the condition compares.
        // An item written before filters existed has no version: that is 0.
        let condition = if prev == 0 {
            "attribute_exists(pk) AND (attribute_not_exists(job_filter_version) OR job_filter_version = :prev)"
        } else {
            "attribute_exists(pk) AND job_filter_version = :prev"
        };
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(id))
            .key("sk", s("CONN"))
            .update_expression("SET job_filter = :f, job_filter_version = :v")
            .condition_expression(condition)
            .expression_attribute_values(":f", s(serde_json::to_string(filter).expect("serialises")))
            .expression_attribute_values(":v", n(filter.version))
            .expression_attribute_values(":prev", n(prev))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(self.job_filter_lost(id).await)
            }
            Err(e) => Err(crate::adapters::sdk_unavailable("set_job_filter", e)),
        }
    }
}

impl DynamoStore {
    /// Why a `set_job_filter` condition failed: one condition covers both the missing item and
    /// the moved-on version, so a read tells them apart (a failed read is that failure).
    async fn job_filter_lost(&self, id: &ConnectionId) -> StoreError {
        match self.connection(id).await {
            Ok(Some(_)) => StoreError::Conflict { what: format!("job filter of connection {id}") },
            Ok(None) => StoreError::NotFound { what: format!("connection {id}") },
            Err(e) => e,
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
            Err(e) => Err(crate::adapters::sdk_unavailable("use_invitation", e)),
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
