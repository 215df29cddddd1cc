//! A small Lambda Runtime API (the 2018-06-01 interface a function's runtime polls), so the real
//! function binaries run locally as Lambda runs them: `AWS_LAMBDA_RUNTIME_API=<addr>`, then
//! `GET …/invocation/next` for an event and `POST …/invocation/{id}/response` with the answer.
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Notify, oneshot};

type Answer = Result<serde_json::Value, String>;

#[derive(Default)]
struct Inner {
    queue: VecDeque<(String, Vec<u8>, Duration)>,
    waiting: HashMap<String, oneshot::Sender<Answer>>,
    first_poll: Option<Instant>,
    init_error: Option<String>,
}

#[derive(Clone, Default)]
pub struct Emulator {
    inner: Arc<Mutex<Inner>>,
    ready: Arc<Notify>,
    polled: Arc<Notify>,
}

pub struct RunningEmulator {
    pub emulator: Emulator,
    /// `host:port`, for `AWS_LAMBDA_RUNTIME_API`.
    pub addr: String,
    _served: crate::Served,
}

impl RunningEmulator {
    pub async fn spawn() -> Self {
        let emulator = Emulator::default();
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(emulator.clone());
        let served = crate::serve("127.0.0.1:0", router).await.expect("bind loopback");
        Self { emulator, addr: served.addr.to_string(), _served: served }
    }

    /// Invokes the function with `event` and a `timeout` (its deadline), and waits for its answer.
    pub async fn invoke(&self, event: &serde_json::Value, timeout: Duration) -> Answer {
        let id = format!("req-{:016x}", fastrand::u64(..));
        let (tx, rx) = oneshot::channel();
        {
            let mut g = self.emulator.inner.lock().unwrap();
            g.queue.push_back((id.clone(), serde_json::to_vec(event).unwrap(), timeout));
            g.waiting.insert(id, tx);
        }
        self.emulator.ready.notify_one();
        match tokio::time::timeout(timeout + Duration::from_secs(5), rx).await {
            Ok(Ok(a)) => a,
            _ => Err("the function did not answer in time".into()),
        }
    }

    /// Waits for the runtime's first `next` poll: the end of its cold start.
    pub async fn first_poll(&self) -> Instant {
        loop {
            let notified = self.emulator.polled.notified();
            if let Some(t) = self.emulator.inner.lock().unwrap().first_poll {
                return t;
            }
            notified.await;
        }
    }

    pub fn init_error(&self) -> Option<String> {
        self.emulator.inner.lock().unwrap().init_error.clone()
    }
}

async fn next(State(e): State<Emulator>) -> Response {
    {
        let mut g = e.inner.lock().unwrap();
        g.first_poll.get_or_insert_with(Instant::now);
    }
    e.polled.notify_waiters();
    loop {
        let notified = e.ready.notified();
        let item = e.inner.lock().unwrap().queue.pop_front();
        if let Some((id, body, timeout)) = item {
            let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + timeout;
            let mut h = HeaderMap::new();
            h.insert("lambda-runtime-aws-request-id", HeaderValue::from_str(&id).unwrap());
            h.insert("lambda-runtime-deadline-ms", HeaderValue::from(deadline.as_millis() as u64));
            h.insert(
                "lambda-runtime-invoked-function-arn",
                HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:local"),
            );
            h.insert("lambda-runtime-trace-id", HeaderValue::from_static("Root=1-00000000-000000000000000000000000"));
            return (StatusCode::OK, h, body).into_response();
        }
        notified.await;
    }
}

fn settle(e: &Emulator, id: &str, a: Answer) -> StatusCode {
    match e.inner.lock().unwrap().waiting.remove(id) {
        Some(tx) => {
            let _ = tx.send(a);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn response(State(e): State<Emulator>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into()));
    settle(&e, &id, Ok(v))
}

async fn error(State(e): State<Emulator>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    settle(&e, &id, Err(String::from_utf8_lossy(&body).into()))
}

async fn init_error(State(e): State<Emulator>, body: Bytes) -> StatusCode {
    e.inner.lock().unwrap().init_error = Some(String::from_utf8_lossy(&body).into());
    StatusCode::ACCEPTED
}
