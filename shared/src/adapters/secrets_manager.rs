//! Per-connection secrets in AWS Secrets Manager, named `<prefix><connection>/<kind>`
//! (e.g. `xor-lever/acme/xor-api-key`): IAM can grant exactly the prefix.
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::domain::{ConnectionId, SecretStore, SecretString, StoreError};

#[derive(Clone)]
pub struct SecretsManagerStore {
    client: Client,
    prefix: String,
}

impl SecretsManagerStore {
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        Self { client, prefix: prefix.into() }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn name(&self, c: &ConnectionId, kind: &str) -> String {
        format!("{}{}/{}", self.prefix, c, kind)
    }
}

impl SecretsManagerStore {
    async fn get(&self, name: String) -> Result<Option<SecretString>, StoreError> {
        // Always name the stage: after a stage move, moto (and caches) may answer an older version.
        let res = self.client.get_secret_value().secret_id(name).version_stage("AWSCURRENT").send().await;
        match res {
            Ok(out) => Ok(out.secret_string.map(SecretString::new)),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
            Err(e) => Err(StoreError::unavailable("get secret", DisplayErrorContext(&e))),
        }
    }

    async fn put(&self, name: String, v: &SecretString) -> Result<(), StoreError> {
        let created = self.client.create_secret().name(&name).secret_string(v.expose()).send().await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_exists_exception()) => self
                .client
                .put_secret_value()
                .secret_id(&name)
                .secret_string(v.expose())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| StoreError::unavailable("put secret", DisplayErrorContext(&e))),
            Err(e) => Err(StoreError::unavailable("create secret", DisplayErrorContext(&e))),
        }
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn secret(&self, c: &ConnectionId, kind: &str) -> Result<Option<SecretString>, StoreError> {
        self.get(self.name(c, kind)).await
    }

    async fn put_secret(&self, c: &ConnectionId, kind: &str, v: &SecretString) -> Result<(), StoreError> {
        self.put(self.name(c, kind), v).await
    }

    /// `<prefix>_app/<kind>`: `_` never starts a connection id, so no connection can collide.
    async fn app_secret(&self, kind: &str) -> Result<Option<SecretString>, StoreError> {
        self.get(format!("{}_app/{kind}", self.prefix)).await
    }

    async fn put_app_secret(&self, kind: &str, v: &SecretString) -> Result<(), StoreError> {
        self.put(format!("{}_app/{kind}", self.prefix), v).await
    }
}
