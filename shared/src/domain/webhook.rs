//! XOR's "screening passed" webhook (docs/xor-contract.md §2): the Standard Webhooks signature, the event's
//! validated shape, and the delivery record that makes "nothing lost" true.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::ids::ConnectionId;

pub const SCREENING_PASSED: &str = "candidate.screening_passed";
/// Standard Webhooks' tolerance for the `webhook-timestamp` header, both ways.
pub const TOLERANCE_SECS: i64 = 5 * 60;
/// The largest body we read (a screening with a long transcript summary fits many times over).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not a Unix time")]
    BadTimestamp,
    #[error("webhook-timestamp is {0} s away from now, beyond the ±300 s tolerance")]
    Stale(i64),
    #[error("no v1 signature matches")]
    NoMatch,
    #[error("the connection has no usable webhook secret")]
    NoSecret,
}

/// A `whsec_…` secret, decoded. Its bytes are never printed.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl WebhookSecret {
    pub fn parse(s: &str) -> Option<Self> {
        let b64 = s.trim().strip_prefix("whsec_").unwrap_or(s.trim());
        B64.decode(b64).ok().filter(|k| !k.is_empty()).map(Self)
    }

    /// `v1,<base64>` for these parts (what XOR, and our tests and `dev`, send).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", B64.encode(self.mac(id, timestamp, body).finalize().into_bytes()))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The usable secrets of a stored `webhook-secret` value: whitespace-separated entries, each
    /// `whsec_…`, optionally `;until=<unix seconds>` (the old secret during a rotation's grace).
    pub fn parse_list(stored: &str, now_s: i64) -> Vec<Self> {
        stored
            .split_whitespace()
            .filter_map(|entry| {
                let (secret, until) = match entry.split_once(";until=") {
                    Some((s, u)) => (s, u.parse::<i64>().ok()?),
                    None => (entry, i64::MAX),
                };
                (until > now_s).then(|| Self::parse(secret)).flatten()
            })
            .collect()
    }

    /// `key` in the `whsec_` form. Fresh secrets come from [`crate::random::webhook_secret`]
    /// (the OS CSPRNG; the domain does no I/O).
    pub fn encode(key: &[u8]) -> String {
        format!("whsec_{}", B64.encode(key))
    }
}

/// Verifies a delivery: any one `v1` signature made with any one of `secrets` (rotation) over
/// the raw body, within the tolerance of `now` (seconds; injected for tests).
pub fn verify(
    secrets: &[WebhookSecret],
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let id = id.filter(|s| !s.is_empty()).ok_or(SignatureError::MissingHeader("webhook-id"))?;
    let ts = timestamp.ok_or(SignatureError::MissingHeader("webhook-timestamp"))?;
    let signature = signature.ok_or(SignatureError::MissingHeader("webhook-signature"))?;
    let ts: i64 = ts.trim().parse().map_err(|_| SignatureError::BadTimestamp)?;
    if (now - ts).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale(now - ts));
    }
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let candidates: Vec<Vec<u8>> =
        signature.split_whitespace().filter_map(|s| s.strip_prefix("v1,")).filter_map(|b| B64.decode(b).ok()).collect();
    for secret in secrets {
        for sig in &candidates {
            // `verify_slice` compares in constant time.
            if secret.mac(id, ts, body).verify_slice(sig).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::NoMatch)
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub location: Option<String>,
    pub linkedin_url: Option<String>,
    pub resume_url: Option<String>,
}

