//! Connecting a customer: a Lever Super Admin authorizes xor-lever (OAuth authorization code),
//! the token pair lands in the connection's secret, the connection becomes `connected`, its first
//! sync starts, and webhooks that waited for it are replayed (each exactly once, by their claims).
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::adapters::lever::{AppCredentials, LeverError, SCOPES};
use crate::domain::*;
use crate::usecases::tokens::TokenError;
use crate::usecases::webhook::{WebhookDeps, replay};

/// A state is good for this long: the admin has ten minutes to log in and consent.
pub const STATE_TTL_MS: i64 = 10 * 60 * 1000;
pub const CALLBACK_PATH: &str = "/oauth/lever/callback";

/// Starts a connection's first sync after it connects (an async Lambda invoke when deployed, a
/// background task locally).
#[async_trait]
pub trait SyncTrigger: Send + Sync {
    async fn trigger(&self, connection: &ConnectionId) -> Result<(), String>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("unknown connection")]
    UnknownConnection,
    #[error("this authorization link is not valid (it was altered, or is for another deployment)")]
    ForgedState,
    #[error("this authorization link has expired: open the connect link again")]
    ExpiredState,
    #[error("this authorization link was already used: open the connect link again")]
    ReusedState,
    #[error("Lever did not authorize xor-lever: {0}")]
    Denied(String),
    #[error("Lever refused the authorization code: {0}")]
    Exchange(String),
    #[error("no Lever Super Admin was found to create candidates as: set one with --perform-as")]
    NoPerformAs,
    #[error("xor-lever cannot complete this right now ({0}); try again in a few minutes")]
    Unavailable(String),
    #[error("the connection is disabled by an operator: enable it first")]
    Disabled,
}

#[derive(Serialize, Deserialize)]
struct StateClaims {
    /// connection
    c: String,
    /// nonce (single use)
    n: String,
    /// expiry, Unix ms
    e: i64,
}

fn state_key(app: &AppCredentials) -> Hmac<Sha256> {
    // A key of its own, derived from the app secret: no extra secret to provision.
    let mut k = Hmac::<Sha256>::new_from_slice(app.client_secret.as_bytes()).expect("any key length");
    k.update(b"xor-lever oauth state v1");
    let key = k.finalize().into_bytes();
    Hmac::<Sha256>::new_from_slice(&key).expect("any key length")
}

pub fn sign_state(app: &AppCredentials, connection: &ConnectionId, now_ms: i64) -> String {
    let claims = StateClaims {
        c: connection.to_string(),
        n: format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
        e: now_ms + STATE_TTL_MS,
    };
    let payload = B64URL.encode(serde_json::to_vec(&claims).expect("serialises"));
    let mut mac = state_key(app);
    mac.update(payload.as_bytes());
    format!("{payload}.{}", B64URL.encode(mac.finalize().into_bytes()))
}

fn open_state(app: &AppCredentials, state: &str, now_ms: i64) -> Result<StateClaims, ConnectError> {
    let (payload, sig) = state.split_once('.').ok_or(ConnectError::ForgedState)?;
    let sig = B64URL.decode(sig).map_err(|_| ConnectError::ForgedState)?;
    let mut mac = state_key(app);
    mac.update(payload.as_bytes());
    mac.verify_slice(&sig).map_err(|_| ConnectError::ForgedState)?;
    let claims: StateClaims = serde_json::from_slice(&B64URL.decode(payload).map_err(|_| ConnectError::ForgedState)?)
        .map_err(|_| ConnectError::ForgedState)?;
    if claims.e < now_ms {
        return Err(ConnectError::ExpiredState);
    }
    Ok(claims)
}

fn redirect_uri(base_url: &str) -> String {
    format!("{}{CALLBACK_PATH}", base_url.trim_end_matches('/'))
}

/// `GET /oauth/lever/start?connection=ID` → the Lever authorize URL to redirect to.
pub async fn start(deps: &WebhookDeps, connection: &str, base_url: &str) -> Result<String, ConnectError> {
    let id = ConnectionId::parse(connection).map_err(|_| ConnectError::UnknownConnection)?;
    let conn = deps
        .connections
        .connection(&id)
        .await
        .map_err(|e| ConnectError::Unavailable(e.to_string()))?
        .ok_or(ConnectError::UnknownConnection)?;
    if conn.status == ConnectionStatus::Disabled {
        return Err(ConnectError::Disabled);
    }
    let app = deps.tokens.app_credentials().await.map_err(|e| ConnectError::Unavailable(e.to_string()))?;
    let lever = deps.lever_for(&conn);
    let state = sign_state(&app, &id, (deps.clock)());
    let q = [
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", &redirect_uri(base_url)),
        ("response_type", "code"),
        ("state", &state),
        ("scope", SCOPES),
        ("audience", &lever.hosts.audience()),
        ("prompt", "consent"),
    ];
    let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", crate::adapters::enc(v))).collect();
    Ok(format!("{}?{}", lever.hosts.authorize_url(), query.join("&")))
}

#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// What the callback did, for the page the admin sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    pub connection: ConnectionId,
    pub perform_as: String,
    pub replayed: usize,
    pub sync_started: bool,
}

