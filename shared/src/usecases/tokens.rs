//! Lever access tokens for a connection, refreshed safely.
//!
//! Refresh tokens are single-use (treated so: docs/lever-facts.md), so at most ONE refresh per
//! connection runs at a time across every Lambda instance: the refresher holds a lease in the
//! store, re-reads the secret after taking it (someone may have refreshed meanwhile), and stores
//! the new pair in Secrets Manager before using it.
//!
//! What must never happen is a refresh cut off between Lever's answer and the store write (the
//! old refresh token is spent, the new one lost): so the lease lasts the path's worst case
//! ([`TokenProvider::refresh_worst_case`], every step bounded by its own timeout), a refresh does
//! not start when the invocation's deadline is nearer than that, and `invalid_grant` is believed
//! only after re-reading the secret (another instance that overran our lease may have stored a
//! newer pair: then we use it, and the connection is not marked revoked).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Clock;
use crate::domain::ats::{AppCredentials, Ats, OAuthError, TokenSet};
use crate::domain::ports::{LEVER_APP, LEVER_TOKENS};
use crate::domain::*;

/// Refresh when the access token has less than this left. Longer than the schedule's interval
/// (15 minutes by default), so the scheduled run refreshes ahead and a webhook rarely has to.
pub const REFRESH_AHEAD_SECS: i64 = 20 * 60;
const LEASE_NAME: &str = "lever-refresh";
/// Clock skew between instances, and the time between our last step and the lease's release.
const LEASE_MARGIN: Duration = Duration::from_secs(2);
/// How long a caller waits for another instance's refresh before giving up (pending, retried).
const WAIT_FOR_OTHER: Duration = Duration::from_secs(15);

