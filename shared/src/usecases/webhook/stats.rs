//! A delivery's own figures (the Lever calls it made and their time), counted into the
//! invocation's `metrics::Counters` while it is processed.
use std::future::Future;
use std::time::Instant;

/// Times one Lever call into the counters.
pub(super) async fn lever_call<T>(call: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = call.await;
    let ms = started.elapsed().as_millis() as u64;
    crate::metrics::count(|c| {
        c.lever_calls += 1;
        c.lever_ms += ms;
    });
    out
}
