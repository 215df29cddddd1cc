//! A webhook delivery from Lever (Lever's reference, "Webhooks" and "Securing webhooks";
//! docs/lever-facts.md, third pass): `{id, event, triggeredAt, token, signature, data}`, where
//! `signature` is the hex HMAC-SHA256, keyed with the webhook's `signatureToken`, of `token`
//! followed by `triggeredAt`. The signature does **not** cover `data`: a captured delivery could
//! be sent again with another `data`. So a delivery is believed only as far as this module says
//! (it is Lever's, it is recent, its token is new), and its facts are read from Lever before
//! anything is done with them.
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::domain::SecretString;

/// The events the product subscribes to (`POST /webhooks`, one webhook per event).
pub const EVENTS: [&str; 4] = ["candidateStageChange", "candidateHired", "candidateArchiveChange", "candidateDeleted"];

/// How far `triggeredAt` may be from now. Lever retries a delivery that was not answered 2xx
/// five times "with growing waits" (the schedule is UNCONFIRMED); a retry keeps its
/// `triggeredAt`, so the window must outlast them, and every token seen inside it is remembered
/// (a replay within the window is caught by its token, one after it by its age).
pub const FRESHNESS_MS: i64 = 6 * 60 * 60 * 1000;
/// A clock ahead of ours by more than this is not Lever's.
pub const FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;

/// One delivery as Lever sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LeverDelivery {
    /// The event's id.
    pub id: String,
    pub event: String,
    /// Unix ms.
    #[serde(rename = "triggeredAt")]
    pub triggered_at: i64,
    /// 48 random characters, new for each event (a retry sends the same).
    pub token: String,
    pub signature: String,
    #[serde(default)]
    pub data: LeverEventData,
}

/// What an event says happened (unsigned: only ever a hint of what to read from Lever).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeverEventData {
    pub opportunity_id: Option<String>,
    pub candidate_id: Option<String>,
    pub contact_id: Option<String>,
    pub to_stage_id: Option<String>,
    pub from_stage_id: Option<String>,
    pub to_archived: Option<serde_json::Value>,
    pub from_archived: Option<serde_json::Value>,
}

/// Why a delivery is not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeverDeliveryError {
    /// Not the JSON Lever sends: where, and what was expected (never a value).
    #[error("not a Lever webhook delivery: {0}")]
    Malformed(String),
    #[error("the signature does not match the webhook's signature token")]
    BadSignature,
    #[error("triggeredAt is {age_s} s old, older than the {window_s} s a delivery is believed")]
    Stale { age_s: i64, window_s: i64 },
    #[error("triggeredAt is {ahead_s} s ahead of our clock")]
    FromTheFuture { ahead_s: i64 },
}

impl LeverDelivery {
    /// Parses a body; the error names the place, never the value found.
    pub fn parse(body: &[u8]) -> Result<Self, LeverDeliveryError> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let d: Self = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let at = format!("line {}, column {}", e.inner().line(), e.inner().column());
            let path = e.path().to_string();
            LeverDeliveryError::Malformed(if path == "." { at } else { format!("`{path}` ({at})") })
        })?;
        // The token becomes part of a store key: Lever's are 48 letters and digits.
        let token_ok = (16..=128).contains(&d.token.len()) && d.token.bytes().all(|b| b.is_ascii_alphanumeric());
        if !token_ok {
            return Err(LeverDeliveryError::Malformed("`token` is not 16 to 128 letters and digits".into()));
        }
        Ok(d)
    }

    /// Whether `signature` is the HMAC of `token` and `triggeredAt` under one of the webhook's
    /// signature tokens (the current one, and the previous one while a re-registration settles):
    /// one MAC per token, compared in constant time.
    pub fn is_signed_by<'a>(&self, signature_tokens: impl IntoIterator<Item = &'a SecretString>) -> bool {
        let Ok(given) = hex::decode(self.signature.trim()) else { return false };
        signature_tokens.into_iter().any(|key| mac(key, &self.token, self.triggered_at).verify_slice(&given).is_ok())
    }

    /// Whether `triggeredAt` is recent enough, at `now_ms`.
    pub fn is_fresh(&self, now_ms: i64) -> Result<(), LeverDeliveryError> {
        // A value no clock gives (an overflow) is as far from now as can be.
        let age = now_ms.checked_sub(self.triggered_at).filter(|a| *a != i64::MIN).unwrap_or(i64::MAX);
        if age > FRESHNESS_MS {
            return Err(LeverDeliveryError::Stale { age_s: age / 1000, window_s: FRESHNESS_MS / 1000 });
        }
        if -age > FUTURE_SKEW_MS {
            return Err(LeverDeliveryError::FromTheFuture { ahead_s: -age / 1000 });
        }
        Ok(())
    }

    /// Signed, recent: what can be believed of a delivery before Lever is asked.
    pub fn check(&self, signature_tokens: &[SecretString], now_ms: i64) -> Result<(), LeverDeliveryError> {
        if !self.is_signed_by(signature_tokens) {
            return Err(LeverDeliveryError::BadSignature);
        }
        self.is_fresh(now_ms)
    }
}