impl Candidate {
    pub fn full_name(&self) -> String {
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() { "Unnamed candidate".into() } else { parts.join(" ") }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub question: Option<String>,
    pub answer: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Screening {
    pub passed: Option<bool>,
    pub score: Option<f64>,
    pub completed_at: Option<String>,
    pub summary: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub answers: Vec<Answer>,
    pub transcript_url: Option<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// The `data` of a screening-passed event, validated: ids present, every other field optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScreeningPassed {
    pub candidate_id: String,
    pub job_id: String,
    pub external_job_id: Option<String>,
    #[serde(default)]
    pub candidate: Candidate,
    #[serde(default)]
    pub screening: Screening,
    pub chatbot_url: Option<String>,
}

impl ScreeningPassed {
    /// Two deliveries of the same screening (even under two webhook ids) share this key, so
    /// they make one opportunity.
    pub fn natural_key(&self) -> String {
        format!("{}#{}", self.candidate_id, self.job_id)
    }
}

/// What a (signed) body turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    ScreeningPassed(Box<ScreeningPassed>),
    /// Another event type: acknowledged, not acted on.
    Other(String),
}

/// Parses a signed body. The error says where the body is wrong (field path, line and column)
/// and what was expected, never the value found there: the answer to XOR, the delivery record
/// and the logs all carry it, and the value may be a candidate's email or phone.
pub fn parse_event(body: &[u8]) -> Result<Event, String> {
    #[derive(Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: String,
    }
    #[derive(Deserialize)]
    struct Full {
        data: Option<ScreeningPassed>,
    }
    let kind: Kind = parse_at(body)?;
    if kind.kind != SCREENING_PASSED {
        // An event type is XOR's vocabulary, not candidate data; capped so a log line stays short.
        return Ok(Event::Other(kind.kind.chars().take(64).collect()));
    }
    let s = parse_at::<Full>(body)?.data.ok_or("`data` is missing")?;
    if s.candidate_id.trim().is_empty() || s.job_id.trim().is_empty() {
        return Err("`data.candidate_id` and `data.job_id` must not be empty".into());
    }
    if s.candidate_id.contains('#') || s.job_id.contains('#') {
        return Err("ids must not contain '#'".into());
    }
    Ok(Event::ScreeningPassed(Box::new(s)))
}

fn parse_at<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| describe_json_error(&e.path().to_string(), e.inner()))
}

/// `serde_json`'s messages quote the offending value (`invalid type: string "ada@…"`): keep
/// only our side of it — the field path, what was expected, and where.
fn describe_json_error(path: &str, e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("(line {}, column {})", e.line(), e.column());
    let msg = e.to_string();
    let expected = || {
        // The last one: a quoted value (before it) may itself contain ", expected ".
        msg.rsplit_once(", expected ")
            .map(|(_, rest)| rest.rsplit_once(" at line ").map_or(rest, |(x, _)| x).to_owned())
    };
    match e.classify() {
        Category::Syntax => format!("the body is not valid JSON {at}"),
        Category::Eof => format!("the body ends before its JSON does {at}"),
        Category::Io => format!("the body could not be read {at}"),
        Category::Data => {
            let place = if path == "." { "the body".to_owned() } else { format!("`{path}`") };
            if let Some(field) = msg.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
                format!("{place} is missing the field `{field}` {at}")
            } else if let Some(expected) = expected() {
                format!("{place} has a value of the wrong type or form: expected {expected} {at}")
            } else {
                format!("{place} is not the webhook's shape {at}")
            }
        }
    }
}

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
    /// The raw body, exactly as signed (UTF-8 lossless: the body was JSON).
    pub body: String,
    pub opportunity_id: Option<String>,
    pub reason: Option<String>,
    pub attempts: u32,
    pub updated_at_ms: i64,
    /// When a finished delivery may be deleted (Unix seconds; DynamoDB's TTL attribute). Waiting
    /// deliveries never expire: `None`.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// Finished deliveries are kept this long unless the deployment says otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

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

