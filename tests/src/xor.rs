//! A faithful fake of XOR's Jobs API (docs/xor-contract.md §1): jobs in memory and scoped by API key,
//! idempotency keys honoured (same key and body → the first result; same key, other body → 409),
//! cursor pagination, chatbot links, a per-key rate limit answering 429 with `Retry-After`, and
//! fault injection (latency, 429, 5xx, responses dropped after the write) driven over HTTP under
//! `/_sandbox/`. It counts what it served so tests can assert "zero writes".
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use crate::faults::Fault;
use crate::faults::{Faults, Stage};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    /// Requests per second per API key before 429 (0 = unlimited).
    #[serde(default)]
    pub rate_limit_rps: f64,
    #[serde(default)]
    pub latency_ms: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub requests: u64,
    /// Successful creates, updates and closes (idempotent replays of a create do not count).
    pub writes: u64,
    pub creates: u64,
    pub idempotent_replays: u64,
    pub updates: u64,
    pub closes: u64,
    pub gets: u64,
    pub lists: u64,
    pub rate_limited: u64,
    pub faults_served: u64,
    /// Candidate events accepted (replays of an idempotency key not counted).
    pub candidate_events: u64,
}

#[derive(Debug, Clone, Serialize)]
struct Job {
    id: String,
    #[serde(skip)]
    owner: String,
    status: String,
    chatbot_url: String,
    webchat_url: String,
    #[serde(flatten)]
    body: serde_json::Map<String, Value>,
}

#[derive(Default)]
struct Inner {
    jobs: BTreeMap<String, Job>,
    next_id: u64,
    /// (api key, idempotency key) → (body, created job id, time)
    idem: HashMap<(String, String), (Value, String, Instant)>,
    faults: Faults,
    config: Config,
    stats: Stats,
    buckets: HashMap<String, (f64, Instant)>,
    /// Candidate events as received (`POST /v1/candidates/{id}/events`), with their key.
    events: Vec<Value>,
    /// (api key, idempotency key) → the event's body.
    event_idem: HashMap<(String, String), Value>,
}

#[derive(Clone, Default)]
pub struct Sandbox(Arc<Mutex<Inner>>);

/// A running sandbox, for tests.
pub struct XorSandbox {
    pub url: String,
    pub addr: SocketAddr,
    pub state: Sandbox,
    _served: crate::Served,
}

impl XorSandbox {
    pub async fn spawn() -> Self {
        Self::spawn_on("127.0.0.1:0", Config::default()).await.expect("bind loopback")
    }

    pub async fn spawn_on(addr: &str, config: Config) -> std::io::Result<Self> {
        let state = Sandbox::default();
        state.0.lock().unwrap().config = config;
        let served = crate::serve(addr, router(state.clone())).await?;
        Ok(Self { url: served.url.clone(), addr: served.addr, state, _served: served })
    }

    pub fn stats(&self) -> Stats {
        self.state.0.lock().unwrap().stats.clone()
    }
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.0.lock().unwrap().faults.extend(faults);
    }
    /// Every request fails with probability `rate`, with one of `kinds`, drawn from `seed`.
    pub fn inject_random(&self, rate: f64, seed: u64, kinds: Vec<Fault>) {
        self.state.0.lock().unwrap().faults.random(rate, seed, kinds);
    }

    pub fn set_config(&self, c: Config) {
        self.state.0.lock().unwrap().config = c;
    }
    /// All jobs (any key), as the API shows them.
    /// The candidate events XOR received, in order (each once, whatever the retries).
    pub fn candidate_events(&self) -> Vec<Value> {
        self.state.0.lock().unwrap().events.clone()
    }
    pub fn jobs(&self) -> Vec<Value> {
        self.state.0.lock().unwrap().jobs.values().map(|j| serde_json::to_value(j).unwrap()).collect()
    }
}

pub fn router(state: Sandbox) -> Router {
    Router::new()
        .route("/v1/jobs", post(create).get(list))
        .route("/v1/jobs/{id}", get(get_job).put(update))
        .route("/v1/jobs/{id}/close", post(close))
        .route("/v1/candidates/{id}/events", post(candidate_event))
        .route("/_sandbox/candidate_events", get(all_events))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/faults", post(add_faults))
        .route("/_sandbox/config", post(set_config))
        .route("/_sandbox/jobs", get(all_jobs))
        .route("/_sandbox/reset", post(reset))
        .with_state(state)
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message.into()}}))).into_response()
}

