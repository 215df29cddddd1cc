//! The authorization code flow: the start (invitation → Lever) and the callback (Lever → a
//! connected connection).
use std::sync::Arc;

use serde::Deserialize;

use super::account::{acting_user, bound_account};
use super::invitation::live_invitation;
use super::state::{StateClaims, open_state, redirect_uri, sign_state};
use super::{ConnectError, STATE_TTL_MS, replay_waiting, unavailable};
use crate::domain::ats::{LeverIdentity, TokenSet, identity_of};
use crate::domain::invitation::hash_token;
use crate::domain::*;
use crate::usecases::context::LeverContext;

/// Where to send the admin, and the nonce for the browser's cookie.
#[derive(Clone)]
pub struct Started {
    pub authorize_url: String,
    pub nonce: String,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started").field("authorize_url", &self.authorize_url).field("nonce", &"***").finish()
    }
}

/// `GET /oauth/lever/start?connection=ID&invitation=TOKEN` → Lever's authorize URL. Nothing
/// happens without a live invitation for that connection.
pub async fn start(
    deps: &LeverContext,
    connection: &str,
    invitation: Option<&str>,
    base_url: &str,
) -> Result<Started, ConnectError> {
    let token = invitation.filter(|t| !t.is_empty()).ok_or(ConnectError::NoInvitation)?;
    let id = ConnectionId::parse(connection).map_err(|_| ConnectError::NoInvitation)?;
    start_invited(deps, &id, &hash_token(token), base_url).await
}

/// The same, from the Lever section: its session carries the invitation's hash, not the token.
pub async fn start_invited(
    deps: &LeverContext,
    id: &ConnectionId,
    invitation_hash: &str,
    base_url: &str,
) -> Result<Started, ConnectError> {
    let id = id.clone();
    let now = (deps.clock)();
    let inv = live_invitation(deps, &id, invitation_hash, now).await?;
    let conn = deps.connections.connection(&id).await.map_err(unavailable)?.ok_or(ConnectError::NoInvitation)?;
    if conn.status == ConnectionStatus::Disabled {
        return Err(ConnectError::Disabled);
    }
    let app = deps.tokens.app_credentials().await.map_err(unavailable)?;
    let lever = deps.lever_for(&conn);
    let nonce = crate::random::token();
    let claims = StateClaims { c: id.to_string(), n: hash_token(&nonce), e: now + STATE_TTL_MS, i: inv.token_hash };
    let state = sign_state(deps, &claims).await?;
    Ok(Started { authorize_url: lever.authorize_url(&app.client_id, &redirect_uri(base_url), &state), nonce })
}

#[derive(Default, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackQuery")
            .field("code", &self.code.as_ref().map(|_| "***"))
            .field("state", &self.state.as_ref().map(|_| "***"))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

/// What the callback did, for the page the admin sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    pub connection: ConnectionId,
    pub perform_as: String,
    /// Why that user: the Super Admin who authorized, an operator's choice, the first Super Admin.
    pub perform_as_source: &'static str,
    pub replayed: usize,
    pub sync_started: bool,
}

