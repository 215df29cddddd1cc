//! Lever access tokens for a connection, refreshed safely.
//!
//! Refresh tokens are single-use (treated so: contracts/lever.md), so at most ONE refresh per
//! connection runs at a time across every Lambda instance: the refresher holds a lease in the
//! store, re-reads the secret after taking it (someone may have refreshed meanwhile), and stores
//! the new pair in Secrets Manager before using it. `invalid_grant` marks the connection revoked,
//! so no caller loops on refreshes. Secrets Manager is written by refreshes only.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::adapters::lever::{AppCredentials, LeverClient, OAuthError, TokenSet};
use crate::domain::ports::{LEVER_APP, LEVER_TOKENS};
use crate::domain::*;

/// Refresh when the access token has less than this left.
pub const REFRESH_AHEAD_SECS: i64 = 120;
const LEASE_NAME: &str = "lever-refresh";
const LEASE_MS: i64 = 30_000;
/// How long a caller waits for another instance's refresh before giving up (pending, retried).
const WAIT_FOR_OTHER: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the Lever app was revoked for this connection: a Super Admin must authorize again")]
    Revoked,
    #[error("the connection has no Lever authorization yet")]
    NotAuthorized,
    #[error("Lever tokens are unavailable right now: {0}")]
    Unavailable(String),
}

pub struct TokenProvider {
    pub secrets: Arc<dyn SecretStore>,
    pub leases: Arc<dyn LeaseStore>,
    pub connections: Arc<dyn ConnectionStore>,
    /// Fresh tokens seen by this process, so a warm Lambda does not read the secret per request.
    cache: Mutex<HashMap<ConnectionId, TokenSet>>,
    /// One refresher per connection inside this process (the lease covers other processes).
    local: Mutex<HashMap<ConnectionId, Arc<tokio::sync::Mutex<()>>>>,
}

fn now_s() -> i64 {
    super::now_ms() / 1000
}

fn fresh(t: &TokenSet) -> bool {
    t.expires_at - now_s() > REFRESH_AHEAD_SECS
}

impl TokenProvider {
    pub fn new(
        secrets: Arc<dyn SecretStore>,
        leases: Arc<dyn LeaseStore>,
        connections: Arc<dyn ConnectionStore>,
    ) -> Self {
        Self { secrets, leases, connections, cache: Mutex::default(), local: Mutex::default() }
    }

    pub async fn stored(&self, c: &ConnectionId) -> Result<Option<TokenSet>, TokenError> {
        let raw = self.secrets.secret(c, LEVER_TOKENS).await.map_err(|e| TokenError::Unavailable(e.to_string()))?;
        raw.map(|s| {
            serde_json::from_str(s.expose())
                .map_err(|_| TokenError::Unavailable("the stored token pair is unreadable".into()))
        })
        .transpose()
    }

    /// Stores a pair (after an authorization or a refresh) and remembers it.
    pub async fn store(&self, c: &ConnectionId, t: &TokenSet) -> Result<(), StoreError> {
        let json = SecretString::new(serde_json::to_string(t).expect("serialises"));
        self.secrets.put_secret(c, LEVER_TOKENS, &json).await?;
        self.cache.lock().unwrap().insert(c.clone(), t.clone());
        Ok(())
    }

    pub async fn app_credentials(&self) -> Result<AppCredentials, TokenError> {
        let raw = self
            .secrets
            .app_secret(LEVER_APP)
            .await
            .map_err(|e| TokenError::Unavailable(e.to_string()))?
            .ok_or_else(|| TokenError::Unavailable("the Lever app credentials are not configured".into()))?;
        serde_json::from_str(raw.expose())
            .map_err(|_| TokenError::Unavailable("the Lever app credentials are unreadable".into()))
    }

