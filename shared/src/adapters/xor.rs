//! XOR's Jobs API (docs/xor-contract.md §1). Every XOR path, header and field lives in this module, so a
//! change of XOR's contract is a change here and in its fixtures.
use std::sync::Arc;

use async_trait::async_trait;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::enc;
use super::retry::{RateLimiter, RetryPolicy, parse_retry_after};
pub use crate::domain::job_board::{XorError, XorJob, idempotency_key};
use crate::domain::{Connection, JobBoard, JobBoards, Posting, SecretString};

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
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (retry_after, last) = {
                let _permit = self.in_flight.acquire().await.expect("semaphore never closed");
                self.limiter.wait().await;
                let mut req = self
                    .http
                    .request(method.clone(), &url)
                    .timeout(self.timeout)
                    .bearer_auth(self.api_key.expose())
                    .header(reqwest::header::ACCEPT, "application/json");
                if let Some(k) = idempotency_key {
                    req = req.header("Idempotency-Key", k);
                }
                if let Some(b) = &body {
                    req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(b.clone());
                }
                match req.send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        let retry_after = parse_retry_after(resp.headers().get(reqwest::header::RETRY_AFTER));
                        // Never followed (the client has no redirect policy): the request carries
                        // the connection's API key, which must not go wherever XOR points.
                        if status.is_redirection() {
                            let message = format!(
                                "XOR answered a redirect to {}: not followed",
                                crate::adapters::redirect_target(&resp)
                            );
                            return Err(XorError::Rejected {
                                op,
                                status: status.as_u16(),
                                code: "redirect".into(),
                                message,
                            });
                        }
                        let bytes = resp.bytes().await;
                        match (status, bytes) {
                            (s, Ok(b)) if s.is_success() => {
                                return serde_json::from_slice(&b)
                                    .map_err(|e| XorError::Decode { op, message: e.to_string() });
                            }
                            (s, Ok(b)) if is_final(s) => {
                                let (code, message) = match serde_json::from_slice::<ErrorBody>(&b) {
                                    Ok(e) => (e.error.code, e.error.message),
                                    Err(_) => {
                                        ("unknown".into(), String::from_utf8_lossy(&b).chars().take(200).collect())
                                    }
                                };
                                return Err(XorError::Rejected { op, status: s.as_u16(), code, message });
                            }
                            (s, Ok(_)) => (retry_after, format!("HTTP {}", s.as_u16())),
                            (s, Err(e)) => {
                                (None, format!("HTTP {} with an unreadable body: {}", s.as_u16(), describe(&e)))
                            }
                        }
                    }
                    Err(e) => (None, describe(&e)),
                }
            };
            match self.retry.next_delay(attempt, started.elapsed(), retry_after) {
                Some(d) => {
                    tracing::debug!(op, attempt, delay_ms = d.as_millis() as u64, reason = %last, "retrying XOR call");
                    tokio::time::sleep(d).await;
                }
                None => {
                    return Err(XorError::Unavailable { op, attempts: attempt, last });
                }
            }
        }
    }
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

/// A transport error for a log or a run record (never a header: the key is not in it).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        e.to_string()
    }
}