/// Why no usable access token: revoked or never authorized (the connection waits for a Super
/// Admin), or unavailable right now (retried later), each with its cause.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the Lever app was revoked for this connection: a Super Admin must authorize again")]
    Revoked,
    #[error("the connection has no Lever authorization yet")]
    NotAuthorized,
    #[error("Lever tokens are unavailable right now: {0}")]
    Store(#[from] StoreError),
    #[error("Lever tokens are unavailable right now: Lever's token endpoint: {0}")]
    Lever(#[from] OAuthError),
    #[error("Lever tokens are unavailable right now: {0}")]
    Unreadable(&'static str),
    #[error("Lever tokens are unavailable right now: another instance is refreshing the Lever token")]
    Busy,
    #[error(
        "Lever tokens are unavailable right now: too close to the invocation's deadline to refresh safely (a refresh may take {0} s)"
    )]
    TooCloseToDeadline(i64),
    #[error("Lever tokens are unavailable right now: the refreshed token pair could not be stored: {0}")]
    NotStored(#[source] StoreError),
    /// The Data API failed while checking the authorization (not the tokens themselves).
    #[error("Lever is unavailable: {0}")]
    Api(#[source] crate::domain::LeverError),
}

impl TokenError {
    /// Revoked or never authorized: only a new authorization helps.
    pub fn needs_authorization(&self) -> bool {
        matches!(self, Self::Revoked | Self::NotAuthorized)
    }
}

/// The longest each store call of the refresh path may take (the AWS clients enforce these
/// timeouts, the ports' `*_CALL_TIMEOUT`; the embedded stores are local).
#[derive(Debug, Clone, Copy)]
pub struct StoreBudget {
    pub secret_call: Duration,
    pub table_call: Duration,
}

impl Default for StoreBudget {
    fn default() -> Self {
        Self {
            secret_call: crate::domain::ports::SECRET_CALL_TIMEOUT,
            table_call: crate::domain::ports::TABLE_CALL_TIMEOUT,
        }
    }
}

pub struct TokenProvider {
    pub secrets: Arc<dyn SecretStore>,
    pub leases: Arc<dyn LeaseStore>,
    pub connections: Arc<dyn ConnectionStore>,
    pub clock: Clock,
    pub budget: StoreBudget,
    /// Fresh tokens seen by this process, so a warm Lambda does not read the secret per request.
    cache: Mutex<HashMap<ConnectionId, TokenSet>>,
    /// One refresher per connection inside this process (the lease covers other processes).
    local: Mutex<HashMap<ConnectionId, Arc<tokio::sync::Mutex<()>>>>,
}

impl TokenProvider {
    pub fn new(
        secrets: Arc<dyn SecretStore>,
        leases: Arc<dyn LeaseStore>,
        connections: Arc<dyn ConnectionStore>,
        clock: Clock,
    ) -> Self {
        Self {
            secrets,
            leases,
            connections,
            clock,
            budget: StoreBudget::default(),
            cache: Mutex::default(),
            local: Mutex::default(),
        }
    }

    fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    fn fresh(&self, t: &TokenSet) -> bool {
        t.expires_at - self.now_ms() / 1000 > REFRESH_AHEAD_SECS
    }

    /// The refresh path from taking the lease, at its slowest: the lease write itself, the app
    /// credentials and the pair read under the lease (or the pair again after an
    /// `invalid_grant`), Lever's token call (its timeout), two writes of the new pair (one
    /// retry) or one status write, and a margin: 4 × 2 s + 6 s + 2 × 4 s + 2 s = 24 s.
    pub fn refresh_worst_case(&self, lever: &dyn Ats) -> Duration {
        self.budget.secret_call * 4 + lever.token_timeout() + self.budget.table_call * 2 + LEASE_MARGIN
    }

    /// The stored pair; `None` when the connection was never authorized (or an operator reset it).
    pub async fn stored(&self, c: &ConnectionId) -> Result<Option<TokenSet>, TokenError> {
        let raw = self.secrets.secret(c, LEVER_TOKENS).await?;
        let Some(raw) = raw else { return Ok(None) };
        // `null`: cleared by `connections reset-lever`.
        serde_json::from_str::<Option<TokenSet>>(raw.expose())
            .map_err(|_| TokenError::Unreadable("the stored token pair is unreadable"))
    }

    /// Stores a pair (after an authorization or a refresh) and remembers it.
    pub async fn store(&self, c: &ConnectionId, t: &TokenSet) -> Result<(), StoreError> {
        let json = SecretString::new(serde_json::to_string(t).expect("serialises"));
        self.secrets.put_secret(c, LEVER_TOKENS, &json).await?;
        self.cache.lock().unwrap().insert(c.clone(), t.clone());
        Ok(())
    }

    /// Forgets a connection's pair (an operator's `reset-lever`): stored as `null`.
    pub async fn clear(&self, c: &ConnectionId) -> Result<(), StoreError> {
        self.secrets.put_secret(c, LEVER_TOKENS, &SecretString::new("null")).await?;
        self.cache.lock().unwrap().remove(c);
        Ok(())
    }

    pub async fn app_credentials(&self) -> Result<AppCredentials, TokenError> {
        let raw = self
            .secrets
            .app_secret(LEVER_APP)
            .await?
            .ok_or(TokenError::Unreadable("the Lever app credentials are not configured"))?;
        serde_json::from_str(raw.expose())
            .map_err(|_| TokenError::Unreadable("the Lever app credentials are unreadable"))
    }

    /// A usable access token: cached, stored, or refreshed ahead of expiry. `deadline_ms`: when
    /// the caller's invocation ends (a refresh that might not finish by then does not start).
    pub async fn access_token(
        &self,
        conn: &Connection,
        lever: &dyn Ats,
        deadline_ms: i64,
    ) -> Result<SecretString, TokenError> {
        if let Some(t) = self.cache.lock().unwrap().get(&conn.id).filter(|t| self.fresh(t)) {
            return Ok(SecretString::new(t.access_token.clone()));
        }
        let stored = self.stored(&conn.id).await?.ok_or(TokenError::NotAuthorized)?;
        if self.fresh(&stored) {
            self.cache.lock().unwrap().insert(conn.id.clone(), stored.clone());
            return Ok(SecretString::new(stored.access_token));
        }
        // Still valid for a while: use it rather than refresh too close to the deadline.
        let usable = stored.expires_at - self.now_ms() / 1000 > 30;
        match self.refresh(conn, lever, &stored.access_token, deadline_ms).await {
            Err(e) if usable && !e.needs_authorization() => Ok(SecretString::new(stored.access_token)),
            other => other,
        }
    }

    /// After a 401 with `used`: refresh once (unless someone already replaced that token).
    pub async fn after_unauthorized(
        &self,
        conn: &Connection,
        lever: &dyn Ats,
        used: &SecretString,
        deadline_ms: i64,
    ) -> Result<SecretString, TokenError> {
        self.cache.lock().unwrap().remove(&conn.id);
        self.refresh(conn, lever, used.expose(), deadline_ms).await
    }

    async fn refresh(
        &self,
        conn: &Connection,
        lever: &dyn Ats,
        stale_access: &str,
        deadline_ms: i64,
    ) -> Result<SecretString, TokenError> {
        let mut waited = false;
        let local = self.local.lock().unwrap().entry(conn.id.clone()).or_default().clone();
        let _one_here = local.lock().await;
        let owner = format!("refresh-{}", crate::random::id128());
        let lease_ms = self.refresh_worst_case(lever).as_millis() as i64;
        let give_up = tokio::time::Instant::now() + WAIT_FOR_OTHER;
        loop {
            // Someone (this process or another) may have refreshed while we waited.
            let current = self.stored(&conn.id).await?.ok_or(TokenError::NotAuthorized)?;
            if current.access_token != stale_access && self.fresh(&current) {
                self.cache.lock().unwrap().insert(conn.id.clone(), current.clone());
                return Ok(SecretString::new(current.access_token));
            }
            let now = self.now_ms();
            if now + lease_ms > deadline_ms {
                return Err(TokenError::TooCloseToDeadline(lease_ms / 1000));
            }
            let got = self.leases.try_lease(&conn.id, LEASE_NAME, &owner, now, now + lease_ms).await?;
            if got {
                let result = self.refresh_holding_lease(conn, lever, stale_access).await;
                let _ = self.leases.release_lease(&conn.id, LEASE_NAME, &owner).await;
                return result;
            }
            if tokio::time::Instant::now() >= give_up {
                return Err(TokenError::Busy);
            }
            if !waited {
                waited = true;
                // Waited for another instance's refresh (it held the lease).
                crate::metrics::count(|c| c.refresh_waits += 1);
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn refresh_holding_lease(
        &self,
        conn: &Connection,
        lever: &dyn Ats,
        stale_access: &str,
    ) -> Result<SecretString, TokenError> {
        // Read before the pair, so the lease covers no more than the worst case counts.
        let app = self.app_credentials().await?;
        // Re-read under the lease: the pair may have changed between our check and the lease.
        let current = self.stored(&conn.id).await?.ok_or(TokenError::NotAuthorized)?;
        if current.access_token != stale_access && self.fresh(&current) {
            return Ok(SecretString::new(current.access_token));
        }
        let spent = SecretString::new(current.refresh_token.clone());
        // Lever's token endpoint called.
        crate::metrics::count(|c| c.token_refreshes += 1);
        match lever.refresh(&app, &spent, self.now_ms() / 1000).await {
            Ok(new) => {
                // The old refresh token is spent: the new pair must be stored before it is used.
                let mut stored = self.store(&conn.id, &new).await;
                if stored.is_err() {
                    stored = self.store(&conn.id, &new).await;
                }
                if let Err(e) = stored {
                    tracing::error!(connection = %conn.id, error = %e, "refreshed Lever tokens could not be stored; kept in memory only");
                    self.cache.lock().unwrap().insert(conn.id.clone(), new);
                    return Err(TokenError::NotStored(e));
                }
                tracing::info!(connection = %conn.id, expires_at = new.expires_at, "Lever access token refreshed");
                Ok(SecretString::new(new.access_token))
            }
            Err(OAuthError::InvalidGrant(_)) => {
                // Our refresh token may be dead only because another instance (one that took the
                // lease after ours ran out) already spent it and stored the pair it got back.
                let now = self.stored(&conn.id).await?;
                if let Some(newer) = now.filter(|t| t.refresh_token != current.refresh_token) {
                    tracing::warn!(connection = %conn.id, "Lever refused a refresh token another instance had already spent; using the pair it stored");
                    if self.fresh(&newer) {
                        self.cache.lock().unwrap().insert(conn.id.clone(), newer.clone());
                    }
                    return Ok(SecretString::new(newer.access_token));
                }
                tracing::warn!(connection = %conn.id, "Lever refused the refresh token: marking the connection revoked");
                self.cache.lock().unwrap().remove(&conn.id);
                self.connections.set_status(&conn.id, ConnectionStatus::Revoked).await?;
                Err(TokenError::Revoked)
            }
            Err(e) => Err(TokenError::Lever(e)),
        }
    }
}
