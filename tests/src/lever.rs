//! A faithful fake of the Lever facts the project relies on (contracts/lever.md): OAuth authorize
//! (auto-approves, or denies when told) and token endpoints with ROTATING refresh tokens (a used
//! refresh token is dead), `/v1/users`, `/v1/postings`, `/v1/opportunities` (JSON and multipart,
//! files kept, email dedupe onto one contact, list by email), a switch that revokes the app, 429
//! and 5xx injection, and controls under `/_sandbox/`.
use std::collections::{BTreeMap, HashMap, VecDeque};
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
/// The Lever account the sandbox's admin signs in to (unless `Config::account_id` says another).
pub const SANDBOX_ACCOUNT: &str = "acct-5a1c0b6e-acme";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Only for this route (`create`, `find`, `posting`, `users`, `postings`, `token`); any when absent.
    #[serde(default)]
    pub op: Option<String>,
    /// With no `status`: the request is held this long, then served normally (a slow Lever).
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            access_ttl_secs: 3600,
            deny_consent: false,
            rate_limit_rps: 0.0,
            account_id: SANDBOX_ACCOUNT.into(),
            opaque_tokens: false,
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
pub struct StoredOpportunity {
    pub id: String,
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
    #[serde(rename = "createdAt")]
    pub created_at: u128,
    pub files: Vec<StoredFile>,
}

#[derive(Default)]
struct Inner {
    config: Config,
    stats: Stats,
    faults: VecDeque<Fault>,
    revoked: bool,
    codes: HashMap<String, String>,   // code → redirect_uri
    access: HashMap<String, Instant>, // token → expiry
    refresh: HashMap<String, bool>,   // token → still live
    users: Vec<Value>,
    postings: BTreeMap<String, Value>,
    opportunities: Vec<StoredOpportunity>,
    contacts: HashMap<String, String>, // lower-cased email → contact id
    buckets: HashMap<String, (f64, Instant)>,
    seq: u64,
}

impl Inner {
    fn next(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}{:08x}{:04x}", self.seq, fastrand::u16(..))
    }
    fn issue_pair(&mut self) -> (String, String, u64) {
        let jti = self.next("lat_");
        let at = if self.config.opaque_tokens { jti } else { self.jwt(&jti) };
        let rt = self.next("lrt_");
        let ttl = self.config.access_ttl_secs;
        self.access.insert(at.clone(), Instant::now() + Duration::from_secs(ttl));
        self.refresh.insert(rt.clone(), true);
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
            "https://oauth.lever.co/userId": ADMIN_USER,
            "iss": "https://auth.lever.co/",
            "sub": format!("lever|{ADMIN_USER}"),
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
            g.users.push(json!({"id": ADMIN_USER, "name": "Grace Hopper", "email": "grace@acme.example", "accessRole": "super admin"}));
            g.users.push(json!({"id": "usr_recruiter_0002", "name": "Rita Recruiter", "email": "rita@acme.example", "accessRole": "team member"}));
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
    pub fn add_posting(&self, id: &str, text: &str, state: &str) {
        self.state.0.lock().unwrap().postings.insert(id.into(), json!({"id": id, "text": text, "state": state}));
    }
    pub fn opportunities(&self) -> Vec<StoredOpportunity> {
        self.state.0.lock().unwrap().opportunities.clone()
    }
}

pub fn router(state: LeverState) -> Router {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/oauth/token", post(token))
        .route("/v1/users", get(users))
        .route("/v1/postings", get(list_postings))
        .route("/v1/postings/{id}", get(get_posting))
        .route("/v1/opportunities", post(create_opportunity).get(find_opportunities))
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
        .with_state(state)
}

fn lever_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({"code": code, "message": message.into()}))).into_response()
}

fn take_fault(g: &mut Inner, op: &str) -> Option<Response> {
    let i = g.faults.iter().position(|f| f.delay_ms.is_none() && f.op.as_deref().is_none_or(|o| o == op))?;
    let f = g.faults.remove(i)?;
    g.stats.faults_served += 1;
    let status = StatusCode::from_u16(f.status.unwrap_or(503)).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut r = lever_error(status, "Injected", format!("injected {}", status.as_u16()));
    if let Some(ra) = f.retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, ra.into());
    }
    Some(r)
}

