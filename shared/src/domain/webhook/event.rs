//! The "screening passed" event's validated shape, and how a refused body is described (by
//! place, never by value: the value may be a candidate's email).
use serde::{Deserialize, Serialize};

pub const SCREENING_PASSED: &str = "candidate.screening_passed";

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

/// Why a signed body is refused. It says where the body is wrong (field path, line and column)
/// and what was expected, never the value found there: the answer to XOR, the delivery record
/// and the logs all carry it, and the value may be a candidate's email or phone (so serde's own
/// error, which quotes the value, is not kept as a source).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not the JSON expected: where, and what was expected there.
    #[error("{0}")]
    Malformed(String),
    #[error("`data` is missing")]
    NoData,
    #[error("`data.candidate_id` and `data.job_id` must not be empty")]
    EmptyIds,
    #[error("ids must not contain '#'")]
    HashInId,
}

/// Parses a signed body (see [`EventError`]).
pub fn parse_event(body: &[u8]) -> Result<Event, EventError> {
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
    let s = parse_at::<Full>(body)?.data.ok_or(EventError::NoData)?;
    if s.candidate_id.trim().is_empty() || s.job_id.trim().is_empty() {
        return Err(EventError::EmptyIds);
    }
    if s.candidate_id.contains('#') || s.job_id.contains('#') {
        return Err(EventError::HashInId);
    }
    Ok(Event::ScreeningPassed(Box::new(s)))
}

fn parse_at<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, EventError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de)
        .map_err(|e| EventError::Malformed(describe_json_error(&e.path().to_string(), e.inner())))
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
    fn events_are_validated() {
        assert!(
            matches!(parse_event(br#"{"type":"candidate.created","data":{}}"#), Ok(Event::Other(t)) if t == "candidate.created")
        );
        assert!(parse_event(b"not json").unwrap_err().to_string().contains("JSON"));
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
        let reason = parse_event(body).unwrap_err().to_string();
        assert!(reason.contains("`data.screening.passed`") && reason.contains("line 3"), "{reason}");
        assert!(reason.contains("expected a boolean"), "{reason}");
        assert!(!reason.contains("ada"), "the value leaked: {reason}");
        let missing = parse_event(br#"{"type":"candidate.screening_passed","data":{"job_id":"ada@x.io"}}"#);
        let reason = missing.unwrap_err().to_string();
        assert!(reason.contains("missing the field `candidate_id`") && !reason.contains("ada"), "{reason}");
        let syntax = parse_event(b"{\"type\": \"candidate.screening_passed\", \"data\": {\"candidate_id\": ada}}");
        assert!(syntax.unwrap_err().to_string().contains("not valid JSON (line 1"));
    }
}