fn mac(key: &SecretString, token: &str, triggered_at: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(token.as_bytes());
    mac.update(triggered_at.to_string().as_bytes());
    mac
}

/// The signature Lever sends for `token` and `triggered_at` under `signature_token` (the Lever
/// sandbox signs its deliveries with it).
pub fn lever_signature(signature_token: &SecretString, token: &str, triggered_at: i64) -> String {
    hex::encode(mac(signature_token, token, triggered_at).finalize().into_bytes())
}

/// What an event comes to once Lever has been asked how the opportunity is now: only what
/// Lever shows is ever sent on (the event's `data` is not signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// Tell XOR.
    Send(CandidateOutcome),
    /// Lever no longer has the opportunity, and the event says it was deleted: erase what the
    /// product holds about the candidate, then tell XOR.
    Erase,
    /// Lever does not show what the event says (it moved on since, or the event is not about
    /// this state): nothing is sent, and why is recorded.
    Nothing(String),
    /// A deletion Lever does not confirm (the opportunity is still there): refused, kept for an
    /// operator to see (a forged `data`, or a deletion Lever undid).
    Refused(String),
}

/// An outcome as XOR is told it (docs/xor-contract.md §3), with what identifies the state in
/// Lever (the idempotency key is built from it, so the same state is one event at XOR however
/// many deliveries, retries or replays report it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandidateOutcome {
    StageChanged {
        stage_id: String,
    },
    /// `archived_at`: when Lever archived it for the hired reason.
    Hired {
        archived_at: Option<i64>,
    },
    Archived {
        reason_id: Option<String>,
        archived_at: Option<i64>,
    },
    Unarchived,
    Deleted,
}

impl CandidateOutcome {
    /// XOR's name of the event.
    pub fn name(&self) -> &'static str {
        match self {
            Self::StageChanged { .. } => "stage_changed",
            Self::Hired { .. } => "hired",
            Self::Archived { .. } => "archived",
            Self::Unarchived => "unarchived",
            Self::Deleted => "deleted",
        }
    }

    /// What makes this outcome one event at XOR: the state, and when Lever reached it (Lever's
    /// archive time when it has one, else the event's `triggeredAt`).
    pub fn state_key(&self, triggered_at: i64) -> String {
        match self {
            Self::StageChanged { stage_id } => format!("stage:{stage_id}:{triggered_at}"),
            Self::Hired { archived_at } => format!("hired:{}", archived_at.unwrap_or(triggered_at)),
            Self::Archived { archived_at, .. } => format!("archived:{}", archived_at.unwrap_or(triggered_at)),
            Self::Unarchived => format!("unarchived:{triggered_at}"),
            Self::Deleted => "deleted".into(),
        }
    }
}

/// What `event` (with its unsigned `data`) comes to, given the opportunity as Lever shows it
/// now (`None`: Lever no longer has it) and whether an archive reason is a hire. Only a state
/// Lever shows *and* the event claims is sent: a replayed delivery with another `data` can at
/// most repeat a true state, which the idempotency key makes one event at XOR.
pub fn confirm(
    event: &str,
    data: &LeverEventData,
    now: Option<&crate::domain::ats::Opportunity>,
    is_hire: impl Fn(&str) -> bool,
) -> Confirmed {
    let Some(o) = now else {
        return if event == "candidateDeleted" {
            Confirmed::Erase
        } else {
            Confirmed::Nothing("Lever no longer has the opportunity (its deletion comes as its own event)".into())
        };
    };
    let archived_at = o.archived.as_ref().and_then(|a| a.archived_at);
    let reason = o.archived.as_ref().and_then(|a| a.reason.clone());
    let hired = reason.as_deref().is_some_and(&is_hire);
    match event {
        "candidateDeleted" => Confirmed::Refused("Lever still has the opportunity: nothing was erased".into()),
        "candidateStageChange" => match (&o.stage, &data.to_stage_id) {
            (Some(now), Some(to)) if now == to => {
                Confirmed::Send(CandidateOutcome::StageChanged { stage_id: now.clone() })
            }
            (Some(now), _) => {
                Confirmed::Nothing(format!("Lever shows another stage now ({now}): a later event carries it"))
            }
            (None, _) => Confirmed::Nothing("Lever shows no stage".into()),
        },
        "candidateHired" if hired => Confirmed::Send(CandidateOutcome::Hired { archived_at }),
        "candidateHired" => Confirmed::Nothing("Lever does not show the candidate hired".into()),
        "candidateArchiveChange" => archive_change(data, o.archived.is_some(), reason, archived_at, hired),
        other => Confirmed::Nothing(format!("{other} is not an event the product subscribes to")),
    }
}

