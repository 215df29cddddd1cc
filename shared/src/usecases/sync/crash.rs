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
    /// Where it died, for the report.
    pub(super) at: std::sync::Mutex<Option<String>>,
    dead: std::sync::atomic::AtomicBool,
}

impl Crash {
    pub(super) fn new(hook: Option<CrashHook>) -> Self {
        Self { hook, died: Notify::new(), at: std::sync::Mutex::new(None), dead: Default::default() }
    }

    /// True once the process has died: the jobs polled alongside the one that died start no
    /// further write before the run is dropped.
    pub(super) fn dead(&self) -> bool {
        self.dead.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Never returns when the hook picks `point` (or the process already died): the run is
    /// dropped where it stands.
    pub(super) async fn point(&self, point: &str) {
        if self.dead() {
            std::future::pending::<()>().await;
        }
        if self.hook.as_ref().is_some_and(|f| f(point)) {
            self.dead.store(true, std::sync::atomic::Ordering::SeqCst);
            tracing::warn!(point, "test hook: the sync dies here");
            *self.at.lock().unwrap_or_else(|e| e.into_inner()) = Some(point.to_owned());
            self.died.notify_one();
            std::future::pending::<()>().await;
        }
    }
}
