//! One fault injector for both sandboxes (XOR and Lever): a queue of faults, each taken once by
//! the first request of its operation (any operation when `op` is absent).
use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Fault {
    /// Answer with this status (a 429 gets `Retry-After: retry_after` when set).
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Only for this operation (each sandbox names its own: `create`, `posting`, `token`, …).
    #[serde(default)]
    pub op: Option<String>,
    /// With no `status`: the request is held this long, then served normally (a slow API).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Do the work, then hold the response this long: to a client with a shorter timeout the
    /// response is lost although the write happened.
    #[serde(default)]
    pub hang_ms: Option<u64>,
    /// Do the work, then answer with `status` (a lost answer: the write happened).
    #[serde(default)]
    pub after_processing: bool,
}

/// When in a request a fault applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before the work: an error answer, or a hang planned for after it.
    Before,
    /// Before the work, holding the request (`delay_ms`).
    Delay,
    /// After the work (`after_processing`).
    After,
}

impl Fault {
    fn stage(&self) -> Stage {
        if self.after_processing {
            Stage::After
        } else if self.delay_ms.is_some() && self.status.is_none() {
            Stage::Delay
        } else {
            Stage::Before
        }
    }
}

#[derive(Debug, Default)]
pub struct Faults(VecDeque<Fault>);

impl Faults {
    pub fn extend(&mut self, faults: impl IntoIterator<Item = Fault>) {
        self.0.extend(faults);
    }

    /// The first queued fault for `op` that applies at `stage`, taken.
    pub fn take(&mut self, op: &str, stage: Stage) -> Option<Fault> {
        let i = self.0.iter().position(|f| f.stage() == stage && f.op.as_deref().is_none_or(|o| o == op))?;
        self.0.remove(i)
    }
}
