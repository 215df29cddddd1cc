//! Lever (docs/lever-facts.md). Every Lever host, path, field and error shape lives in this module:
//! the hosts, errors and the one request loop (rate limit, retries) here; OAuth in `oauth`; the
//! Data API calls and their types in `data`. UNCONFIRMED facts are marked.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tokio::time::Instant;

use super::enc;
use super::retry::{Attempt, RateLimiter, RetryPolicy, call_with, status_failure, transport_failure};
use crate::domain::{Connection, ConnectionId, Failure, LeverEnv, LeverSettings, SecretString};

/// Lever's documented budget: ~10 requests/s per token, bursts of 20.
pub const LEVER_MAX_RPS: f64 = 10.0;
pub const LEVER_BURST: u32 = 20;

/// The scopes xor-lever asks for, and no more: one per kind of call it makes (Lever's reference
/// names a scope per endpoint; whether a `write` scope also allows reading is not documented, so
/// the reads the retries make — opportunities, notes — ask for their own).
pub const SCOPES: &str = "offline_access confidential:access:admin opportunities:read:admin opportunities:write:admin files:write:admin notes:read:admin notes:write:admin postings:read:admin users:read:admin webhooks:write:admin stages:read:admin archive_reasons:read:admin";

/// Each scope, and why xor-lever asks for it (shown to the Super Admin before they authorize).
pub const SCOPE_REASONS: &[(&str, &str)] = &[
    ("offline_access", "keep working after you sign out, without asking you again (tokens are refreshed)"),
    (
        "opportunities:write:admin",
        "create an opportunity for each candidate who passes XOR's screening, with source XOR",
    ),
    ("files:write:admin", "attach the screening report and the candidate's resume to that opportunity"),
    ("notes:write:admin", "add a note with the screening's score, summary and answers"),
    (
        "opportunities:read:admin",
        "look for an opportunity it created before, so a retried screening never makes a second one",
    ),
    ("notes:read:admin", "check whether its note was already added, for the same reason"),
    (
        "confidential:access:admin",
        "see the candidates it created on confidential postings, so a retried screening never makes a second one there either",
    ),
    ("postings:read:admin", "check that a posting is still open before adding a candidate to it"),
    ("users:read:admin", "check that the person connecting is a Super Admin, and create candidates as that user"),
    (
        "webhooks:write:admin",
        "be told when XOR's candidates move stage, are hired or archived, or are deleted, so XOR learns the outcome and a deleted candidate is erased here too",
    ),
    ("stages:read:admin", "name those stages as your team does"),
    ("archive_reasons:read:admin", "tell XOR why a candidate was archived, in your team's words"),
];

/// Hosts per environment (docs/lever-facts.md, "Hosts"). An EU account's recruiters' app and
/// job site are Lever's EU hosts (DOCS); its OAuth and Data API calls start at the global hosts,
/// which Lever's OAuth page says redirect "automatically to the appropriate data center" (an EU
/// Data API or OAuth host is documented nowhere): such a redirect is followed to Lever's own
/// hosts only ([`LeverHosts::redirect`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeverHosts {
    /// The Data API base, ending in `/v1`.
    pub api_base: String,
    /// The OAuth host (`<auth_base>/authorize`, `<auth_base>/oauth/token`).
    pub auth_base: String,
    /// The environment's API, as OAuth names it: never an overridden base (a proxy, a stand-in).
    audience: String,
    /// The recruiters' app (`https://hire.lever.co`, `https://hire.eu.lever.co`, ...).
    app_base: &'static str,
}

/// Lever's public postings API of each region (DOCS: the lever/postings-api README).
const POSTINGS_API: [(LeverEnv, &str); 2] = [
    (LeverEnv::Production, "https://api.lever.co/v0/postings/"),
    (LeverEnv::Eu, "https://api.eu.lever.co/v0/postings/"),
];

/// A feed URL on Lever's postings API of the other region than the connection's (it would
/// answer "Document not found" for the account's site): the URL to use instead.
pub fn feed_in_other_region(env: LeverEnv, feed_url: &str) -> Option<String> {
    let (_, ours) = POSTINGS_API.iter().find(|(e, _)| *e == env)?;
    let (_, theirs) = POSTINGS_API.iter().find(|(e, base)| *e != env && feed_url.starts_with(base))?;
    Some(format!("{ours}{}", &feed_url[theirs.len()..]))
}