/// An archive change is sent when Lever's state now is the one the event claims (archived, for
/// that reason; or not archived). A hire's archive is sent as `hired` (the same key as the
/// `candidateHired` event's: one event at XOR whichever of them Lever sends).
fn archive_change(
    data: &LeverEventData,
    archived_now: bool,
    reason: Option<String>,
    archived_at: Option<i64>,
    hired: bool,
) -> Confirmed {
    let claimed = data.to_archived.as_ref().filter(|v| !v.is_null());
    let claimed_reason = claimed.and_then(|v| v.get("reason")).and_then(|r| r.as_str());
    match (claimed, archived_now) {
        (None, false) => Confirmed::Send(CandidateOutcome::Unarchived),
        (Some(_), true) if claimed_reason.is_none_or(|c| Some(c) == reason.as_deref()) => {
            if hired {
                Confirmed::Send(CandidateOutcome::Hired { archived_at })
            } else {
                Confirmed::Send(CandidateOutcome::Archived { reason_id: reason, archived_at })
            }
        }
        _ => Confirmed::Nothing("Lever shows another archive state now: a later event carries it".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_765_000_000_000;

    fn delivery(key: &SecretString, data: &str) -> Vec<u8> {
        let token = "a".repeat(48);
        let sig = lever_signature(key, &token, NOW - 1_000);
        format!(
            r#"{{"id":"evt_1","event":"candidateStageChange","triggeredAt":{},"token":"{token}","signature":"{sig}","data":{data}}}"#,
            NOW - 1_000
        )
        .into_bytes()
    }

    #[test]
    fn a_delivery_signed_with_the_webhook_s_token_is_believed_and_no_other() {
        let key = SecretString::new("sig-token-1");
        let d = LeverDelivery::parse(&delivery(&key, r#"{"opportunityId":"opp_1","toStageId":"s2"}"#)).unwrap();
        assert_eq!(d.data.opportunity_id.as_deref(), Some("opp_1"));
        assert_eq!(d.check(std::slice::from_ref(&key), NOW), Ok(()));
        let other = SecretString::new("sig-token-2");
        assert_eq!(d.check(std::slice::from_ref(&other), NOW), Err(LeverDeliveryError::BadSignature));
        assert_eq!(d.check(&[other, key.clone()], NOW), Ok(()), "the previous token while re-registering");
        let mut forged = d.clone();
        forged.token = "b".repeat(48);
        assert_eq!(forged.check(std::slice::from_ref(&key), NOW), Err(LeverDeliveryError::BadSignature));
        let mut moved = d.clone();
        moved.triggered_at += 1;
        assert_eq!(moved.check(std::slice::from_ref(&key), NOW), Err(LeverDeliveryError::BadSignature));
    }

    /// The reason the product reads Lever before acting: `data` is not signed.
    #[test]
    fn the_signature_does_not_cover_data() {
        let key = SecretString::new("sig-token-1");
        let a = LeverDelivery::parse(&delivery(&key, r#"{"opportunityId":"opp_1"}"#)).unwrap();
        let b = LeverDelivery::parse(&delivery(&key, r#"{"opportunityId":"opp_someone_else"}"#)).unwrap();
        assert!(a.is_signed_by([&key]) && b.is_signed_by([&key]));
        assert_ne!(a.data, b.data);
    }

    #[test]
    fn an_old_or_future_delivery_is_not_believed() {
        let key = SecretString::new("k");
        let d = LeverDelivery::parse(&delivery(&key, "{}")).unwrap();
        assert_eq!(d.is_fresh(NOW + FRESHNESS_MS - 2_000), Ok(()));
        assert!(matches!(d.is_fresh(NOW + FRESHNESS_MS + 2_000), Err(LeverDeliveryError::Stale { .. })));
        assert!(matches!(d.is_fresh(NOW - FUTURE_SKEW_MS - 2_000), Err(LeverDeliveryError::FromTheFuture { .. })));
    }

    fn opp(stage: &str, archived: Option<&str>) -> crate::domain::ats::Opportunity {
        serde_json::from_value(serde_json::json!({
            "id": "opp_1", "stage": stage,
            "archived": archived.map(|r| serde_json::json!({"archivedAt": NOW, "reason": r})),
        }))
        .unwrap()
    }

    fn data(to_stage: Option<&str>) -> LeverEventData {
        LeverEventData {
            opportunity_id: Some("opp_1".into()),
            to_stage_id: to_stage.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn only_what_lever_shows_now_is_sent() {
        let hire = |r: &str| r == "reason-hired";
        let moved = confirm("candidateStageChange", &data(Some("s2")), Some(&opp("s2", None)), hire);
        assert_eq!(moved, Confirmed::Send(CandidateOutcome::StageChanged { stage_id: "s2".into() }));
        let stale = confirm("candidateStageChange", &data(Some("s2")), Some(&opp("s3", None)), hire);
        assert!(matches!(stale, Confirmed::Nothing(_)), "{stale:?}");
        let hired = confirm("candidateHired", &data(None), Some(&opp("s3", Some("reason-hired"))), hire);
        assert_eq!(hired, Confirmed::Send(CandidateOutcome::Hired { archived_at: Some(NOW) }));
        let claimed = confirm("candidateHired", &data(None), Some(&opp("s3", None)), hire);
        assert!(matches!(claimed, Confirmed::Nothing(_)), "a hire Lever does not show is not sent");
        let to = |r: &str| LeverEventData {
            to_archived: Some(serde_json::json!({"archivedAt": NOW, "reason": r})),
            ..data(None)
        };
        let archived =
            confirm("candidateArchiveChange", &to("reason-withdrew"), Some(&opp("s3", Some("reason-withdrew"))), hire);
        let want = CandidateOutcome::Archived { reason_id: Some("reason-withdrew".into()), archived_at: Some(NOW) };
        assert_eq!(archived, Confirmed::Send(want));
        let back = confirm("candidateArchiveChange", &data(None), Some(&opp("s3", None)), hire);
        assert_eq!(back, Confirmed::Send(CandidateOutcome::Unarchived));
        let undone = confirm("candidateArchiveChange", &data(None), Some(&opp("s3", Some("reason-withdrew"))), hire);
        assert!(matches!(undone, Confirmed::Nothing(_)), "an unarchive Lever no longer shows is not sent");
        let other = confirm("candidateArchiveChange", &to("reason-withdrew"), Some(&opp("s3", Some("reason-x"))), hire);
        assert!(matches!(other, Confirmed::Nothing(_)), "archived again for another reason since");
        let as_hire =
            confirm("candidateArchiveChange", &to("reason-hired"), Some(&opp("s3", Some("reason-hired"))), hire);
        assert_eq!(
            as_hire,
            Confirmed::Send(CandidateOutcome::Hired { archived_at: Some(NOW) }),
            "one key with candidateHired's"
        );
        let key = |o: &Confirmed| match o {
            Confirmed::Send(o) => o.state_key(NOW + 5),
            _ => String::new(),
        };
        assert_eq!(key(&as_hire), key(&hired), "a hire is one event at XOR whichever event reports it");
    }

    /// Above all before erasing: a deletion is believed only when Lever no longer has it.
    #[test]
    fn a_deletion_is_believed_only_when_lever_no_longer_has_the_opportunity() {
        let hire = |_: &str| false;
        assert_eq!(confirm("candidateDeleted", &data(None), None, hire), Confirmed::Erase);
        assert!(matches!(
            confirm("candidateDeleted", &data(None), Some(&opp("s1", None)), hire),
            Confirmed::Refused(_)
        ));
        assert!(
            matches!(confirm("candidateHired", &data(None), None, hire), Confirmed::Nothing(_)),
            "gone, but not said deleted"
        );
    }

    #[test]
    fn a_malformed_body_is_described_by_place() {
        let e = LeverDelivery::parse(br#"{"id":"e","event":"x","triggeredAt":"ada@example.com"}"#).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("triggeredAt") && !text.contains("ada"), "{text}");
        assert!(LeverDelivery::parse(b"not json").is_err());
        let sig_not_hex = LeverDelivery {
            id: "e".into(),
            event: "candidateHired".into(),
            triggered_at: NOW,
            token: "t".into(),
            signature: "zz".into(),
            data: LeverEventData::default(),
        };
        assert!(!sig_not_hex.is_signed_by([&SecretString::new("k")]));
    }
}
