//! The sync's fan-out: one message per connection, on a queue (SQS when deployed, an in-process
//! queue locally). The schedule's dispatcher sends a turn for every connected connection; a
//! worker takes one turn at a time: it replays the connection's waiting deliveries and syncs its
//! feed, and a turn that runs out of time sends its continuation.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::ConnectionId;

/// Why a turn was sent (kept in the message, logged by the worker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TurnReason {
    /// The schedule's dispatcher.
    #[default]
    Schedule,
    /// The previous invocation of this sync ran out of time with work left.
    Continue,
    /// An operator asked (`xor-lever sync --connection`, the function invoked by hand).
    Operator,
    /// The connection was just connected: its first sync.
    Connected,
}

/// One connection's turn: the message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncTurn {
    pub connection: ConnectionId,
    #[serde(default)]
    pub reason: TurnReason,
    /// Let the mass-close guard through and fetch the feed in full (an operator's `--force`).
    #[serde(default)]
    pub force: bool,
    /// Which invocation of this sync the turn is: 1, then 2, 3… for its continuations.
    #[serde(default = "first")]
    pub invocation: u32,
    /// How many times this turn found its connection busy and was sent again.
    #[serde(default)]
    pub waited: u32,
}

fn first() -> u32 {
    1
}

impl SyncTurn {
    pub fn new(connection: ConnectionId, reason: TurnReason) -> Self {
        Self { connection, reason, force: false, invocation: 1, waited: 0 }
    }

    /// The turn that carries on where this one stopped.
    pub fn continuation(&self) -> Self {
        Self { reason: TurnReason::Continue, invocation: self.invocation + 1, waited: 0, ..self.clone() }
    }

    /// Whether a turn that finds its connection busy must come back rather than be dropped: the
    /// schedule's own turn is redundant with the sync already running (and with the next tick),
    /// but an operator's (perhaps forced), a first sync's or a continuation's is not.
    pub fn must_wait_when_busy(&self) -> bool {
        (self.reason != TurnReason::Schedule || self.force) && self.waited < MAX_WAITS
    }

    /// The same turn, sent again after its connection was busy.
    pub fn after_wait(&self) -> Self {
        Self { waited: self.waited + 1, ..self.clone() }
    }
}

/// A continuation waits this long before it is delivered: long enough for the invocation that
/// sent it to end (and release the connection's lease), short enough to keep XOR's pace.
pub const CONTINUE_DELAY_SECS: u32 = 5;

/// A turn that must wait for its connection comes back after this long, at most MAX_WAITS times
/// (20 minutes, past the longest invocation), then leaves the rest to the next schedule.
pub const BUSY_DELAY_SECS: u32 = 60;
pub const MAX_WAITS: u32 = 20;

/// At most this many invocations of one sync: a feed that never finishes (XOR always failing
/// the same jobs, a clock gone wrong) stops continuing and waits for the next schedule.
pub const MAX_INVOCATIONS: u32 = 50;

/// Some turns were not sent even after a retry (the queue unreachable, or refusing them): these
/// connections wait for the next tick. The adapter sends every batch it can before saying so.
#[derive(Debug, thiserror::Error)]
#[error("the sync queue did not take {} turn(s): {reason}", .connections.len())]
pub struct QueueError {
    pub connections: Vec<ConnectionId>,
    pub reason: String,
}

/// Where turns are sent.
#[async_trait]
pub trait SyncQueue: Send + Sync {
    /// Sends every turn (the adapter batches them), each delivered after `delay_secs`.
    async fn send(&self, turns: &[SyncTurn], delay_secs: u32) -> Result<(), QueueError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_from_an_older_sender_reads_with_defaults_and_continues_counting() {
        let t: SyncTurn = serde_json::from_str(r#"{"connection":"acme"}"#).unwrap();
        assert_eq!(t, SyncTurn::new(ConnectionId::parse("acme").unwrap(), TurnReason::Schedule));
        let next = t.continuation().continuation();
        assert_eq!((next.invocation, next.reason), (3, TurnReason::Continue));
        assert!(!t.must_wait_when_busy(), "the schedule's turn is redundant with the running sync");
        assert!(next.must_wait_when_busy() && SyncTurn { force: true, ..t.clone() }.must_wait_when_busy());
        let mut w = next.clone();
        for _ in 0..MAX_WAITS {
            w = w.after_wait();
        }
        assert!(!w.must_wait_when_busy(), "waits are bounded");
        assert!(serde_json::from_str::<SyncTurn>(r#"{"connection":"Not An Id!"}"#).is_err());
    }
}
