//! A faithful fake of the Lever facts the project relies on (docs/lever-facts.md): OAuth authorize
//! (auto-approves, or denies when told) and token endpoints with ROTATING refresh tokens (a used
//! refresh token is dead), `/v1/users`, `/v1/postings`, `/v1/opportunities` (JSON and multipart,
//! files kept, email dedupe onto one contact, list by email), a switch that revokes the app, 429
//! and 5xx injection, and controls under `/_sandbox/`.
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "sandbox-client";
pub const CLIENT_SECRET: &str = "sandbox-secret";
pub const ADMIN_USER: &str = "usr_admin_0001";
/// A second Super Admin (accounts can have several), listed after `ADMIN_USER`.
pub const OTHER_ADMIN: &str = "usr_admin_0002";
/// The owner of the postings the sandbox is given (a recruiter, not an admin).
pub const POSTING_OWNER: &str = "usr_recruiter_0002";
/// Team members seeded before the Super Admins, so that they are past the first page of 100.
pub const SEEDED_TEAM: usize = 120;
/// The stage a new opportunity gets unless the create names one (Lever: the account's first).
pub const DEFAULT_STAGE: &str = "lead-new";
/// What `issue_tokens` grants (an authorization grants what its `scope` asked for).
pub const ALL_SCOPES: &str = "offline_access confidential:access:admin opportunities:read:admin opportunities:write:admin files:write:admin notes:read:admin notes:write:admin postings:read:admin users:read:admin";

/// The scope each route needs (Lever's reference names one per endpoint).
fn scope_for(op: &str) -> Option<&'static str> {
    Some(match op {
        "create" => "opportunities:write:admin",
        "find" => "opportunities:read:admin",
        "note" => "notes:write:admin",
        "notes" => "notes:read:admin",
        "file" => "files:write:admin",
        "users" | "user" => "users:read:admin",
        "posting" | "postings" => "postings:read:admin",
        _ => return None,
    })
}
/// Lever's scope for confidential data ("Access all confidential data"): without it, a request
/// for confidential postings or opportunities is an access error (DOCS: "Confidential Data";
/// the status, 403, is UNCONFIRMED).
pub const CONFIDENTIAL_SCOPE: &str = "confidential:access:admin";

fn may_see_confidential(g: &Inner, headers: &HeaderMap) -> bool {
    let token = bearer(headers);
    g.scopes.get(&token).is_some_and(|granted| granted.split(' ').any(|s| s == CONFIDENTIAL_SCOPE))
}

fn confidential_refused() -> Response {
    lever_error(StatusCode::FORBIDDEN, "ForbiddenError", "this token has no access to confidential data")
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned()
}

/// The Lever account the sandbox's admin signs in to (unless `Config::account_id` says another).
pub const SANDBOX_ACCOUNT: &str = "acct-5a1c0b6e-acme";

pub use crate::faults::Fault;
use crate::faults::{Faults, Stage};

/// The sandbox's settings (`POST /_sandbox/config`: a field left out keeps its default).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Seconds an access token lives (`expires_in`).
    pub access_ttl_secs: u64,
    /// The authorize page answers `error=access_denied` (the admin clicked "Deny").
    pub deny_consent: bool,
    /// Requests per second per token before 429 (0 = unlimited).
    pub rate_limit_rps: f64,
    /// The Lever account whose admin consents on the authorize page (its id goes in the tokens).
    pub account_id: String,
    /// Issue opaque access tokens instead of Lever's documented JWTs (no account claims).
    pub opaque_tokens: bool,
    /// The user who signs in on the authorize page (their id goes in the tokens).
    pub user_id: String,
    /// The largest page a list answers with (Lever: `limit` up to 100).
    pub max_page: usize,
    /// Refuse a create on a posting that is not published or internal (Lever's reference does not
    /// say what it does: off by default).
    pub refuse_closed_postings: bool,
    /// Show a consent page with Allow and Deny (as Lever does) instead of approving at once:
    /// for a person, or a browser test, walking the flow.
    pub consent_page: bool,
    /// Seconds a refresh token lives, counted from the authorization that began its family (each
    /// refresh hands over a new one that keeps the family's age). Lever: "Refresh tokens will
    /// expire after one year or after 90 days of inactivity" (DOCS); whether a refresh restarts
    /// the year is UNCONFIRMED, so the sandbox takes the stricter reading.
    pub refresh_ttl_secs: u64,
    /// How the account stores a phone it was sent (Lever's reference shows `(123) 456-7891`;
    /// what it does with other formats is UNCONFIRMED).
    pub phones_stored_as: PhoneStorage,
    /// The account lives in another region (an EU account): every Data API and token call to
    /// this host is answered `307` to the same path under this base. Lever's OAuth page: "Any
    /// integration authorization or action will be re-directed automatically to the appropriate
    /// data center" (DOCS; the status and hosts are UNCONFIRMED).
    pub region_redirect: Option<String>,
    /// A create refused on its headers (a dead token, a 401 or 403 fault) breaks the upload off
    /// before the client can read the refusal: Lever answers before reading the body and closes,
    /// and a client still sending fails on the write (seen against a real server, timing
    /// dependent; forced here: the connection is dropped in place of the answer). The refusal is
    /// counted as if it had been read.
    pub refusal_breaks_upload: bool,
    /// The account's recruiters' app, in each opportunity's `urls` (`https://hire.lever.co`;
    /// an EU account's is `https://hire.eu.lever.co`).
    pub app_url: String,
    /// What a revoked app's token is answered (Lever's reference: 401 "A valid API key was not
    /// provided"; 403 "account settings don't authorize" is what some accounts may answer).
    pub revoked_status: u16,
}

/// How a sent phone is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneStorage {
    /// As sent.
    #[default]
    AsSent,
    /// `+` and the digits (E.164).
    E164,
    /// The national format: `(415) 555-0100` for +1, `020 7946 0001` for +44.
    National,
}

impl PhoneStorage {
    fn store(self, sent: &str) -> String {
        let digits: String = sent.chars().filter(char::is_ascii_digit).collect();
        match self {
            Self::AsSent => sent.to_owned(),
            Self::E164 => format!("+{digits}"),
            Self::National => match (digits.strip_prefix('1'), digits.strip_prefix("44")) {
                (Some(n), _) if n.len() == 10 => format!("({}) {}-{}", &n[..3], &n[3..6], &n[6..]),
                (_, Some(n)) if n.len() == 10 => format!("0{} {} {}", &n[..2], &n[2..6], &n[6..]),
                _ => sent.to_owned(),
            },
        }
    }
}

