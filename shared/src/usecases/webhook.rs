//! XOR's "screening passed" webhook → one Lever opportunity, exactly once.
//!
//! 1. the signature is checked before anything else (constant time, any secret of the rotation);
//! 2. the delivery is recorded durably (raw body) — the record is what makes "nothing lost" true;
//! 3. the screening's claim (connection, candidate, job) is taken with a lease that ends with the
//!    invocation, so two deliveries of one screening (or 20 of one webhook) make one opportunity,
//!    and a crashed attempt is taken over once its lease ends;
//! 4. the XOR job resolves to the Lever posting through the job mappings;
//! 5. the opportunity is created with the report (and the resume) attached; a retried attempt
//!    first looks the candidate up by email and adopts an opportunity it made before;
//! 6. the claim and the delivery are marked completed with the opportunity id.

use futures::StreamExt;
use serde_json::{Value, json};

use crate::adapters::lever::{
    FileKind, FileUpload, LeverClient, LeverError, NewOpportunity, Opportunity, OpportunityFilter, Phone,
};
use crate::domain::ports::WEBHOOK_SECRET;
use crate::domain::webhook::{
    Event, MAX_BODY_BYTES, ScreeningPassed, WebhookSecret, parse_event, redact_email, verify,
};
use crate::domain::*;
use crate::report::{Report, render};
use crate::usecases::tokens::TokenError;

pub use super::context::LeverContext;
pub use super::{Clock, system_clock};

/// The HTTP answer to XOR, and how the delivery was recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<u64>,
    /// The delivery's recorded status, when the answer comes from one (callers decide on this,
    /// never on the body's text).
    pub delivery: Option<DeliveryStatus>,
}

impl Answer {
    fn new(status: u16, body: Value) -> Self {
        Self { status, body, retry_after: None, delivery: None }
    }
    fn retry(status: u16, body: Value, after: u64) -> Self {
        Self { status, body, retry_after: Some(after), delivery: None }
    }
    fn of(self, d: DeliveryStatus) -> Self {
        Self { delivery: Some(d), ..self }
    }
}

/// The webhook's signature headers as received.
#[derive(Debug, Clone, Default)]
pub struct SignedHeaders {
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
}

enum Outcome {
    /// The opportunity, and a remark for the record (the note could not be added).
    Completed(String, Option<String>),
    Failed(String),
    Pending(String),
    PendingReauth(String),
    Busy(i64),
}