/// One of Lever's own hosts over HTTPS: `lever.co` and its subdomains (every region's API, app,
/// job site), and the sandbox's OAuth host.
pub fn is_lever_host(u: &reqwest::Url) -> bool {
    u.scheme() == "https"
        && u.port_or_known_default() == Some(443)
        && u.host_str().is_some_and(|h| {
            let h = h.to_ascii_lowercase();
            h == "lever.co" || h.ends_with(".lever.co") || h == "sandbox-lever.auth0.com"
        })
}

/// Redirects followed in a row for one call (a region's hop, and one more for its own move).
const MAX_REDIRECTS: u32 = 2;

/// A redirect from Lever that is not followed: where it pointed (bounded, printable), and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "Lever answered {status} with a redirect to {to}: not followed ({why}); if Lever serves this account from another \
     host, point the connection there (xor-lever connections reset-lever ID --lever-env eu, or --lever-base-url URL)"
)]
pub struct RedirectRefused {
    pub status: u16,
    pub to: String,
    pub why: &'static str,
}

impl LeverHosts {
    pub fn for_settings(s: &LeverSettings) -> Self {
        let (api, auth, app) = match s.env {
            LeverEnv::Production => ("https://api.lever.co/v1", "https://auth.lever.co", "https://hire.lever.co"),
            LeverEnv::Sandbox => {
                ("https://api.sandbox.lever.co/v1", "https://sandbox-lever.auth0.com", "https://hire.sandbox.lever.co")
            }
            LeverEnv::Eu => ("https://api.lever.co/v1", "https://auth.lever.co", "https://hire.eu.lever.co"),
        };
        Self {
            api_base: s.api_base_url.clone().unwrap_or_else(|| api.into()).trim_end_matches('/').to_owned(),
            auth_base: s.auth_base_url.clone().unwrap_or_else(|| auth.into()).trim_end_matches('/').to_owned(),
            audience: format!("{api}/"),
            app_base: app,
        }
    }

    /// Where a redirect from Lever may be followed, if anywhere: a `307` or `308` (the same
    /// method and body, so a create stays a create) to Lever's own hosts over HTTPS (`lever.co`
    /// and its subdomains, the sandbox's OAuth host) or to the origin this connection was
    /// configured with (an overridden base: the local sandbox). The bearer token and the client
    /// secret go only there. Anything else is an error that names where Lever pointed.
    pub fn redirect(&self, resp: &reqwest::Response) -> Result<reqwest::Url, RedirectRefused> {
        let status = resp.status();
        // The message quotes a bounded, printable target; the URL followed is the whole header.
        let refuse = |why| RedirectRefused { status: status.as_u16(), to: crate::adapters::redirect_target(resp), why };
        if !matches!(status, StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT) {
            return Err(refuse("only a 307 or 308 keeps the method and body"));
        }
        let location = resp.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok());
        let location = location.filter(|l| !l.trim().is_empty()).ok_or_else(|| refuse("no usable Location"))?;
        let to = resp.url().join(location).map_err(|_| refuse("not a URL"))?;
        let origin =
            |u: &reqwest::Url| (u.scheme().to_owned(), u.host_str().map(str::to_owned), u.port_or_known_default());
        let configured = [&self.api_base, &self.auth_base]
            .iter()
            .filter_map(|b| reqwest::Url::parse(b).ok())
            .any(|b| origin(&b) == origin(&to));
        if configured || is_lever_host(&to) { Ok(to) } else { Err(refuse("not one of Lever's hosts")) }
    }

    /// Sends `send(url)` and follows what [`Self::redirect`] allows, at most [`MAX_REDIRECTS`]
    /// in a row: the last answer (still a redirect when Lever pointed on again), `refused`'s
    /// error for a redirect not followed, or `send`'s own error. For one-shot calls; the Data
    /// API's loop follows inside its retries, and remembers the move.
    pub(crate) async fn send_following<E, Fut>(
        &self,
        url: String,
        send: impl Fn(String) -> Fut,
        refused: impl Fn(RedirectRefused) -> E,
    ) -> Result<reqwest::Response, E>
    where
        Fut: std::future::Future<Output = Result<reqwest::Response, E>>,
    {
        let mut resp = send(url).await?;
        for _ in 0..MAX_REDIRECTS {
            if !resp.status().is_redirection() {
                break;
            }
            let to = self.redirect(&resp).map_err(&refused)?;
            resp = send(to.to_string()).await?;
        }
        Ok(resp)
    }
    /// OAuth `audience`: the environment's API base with its trailing slash (required).
    pub fn audience(&self) -> String {
        self.audience.clone()
    }
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.auth_base)
    }
    /// The recruiters' app of this environment.
    pub fn app_base(&self) -> &'static str {
        self.app_base
    }
    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.auth_base)
    }
}