/// The file types Lever's reference lists ("Supported File Formats": docx, doc, js, jpg, png,
/// pdf, txt); a `resumeFile` of another type is refused.
pub const SUPPORTED_FILE_TYPES: [&str; 7] = ["docx", "doc", "js", "jpg", "png", "pdf", "txt"];

/// Lever's one year, for the refresh tokens' default lifetime.
pub const REFRESH_TOKEN_LIFETIME_SECS: u64 = 365 * 24 * 3600;

impl Default for Config {
    fn default() -> Self {
        Self {
            access_ttl_secs: 3600,
            deny_consent: false,
            rate_limit_rps: 0.0,
            account_id: SANDBOX_ACCOUNT.into(),
            opaque_tokens: false,
            user_id: ADMIN_USER.into(),
            max_page: 100,
            refuse_closed_postings: false,
            consent_page: false,
            refresh_ttl_secs: REFRESH_TOKEN_LIFETIME_SECS,
            phones_stored_as: PhoneStorage::AsSent,
            region_redirect: None,
            refusal_breaks_upload: false,
            app_url: "https://hire.lever.co".into(),
            revoked_status: 401,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub requests: u64,
    pub refreshes: u64,
    pub refresh_failures: u64,
    pub code_exchanges: u64,
    pub opportunities_created: u64,
    pub unauthorized: u64,
    pub faults_served: u64,
    /// Calls answered with a redirect to the account's region.
    pub redirected: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredFile {
    pub field: String,
    pub name: String,
    pub content_type: String,
    pub size: usize,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredNote {
    pub id: String,
    pub value: String,
    pub user: String,
    pub secret: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredOpportunity {
    pub id: String,
    /// The application's id (Lever: `applications` lists these; the posting is on the application).
    pub application: String,
    pub contact: String,
    pub name: String,
    pub headline: Option<String>,
    pub location: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<Value>,
    pub links: Vec<String>,
    pub tags: Vec<String>,
    pub sources: Vec<String>,
    pub origin: Option<String>,
    pub postings: Vec<String>,
    pub owner: String,
    pub followers: Vec<String>,
    pub stage: String,
    #[serde(rename = "createdAt")]
    pub created_at: u128,
    /// Parts sent as `files[]` (and `file` to `/opportunities/{id}/files`).
    pub files: Vec<StoredFile>,
    /// The part sent as `resumeFile`.
    pub resumes: Vec<StoredFile>,
    pub notes: Vec<StoredNote>,
    /// On a confidential posting (Lever: "An opportunity can only be confidential if it is
    /// associated with a confidential job posting").
    pub confidential: bool,
}

/// A person, deduplicated by email: their stored data wins over a later create's.
#[derive(Debug, Clone)]
struct Contact {
    name: String,
    headline: Option<String>,
    phones: Vec<Value>,
}

#[derive(Default)]
struct Inner {
    config: Config,
    stats: Stats,
    faults: Faults,
    revoked: bool,
    codes: HashMap<String, String>,   // code → redirect_uri
    access: HashMap<String, Instant>, // token → expiry
    scopes: HashMap<String, String>,  // access or refresh token, or code → the granted scopes
    sources: Vec<String>,             // the account's source names (an existing one is reused)
    refresh: HashMap<String, bool>,   // token → still live
    born: HashMap<String, Instant>,   // refresh token → when its family's authorization happened
    users: Vec<Value>,
    postings: BTreeMap<String, Value>,
    opportunities: Vec<StoredOpportunity>,
    contacts: HashMap<String, String>, // lower-cased email → contact id
    people: HashMap<String, Contact>,  // contact id → the person's data
    buckets: HashMap<String, (f64, Instant)>,
    seq: u64,
}

impl Inner {
    fn next(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{:08x}{:04x}", self.seq, fastrand::u16(..))
    }
    fn issue_pair(&mut self) -> (String, String, u64) {
        self.issue_pair_with(ALL_SCOPES, Instant::now())
    }

    /// A new pair for a grant of `scope` whose authorization happened at `born`.
    fn issue_pair_with(&mut self, scope: &str, born: Instant) -> (String, String, u64) {
        let jti = self.next("lat_");
        let at = if self.config.opaque_tokens { jti } else { self.jwt(&jti) };
        let rt = self.next("lrt_");
        let ttl = self.config.access_ttl_secs;
        self.access.insert(at.clone(), Instant::now() + Duration::from_secs(ttl));
        self.refresh.insert(rt.clone(), true);
        self.born.insert(rt.clone(), born);
        self.scopes.insert(at.clone(), scope.to_owned());
        self.scopes.insert(rt.clone(), scope.to_owned());
        (at, rt, ttl)
    }
}

impl Inner {
    /// An access token shaped like Lever's documented example: a JWT whose claims name the
    /// account and the user who authorized (the signature is not ours to check, nor theirs).
    fn jwt(&self, jti: &str) -> String {
        use base64::Engine;
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": "sandbox"});
        let claims = json!({
            "https://oauth.lever.co/accountId": self.config.account_id,
            "https://oauth.lever.co/userId": self.config.user_id,
            "iss": "https://auth.lever.co/",
            "sub": format!("lever|{}", self.config.user_id),
            "aud": ["https://api.lever.co/v1/"],
            "iat": now,
            "exp": now + self.config.access_ttl_secs,
            "scope": "offline_access opportunities:write:admin",
            "jti": jti,
        });
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jti.as_bytes());
        format!("{}.{}.{sig}", b64(header), b64(claims))
    }
}

#[derive(Clone, Default)]
pub struct LeverState(Arc<Mutex<Inner>>);

pub struct LeverSandbox {
    pub url: String,
    pub addr: SocketAddr,
    pub state: LeverState,
    _served: crate::Served,
}

impl LeverSandbox {
    pub async fn spawn() -> Self {
        Self::spawn_on("127.0.0.1:0").await.expect("bind loopback")
    }

    pub async fn spawn_on(addr: &str) -> std::io::Result<Self> {
        let state = LeverState::default();
        {
            let mut g = state.0.lock().unwrap();
            // An account as real ones are: more than a page of users, Super Admins past the first
            // page, and more than one of them.
            g.users.push(json!({"id": POSTING_OWNER, "name": "Rita Recruiter", "email": "rita@acme.example", "accessRole": "team member"}));
            for i in 0..SEEDED_TEAM {
                g.users.push(json!({"id": format!("usr_team_{i:04}"), "name": format!("Team Member {i}"), "email": format!("team{i}@acme.example"), "accessRole": if i % 7 == 0 { "interviewer" } else { "team member" }}));
            }
            g.users.push(json!({"id": ADMIN_USER, "name": "Grace Hopper", "email": "grace@acme.example", "accessRole": "super admin"}));
            g.users.push(json!({"id": OTHER_ADMIN, "name": "Ada Admin", "email": "ada.admin@acme.example", "accessRole": "super admin"}));
        }
        let served = crate::serve(addr, router(state.clone())).await?;
        Ok(Self { url: served.url.clone(), addr: served.addr, state, _served: served })
    }

    /// The Data API base (`…/v1`) for a connection's `--lever-base-url`.
    pub fn api_base(&self) -> String {
        format!("{}/v1", self.url)
    }
    pub fn stats(&self) -> Stats {
        self.state.0.lock().unwrap().stats.clone()
    }
    pub fn set_config(&self, c: Config) {
        self.state.0.lock().unwrap().config = c;
    }
    /// Every request fails with probability `rate`, with one of `kinds`, drawn from `seed`.
    pub fn inject_random(&self, rate: f64, seed: u64, kinds: Vec<Fault>) {
        self.state.0.lock().unwrap().faults.random(rate, seed, kinds);
    }

    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.0.lock().unwrap().faults.extend(faults);
    }
    pub fn revoke(&self) {
        let mut g = self.state.0.lock().unwrap();
        g.revoked = true;
        g.access.clear();
        g.refresh.clear();
    }
    /// Every access token expires now (the next API call is a 401 until refreshed).
    pub fn expire_access_tokens(&self) {
        self.state.0.lock().unwrap().access.clear();
    }
    /// Issues a token pair as if an admin had authorized (for tests and `dev`).
    pub fn issue_tokens(&self) -> (String, String, u64) {
        let mut g = self.state.0.lock().unwrap();
        g.revoked = false;
        g.issue_pair()
    }
    /// Issues a token pair for a grant of `scope` only (an authorization that asked for less).
    pub fn issue_tokens_with(&self, scope: &str) -> (String, String, u64) {
        let mut g = self.state.0.lock().unwrap();
        g.revoked = false;
        g.issue_pair_with(scope, Instant::now())
    }
    /// A source the account already has (spelled as the account spells it).
    pub fn add_source(&self, name: &str) {
        self.state.0.lock().unwrap().sources.push(name.into());
    }
    pub fn add_posting(&self, id: &str, text: &str, state: &str) {
        let p = json!({"id": id, "text": text, "state": state, "owner": POSTING_OWNER, "hiringManager": ADMIN_USER});
        self.state.0.lock().unwrap().postings.insert(id.into(), p);
    }
    pub fn opportunities(&self) -> Vec<StoredOpportunity> {
        self.state.0.lock().unwrap().opportunities.clone()
    }
}

/// The sandbox's routes, also served under `/eu` (the account's region, when `region_redirect`
/// points there).
pub fn router(state: LeverState) -> Router {
    Router::new()
        .nest("/eu", routes())
        .merge(routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), region))
        .with_state(state)
}

/// An account of another region: its Data API and token calls on this host are redirected
/// (`307`: the same method and body) to the same path under `region_redirect`.
async fn region(State(s): State<LeverState>, req: Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    let api = path.starts_with("/v1/") || path == "/oauth/token";
    let to = s.0.lock().unwrap().config.region_redirect.clone().filter(|_| api);
    match to {
        Some(base) => {
            let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
            s.0.lock().unwrap().stats.redirected += 1;
            let location = format!("{}{path}{query}", base.trim_end_matches('/'));
            (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response()
        }
        None => next.run(req).await,
    }
}

/// Lever takes files up to 30 MB (DOCS: "Upload a single file"); the form around them is small.
const MAX_BODY_BYTES: usize = 40 * 1024 * 1024;

fn routes() -> Router<LeverState> {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/oauth/token", post(token))
        .route("/v1/users", get(users))
        .route("/v1/users/{id}", get(get_user))
        .route("/v1/opportunities/{id}/notes", post(add_note).get(list_notes))
        .route("/v1/opportunities/{id}/files", post(add_file))
        .route("/v1/postings", get(list_postings))
        .route("/v1/postings/{id}", get(get_posting))
        .route("/v1/opportunities", post(create_opportunity_held).get(find_opportunities))
        .route(
            "/_sandbox/stats",
            get(|State(s): State<LeverState>| async move { Json(s.0.lock().unwrap().stats.clone()) }),
        )
        .route("/_sandbox/faults", post(add_faults))
        .route("/_sandbox/config", post(set_config))
        .route("/_sandbox/revoke", post(revoke))
        .route("/_sandbox/expire-tokens", post(expire))
        .route("/_sandbox/tokens", post(issue))
        .route("/_sandbox/postings", post(seed_postings))
        .route("/_sandbox/opportunities", get(all_opportunities))
        .route("/_sandbox/opportunities/{id}/files/{n}", get(file_bytes))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

fn lever_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({"code": code, "message": message.into()}))).into_response()
}