/// Handles one delivery. `deadline_ms`: when this invocation must have answered (its claim's
/// lease ends then, so a crashed attempt is taken over by the next one).
pub async fn receive(
    deps: &LeverContext,
    connection: &str,
    h: &SignedHeaders,
    body: &[u8],
    deadline_ms: i64,
) -> Answer {
    if body.len() > MAX_BODY_BYTES {
        return Answer::new(413, json!({"error": format!("the body is larger than {MAX_BODY_BYTES} bytes")}));
    }
    let Ok(cid) = ConnectionId::parse(connection) else {
        return Answer::new(404, json!({"error": "unknown connection"}));
    };
    let conn = match deps.connections.connection(&cid).await {
        Ok(Some(c)) => c,
        Ok(None) => return Answer::new(404, json!({"error": "unknown connection"})),
        Err(e) => return unavailable(&cid, "connection lookup", &e),
    };
    let secrets = match deps.secrets.secret(&cid, WEBHOOK_SECRET).await {
        Ok(s) => s.map(|s| WebhookSecret::parse_list(s.expose(), (deps.clock)() / 1000)).unwrap_or_default(),
        Err(e) => return unavailable(&cid, "webhook secret", &e),
    };
    let now_ms = (deps.clock)();
    if let Err(e) =
        verify(&secrets, h.id.as_deref(), h.timestamp.as_deref(), h.signature.as_deref(), body, now_ms / 1000)
    {
        tracing::warn!(connection = %cid, reason = %e, "webhook signature refused");
        return Answer::new(401, json!({"error": "invalid signature"}));
    }
    let webhook_id = h.id.clone().unwrap_or_default();
    if webhook_id.len() > 200 || webhook_id.chars().any(char::is_control) {
        return Answer::new(400, json!({"error": "webhook-id is not a usable id"}));
    }
    let body_text = String::from_utf8_lossy(body).into_owned();
    let mut delivery = Delivery {
        connection: cid.clone(),
        webhook_id: webhook_id.clone(),
        received_at_ms: now_ms,
        status: DeliveryStatus::Received,
        event_type: None,
        natural_key: None,
        body: body_text,
        opportunity_id: None,
        reason: None,
        attempts: 0,
        updated_at_ms: now_ms,
        expires_at: None,
    };
    let screening = match parse_event(body) {
        Ok(Event::Other(kind)) => {
            tracing::info!(connection = %cid, webhook_id, event = %kind, "event type ignored");
            return Answer::new(200, json!({"status": "ignored", "type": kind}));
        }
        Ok(Event::ScreeningPassed(s)) => s,
        Err(reason) => {
            delivery.set_status(DeliveryStatus::Rejected, now_ms, deps.delivery_retention_days);
            delivery.reason = Some(reason.clone());
            if let Err(e) = deps.webhooks.insert_delivery(&delivery).await {
                return unavailable(&cid, "record delivery", &e);
            }
            tracing::warn!(connection = %cid, webhook_id, reason, "webhook body rejected (kept raw)");
            return Answer::new(400, json!({"status": "rejected", "reason": reason})).of(DeliveryStatus::Rejected);
        }
    };
    delivery.event_type = Some(crate::domain::webhook::SCREENING_PASSED.into());
    delivery.natural_key = Some(screening.natural_key());
    match deps.webhooks.insert_delivery(&delivery).await {
        Ok(None) => {}
        Ok(Some(existing)) if existing.status.is_final() => return answer_for(&existing, true),
        Ok(Some(existing)) => delivery = existing,
        Err(e) => return unavailable(&cid, "record delivery", &e),
    }
    process(deps, &conn, &mut delivery, &screening, deadline_ms).await
}

