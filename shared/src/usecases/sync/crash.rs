//! Test hook: a sync dying at a named step, as a Lambda killed there would (nothing after the
//! step runs: no further write, no feed state, no run record). The next run must repair it.
use tokio::sync::Notify;

use crate::usecases::CrashHook;

/// The steps, in the order a run passes them: each is a case of
/// `a_crash_at_every_step_of_a_sync_is_repaired_by_the_next_run` in `tests/tests/sync_e2e.rs`.
pub const SYNC_CRASH_POINTS: [&str; 5] = [
    // XOR answered a job's write; its mapping is not written.
    "after_xor_create",
    "after_xor_update",
    "after_xor_close",
    // One job fully written; the rest of the run is not.
    "after_mapping_write",
    // The feed's state (ETag, clean flag, the guard's high-water mark) saved; the run not recorded.
    "after_feed_state",
];

pub(super) struct Crash {
    hook: Option<CrashHook>,
    pub(super) died: Notify,
    /// Where it died (set once: the process is dead from then on).
    pub(super) at: std::sync::OnceLock<String>,
}

impl Crash {
    pub(super) fn new(hook: Option<CrashHook>) -> Self {
        Self { hook, died: Notify::new(), at: std::sync::OnceLock::new() }
    }

    /// True once the process has died: the jobs polled alongside the one that died start no
    /// further write before the run is dropped.
    pub(super) fn dead(&self) -> bool {
        self.at.get().is_some()
    }

    /// Never returns once the process has died.
    pub(super) async fn stop_if_dead(&self) {
        if self.dead() {
            std::future::pending::<()>().await;
        }
    }

    /// Never returns when the hook picks `point` (or the process already died): the run is
    /// dropped where it stands.
    pub(super) async fn point(&self, point: &str) {
        self.stop_if_dead().await;
        if self.hook.as_ref().is_some_and(|f| f(point)) {
            tracing::warn!(point, "test hook: the sync dies here");
            let _ = self.at.set(point.to_owned());
            self.died.notify_one();
            std::future::pending::<()>().await;
        }
    }
}
