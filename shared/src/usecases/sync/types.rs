//! What a sync needs (its wiring and options) and what it reports.
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::domain::*;
use crate::feed::Limits;

#[derive(Clone)]
pub struct SyncDeps {
    pub connections: Arc<dyn ConnectionStore>,
    pub mappings: Arc<dyn MappingStore>,
    pub runs: Arc<dyn RunStore>,
    pub secrets: Arc<dyn SecretStore>,
    /// The postings of each connection's last feed read (the Lever section lists them).
    pub catalogs: Arc<dyn CatalogStore>,
    /// Where each connection's feed is read.
    pub feeds: Arc<dyn FeedSource>,
    /// Where its jobs are written (XOR).
    pub boards: Arc<dyn JobBoards>,
}

impl SyncDeps {
    /// Wiring for a store that implements every store port (SQLite, memory): one handle serves
    /// all. `config::sync_deps` adds the HTTP adapters.
    pub fn from_store<S>(store: Arc<S>, feeds: Arc<dyn FeedSource>, boards: Arc<dyn JobBoards>) -> Self
    where
        S: ConnectionStore + MappingStore + RunStore + SecretStore + CatalogStore + 'static,
    {
        Self {
            connections: store.clone(),
            mappings: store.clone(),
            runs: store.clone(),
            catalogs: store.clone(),
            secrets: store,
            feeds,
            boards,
        }
    }
}

/// Progress of the XOR writes, for a terminal progress bar.
pub trait Progress: Send + Sync {
    fn start(&self, connection: &ConnectionId, writes: u64);
    fn advance(&self);
    fn finish(&self);
}

#[derive(Clone)]
pub struct SyncOptions {
    pub dry_run: bool,
    /// Let the mass-close guard through (the CLI's `--force`).
    pub force: bool,
    /// No XOR call starts after `deadline - call_reserve` (a Lambda's remaining time).
    pub deadline: Option<Instant>,
    pub call_reserve: Duration,
    pub feed_limits: Limits,
    pub progress: Option<Arc<dyn Progress>>,
    /// Test hook: the process dies at a named step (`SYNC_CRASH_POINTS`).
    pub crash_at: Option<crate::usecases::CrashHook>,
    /// Which invocation of this sync this is (1, or a continuation's number), for the record.
    pub invocation: u32,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            force: false,
            deadline: None,
            // The XOR client's default retry budget (30 s) and a call's timeout (10 s).
            call_reserve: Duration::from_secs(40),
            feed_limits: Limits::default(),
            progress: None,
            crash_at: None,
            invocation: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub run: SyncRun,
    /// The plan (always for `--dry-run`; also for real runs, for `--json` consumers).
    pub plan: Option<Plan>,
    /// Overlapping runs: writes another run made first (left to it, not counted as failures).
    pub conflicts: usize,
}

pub(crate) enum JobOutcome {
    Created,
    Updated,
    Closed,
    Deferred,
    Conflict,
    Failed(JobFailure),
    /// A create XOR did not answer (its answer lost, or XOR down past the retries): XOR may have
    /// made the job. Sent again with the same idempotency key before the run ends.
    Unanswered(JobFailure),
}

/// The connected connections whose Lever authorization ends within the notice (a Super Admin
/// must authorize again before then): the `AuthorizationsExpiring` metric and alarm.
pub fn renewals_due<'a>(connections: impl IntoIterator<Item = &'a Connection>, now_s: i64) -> Vec<String> {
    connections
        .into_iter()
        .filter(|c| c.status == ConnectionStatus::Connected && c.lever.renewal_due(now_s))
        .map(|c| c.id.to_string())
        .collect()
}

/// A connection the run did not sync, and why (revoked and disabled ones keep their mappings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub connection: String,
    pub status: ConnectionStatus,
    pub reason: String,
    /// Revoked and not acted on (`Connection::revocation_unattended`): what the
    /// `RevokedConnections` alarm counts.
    pub unattended: bool,
}

impl Skipped {
    /// A connection that is not `connected` (pending, revoked, disabled): not synced.
    pub fn not_connected(c: &Connection, now_ms: i64) -> Self {
        let waits = if c.lever.invited_until_ms.is_some_and(|t| t > now_ms) { " (a connect link is out)" } else { "" };
        Self {
            connection: c.id.to_string(),
            status: c.status,
            reason: format!("the connection is {}{waits}", c.status.as_str()),
            unattended: c.revocation_unattended(now_ms),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AllReport {
    pub reports: Vec<SyncReport>,
    pub skipped: Vec<Skipped>,
    /// Connections whose Lever authorization could not be checked (Lever unreachable): synced
    /// anyway (jobs do not need Lever), counted for the metrics.
    pub lever_check_failures: usize,
    /// Connections whose Lever authorization ends within 30 days ([`renewals_due`]).
    pub renewals_due: Vec<String>,
}