/// Redacts an email for logs: `a***@example.com`.
pub fn redact_email(e: &str) -> String {
    match e.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_redacted() {
        assert_eq!(redact_email("ada@example.com"), "a***@example.com");
        assert_eq!(redact_email("nope"), "***");
    }

    #[test]
    fn finished_deliveries_expire_and_waiting_ones_never_do() {
        let mut d = Delivery {
            connection: ConnectionId::parse("acme").unwrap(),
            webhook_id: "m".into(),
            received_at_ms: 0,
            status: DeliveryStatus::Received,
            event_type: None,
            natural_key: None,
            body: String::new(),
            opportunity_id: None,
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

    #[test]
    fn events_are_validated() {
        assert!(
            matches!(parse_event(br#"{"type":"candidate.created","data":{}}"#), Ok(Event::Other(t)) if t == "candidate.created")
        );
        assert!(parse_event(b"not json").unwrap_err().contains("JSON"));
        assert!(parse_event(br#"{"type":"candidate.screening_passed","data":{"job_id":"j"}}"#).is_err());
        let ok = br#"{"type":"candidate.screening_passed","data":{"candidate_id":"c1","job_id":"j1","candidate":{"email":null},"screening":{"answers":null}}}"#;
        match parse_event(ok).unwrap() {
            Event::ScreeningPassed(s) => assert_eq!(s.natural_key(), "c1#j1"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn a_refused_body_is_described_by_place_never_by_value() {
        let body = br#"{"type":"candidate.screening_passed",
"data":{"candidate_id":"c1","job_id":"j1","candidate":{"email":"ada@example.com"},
"screening":{"passed":"ada@example.com"}}}"#;
        let reason = parse_event(body).unwrap_err();
        assert!(reason.contains("`data.screening.passed`") && reason.contains("line 3"), "{reason}");
        assert!(reason.contains("expected a boolean"), "{reason}");
        assert!(!reason.contains("ada"), "the value leaked: {reason}");
        let missing = parse_event(br#"{"type":"candidate.screening_passed","data":{"job_id":"ada@x.io"}}"#);
        let reason = missing.unwrap_err();
        assert!(reason.contains("missing the field `candidate_id`") && !reason.contains("ada"), "{reason}");
        let syntax = parse_event(b"{\"type\": \"candidate.screening_passed\", \"data\": {\"candidate_id\": ada}}");
        assert!(syntax.unwrap_err().contains("not valid JSON (line 1"));
    }
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
mod claim_tests {
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

#[cfg(test)]
mod signature_tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secrets(list: &[&str]) -> Vec<WebhookSecret> {
        list.iter().map(|s| WebhookSecret::parse(s).unwrap()).collect()
    }
    fn check(s: &[WebhookSecret], sig: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
        verify(s, Some(ID), Some(&TS.to_string()), Some(sig), body, now)
    }

    #[test]
    fn the_specs_published_test_vector() {
        let s = WebhookSecret::parse(SECRET).unwrap();
        assert_eq!(s.sign(ID, TS, BODY), SIG);
        assert_eq!(check(&[s], SIG, BODY, TS), Ok(()));
    }

    #[test]
    fn rotation_any_secret_and_any_signature() {
        let other = crate::random::webhook_secret();
        // Two secrets configured (old and new), the delivery signed with the old one.
        assert_eq!(check(&secrets(&[&other, SECRET]), SIG, BODY, TS), Ok(()));
        // XOR sends two signatures (one per secret it holds): one valid is enough.
        let two = format!("v1,{} {SIG}", "A".repeat(44));
        assert_eq!(check(&secrets(&[SECRET]), &two, BODY, TS), Ok(()));
    }

    #[test]
    fn a_rotated_out_secret_works_until_its_grace_ends() {
        let stored = format!("{} {SECRET};until={}", crate::random::webhook_secret(), TS + 60);
        assert_eq!(check(&WebhookSecret::parse_list(&stored, TS), SIG, BODY, TS), Ok(()));
        assert_eq!(
            check(&WebhookSecret::parse_list(&stored, TS + 61), SIG, BODY, TS + 61),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn refusals() {
        let s = secrets(&[SECRET]);
        assert_eq!(
            check(&secrets(&[&crate::random::webhook_secret()]), SIG, BODY, TS),
            Err(SignatureError::NoMatch),
            "wrong secret"
        );
        assert_eq!(check(&s, SIG, br#"{"test": 2432232315}"#, TS), Err(SignatureError::NoMatch), "tampered body");
        assert_eq!(check(&s, SIG, BODY, TS + 301), Err(SignatureError::Stale(301)), "stale");
        assert_eq!(check(&s, SIG, BODY, TS - 301), Err(SignatureError::Stale(-301)), "future");
        assert_eq!(check(&s, SIG, BODY, TS + 300), Ok(()), "inside the tolerance");
        assert_eq!(check(&s, "v2,abc", BODY, TS), Err(SignatureError::NoMatch), "unknown scheme");
        assert_eq!(verify(&s, None, Some("1"), Some(SIG), BODY, TS), Err(SignatureError::MissingHeader("webhook-id")));
        assert_eq!(
            verify(&s, Some(ID), None, Some(SIG), BODY, TS),
            Err(SignatureError::MissingHeader("webhook-timestamp"))
        );
        assert_eq!(
            verify(&s, Some(ID), Some("1"), None, BODY, TS),
            Err(SignatureError::MissingHeader("webhook-signature"))
        );
        assert_eq!(verify(&s, Some(ID), Some("soon"), Some(SIG), BODY, TS), Err(SignatureError::BadTimestamp));
        assert_eq!(check(&[], SIG, BODY, TS), Err(SignatureError::NoSecret));
    }
}