/// Auth, rate limit, latency and faults, in the order a real API applies them.
/// `Ok(key, hang)`: go on; `hang` is a dropped-response fault to apply after the work.
async fn gate(s: &Sandbox, headers: &HeaderMap, op: &str) -> Result<(String, Option<u64>), Response> {
    let (latency, fault) = {
        let mut g = s.0.lock().unwrap();
        g.stats.requests += 1;
        let fault = g.faults.take(op, Stage::Before);
        (g.config.latency_ms, fault)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    let Some(key) = key else {
        return Err(error(StatusCode::UNAUTHORIZED, "unauthorized", "missing or malformed API key"));
    };
    let mut hang = None;
    if let Some(f) = fault {
        s.0.lock().unwrap().stats.faults_served += 1;
        if let Some(code) = f.status {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = error(status, "injected", format!("injected {code}"));
            if let Some(ra) = f.retry_after {
                resp.headers_mut().insert("retry-after", ra.into());
            }
            return Err(resp);
        }
        hang = f.hang_ms;
    }
    {
        let mut g = s.0.lock().unwrap();
        let rps = g.config.rate_limit_rps;
        if rps > 0.0 {
            if !crate::take_token(&mut g.buckets, &key, rps, rps) {
                g.stats.rate_limited += 1;
                let mut resp = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow down");
                resp.headers_mut().insert("retry-after", 1.into());
                return Err(resp);
            }
        }
    }
    Ok((key, hang))
}

async fn finish(resp: Response, hang: Option<u64>) -> Response {
    if let Some(ms) = hang {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    resp
}

fn validate(body: &Bytes) -> Result<serde_json::Map<String, Value>, Response> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, "invalid_json", e.to_string()))?;
    let Value::Object(mut m) = v else {
        return Err(error(StatusCode::BAD_REQUEST, "invalid_body", "expected a JSON object"));
    };
    for field in ["source", "external_id", "title"] {
        if !m.get(field).is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty())) {
            return Err(error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_job", format!("{field} is required")));
        }
    }
    m.remove("id");
    m.remove("status");
    Ok(m)
}

async fn create(State(s): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    let (key, hang) = match gate(&s, &headers, "create").await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Some(idem) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned) else {
        return error(StatusCode::BAD_REQUEST, "idempotency_key_required", "Idempotency-Key header is required");
    };
    let fields = match validate(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let resp = {
        let mut g = s.0.lock().unwrap();
        let body_value = Value::Object(fields.clone());
        let slot = (key.clone(), idem);
        match g.idem.get(&slot).filter(|(_, _, at)| at.elapsed() < Duration::from_secs(24 * 3600)).cloned() {
            Some((first_body, id, _)) if first_body == body_value => {
                g.stats.idempotent_replays += 1;
                let job = g.jobs.get(&id).cloned().expect("idempotent job kept");
                (StatusCode::CREATED, Json(serde_json::to_value(job).unwrap())).into_response()
            }
            Some(_) => error(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different body",
            ),
            None => {
                g.next_id += 1;
                let id = format!("xj_{:06}", g.next_id);
                let job = Job {
                    id: id.clone(),
                    owner: key,
                    status: "active".into(),
                    chatbot_url: format!("https://jobs.xor.ai/c/{id}"),
                    webchat_url: format!("https://jobs.xor.ai/w/{id}"),
                    body: fields,
                };
                g.jobs.insert(id.clone(), job.clone());
                g.idem.insert(slot, (body_value, id, Instant::now()));
                g.stats.creates += 1;
                g.stats.writes += 1;
                (StatusCode::CREATED, Json(serde_json::to_value(job).unwrap())).into_response()
            }
        }
    };
    finish(resp, hang).await
}

fn owned_job<'a>(g: &'a mut Inner, key: &str, id: &str) -> Result<&'a mut Job, Response> {
    match g.jobs.get_mut(id) {
        Some(j) if j.owner == key => Ok(j),
        _ => Err(error(StatusCode::NOT_FOUND, "not_found", format!("no job {id}"))),
    }
}

async fn update(State(s): State<Sandbox>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let (key, hang) = match gate(&s, &headers, "update").await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let fields = match validate(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let resp = {
        let mut g = s.0.lock().unwrap();
        match owned_job(&mut g, &key, &id) {
            Ok(job) => {
                job.body = fields;
                let v = serde_json::to_value(&*job).unwrap();
                g.stats.updates += 1;
                g.stats.writes += 1;
                (StatusCode::OK, Json(v)).into_response()
            }
            Err(r) => r,
        }
    };
    finish(resp, hang).await
}

async fn close(State(s): State<Sandbox>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let (key, hang) = match gate(&s, &headers, "close").await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let resp = {
        let mut g = s.0.lock().unwrap();
        match owned_job(&mut g, &key, &id) {
            Ok(job) => {
                let was_active = job.status == "active";
                job.status = "closed".into();
                let v = serde_json::to_value(&*job).unwrap();
                if was_active {
                    g.stats.closes += 1;
                    g.stats.writes += 1;
                }
                (StatusCode::OK, Json(v)).into_response()
            }
            Err(r) => r,
        }
    };
    finish(resp, hang).await
}

async fn get_job(State(s): State<Sandbox>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let (key, hang) = match gate(&s, &headers, "get").await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let resp = {
        let mut g = s.0.lock().unwrap();
        g.stats.gets += 1;
        match owned_job(&mut g, &key, &id) {
            Ok(job) => (StatusCode::OK, Json(serde_json::to_value(&*job).unwrap())).into_response(),
            Err(r) => r,
        }
    };
    finish(resp, hang).await
}

async fn list(State(s): State<Sandbox>, Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    let (key, hang) = match gate(&s, &headers, "list").await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100).clamp(1, 100);
    // The cursor is the last id of the previous page: stable while jobs are added.
    let after = q.get("cursor").cloned().unwrap_or_default();
    let resp = {
        let mut g = s.0.lock().unwrap();
        g.stats.lists += 1;
        let source = q.get("source").cloned();
        let mut page: Vec<Value> = Vec::new();
        let mut next = None;
        for job in g.jobs.values().filter(|j| j.owner == key && j.id > after) {
            if source.as_ref().is_some_and(|src| job.body.get("source").and_then(Value::as_str) != Some(src.as_str())) {
                continue;
            }
            if page.len() == limit {
                next = page.last().and_then(|j| j["id"].as_str()).map(str::to_owned);
                break;
            }
            page.push(serde_json::to_value(job).unwrap());
        }
        (StatusCode::OK, Json(json!({"data": page, "next_cursor": next}))).into_response()
    };
    finish(resp, hang).await
}