/// Processes a recorded delivery again (operator replay, the scheduled retry of pending ones).
pub async fn replay(
    deps: &LeverContext,
    connection: &ConnectionId,
    webhook_id: &str,
    deadline_ms: i64,
) -> Result<Answer, String> {
    let mut d = deps
        .webhooks
        .delivery(connection, webhook_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no delivery {webhook_id} for connection {connection}"))?;
    if d.status == DeliveryStatus::Completed {
        return Ok(answer_for(&d, true));
    }
    let conn = deps
        .connections
        .connection(connection)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the connection no longer exists")?;
    let screening = match parse_event(d.body.as_bytes()) {
        Ok(Event::ScreeningPassed(s)) => s,
        Ok(Event::Other(t)) => return Err(format!("delivery {webhook_id} is a {t} event: nothing to replay")),
        Err(reason) => return Err(format!("delivery {webhook_id} was rejected: {reason}")),
    };
    Ok(process(deps, &conn, &mut d, &screening, deadline_ms).await)
}

fn unavailable(cid: &ConnectionId, what: &str, e: &dyn std::fmt::Display) -> Answer {
    tracing::error!(connection = %cid, what, error = %e, "webhook could not be handled now");
    Answer::retry(503, json!({"status": "unavailable", "reason": format!("{what} is unavailable")}), 30)
}

fn answer_for(d: &Delivery, duplicate: bool) -> Answer {
    let reason = d.reason.clone();
    let answer = match d.status {
        DeliveryStatus::Completed => {
            Answer::new(200, json!({"status": "completed", "opportunity_id": d.opportunity_id, "duplicate": duplicate}))
        }
        DeliveryStatus::Failed => {
            Answer::new(200, json!({"status": "failed", "reason": reason, "duplicate": duplicate}))
        }
        DeliveryStatus::Rejected => Answer::new(400, json!({"status": "rejected", "reason": reason})),
        DeliveryStatus::Pending => Answer::retry(503, json!({"status": "pending", "reason": reason}), 60),
        DeliveryStatus::PendingReauth => {
            Answer::retry(503, json!({"status": "pending_reauth", "reason": reason}), 3600)
        }
        DeliveryStatus::Received => Answer::retry(409, json!({"status": "in_progress"}), 5),
    };
    answer.of(d.status)
}

async fn process(
    deps: &LeverContext,
    conn: &Connection,
    d: &mut Delivery,
    s: &ScreeningPassed,
    deadline_ms: i64,
) -> Answer {
    let nk = s.natural_key();
    let outcome = run(deps, conn, d, s, &nk, deadline_ms).await;
    let now = (deps.clock)();
    let status = match &outcome {
        Outcome::Completed(opp, remark) => {
            d.opportunity_id = Some(opp.clone());
            d.reason = remark.clone();
            DeliveryStatus::Completed
        }
        Outcome::Failed(r) => {
            d.reason = Some(r.clone());
            DeliveryStatus::Failed
        }
        Outcome::Pending(r) => {
            d.reason = Some(r.clone());
            DeliveryStatus::Pending
        }
        Outcome::PendingReauth(r) => {
            d.reason = Some(r.clone());
            DeliveryStatus::PendingReauth
        }
        Outcome::Busy(until) => {
            let secs = ((until - now) / 1000).clamp(1, 300) as u64;
            return Answer::retry(
                409,
                json!({"status": "in_progress", "reason": "another attempt is processing this screening"}),
                secs,
            );
        }
    };
    d.set_status(status, now, deps.delivery_retention_days);
    let log_reason = d.reason.clone().unwrap_or_default();
    tracing::info!(connection = %conn.id, webhook_id = %d.webhook_id, candidate = %s.candidate_id, status = status.as_str(), reason = %log_reason, "webhook processed");
    if let Err(e) = deps.webhooks.update_delivery(d).await {
        // The claim is the source of truth for "done"; a retry answers from it.
        tracing::error!(connection = %conn.id, webhook_id = %d.webhook_id, error = %e, "could not update the delivery record");
    }
    answer_for(d, false)
}

async fn run(
    deps: &LeverContext,
    conn: &Connection,
    d: &mut Delivery,
    s: &ScreeningPassed,
    nk: &str,
    deadline_ms: i64,
) -> Outcome {
    if conn.status != ConnectionStatus::Connected {
        return Outcome::PendingReauth(format!("the connection is {}", conn.status.as_str()));
    }
    let owner = format!("{}/{}", d.webhook_id, crate::random::id128());
    let now = (deps.clock)();
    let attempt = match deps.webhooks.claim_screening(&conn.id, nk, &owner, now, deadline_ms.max(now + 1_000)).await {
        Ok(Claim::Acquired { attempt }) => attempt,
        Ok(Claim::Done { opportunity_id }) => return Outcome::Completed(opportunity_id, None),
        Ok(Claim::Busy { until_ms }) => return Outcome::Busy(until_ms),
        Err(e) => return Outcome::Pending(format!("the idempotency record is unavailable: {e}")),
    };
    d.attempts += 1;
    let outcome = attempt_create(deps, conn, s, attempt, d.received_at_ms, deadline_ms).await;
    if deps.crash_at.as_ref().is_some_and(|f| f("before_complete")) {
        // A crash here leaves the claim leased and the delivery `received`: the next attempt
        // (after the lease) looks in Lever first and adopts what this one created.
        return Outcome::Busy(deadline_ms);
    }
    let end = match &outcome {
        Outcome::Completed(opp, _) => ClaimEnd::Done { opportunity_id: opp.clone() },
        _ => ClaimEnd::Release,
    };
    if let Err(e) = deps.webhooks.end_claim(&conn.id, nk, &owner, end).await {
        tracing::error!(connection = %conn.id, error = %e, "could not end the screening claim; its lease will expire");
    }
    outcome
}

/// Why a Lever call with a token did not succeed, kept typed so callers decide on variants.
enum CallError {
    Token(TokenError),
    Lever(LeverError),
    /// A 401 even with a freshly refreshed token: the app is revoked.
    RevokedAfterRefresh,
}

impl From<CallError> for Outcome {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Token(e @ (TokenError::Revoked | TokenError::NotAuthorized)) => {
                Outcome::PendingReauth(e.to_string())
            }
            CallError::Token(e @ TokenError::Unavailable(_)) => Outcome::Pending(e.to_string()),
            CallError::Lever(
                e @ (LeverError::Rejected { .. } | LeverError::Decode { .. } | LeverError::TooManyPages { .. }),
            ) => Outcome::Failed(e.to_string()),
            CallError::Lever(e @ LeverError::Unavailable { .. }) => Outcome::Pending(e.to_string()),
            CallError::Lever(e @ LeverError::Unauthorized { .. }) => Outcome::PendingReauth(e.to_string()),
            CallError::RevokedAfterRefresh => {
                Outcome::PendingReauth("Lever refused a freshly refreshed token: the app looks revoked".into())
            }
        }
    }
}

