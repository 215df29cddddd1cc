//! XOR's Jobs API (docs/xor-contract.md §1). Every XOR path, header and field lives in this module, so a
//! change of XOR's contract is a change here and in its fixtures.
use std::sync::Arc;

use async_trait::async_trait;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::enc;
use super::retry::{Attempt, RateLimiter, RetryPolicy, body_failure, call_with, status_failure, transport_failure};
pub use crate::domain::job_board::{XorError, XorJob, idempotency_key};
use crate::domain::{CandidateEvent, Connection, JobBoard, JobBoards, Posting, SecretString};

#[derive(Debug, Clone, Deserialize)]
pub struct XorPage {
    pub data: Vec<XorJob>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}
#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

#[derive(Debug, Clone)]
pub struct XorSettings {
    pub base_url: String,
    pub api_key: SecretString,
    pub max_rps: f64,
    pub concurrency: usize,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl XorSettings {
    pub fn new(base_url: impl Into<String>, api_key: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            api_key,
            max_rps: crate::domain::connection::XOR_ASSUMED_MAX_RPS,
            concurrency: 4,
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

/// The job boards of every connection, over one HTTP client, with one timeout and retry policy.
#[derive(Clone)]
pub struct XorBoards {
    pub http: reqwest::Client,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl XorBoards {
    pub fn new(http: reqwest::Client) -> Self {
        Self { http, timeout: Duration::from_secs(10), retry: RetryPolicy::default() }
    }
}

impl JobBoards for XorBoards {
    fn board(&self, conn: &Connection, api_key: SecretString) -> Arc<dyn JobBoard> {
        Arc::new(XorClient::new(
            self.http.clone(),
            XorSettings {
                base_url: conn.xor_base_url.clone(),
                api_key,
                max_rps: conn.xor_max_rps,
                concurrency: conn.xor_concurrency,
                timeout: self.timeout,
                retry: self.retry,
            },
        ))
    }
}

/// One connection's XOR client: its key, its rate limit and its concurrency bound.
#[derive(Clone)]
pub struct XorClient {
    http: reqwest::Client,
    base: String,
    api_key: SecretString,
    retry: RetryPolicy,
    timeout: Duration,
    limiter: Arc<RateLimiter>,
    in_flight: Arc<Semaphore>,
}

impl XorClient {
    pub fn new(http: reqwest::Client, s: XorSettings) -> Self {
        Self {
            http,
            base: s.base_url.trim_end_matches('/').to_owned(),
            api_key: s.api_key,
            retry: s.retry,
            timeout: s.timeout,
            limiter: Arc::new(RateLimiter::per_second(s.max_rps)),
            in_flight: Arc::new(Semaphore::new(s.concurrency.max(1))),
        }
    }

    pub async fn get(&self, id: &str) -> Result<XorJob, XorError> {
        self.call("get", Method::GET, format!("/v1/jobs/{}", enc(id)), None, None).await
    }

    pub async fn list_page(&self, cursor: Option<&str>) -> Result<XorPage, XorError> {
        let mut path = "/v1/jobs?source=lever&limit=100".to_owned();
        if let Some(c) = cursor {
            path.push_str("&cursor=");
            path.push_str(&enc(c));
        }
        self.call("list", Method::GET, path, None, None).await
    }

    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        op: &'static str,
        method: Method,
        path: String,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<T, XorError> {
        let url = format!("{}{}", self.base, path);
        let (url, method, body) = (&url, &method, body.as_deref());
        let attempt = |_n: u32, (): ()| async move {
            let _permit = self.in_flight.acquire().await.expect("semaphore never closed");
            self.limiter.wait().await;
            let answer = match self.request(method, url, body, idempotency_key).send().await {
                Ok(resp) => answer(op, resp).await,
                Err(e) => Attempt::Retry(transport_failure(e)),
            };
            ((), answer)
        };
        call_with(&self.retry, op, (), attempt, |attempts, last| XorError::Unavailable { op, attempts, last }).await
    }

    /// One request: the key, JSON both ways, the idempotency key of a create.
    fn request(
        &self,
        method: &Method,
        url: &str,
        body: Option<&[u8]>,
        idempotency_key: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method.clone(), url)
            .timeout(self.timeout)
            .bearer_auth(self.api_key.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(k) = idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(b.to_vec());
        }
        req
    }
}

/// What XOR's answer means: the value, a final refusal (a 4xx other than 429 and 408, or a
/// redirect, never followed: the request carries the connection's API key, which must not go
/// wherever XOR points), or a failure worth another attempt.
async fn answer<T: for<'de> Deserialize<'de>>(op: &'static str, resp: reqwest::Response) -> Attempt<T, XorError> {
    let status = resp.status();
    if status.is_redirection() {
        let message = format!("XOR answered a redirect to {}: not followed", crate::adapters::redirect_target(&resp));
        return Attempt::Done(Err(XorError::Rejected {
            op,
            status: status.as_u16(),
            code: "redirect".into(),
            message,
        }));
    }
    let retry = status_failure(&resp);
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => return Attempt::Retry(body_failure(status.as_u16(), e)),
    };
    if status.is_success() {
        let value = serde_json::from_slice(&bytes).map_err(|e| XorError::Decode { op, source: e.into() });
        return Attempt::Done(value);
    }
    if !is_final(status) {
        return Attempt::Retry(retry);
    }
    let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(e) => (e.error.code, e.error.message),
        Err(_) => ("unknown".into(), String::from_utf8_lossy(&bytes).chars().take(200).collect()),
    };
    Attempt::Done(Err(XorError::Rejected { op, status: status.as_u16(), code, message }))
}

#[async_trait]
impl JobBoard for XorClient {
    async fn create(&self, key: &str, job: &Posting) -> Result<XorJob, XorError> {
        self.call("create", Method::POST, "/v1/jobs".into(), Some(job.to_body()), Some(key)).await
    }

    async fn update(&self, id: &str, job: &Posting) -> Result<XorJob, XorError> {
        self.call("update", Method::PUT, format!("/v1/jobs/{}", enc(id)), Some(job.to_body()), None).await
    }

    /// Closing a closed job is a success; a `404` is returned as [`XorError::Rejected`] with
    /// status 404 for the caller to decide (for a sync: the job is gone, so it is closed).
    async fn close(&self, id: &str) -> Result<XorJob, XorError> {
        self.call("close", Method::POST, format!("/v1/jobs/{}/close", enc(id)), None, None).await
    }

    async fn job(&self, id: &str) -> Result<XorJob, XorError> {
        self.get(id).await
    }

    /// `POST /v1/candidates/{id}/events` with the event's idempotency key (§3).
    async fn candidate_event(&self, key: &str, candidate_id: &str, event: &CandidateEvent) -> Result<(), XorError> {
        let body = serde_json::to_vec(event).expect("an event serialises");
        let path = format!("/v1/candidates/{}/events", enc(candidate_id));
        let _: serde_json::Value = self.call("candidate event", Method::POST, path, Some(body), Some(key)).await?;
        Ok(())
    }

    /// Every Lever-sourced job, following cursors.
    async fn list_all(&self) -> Result<Vec<XorJob>, XorError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.list_page(cursor.as_deref()).await?;
            out.extend(page.data);
            match page.next_cursor {
                Some(c) if !c.is_empty() => cursor = Some(c),
                _ => return Ok(out),
            }
        }
    }
}

/// 4xx other than 429 (and 408, a timeout) are final.
fn is_final(s: StatusCode) -> bool {
    s.is_client_error() && s != StatusCode::TOO_MANY_REQUESTS && s != StatusCode::REQUEST_TIMEOUT
}