async fn stats(State(s): State<Sandbox>) -> Json<Stats> {
    Json(s.0.lock().unwrap().stats.clone())
}

async fn add_faults(State(s): State<Sandbox>, Json(faults): Json<Vec<Fault>>) -> StatusCode {
    s.0.lock().unwrap().faults.extend(faults);
    StatusCode::NO_CONTENT
}

async fn set_config(State(s): State<Sandbox>, Json(c): Json<Config>) -> StatusCode {
    s.0.lock().unwrap().config = c;
    StatusCode::NO_CONTENT
}

async fn all_jobs(State(s): State<Sandbox>) -> Json<Value> {
    let g = s.0.lock().unwrap();
    Json(json!({"data": g.jobs.values().collect::<Vec<_>>()}))
}

async fn reset(State(s): State<Sandbox>) -> StatusCode {
    let mut g = s.0.lock().unwrap();
    let config = g.config.clone();
    *g = Inner { config, ..Inner::default() };
    StatusCode::NO_CONTENT
}

/// The events a candidate's outcome in the ATS can be (docs/xor-contract.md §3).
const CANDIDATE_EVENTS: [&str; 5] = ["stage_changed", "hired", "archived", "unarchived", "deleted"];

/// Checks an event body as XOR would: the event is one it knows, the job is this key's, a stage
/// change names its stage, and it says when it happened.
fn validate_event(g: &Inner, key: &str, body: &Bytes) -> Result<Value, Response> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| error(StatusCode::BAD_REQUEST, "invalid_json", e.to_string()))?;
    let field = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let unprocessable = |m: &str| error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_event", m.to_owned());
    if !field("event").is_some_and(|e| CANDIDATE_EVENTS.contains(&e)) {
        return Err(unprocessable("event must be one of stage_changed, hired, archived, unarchived, deleted"));
    }
    if !field("job_id").is_some_and(|j| g.jobs.get(j).is_some_and(|job| job.owner == key)) {
        return Err(error(StatusCode::NOT_FOUND, "not_found", "no such job for this key"));
    }
    if field("event") == Some("stage_changed") && field("stage").is_none() {
        return Err(unprocessable("a stage change names its stage"));
    }
    if field("occurred_at")
        .is_none_or(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_err())
    {
        return Err(unprocessable("occurred_at must be an RFC 3339 time"));
    }
    Ok(v)
}

/// `POST /v1/candidates/{id}/events`: what became of a candidate XOR screened. The same
/// Idempotency-Key with the same body is answered as the first time and recorded once.
async fn candidate_event(
    State(s): State<Sandbox>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (key, hang) = match gate(&s, &headers, "candidate_event").await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Some(idem) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned) else {
        return error(StatusCode::BAD_REQUEST, "idempotency_key_required", "Idempotency-Key header is required");
    };
    let resp = {
        let mut g = s.0.lock().unwrap();
        match validate_event(&g, &key, &body) {
            Err(r) => r,
            Ok(v) => match g.event_idem.get(&(key.clone(), idem.clone())).cloned() {
                Some(first) if first == v => {
                    g.stats.idempotent_replays += 1;
                    (StatusCode::OK, Json(json!({"status": "accepted", "replayed": true}))).into_response()
                }
                Some(_) => error(
                    StatusCode::CONFLICT,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with a different body",
                ),
                None => {
                    g.event_idem.insert((key, idem.clone()), v.clone());
                    let mut stored = v;
                    stored["candidate_id"] = id.into();
                    stored["idempotency_key"] = idem.into();
                    g.events.push(stored);
                    g.stats.candidate_events += 1;
                    (StatusCode::CREATED, Json(json!({"status": "accepted"}))).into_response()
                }
            },
        }
    };
    finish(resp, hang).await
}

async fn all_events(State(s): State<Sandbox>) -> Json<Value> {
    Json(json!({"data": s.0.lock().unwrap().events.clone()}))
}