fn take_fault(g: &mut Inner, op: &str) -> Option<Response> {
    let f = g.faults.take(op, Stage::Before)?;
    g.stats.faults_served += 1;
    let status = StatusCode::from_u16(f.status.unwrap_or(503)).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut r = lever_error(status, "Injected", format!("injected {}", status.as_u16()));
    if let Some(ra) = f.retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, ra.into());
    }
    Some(r)
}

/// Auth, faults and rate limit for the Data API; a slow Lever (`delay_ms`) holds the request
/// first, before it looks at it.
async fn gate(s: &LeverState, headers: &HeaderMap, op: &str) -> Result<(), Response> {
    if let Some(d) = take_delay(s, op) {
        tokio::time::sleep(d).await;
    }
    gate_now(s, headers, op)
}

fn gate_now(s: &LeverState, headers: &HeaderMap, op: &str) -> Result<(), Response> {
    let mut g = s.0.lock().unwrap();
    g.stats.requests += 1;
    if let Some(r) = take_fault(&mut g, op) {
        return Err(r);
    }
    let token = bearer(headers);
    let live = !g.revoked && g.access.get(&token).is_some_and(|exp| *exp > Instant::now());
    if g.revoked && g.config.revoked_status == 403 {
        return Err(lever_error(StatusCode::FORBIDDEN, "ForbiddenError", "the account does not authorize this app"));
    }
    if !live {
        g.stats.unauthorized += 1;
        return Err(lever_error(StatusCode::UNAUTHORIZED, "UnauthorizedError", "invalid or expired access token"));
    }
    if let Some(needed) = scope_for(op) {
        let granted = g.scopes.get(&token).cloned().unwrap_or_default();
        if !granted.split(' ').any(|s| s == needed) {
            return Err(lever_error(StatusCode::FORBIDDEN, "ForbiddenError", format!("this token lacks {needed}")));
        }
    }
    let rps = g.config.rate_limit_rps;
    // Lever: a token bucket per token, bursts of twice the rate.
    if rps > 0.0 && !crate::take_token(&mut g.buckets, &token, rps, rps * 2.0) {
        return Err(lever_error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "rate limit exceeded"));
    }
    Ok(())
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: String,
    state: Option<String>,
    response_type: Option<String>,
    audience: Option<String>,
    scope: Option<String>,
    /// The consent page's answer (`allow` or `deny`).
    decision: Option<String>,
}

