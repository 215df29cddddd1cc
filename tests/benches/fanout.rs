//! The fan-out's scaling, measured: the dispatcher and N workers (N = 1, 4, 16; each a Lambda
//! instance taking one turn at a time) over 1,000 connections, against the XOR sandbox over
//! HTTP with XOR's per-key limit of 5 requests/s and 20 ms per answer, and the feeds over HTTP
//! with ETags. The store is in memory and the queue in process (the figures are XOR's and the
//! feeds' time, and ours; DynamoDB and SQS add a few ms per turn in AWS).
//!
//! The tick measured follows a warm-up that first-syncs every connection (3 postings each):
//! - 85% of the feeds are unchanged (304 Not Modified),
//! - 12% retitled their 3 postings (3 XOR updates each),
//! - 3% are new customers, first-synced with 10 postings (10 XOR creates at 5/s: ~2 s).
//!
//! Printed: connections per minute, the p50/p99 time from the feed change (the tick's start) to
//! its XOR write done, and the turns' total duration (the cost model's GB-seconds).
//! Run: `cargo bench --profile dev -p xor-lever-sandbox --bench fanout [CONNECTIONS]`.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use xor_lever_sandbox::XorSandbox;
use xor_lever_sandbox::feeds::feed;
use xor_lever_shared::adapters::local_queue::LocalQueue;
use xor_lever_shared::adapters::memory::MemoryStore;
use xor_lever_shared::domain::ports::XOR_API_KEY;
use xor_lever_shared::domain::queue::SyncQueue;
use xor_lever_shared::domain::{Connection, ConnectionId, RunOutcome, SecretString};
use xor_lever_shared::usecases::turns::{TurnDeps, TurnOutcome, dispatch, take_turn};
use xor_lever_shared::usecases::{SyncOptions, now_ms};

/// Feeds by connection, each with its ETag (a hash of its body).
#[derive(Clone, Default)]
struct Feeds(Arc<Mutex<HashMap<String, (String, Vec<u8>)>>>);

impl Feeds {
    fn set(&self, id: &str, body: Vec<u8>) {
        let etag = format!("\"{:016x}\"", fastrand_hash(&body));
        self.0.lock().unwrap().insert(id.to_owned(), (etag, body));
    }
}

fn fastrand_hash(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf29ce484222325u64, |h, x| (h ^ u64::from(*x)).wrapping_mul(0x100000001b3))
}

async fn serve_feed(State(feeds): State<Feeds>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let Some((etag, body)) = feeds.0.lock().unwrap().get(&id).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    ([(header::ETAG, etag), (header::CONTENT_TYPE, "application/xml".into())], body).into_response()
}

struct Tick {
    seconds: f64,
    change_to_xor_ms: Vec<f64>,
    turn_ms_total: f64,
    turns: usize,
}

