//! One Lever call with a connection's token: a 401 refreshes once and retries once; the
//! failure stays typed until the caller turns it into an outcome.
use super::{LeverContext, Outcome};
use crate::domain::SecretString;
use crate::domain::*;
use crate::usecases::tokens::TokenError;

/// Why a Lever call with a token did not succeed, kept typed so callers decide on variants.
pub(super) enum CallError {
    Token(TokenError),
    Lever(LeverError),
    /// A 401 even with a freshly refreshed token: the app is revoked.
    RevokedAfterRefresh,
}

impl CallError {
    /// The failure in words, for the delivery's record.
    pub(super) fn reason(self) -> String {
        match Outcome::from(self) {
            Outcome::Failed(r) | Outcome::Pending(r) | Outcome::PendingReauth(r) => r,
            Outcome::Completed(..) | Outcome::Busy(_) | Outcome::Crashed => "unknown".into(),
        }
    }
}

impl From<CallError> for Outcome {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Token(e) if e.needs_authorization() => Outcome::PendingReauth(e.to_string()),
            CallError::Token(e) => Outcome::Pending(e.to_string()),
            CallError::Lever(
                e @ (LeverError::Rejected { .. } | LeverError::Decode { .. } | LeverError::TooManyPages { .. }),
            ) => Outcome::Failed(e.to_string()),
            CallError::Lever(e @ LeverError::Unavailable { .. }) => Outcome::Pending(e.to_string()),
            CallError::Lever(e @ LeverError::Unauthorized { .. }) => Outcome::PendingReauth(e.to_string()),
            CallError::RevokedAfterRefresh => {
                Outcome::PendingReauth("Lever refused a freshly refreshed token: the app looks revoked".into())
            }
        }
    }
}

/// Token handling around one Lever call: a 401 refreshes once and retries once; a second 401
/// means the app is revoked.
pub(super) async fn with_token<T, F, Fut>(
    deps: &LeverContext,
    conn: &Connection,
    lever: &dyn Ats,
    deadline_ms: i64,
    f: F,
) -> Result<T, CallError>
where
    F: Fn(SecretString) -> Fut,
    Fut: std::future::Future<Output = Result<T, LeverError>>,
{
    let token = deps.tokens.access_token(conn, lever, deadline_ms).await.map_err(CallError::Token)?;
    match f(token.clone()).await {
        Err(LeverError::Unauthorized { .. }) => {
            let fresh =
                deps.tokens.after_unauthorized(conn, lever, &token, deadline_ms).await.map_err(CallError::Token)?;
            match f(fresh).await {
                Err(LeverError::Unauthorized { .. }) => {
                    let _ = deps.connections.set_status(&conn.id, ConnectionStatus::Revoked).await;
                    Err(CallError::RevokedAfterRefresh)
                }
                other => other.map_err(CallError::Lever),
            }
        }
        other => other.map_err(CallError::Lever),
    }
}
