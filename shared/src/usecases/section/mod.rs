//! The Lever section a Super Admin sees (Lever's help article: not connected → Connect → a note →
//! Lever's authorization → connected, then the jobs with their chatbot links): who may see it
//! (`access`), what it shows (`view`), and what its buttons do (here: connect, replay, disable).
use super::connect::{self, ConnectError, Started};
use super::context::LeverContext;
use super::webhook::{self, Answer, ReplayError};
use crate::domain::*;

pub mod access;
pub mod filter;
mod view;

pub use access::Session;
pub use view::{CandidateRow, JOBS_PER_PAGE, JobQuery, SectionView, view};

#[derive(Debug, thiserror::Error)]
pub enum SectionError {
    /// No link, a made-up or altered one, another connection's, or no such connection (an
    /// outsider learns nothing about which connections exist).
    #[error("this link is not valid: ask your xor-lever contact for a new one")]
    NoAccess,
    #[error("this link has expired: ask your xor-lever contact for a new one")]
    Expired,
    #[error("{0}")]
    Invitation(#[source] ConnectError),
    /// A form that did not come from this page (or from a session that has since changed).
    #[error("this form has expired: reload the page and try again")]
    Csrf,
    /// Disable is for a connection that was connected: before that, there is nothing to stop
    /// (and a leaked invitation must not be able to block the real admin's Connect).
    #[error("there is nothing to disable: this connection was never connected")]
    NotAllowed,
    /// Only an invitation lets a visitor start the authorization (a page link only looks).
    #[error("connecting needs the connect link your xor-lever contact sends: ask them for a new one")]
    NotInvited,
    #[error(transparent)]
    Connect(ConnectError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("a page link is valid for at most {0} days")]
    TooLong(u32),
    /// The job filter was changed by someone else since this page was read.
    #[error("the job filter was changed meanwhile: reload the page and look again")]
    FilterChanged,
    /// The job filter changes what a sync does: only a connected connection's.
    #[error("the job filter can be changed once the connection is connected")]
    NotConnected,
    /// A form field that is not one of the page's.
    #[error("this form was not filled in by the page: reload it and try again")]
    BadForm,
    /// The cause is logged, never shown: this page is public.
    #[error("xor-lever cannot show this right now; try again in a few minutes")]
    Unavailable(#[source] crate::domain::ports::BoxError),
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> SectionError {
    tracing::error!(error = %crate::domain::ports::error_chain(&e), "Lever section: a store is unavailable");
    SectionError::Unavailable(Box::new(e))
}

/// The note's blue Connect: starts Lever's authorization with the session's invitation.
pub async fn connect(deps: &LeverContext, s: &Session, base_url: &str) -> Result<Started, SectionError> {
    let hash = s.i.as_deref().ok_or(SectionError::NotInvited)?;
    let id = ConnectionId::parse(&s.c).map_err(|_| SectionError::NoAccess)?;
    connect::start_invited(deps, &id, hash, base_url).await.map_err(SectionError::Connect)
}

/// Replay: processes a waiting or failed delivery again, now.
pub async fn replay(
    deps: &LeverContext,
    s: &Session,
    webhook_id: &str,
    deadline_ms: i64,
) -> Result<Answer, SectionError> {
    let id = ConnectionId::parse(&s.c).map_err(|_| SectionError::NoAccess)?;
    let answer = webhook::replay(deps, &id, webhook_id, deadline_ms).await?;
    tracing::info!(connection = %id, webhook_id, status = ?answer.delivery, "delivery replayed from the Lever section");
    Ok(answer)
}

/// Disable: nothing is sent to XOR or Lever for this connection until an operator enables it
/// (XOR's webhooks still arrive and are kept), and Lever stops sending its events: the app's
/// webhooks are deleted in Lever and their tokens forgotten (`enable` registers them again).
/// Revoking the app in Lever is the customer's other way.
pub async fn disable(deps: &LeverContext, s: &Session) -> Result<(), SectionError> {
    let id = ConnectionId::parse(&s.c).map_err(|_| SectionError::NoAccess)?;
    let conn = deps.connections.connection(&id).await.map_err(unavailable)?.ok_or(SectionError::NoAccess)?;
    if !matches!(conn.status, ConnectionStatus::Connected | ConnectionStatus::Revoked) {
        return Err(SectionError::NotAllowed);
    }
    deps.connections.set_status(&id, ConnectionStatus::Disabled).await.map_err(unavailable)?;
    tracing::warn!(connection = %id, "connection disabled from the Lever section");
    let deadline = (deps.clock)() + 10_000;
    if let Err(e) = crate::usecases::connect::subscribe::unsubscribe(deps, &conn, deadline).await {
        tracing::warn!(connection = %id, error = %e, "Lever webhooks not removed on disable");
    }
    Ok(())
}
