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
            // Waits and is replayed: Lever is down, or its host must be fixed by an operator.
            CallError::Lever(e @ (LeverError::Unavailable { .. } | LeverError::Redirected { .. })) => {
                Outcome::Pending(e.to_string())
            }
            CallError::Lever(e @ (LeverError::Unauthorized { .. } | LeverError::Forbidden { .. })) => {
                Outcome::PendingReauth(format!("{e}: a Super Admin must authorize the app again"))
            }
            CallError::RevokedAfterRefresh => {
                Outcome::PendingReauth("Lever refused a freshly refreshed token: the app looks revoked".into())
            }
        }
    }
}

/// Token handling around one Lever call: a 401 refreshes once and retries once; a second 401
/// means the app is revoked. A 403 (Lever: "account settings don't authorize") is checked with
/// the cheapest call on the same token: refused there too, the app is revoked (as a 401 that
/// survives a refresh: a refresh cannot change the account's settings); accepted there, only this
/// request lacks a permission, and the connection stays as it is.
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
    match call(deps, deadline_ms, f(token.clone())).await {
        Err(LeverError::Unauthorized { .. }) => {
            let fresh =
                deps.tokens.after_unauthorized(conn, lever, &token, deadline_ms).await.map_err(CallError::Token)?;
            match call(deps, deadline_ms, f(fresh.clone())).await {
                Err(LeverError::Unauthorized { .. }) => {
                    let _ = deps.connections.set_status(&conn.id, ConnectionStatus::Revoked).await;
                    Err(CallError::RevokedAfterRefresh)
                }
                other => forbidden(deps, conn, lever, &fresh, deadline_ms, other).await,
            }
        }
        other => forbidden(deps, conn, lever, &token, deadline_ms, other).await,
    }
}

/// A 403: the app revoked (the token refused by the cheapest call too: the connection marked
/// `revoked`), or a permission this request lacks (the token accepted there). Either way only a
/// new authorization helps this request.
async fn forbidden<T>(
    deps: &LeverContext,
    conn: &Connection,
    lever: &dyn Ats,
    token: &SecretString,
    deadline_ms: i64,
    result: Result<T, LeverError>,
) -> Result<T, CallError> {
    if let Err(LeverError::Forbidden { op, message }) = &result {
        let check = call(deps, deadline_ms, lever.any_user(token)).await;
        let revoked = matches!(check, Err(LeverError::Unauthorized { .. } | LeverError::Forbidden { .. }));
        tracing::warn!(connection = %conn.id, op, message, revoked, "Lever answered 403: this request waits for a new authorization");
        if revoked {
            let _ = deps.connections.set_status(&conn.id, ConnectionStatus::Revoked).await;
        }
    }
    result.map_err(CallError::Lever)
}

/// One Lever call: cut before the deadline, counted and timed for the delivery's metrics.
async fn call<T>(
    deps: &LeverContext,
    deadline_ms: i64,
    f: impl std::future::Future<Output = Result<T, LeverError>>,
) -> Result<T, LeverError> {
    super::stats::lever_call(before_deadline(deps, deadline_ms, f)).await
}

/// Time kept after the last Lever call to record the outcome and answer XOR (two table writes,
/// milliseconds each; the rest is margin for a slow moment).
pub(super) const ANSWER_RESERVE_MS: i64 = 1_000;

/// A Lever call that has not answered when the invocation's time is nearly up is dropped, as
/// Lever not answering: the delivery is then recorded `pending` and XOR answered 503 in time,
/// rather than the whole invocation killed at its deadline mid-call. A create that Lever
/// carried out anyway is found by the retry (the same as a lost answer).
async fn before_deadline<T>(
    deps: &LeverContext,
    deadline_ms: i64,
    call: impl std::future::Future<Output = Result<T, LeverError>>,
) -> Result<T, LeverError> {
    let left = time_left(deps, deadline_ms);
    let late = || LeverError::Unavailable { op: "a call", attempts: 1, last: crate::domain::Failure::Deadline };
    if left.is_zero() {
        return Err(late());
    }
    tokio::time::timeout(left, call).await.unwrap_or_else(|_| Err(late()))
}

/// What remains of the invocation once the answer's reserve is kept.
pub(super) fn time_left(deps: &LeverContext, deadline_ms: i64) -> std::time::Duration {
    let ms = deadline_ms - ANSWER_RESERVE_MS - (deps.clock)();
    std::time::Duration::from_millis(ms.max(0) as u64)
}