mod data;
mod oauth;

pub use crate::domain::ats::*;

#[derive(Deserialize)]
pub(crate) struct Data<T> {
    pub(crate) data: T,
}

#[derive(Deserialize)]
pub(crate) struct Page<T> {
    pub(crate) data: Vec<T>,
    #[serde(default, rename = "hasNext")]
    has_next: bool,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Rate limiters shared by every client of one connection in this process.
#[derive(Default)]
pub struct LeverLimiters(Mutex<HashMap<ConnectionId, Arc<RateLimiter>>>);

impl LeverLimiters {
    pub fn for_connection(&self, c: &ConnectionId) -> Arc<RateLimiter> {
        self.0
            .lock()
            .unwrap()
            .entry(c.clone())
            .or_insert_with(|| Arc::new(RateLimiter::with_burst(LEVER_MAX_RPS, LEVER_BURST)))
            .clone()
    }
}

/// Where Lever moved a connection's Data API (an EU account's `307` to its data centre), per
/// connection in this process: once seen, calls go there directly, so a candidate's data (the
/// create's form and files) crosses to the global host once per process, not on every call.
pub type MovedBase = Arc<Mutex<Option<String>>>;

#[derive(Default)]
pub struct LeverMoves(Mutex<HashMap<ConnectionId, MovedBase>>);

impl LeverMoves {
    pub fn for_connection(&self, c: &ConnectionId) -> MovedBase {
        self.0.lock().unwrap().entry(c.clone()).or_default().clone()
    }
}

/// Every connection's Lever: one HTTP client, the per-connection rate limiters, one timeout and
/// retry policy for Data API calls.
#[derive(Clone)]
pub struct LeverApi {
    pub http: reqwest::Client,
    pub limiters: Arc<LeverLimiters>,
    pub moves: Arc<LeverMoves>,
    pub retry: RetryPolicy,
    pub timeout: Duration,
}

impl LeverApi {
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            limiters: Arc::default(),
            moves: Arc::default(),
            // A webhook's budget: a retry that cannot finish within XOR's wait is not started.
            retry: RetryPolicy { budget: Duration::from_secs(10), ..RetryPolicy::default() },
            timeout: Duration::from_secs(20),
        }
    }
}

impl AtsProvider for LeverApi {
    fn for_connection(&self, conn: &Connection) -> Arc<dyn Ats> {
        let mut c = LeverClient::new(
            self.http.clone(),
            LeverHosts::for_settings(&conn.lever),
            self.limiters.for_connection(&conn.id),
        );
        c.retry = self.retry;
        c.timeout = self.timeout;
        c.moved = self.moves.for_connection(&conn.id);
        Arc::new(c)
    }
}

/// One connection's Lever client.
#[derive(Clone)]
pub struct LeverClient {
    http: reqwest::Client,
    pub hosts: LeverHosts,
    limiter: Arc<RateLimiter>,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    /// Lever's token endpoint, bounded apart: the refresh lease is sized from it.
    pub token_timeout: Duration,
    /// The Data API base Lever moved this connection to, once seen ([`MovedBase`]).
    moved: MovedBase,
}

pub(crate) enum Body {
    None,
    Json(serde_json::Value),
    Multipart(Box<dyn Fn() -> reqwest::multipart::Form + Send + Sync>),
}

/// A bound on pages followed in one listing (100 per page).
const MAX_PAGES: usize = 50;

