//! Connecting a customer: a Lever Super Admin authorizes xor-lever (OAuth authorization code),
//! the token pair lands in the connection's secret, the connection becomes `connected`, its first
//! sync starts, and webhooks that waited for it are replayed (each exactly once, by their claims).
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::adapters::lever::{AppCredentials, LeverError, SCOPES, identity_of};
use crate::domain::invitation::hash_token;
use crate::domain::*;
use crate::usecases::context::LeverContext;
use crate::usecases::webhook::replay;

/// A state is good for this long: the admin has ten minutes to log in and consent.
pub const STATE_TTL_MS: i64 = 10 * 60 * 1000;
pub const CALLBACK_PATH: &str = "/oauth/lever/callback";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// No invitation, a wrong one, or one for another connection (an outsider learns nothing
    /// about which connections exist).
    #[error("this connect link is not valid: ask your xor-lever contact for a new one")]
    NoInvitation,
    #[error("this connect link was already used, or replaced by a newer one: ask your xor-lever contact for a new one")]
    InvitationUsed,
    #[error("this connect link has expired: ask your xor-lever contact for a new one")]
    InvitationExpired,
    #[error("this authorization link is not valid (it was altered, or is for another deployment)")]
    ForgedState,
    #[error("this authorization link has expired: open the connect link again")]
    ExpiredState,
    #[error("this authorization link was already used: open the connect link again")]
    ReusedState,
    /// The callback arrived in a browser that did not start the flow (a state link handed on).
    #[error(
        "this authorization was started in another browser (or this browser blocked its cookie): open the connect link again, in the browser you sign in to Lever with"
    )]
    OtherBrowser,
    #[error(
        "this connection is bound to a different Lever account: it was not changed. If the customer really moved to another Lever account, ask your xor-lever contact to reset the connection"
    )]
    OtherAccount,
    #[error(
        "Lever did not say which account authorized, and this connection is bound to a Lever account: it was not changed. Ask your xor-lever contact to reset the connection"
    )]
    UnverifiedAccount,
    #[error("Lever did not authorize xor-lever: {0}")]
    Denied(String),
    #[error("Lever refused the authorization code: {0}")]
    Exchange(String),
    #[error("no Lever Super Admin was found to create candidates as: set one with --perform-as")]
    NoPerformAs,
    /// Lever's help article: the integration can only be configured by Super Admins.
    #[error(
        "only a Lever Super Admin can connect xor-lever. You signed in to Lever as {name} ({role}): nothing was changed. Ask a Super Admin of your Lever account to open this link"
    )]
    NotSuperAdmin { name: String, role: String },
    /// The cause is logged, never shown: this page is public.
    #[error("xor-lever cannot complete this right now; try again in a few minutes")]
    Unavailable(String),
    #[error("the connection is disabled by an operator: enable it first")]
    Disabled,
}

fn unavailable(e: impl std::fmt::Display) -> ConnectError {
    tracing::error!(error = %e, "connect flow: a store or Lever is unavailable");
    ConnectError::Unavailable(e.to_string())
}

#[derive(Serialize, Deserialize)]
struct StateClaims {
    /// connection
    c: String,
    /// SHA-256 of the nonce the browser's cookie holds (the state travels through URLs and
    /// Lever: whoever sees it must not learn the cookie's value). Single use.
    n: String,
    /// expiry, Unix ms
    e: i64,
    /// the invitation's hash
    i: String,
}

fn state_key(app: &AppCredentials) -> Hmac<Sha256> {
    // A key of its own, derived from the app secret: no extra secret to provision.
    let mut k = Hmac::<Sha256>::new_from_slice(app.client_secret.as_bytes()).expect("any key length");
    k.update(b"xor-lever oauth state v2");
    let key = k.finalize().into_bytes();
    Hmac::<Sha256>::new_from_slice(&key).expect("any key length")
}

