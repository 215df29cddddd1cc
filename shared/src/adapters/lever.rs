//! Lever (docs/lever-facts.md). Every Lever host, path, field and error shape lives in this module.
//! UNCONFIRMED facts are marked; the first real sandbox run corrects them here.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::enc;
use super::retry::{RateLimiter, RetryPolicy, parse_retry_after};
use crate::domain::{ConnectionId, LeverEnv, LeverSettings, SecretString};

tokio::task_local! {
    /// Nanoseconds this task spent waiting on Lever, for benchmarks that measure our own time
    /// (a no-op unless a caller scopes it).
    pub static LEVER_NANOS: std::cell::Cell<u64>;
}

/// Lever's documented budget: ~10 requests/s per token, bursts of 20.
pub const LEVER_MAX_RPS: f64 = 10.0;
pub const LEVER_BURST: u32 = 20;

/// The scopes xor-lever asks for, and no more: one per kind of call it makes (Lever's reference
/// names a scope per endpoint; whether a `write` scope also allows reading is not documented, so
/// the reads the retries make — opportunities, notes — ask for their own).
pub const SCOPES: &str = "offline_access opportunities:read:admin opportunities:write:admin files:write:admin notes:read:admin notes:write:admin postings:read:admin users:read:admin";

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
    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.auth_base)
    }
}

/// The OAuth app (one per deployment).
#[derive(Clone, Serialize, Deserialize)]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials").field("client_id", &self.client_id).field("client_secret", &"***").finish()
    }
}

/// A connection's token pair as kept in its secret. `expires_at`: Unix seconds.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSet(***, expires_at: {})", self.expires_at)
    }
}

/// Who authorized, as Lever's access token says: Lever's documented example access token is a
/// JWT whose claims include `https://oauth.lever.co/accountId` and `https://oauth.lever.co/userId`.
///
/// The one place that decides what an access token tells us. The token comes straight from
/// Lever's token endpoint over TLS, in exchange for our client secret, so its claims are read
/// without checking a signature (no one else could have handed it to us). A token that is not
/// a JWT, or lacks the claims, gives `account_id: None`: the connect callback then binds a
/// connection that has no Lever account yet (recording it as unverified) but refuses one that is
/// already bound to an account, since it cannot show it is the same one (an operator confirms
/// with `connections reset-lever`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeverIdentity {
    pub account_id: Option<String>,
    pub user_id: Option<String>,
}

pub const ACCOUNT_CLAIM: &str = "https://oauth.lever.co/accountId";
pub const USER_CLAIM: &str = "https://oauth.lever.co/userId";

