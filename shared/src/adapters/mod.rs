//! The edges: each module talks to one outside system and implements domain ports.
pub mod dynamodb;
pub mod feed_http;
pub mod file_fetch;
pub mod lever;
pub mod local_queue;
pub mod local_trigger;
pub mod memory;
pub mod retry;
pub mod secrets_manager;
pub mod sqlite;
pub mod sqs;
pub mod xor;

pub use crate::url::enc;

/// A failed AWS call as a store error: the message is the SDK's full context (its own `Display`
/// is terse), the error itself is kept as the source.
pub(crate) fn sdk_unavailable<E: std::error::Error + Send + Sync + 'static>(
    op: &'static str,
    e: E,
) -> crate::domain::StoreError {
    let message = aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string();
    crate::domain::StoreError::Unavailable { op, message, source: Some(Box::new(e)) }
}

/// A redirect's target, for the error that refuses to follow it (the XOR and Lever clients
/// never follow one); cut short, "nowhere" when it names none.
pub(crate) fn redirect_target(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| "nowhere".into(), |l| l.chars().take(200).collect())
}