/// Token handling around one Lever call: a 401 refreshes once and retries once; a second 401
/// means the app is revoked.
async fn with_token<T, F, Fut>(
    deps: &LeverContext,
    conn: &Connection,
    lever: &LeverClient,
    deadline_ms: i64,
    f: F,
) -> Result<T, CallError>
where
    F: Fn(SecretString) -> Fut,
    Fut: std::future::Future<Output = Result<T, LeverError>>,
{
    let token = deps.tokens.access_token(conn, lever, deadline_ms).await.map_err(CallError::Token)?;
    match f(token.clone()).await {
        Err(LeverError::Unauthorized { .. }) => {
            let fresh =
                deps.tokens.after_unauthorized(conn, lever, &token, deadline_ms).await.map_err(CallError::Token)?;
            match f(fresh).await {
                Err(LeverError::Unauthorized { .. }) => {
                    let _ = deps.connections.set_status(&conn.id, ConnectionStatus::Revoked).await;
                    Err(CallError::RevokedAfterRefresh)
                }
                other => other.map_err(CallError::Lever),
            }
        }
        other => other.map_err(CallError::Lever),
    }
}

/// How long the feed's word that a posting is published stays good (the schedule confirms it
/// every 15 minutes by default; four missed runs make it stale).
pub const POSTING_KNOWLEDGE_MS: i64 = 60 * 60 * 1000;

/// How far before the screening (or the delivery) an earlier attempt's create may lie: beyond
/// XOR's retry horizon (3 days), so a later delivery of the same screening under another webhook
/// id still finds it; the other filters keep the listing short.
const ADOPTION_WINDOW_MS: i64 = 4 * 24 * 3600 * 1000;

/// The first line of every screening note: how a retry recognises the note an earlier attempt
/// added.
pub const NOTE_HEADING: &str = "XOR screening passed";