/// `GET /oauth/lever/callback?code&state` (or `?error&error_description`). `cookie_nonce`: the
/// state cookie the browser sent. The steps: the return is the one that started (the state,
/// the browser, single use, a live invitation); Lever gives tokens for the code, from the
/// account the connection is bound to; the acting user; the binding written; then the first
/// sync and the replays of what waited.
pub async fn callback(
    deps: &LeverContext,
    q: &CallbackQuery,
    cookie_nonce: Option<&str>,
    base_url: &str,
    trigger: Option<&Arc<dyn SyncTrigger>>,
    deadline_ms: i64,
) -> Result<Connected, ConnectError> {
    let app = deps.tokens.app_credentials().await.map_err(unavailable)?;
    let now = (deps.clock)();
    let (id, claims, code) = returned(deps, q, cookie_nonce, now).await?;
    let conn = deps.connections.connection(&id).await.map_err(unavailable)?.ok_or(ConnectError::ForgedState)?;
    if conn.status == ConnectionStatus::Disabled {
        return Err(ConnectError::Disabled);
    }
    let lever = deps.lever_for(&conn);
    let tokens =
        lever.exchange_code(&app, code, &redirect_uri(base_url), now / 1000).await.map_err(ConnectError::Exchange)?;
    // Who authorized: a connection bound to one Lever account never moves to another here.
    let who = identity_of(&tokens.access_token);
    let bound = bound_account(deps, &conn).await?;
    same_account(&id, bound.as_deref(), who.account_id.as_deref())?;
    let access = SecretString::new(tokens.access_token.clone());
    let (perform_as, perform_as_source) = acting_user(&*lever, &access, &who, &conn).await?;
    let names = (
        user_label(&*lever, &access, who.user_id.as_deref()).await,
        user_label(&*lever, &access, Some(&perform_as)).await,
    );
    let binding = Binding { tokens, who, bound, perform_as: perform_as.clone(), perform_as_source, names, now };
    bind(deps, &id, &claims, binding).await?;
    // Lever's webhooks (outcomes back to XOR, erasure): never a reason to refuse the connect.
    if let Err(e) = super::subscribe::subscribe(deps, &conn, &access, base_url).await {
        tracing::warn!(connection = %id, error = %crate::domain::ports::error_chain(&e), "Lever webhooks not registered");
    }
    let sync_started = start_first_sync(trigger, &id).await;
    let replayed = replay_waiting(deps, &id, deadline_ms).await;
    Ok(Connected { connection: id, perform_as, perform_as_source, replayed, sync_started })
}

/// The browser that comes back is the one that started, with a state we signed, used once, for
/// an invitation still live, and Lever gave a code (not a refusal).
async fn returned<'q>(
    deps: &LeverContext,
    q: &'q CallbackQuery,
    cookie_nonce: Option<&str>,
    now: i64,
) -> Result<(ConnectionId, StateClaims, &'q str), ConnectError> {
    let state = q.state.as_deref().ok_or(ConnectError::ForgedState)?;
    let claims = open_state(deps, state, now).await?;
    let id = ConnectionId::parse(&claims.c).map_err(|_| ConnectError::ForgedState)?;
    // The browser that comes back must be the one that started: its cookie's nonce hashes to the
    // state's (equal-length hex digests, compared in constant time).
    let same_browser = cookie_nonce.is_some_and(|c| crate::usecases::signed::same(&hash_token(c), &claims.n));
    if !same_browser {
        tracing::warn!(connection = %id, "OAuth callback without the starting browser's cookie: refused");
        return Err(ConnectError::OtherBrowser);
    }
    if let Some(err) = &q.error {
        let why = q.error_description.clone().unwrap_or_else(|| err.clone());
        tracing::warn!(connection = %id, error = %err, "Lever authorization denied");
        return Err(ConnectError::Denied(why));
    }
    let code = q.code.as_deref().filter(|c| !c.is_empty()).ok_or(ConnectError::NoCode)?;
    // Single use: the nonce is leased until the state's expiry by this one callback.
    let lease = format!("oauth-state#{}", claims.n);
    let once =
        deps.tokens.leases.try_lease(&id, &lease, &crate::random::id128(), now, claims.e).await.map_err(unavailable)?;
    if !once {
        return Err(ConnectError::ReusedState);
    }
    // The invitation may have been used (another tab) or expired since the start.
    live_invitation(deps, &id, &claims.i, now).await?;
    Ok((id, claims, code))
}

