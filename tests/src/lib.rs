//! Stand-ins for the outside world, served over real HTTP on loopback: the XOR API sandbox
//! (docs/xor-contract.md §1), a Lever-style feed server, and helpers the workspace's tests share.
pub mod faults;
pub mod feed_server;
pub mod feeds;
pub mod harness;
pub mod lambda_emulator;
pub mod lever;
pub mod moto;
pub mod visitor;
pub mod xor;

pub use feed_server::FeedServer;
pub use lever::LeverSandbox;
pub use xor::XorSandbox;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

/// Binds a loopback listener (port 0 = any free port).
pub async fn bind(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// A router served on a local address until dropped.
pub struct Served {
    pub url: String,
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(addr: &str, router: axum::Router) -> std::io::Result<Served> {
    let listener = bind(addr).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(Served { url: format!("http://{addr}"), addr, task })
}

/// A token bucket per key (the sandboxes' rate limits): true when `key` may go now.
pub fn take_token(buckets: &mut HashMap<String, (f64, Instant)>, key: &str, rps: f64, burst: f64) -> bool {
    let now = Instant::now();
    let (tokens, last) = buckets.get(key).copied().unwrap_or((burst, now));
    let tokens = (tokens + now.duration_since(last).as_secs_f64() * rps).min(burst);
    let ok = tokens >= 1.0;
    buckets.insert(key.to_owned(), (if ok { tokens - 1.0 } else { tokens }, now));
    ok
}

/// The `p` quantile (0.0–1.0) of `sorted` samples, nearest rank: the benchmarks' p50 and p99.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
