pub mod connect;
pub mod context;
pub mod cookie;
pub mod job_filter;
pub mod lever_check;
pub mod schedule;
pub mod secret_cache;
pub mod section;
pub mod signed;
pub mod sync;
pub mod tokens;
pub mod turns;
pub mod webhook;

#[cfg(test)]
pub(crate) mod fakes;

pub use sync::{AllReport, Progress, Skipped, SyncDeps, SyncOptions, SyncReport, sync_all, sync_connection};

/// Unix milliseconds now (the one place the use cases read the clock).
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Test hook: return true at a named point to stop there as a crash would (no cleanup).
pub type CrashHook = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Unix milliseconds; injected so tests can move time (and two "instances" can disagree).
pub type Clock = std::sync::Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    std::sync::Arc::new(now_ms)
}
