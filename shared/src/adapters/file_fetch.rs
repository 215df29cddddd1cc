//! Files third parties link to (the resume XOR hands over as an expiring link), over HTTP with a
//! size cap and a timeout.
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;

use crate::domain::{FetchError, FetchedFile, FileFetcher};

pub struct HttpFileFetcher(pub reqwest::Client);

#[async_trait]
impl FileFetcher for HttpFileFetcher {
    async fn fetch(&self, url: &str, max_bytes: u64, timeout: Duration) -> Result<FetchedFile, FetchError> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(FetchError::NotHttp);
        }
        let resp = self.0.get(url).timeout(timeout).send().await.map_err(|e| {
            if e.is_timeout() { FetchError::TimedOut(Box::new(e)) } else { FetchError::Connect(Box::new(e)) }
        })?;
        if !resp.status().is_success() {
            return Err(FetchError::Status(resp.status().as_u16()));
        }
        let too_large = || FetchError::TooLarge(max_bytes / 1024 / 1024);
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Err(too_large());
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let name = url
            .split(['?', '#'])
            .next()
            .and_then(|p| p.rsplit('/').next())
            .filter(|n| !n.is_empty() && n.is_ascii())
            .unwrap_or("resume")
            .to_owned();
        let mut bytes = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| FetchError::BrokeOff(Box::new(e)))?;
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(FetchedFile { name, content_type, bytes })
    }
}
