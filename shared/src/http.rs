//! The HTTP routes, one axum router for both the Lambda (behind API Gateway's HTTP API, through
//! `lambda_http`) and `xor-lever serve` on loopback.
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use crate::domain::webhook::MAX_BODY_BYTES;
use crate::usecases::webhook::{SignedHeaders, WebhookDeps, receive};

/// When the current invocation must have answered (Unix ms): the Lambda adapter sets it from
/// the invocation's deadline; elsewhere a request gets [`DEFAULT_BUDGET_MS`].
#[derive(Debug, Clone, Copy)]
pub struct RequestDeadline(pub i64);

pub const DEFAULT_BUDGET_MS: i64 = 30_000;

pub fn router(deps: WebhookDeps) -> Router {
    Router::new()
        .route("/webhooks/xor/{connection_id}", post(webhook))
        .route("/healthz", get(|| async { "ok" }))
        // One byte over the cap so the handler (not the framework) answers with its own 413.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES + 1))
        .with_state(deps)
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn webhook(
    State(deps): State<WebhookDeps>,
    Path(connection_id): Path<String>,
    deadline: Option<Extension<RequestDeadline>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signed = SignedHeaders {
        id: header(&headers, "webhook-id"),
        timestamp: header(&headers, "webhook-timestamp"),
        signature: header(&headers, "webhook-signature"),
    };
    let deadline = deadline.map_or_else(|| (deps.clock)() + DEFAULT_BUDGET_MS, |Extension(d)| d.0);
    let answer = receive(&deps, &connection_id, &signed, &body, deadline).await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, Json(answer.body)).into_response();
    if let Some(secs) = answer.retry_after {
        resp.headers_mut().insert("retry-after", HeaderValue::from(secs));
    }
    resp
}