impl LeverClient {
    pub fn new(http: reqwest::Client, hosts: LeverHosts, limiter: Arc<RateLimiter>) -> Self {
        Self {
            http,
            hosts,
            limiter,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(20),
            token_timeout: Duration::from_secs(6),
            moved: MovedBase::default(),
        }
    }

    /// The Data API base calls go to: where Lever moved this connection, else the configured one.
    fn api_base(&self) -> String {
        self.moved.lock().unwrap().clone().unwrap_or_else(|| self.hosts.api_base.clone())
    }

    /// Remembers the base a followed redirect of `path` (relative to the base) points at, when
    /// the target keeps the path: `https://api.lever.co/v1/opportunities` moved to
    /// `https://api.eu.lever.co/v1/opportunities` makes `https://api.eu.lever.co/v1` the base.
    fn remember_move(&self, path: &str, to: &reqwest::Url) {
        let rel = path.split(['?', '#']).next().unwrap_or_default();
        if let Some(base_path) = to.path().strip_suffix(rel).filter(|_| !rel.is_empty()) {
            let base = format!("{}{}", to.origin().ascii_serialization(), base_path.trim_end_matches('/'));
            *self.moved.lock().unwrap() = Some(base);
        }
    }

    /// Follows `next` tokens (used at once, never stored) up to a bound.
    pub(crate) async fn all_pages<T: for<'de> Deserialize<'de>>(
        &self,
        op: &'static str,
        base: &str,
        token: &SecretString,
    ) -> Result<Vec<T>, LeverError> {
        let mut out = Vec::new();
        let mut offset: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut path = base.to_owned();
            if let Some(o) = &offset {
                path.push_str("&offset=");
                path.push_str(&enc(o));
            }
            let page: Page<T> = self.call(op, Method::GET, path, token, Body::None, true).await?;
            out.extend(page.data);
            match (page.has_next, page.next) {
                (true, Some(n)) => offset = Some(n),
                _ => return Ok(out),
            }
        }
        Err(LeverError::TooManyPages { op, pages: MAX_PAGES })
    }

    /// Whether Lever refuses `token` (401 or 403), by the cheapest authenticated call, sent once
    /// with no retry: `None` when it is accepted or the answer says nothing (Lever unreachable).
    async fn refusal_of(&self, op: &'static str, token: &SecretString) -> Option<LeverError> {
        let url = format!("{}/users?limit=1", self.api_base());
        let send = |u: String| self.http.get(u).timeout(self.timeout).bearer_auth(token.expose()).send();
        let resp = self.hosts.send_following(url, |u| async { send(u).await.map_err(drop) }, drop).await.ok()?;
        match resp.status() {
            StatusCode::UNAUTHORIZED => Some(LeverError::Unauthorized { op }),
            StatusCode::FORBIDDEN => Some(LeverError::Forbidden {
                op,
                message: "the account does not authorize the app (seen on a check after the upload broke off)".into(),
            }),
            _ => None,
        }
    }

    pub(crate) async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        op: &'static str,
        method: Method,
        path: String,
        token: &SecretString,
        body: Body,
        retry_failures: bool,
    ) -> Result<T, LeverError> {
        let started = Instant::now();
        let (method, path, body) = (&method, path.as_str(), &body);
        // The state of the call: where it goes, and how many redirects it has followed.
        let at = (format!("{}{}", self.api_base(), path), 0u32);
        let attempt = |n: u32, (url, hops): (String, u32)| async move {
            // Waiting for Lever's rate budget is Lever's time too.
            let waited = Instant::now();
            // A slot further away than the call's retry budget would answer past the request's
            // deadline: say "unavailable" now (the delivery waits and is replayed) instead.
            if !self.limiter.wait_at_most(self.retry.budget.saturating_sub(started.elapsed())).await {
                let last = Failure::RateQueueFull;
                return ((url, hops), Attempt::Done(Err(LeverError::Unavailable { op, attempts: n - 1, last })));
            }
            let sent = self.request(method, &url, token, body).send().await;
            let outcome = match sent {
                Ok(resp) if resp.status().is_redirection() => match self.follow(op, &resp, path, hops) {
                    Ok(to) => ((to, hops + 1), Attempt::Again),
                    Err(e) => ((url, hops), Attempt::Done(Err(e))),
                },
                Ok(resp) => ((url, hops), answer(op, resp, retry_failures).await),
                Err(e) => ((url, hops), self.no_answer(op, token, body, e, retry_failures).await),
            };
            // The wait, the request and the answer's body read: Lever's time, not ours.
            let waited_ns = waited.elapsed().as_nanos() as u64;
            crate::metrics::count(|c| c.lever_nanos += waited_ns);
            outcome
        };
        call_with(&self.retry, op, at, attempt, |attempts, last| LeverError::Unavailable { op, attempts, last }).await
    }

    /// One request with the connection's token and the call's body.
    fn request(&self, method: &Method, url: &str, token: &SecretString, body: &Body) -> reqwest::RequestBuilder {
        let req = self.http.request(method.clone(), url).timeout(self.timeout).bearer_auth(token.expose());
        match body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Multipart(f) => req.multipart(f()),
        }
    }

    /// Where a redirect may be followed: the client follows none by itself, since the bearer
    /// token, and a POST's body, go only where `LeverHosts::redirect` allows (an EU account's
    /// hop), at most MAX_REDIRECTS in a row; the move is remembered for the connection.
    fn follow(&self, op: &'static str, resp: &reqwest::Response, path: &str, hops: u32) -> Result<String, LeverError> {
        let status = resp.status().as_u16();
        let message = match self.hosts.redirect(resp) {
            Ok(to) if hops < MAX_REDIRECTS => {
                self.remember_move(path, &to);
                return Ok(to.to_string());
            }
            Ok(to) => format!("Lever redirected more than {MAX_REDIRECTS} times in a row (last to {to})"),
            // The delivery's reason, written here: where Lever pointed and what to do.
            Err(refused) => refused.to_string(),
        };
        Err(LeverError::Redirected { op, status, message })
    }

    /// No answer read. A write whose upload broke off (or stalled) may have been answered early:
    /// Lever refuses a dead token on the headers and closes, or stops reading, while the body is
    /// still going, and the client fails on the write without reading the 401. Ask once,
    /// cheaply, with the same token, so a revoked app is seen as revoked on this call.
    async fn no_answer<T>(
        &self,
        op: &'static str,
        token: &SecretString,
        body: &Body,
        e: reqwest::Error,
        retry_failures: bool,
    ) -> Attempt<T, LeverError> {
        if !matches!(body, Body::None)
            && let Some(refusal) = self.refusal_of(op, token).await
        {
            return Attempt::Done(Err(refusal));
        }
        let last = transport_failure(e);
        if retry_failures { Attempt::Retry(last) } else { Attempt::GiveUp(last) }
    }
}