fn sign_state(app: &AppCredentials, claims: &StateClaims) -> String {
    let payload = B64URL.encode(serde_json::to_vec(claims).expect("serialises"));
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

/// The cookie that binds the flow to the browser that started it: `__Host-` (Secure, no Domain,
/// Path=/) on HTTPS; the same without the prefix on plain-HTTP loopback (`serve`, `dev`), where
/// browsers refuse `Secure` cookies.
pub fn state_cookie_name(base_url: &str) -> &'static str {
    if base_url.starts_with("https://") { "__Host-xor_lever_oauth" } else { "xor_lever_oauth" }
}

/// `Set-Cookie` for the nonce (`Max-Age` 0 with an empty value clears it).
pub fn state_cookie(base_url: &str, nonce: &str, max_age_s: i64) -> String {
    let secure = if base_url.starts_with("https://") { "; Secure" } else { "" };
    format!("{}={nonce}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}", state_cookie_name(base_url))
}

/// Mints an invitation for `id`: the token to put in the connect link (shown once; only its
/// hash is stored).
pub async fn invite(
    deps: &LeverContext,
    id: &ConnectionId,
    valid_days: u32,
) -> Result<(String, Invitation), ConnectError> {
    deps.connections.connection(id).await.map_err(unavailable)?.ok_or(ConnectError::NoInvitation)?;
    let token = crate::random::token();
    let now = (deps.clock)();
    let invitation = Invitation::new(id.clone(), &token, now, valid_days);
    // A new link replaces the earlier ones: only the latest an operator sent can connect.
    let revoked = deps.invitations.revoke_invitations(id, now).await.map_err(unavailable)?;
    if revoked > 0 {
        tracing::info!(connection = %id, revoked, "earlier connect invitations revoked");
    }
    deps.invitations.put_invitation(&invitation).await.map_err(unavailable)?;
    tracing::info!(connection = %id, expires_at_ms = invitation.expires_at_ms, "connect invitation issued");
    Ok((token, invitation))
}

/// The connect link for an invitation token.
pub fn connect_link(base_url: &str, id: &ConnectionId, token: &str) -> String {
    format!(
        "{}/oauth/lever/start?connection={}&invitation={}",
        base_url.trim_end_matches('/'),
        crate::adapters::enc(id.as_str()),
        crate::adapters::enc(token)
    )
}

