//! Is a connection's Lever authorization still good? The scheduled run asks for every
//! connection; beside the tokens it relies on.
use super::context::LeverContext;
use super::tokens::TokenError;
use crate::domain::*;

/// The Lever side of a scheduled run: is the app still authorized? A refresh (when due) keeps
/// the refresh token in use (Lever expires idle ones after ~90 days); `invalid_grant` or a 401
/// after a refresh marks the connection revoked.
pub async fn check_lever(deps: &LeverContext, conn: &Connection, deadline_ms: i64) -> Result<(), TokenError> {
    let lever = deps.lever_for(conn);
    let token = deps.tokens.access_token(conn, &*lever, deadline_ms).await?;
    match lever.any_user(&token).await {
        Ok(_) => Ok(()),
        Err(LeverError::Unauthorized { .. }) => {
            let fresh = deps.tokens.after_unauthorized(conn, &*lever, &token, deadline_ms).await?;
            match lever.any_user(&fresh).await {
                Err(LeverError::Unauthorized { .. }) => revoked(deps, conn).await,
                Err(LeverError::Forbidden { .. }) => revoked(deps, conn).await,
                _ => Ok(()),
            }
        }
        // The cheapest call refused: the account's settings no longer authorize the app, as a
        // 401 that survives a refresh.
        Err(LeverError::Forbidden { .. }) => revoked(deps, conn).await,
        Err(e) => Err(TokenError::Api(e)),
    }
}

async fn revoked(deps: &LeverContext, conn: &Connection) -> Result<(), TokenError> {
    deps.connections.set_status(&conn.id, ConnectionStatus::Revoked).await?;
    Err(TokenError::Revoked)
}
