//! Lever's webhooks for a connection (issue 25): once a Super Admin authorizes, the app
//! registers one webhook per event it uses at `<public URL>/webhooks/lever/<connection>` — after
//! listing what is there, so a reconnect never registers twice — and keeps each signature token
//! in the connection's secret (`LEVER_WEBHOOKS`). Lever gives a token only when a webhook is
//! created: one of ours whose token we do not hold is deleted and created again.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::ats::LeverWebhook;
use crate::domain::ats::lever_webhook::EVENTS;
use crate::domain::ports::LEVER_WEBHOOKS;
use crate::domain::*;
use crate::usecases::context::LeverContext;

/// A registered webhook, as the connection's secret keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub id: String,
    pub token: String,
}

/// event → its webhook.
pub type Hooks = BTreeMap<String, Hook>;

/// Why the webhooks could not be registered (the connection stays connected: candidates still
/// flow; only outcomes wait).
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// An authorization from before the webhook scope: "Authorize again" grants it.
    #[error("the authorization does not allow webhooks (authorize again)")]
    NotGranted(#[source] LeverError),
    #[error("Lever: {0}")]
    Lever(#[source] LeverError),
    #[error("the store: {0}")]
    Store(#[source] StoreError),
}

fn refused(e: LeverError) -> SubscribeError {
    match e {
        LeverError::Forbidden { .. } | LeverError::Unauthorized { .. } => SubscribeError::NotGranted(e),
        e => SubscribeError::Lever(e),
    }
}

/// The URL Lever posts a connection's events to.
pub fn webhook_url(base_url: &str, id: &ConnectionId) -> String {
    format!("{}/webhooks/lever/{}", base_url.trim_end_matches('/'), crate::url::enc(id.as_str()))
}

/// Registers what is missing (and replaces one of ours whose token is lost), stores the tokens.
pub async fn subscribe(
    deps: &LeverContext,
    conn: &Connection,
    access: &SecretString,
    base_url: &str,
) -> Result<Hooks, SubscribeError> {
    let lever = deps.lever_for(conn);
    let url = webhook_url(base_url, &conn.id);
    let mut kept = stored(deps, &conn.id).await?;
    let ours: Vec<LeverWebhook> =
        lever.webhooks(access).await.map_err(refused)?.into_iter().filter(|w| w.url == url).collect();
    // Ours in Lever whose token we hold stay; the others (a lost token, a stray copy) go.
    let held = kept.len();
    kept.retain(|event, hook| ours.iter().any(|w| w.id == hook.id && &w.event == event));
    for w in ours.iter().filter(|w| kept.get(&w.event).is_none_or(|h| h.id != w.id)) {
        lever.delete_webhook(access, &w.id).await.map_err(refused)?;
    }
    let missing: Vec<&str> = EVENTS.iter().copied().filter(|e| !kept.contains_key(*e)).collect();
    for event in &missing {
        let w = lever.create_webhook(access, &url, event).await.map_err(refused)?;
        let token = w.signature_token.unwrap_or_default();
        kept.insert((*event).to_owned(), Hook { id: w.id, token });
        // Kept as soon as made: a failure on the next event must not lose this one's token.
        store(deps, &conn.id, &kept).await?;
    }
    // Nothing created, but the tokens of webhooks gone from Lever dropped: written here.
    if missing.is_empty() && kept.len() != held {
        store(deps, &conn.id, &kept).await?;
    }
    tracing::info!(connection = %conn.id, webhooks = kept.len(), "Lever webhooks registered");
    Ok(kept)
}

/// The signature tokens kept for the connection (none yet: empty).
pub async fn stored(deps: &LeverContext, id: &ConnectionId) -> Result<Hooks, SubscribeError> {
    let raw = deps.secrets.secret(id, LEVER_WEBHOOKS).await.map_err(SubscribeError::Store)?;
    Ok(raw.and_then(|s| serde_json::from_str(s.expose()).ok()).unwrap_or_default())
}

async fn store(deps: &LeverContext, id: &ConnectionId, hooks: &Hooks) -> Result<(), SubscribeError> {
    let json = serde_json::to_string(hooks).expect("hooks serialise");
    deps.secrets.put_secret(id, LEVER_WEBHOOKS, &SecretString::new(json)).await.map_err(SubscribeError::Store)?;
    // Forgotten tokens stop being believed here at once (other warm instances within a minute).
    deps.secret_cache.forget(&cache_key(id));
    Ok(())
}

/// Where the route's secret cache keeps a connection's signature tokens.
pub fn cache_key(id: &ConnectionId) -> String {
    format!("{id}/{LEVER_WEBHOOKS}")
}

/// Deletes the connection's webhooks in Lever (with its current authorization, while it still
/// works) and forgets their tokens: an operator's rebinding (`reset-lever`). Best effort in
/// Lever: a refused or failed delete leaves a webhook Lever will stop calling once the app's
/// authorization ends; the tokens are forgotten either way, so nothing it sends is believed.
pub async fn unsubscribe(deps: &LeverContext, conn: &Connection, deadline_ms: i64) -> Result<usize, SubscribeError> {
    let hooks = stored(deps, &conn.id).await?;
    if hooks.is_empty() {
        return Ok(0);
    }
    let lever = deps.lever_for(conn);
    let mut deleted = 0;
    match deps.tokens.access_token(conn, &*lever, deadline_ms).await {
        Ok(access) => {
            for hook in hooks.values() {
                match lever.delete_webhook(&access, &hook.id).await {
                    Ok(()) => deleted += 1,
                    Err(e) => {
                        tracing::warn!(connection = %conn.id, webhook = %hook.id, error = %e, "Lever webhook not deleted")
                    }
                }
            }
        }
        Err(e) => tracing::warn!(connection = %conn.id, error = %e, "no Lever token: webhooks left for Lever to drop"),
    }
    store(deps, &conn.id, &Hooks::new()).await?;
    Ok(deleted)
}
