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

use super::{SectionError, unavailable};
use crate::domain::invitation::hash_token;
use crate::domain::*;
use crate::usecases::connect::{ConnectError, live_invitation};
use crate::usecases::context::LeverContext;
use crate::usecases::signed::{self, SigningKey};

const LINK: &str = "xor-lever section link v2";
const SESSION: &str = "xor-lever section session v2";
const CSRF: &str = "xor-lever section csrf v2";
/// A session lasts at most this long (and never past the link it came from).
pub const SESSION_MS: i64 = 12 * 3600 * 1000;
pub const DEFAULT_LINK_DAYS: u32 = 7;
/// The longest a page link may be valid, at issue and at check: a token claiming a later expiry
/// is refused, whatever signed it.
pub const MAX_LINK_DAYS: u32 = 90;
const MAX_LINK_MS: i64 = MAX_LINK_DAYS as i64 * 86_400_000;

#[derive(Serialize, Deserialize)]
struct LinkClaims {
    c: String,
    /// expiry, Unix ms
    e: i64,
    /// issued, Unix ms (a link is valid for at most `MAX_LINK_DAYS` after it)
    t: i64,
    /// the connection's links generation it was issued under (`LeverSettings::links_generation`)
    #[serde(default)]
    g: u32,
    /// 256 random bits: no two links alike
    n: String,
}

/// A browser's right to one connection's section.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    pub c: String,
    /// expiry, Unix ms
    pub e: i64,
    /// issued, Unix ms
    pub t: i64,
    /// the connection's links generation it was issued under (revoked with its links)
    #[serde(default)]
    pub g: u32,
    /// 256 random bits: the CSRF field is derived from it
    pub n: String,
    /// The hash of the invitation it came from: lets it start the Lever authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub i: Option<String>,
    /// The CSRF field of its forms (a MAC of `n` under the session's key), derived when the
    /// session is read: not in the cookie.
    #[serde(skip)]
    pub csrf: String,
}

/// The nonce and the CSRF field are what a forged form would need: never printed.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("c", &self.c)
            .field("e", &self.e)
            .field("t", &self.t)
            .field("g", &self.g)
            .field("invited", &self.i.is_some())
            .finish_non_exhaustive()
    }
}

impl Session {
    fn new(key: &SigningKey, conn: &Connection, now: i64, e: i64, i: Option<String>) -> Self {
        let (c, g) = (conn.id.to_string(), conn.lever.links_generation);
        let mut s = Self { c, e, t: now, g, n: crate::random::token(), i, csrf: String::new() };
        s.csrf = signed::mac(key, CSRF, &s.n);
        s
    }
}

/// A session and its cookie value.
pub struct Opened {
    pub session: Session,
    pub cookie: String,
}

async fn existing(deps: &LeverContext, id: &str) -> Result<Connection, SectionError> {
    let id = ConnectionId::parse(id).map_err(|_| SectionError::NoAccess)?;
    deps.connections.connection(&id).await.map_err(unavailable)?.ok_or(SectionError::NoAccess)
}

/// Refuses what was issued before the connection's links were revoked (`reset-lever`,
/// `connections revoke-links`).
fn not_revoked(conn: &Connection, generation: u32) -> Result<(), SectionError> {
    if generation < conn.lever.links_generation { Err(SectionError::NoAccess) } else { Ok(()) }
}

/// The page link of a connection, good for `valid_days` (at most [`MAX_LINK_DAYS`]).
pub async fn page_link(
    deps: &LeverContext,
    base_url: &str,
    id: &ConnectionId,
    valid_days: u32,
) -> Result<String, SectionError> {
    if valid_days > MAX_LINK_DAYS {
        return Err(SectionError::TooLong(MAX_LINK_DAYS));
    }
    let conn = existing(deps, id.as_str()).await?;
    let now = (deps.clock)();
    let claims = LinkClaims {
        c: id.to_string(),
        e: now + i64::from(valid_days.max(1)) * 86_400_000,
        t: now,
        g: conn.lever.links_generation,
        n: crate::random::token(),
    };
    let token = signed::sign(deps, LINK, &claims).await.map_err(unavailable)?;
    Ok(format!("{}?link={}", section_path(base_url, id), crate::url::enc(&token)))
}

/// The section of a connection reached with an invitation (what `connections connect-url` prints).
pub fn invitation_link(base_url: &str, id: &ConnectionId, token: &str) -> String {
    format!("{}?invitation={}", section_path(base_url, id), crate::url::enc(token))
}

