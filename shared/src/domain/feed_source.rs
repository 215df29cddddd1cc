//! The feed port: a customer's Lever XML job feed, fetched conditionally and spooled to a file
//! (the parser streams it twice with bounded memory). Fetched over HTTP by `adapters::feed_http`.
use std::fs::File;

use async_trait::async_trait;

use super::FeedState;

pub enum Fetched {
    /// `304`: the feed is what it was at the last fetch.
    NotModified,
    Body {
        file: File,
        bytes: u64,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FeedFetchError {
    #[error("the feed URL answered HTTP {status}")]
    Status { status: u16 },
    #[error("the feed is larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("could not fetch the feed: {0}")]
    Transport(#[source] super::Failure),
    #[error("could not spool the feed to a temporary file: {0}")]
    Spool(#[from] std::io::Error),
}

#[async_trait]
pub trait FeedSource: Send + Sync {
    /// `validators`: the previous fetch's ETag / Last-Modified, for a conditional GET.
    async fn fetch(&self, url: &str, validators: Option<&FeedState>) -> Result<Fetched, FeedFetchError>;
}
