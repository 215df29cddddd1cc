//! Serves a Lever-style feed on loopback, as a customer's feed URL would: `ETag` and
//! `If-None-Match` (304), a body and status that tests can change while it runs.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

#[derive(Default)]
struct Inner {
    body: Vec<u8>,
    content_type: String,
    status: u16,
    etag: String,
}

#[derive(Clone, Default)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    requests: Arc<AtomicU64>,
    not_modified: Arc<AtomicU64>,
}

pub struct FeedServer {
    /// The feed's URL (`…/feed.xml`).
    pub url: String,
    pub addr: SocketAddr,
    shared: Shared,
    _served: crate::Served,
}

impl FeedServer {
    pub async fn spawn(body: impl Into<Vec<u8>>) -> Self {
        Self::spawn_on("127.0.0.1:0", body).await.expect("bind loopback")
    }

    pub async fn spawn_on(addr: &str, body: impl Into<Vec<u8>>) -> std::io::Result<Self> {
        let shared = Shared::default();
        let app = Router::new().route("/feed.xml", get(serve)).with_state(shared.clone());
        let served = crate::serve(addr, app).await?;
        let s = Self { url: format!("{}/feed.xml", served.url), addr: served.addr, shared, _served: served };
        s.set_feed(body);
        Ok(s)
    }

    /// Serves this XML from now on (a new ETag).
    pub fn set_feed(&self, body: impl Into<Vec<u8>>) {
        self.set(200, "application/xml; charset=utf-8", body.into());
    }

    /// Serves anything (an HTML error page, a 500…).
    pub fn set(&self, status: u16, content_type: &str, body: Vec<u8>) {
        let mut g = self.shared.inner.lock().unwrap();
        g.etag = format!("\"{:016x}\"", fxhash(&body));
        g.body = body;
        g.status = status;
        g.content_type = content_type.into();
    }

    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }
    pub fn not_modified(&self) -> u64 {
        self.shared.not_modified.load(Ordering::SeqCst)
    }
}

fn fxhash(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf29ce484222325u64, |h, x| (h ^ *x as u64).wrapping_mul(0x100000001b3))
}

async fn serve(State(s): State<Shared>, headers: HeaderMap) -> Response {
    s.requests.fetch_add(1, Ordering::SeqCst);
    let g = s.inner.lock().unwrap();
    let status = StatusCode::from_u16(g.status).unwrap_or(StatusCode::OK);
    if status == StatusCode::OK
        && headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(g.etag.as_str())
    {
        s.not_modified.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, g.etag.clone())]).into_response();
    }
    (status, [(header::CONTENT_TYPE, g.content_type.clone()), (header::ETAG, g.etag.clone())], g.body.clone())
        .into_response()
}