async fn live_invitation(
    deps: &LeverContext,
    id: &ConnectionId,
    token_hash: &str,
    now: i64,
) -> Result<Invitation, ConnectError> {
    let inv =
        deps.invitations.invitation(id, token_hash).await.map_err(unavailable)?.ok_or(ConnectError::NoInvitation)?;
    match inv.state(now) {
        InvitationState::Live => Ok(inv),
        InvitationState::Used => Err(ConnectError::InvitationUsed),
        InvitationState::Expired => Err(ConnectError::InvitationExpired),
    }
}

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
    let now = (deps.clock)();
    let inv = live_invitation(deps, &id, &hash_token(token), now).await?;
    let conn = deps.connections.connection(&id).await.map_err(unavailable)?.ok_or(ConnectError::NoInvitation)?;
    if conn.status == ConnectionStatus::Disabled {
        return Err(ConnectError::Disabled);
    }
    let app = deps.tokens.app_credentials().await.map_err(unavailable)?;
    let lever = deps.lever_for(&conn);
    let nonce = crate::random::token();
    let claims = StateClaims { c: id.to_string(), n: hash_token(&nonce), e: now + STATE_TTL_MS, i: inv.token_hash };
    let state = sign_state(&app, &claims);
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
    Ok(Started { authorize_url: format!("{}?{}", lever.hosts.authorize_url(), query.join("&")), nonce })
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
/// state cookie the browser sent.
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
    let state = q.state.as_deref().ok_or(ConnectError::ForgedState)?;
    let claims = open_state(&app, state, now)?;
    let id = ConnectionId::parse(&claims.c).map_err(|_| ConnectError::ForgedState)?;
    // The browser that comes back must be the one that started: its cookie's nonce hashes to the
    // state's (equal-length hex digests, compared in constant time).
    let same_browser = cookie_nonce.is_some_and(|c| {
        let h = hash_token(c);
        h.len() == claims.n.len() && h.bytes().zip(claims.n.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    });
    if !same_browser {
        tracing::warn!(connection = %id, "OAuth callback without the starting browser's cookie: refused");
        return Err(ConnectError::OtherBrowser);
    }
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
        .try_lease(&id, &format!("oauth-state#{}", claims.n), &crate::random::id128(), now, claims.e)
        .await
        .map_err(unavailable)?;
    if !once {
        return Err(ConnectError::ReusedState);
    }
    // The invitation may have been used (another tab) or expired since the start.
    live_invitation(deps, &id, &claims.i, now).await?;
    let conn = deps.connections.connection(&id).await.map_err(unavailable)?.ok_or(ConnectError::ForgedState)?;
    if conn.status == ConnectionStatus::Disabled {
        return Err(ConnectError::Disabled);
    }
    let lever = deps.lever_for(&conn);
    let tokens = lever
        .exchange_code(&app, code, &redirect_uri(base_url), now / 1000)
        .await
        .map_err(|e| ConnectError::Exchange(e.to_string()))?;
    // Who authorized: a connection bound to one Lever account never moves to another here.
    let who = identity_of(&tokens.access_token);
    let bound = bound_account(deps, &conn).await?;
    match (&bound, &who.account_id) {
        (Some(bound), Some(now_acct)) if bound != now_acct => {
            tracing::warn!(connection = %id, bound_account = %bound, authorizing_account = %now_acct, "authorization by a different Lever account refused");
            return Err(ConnectError::OtherAccount);
        }
        (Some(bound), None) => {
            tracing::warn!(connection = %id, bound_account = %bound, "authorization without an account claim refused");
            return Err(ConnectError::UnverifiedAccount);
        }
        (None, None) => {
            tracing::warn!(connection = %id, "Lever's token names no account: binding unverified");
        }
        _ => {}
    }
    let access = SecretString::new(tokens.access_token.clone());
    let (perform_as, perform_as_source) = acting_user(&lever, &access, &who, &conn).await?;
    // The invitation is spent by exactly one authorization (two tabs cannot both bind), after
    // everything that can refuse and before anything is written.
    if !deps.invitations.use_invitation(&id, &claims.i, now).await.map_err(unavailable)? {
        return Err(ConnectError::InvitationUsed);
    }
    // Read the connection again: an operator's reset (or another binding) may have landed.
    let mut conn = deps.connections.connection(&id).await.map_err(unavailable)?.ok_or(ConnectError::ForgedState)?;
    if conn.lever.account_id.as_ref().is_some_and(|a| who.account_id.as_ref() != Some(a)) {
        return Err(ConnectError::OtherAccount);
    }
    deps.tokens.store(&id, &tokens).await.map_err(unavailable)?;
    conn.lever.perform_as = Some(perform_as.clone());
    conn.lever.perform_as_source = Some(perform_as_source.into());
    conn.lever.account_id = conn.lever.account_id.or(bound).or(who.account_id);
    conn.lever.authorized_by = who.user_id;
    conn.lever.authorized_at = Some(now / 1000);
    deps.connections.set_lever(&id, &conn.lever).await.map_err(unavailable)?;
    deps.connections.set_status(&id, ConnectionStatus::Connected).await.map_err(unavailable)?;
    tracing::info!(connection = %id, account = ?conn.lever.account_id, authorized_by = ?conn.lever.authorized_by, "Lever authorized: connection connected");
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
    Ok(Connected { connection: id, perform_as, perform_as_source, replayed, sync_started })
}

fn lever_refusal(e: LeverError) -> ConnectError {
    match e {
        LeverError::Unavailable { .. } => unavailable(e),
        other => ConnectError::Exchange(other.to_string()),
    }
}

fn is_super_admin(u: &crate::adapters::lever::LeverUser) -> bool {
    u.access_role.as_deref().is_some_and(|r| r.eq_ignore_ascii_case("super admin"))
}