/// A connection bound to a Lever account is authorized by that account only (and only by a
/// token that names one); an unbound one takes the account that authorizes.
fn same_account(id: &ConnectionId, bound: Option<&str>, authorizing: Option<&str>) -> Result<(), ConnectError> {
    match (bound, authorizing) {
        (Some(bound), Some(now_acct)) if bound != now_acct => {
            tracing::warn!(connection = %id, bound_account = %bound, authorizing_account = %now_acct, "authorization by a different Lever account refused");
            Err(ConnectError::OtherAccount)
        }
        (Some(bound), None) => {
            tracing::warn!(connection = %id, bound_account = %bound, "authorization without an account claim refused");
            Err(ConnectError::UnverifiedAccount)
        }
        (None, None) => {
            tracing::warn!(connection = %id, "Lever's token names no account: binding unverified");
            Ok(())
        }
        _ => Ok(()),
    }
}

/// What an authorization binds the connection to.
struct Binding {
    tokens: TokenSet,
    who: LeverIdentity,
    bound: Option<String>,
    perform_as: String,
    perform_as_source: &'static str,
    /// The authorizing and the acting user as people read them (when Lever said).
    names: (Option<String>, Option<String>),
    now: i64,
}

/// "Grace Hopper <grace@acme.example>" for a Lever user id; nothing when Lever does not say
/// (a label only: never a reason to refuse the connect).
async fn user_label(lever: &dyn Ats, access: &SecretString, id: Option<&str>) -> Option<String> {
    let u = lever.user(access, id?).await.ok()?;
    match (u.name, u.email) {
        (Some(n), Some(e)) => Some(format!("{n} <{e}>")),
        (n, e) => n.or(e),
    }
}

/// The invitation spent, the tokens stored, the Lever record and the status written.
async fn bind(deps: &LeverContext, id: &ConnectionId, claims: &StateClaims, b: Binding) -> Result<(), ConnectError> {
    // The invitation is spent by exactly one authorization (two tabs cannot both bind), after
    // everything that can refuse and before anything is written.
    if !deps.invitations.use_invitation(id, &claims.i, b.now).await.map_err(unavailable)? {
        return Err(ConnectError::InvitationUsed);
    }
    // Read the connection again: an operator's reset (or another binding) may have landed.
    let mut conn = deps.connections.connection(id).await.map_err(unavailable)?.ok_or(ConnectError::ForgedState)?;
    if conn.lever.account_id.as_ref().is_some_and(|a| b.who.account_id.as_ref() != Some(a)) {
        return Err(ConnectError::OtherAccount);
    }
    deps.tokens.store(id, &b.tokens).await.map_err(unavailable)?;
    // And once more just before the write, which replaces the whole Lever record: a
    // `revoke-links` that landed meanwhile must not be undone (its generation is kept).
    if let Some(now_conn) = deps.connections.connection(id).await.map_err(unavailable)? {
        conn.lever.links_generation = conn.lever.links_generation.max(now_conn.lever.links_generation);
        conn.lever.links_revoked_at_ms = now_conn.lever.links_revoked_at_ms.or(conn.lever.links_revoked_at_ms);
    }
    conn.lever.perform_as = Some(b.perform_as);
    conn.lever.perform_as_source = Some(b.perform_as_source.into());
    conn.lever.account_id = conn.lever.account_id.or(b.bound).or(b.who.account_id);
    conn.lever.authorized_by = b.who.user_id;
    (conn.lever.authorized_by_name, conn.lever.perform_as_name) = b.names;
    conn.lever.authorized_at = Some(b.now / 1000);
    // The link did its job: a later revoke counts as unattended at once (revoked-connections).
    conn.lever.invited_until_ms = None;
    deps.connections.set_lever(id, &conn.lever).await.map_err(unavailable)?;
    deps.connections.set_status(id, ConnectionStatus::Connected).await.map_err(unavailable)?;
    tracing::info!(connection = %id, account = ?conn.lever.account_id, authorized_by = ?conn.lever.authorized_by, "Lever authorized: connection connected");
    Ok(())
}

/// The first sync, started now rather than at the next tick (the schedule starts it otherwise).
async fn start_first_sync(trigger: Option<&Arc<dyn SyncTrigger>>, id: &ConnectionId) -> bool {
    let Some(t) = trigger else { return false };
    match t.trigger(id).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(connection = %id, error = %e, "could not start the first sync; the schedule will");
            false
        }
    }
}