/// Auth, faults and rate limit for the Data API.
fn gate(s: &LeverState, headers: &HeaderMap, op: &str) -> Result<(), Response> {
    let mut g = s.0.lock().unwrap();
    g.stats.requests += 1;
    if let Some(r) = take_fault(&mut g, op) {
        return Err(r);
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let live = !g.revoked && g.access.get(&token).is_some_and(|exp| *exp > Instant::now());
    if !live {
        g.stats.unauthorized += 1;
        return Err(lever_error(StatusCode::UNAUTHORIZED, "UnauthorizedError", "invalid or expired access token"));
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
}

async fn authorize(State(s): State<LeverState>, Query(q): Query<AuthorizeQuery>) -> Response {
    let mut g = s.0.lock().unwrap();
    let sep = if q.redirect_uri.contains('?') { '&' } else { '?' };
    let state = q.state.clone().unwrap_or_default();
    if q.client_id.as_deref() != Some(CLIENT_ID) || q.response_type.as_deref() != Some("code") {
        return (StatusCode::BAD_REQUEST, "unknown client or response_type").into_response();
    }
    if g.config.deny_consent {
        let url = format!(
            "{}{sep}error=access_denied&error_description=User%20did%20not%20authorize%20the%20request&state={}",
            q.redirect_uri,
            xor_lever::adapters::enc(&state)
        );
        return xor_lever::http::found(&url);
    }
    let code = g.next("code_");
    g.codes.insert(code.clone(), q.redirect_uri.clone());
    xor_lever::http::found(&format!("{}{sep}code={code}&state={}", q.redirect_uri, xor_lever::adapters::enc(&state)))
}

/// A queued slow-down for `op`, taken once.
fn take_delay(s: &LeverState, op: &str) -> Option<Duration> {
    let mut g = s.0.lock().unwrap();
    let i = g.faults.iter().position(|f| f.delay_ms.is_some() && f.op.as_deref().is_none_or(|o| o == op))?;
    let f = g.faults.remove(i)?;
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
                    let (at, rt, ttl) = g.issue_pair();
                    Json(json!({"access_token": at, "refresh_token": rt, "expires_in": ttl, "token_type": "Bearer", "scope": f.get("scope")})).into_response()
                }
                _ => oauth_error(StatusCode::FORBIDDEN, "invalid_grant", "Invalid authorization code"),
            }
        }
        Some("refresh_token") => {
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            if g.revoked || g.refresh.get(&rt) != Some(&true) {
                g.stats.refresh_failures += 1;
                return oauth_error(StatusCode::FORBIDDEN, "invalid_grant", "Unknown or invalid refresh token.");
            }
            // Rotation: the used refresh token is dead from now on.
            g.refresh.insert(rt, false);
            g.stats.refreshes += 1;
            let (at, rt, ttl) = g.issue_pair();
            Json(json!({"access_token": at, "refresh_token": rt, "expires_in": ttl, "token_type": "Bearer"}))
                .into_response()
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "grant_type"),
    }
}

async fn users(State(s): State<LeverState>, headers: HeaderMap) -> Response {
    if let Err(r) = gate(&s, &headers, "users") {
        return r;
    }
    Json(json!({"data": s.0.lock().unwrap().users.clone(), "hasNext": false})).into_response()
}

async fn list_postings(
    State(s): State<LeverState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&s, &headers, "postings") {
        return r;
    }
    let g = s.0.lock().unwrap();
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100).clamp(1, 100);
    let after = q.get("offset").cloned().unwrap_or_default();
    let state = q.get("state").cloned();
    let all: Vec<&Value> = g
        .postings
        .iter()
        .filter(|(id, _)| **id > after)
        .map(|(_, p)| p)
        .filter(|p| state.as_ref().is_none_or(|st| p["state"] == st.as_str()))
        .collect();
    let page: Vec<Value> = all.iter().take(limit).map(|v| (*v).clone()).collect();
    let has_next = all.len() > limit;
    let next = if has_next { page.last().and_then(|p| p["id"].as_str()).map(str::to_owned) } else { None };
    Json(json!({"data": page, "hasNext": has_next, "next": next})).into_response()
}

async fn get_posting(State(s): State<LeverState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = gate(&s, &headers, "posting") {
        return r;
    }
    match s.0.lock().unwrap().postings.get(&id) {
        Some(p) => Json(json!({"data": p})).into_response(),
        None => lever_error(StatusCode::NOT_FOUND, "ResourceNotFound", format!("posting {id} not found")),
    }
}

async fn find_opportunities(
    State(s): State<LeverState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&s, &headers, "find") {
        return r;
    }
    let email = q.get("email").map(|e| e.to_lowercase());
    let g = s.0.lock().unwrap();
    let found: Vec<Value> = g
        .opportunities
        .iter()
        .filter(|o| email.as_ref().is_none_or(|e| o.emails.iter().any(|x| x.to_lowercase() == *e)))
        .map(|o| json!({"id": o.id, "contact": o.contact, "emails": o.emails, "sources": o.sources, "applications": o.postings, "tags": o.tags}))
        .collect();
    Json(json!({"data": found, "hasNext": false})).into_response()
}

