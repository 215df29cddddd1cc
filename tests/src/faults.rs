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
    /// Do the work, then answer with `status` (a lost answer: the write happened); with
    /// `hang_ms` and no `status` (Lever's create), the normal answer held that long instead.
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
pub struct Faults {
    queue: VecDeque<Fault>,
    random: Option<Random>,
}

/// Faults drawn at random: each request fails with probability `rate`, with one of `kinds`
/// (seeded: a failing seed is replayed exactly).
#[derive(Debug)]
struct Random {
    rate: f64,
    rng: fastrand::Rng,
    kinds: Vec<Fault>,
}

impl Faults {
    pub fn extend(&mut self, faults: impl IntoIterator<Item = Fault>) {
        self.queue.extend(faults);
    }

    /// From now on, every request fails with probability `rate` with one of `kinds`, drawn from
    /// `seed`. A kind that applies later in the request (a lost answer after the work, a delay)
    /// is queued for that request's operation.
    pub fn random(&mut self, rate: f64, seed: u64, kinds: Vec<Fault>) {
        self.random = Some(Random { rate, rng: fastrand::Rng::with_seed(seed), kinds });
    }

    /// The first queued fault for `op` that applies at `stage`, taken; else, before the work, a
    /// random one when drawing is on.
    pub fn take(&mut self, op: &str, stage: Stage) -> Option<Fault> {
        if let Some(i) = self.queue.iter().position(|f| f.stage() == stage && f.op.as_deref().is_none_or(|o| o == op)) {
            return self.queue.remove(i);
        }
        let r = self.random.as_mut().filter(|_| stage == Stage::Before)?;
        if r.kinds.is_empty() || r.rng.f64() >= r.rate {
            return None;
        }
        let k = r.rng.usize(..r.kinds.len());
        let mut f = r.kinds[k].clone();
        if f.stage() == Stage::Before {
            return Some(f);
        }
        f.op = Some(op.to_owned());
        self.queue.push_front(f);
        None
    }
}
