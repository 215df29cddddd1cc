//! XOR's "screening passed" webhook (docs/xor-contract.md §2): the signature, the event's
//! validated shape, the delivery record, and the claim that makes "exactly once" true.
pub mod claim;
pub mod delivery;
pub mod event;
pub mod signature;

pub use claim::{Claim, ClaimEnd, ClaimRecord, decide_claim, end_claim_record, lease_available};
pub use delivery::{
    DEFAULT_BODY_RETENTION_DAYS, DEFAULT_RETENTION_DAYS, Delivery, DeliveryCursor, DeliveryPage, DeliveryStatus,
};
pub use event::{
    Answer, Candidate, Event, EventError, SCREENING_PASSED, Screening, ScreeningPassed, parse_event, redact_email,
};
pub use signature::{MAX_BODY_BYTES, SignatureError, SignedParts, TOLERANCE_SECS, WebhookSecret, precheck, verify};
