//! Connecting a customer: a Lever Super Admin authorizes xor-lever (OAuth authorization code),
//! the token pair lands in the connection's secret, the connection becomes `connected`, its first
//! sync starts, and webhooks that waited for it are replayed (each exactly once, by their claims).
//!
//! `invitation`: the operator's connect links; `state`: the signed OAuth state and the browser
//! cookie; `flow`: the start and the callback; `account`: who authorized and who acts.
use crate::domain::*;
use crate::usecases::context::LeverContext;
use crate::usecases::webhook::replay;

mod account;
mod flow;
mod invitation;
mod state;
pub mod subscribe;

pub use flow::{CallbackQuery, Connected, Started, callback, start, start_invited};
pub(crate) use invitation::live_invitation;
pub use invitation::{connect_link, invite};
pub use state::{state_cookie, state_cookie_name};

/// A state is good for this long: the admin has ten minutes to log in and consent.
pub const STATE_TTL_MS: i64 = 10 * 60 * 1000;
pub const CALLBACK_PATH: &str = "/oauth/lever/callback";

#[derive(Debug, thiserror::Error)]
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
    Exchange(#[source] OAuthError),
    #[error("Lever's redirect carried no authorization code")]
    NoCode,
    /// Who authorized could not be looked up (a final refusal of the Data API).
    #[error("Lever refused to say who authorized: {0}")]
    Lookup(#[source] LeverError),
    #[error("no Lever Super Admin was found to create candidates as: set one with --perform-as")]
    NoPerformAs,
    /// Lever's help article: the integration can only be configured by Super Admins.
    #[error(
        "only a Lever Super Admin can connect xor-lever. You signed in to Lever as {name} ({role}): nothing was changed. Ask a Super Admin of your Lever account to open this link"
    )]
    NotSuperAdmin { name: String, role: String },
    /// The cause is logged, never shown: this page is public.
    #[error("xor-lever cannot complete this right now; try again in a few minutes")]
    Unavailable(#[source] crate::domain::ports::BoxError),
    #[error("the connection is disabled by an operator: enable it first")]
    Disabled,
    /// For the operator (no connect link exists yet to show it to anyone else).
    #[error(
        "xor-lever's Lever app is not set up yet (no app secret, or a placeholder): run `xor-lever lever-app set --client-id … --client-secret …` first, then `connections connect-url`"
    )]
    AppNotSet,
    /// For the operator too: the connection's Lever environment is not the app's.
    #[error(
        "{0}: move the connection with `xor-lever connections reset-lever ID --lever-env …`, or set the app of its environment"
    )]
    OtherEnvironment(String),
}

pub(super) fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> ConnectError {
    tracing::error!(error = %crate::domain::ports::error_chain(&e), "connect flow: a store or Lever is unavailable");
    ConnectError::Unavailable(Box::new(e))
}

/// An operator's explicit rebinding: forgets the Lever account, the token pair and the user
/// candidates are created as, and sets the connection `pending` until a new authorization.
/// Where a reset moves the connection's Lever: another region, or another Data API or OAuth host
/// (where Lever pointed a refused redirect). Nothing by default.
#[derive(Debug, Clone, Default)]
pub struct Relocation {
    pub env: Option<LeverEnv>,
    pub api_base_url: Option<String>,
    pub auth_base_url: Option<String>,
}

pub async fn reset_lever(
    deps: &LeverContext,
    id: &ConnectionId,
    by: &str,
    to: &Relocation,
) -> Result<Option<String>, ConnectError> {
    let mut conn = deps.connections.connection(id).await.map_err(unavailable)?.ok_or(ConnectError::NoInvitation)?;
    let previous = account::bound_account(deps, &conn).await?;
    // A move to another region or host (an EU account set up as global, a host Lever pointed
    // to): the new authorization is made there.
    if let Some(env) = to.env {
        conn.lever.env = env;
    }
    if let Some(u) = &to.api_base_url {
        conn.lever.api_base_url = Some(u.clone());
    }
    if let Some(u) = &to.auth_base_url {
        conn.lever.auth_base_url = Some(u.clone());
    }
    conn.lever.account_id = None;
    conn.lever.perform_as = None;
    conn.lever.authorized_by = None;
    conn.lever.authorized_by_name = None;
    conn.lever.perform_as_name = None;
    conn.lever.authorized_at = None;
    // On the record: who reset it, and when.
    conn.lever.reset =
        Some(format!("{by} at {} (was account {})", (deps.clock)() / 1000, previous.as_deref().unwrap_or("unknown")));
    // Links sent before the reset were for the old binding (possibly another customer's): the
    // invitations, and every page link and section session issued until now.
    deps.invitations.revoke_invitations(id, (deps.clock)()).await.map_err(unavailable)?;
    crate::usecases::section::access::next_generation(&mut conn.lever, (deps.clock)());
    // The old account's webhooks go with its binding (while its token still works).
    match subscribe::unsubscribe(deps, &conn, (deps.clock)() + 30_000).await {
        Ok(n) => tracing::info!(connection = %id, deleted = n, "Lever webhooks of the old binding removed"),
        Err(e) => {
            tracing::warn!(connection = %id, error = %crate::domain::ports::error_chain(&e), "Lever webhooks of the old binding not removed")
        }
    }
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