/// The `audience` values Lever documents (OAuth): the API base of production or of the sandbox,
/// with the trailing slash.
pub const AUDIENCES: [&str; 2] = ["https://api.lever.co/v1/", "https://api.sandbox.lever.co/v1/"];

async fn authorize(State(s): State<LeverState>, Query(q): Query<AuthorizeQuery>) -> Response {
    let mut g = s.0.lock().unwrap();
    let sep = if q.redirect_uri.contains('?') { '&' } else { '?' };
    let state = q.state.clone().unwrap_or_default();
    if q.client_id.as_deref() != Some(CLIENT_ID) || q.response_type.as_deref() != Some("code") {
        return (StatusCode::BAD_REQUEST, "unknown client or response_type").into_response();
    }
    // OAuth: `state` and `audience` are required (an audience of Lever's API, not of a proxy).
    if state.is_empty() || !q.audience.as_deref().is_some_and(|a| AUDIENCES.contains(&a)) {
        return (StatusCode::BAD_REQUEST, "state and a Lever API audience are required").into_response();
    }
    if g.config.consent_page && q.decision.is_none() {
        return consent_page(&q);
    }
    if g.config.deny_consent || q.decision.as_deref() == Some("deny") {
        let url = format!(
            "{}{sep}error=access_denied&error_description=User%20did%20not%20authorize%20the%20request&state={}",
            q.redirect_uri,
            xor_lever_shared::adapters::enc(&state)
        );
        return xor_lever_shared::http::found(&url);
    }
    let code = g.next("code_");
    g.codes.insert(code.clone(), q.redirect_uri.clone());
    g.scopes.insert(code.clone(), q.scope.clone().unwrap_or_default());
    xor_lever_shared::http::found(&format!(
        "{}{sep}code={code}&state={}",
        q.redirect_uri,
        xor_lever_shared::adapters::enc(&state)
    ))
}

/// Lever's consent page, in short: who asks, for what, Allow or Deny (a GET form back to
/// `/authorize` with the same query and the decision).
fn consent_page(q: &AuthorizeQuery) -> Response {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let hidden: String = [
        ("client_id", q.client_id.as_deref()),
        ("redirect_uri", Some(q.redirect_uri.as_str())),
        ("state", q.state.as_deref()),
        ("response_type", q.response_type.as_deref()),
        ("audience", q.audience.as_deref()),
        ("scope", q.scope.as_deref()),
    ]
    .iter()
    .filter_map(|(k, v)| v.map(|v| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v))))
    .collect();
    let scopes: String =
        q.scope.as_deref().unwrap_or_default().split(' ').map(|s| format!("<li>{}</li>", esc(s))).collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorize app · Lever (sandbox)</title></head>\
         <body><main><h1>Authorize XOR</h1><p>XOR would like to access your Lever account (sandbox):</p><ul id=\"scopes\">{scopes}</ul>\
         <form method=\"get\" action=\"/authorize\">{hidden}<button id=\"allow\" name=\"decision\" value=\"allow\">Allow</button> \
         <button id=\"deny\" name=\"decision\" value=\"deny\">Deny</button></form></main></body></html>"
    );
    axum::response::Html(html).into_response()
}

/// A queued slow-down for `op`, taken once.
fn take_delay(s: &LeverState, op: &str) -> Option<Duration> {
    let mut g = s.0.lock().unwrap();
    let f = g.faults.take(op, Stage::Delay)?;
    g.stats.faults_served += 1;
    f.delay_ms.map(Duration::from_millis)
}

async fn token(State(s): State<LeverState>, Form(f): Form<HashMap<String, String>>) -> Response {
    // A slow token endpoint: the request waits before Lever looks at it.
    if let Some(d) = take_delay(&s, "token") {
        tokio::time::sleep(d).await;
    }
    let mut g = s.0.lock().unwrap();
    if let Some(r) = take_fault(&mut g, "token") {
        return r;
    }
    let oauth_error = |status: StatusCode, e: &str, d: &str| {
        (status, Json(json!({"error": e, "error_description": d}))).into_response()
    };
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    }
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = f.get("code").cloned().unwrap_or_default();
            match g.codes.remove(&code) {
                Some(uri) if Some(&uri) == f.get("redirect_uri") => {
                    g.revoked = false;
                    g.stats.code_exchanges += 1;
                    let scope = g.scopes.remove(&code).unwrap_or_default();
                    let (at, rt, ttl) = g.issue_pair_with(&scope, Instant::now());
                    Json(json!({"access_token": at, "refresh_token": rt, "expires_in": ttl, "token_type": "Bearer", "scope": f.get("scope")})).into_response()
                }
                _ => oauth_error(StatusCode::FORBIDDEN, "invalid_grant", "Invalid authorization code"),
            }
        }
        Some("refresh_token") => {
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            let born = g.born.get(&rt).copied().unwrap_or_else(Instant::now);
            let aged_out = born.elapsed() >= Duration::from_secs(g.config.refresh_ttl_secs);
            if g.revoked || g.refresh.get(&rt) != Some(&true) || aged_out {
                g.stats.refresh_failures += 1;
                return oauth_error(StatusCode::FORBIDDEN, "invalid_grant", "Unknown or invalid refresh token.");
            }
            // Rotation: the used refresh token is dead from now on; the grant stays as it was.
            g.refresh.insert(rt.clone(), false);
            g.stats.refreshes += 1;
            let scope = g.scopes.get(&rt).cloned().unwrap_or_default();
            let (at, rt, ttl) = g.issue_pair_with(&scope, born);
            Json(json!({"access_token": at, "refresh_token": rt, "expires_in": ttl, "token_type": "Bearer"}))
                .into_response()
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "grant_type"),
    }
}

