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
use super::retry::{RateLimiter, RetryPolicy, parse_retry_after};
use crate::domain::{Connection, ConnectionId, LeverEnv, LeverSettings, SecretString};

tokio::task_local! {
    /// Nanoseconds this task spent waiting on Lever, for benchmarks that measure our own time
    /// (a no-op unless a caller scopes it).
    pub static LEVER_NANOS: std::cell::Cell<u64>;
}

/// Lever's 429s (every attempt answered "too many requests"), process-wide, for the metric
/// lines (`LeverThrottled`): each line takes what accumulated since the previous one, so the
/// sums over time are exact. Counted here, where the status is seen: the retries hide it above.
static THROTTLED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Lever's 429s since the last call.
pub fn take_throttled() -> usize {
    THROTTLED.swap(0, std::sync::atomic::Ordering::Relaxed)
}

/// Lever's documented budget: ~10 requests/s per token, bursts of 20.
pub const LEVER_MAX_RPS: f64 = 10.0;
pub const LEVER_BURST: u32 = 20;

/// The scopes xor-lever asks for, and no more: one per kind of call it makes (Lever's reference
/// names a scope per endpoint; whether a `write` scope also allows reading is not documented, so
/// the reads the retries make — opportunities, notes — ask for their own).
pub const SCOPES: &str = "offline_access confidential:access:admin opportunities:read:admin opportunities:write:admin files:write:admin notes:read:admin notes:write:admin postings:read:admin users:read:admin";

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
];

/// Hosts per environment. EU customers are redirected by Lever's own OAuth host (no EU entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeverHosts {
    /// The Data API base, ending in `/v1`.
    pub api_base: String,
    /// The OAuth host (`<auth_base>/authorize`, `<auth_base>/oauth/token`).
    pub auth_base: String,
    /// The environment's API, as OAuth names it: never an overridden base (a proxy, a stand-in).
    audience: String,
}

impl LeverHosts {
    pub fn for_settings(s: &LeverSettings) -> Self {
        let (api, auth) = match s.env {
            LeverEnv::Production => ("https://api.lever.co/v1", "https://auth.lever.co"),
            LeverEnv::Sandbox => ("https://api.sandbox.lever.co/v1", "https://sandbox-lever.auth0.com"),
        };
        Self {
            api_base: s.api_base_url.clone().unwrap_or_else(|| api.into()).trim_end_matches('/').to_owned(),
            auth_base: s.auth_base_url.clone().unwrap_or_else(|| auth.into()).trim_end_matches('/').to_owned(),
            audience: format!("{api}/"),
        }
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
        if self.audience.contains("sandbox") { "https://hire.sandbox.lever.co" } else { "https://hire.lever.co" }
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

/// Every connection's Lever: one HTTP client, the per-connection rate limiters, one timeout and
/// retry policy for Data API calls.
#[derive(Clone)]
pub struct LeverApi {
    pub http: reqwest::Client,
    pub limiters: Arc<LeverLimiters>,
    pub retry: RetryPolicy,
    pub timeout: Duration,
}

impl LeverApi {
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            limiters: Arc::default(),
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
        let url = format!("{}/users?limit=1", self.hosts.api_base);
        let resp = self.http.get(&url).timeout(self.timeout).bearer_auth(token.expose()).send().await.ok()?;
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
        let url = format!("{}{}", self.hosts.api_base, path);
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Waiting for Lever's rate budget is Lever's time too.
            let waited = Instant::now();
            // A slot further away than the call's retry budget would answer past the request's
            // deadline: say "unavailable" now (the delivery waits and is replayed) instead.
            if !self.limiter.wait_at_most(self.retry.budget.saturating_sub(started.elapsed())).await {
                return Err(LeverError::Unavailable {
                    op,
                    attempts: attempt - 1,
                    last: "too many calls queued for Lever's rate limit".into(),
                });
            }
            let mut req = self.http.request(method.clone(), &url).timeout(self.timeout).bearer_auth(token.expose());
            req = match &body {
                Body::None => req,
                Body::Json(v) => req.json(v),
                Body::Multipart(f) => req.multipart(f()),
            };
            let result = req.send().await;
            let result = match result {
                Ok(resp) => {
                    let status = resp.status();
                    // Never followed (no redirect policy on the client): the bearer token, and a
                    // POST's body, must not go wherever an answer points.
                    if status.is_redirection() {
                        let message = format!(
                            "Lever answered a redirect to {}: not followed",
                            crate::adapters::redirect_target(&resp)
                        );
                        return Err(LeverError::Rejected {
                            op,
                            status: status.as_u16(),
                            code: "redirect".into(),
                            message,
                        });
                    }
                    let retry_after = parse_retry_after(resp.headers().get(reqwest::header::RETRY_AFTER));
                    let bytes = resp.bytes().await.unwrap_or_default();
                    Ok((status, retry_after, bytes))
                }
                Err(e) => Err(e),
            };
            let _ = LEVER_NANOS.try_with(|n| n.set(n.get() + waited.elapsed().as_nanos() as u64));
            let (retry_after, last, retryable) = match result {
                Ok((status, retry_after, bytes)) => {
                    if status.is_success() {
                        return serde_json::from_slice(&bytes)
                            .map_err(|e| LeverError::Decode { op, message: e.to_string() });
                    }
                    if status == StatusCode::UNAUTHORIZED {
                        return Err(LeverError::Unauthorized { op });
                    }
                    if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
                        let e: ErrorBody =
                            serde_json::from_slice(&bytes).unwrap_or(ErrorBody { code: None, message: None });
                        if status == StatusCode::FORBIDDEN {
                            let message = e.message.unwrap_or_else(|| "the account does not authorize this".into());
                            return Err(LeverError::Forbidden { op, message });
                        }
                        return Err(LeverError::Rejected {
                            op,
                            status: status.as_u16(),
                            code: e.code.unwrap_or_else(|| "unknown".into()),
                            message: e
                                .message
                                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect()),
                        });
                    }
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        THROTTLED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    let retryable = retry_failures || status == StatusCode::TOO_MANY_REQUESTS;
                    (retry_after, format!("HTTP {}", status.as_u16()), retryable)
                }
                Err(e) if e.is_timeout() => (None, "timed out".to_owned(), retry_failures),
                Err(_) => {
                    // A write whose upload broke off may have been answered early: Lever refuses
                    // a dead token on the headers and closes while the body is still going, and
                    // the client fails on the write without reading the 401. Ask once, cheaply,
                    // with the same token, so a revoked app is seen as revoked on this call.
                    if !matches!(body, Body::None) {
                        if let Some(refusal) = self.refusal_of(op, token).await {
                            return Err(refusal);
                        }
                    }
                    (None, "connection failed".to_owned(), retry_failures)
                }
            };
            let next = if retryable { self.retry.next_delay(attempt, started.elapsed(), retry_after) } else { None };
            match next {
                Some(d) => tokio::time::sleep(d).await,
                None => return Err(LeverError::Unavailable { op, attempts: attempt, last }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_scope_asked_for_is_explained_and_no_other() {
        let mut asked: Vec<&str> = super::SCOPES.split(' ').collect();
        let mut explained: Vec<&str> = super::SCOPE_REASONS.iter().map(|(s, _)| *s).collect();
        asked.sort();
        explained.sort();
        assert_eq!(asked, explained);
    }
}