/// One tick: the dispatcher queues every connection, `workers` take the turns.
async fn tick(deps: &TurnDeps, queue: &Arc<LocalQueue>, workers: usize, changed: &[String]) -> Tick {
    let started = Instant::now();
    dispatch(&*deps.sync.connections, &**queue).await.unwrap();
    let done: Arc<Mutex<Vec<(String, f64, f64)>>> = Arc::default();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (deps, queue, done) = (deps.clone(), queue.clone(), done.clone());
            tokio::spawn(async move {
                while let Some(turn) = queue.next().await {
                    let t = Instant::now();
                    let out = take_turn(&deps, &turn, &SyncOptions::default(), now_ms() + 300_000).await.unwrap();
                    queue.finished();
                    if let TurnOutcome::Taken { report, .. } = &out {
                        assert!(
                            !matches!(report.run.outcome, RunOutcome::Error { .. } | RunOutcome::FeedError { .. }),
                            "{:?}",
                            report.run
                        );
                    }
                    let since_tick = started.elapsed().as_secs_f64() * 1000.0;
                    done.lock().unwrap().push((
                        turn.connection.to_string(),
                        since_tick,
                        t.elapsed().as_secs_f64() * 1000.0,
                    ));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let done = done.lock().unwrap();
    let mut change_to_xor_ms: Vec<f64> =
        done.iter().filter(|(id, _, _)| changed.contains(id)).map(|(_, at, _)| *at).collect();
    change_to_xor_ms.sort_by(f64::total_cmp);
    Tick {
        seconds: started.elapsed().as_secs_f64(),
        change_to_xor_ms,
        turn_ms_total: done.iter().map(|(_, _, ms)| ms).sum(),
        turns: done.len(),
    }
}

fn pct(v: &[f64], p: usize) -> f64 {
    if v.is_empty() { 0.0 } else { v[(v.len() * p / 100).min(v.len() - 1)] }
}

async fn run(connections: usize, workers: usize) {
    let xor =
        XorSandbox::spawn_on("127.0.0.1:0", xor_lever_sandbox::xor::Config { rate_limit_rps: 5.0, latency_ms: 20 })
            .await
            .unwrap();
    let feeds = Feeds::default();
    let app = axum::Router::new().route("/feeds/{id}", axum::routing::get(serve_feed)).with_state(feeds.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let feed_base = format!("http://{}/feeds", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let store = Arc::new(MemoryStore::new());
    let http = xor_lever_shared::config::http_client();
    let queue = LocalQueue::new();
    let deps = TurnDeps {
        sync: xor_lever_shared::config::sync_deps(store.clone(), http),
        lever: None,
        leases: store.clone(),
        queue: queue.clone() as Arc<dyn SyncQueue>,
    };
    let add = |id: String, postings: usize| {
        let (deps, feeds, xor, feed_base) = (deps.clone(), feeds.clone(), xor.url.clone(), feed_base.clone());
        async move {
            feeds.set(&id, feed(0..postings, ""));
            let cid = ConnectionId::parse(&id).unwrap();
            let mut c = Connection::new(cid.clone(), format!("{feed_base}/{id}"), xor, 0);
            c.xor_max_rps = 5.0;
            deps.sync.connections.create_connection(&c).await.unwrap();
            let key = SecretString::new(format!("xor_test_{id}"));
            deps.sync.secrets.create_secret(&cid, XOR_API_KEY, Some(&key)).await.unwrap();
        }
    };
    let existing = connections * 97 / 100;
    for i in 0..existing {
        add(format!("c{i:05}"), 3).await;
    }
    // Warm-up: every existing connection's first sync (not measured).
    tick(&deps, &queue, 64, &[]).await;
    let writes_before = xor.stats().writes;

    // The tick: 12% changed, 3% new.
    let mut changed = Vec::new();
    for i in (0..existing).step_by(8) {
        let id = format!("c{i:05}");
        feeds.set(&id, feed(0..3, " (updated)"));
        changed.push(id);
    }
    for i in existing..connections {
        let id = format!("n{i:05}");
        add(id.clone(), 10).await;
        changed.push(id);
    }
    let t = tick(&deps, &queue, workers, &changed).await;
    let writes = xor.stats().writes - writes_before;
    println!(
        "fan-out  {connections} connections  {workers:>2} workers  tick {:6.1} s  {:7.0} connections/min  feed change → XOR p50 {:6.1} s p99 {:6.1} s  ({} changed, {writes} XOR writes)  turns {} · {:.0} ms each on average",
        t.seconds,
        connections as f64 / t.seconds * 60.0,
        pct(&t.change_to_xor_ms, 50) / 1000.0,
        pct(&t.change_to_xor_ms, 99) / 1000.0,
        changed.len(),
        t.turns,
        t.turn_ms_total / t.turns as f64,
    );
}

fn main() {
    let connections: usize =
        std::env::args().skip(1).find(|a| !a.starts_with('-')).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for workers in [1, 4, 16] {
        rt.block_on(run(connections, workers));
    }
}