#[allow(clippy::too_many_arguments)]
async fn attempt_create(
    deps: &LeverContext,
    conn: &Connection,
    s: &ScreeningPassed,
    attempt: u32,
    first_seen_ms: i64,
    deadline_ms: i64,
) -> Outcome {
    let mapping = match deps.mappings.mapping_by_xor_job(&conn.id, &s.job_id).await {
        Ok(Some(m)) => m,
        Ok(None) => {
            return Outcome::Failed(format!("unknown XOR job {}: no job mapping for this connection", s.job_id));
        }
        Err(e) => return Outcome::Pending(format!("job mappings unavailable: {e}")),
    };
    let email = s.candidate.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let phone = s.candidate.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
    if email.is_none() && phone.is_none() {
        return Outcome::Failed("the candidate has neither an email nor a phone: Lever cannot create them".into());
    }
    let Some(perform_as) = conn.lever.perform_as.clone() else {
        return Outcome::Failed("the connection has no Lever user to act as (perform_as)".into());
    };
    let lever = deps.lever_for(conn);
    let posting_id = mapping.posting_id.to_string();

    let note = screening_note(s, &mapping.title);
    // Lever creates are not idempotent: any attempt after the first looks before it creates (and
    // before anything else: the posting may have closed since the create whose answer was lost)
    // — by the documented filters (the posting, created since the screening could have been
    // delivered), then the screening's transcript link, the email, or, for a candidate with no
    // email, the phone (Lever dedupes people by email only). Source XOR is checked here, in any
    // case: an account may already spell it `xor`, and whether the `source` filter ignores case
    // is not documented.
    if attempt > 1 {
        let since = s
            .screening
            .completed_at
            .as_deref()
            .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
            .map_or(first_seen_ms, |t| ((t.unix_timestamp_nanos() / 1_000_000) as i64).min(first_seen_ms))
            - ADOPTION_WINDOW_MS;
        let filter = OpportunityFilter {
            email: email.map(str::to_owned),
            posting_id: Some(posting_id.clone()),
            source: None,
            created_at_start: Some(since),
        };
        let found = with_token(deps, conn, &lever, deadline_ms, |t| {
            let (lever, f) = (lever.clone(), filter.clone());
            async move { lever.find_opportunities(&t, &f).await }
        })
        .await;
        match found {
            Ok(list) => {
                let transcript = s.screening.transcript_url.as_deref().filter(|u| !u.is_empty());
                let same_person = |o: &&Opportunity| {
                    transcript.is_some_and(|t| o.has_link(t))
                        || match email {
                            Some(e) => o.has_email(e),
                            None => phone.is_some_and(|p| o.has_phone(p)),
                        }
                };
                if let Some(o) =
                    list.iter().filter(|o| o.has_posting(&posting_id) && o.has_source("XOR")).find(same_person)
                {
                    tracing::info!(connection = %conn.id, candidate = %s.candidate_id, email = %email.map(redact_email).unwrap_or_default(), opportunity = %o.id, "adopted the opportunity a previous attempt created");
                    let remark = ensure_note(deps, conn, &lever, &perform_as, &o.id, &note, deadline_ms).await;
                    return Outcome::Completed(o.id.clone(), remark);
                }
            }
            Err(e) => return e.into(),
        }
    }

    // The feed lists only published postings: while the last clean sync (or a 304 after one) is
    // recent and the mapping is active, the posting is open without asking Lever.
    let now = (deps.clock)();
    let known_open = mapping.is_active()
        && conn.feed.last_run_clean
        && conn.feed.confirmed_at_ms.is_some_and(|t| now - t < POSTING_KNOWLEDGE_MS);
    if !known_open {
        let posting = match with_token(deps, conn, &lever, deadline_ms, |t| {
            let (lever, id) = (lever.clone(), posting_id.clone());
            async move { lever.posting(&t, &id).await }
        })
        .await
        {
            Ok(p) => p,
            Err(CallError::Lever(LeverError::Rejected { status: 404, .. })) => {
                return Outcome::Failed(format!("posting {posting_id} does not exist in Lever"));
            }
            Err(e) => return e.into(),
        };
        if !posting.is_open() {
            return Outcome::Failed(format!(
                "posting {posting_id} is {} in Lever: candidates cannot be added",
                posting.state.as_deref().unwrap_or("closed")
            ));
        }
    }

    let (resume_file, resume_note) = match s.candidate.resume_url.as_deref().filter(|u| !u.trim().is_empty()) {
        None => (None, "none provided".to_owned()),
        Some(url) => match download(deps, url).await {
            Ok(f) => {
                let note = format!("attached ({})", f.name);
                (Some(f), note)
            }
            Err(why) => (None, format!("unavailable ({why}); XOR's link: {url}")),
        },
    };
    let report = Report {
        candidate_name: s.candidate.full_name(),
        email: email.map(str::to_owned),
        phone: phone.map(str::to_owned),
        location: s.candidate.location.clone(),
        linkedin_url: s.candidate.linkedin_url.clone(),
        job_title: mapping.title.clone(),
        posting_id: posting_id.clone(),
        score: s.screening.score,
        passed: s.screening.passed,
        completed_at: s.screening.completed_at.clone(),
        summary: s.screening.summary.clone(),
        answers: s
            .screening
            .answers
            .iter()
            .map(|a| {
                (
                    a.question.clone().unwrap_or_else(|| "(no question text)".into()),
                    a.answer.clone().unwrap_or_else(|| "(no answer)".into()),
                )
            })
            .collect(),
        transcript_url: s.screening.transcript_url.clone(),
        chatbot_url: s.chatbot_url.clone(),
        resume: resume_note,
        footer: format!(
            "Sent to Lever by xor-lever for connection {}. XOR candidate {}, XOR job {}.",
            conn.id, s.candidate_id, s.job_id
        ),
    };
    let mut files = vec![FileUpload {
        kind: FileKind::Other,
        name: "xor-screening-report.pdf".into(),
        content_type: "application/pdf".into(),
        bytes: render(&report),
    }];
    files.extend(resume_file);
    let new = NewOpportunity {
        name: s.candidate.full_name(),
        location: s.candidate.location.clone(),
        emails: email.map(|e| vec![e.to_owned()]).unwrap_or_default(),
        phones: phone.map(|p| vec![Phone { kind: "mobile".into(), value: p.to_owned() }]).unwrap_or_default(),
        links: [s.candidate.linkedin_url.clone(), s.screening.transcript_url.clone()]
            .into_iter()
            .flatten()
            .filter(|l| !l.is_empty())
            .collect(),
        tags: vec!["xor".into()],
        sources: vec!["XOR".into()],
        origin: conn.lever.origin.clone(),
        postings: vec![posting_id.clone()],
        stage: conn.lever.stage.clone(),
    };
    let as_posting_owner = !conn.lever.admin_owns_candidates;
    let created = with_token(deps, conn, &lever, deadline_ms, |t| {
        let (lever, perform_as, new, files) = (lever.clone(), perform_as.clone(), new.clone(), files.clone());
        async move { lever.create_opportunity(&t, &perform_as, as_posting_owner, &new, &files).await }
    })
    .await;
    match created {
        Ok(o) => {
            let remark = add_note(deps, conn, &lever, &perform_as, &o.id, &note, deadline_ms).await;
            Outcome::Completed(o.id, remark)
        }
        Err(e) => e.into(),
    }
}