pub fn section_path(base_url: &str, id: &ConnectionId) -> String {
    format!("{}/connections/{}", base_url.trim_end_matches('/'), crate::url::enc(id.as_str()))
}

/// A new session's cookie, signed with the current key.
async fn open_session(
    deps: &LeverContext,
    c: &Connection,
    now: i64,
    e: i64,
    i: Option<String>,
) -> Result<Opened, SectionError> {
    let keys = signed::keys(deps).await.map_err(unavailable)?;
    let key = keys.current(now).map_err(unavailable)?;
    let session = Session::new(key, c, now, e, i);
    Ok(Opened { cookie: signed::sign_with(key, SESSION, &session), session })
}

/// Trades a live invitation for a session.
pub async fn open_with_invitation(deps: &LeverContext, id: &str, token: &str) -> Result<Opened, SectionError> {
    let conn = existing(deps, id).await?;
    let now = (deps.clock)();
    let hash = hash_token(token);
    let inv = live_invitation(deps, &conn.id, &hash, now).await.map_err(|e| match e {
        // The same answer as for a connection that does not exist: no hint either way.
        ConnectError::NoInvitation => SectionError::NoAccess,
        ConnectError::Unavailable(e) => SectionError::Unavailable(e),
        other => SectionError::Invitation(other),
    })?;
    open_session(deps, &conn, now, inv.expires_at_ms.min(now + SESSION_MS), Some(hash)).await
}

/// Trades a page link for a session.
pub async fn open_with_link(deps: &LeverContext, id: &str, token: &str) -> Result<Opened, SectionError> {
    let conn = existing(deps, id).await?;
    let (claims, _): (LinkClaims, _) =
        signed::open(deps, LINK, token).await.map_err(unavailable)?.ok_or(SectionError::NoAccess)?;
    let now = (deps.clock)();
    // Expiry and issue time are the issuer's clock, so their difference is bounded whatever
    // this machine's clock says; the expiry is bounded from now as well (a day of skew allowed).
    if claims.c != conn.id.as_str() || claims.e - claims.t > MAX_LINK_MS || claims.e > now + MAX_LINK_MS + 86_400_000 {
        return Err(SectionError::NoAccess);
    }
    not_revoked(&conn, claims.g)?;
    if claims.e < now {
        return Err(SectionError::Expired);
    }
    open_session(deps, &conn, now, claims.e.min(now + SESSION_MS), None).await
}

/// The session a cookie carries for connection `id` (another connection's is no session here).
pub async fn session(deps: &LeverContext, id: &str, cookie: Option<&str>) -> Result<Session, SectionError> {
    let cookie = cookie.filter(|c| !c.is_empty()).ok_or(SectionError::NoAccess)?;
    let (mut s, key): (Session, _) =
        signed::open(deps, SESSION, cookie).await.map_err(unavailable)?.ok_or(SectionError::NoAccess)?;
    if s.c != id || s.e - s.t > SESSION_MS {
        return Err(SectionError::NoAccess);
    }
    let conn = existing(deps, id).await?;
    not_revoked(&conn, s.g)?;
    if s.e < (deps.clock)() {
        return Err(SectionError::Expired);
    }
    s.csrf = signed::mac(&key, CSRF, &s.n);
    Ok(s)
}

/// Voids every connect link, page link and section session of a connection issued until now:
/// `connections revoke-links`. The invitations first, so no session can be opened from one in
/// between. Returns the new generation and how many invitations were revoked.
pub async fn revoke_links(deps: &LeverContext, id: &ConnectionId) -> Result<(u32, usize), SectionError> {
    let invitations = deps.invitations.revoke_invitations(id, (deps.clock)()).await.map_err(unavailable)?;
    let mut conn = existing(deps, id.as_str()).await?;
    next_generation(&mut conn.lever, (deps.clock)());
    deps.connections.set_lever(id, &conn.lever).await.map_err(unavailable)?;
    tracing::warn!(connection = %id, generation = conn.lever.links_generation, "page links and section sessions revoked");
    Ok((conn.lever.links_generation, invitations))
}

/// Moves the links generation on (`revoke_links`, `reset-lever`).
pub fn next_generation(lever: &mut LeverSettings, now_ms: i64) {
    lever.links_generation = lever.links_generation.saturating_add(1);
    // Every connect link is void too: a revoked connection waits on nobody now.
    lever.invited_until_ms = None;
    lever.links_revoked_at_ms = Some(now_ms);
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