/// `GET /users`: paginated like every list (`limit` 1–100, default 100; `offset` is the `next`
/// token of the previous page), filtered by `accessRole` (repeatable) and `email`.
async fn users(State(s): State<LeverState>, headers: HeaderMap, Query(q): Query<Vec<(String, String)>>) -> Response {
    if let Err(r) = gate(&s, &headers, "users").await {
        return r;
    }
    let g = s.0.lock().unwrap();
    let roles: Vec<&str> = q.iter().filter(|(k, _)| k == "accessRole").map(|(_, v)| v.as_str()).collect();
    let email = q.iter().find(|(k, _)| k == "email").map(|(_, v)| v.to_lowercase());
    let matching: Vec<&Value> = g
        .users
        .iter()
        .filter(|u| roles.is_empty() || roles.iter().any(|r| u["accessRole"] == *r))
        .filter(|u| email.as_ref().is_none_or(|e| u["email"].as_str().map(str::to_lowercase).as_ref() == Some(e)))
        .collect();
    page_of(&matching, &q, g.config.max_page)
}

/// One page of `items` by `limit` and `offset` (the id of the last item of the previous page).
fn page_of(items: &[&Value], q: &[(String, String)], max_page: usize) -> Response {
    let get = |k: &str| q.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.clone());
    let limit: usize = get("limit").and_then(|l| l.parse().ok()).unwrap_or(100).clamp(1, max_page.clamp(1, 100));
    let start = match get("offset") {
        Some(o) => match items.iter().position(|i| i["id"] == o.as_str()) {
            Some(p) => p + 1,
            None => return lever_error(StatusCode::BAD_REQUEST, "InvalidOffset", "offset is not a token we issued"),
        },
        None => 0,
    };
    let page: Vec<Value> = items.iter().skip(start).take(limit).map(|v| (*v).clone()).collect();
    let has_next = start + limit < items.len();
    let next = if has_next { page.last().and_then(|p| p["id"].as_str()).map(str::to_owned) } else { None };
    let mut body = json!({"data": page, "hasNext": has_next});
    if let Some(n) = next {
        body["next"] = n.into();
    }
    Json(body).into_response()
}

async fn get_user(State(s): State<LeverState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = gate(&s, &headers, "user").await {
        return r;
    }
    match s.0.lock().unwrap().users.iter().find(|u| u["id"] == id.as_str()) {
        Some(u) => Json(json!({"data": u})).into_response(),
        None => lever_error(StatusCode::NOT_FOUND, "ResourceNotFound", format!("user {id} not found")),
    }
}

async fn list_postings(
    State(s): State<LeverState>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = gate(&s, &headers, "postings").await {
        return r;
    }
    let g = s.0.lock().unwrap();
    let state = q.iter().find(|(k, _)| k == "state").map(|(_, v)| v.clone());
    let Some(wanted) = confidentiality(&g, &headers, &q) else {
        return confidential_refused();
    };
    let matching: Vec<&Value> = g
        .postings
        .values()
        .filter(|p| state.as_ref().is_none_or(|st| p["state"] == st.as_str()))
        .filter(|p| wanted.admits(p["confidentiality"] == "confidential"))
        .collect();
    page_of(&matching, &q, g.config.max_page)
}

async fn get_posting(State(s): State<LeverState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = gate(&s, &headers, "posting").await {
        return r;
    }
    let g = s.0.lock().unwrap();
    match g.postings.get(&id) {
        Some(p) if p["confidentiality"] == "confidential" && !may_see_confidential(&g, &headers) => {
            confidential_refused()
        }
        Some(p) => Json(json!({"data": p})).into_response(),
        None => lever_error(StatusCode::NOT_FOUND, "ResourceNotFound", format!("posting {id} not found")),
    }
}

/// Which confidentiality a listing asks for (`confidentiality`: DOCS "If unspecified, defaults to
/// non-confidential. To get both confidential and non-confidential ... you must specify all.");
/// `None` when the token may not see what it asks for.
#[derive(Clone, Copy)]
enum Confidentiality {
    NonConfidential,
    Confidential,
    All,
}

impl Confidentiality {
    fn admits(self, confidential: bool) -> bool {
        match self {
            Self::NonConfidential => !confidential,
            Self::Confidential => confidential,
            Self::All => true,
        }
    }
}

fn confidentiality(g: &Inner, headers: &HeaderMap, q: &[(String, String)]) -> Option<Confidentiality> {
    let asked = match q.iter().find(|(k, _)| k == "confidentiality").map(|(_, v)| v.as_str()) {
        None | Some("non-confidential") => return Some(Confidentiality::NonConfidential),
        Some("confidential") => Confidentiality::Confidential,
        Some(_) => Confidentiality::All,
    };
    may_see_confidential(g, headers).then_some(asked)
}

/// An opportunity as the Data API shows it: `applications` are application ids, unless the
/// caller asks for `expand=applications` (then each has its `posting`).
fn opportunity_view(o: &StoredOpportunity, expand_applications: bool, app: &str) -> Value {
    let applications = if expand_applications {
        json!(
            o.postings
                .iter()
                .map(|p| json!({"id": o.application, "type": "posting", "posting": p, "opportunityId": o.id}))
                .collect::<Vec<_>>()
        )
    } else {
        json!([o.application])
    };
    json!({
        "id": o.id, "name": o.name, "headline": o.headline, "contact": o.contact, "emails": o.emails,
        "phones": o.phones, "links": o.links, "tags": o.tags, "sources": o.sources, "origin": o.origin,
        "owner": o.owner, "followers": o.followers, "stage": o.stage, "createdAt": o.created_at as u64,
        "location": o.location, "applications": applications,
        "confidentiality": if o.confidential { "confidential" } else { "non-confidential" },
        "urls": {"list": format!("{app}/candidates"), "show": format!("{app}/candidates/{}", o.id)},
    })
}