pub fn identity_of(access_token: &str) -> LeverIdentity {
    use base64::Engine;
    let claims = access_token
        .split('.')
        .nth(1)
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let claim = |k: &str| {
        claims.as_ref().and_then(|c| c.get(k)).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(str::to_owned)
    };
    LeverIdentity { account_id: claim(ACCOUNT_CLAIM), user_id: claim(USER_CLAIM) }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The refresh token (or code) is dead: the app was revoked, or the token was used already.
    #[error("Lever refused the grant (invalid_grant): {0}")]
    InvalidGrant(String),
    #[error("Lever's token endpoint refused the request: HTTP {status} {error}")]
    Refused { status: u16, error: String },
    #[error("Lever's token endpoint is unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeverError {
    /// 401: the access token expired or the app was revoked.
    #[error("Lever answered 401 to {op}")]
    Unauthorized { op: &'static str },
    /// A final 4xx: Lever will not accept this request as it is.
    #[error("Lever refused {op}: HTTP {status} {code}: {message}")]
    Rejected { op: &'static str, status: u16, code: String, message: String },
    /// 429 / 5xx / timeouts after the retry policy (reads), or at once (a create's ambiguous failure).
    #[error("Lever unavailable for {op} after {attempts} attempt(s): {last}")]
    Unavailable { op: &'static str, attempts: u32, last: String },
    #[error("Lever answered {op} with a body we cannot read: {message}")]
    Decode { op: &'static str, message: String },
    /// A listing longer than we follow: answering from part of it could be wrong.
    #[error("Lever's answer to {op} has more than {pages} pages")]
    TooManyPages { op: &'static str, pages: usize },
}

#[derive(Debug, Clone, Deserialize)]
pub struct LeverUser {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, rename = "accessRole")]
    pub access_role: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LeverPosting {
    pub id: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

impl LeverPosting {
    /// Candidates can be added to published and internal postings.
    pub fn is_open(&self) -> bool {
        matches!(self.state.as_deref(), Some("published" | "internal"))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Opportunity {
    pub id: String,
    #[serde(default)]
    pub contact: Option<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    /// Application ids (DOCS); with `expand=applications`, the applications, each with its
    /// `posting`.
    #[serde(default)]
    pub applications: Vec<serde_json::Value>,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub phones: Vec<serde_json::Value>,
    #[serde(default)]
    pub links: Vec<String>,
    /// Epoch milliseconds.
    #[serde(default, rename = "createdAt")]
    pub created_at: Option<i64>,
}

impl Opportunity {
    /// Whether an application is for `posting_id` (needs `expand=applications`: an application
    /// id alone never matches).
    pub fn has_posting(&self, posting_id: &str) -> bool {
        self.applications.iter().any(|a| a.get("posting").and_then(|x| x.as_str()) == Some(posting_id))
    }
    /// Lever source names are matched without regard to case ("XOR", "xor").
    pub fn has_source(&self, source: &str) -> bool {
        self.sources.iter().any(|s| s.eq_ignore_ascii_case(source))
    }
    pub fn has_email(&self, email: &str) -> bool {
        self.emails.iter().any(|e| e.eq_ignore_ascii_case(email))
    }
    pub fn has_link(&self, url: &str) -> bool {
        self.links.iter().any(|l| l == url)
    }
    /// The same phone number, compared on its digits (formatting varies).
    pub fn has_phone(&self, phone: &str) -> bool {
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        let want = digits(phone);
        !want.is_empty()
            && self.phones.iter().any(|p| p.get("value").and_then(|v| v.as_str()).is_some_and(|v| digits(v) == want))
    }
}

/// The documented filters of `GET /opportunities` this product uses (all optional).
#[derive(Debug, Clone, Default)]
pub struct OpportunityFilter {
    pub email: Option<String>,
    pub posting_id: Option<String>,
    pub source: Option<String>,
    /// Epoch milliseconds.
    pub created_at_start: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Phone {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// The fields of `POST /v1/opportunities`. No `headline`: Lever's is the contact's (previous
/// companies or schools), shared by all their opportunities, and ignored for a known contact.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewOpportunity {
    pub name: String,
    pub location: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<Phone>,
    pub links: Vec<String>,
    pub tags: Vec<String>,
    pub sources: Vec<String>,
    pub origin: String,
    pub postings: Vec<String>,
    /// A stage id; Lever's default (the account's first stage) when absent.
    pub stage: Option<String>,
}

/// Which of Lever's file slots a file goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `resumeFile`: the one resume (Lever shows it under Resumes).
    Resume,
    /// `files[]`: any other file (Lever shows them under Files).
    Other,
}

#[derive(Debug, Clone)]
pub struct FileUpload {
    pub kind: FileKind,
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct Page<T> {
    data: Vec<T>,
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

enum Body {
    None,
    Json(serde_json::Value),
    Multipart(Box<dyn Fn() -> Form + Send + Sync>),
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

    // ---- OAuth -------------------------------------------------------------------------------

    pub async fn refresh(
        &self,
        app: &AppCredentials,
        refresh_token: &SecretString,
        now: i64,
    ) -> Result<TokenSet, OAuthError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.as_str()),
            ("refresh_token", refresh_token.expose()),
        ];
        self.token_request(&form, now, Some(refresh_token)).await
    }

    pub async fn exchange_code(
        &self,
        app: &AppCredentials,
        code: &str,
        redirect_uri: &str,
        now: i64,
    ) -> Result<TokenSet, OAuthError> {
        let audience = self.hosts.audience();
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.as_str()),
            ("redirect_uri", redirect_uri),
            ("code", code),
            ("audience", audience.as_str()),
        ];
        self.token_request(&form, now, None).await
    }

    async fn token_request(
        &self,
        form: &[(&str, &str)],
        now: i64,
        old_refresh: Option<&SecretString>,
    ) -> Result<TokenSet, OAuthError> {
        // Never retried: a refresh token is single-use, and a lost answer would already have spent it.
        let resp = self.http.post(self.hosts.token_url()).timeout(self.token_timeout).form(form).send().await.map_err(
            |e| OAuthError::Unavailable(if e.is_timeout() { "timed out".into() } else { "connection failed".into() }),
        )?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|_| OAuthError::Unavailable("unreadable answer".into()))?;
        if status.is_success() {
            let t: TokenResponse = serde_json::from_slice(&body)
                .map_err(|e| OAuthError::Unavailable(format!("unreadable token answer: {e}")))?;
            let refresh_token = match (t.refresh_token, old_refresh) {
                (Some(r), _) => r,
                (None, Some(old)) => old.expose().to_owned(),
                (None, None) => {
                    return Err(OAuthError::Refused {
                        status: status.as_u16(),
                        error: "no refresh_token (is offline_access granted?)".into(),
                    });
                }
            };
            // `expires_in` is Lever's word (about 3600 s): never a constant of ours.
            return Ok(TokenSet {
                access_token: t.access_token,
                refresh_token,
                expires_at: now + t.expires_in.unwrap_or(3600),
            });
        }
        #[derive(Deserialize)]
        struct OAuthErr {
            error: Option<String>,
        }
        let error = serde_json::from_slice::<OAuthErr>(&body).ok().and_then(|e| e.error).unwrap_or_default();
        if error == "invalid_grant" {
            return Err(OAuthError::InvalidGrant("the refresh token or code is no longer valid".into()));
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(OAuthError::Unavailable(format!("HTTP {}", status.as_u16())));
        }
        Err(OAuthError::Refused { status: status.as_u16(), error })
    }

    // ---- Data API ----------------------------------------------------------------------------

    /// Any one user: the cheapest authenticated call (the scheduled run's authorization check).
    pub async fn any_user(&self, token: &SecretString) -> Result<Vec<LeverUser>, LeverError> {
        let page: Page<LeverUser> =
            self.call("users", Method::GET, "/users?limit=1".into(), token, Body::None, true).await?;
        Ok(page.data)
    }

    /// Every user with `access_role` (e.g. `super admin`), every page.
    pub async fn users_with_role(&self, token: &SecretString, access_role: &str) -> Result<Vec<LeverUser>, LeverError> {
        let base = format!("/users?accessRole={}&limit=100", enc(access_role));
        self.all_pages("users", &base, token).await
    }

    pub async fn user(&self, token: &SecretString, id: &str) -> Result<LeverUser, LeverError> {
        let d: Data<LeverUser> =
            self.call("get user", Method::GET, format!("/users/{}", enc(id)), token, Body::None, true).await?;
        Ok(d.data)
    }

    /// Follows `next` tokens (used at once, never stored) up to a bound.
    async fn all_pages<T: for<'de> Deserialize<'de>>(
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

    pub async fn posting(&self, token: &SecretString, id: &str) -> Result<LeverPosting, LeverError> {
        let d: Data<LeverPosting> =
            self.call("get posting", Method::GET, format!("/postings/{}", enc(id)), token, Body::None, true).await?;
        Ok(d.data)
    }

    /// Published postings, every page (offset tokens are used at once, never stored).
    pub async fn postings(&self, token: &SecretString) -> Result<Vec<LeverPosting>, LeverError> {
        let mut out = Vec::new();
        let mut offset: Option<String> = None;
        loop {
            let mut path = "/postings?state=published&limit=100".to_owned();
            if let Some(o) = &offset {
                path.push_str("&offset=");
                path.push_str(&enc(o));
            }
            let page: Page<LeverPosting> =
                self.call("list postings", Method::GET, path, token, Body::None, true).await?;
            out.extend(page.data);
            match (page.has_next, page.next) {
                (true, Some(n)) => offset = Some(n),
                _ => return Ok(out),
            }
        }
    }

    /// Opportunities by the documented filters, with their applications expanded (so each
    /// shows its posting), every page.
    pub async fn find_opportunities(
        &self,
        token: &SecretString,
        f: &OpportunityFilter,
    ) -> Result<Vec<Opportunity>, LeverError> {
        let mut q = vec!["expand=applications".to_owned(), "limit=100".to_owned()];
        for (k, v) in [("email", &f.email), ("posting_id", &f.posting_id), ("source", &f.source)] {
            if let Some(v) = v {
                q.push(format!("{k}={}", enc(v)));
            }
        }
        if let Some(t) = f.created_at_start {
            q.push(format!("created_at_start={t}"));
        }
        self.all_pages("find opportunities", &format!("/opportunities?{}", q.join("&")), token).await
    }

    /// `POST /v1/opportunities?perform_as=…`, multipart with the files. With `as_posting_owner`,
    /// Lever makes the posting's owner the owner (and the follower) instead of `perform_as`
    /// (`perform_as_posting_owner=true`). NOT idempotent at Lever: only a 429 (not processed) is
    /// retried; a 5xx or timeout is returned as `Unavailable` for the caller to look before it
    /// creates again.
    pub async fn create_opportunity(
        &self,
        token: &SecretString,
        perform_as: &str,
        as_posting_owner: bool,
        o: &NewOpportunity,
        files: &[FileUpload],
    ) -> Result<Opportunity, LeverError> {
        let (o, files) = (o.clone(), files.to_vec());
        let form = move || multipart_form(&o, &files);
        let mut path = format!("/opportunities?perform_as={}", enc(perform_as));
        if as_posting_owner {
            path.push_str("&perform_as_posting_owner=true");
        }
        let d: Data<Opportunity> =
            self.call("create opportunity", Method::POST, path, token, Body::Multipart(Box::new(form)), false).await?;
        Ok(d.data)
    }

    /// `POST /v1/opportunities/{id}/notes?perform_as=…` (`value`). Not idempotent either: a
    /// failure after sending is not retried.
    pub async fn add_note(
        &self,
        token: &SecretString,
        perform_as: &str,
        opportunity: &str,
        text: &str,
    ) -> Result<(), LeverError> {
        let path = format!("/opportunities/{}/notes?perform_as={}", enc(opportunity), enc(perform_as));
        let body = serde_json::json!({ "value": text });
        let _: serde_json::Value = self.call("add note", Method::POST, path, token, Body::Json(body), false).await?;
        Ok(())
    }

    /// The texts of an opportunity's notes (to see whether an earlier attempt added ours).
    pub async fn note_texts(&self, token: &SecretString, opportunity: &str) -> Result<Vec<String>, LeverError> {
        let base = format!("/opportunities/{}/notes?limit=100", enc(opportunity));
        let notes: Vec<serde_json::Value> = self.all_pages("list notes", &base, token).await?;
        Ok(notes
            .iter()
            .flat_map(|n| {
                n.get("fields")
                    .and_then(|f| f.as_array())
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|f| f.get("value").and_then(|v| v.as_str()).map(str::to_owned))
            })
            .collect())
    }

    async fn call<T: for<'de> Deserialize<'de>>(
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
            self.limiter.wait().await;
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
                        return Err(LeverError::Rejected {
                            op,
                            status: status.as_u16(),
                            code: e.code.unwrap_or_else(|| "unknown".into()),
                            message: e
                                .message
                                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect()),
                        });
                    }
                    let retryable = retry_failures || status == StatusCode::TOO_MANY_REQUESTS;
                    (retry_after, format!("HTTP {}", status.as_u16()), retryable)
                }
                Err(e) => {
                    (None, if e.is_timeout() { "timed out".into() } else { "connection failed".into() }, retry_failures)
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

/// Lever's multipart shape (DOCS): arrays as repeated `name[]` keys; the resume under
/// `resumeFile`, every other file under `files[]`. Phones as `phones[i][type|value]` (UNCONFIRMED).
fn multipart_form(o: &NewOpportunity, files: &[FileUpload]) -> Form {
    let mut f = Form::new().text("name", o.name.clone()).text("origin", o.origin.clone());
    if let Some(s) = &o.stage {
        f = f.text("stage", s.clone());
    }
    if let Some(l) = &o.location {
        f = f.text("location", l.clone());
    }
    for (key, values) in [
        ("emails[]", &o.emails),
        ("links[]", &o.links),
        ("tags[]", &o.tags),
        ("sources[]", &o.sources),
        ("postings[]", &o.postings),
    ] {
        for v in values {
            f = f.text(key, v.clone());
        }
    }
    for (i, p) in o.phones.iter().enumerate() {
        f = f.text(format!("phones[{i}][type]"), p.kind.clone()).text(format!("phones[{i}][value]"), p.value.clone());
    }
    for file in files {
        let part = Part::bytes(file.bytes.clone())
            .file_name(file.name.clone())
            .mime_str(&file.content_type)
            .unwrap_or_else(|_| Part::bytes(file.bytes.clone()).file_name(file.name.clone()));
        let key = match file.kind {
            FileKind::Resume => "resumeFile",
            FileKind::Other => "files[]",
        };
        f = f.part(key, part);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_debug_output() {
        let app = AppCredentials { client_id: "cid".into(), client_secret: "s3cr3t-app".into() };
        let t = TokenSet { access_token: "lat_s3cr3t".into(), refresh_token: "lrt_s3cr3t".into(), expires_at: 1 };
        let printed = format!("{app:?} {t:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(printed.contains("cid") && printed.contains("***"), "{printed}");
    }

    #[test]
    fn the_authorizing_account_is_read_from_the_jwt_claims() {
        use base64::Engine;
        let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let jwt = format!(
            "{}.{}.sig",
            b64(serde_json::json!({"alg": "RS256"})),
            b64(serde_json::json!({ACCOUNT_CLAIM: "acct-1", USER_CLAIM: "usr-9", "sub": "x"}))
        );
        assert_eq!(
            identity_of(&jwt),
            LeverIdentity { account_id: Some("acct-1".into()), user_id: Some("usr-9".into()) }
        );
        assert_eq!(identity_of("opaque-token"), LeverIdentity::default());
        assert_eq!(identity_of("a.%%%.c"), LeverIdentity::default());
    }
}
