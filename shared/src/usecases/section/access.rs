//! Who may see a connection's Lever section. Every connection id is public, so the page is
//! reached only through a link that carries an unguessable, expiring token:
//! - the operator's invitation (`connections connect-url`), while the connection waits for its
//!   Lever authorization: it also lets the visitor start that authorization;
//! - a signed page link (`connections page-url`) afterwards: to look, replay and disable.
//!
//! The token leaves the URL at once: the first visit trades it for a session cookie (`__Host-`,
//! HttpOnly, SameSite=Lax) and redirects to the bare page, so no token stays in the address bar,
//! the history or a Referer. Each link and session grants its own connection only. Forms carry
//! a CSRF field derived from the session.
use serde::{Deserialize, Serialize};

use super::SectionError;
use crate::domain::ats::AppCredentials;
use crate::domain::invitation::hash_token;
use crate::domain::*;
use crate::usecases::connect::{ConnectError, live_invitation};
use crate::usecases::context::LeverContext;
use crate::usecases::signed;

const LINK: &str = "xor-lever section link v1";
const SESSION: &str = "xor-lever section session v1";
const CSRF: &str = "xor-lever section csrf v1";
/// A session lasts at most this long (and never past the link it came from).
pub const SESSION_MS: i64 = 12 * 3600 * 1000;
pub const DEFAULT_LINK_DAYS: u32 = 7;

#[derive(Serialize, Deserialize)]
struct LinkClaims {
    c: String,
    /// expiry, Unix ms
    e: i64,
    /// 256 random bits: no two links alike
    n: String,
}

/// A browser's right to one connection's section.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub c: String,
    /// expiry, Unix ms
    pub e: i64,
    /// 256 random bits: the CSRF field is derived from it
    pub n: String,
    /// The hash of the invitation it came from: lets it start the Lever authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub i: Option<String>,
    /// The CSRF field of its forms (a MAC of `n`), derived when the session is read: not in the
    /// cookie.
    #[serde(skip)]
    pub csrf: String,
}

impl Session {
    fn new(app: &AppCredentials, c: String, e: i64, i: Option<String>) -> Self {
        let mut s = Self { c, e, n: crate::random::token(), i, csrf: String::new() };
        s.csrf = signed::mac(app, CSRF, &s.n);
        s
    }
}

/// A session and its cookie value.
pub struct Opened {
    pub session: Session,
    pub cookie: String,
}

async fn app(deps: &LeverContext) -> Result<AppCredentials, SectionError> {
    deps.tokens.app_credentials().await.map_err(|e| SectionError::Unavailable(Box::new(e)))
}

async fn existing(deps: &LeverContext, id: &str) -> Result<ConnectionId, SectionError> {
    let id = ConnectionId::parse(id).map_err(|_| SectionError::NoAccess)?;
    deps.connections
        .connection(&id)
        .await
        .map_err(|e| SectionError::Unavailable(Box::new(e)))?
        .ok_or(SectionError::NoAccess)?;
    Ok(id)
}

/// The page link of a connection, good for `valid_days`.
pub async fn page_link(
    deps: &LeverContext,
    base_url: &str,
    id: &ConnectionId,
    valid_days: u32,
) -> Result<String, SectionError> {
    existing(deps, id.as_str()).await?;
    let claims = LinkClaims {
        c: id.to_string(),
        e: (deps.clock)() + i64::from(valid_days.max(1)) * 86_400_000,
        n: crate::random::token(),
    };
    let token = signed::sign(&app(deps).await?, LINK, &claims);
    Ok(format!("{}?link={}", section_path(base_url, id), crate::url::enc(&token)))
}

/// The section of a connection reached with an invitation (what `connections connect-url` prints).
pub fn invitation_link(base_url: &str, id: &ConnectionId, token: &str) -> String {
    format!("{}?invitation={}", section_path(base_url, id), crate::url::enc(token))
}

pub fn section_path(base_url: &str, id: &ConnectionId) -> String {
    format!("{}/connections/{}", base_url.trim_end_matches('/'), crate::url::enc(id.as_str()))
}

/// Trades a live invitation for a session.
pub async fn open_with_invitation(deps: &LeverContext, id: &str, token: &str) -> Result<Opened, SectionError> {
    let id = existing(deps, id).await?;
    let now = (deps.clock)();
    let hash = hash_token(token);
    let inv = live_invitation(deps, &id, &hash, now).await.map_err(|e| match e {
        // The same answer as for a connection that does not exist: no hint either way.
        ConnectError::NoInvitation => SectionError::NoAccess,
        ConnectError::Unavailable(e) => SectionError::Unavailable(e),
        other => SectionError::Invitation(other),
    })?;
    let app = app(deps).await?;
    let session = Session::new(&app, id.to_string(), inv.expires_at_ms.min(now + SESSION_MS), Some(hash));
    Ok(Opened { cookie: signed::sign(&app, SESSION, &session), session })
}

/// Trades a page link for a session.
pub async fn open_with_link(deps: &LeverContext, id: &str, token: &str) -> Result<Opened, SectionError> {
    let id = existing(deps, id).await?;
    let app = app(deps).await?;
    let claims: LinkClaims = signed::open(&app, LINK, token).ok_or(SectionError::NoAccess)?;
    let now = (deps.clock)();
    if claims.c != id.as_str() {
        return Err(SectionError::NoAccess);
    }
    if claims.e < now {
        return Err(SectionError::Expired);
    }
    let session = Session::new(&app, id.to_string(), claims.e.min(now + SESSION_MS), None);
    Ok(Opened { cookie: signed::sign(&app, SESSION, &session), session })
}

/// The session a cookie carries for connection `id` (another connection's is no session here).
pub async fn session(deps: &LeverContext, id: &str, cookie: Option<&str>) -> Result<Session, SectionError> {
    let cookie = cookie.filter(|c| !c.is_empty()).ok_or(SectionError::NoAccess)?;
    let app = app(deps).await?;
    let mut s: Session = signed::open(&app, SESSION, cookie).ok_or(SectionError::NoAccess)?;
    if s.c != id {
        return Err(SectionError::NoAccess);
    }
    if s.e < (deps.clock)() {
        return Err(SectionError::Expired);
    }
    s.csrf = signed::mac(&app, CSRF, &s.n);
    Ok(s)
}

/// Checks a POST's CSRF field against its session's.
pub fn check_csrf(s: &Session, field: Option<&str>) -> Result<(), SectionError> {
    match field {
        Some(f) if signed::same(f, &s.csrf) => Ok(()),
        _ => Err(SectionError::Csrf),
    }
}

/// The session cookie, one per connection (a browser may hold the sections of two). Connection
/// ids are `[a-z0-9-]`; anything else is dropped so the name stays a valid cookie name.
fn session_cookie(id: &str) -> String {
    let id: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    format!("xor_lever_section_{id}")
}

pub fn cookie_name(base_url: &str, id: &str) -> String {
    crate::usecases::cookie::name(base_url, &session_cookie(id))
}

/// `Set-Cookie` for a session (`Max-Age` 0 with an empty value clears it).
pub fn set_cookie(base_url: &str, id: &str, value: &str, max_age_s: i64) -> String {
    crate::usecases::cookie::set(base_url, &session_cookie(id), value, max_age_s)
}