/// `GET /oauth/lever/callback?code&state` (or `?error&error_description`).
pub async fn callback(
    deps: &WebhookDeps,
    q: &CallbackQuery,
    base_url: &str,
    trigger: Option<&Arc<dyn SyncTrigger>>,
    deadline_ms: i64,
) -> Result<Connected, ConnectError> {
    let app = deps.tokens.app_credentials().await.map_err(|e| ConnectError::Unavailable(e.to_string()))?;
    let now = (deps.clock)();
    let state = q.state.as_deref().ok_or(ConnectError::ForgedState)?;
    let claims = open_state(&app, state, now)?;
    let id = ConnectionId::parse(&claims.c).map_err(|_| ConnectError::ForgedState)?;
    if let Some(err) = &q.error {
        let why = q.error_description.clone().unwrap_or_else(|| err.clone());
        tracing::warn!(connection = %id, error = %err, "Lever authorization denied");
        return Err(ConnectError::Denied(why));
    }
    let code = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ConnectError::Exchange("no code in the callback".into()))?;
    // Single use: the nonce is leased until the state's expiry by this one callback.
    let once = deps
        .tokens
        .leases
        .try_lease(&id, &format!("oauth-state#{}", claims.n), &format!("{:016x}", fastrand::u64(..)), now, claims.e)
        .await
        .map_err(|e| ConnectError::Unavailable(e.to_string()))?;
    if !once {
        return Err(ConnectError::ReusedState);
    }
    let mut conn = deps
        .connections
        .connection(&id)
        .await
        .map_err(|e| ConnectError::Unavailable(e.to_string()))?
        .ok_or(ConnectError::UnknownConnection)?;
    if conn.status == ConnectionStatus::Disabled {
        return Err(ConnectError::Disabled);
    }
    let lever = deps.lever_for(&conn);
    let tokens = lever
        .exchange_code(&app, code, &redirect_uri(base_url), now / 1000)
        .await
        .map_err(|e| ConnectError::Exchange(e.to_string()))?;
    let access = SecretString::new(tokens.access_token.clone());
    let perform_as = match conn.lever.perform_as.clone() {
        Some(u) => u,
        None => {
            let users = lever.users(&access).await.map_err(|e| match e {
                LeverError::Unavailable { .. } => ConnectError::Unavailable(e.to_string()),
                other => ConnectError::Exchange(other.to_string()),
            })?;
            // The authorizing admin is a Super Admin; Lever does not say which one, so the first.
            users
                .iter()
                .find(|u| u.access_role.as_deref().is_some_and(|r| r.eq_ignore_ascii_case("super admin")))
                .map(|u| u.id.clone())
                .ok_or(ConnectError::NoPerformAs)?
        }
    };
    deps.tokens.store(&id, &tokens).await.map_err(|e| ConnectError::Unavailable(e.to_string()))?;
    if conn.lever.perform_as.as_deref() != Some(perform_as.as_str()) {
        conn.lever.perform_as = Some(perform_as.clone());
        deps.connections.set_lever(&id, &conn.lever).await.map_err(|e| ConnectError::Unavailable(e.to_string()))?;
    }
    deps.connections
        .set_status(&id, ConnectionStatus::Connected)
        .await
        .map_err(|e| ConnectError::Unavailable(e.to_string()))?;
    tracing::info!(connection = %id, "Lever authorized: connection connected");
    let sync_started = match trigger {
        Some(t) => match t.trigger(&id).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(connection = %id, error = %e, "could not start the first sync; the schedule will");
                false
            }
        },
        None => false,
    };
    let replayed = replay_waiting(deps, &id, deadline_ms).await;
    Ok(Connected { connection: id, perform_as, replayed, sync_started })
}

/// Replays the connection's `pending_reauth` deliveries now that it is connected again (the
/// claims make each exactly once; what the deadline leaves is swept by the scheduled function).
pub async fn replay_waiting(deps: &WebhookDeps, id: &ConnectionId, deadline_ms: i64) -> usize {
    let waiting = match deps.webhooks.deliveries(Some(id), Some(DeliveryStatus::PendingReauth), 1000).await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(connection = %id, error = %e, "could not list waiting webhooks");
            return 0;
        }
    };
    let mut n = 0;
    for d in waiting.into_iter().rev() {
        if (deps.clock)() + 5_000 >= deadline_ms {
            break;
        }
        if replay(deps, id, &d.webhook_id, deadline_ms).await.is_ok() {
            n += 1;
        }
    }
    n
}

/// The Lever side of a scheduled run: is the app still authorized? A refresh (when due) keeps
/// the refresh token in use (Lever expires idle ones after ~90 days); `invalid_grant` or a 401
/// after a refresh marks the connection revoked.
pub async fn check_lever(deps: &WebhookDeps, conn: &Connection) -> Result<(), TokenError> {
    let lever = deps.lever_for(conn);
    let token = deps.tokens.access_token(conn, &lever).await?;
    match lever.users(&token).await {
        Ok(_) => Ok(()),
        Err(LeverError::Unauthorized { .. }) => {
            let fresh = deps.tokens.after_unauthorized(conn, &lever, &token).await?;
            match lever.users(&fresh).await {
                Err(LeverError::Unauthorized { .. }) => {
                    deps.connections
                        .set_status(&conn.id, ConnectionStatus::Revoked)
                        .await
                        .map_err(|e| TokenError::Unavailable(e.to_string()))?;
                    Err(TokenError::Revoked)
                }
                _ => Ok(()),
            }
        }
        Err(e) => Err(TokenError::Unavailable(e.to_string())),
    }
}

/// Locally (`xor-lever serve`): the first sync runs as a background task.
pub struct LocalSyncTrigger(pub crate::usecases::SyncDeps);

#[async_trait]
impl SyncTrigger for LocalSyncTrigger {
    async fn trigger(&self, connection: &ConnectionId) -> Result<(), String> {
        let (deps, id) = (self.0.clone(), connection.clone());
        tokio::spawn(async move {
            crate::usecases::sync_connection(&deps, &id, &Default::default()).await;
        });
        Ok(())
    }
}
