//! Who authorized (the Lever account a connection is bound to) and who candidates are created as.
use super::{ConnectError, unavailable};
use crate::domain::ats::{Ats, LeverIdentity, LeverUser, identity_of};
use crate::domain::*;
use crate::usecases::context::LeverContext;

fn lever_refusal(e: LeverError) -> ConnectError {
    match e {
        LeverError::Unavailable { .. } => unavailable(e),
        other => ConnectError::Lookup(other),
    }
}

fn is_super_admin(u: &LeverUser) -> bool {
    u.access_role.as_deref().is_some_and(|r| r.eq_ignore_ascii_case("super admin"))
}

/// Who candidates are created as, and why: the authorizing user (Lever's help article: only a
/// Super Admin may configure the integration, so anyone else is refused here, before anything is
/// stored); without a `userId` claim, the configured user, else the first Super Admin of the
/// account (every page of `GET /users?accessRole=super admin`).
pub(super) async fn acting_user(
    lever: &dyn Ats,
    access: &SecretString,
    who: &LeverIdentity,
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
pub(super) async fn bound_account(deps: &LeverContext, conn: &Connection) -> Result<Option<String>, ConnectError> {
    if let Some(a) = &conn.lever.account_id {
        return Ok(Some(a.clone()));
    }
    let stored = deps.tokens.stored(&conn.id).await.map_err(unavailable)?;
    Ok(stored.and_then(|t| identity_of(&t.access_token).account_id))
}
