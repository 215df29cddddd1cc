//! Fetches a connection's feed: conditional GET, gzip, a timeout, and a size cap that makes a
//! larger feed an error (never a truncated read). The body is spooled to an anonymous temp file
//! so that the parser can stream it (twice) with bounded memory.
use std::io::{Seek, SeekFrom, Write};
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};

use async_trait::async_trait;

use super::retry::transport_failure;
pub use crate::domain::Fetched;
use crate::domain::{FeedFetchError as FetchError, FeedSource, FeedState};

pub const DEFAULT_MAX_FEED_BYTES: u64 = 50 * 1024 * 1024;

#[derive(Clone)]
pub struct FeedFetcher {
    http: reqwest::Client,
    pub max_bytes: u64,
    pub timeout: Duration,
}

impl FeedFetcher {
    pub fn new(http: reqwest::Client) -> Self {
        Self { http, max_bytes: DEFAULT_MAX_FEED_BYTES, timeout: Duration::from_secs(60) }
    }
}

#[async_trait]
impl FeedSource for FeedFetcher {
    /// `validators`: the previous fetch's ETag / Last-Modified, sent as a conditional GET.
    async fn fetch(&self, url: &str, validators: Option<&FeedState>) -> Result<Fetched, FetchError> {
        let mut req = self.http.get(url).timeout(self.timeout);
        if let Some(v) = validators {
            if let Some(etag) = &v.etag {
                req = req.header(IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &v.last_modified {
                req = req.header(IF_MODIFIED_SINCE, lm);
            }
        }
        let resp = req.send().await.map_err(|e| FetchError::Transport(transport_failure(e)))?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status { status: status.as_u16() });
        }
        let header = |name| {
            resp.headers().get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok()).map(str::to_owned)
        };
        let etag = header(ETAG);
        let last_modified = header(LAST_MODIFIED);
        // Content-Length is of the (maybe compressed) wire body: a quick early refusal only; the
        // decoded byte count below is the real check.
        if resp.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(FetchError::TooLarge { limit: self.max_bytes });
        }
        let mut file = tempfile::tempfile()?;
        let mut bytes = 0u64;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| FetchError::Transport(transport_failure(e)))?;
            bytes += chunk.len() as u64;
            if bytes > self.max_bytes {
                return Err(FetchError::TooLarge { limit: self.max_bytes });
            }
            file.write_all(&chunk)?;
        }
        file.flush()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(Fetched::Body { file, bytes, etag, last_modified })
    }
}