/// What Lever's answer (not a redirect) means: the value; a final refusal (401: the token; 403:
/// the account's grant; another 4xx but 429: the request); or a failure worth another attempt
/// (a 429 always, a 5xx when the call may be retried).
async fn answer<T: for<'de> Deserialize<'de>>(
    op: &'static str,
    resp: reqwest::Response,
    retry_failures: bool,
) -> Attempt<T, LeverError> {
    let status = resp.status();
    let failure = status_failure(&resp);
    let read = resp.bytes().await.unwrap_or_default();
    // A `204 No Content` (a delete) reads as JSON `null`.
    let bytes: &[u8] = if read.is_empty() && status == StatusCode::NO_CONTENT { b"null" } else { &read };
    if status.is_success() {
        return Attempt::Done(serde_json::from_slice(bytes).map_err(|e| LeverError::Decode { op, source: e.into() }));
    }
    if status == StatusCode::UNAUTHORIZED {
        return Attempt::Done(Err(LeverError::Unauthorized { op }));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        // Counted here, where the status is seen: the retries hide it above (`LeverThrottled`).
        crate::metrics::count(|c| c.lever_throttled += 1);
        return Attempt::Retry(failure);
    }
    if status.is_client_error() {
        let e: ErrorBody = serde_json::from_slice(bytes).unwrap_or(ErrorBody { code: None, message: None });
        if status == StatusCode::FORBIDDEN {
            let message = e.message.unwrap_or_else(|| "the account does not authorize this".into());
            return Attempt::Done(Err(LeverError::Forbidden { op, message }));
        }
        return Attempt::Done(Err(LeverError::Rejected {
            op,
            status: status.as_u16(),
            code: e.code.unwrap_or_else(|| "unknown".into()),
            message: e.message.unwrap_or_else(|| String::from_utf8_lossy(bytes).chars().take(200).collect()),
        }));
    }
    if retry_failures { Attempt::Retry(failure) } else { Attempt::GiveUp(failure) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, location: &str) -> reqwest::Response {
        use reqwest::ResponseBuilderExt;
        let asked = reqwest::Url::parse("https://api.lever.co/v1/opportunities?perform_as=u").unwrap();
        let r =
            http_types::Response::builder().status(status).url(asked).header("location", location).body("").unwrap();
        reqwest::Response::from(r)
    }

    #[test]
    fn an_eu_account_has_lever_s_eu_app_and_starts_at_the_global_api() {
        let eu = LeverHosts::for_settings(&LeverSettings { env: LeverEnv::Eu, ..LeverSettings::default() });
        assert_eq!(eu.app_base(), "https://hire.eu.lever.co");
        assert_eq!(
            (eu.api_base.as_str(), eu.audience().as_str()),
            ("https://api.lever.co/v1", "https://api.lever.co/v1/")
        );
        assert_eq!(eu.authorize_url(), "https://auth.lever.co/authorize");
        let global = LeverHosts::for_settings(&LeverSettings::default());
        assert_eq!(global.app_base(), "https://hire.lever.co");
        let sandbox = LeverHosts::for_settings(&LeverSettings { env: LeverEnv::Sandbox, ..LeverSettings::default() });
        assert_eq!(sandbox.app_base(), "https://hire.sandbox.lever.co");
    }

    #[test]
    fn a_redirect_is_followed_only_as_a_307_or_308_to_lever_s_own_hosts() {
        let h = LeverHosts::for_settings(&LeverSettings { env: LeverEnv::Eu, ..LeverSettings::default() });
        let to = |status, loc| h.redirect(&answer(status, loc)).map(|u| u.to_string()).map_err(|e| e.to_string());
        let eu = "https://api.eu.lever.co/v1/opportunities?perform_as=u";
        assert_eq!(to(307, eu).as_deref(), Ok(eu));
        // The whole Location is followed (a lookup's query, a page token), however long.
        let long = format!("{eu}&email={}%40example.com&offset=abc", "a".repeat(300));
        assert_eq!(to(307, &long), Ok(long.clone()));
        let none = h.redirect(&answer(307, "")).unwrap_err().to_string();
        assert!(none.contains("no usable Location"), "{none}");
        assert_eq!(to(308, "/v1/x").as_deref(), Ok("https://api.lever.co/v1/x"), "relative to the request");
        for (status, loc) in [
            (302, eu),
            (301, eu),
            (303, eu),
            (307, "http://api.eu.lever.co/v1/opportunities"),
            (307, "https://api.eu.lever.co:8443/v1/opportunities"),
            (307, "https://evil.example/v1/opportunities"),
            (307, "https://lever.co.evil.example/v1"),
            (307, "https://169.254.169.254/latest"),
        ] {
            let e = to(status, loc).unwrap_err();
            assert!(e.contains(loc) && e.contains("--lever-base-url"), "{status} {loc}: {e}");
        }
    }

    #[test]
    fn a_postings_api_feed_follows_the_region() {
        let global = "https://api.lever.co/v0/postings/acme?mode=json";
        let eu = "https://api.eu.lever.co/v0/postings/acme?mode=json";
        assert_eq!(feed_in_other_region(LeverEnv::Eu, global).as_deref(), Some(eu));
        assert_eq!(feed_in_other_region(LeverEnv::Production, eu).as_deref(), Some(global));
        assert_eq!(feed_in_other_region(LeverEnv::Eu, eu), None);
        assert_eq!(feed_in_other_region(LeverEnv::Production, "https://acme.example/feed.xml"), None);
        assert_eq!(feed_in_other_region(LeverEnv::Sandbox, global), None);
    }

    #[test]
    fn every_scope_asked_for_is_explained_and_no_other() {
        let mut asked: Vec<&str> = super::SCOPES.split(' ').collect();
        let mut explained: Vec<&str> = super::SCOPE_REASONS.iter().map(|(s, _)| *s).collect();
        asked.sort();
        explained.sort();
        assert_eq!(asked, explained);
    }
}
