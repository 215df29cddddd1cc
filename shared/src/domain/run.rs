use serde::{Deserialize, Serialize};

use super::ids::ConnectionId;

/// The counts an operator reads after a run (the CLI's `--json` line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSummary {
    pub connection: String,
    pub created: usize,
    pub updated: usize,
    pub closed: usize,
    pub unchanged: usize,
    /// Jobs whose XOR call failed this run; they are retried next run.
    pub failed: usize,
    /// Feed entries that could not be used (no id, repeated id, no title).
    pub skipped: usize,
    /// Jobs not started because the run's deadline neared; the next run carries on.
    pub deferred: usize,
    /// Closes held back by the mass-close guard.
    pub held_closes: usize,
    /// Postings the feed listed (usable ones) and the feed's size, when it was read in full.
    #[serde(default)]
    pub postings: usize,
    #[serde(default)]
    pub feed_bytes: u64,
    /// Creates XOR did not answer, sent again with the same idempotency key before the run
    /// ended and mapped then (the run that made the job also mapped it).
    #[serde(default)]
    pub creates_repaired: usize,
    /// Creates XOR did not answer even then (or the run's time ran out first): XOR may hold
    /// their jobs unmapped; the next run maps them (in `failed` or `deferred` too).
    #[serde(default)]
    pub creates_unanswered: usize,
    /// Which invocation of this sync the run was: a sync that runs out of time continues in the
    /// next one (the fan-out's continuation), so a completed run at 3 took three invocations.
    #[serde(default = "first_invocation")]
    pub invocation: u32,
    /// Postings the connection's job filter holds back (rules or switches): not created, and
    /// closed in XOR when they were published before (issue 26).
    #[serde(default)]
    pub filtered: usize,
}

fn first_invocation() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RunOutcome {
    /// Every planned job was attempted (some may have failed: see `failed`).
    Completed,
    /// The deadline stopped the run early: `deferred` jobs wait for the next run.
    Partial,
    /// The feed answered 304 and the previous run was clean: nothing to do.
    NotModified,
    /// The feed could not be used (HTTP error, too large, not XML…): nothing was changed in XOR.
    FeedError { reason: String },
    /// The run could not start (store or secret unavailable, connection not usable).
    Error { reason: String },
    /// `--dry-run`: the plan was computed and nothing was changed.
    DryRun,
}

impl RunOutcome {
    /// In a recruiter's words (no internal detail: the Lever section shows it).
    pub fn label(&self) -> String {
        match self {
            Self::Completed => "completed".into(),
            Self::Partial => "partly done (continues next run)".into(),
            Self::NotModified => "feed unchanged".into(),
            // The reasons (an HTTP status, a store's words) are for operators: `connections show`.
            Self::FeedError { .. } => "the job feed could not be read".into(),
            Self::Error { .. } => "could not run (XOR's team is told)".into(),
            Self::DryRun => "dry run".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFailure {
    pub posting_id: String,
    pub op: String,
    pub error: String,
}

/// The record of one run of one connection, kept for operators (`xor-lever connections show`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRun {
    pub run_id: String,
    pub connection: ConnectionId,
    /// Unix milliseconds.
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    #[serde(flatten)]
    pub outcome: RunOutcome,
    pub summary: SyncSummary,
    /// Why the mass-close guard held closes back, when it did.
    pub guard: Option<String>,
    /// The first failures of the run (capped), each with the XOR error.
    pub failures: Vec<JobFailure>,
    /// Feed warnings (skipped entries, unparseable dates…), capped.
    pub warnings: Vec<String>,
}

impl SyncRun {
    /// Clean: nothing left for a next run to do, so a 304 may skip it.
    pub fn is_clean(&self) -> bool {
        matches!(self.outcome, RunOutcome::Completed | RunOutcome::NotModified)
            && self.summary.failed == 0
            && self.summary.deferred == 0
            && self.summary.held_closes == 0
    }
}

/// At most this many failures and warnings are kept in a run record (a DynamoDB item is ≤ 400 KB).
pub const MAX_RECORDED: usize = 50;
