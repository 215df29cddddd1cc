//! The per-screening claim (the idempotency record, after AWS Powertools) and the lease rule,
//! shared by the stores that apply them under a lock; DynamoDB states them as conditions.
use serde::{Deserialize, Serialize};

/// The result of trying to take the per-screening lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Ours. `attempt` counts every claim of this screening: above 1, a previous attempt may
    /// have created the opportunity before it crashed, so look before creating.
    Acquired { attempt: u32 },
    /// Already done (by this delivery or another of the same screening).
    Done { opportunity_id: String },
    /// Another live attempt holds it until this time (Unix ms).
    Busy { until_ms: i64 },
}

/// How a claim ends: done with an opportunity, or released for a later attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimEnd {
    Done { opportunity_id: String },
    Release,
}

/// The stored state of a screening's claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecord {
    /// A unique token of the attempt holding (or last holding) the claim.
    pub owner: String,
    pub lease_until_ms: i64,
    pub attempts: u32,
    pub opportunity_id: Option<String>,
}

/// The claim rule, shared by the stores that apply it under a lock (memory, SQLite); DynamoDB
/// states the same rule as a condition expression. Returns the answer and the state to write.
pub fn decide_claim(
    existing: Option<&ClaimRecord>,
    owner: &str,
    now_ms: i64,
    until_ms: i64,
) -> (Claim, Option<ClaimRecord>) {
    match existing {
        Some(r) if r.opportunity_id.is_some() => {
            (Claim::Done { opportunity_id: r.opportunity_id.clone().unwrap_or_default() }, None)
        }
        Some(r) if r.lease_until_ms > now_ms => (Claim::Busy { until_ms: r.lease_until_ms }, None),
        other => {
            let attempts = other.map_or(0, |r| r.attempts) + 1;
            let rec = ClaimRecord { owner: owner.into(), lease_until_ms: until_ms, attempts, opportunity_id: None };
            (Claim::Acquired { attempt: attempts }, Some(rec))
        }
    }
}

/// Applies a claim's end to its record (only the owner's end counts).
pub fn end_claim_record(r: &mut ClaimRecord, owner: &str, end: &ClaimEnd) {
    if r.owner != owner {
        return;
    }
    r.lease_until_ms = 0;
    if let ClaimEnd::Done { opportunity_id } = end {
        r.opportunity_id = Some(opportunity_id.clone());
    }
}

/// The lease rule: free, expired, or already `owner`'s.
pub fn lease_available(existing: Option<(&str, i64)>, owner: &str, now_ms: i64) -> bool {
    existing.is_none_or(|(o, until)| o == owner || until <= now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_rules() {
        let (c, rec) = decide_claim(None, "a", 100, 200);
        assert_eq!(c, Claim::Acquired { attempt: 1 });
        let mut rec = rec.unwrap();
        assert_eq!(decide_claim(Some(&rec), "b", 150, 250).0, Claim::Busy { until_ms: 200 });
        let (c, taken) = decide_claim(Some(&rec), "b", 201, 300);
        assert_eq!(c, Claim::Acquired { attempt: 2 }, "an expired lease is taken over");
        end_claim_record(&mut rec, "a", &ClaimEnd::Done { opportunity_id: "o1".into() });
        assert_eq!(decide_claim(Some(&rec), "c", 0, 1).0, Claim::Done { opportunity_id: "o1".into() });
        let mut taken = taken.unwrap();
        end_claim_record(&mut taken, "a", &ClaimEnd::Release);
        assert_eq!(taken.lease_until_ms, 300, "a stale owner cannot end a claim it lost");
    }
}