    /// A usable access token: cached, stored, or refreshed ahead of expiry.
    pub async fn access_token(&self, conn: &Connection, lever: &LeverClient) -> Result<SecretString, TokenError> {
        if let Some(t) = self.cache.lock().unwrap().get(&conn.id).filter(|t| fresh(t)) {
            return Ok(SecretString::new(t.access_token.clone()));
        }
        let stored = self.stored(&conn.id).await?.ok_or(TokenError::NotAuthorized)?;
        if fresh(&stored) {
            self.cache.lock().unwrap().insert(conn.id.clone(), stored.clone());
            return Ok(SecretString::new(stored.access_token));
        }
        self.refresh(conn, lever, &stored.access_token).await
    }

    /// After a 401 with `used`: refresh once (unless someone already replaced that token).
    pub async fn after_unauthorized(
        &self,
        conn: &Connection,
        lever: &LeverClient,
        used: &SecretString,
    ) -> Result<SecretString, TokenError> {
        self.cache.lock().unwrap().remove(&conn.id);
        self.refresh(conn, lever, used.expose()).await
    }

    async fn refresh(
        &self,
        conn: &Connection,
        lever: &LeverClient,
        stale_access: &str,
    ) -> Result<SecretString, TokenError> {
        let local = self.local.lock().unwrap().entry(conn.id.clone()).or_default().clone();
        let _one_here = local.lock().await;
        let owner = format!("refresh-{:016x}", fastrand::u64(..));
        let give_up = tokio::time::Instant::now() + WAIT_FOR_OTHER;
        loop {
            // Someone (this process or another) may have refreshed while we waited.
            let current = self.stored(&conn.id).await?.ok_or(TokenError::NotAuthorized)?;
            if current.access_token != stale_access && fresh(&current) {
                self.cache.lock().unwrap().insert(conn.id.clone(), current.clone());
                return Ok(SecretString::new(current.access_token));
            }
            let now = super::now_ms();
            let got = self
                .leases
                .try_lease(&conn.id, LEASE_NAME, &owner, now, now + LEASE_MS)
                .await
                .map_err(|e| TokenError::Unavailable(e.to_string()))?;
            if got {
                let result = self.refresh_holding_lease(conn, lever, stale_access).await;
                let _ = self.leases.release_lease(&conn.id, LEASE_NAME, &owner).await;
                return result;
            }
            if tokio::time::Instant::now() >= give_up {
                return Err(TokenError::Unavailable("another instance is refreshing the Lever token".into()));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn refresh_holding_lease(
        &self,
        conn: &Connection,
        lever: &LeverClient,
        stale_access: &str,
    ) -> Result<SecretString, TokenError> {
        // Re-read under the lease: the pair may have changed between our check and the lease.
        let current = self.stored(&conn.id).await?.ok_or(TokenError::NotAuthorized)?;
        if current.access_token != stale_access && fresh(&current) {
            return Ok(SecretString::new(current.access_token));
        }
        let app = self.app_credentials().await?;
        match lever.refresh(&app, &SecretString::new(current.refresh_token.clone()), now_s()).await {
            Ok(new) => {
                // The old refresh token is spent: the new pair must be stored before it is used.
                let mut stored = Err(StoreError::unavailable("put secret", "not tried"));
                for _ in 0..3 {
                    stored = self.store(&conn.id, &new).await;
                    if stored.is_ok() {
                        break;
                    }
                }
                if let Err(e) = stored {
                    tracing::error!(connection = %conn.id, error = %e, "refreshed Lever tokens could not be stored; kept in memory only");
                    self.cache.lock().unwrap().insert(conn.id.clone(), new);
                    return Err(TokenError::Unavailable(format!("the refreshed token pair could not be stored: {e}")));
                }
                tracing::info!(connection = %conn.id, expires_at = new.expires_at, "Lever access token refreshed");
                Ok(SecretString::new(new.access_token))
            }
            Err(OAuthError::InvalidGrant(_)) => {
                tracing::warn!(connection = %conn.id, "Lever refused the refresh token: marking the connection revoked");
                self.cache.lock().unwrap().remove(&conn.id);
                self.connections
                    .set_status(&conn.id, ConnectionStatus::Revoked)
                    .await
                    .map_err(|e| TokenError::Unavailable(e.to_string()))?;
                Err(TokenError::Revoked)
            }
            Err(e) => Err(TokenError::Unavailable(e.to_string())),
        }
    }
}