/// `GET /opportunities` with the documented filters: `email`, `posting_id`, `source`, `tag`
/// (case-sensitive), `origin`, `contact_id`, `created_at_start`/`created_at_end` (ms), and
/// `expand`; every filter may repeat (any of its values matches).
async fn find_opportunities(
    State(s): State<LeverState>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = gate(&s, &headers, "find").await {
        return r;
    }
    let all = |k: &str| q.iter().filter(|(kk, _)| kk == k).map(|(_, v)| v.clone()).collect::<Vec<_>>();
    let ms = |k: &str| all(k).first().and_then(|v| v.parse::<u128>().ok());
    let (emails, postings, sources, tags, origins, contacts) =
        (all("email"), all("posting_id"), all("source"), all("tag"), all("origin"), all("contact_id"));
    let (start, end) = (ms("created_at_start"), ms("created_at_end"));
    let expand = all("expand").iter().any(|e| e == "applications");
    let g = s.0.lock().unwrap();
    let Some(wanted) = confidentiality(&g, &headers, &q) else {
        return confidential_refused();
    };
    let any = |want: &[String], have: &[String]| want.is_empty() || want.iter().any(|w| have.contains(w));
    let found: Vec<Value> = g
        .opportunities
        .iter()
        .filter(|o| {
            let lower: Vec<String> = o.emails.iter().map(|e| e.to_lowercase()).collect();
            emails.is_empty() || emails.iter().any(|e| lower.contains(&e.to_lowercase()))
        })
        .filter(|o| any(&postings, &o.postings) && any(&sources, &o.sources) && any(&tags, &o.tags))
        .filter(|o| any(&contacts, std::slice::from_ref(&o.contact)))
        .filter(|o| origins.is_empty() || o.origin.as_ref().is_some_and(|x| origins.contains(x)))
        .filter(|o| start.is_none_or(|t| o.created_at >= t) && end.is_none_or(|t| o.created_at <= t))
        .filter(|o| wanted.admits(o.confidential))
        .map(|o| opportunity_view(o, expand, &g.config.app_url))
        .collect();
    let refs: Vec<&Value> = found.iter().collect();
    page_of(&refs, &q, g.config.max_page)
}

/// A write's acting user: `perform_as` is required, and must be a user of the account.
fn acting_user(g: &Inner, q: &[(String, String)]) -> Result<String, Response> {
    let perform_as = q.iter().find(|(k, _)| k == "perform_as").map(|(_, v)| v.clone()).unwrap_or_default();
    if perform_as.is_empty() {
        return Err(lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "perform_as is required"));
    }
    if !g.users.iter().any(|u| u["id"] == perform_as.as_str()) {
        return Err(lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "perform_as must be a Lever user id"));
    }
    Ok(perform_as)
}

/// A queued "lost answer" for `op`: the request is carried out, then answered with an error.
/// A fault after the work is done: the answer lost (an error status instead), or held
/// (`hang_ms`: it arrives that much later, past a caller's patience).
enum AfterWork {
    Lost(StatusCode),
    Late(Duration),
}

fn take_after_work(g: &mut Inner, op: &str) -> Option<AfterWork> {
    let f = g.faults.take(op, Stage::After)?;
    g.stats.faults_served += 1;
    Some(match (f.status, f.hang_ms) {
        (None, Some(ms)) => AfterWork::Late(Duration::from_millis(ms)),
        (status, _) => AfterWork::Lost(StatusCode::from_u16(status.unwrap_or(502)).unwrap_or(StatusCode::BAD_GATEWAY)),
    })
}

/// The fields and file parts of a create, as Lever reads them.
struct Submitted {
    fields: Vec<(String, String)>,
    files: Vec<StoredFile>,
}

async fn read_submission(req: Request) -> Result<Submitted, Response> {
    let bad = |e: String| lever_error(StatusCode::BAD_REQUEST, "BadRequestError", e);
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut files: Vec<StoredFile> = Vec::new();
    if is_multipart {
        let mut mp = Multipart::from_request(req, &()).await.map_err(|e| bad(e.to_string()))?;
        while let Some(field) = mp.next_field().await.map_err(|e| bad(e.to_string()))? {
            let name = field.name().unwrap_or_default().to_owned();
            if let Some(file_name) = field.file_name().map(str::to_owned) {
                let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
                let bytes = field.bytes().await.unwrap_or_default().to_vec();
                files.push(StoredFile { field: name, name: file_name, content_type, size: bytes.len(), bytes });
            } else {
                fields.push((name, field.text().await.unwrap_or_default()));
            }
        }
        return Ok(Submitted { fields, files });
    }
    let body = Bytes::from_request(req, &()).await.map_err(|e| bad(e.to_string()))?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
    for (k, val) in v.as_object().cloned().unwrap_or_default() {
        match val {
            Value::Array(items) => {
                for (i, it) in items.into_iter().enumerate() {
                    match it {
                        Value::Object(o) => {
                            for (kk, vv) in o {
                                fields.push((format!("{k}[{i}][{kk}]"), vv.as_str().unwrap_or_default().to_owned()));
                            }
                        }
                        other => fields.push((
                            format!("{k}[]"),
                            other.as_str().map(str::to_owned).unwrap_or_else(|| other.to_string()),
                        )),
                    }
                }
            }
            Value::String(st) => fields.push((k, st)),
            other => fields.push((k, other.to_string())),
        }
    }
    Ok(Submitted { fields, files })
}