/// What a recruiter reads on the opportunity without opening the PDF.
pub fn screening_note(s: &ScreeningPassed, job_title: &str) -> String {
    let mut t = format!("{NOTE_HEADING} for {job_title}");
    if let Some(score) = s.screening.score {
        t.push_str(&format!(" — score {score:.0}/100"));
    }
    if let Some(at) = &s.screening.completed_at {
        t.push_str(&format!(" ({at})"));
    }
    t.push('\n');
    if let Some(summary) = s.screening.summary.as_deref().filter(|x| !x.trim().is_empty()) {
        t.push_str(&format!("\n{}\n", summary.trim()));
    }
    if !s.screening.answers.is_empty() {
        t.push_str("\nAnswers:\n");
        for a in &s.screening.answers {
            t.push_str(&format!(
                "- {}\n  {}\n",
                a.question.as_deref().unwrap_or("(no question text)"),
                a.answer.as_deref().unwrap_or("(no answer)")
            ));
        }
    }
    if let Some(u) = s.screening.transcript_url.as_deref().filter(|x| !x.is_empty()) {
        t.push_str(&format!("\nTranscript: {u}\n"));
    }
    t.push_str("\nThe full report is attached as xor-screening-report.pdf.");
    t
}

/// Adds the screening note. The opportunity is what matters: a note that cannot be added is a
/// remark on the completed delivery (the PDF carries the same), never a failure — and it is
/// not retried blindly (notes are not idempotent).
async fn add_note(
    deps: &LeverContext,
    conn: &Connection,
    lever: &LeverClient,
    perform_as: &str,
    opportunity: &str,
    note: &str,
    deadline_ms: i64,
) -> Option<String> {
    let added = with_token(deps, conn, lever, deadline_ms, |t| {
        let (lever, perform_as, opportunity, note) =
            (lever.clone(), perform_as.to_owned(), opportunity.to_owned(), note.to_owned());
        async move { lever.add_note(&t, &perform_as, &opportunity, &note).await }
    })
    .await;
    match added {
        Ok(()) => None,
        Err(e) => {
            // Tokens from before the note scope: Lever refuses; a new authorization grants it.
            let hint = match &e {
                CallError::Lever(LeverError::Rejected { status: 401 | 403, .. }) => {
                    " — the connection must be authorized again to grant notes:write:admin"
                }
                _ => "",
            };
            let why = match Outcome::from(e) {
                Outcome::Failed(r) | Outcome::Pending(r) | Outcome::PendingReauth(r) => r,
                _ => "unknown".into(),
            };
            tracing::warn!(connection = %conn.id, opportunity, reason = %why, "the screening note could not be added");
            Some(format!("the screening note could not be added ({why}){hint}; the attached report has the same"))
        }
    }
}

