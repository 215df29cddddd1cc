//! A delivery's figures for its metric line (the Lever calls it made and their time, the report's
//! render time, a resume XOR linked that could not be fetched), gathered while it is processed:
//! task-local, so nothing is threaded through every call and concurrent deliveries never mix.
use std::cell::RefCell;
use std::future::Future;
use std::time::Instant;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    pub lever_calls: u32,
    pub lever_ms: u64,
    pub report_ms: u64,
    pub resume_failures: u32,
    /// A screening's XOR job had no mapping, and XOR's word repaired it.
    pub mappings_repaired: u32,
}

tokio::task_local! {
    static STATS: RefCell<DeliveryStats>;
}

/// Runs `f` (one delivery) and returns what it gathered.
pub async fn gathered<F: Future>(f: F) -> (F::Output, DeliveryStats) {
    STATS
        .scope(RefCell::new(DeliveryStats::default()), async {
            let out = f.await;
            (out, STATS.with(|s| *s.borrow()))
        })
        .await
}

/// Adds to the current delivery's figures (nothing outside `gathered`: a replay by the sweep).
pub(super) fn note(f: impl FnOnce(&mut DeliveryStats)) {
    let _ = STATS.try_with(|s| f(&mut s.borrow_mut()));
}

/// Times one Lever call into the figures.
pub(super) async fn lever_call<T>(call: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = call.await;
    let ms = started.elapsed().as_millis() as u64;
    note(|s| {
        s.lever_calls += 1;
        s.lever_ms += ms;
    });
    out
}