/// `POST /opportunities?perform_as=…[&perform_as_posting_owner=true]`: JSON, or multipart when
/// files go along. Files are read from `files[]` (any number) and `resumeFile` (one); a part under
/// any other name is ignored, as Lever ignores an unknown key. The person is deduplicated by email,
/// and a known person's stored data (name, headline, phones) wins over the create's.
async fn create_opportunity(
    State(s): State<LeverState>,
    Query(q): Query<Vec<(String, String)>>,
    req: Request,
) -> Response {
    if let Err(r) = gate(&s, req.headers(), "create").await {
        let refused = matches!(r.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
        if refused && s.0.lock().unwrap().config.refusal_breaks_upload {
            return broken_off(r.status());
        }
        // A refused token is answered on the headers (the body unread: the client may fail on
        // its write, as with a real server); an injected 429 or 5xx after the body is read, so
        // it reaches the client whatever the timing.
        if !refused {
            let _ = read_submission(req).await;
        }
        return r;
    }
    let perform_as = match acting_user(&s.0.lock().unwrap(), &q) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let on_behalf_of_owner = q.iter().any(|(k, v)| k == "perform_as_posting_owner" && v == "true");
    let headers = req.headers().clone();
    let Submitted { fields, files } = match read_submission(req).await {
        Ok(sub) => sub,
        Err(r) => return r,
    };
    // Arrays arrive as repeated `key[]` (a plain `key` is not an array: ignored); phones as
    // objects (JSON: `[{"type", "value"}]`; multipart, by the reference's nested-field syntax:
    // `phones[i][type|value]`), and in no other shape.
    let list = |key: &str| -> Vec<String> {
        fields.iter().filter(|(k, _)| *k == format!("{key}[]")).map(|(_, v)| v.clone()).collect()
    };
    let one = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let mut phones: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for (k, v) in &fields {
        let Some(rest) = k.strip_prefix("phones") else { continue };
        let attr = rest.strip_prefix('[').and_then(|r| r.split_once("][")).filter(|(i, _)| i.parse::<usize>().is_ok());
        let Some((idx, attr)) =
            attr.map(|(i, a)| (i, a.trim_end_matches(']'))).filter(|(_, a)| matches!(*a, "type" | "value"))
        else {
            return lever_error(
                StatusCode::BAD_REQUEST,
                "BadRequestError",
                format!("{k}: phones are objects with a value"),
            );
        };
        phones.entry(format!("{idx:0>4}")).or_default().insert(attr.to_owned(), Value::String(v.clone()));
    }
    let name = one("name").unwrap_or_default();
    let postings = list("postings");
    let emails = list("emails");
    // One file under `files`, several under `files[]` (DOCS); one resume under `resumeFile`, of a
    // listed type (DOCS: "Supported File Formats").
    let (resumes, files): (Vec<StoredFile>, Vec<StoredFile>) = files
        .into_iter()
        .filter(|f| f.field == "files[]" || f.field == "files" || f.field == "resumeFile")
        .partition(|f| f.field == "resumeFile");
    if let Some(r) = resumes.iter().find(|r| !SUPPORTED_FILE_TYPES.contains(&extension(&r.name).as_str())) {
        return lever_error(
            StatusCode::BAD_REQUEST,
            "BadRequestError",
            format!("resumeFile {}: not a supported file format", r.name),
        );
    }
    let mut g = s.0.lock().unwrap();
    if name.is_empty() {
        return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "name is required");
    }
    if postings.len() > 1 {
        return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "an opportunity has at most one posting");
    }
    let posting = match postings.first().map(|p| (p, g.postings.get(p))) {
        Some((p, None)) => {
            return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", format!("posting {p} does not exist"));
        }
        Some((p, Some(v)))
            if g.config.refuse_closed_postings && !matches!(v["state"].as_str(), Some("published" | "internal")) =>
        {
            let state = v["state"].as_str().unwrap_or("?");
            return lever_error(
                StatusCode::BAD_REQUEST,
                "BadRequestError",
                format!("posting {p} is {state}: candidates cannot be added"),
            );
        }
        Some((_, Some(v))) => Some(v.clone()),
        None => None,
    };
    // With `perform_as_posting_owner=true`, the posting's owner owns it (DOCS: "If the posting
    // does not have an owner, the Opportunity owner will default to the perform_as user").
    let creator = perform_as.clone();
    let actor = match posting.as_ref().and_then(|p| p["owner"].as_str()) {
        Some(owner) if on_behalf_of_owner => owner.to_owned(),
        _ => perform_as,
    };
    if posting.as_ref().is_some_and(|p| p["confidentiality"] == "confidential") && !may_see_confidential(&g, &headers) {
        return confidential_refused();
    }
    let known = emails.iter().find_map(|e| g.contacts.get(&e.to_lowercase()).cloned());
    let contact = known.clone().unwrap_or_else(|| g.next("ct_"));
    for e in &emails {
        g.contacts.insert(e.to_lowercase(), contact.clone());
    }
    let person = match known.and_then(|c| g.people.get(&c).cloned()) {
        Some(p) => p,
        None => {
            let stored_as = g.config.phones_stored_as;
            let phones = phones
                .into_values()
                .map(|mut p| {
                    if let Some(Value::String(v)) = p.get("value") {
                        let v = stored_as.store(v);
                        p.insert("value".into(), Value::String(v));
                    }
                    Value::Object(p)
                })
                .collect();
            let p = Contact { name: name.clone(), headline: one("headline"), phones };
            g.people.insert(contact.clone(), p.clone());
            p
        }
    };
    // An existing source is reused, as the account spells it; an unknown one is created.
    let mut sources = Vec::new();
    for src in list("sources") {
        match g.sources.iter().find(|x| x.eq_ignore_ascii_case(&src)).cloned() {
            Some(existing) => sources.push(existing),
            None => {
                g.sources.push(src.clone());
                sources.push(src);
            }
        }
    }
    // A known contact keeps the emails it has (and gains the new ones).
    let mut emails = emails;
    for o in g.opportunities.iter().filter(|o| o.contact == contact) {
        for e in &o.emails {
            if !emails.iter().any(|x| x.eq_ignore_ascii_case(e)) {
                emails.push(e.clone());
            }
        }
    }
    let id = g.next("opp_");
    let application = g.next("app_");
    // DOCS: "The Opportunity creator will always be added as a follower" — the creator is the
    // `perform_as` user, whoever owns it; `followers[]` adds others.
    let mut followers = vec![creator];
    for f in list("followers") {
        if !followers.contains(&f) {
            followers.push(f);
        }
    }
    let confidential = posting.as_ref().is_some_and(|p| p["confidentiality"] == "confidential");
    let o = StoredOpportunity {
        id: id.clone(),
        application,
        contact: contact.clone(),
        name: person.name,
        headline: person.headline,
        location: one("location"),
        emails,
        phones: person.phones,
        links: list("links"),
        tags: list("tags"),
        sources,
        origin: one("origin"),
        postings,
        owner: actor,
        followers,
        stage: one("stage").unwrap_or_else(|| DEFAULT_STAGE.into()),
        created_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
        files,
        resumes: resumes.into_iter().take(1).collect(),
        notes: Vec::new(),
        confidential,
    };
    g.stats.opportunities_created += 1;
    g.opportunities.push(o.clone());
    let mut created =
        (StatusCode::CREATED, Json(json!({"data": opportunity_view(&o, false, &g.config.app_url)}))).into_response();
    match take_after_work(&mut g, "create") {
        Some(AfterWork::Lost(status)) => {
            return lever_error(status, "Injected", "the answer was lost (the opportunity was created)");
        }
        // Held by `create_opportunity_held`, once the state's lock is released.
        Some(AfterWork::Late(d)) => {
            created.extensions_mut().insert(Late(d));
        }
        None => {}
    }
    created
}