/// Who candidates are created as, and why: the authorizing user (Lever's help article: only a
/// Super Admin may configure the integration, so anyone else is refused here, before anything is
/// stored); without a `userId` claim, the configured user, else the first Super Admin of the
/// account (every page of `GET /users?accessRole=super admin`).
async fn acting_user(
    lever: &crate::adapters::lever::LeverClient,
    access: &SecretString,
    who: &crate::adapters::lever::LeverIdentity,
    conn: &Connection,
) -> Result<(String, &'static str), ConnectError> {
    if let Some(uid) = &who.user_id {
        let user = lever.user(access, uid).await.map_err(lever_refusal)?;
        if !is_super_admin(&user) {
            tracing::warn!(connection = %conn.id, user = %uid, role = ?user.access_role, "authorization by a user who is not a Super Admin refused");
            return Err(ConnectError::NotSuperAdmin {
                name: user.name.unwrap_or_else(|| "this user".into()),
                role: user.access_role.unwrap_or_else(|| "no role".into()),
            });
        }
        return Ok((user.id, "the Super Admin who authorized"));
    }
    if let Some(u) = &conn.lever.perform_as {
        return Ok((u.clone(), "configured by an operator"));
    }
    let admins = lever.users_with_role(access, "super admin").await.map_err(lever_refusal)?;
    let first = admins.into_iter().find(is_super_admin).ok_or(ConnectError::NoPerformAs)?;
    Ok((first.id, "the account's first Super Admin (Lever did not say who authorized)"))
}

/// The Lever account a connection is bound to: recorded at its authorization, or — for a
/// connection authorized before accounts were recorded — named by the token pair it holds.
async fn bound_account(deps: &LeverContext, conn: &Connection) -> Result<Option<String>, ConnectError> {
    if let Some(a) = &conn.lever.account_id {
        return Ok(Some(a.clone()));
    }
    let stored = deps.tokens.stored(&conn.id).await.map_err(unavailable)?;
    Ok(stored.and_then(|t| identity_of(&t.access_token).account_id))
}

/// An operator's explicit rebinding: forgets the Lever account, the token pair and the user
/// candidates are created as, and sets the connection `pending` until a new authorization.
pub async fn reset_lever(deps: &LeverContext, id: &ConnectionId, by: &str) -> Result<Option<String>, ConnectError> {
    let mut conn = deps.connections.connection(id).await.map_err(unavailable)?.ok_or(ConnectError::NoInvitation)?;
    let previous = bound_account(deps, &conn).await?;
    conn.lever.account_id = None;
    conn.lever.perform_as = None;
    conn.lever.authorized_by = None;
    conn.lever.authorized_at = None;
    // On the record: who reset it, and when.
    conn.lever.reset =
        Some(format!("{by} at {} (was account {})", (deps.clock)() / 1000, previous.as_deref().unwrap_or("unknown")));
    // Links sent before the reset were for the old binding.
    deps.invitations.revoke_invitations(id, (deps.clock)()).await.map_err(unavailable)?;
    deps.tokens.clear(id).await.map_err(unavailable)?;
    deps.connections.set_lever(id, &conn.lever).await.map_err(unavailable)?;
    if conn.status != ConnectionStatus::Disabled {
        deps.connections.set_status(id, ConnectionStatus::Pending).await.map_err(unavailable)?;
    }
    tracing::warn!(connection = %id, previous_account = ?previous, by, "Lever binding reset by an operator");
    Ok(previous)
}

/// Replays the connection's `pending_reauth` deliveries now that it is connected again (the
/// claims make each exactly once; what the deadline leaves is swept by the scheduled function).
pub async fn replay_waiting(deps: &LeverContext, id: &ConnectionId, deadline_ms: i64) -> usize {
    let mut n = 0;
    let mut after = None;
    loop {
        let page = match deps.webhooks.deliveries(id, DeliveryStatus::PendingReauth, 100, after.as_ref()).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(connection = %id, error = %e, "could not list waiting webhooks");
                return n;
            }
        };
        for d in page.items {
            if (deps.clock)() + 5_000 >= deadline_ms {
                return n;
            }
            if replay(deps, id, &d.webhook_id, deadline_ms).await.is_ok() {
                n += 1;
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return n,
        }
    }
}