/// On an adopted opportunity: adds the note unless the earlier attempt did.
async fn ensure_note(
    deps: &LeverContext,
    conn: &Connection,
    lever: &LeverClient,
    perform_as: &str,
    opportunity: &str,
    note: &str,
    deadline_ms: i64,
) -> Option<String> {
    let texts = with_token(deps, conn, lever, deadline_ms, |t| {
        let (lever, opportunity) = (lever.clone(), opportunity.to_owned());
        async move { lever.note_texts(&t, &opportunity).await }
    })
    .await;
    match texts {
        Ok(t) if t.iter().any(|x| x.starts_with(NOTE_HEADING)) => None,
        Ok(_) => add_note(deps, conn, lever, perform_as, opportunity, note, deadline_ms).await,
        // Unknown whether the earlier attempt added it: no second note on a guess.
        Err(e) => {
            let why = match Outcome::from(e) {
                Outcome::Failed(r) | Outcome::Pending(r) | Outcome::PendingReauth(r) => r,
                _ => "unknown".into(),
            };
            Some(format!("could not tell whether the screening note was added ({why}); the attached report has it"))
        }
    }
}

/// Downloads the resume with a size cap and a timeout; the reason when it cannot.
async fn download(deps: &LeverContext, url: &str) -> Result<FileUpload, String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err("not an http(s) link".into());
    }
    let resp = deps
        .http
        .get(url)
        .timeout(deps.resume_timeout)
        .send()
        .await
        .map_err(|e| if e.is_timeout() { "timed out".to_owned() } else { "could not connect".to_owned() })?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {} (expired?)", resp.status().as_u16()));
    }
    if resp.content_length().is_some_and(|n| n > deps.resume_max_bytes) {
        return Err(format!("larger than {} MB", deps.resume_max_bytes / 1024 / 1024));
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|p| p.rsplit('/').next())
        .filter(|n| !n.is_empty() && n.is_ascii())
        .unwrap_or("resume")
        .to_owned();
    let mut bytes = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| "the download broke off".to_owned())?;
        if (bytes.len() + chunk.len()) as u64 > deps.resume_max_bytes {
            return Err(format!("larger than {} MB", deps.resume_max_bytes / 1024 / 1024));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(FileUpload { kind: FileKind::Resume, name, content_type, bytes })
}

/// What a sweep of waiting deliveries did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetrySummary {
    pub replayed: usize,
    pub completed: usize,
    pub failed: usize,
    pub still_waiting: usize,
}

