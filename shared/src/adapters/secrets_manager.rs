//! Per-connection secrets in AWS Secrets Manager, named `<prefix><connection>/<kind>`
//! (e.g. `xor-lever/acme/xor-api-key`): IAM can grant exactly the prefix.
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;

use crate::domain::{ConnectionId, SecretStore, SecretString, StoreError};

/// Every Secrets Manager call gives up after this (set on the client: `config::aws_sdk_config`);
/// the token refresh's lease is sized from it.
pub const CALL_TIMEOUT: std::time::Duration = crate::domain::ports::SECRET_CALL_TIMEOUT;

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
            Err(e) => Err(crate::adapters::sdk_unavailable("get secret", e)),
        }
    }

    /// `PutSecretValue` only: what the functions are allowed to do.
    async fn put(&self, name: String, v: &SecretString) -> Result<(), StoreError> {
        match self.client.put_secret_value().secret_id(&name).secret_string(v.expose()).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
                Err(StoreError::NotFound { what: format!("secret {name}") })
            }
            Err(e) => Err(crate::adapters::sdk_unavailable("put secret", e)),
        }
    }

    /// `CreateSecret`, or `PutSecretValue` when it exists: the operator's CLI only.
    async fn create(&self, name: String, v: Option<&SecretString>) -> Result<(), StoreError> {
        let created = self.client.create_secret().name(&name).set_secret_string(v.map(|v| v.expose().to_owned()));
        match created.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_exists_exception()) => match v {
                Some(v) => self.put(name, v).await,
                None => Ok(()),
            },
            Err(e) => Err(crate::adapters::sdk_unavailable("create secret", e)),
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

    async fn create_secret(&self, c: &ConnectionId, kind: &str, v: Option<&SecretString>) -> Result<(), StoreError> {
        self.create(self.name(c, kind), v).await
    }

    /// `<prefix>_app/<kind>`: `_` never starts a connection id, so no connection can collide.
    async fn app_secret(&self, kind: &str) -> Result<Option<SecretString>, StoreError> {
        self.get(format!("{}_app/{kind}", self.prefix)).await
    }

    async fn put_app_secret(&self, kind: &str, v: &SecretString) -> Result<(), StoreError> {
        self.create(format!("{}_app/{kind}", self.prefix), Some(v)).await
    }
}
