//! The delivery record that makes "nothing lost" true: each delivery as received (raw body
//! kept), its status, and how long a finished one is kept.
use serde::{Deserialize, Serialize};

use crate::domain::ids::ConnectionId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Recorded; being processed (or its processor crashed: the claim's lease says which).
    Received,
    Completed,
    /// Will not succeed as it is (unknown job, no contact details, closed posting, Lever 4xx):
    /// kept with the reason; an operator can replay it.
    Failed,
    /// Signed, but not the contract's shape: kept raw.
    Rejected,
    /// Lever or AWS was unavailable: retried (by XOR, and by the scheduled function).
    Pending,
    /// The Lever app was revoked: replayed after reconnecting.
    PendingReauth,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 6] =
        [Self::Received, Self::Completed, Self::Failed, Self::Rejected, Self::Pending, Self::PendingReauth];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
            Self::Pending => "pending",
            Self::PendingReauth => "pending_reauth",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
    /// Finished: a duplicate delivery is answered from the record.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Rejected)
    }
}

/// One webhook delivery as received (raw body kept), and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub connection: ConnectionId,
    pub webhook_id: String,
    pub received_at_ms: i64,
    pub status: DeliveryStatus,
    pub event_type: Option<String>,
    /// `candidate_id#job_id` for screenings.
    pub natural_key: Option<String>,
    /// The raw body, exactly as signed: bytes, never made text (a body that is not UTF-8 would
    /// grow threefold and lose what was signed). In JSON documents: a string when it is UTF-8,
    /// else `{"base64": …}` (`raw_body`); in DynamoDB: a Binary attribute.
    #[serde(with = "raw_body")]
    pub body: Vec<u8>,
    pub opportunity_id: Option<String>,
    /// Where a recruiter opens it, as Lever gave it on the create (`urls.show`); absent on
    /// records from before, and on an adopted opportunity (then built from the id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opportunity_url: Option<String>,
    pub reason: Option<String>,
    pub attempts: u32,
    pub updated_at_ms: i64,
    /// When a finished delivery may be deleted (Unix seconds; DynamoDB's TTL attribute). Waiting
    /// deliveries never expire: `None`.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// A raw body in a JSON document: the text itself when it is UTF-8 (readable, and what earlier
/// builds wrote), else its base64 under `base64`.
mod raw_body {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Bytes { base64: String },
    }

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(b) {
            Ok(t) => Repr::Text(t.to_owned()),
            Err(_) => Repr::Bytes { base64: B64.encode(b) },
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Text(t) => Ok(t.into_bytes()),
            Repr::Bytes { base64 } => B64.decode(base64).map_err(serde::de::Error::custom),
        }
    }
}

/// Finished deliveries are kept this long unless the deployment says otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// A finished screening's raw body (the candidate's personal data) is kept this long unless the
/// deployment says otherwise; the record (ids, status) keeps its own retention.
pub const DEFAULT_BODY_RETENTION_DAYS: u32 = 30;

impl Delivery {
    /// Moves the delivery to `status` at `now_ms`: a finished one (completed, failed, rejected)
    /// expires `retention_days` later; one that still waits (received, pending, pending_reauth)
    /// never does.
    pub fn set_status(&mut self, status: DeliveryStatus, now_ms: i64, retention_days: u32) {
        self.status = status;
        self.updated_at_ms = now_ms;
        self.expires_at = status.is_final().then(|| now_ms / 1000 + i64::from(retention_days) * 24 * 3600);
    }

    /// Where a listing that ended with this delivery resumes.
    pub fn cursor(&self) -> DeliveryCursor {
        DeliveryCursor { received_at_ms: self.received_at_ms, webhook_id: self.webhook_id.clone() }
    }
}

/// A position in one connection's deliveries of one status, newest first: the listing resumes
/// with the deliveries older than this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryCursor {
    pub received_at_ms: i64,
    pub webhook_id: String,
}

/// One page of a listing; `next` is where the following page starts (`None`: no more).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    pub next: Option<DeliveryCursor>,
}

impl DeliveryPage {
    /// A page of `limit` from `items` read one past the limit, in page order: a cursor only when
    /// there was more.
    pub fn from_one_more(mut items: Vec<Delivery>, limit: usize) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more { items.last().map(Delivery::cursor) } else { None };
        Self { items, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_deliveries_expire_and_waiting_ones_never_do() {
        let mut d = Delivery {
            connection: ConnectionId::parse("acme").unwrap(),
            webhook_id: "m".into(),
            received_at_ms: 0,
            status: DeliveryStatus::Received,
            event_type: None,
            natural_key: None,
            body: Vec::new(),
            opportunity_id: None,
            opportunity_url: None,
            reason: None,
            attempts: 0,
            updated_at_ms: 0,
            expires_at: None,
        };
        for (st, expires) in [
            (DeliveryStatus::Pending, None),
            (DeliveryStatus::PendingReauth, None),
            (DeliveryStatus::Received, None),
            (DeliveryStatus::Completed, Some(1_000 + 90 * 86_400)),
            (DeliveryStatus::Failed, Some(1_000 + 90 * 86_400)),
            (DeliveryStatus::Rejected, Some(1_000 + 90 * 86_400)),
            (DeliveryStatus::Pending, None),
        ] {
            d.set_status(st, 1_000_000, 90);
            assert_eq!(d.expires_at, expires, "{st:?}");
        }
    }
}