/// A delivery still `received` this long after its last update lost its processor (a crash):
/// its claim's lease has ended, so it is taken over.
pub const STUCK_AFTER_MS: i64 = 5 * 60 * 1000;

/// Replays what waits: `pending` deliveries, `pending_reauth` ones of connections that are
/// connected again, and `received` ones whose processor died. Run by the scheduled function so
/// that nothing depends on XOR's retries alone. Connection by connection, each with a fair
/// share of `limit` (one customer's backlog never starves the others; issue 14 moves this to a
/// message per connection); stops starting replays at `deadline_ms`. `pending_reauth`
/// deliveries of connections that are not connected count as still waiting.
pub async fn retry_waiting(deps: &LeverContext, deadline_ms: i64, limit: usize) -> Result<RetrySummary, StoreError> {
    let now = (deps.clock)();
    let mut summary = RetrySummary::default();
    let connections = deps.connections.connections().await?;
    let share = (limit / connections.len().max(1)).max(10);
    for conn in connections {
        if conn.status != ConnectionStatus::Connected {
            let waiting = deps.webhooks.deliveries(&conn.id, DeliveryStatus::PendingReauth, share, None).await?;
            summary.still_waiting += waiting.items.len();
        }
        let mut statuses = vec![DeliveryStatus::Pending, DeliveryStatus::Received];
        if conn.status == ConnectionStatus::Connected {
            statuses.push(DeliveryStatus::PendingReauth);
        }
        let mut budget = share;
        for status in statuses {
            if budget == 0 {
                break;
            }
            let page = deps.webhooks.deliveries(&conn.id, status, budget, None).await?;
            for d in page.items.into_iter().rev() {
                if (deps.clock)() + 10_000 >= deadline_ms {
                    summary.still_waiting += 1;
                    continue;
                }
                if d.status == DeliveryStatus::Received && now - d.updated_at_ms < STUCK_AFTER_MS {
                    continue; // being processed right now
                }
                budget = budget.saturating_sub(1);
                summary.replayed += 1;
                match replay(deps, &d.connection, &d.webhook_id, deadline_ms).await.map(|a| a.delivery) {
                    Ok(Some(DeliveryStatus::Completed)) => summary.completed += 1,
                    Ok(Some(DeliveryStatus::Failed)) => summary.failed += 1,
                    _ => summary.still_waiting += 1,
                }
            }
        }
    }
    Ok(summary)
}

/// Deliveries for an operator's listing, newest first: one connection's or every
/// connection's, one status or all, at most `limit` (each store read is a page of `limit`).
pub async fn list_deliveries(
    deps: &LeverContext,
    connection: Option<&ConnectionId>,
    status: Option<DeliveryStatus>,
    limit: usize,
) -> Result<Vec<Delivery>, StoreError> {
    let connections = match connection {
        Some(c) => vec![c.clone()],
        None => deps.connections.connections().await?.into_iter().map(|c| c.id).collect(),
    };
    let statuses = status.map_or(DeliveryStatus::ALL.to_vec(), |s| vec![s]);
    let mut out = Vec::new();
    for c in &connections {
        for st in &statuses {
            out.extend(deps.webhooks.deliveries(c, *st, limit, None).await?.items);
        }
    }
    out.sort_by(|a, b| b.received_at_ms.cmp(&a.received_at_ms).then(b.webhook_id.cmp(&a.webhook_id)));
    out.truncate(limit);
    Ok(out)
}

/// How many deliveries of `connection` are in `status` (counted a page at a time, up to `cap`).
pub async fn count_deliveries(
    deps: &LeverContext,
    connection: &ConnectionId,
    status: DeliveryStatus,
    cap: usize,
) -> Result<usize, StoreError> {
    let (mut n, mut after) = (0, None);
    loop {
        let page = deps.webhooks.deliveries(connection, status, 500.min(cap - n).max(1), after.as_ref()).await?;
        n += page.items.len();
        match page.next {
            Some(next) if n < cap => after = Some(next),
            _ => return Ok(n.min(cap)),
        }
    }
}