#[derive(Clone, Copy)]
struct Late(Duration);

/// An answer that never arrives: its body fails before a byte is sent, so the server drops the
/// connection and the client, mid-upload, sees the connection fail.
fn broken_off(status: StatusCode) -> Response {
    let fail =
        futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("upload broken off")) });
    (status, axum::body::Body::from_stream(fail)).into_response()
}

/// A file name's extension, lower-cased.
fn extension(name: &str) -> String {
    name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default()
}

/// The create route: the opportunity is created at once; an answer to be held (`Late`) is sent
/// that much later.
async fn create_opportunity_held(s: State<LeverState>, q: Query<Vec<(String, String)>>, req: Request) -> Response {
    let answer = create_opportunity(s, q, req).await;
    if let Some(Late(d)) = answer.extensions().get::<Late>().copied() {
        tokio::time::sleep(d).await;
    }
    answer
}

/// `POST /opportunities/{id}/notes?perform_as=…` with `{"value": …, "secret"?: bool}`.
async fn add_note(
    State(s): State<LeverState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&s, &headers, "note").await {
        return r;
    }
    let mut g = s.0.lock().unwrap();
    let user = match acting_user(&g, &q) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(value) = v["value"].as_str().filter(|t| !t.is_empty()).map(str::to_owned) else {
        return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "value is required");
    };
    let note_id = g.next("note_");
    let Some(o) = g.opportunities.iter_mut().find(|o| o.id == id) else {
        return lever_error(StatusCode::NOT_FOUND, "ResourceNotFound", format!("opportunity {id} not found"));
    };
    let note = StoredNote { id: note_id.clone(), value, user, secret: v["secret"].as_bool().unwrap_or(false) };
    o.notes.push(note.clone());
    (StatusCode::CREATED, Json(json!({"data": {"noteId": note_id}}))).into_response()
}

async fn list_notes(State(s): State<LeverState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = gate(&s, &headers, "notes").await {
        return r;
    }
    let g = s.0.lock().unwrap();
    match g.opportunities.iter().find(|o| o.id == id) {
        Some(o) => {
            let notes: Vec<Value> = o
                .notes
                .iter()
                .map(|n| json!({"id": n.id, "user": n.user, "secret": n.secret, "fields": [{"type": "text", "value": n.value}]}))
                .collect();
            Json(json!({"data": notes, "hasNext": false})).into_response()
        }
        None => lever_error(StatusCode::NOT_FOUND, "ResourceNotFound", format!("opportunity {id} not found")),
    }
}

/// `POST /opportunities/{id}/files?perform_as=…`, multipart with the file under `file`.
async fn add_file(
    State(s): State<LeverState>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    req: Request,
) -> Response {
    if let Err(r) = gate(&s, req.headers(), "file").await {
        return r;
    }
    if let Err(r) = acting_user(&s.0.lock().unwrap(), &q) {
        return r;
    }
    let Submitted { files, .. } = match read_submission(req).await {
        Ok(sub) => sub,
        Err(r) => return r,
    };
    let mut g = s.0.lock().unwrap();
    let Some(o) = g.opportunities.iter_mut().find(|o| o.id == id) else {
        return lever_error(StatusCode::NOT_FOUND, "ResourceNotFound", format!("opportunity {id} not found"));
    };
    let n = files.iter().filter(|f| f.field == "file").count();
    o.files.extend(files.into_iter().filter(|f| f.field == "file"));
    (StatusCode::OK, Json(json!({"data": {"files": n}}))).into_response()
}

async fn add_faults(State(s): State<LeverState>, Json(f): Json<Vec<Fault>>) -> StatusCode {
    s.0.lock().unwrap().faults.extend(f);
    StatusCode::NO_CONTENT
}
async fn set_config(State(s): State<LeverState>, Json(c): Json<Config>) -> StatusCode {
    s.0.lock().unwrap().config = c;
    StatusCode::NO_CONTENT
}
async fn revoke(State(s): State<LeverState>) -> StatusCode {
    let mut g = s.0.lock().unwrap();
    g.revoked = true;
    g.access.clear();
    g.refresh.clear();
    StatusCode::NO_CONTENT
}
async fn expire(State(s): State<LeverState>) -> StatusCode {
    s.0.lock().unwrap().access.clear();
    StatusCode::NO_CONTENT
}
async fn issue(State(s): State<LeverState>) -> Json<Value> {
    let mut g = s.0.lock().unwrap();
    g.revoked = false;
    let (at, rt, ttl) = g.issue_pair();
    Json(json!({"access_token": at, "refresh_token": rt, "expires_in": ttl}))
}
async fn seed_postings(State(s): State<LeverState>, Json(list): Json<Vec<Value>>) -> StatusCode {
    let mut g = s.0.lock().unwrap();
    for p in list {
        if let Some(id) = p["id"].as_str() {
            let mut p = p.clone();
            if p.get("state").is_none() {
                p["state"] = "published".into();
            }
            g.postings.insert(id.to_owned(), p);
        }
    }
    StatusCode::NO_CONTENT
}
async fn all_opportunities(State(s): State<LeverState>) -> Json<Value> {
    Json(json!({"data": s.0.lock().unwrap().opportunities.clone()}))
}
async fn file_bytes(State(s): State<LeverState>, Path((id, n)): Path<(String, usize)>) -> Response {
    let g = s.0.lock().unwrap();
    match g.opportunities.iter().find(|o| o.id == id).and_then(|o| o.files.get(n)) {
        Some(f) => ([(header::CONTENT_TYPE, f.content_type.clone())], f.bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
