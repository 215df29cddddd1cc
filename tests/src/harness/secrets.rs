//! A secret store whose reads are watched (counted, or failed as Secrets Manager down would).
use std::sync::Arc;

use xor_lever_shared::domain::*;

/// A secret store seen through a hook called before each read (`secret`, `app_secret`) with the
/// kind read: it may count the reads, or fail them as Secrets Manager down would.
pub struct WatchedSecrets {
    pub inner: Arc<dyn xor_lever_shared::domain::SecretStore>,
    #[allow(clippy::type_complexity)]
    pub on_read: Arc<dyn Fn(&str) -> Result<(), xor_lever_shared::domain::StoreError> + Send + Sync>,
}

type SecretResult<T> = Result<T, xor_lever_shared::domain::StoreError>;

#[async_trait::async_trait]
impl xor_lever_shared::domain::SecretStore for WatchedSecrets {
    async fn secret(&self, c: &ConnectionId, kind: &str) -> SecretResult<Option<SecretString>> {
        (self.on_read)(kind)?;
        self.inner.secret(c, kind).await
    }
    async fn put_secret(&self, c: &ConnectionId, kind: &str, v: &SecretString) -> SecretResult<()> {
        self.inner.put_secret(c, kind, v).await
    }
    async fn create_secret(&self, c: &ConnectionId, kind: &str, v: Option<&SecretString>) -> SecretResult<()> {
        self.inner.create_secret(c, kind, v).await
    }
    async fn app_secret(&self, kind: &str) -> SecretResult<Option<SecretString>> {
        (self.on_read)(kind)?;
        self.inner.app_secret(kind).await
    }
    async fn put_app_secret(&self, kind: &str, v: &SecretString) -> SecretResult<()> {
        self.inner.put_app_secret(kind, v).await
    }
}
