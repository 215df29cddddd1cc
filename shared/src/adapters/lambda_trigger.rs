//! Starts a connection's first sync by invoking the feed-sync function asynchronously (`Event`),
//! so the OAuth callback answers the admin at once.
use async_trait::async_trait;
use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use crate::domain::ConnectionId;
use crate::domain::{SyncTrigger, TriggerError};

pub struct LambdaSyncTrigger {
    pub client: Client,
    pub function_name: String,
}

#[async_trait]
impl SyncTrigger for LambdaSyncTrigger {
    async fn trigger(&self, connection: &ConnectionId) -> Result<(), TriggerError> {
        let payload = serde_json::json!({ "connection": connection.as_str() }).to_string();
        self.client
            .invoke()
            .function_name(&self.function_name)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| TriggerError { message: DisplayErrorContext(&e).to_string(), source: Some(Box::new(e)) })
    }
}
