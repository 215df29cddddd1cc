//! What went wrong with a call to an outside API (XOR, Lever), kept typed until the one place
//! that writes it (a run's record, a delivery's reason, a log line).
use std::sync::Arc;

/// Why the last attempt of a call failed, when the retry policy gave up.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failure {
    /// A status worth retrying (429, 5xx), with the server's `Retry-After` when it sent one.
    #[error("HTTP {status}")]
    Status { status: u16, retry_after_ms: Option<u64> },
    /// A status whose body could not be read.
    #[error("HTTP {status} with an unreadable body: {source}")]
    UnreadableBody {
        status: u16,
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    #[error("timed out")]
    TimedOut,
    #[error("connection failed")]
    ConnectionFailed,
    /// The invocation's (or the run's) deadline came first: the call was abandoned, its answer
    /// unknown.
    #[error("no answer in time (the deadline came first)")]
    Deadline,
    /// Our own rate limit's queue was longer than the call's time: no request was sent.
    #[error("too many calls queued for the rate limit")]
    RateQueueFull,
    /// Any other failure of the request (TLS, a broken body, …), with its cause.
    #[error("request failed: {0}")]
    Request(#[source] Arc<dyn std::error::Error + Send + Sync>),
}
