//! The operator's invitations: minting a connect link, and checking one is still live.
use super::{ConnectError, unavailable};
use crate::domain::*;
use crate::usecases::context::LeverContext;

/// Mints an invitation for `id`: the token to put in the connect link (shown once; only its
/// hash is stored).
pub async fn invite(
    deps: &LeverContext,
    id: &ConnectionId,
    valid_days: u32,
) -> Result<(String, Invitation), ConnectError> {
    let c = deps.connections.connection(id).await.map_err(unavailable)?.ok_or(ConnectError::NoInvitation)?;
    // A link to an app Lever does not know, or of another environment than the account's,
    // could only fail at Lever's authorize page.
    match deps.tokens.app_credentials().await {
        Ok(app) if app.client_id != crate::domain::ats::APP_PLACEHOLDER_CLIENT_ID => {
            if let Some(why) = app.refuses(c.lever.env) {
                return Err(ConnectError::OtherEnvironment(why));
            }
        }
        Ok(_) | Err(crate::usecases::tokens::TokenError::Unreadable(_)) => return Err(ConnectError::AppNotSet),
        Err(e) => return Err(unavailable(e)),
    }
    let token = crate::random::token();
    let now = (deps.clock)();
    let invitation = Invitation::new(id.clone(), &token, now, valid_days);
    // A new link replaces the earlier ones: only the latest an operator sent can connect.
    let revoked = deps.invitations.revoke_invitations(id, now).await.map_err(unavailable)?;
    if revoked > 0 {
        tracing::info!(connection = %id, revoked, "earlier connect invitations revoked");
    }
    deps.invitations.put_invitation(&invitation).await.map_err(unavailable)?;
    // The operator has acted on a revoke: the alarm waits for the link's end before counting it.
    // Read again just before the write, which replaces the whole Lever record (a callback or a
    // remembered redirect may have landed since the read above).
    let fresh = deps.connections.connection(id).await.map_err(unavailable)?;
    let mut lever = fresh.map_or(c.lever, |f| f.lever);
    lever.invited_until_ms = Some(invitation.expires_at_ms);
    deps.connections.set_lever(id, &lever).await.map_err(unavailable)?;
    tracing::info!(connection = %id, expires_at_ms = invitation.expires_at_ms, "connect invitation issued");
    Ok((token, invitation))
}

/// The connect link for an invitation token.
pub fn connect_link(base_url: &str, id: &ConnectionId, token: &str) -> String {
    format!(
        "{}/oauth/lever/start?connection={}&invitation={}",
        base_url.trim_end_matches('/'),
        crate::url::enc(id.as_str()),
        crate::url::enc(token)
    )
}

pub(crate) async fn live_invitation(
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