async fn create_opportunity(
    State(s): State<LeverState>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    if let Err(r) = gate(&s, &headers, "create") {
        return r;
    }
    let perform_as = q.get("perform_as").cloned().unwrap_or_default();
    if !s.0.lock().unwrap().users.iter().any(|u| u["id"] == perform_as.as_str()) {
        return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "perform_as must be a Lever user id");
    }
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut files: Vec<StoredFile> = Vec::new();
    if is_multipart {
        let mut mp = match Multipart::from_request(req, &()).await {
            Ok(m) => m,
            Err(e) => return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", e.to_string()),
        };
        loop {
            match mp.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or_default().to_owned();
                    if let Some(file_name) = field.file_name().map(str::to_owned) {
                        let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
                        let bytes = field.bytes().await.unwrap_or_default().to_vec();
                        files.push(StoredFile { field: name, name: file_name, content_type, size: bytes.len(), bytes });
                    } else {
                        fields.push((name, field.text().await.unwrap_or_default()));
                    }
                }
                Ok(None) => break,
                Err(e) => return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", e.to_string()),
            }
        }
    } else {
        let body = match Bytes::from_request(req, &()).await {
            Ok(b) => b,
            Err(e) => return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", e.to_string()),
        };
        let v: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", e.to_string()),
        };
        for (k, val) in v.as_object().cloned().unwrap_or_default() {
            match val {
                Value::Array(items) => {
                    for (i, it) in items.into_iter().enumerate() {
                        match it {
                            Value::Object(o) => {
                                for (kk, vv) in o {
                                    fields
                                        .push((format!("{k}[{i}][{kk}]"), vv.as_str().unwrap_or_default().to_owned()));
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
    }
    // Arrays arrive as repeated `key[]` (or plain `key`); phones as `phones[i][type|value]`.
    let list = |key: &str| -> Vec<String> {
        fields.iter().filter(|(k, _)| k == key || *k == format!("{key}[]")).map(|(_, v)| v.clone()).collect()
    };
    let one = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let mut phones: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for (k, v) in &fields {
        if let Some(rest) = k.strip_prefix("phones[") {
            if let Some((idx, attr)) = rest.split_once("][") {
                phones
                    .entry(idx.to_owned())
                    .or_default()
                    .insert(attr.trim_end_matches(']').to_owned(), Value::String(v.clone()));
            }
        }
    }
    let name = one("name").unwrap_or_default();
    let postings = list("postings");
    let emails = list("emails");
    let mut g = s.0.lock().unwrap();
    if name.is_empty() {
        return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "name is required");
    }
    if postings.len() != 1 {
        return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "exactly one posting is required");
    }
    match g.postings.get(&postings[0]) {
        None => {
            return lever_error(
                StatusCode::BAD_REQUEST,
                "BadRequestError",
                format!("posting {} does not exist", postings[0]),
            );
        }
        Some(p) if !matches!(p["state"].as_str(), Some("published" | "internal")) => {
            return lever_error(
                StatusCode::BAD_REQUEST,
                "BadRequestError",
                format!(
                    "posting {} is {}: candidates cannot be added",
                    postings[0],
                    p["state"].as_str().unwrap_or("?")
                ),
            );
        }
        Some(_) => {}
    }
    // Lever dedupes the PERSON by email: a new opportunity joins the existing contact.
    let contact =
        emails.iter().find_map(|e| g.contacts.get(&e.to_lowercase()).cloned()).unwrap_or_else(|| g.next("ct_"));
    for e in &emails {
        g.contacts.insert(e.to_lowercase(), contact.clone());
    }
    let id = g.next("opp_");
    let o = StoredOpportunity {
        id: id.clone(),
        contact: contact.clone(),
        name,
        headline: one("headline"),
        location: one("location"),
        emails,
        phones: phones.into_values().map(Value::Object).collect(),
        links: list("links"),
        tags: list("tags"),
        sources: list("sources"),
        origin: one("origin"),
        postings: postings.clone(),
        owner: perform_as,
        created_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
        files,
    };
    g.stats.opportunities_created += 1;
    g.opportunities.push(o.clone());
    (StatusCode::CREATED, Json(json!({"data": {"id": id, "contact": contact, "sources": o.sources, "applications": postings, "emails": o.emails}}))).into_response()
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
