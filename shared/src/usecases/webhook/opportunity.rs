//! The opportunity for a screening: adopt what an earlier attempt made, else check the posting,
//! assemble the candidate, the report and the resume, create it, and add the note.
use super::lever_call::{CallError, with_token};
use super::{Done, LeverContext, Outcome};
use std::sync::Arc;

use crate::domain::ats::{FileKind, FileUpload, NewOpportunity, Opportunity, OpportunityFilter, Phone};
use crate::domain::webhook::{ScreeningPassed, redact_email};
use crate::domain::*;
use crate::report::{Report, render};

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

/// What the steps of one create share: the delivery's context, and what the mapping lookup and
/// the contact checks found.
struct Create<'a> {
    deps: &'a LeverContext,
    conn: &'a Connection,
    s: &'a ScreeningPassed,
    deadline_ms: i64,
    mapping: JobMapping,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    perform_as: String,
    lever: Arc<dyn Ats>,
    posting_id: String,
    note: String,
}

/// The create, step by step (docs/webhook.md): the mapping lookup, the contact checks, the
/// adoption of an opportunity a lost create made, the posting check, the resume fetch, the
/// report, the create, the note.
pub(super) async fn attempt_create(
    deps: &LeverContext,
    conn: &Connection,
    s: &ScreeningPassed,
    attempt: u32,
    first_seen_ms: i64,
    deadline_ms: i64,
) -> Outcome {
    let mapping = match mapping_lookup(deps, conn, s, deadline_ms).await {
        Ok(m) => m,
        Err(outcome) => return outcome,
    };
    let c = match contact_checks(deps, conn, s, deadline_ms, mapping) {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    // Lever creates are not idempotent: any attempt after the first looks before it creates (and
    // before anything else: the posting may have closed since the create whose answer was lost).
    if attempt > 1 {
        match adoption(&c, first_seen_ms).await {
            Ok(Some(done)) => return Outcome::Completed(done),
            Ok(None) => {}
            Err(e) => return e.into(),
        }
    }
    if let Err(outcome) = posting_check(&c).await {
        return outcome;
    }
    let (resume_file, resume_note) = resume_fetch(&c).await;
    let mut files = vec![report_pdf(&report(&c, resume_note))];
    files.extend(resume_file);
    let o = match create(&c, &files).await {
        Ok(o) => o,
        Err(e) => return e.into(),
    };
    if super::crashed(deps, "after_create") {
        return Outcome::Crashed;
    }
    let remark = add_note(&c, &o.id).await;
    let url = o.urls.and_then(|u| u.show);
    Outcome::Completed(Done { opportunity: o.id, url, remark })
}

/// The mapping lookup: the Lever posting of the screening's XOR job.
async fn mapping_lookup(
    deps: &LeverContext,
    conn: &Connection,
    s: &ScreeningPassed,
    deadline_ms: i64,
) -> Result<JobMapping, Outcome> {
    match deps.mappings.mapping_by_xor_job(&conn.id, &s.job_id).await {
        Ok(Some(m)) => Ok(m),
        // XOR made the job but its mapping is not written (yet): XOR is asked.
        Ok(None) => super::unmapped::repair(deps, conn, &s.job_id, s.external_job_id.as_deref(), deadline_ms).await,
        Err(e) => Err(Outcome::Pending(format!("job mappings unavailable: {e}"))),
    }
}

/// The contact checks: an email or a phone to create the candidate with, and a Lever user to
/// act as; then what the later steps share.
fn contact_checks<'a>(
    deps: &'a LeverContext,
    conn: &'a Connection,
    s: &'a ScreeningPassed,
    deadline_ms: i64,
    mapping: JobMapping,
) -> Result<Create<'a>, Outcome> {
    let email = s.candidate.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let phone = s.candidate.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
    if email.is_none() && phone.is_none() {
        return Err(Outcome::Failed("the candidate has neither an email nor a phone: Lever cannot create them".into()));
    }
    let Some(perform_as) = conn.lever.perform_as.clone() else {
        return Err(Outcome::Failed("the connection has no Lever user to act as (perform_as)".into()));
    };
    let lever = deps.lever_for(conn);
    let posting_id = mapping.posting_id.to_string();
    let note = screening_note(s, &mapping.title);
    Ok(Create { deps, conn, s, deadline_ms, mapping, email, phone, perform_as, lever, posting_id, note })
}

/// The adoption of an opportunity a lost create made: `Some` when one is found (it gets the note
/// unless the earlier attempt added it).
async fn adoption(c: &Create<'_>, first_seen_ms: i64) -> Result<Option<Done>, CallError> {
    // Looked for by the documented filters (the posting, created since the screening could have
    // been delivered), then the screening's transcript link, the email, or, for a candidate with
    // no email, the phone (Lever dedupes people by email only). Source XOR is checked here, in
    // any case: an account may already spell it `xor`, and whether the `source` filter ignores
    // case is not documented.
    let filter = OpportunityFilter {
        email: c.email.map(str::to_owned),
        posting_id: Some(c.posting_id.clone()),
        source: None,
        created_at_start: Some(adoption_since(c.s, first_seen_ms)),
    };
    let lever = &c.lever;
    let list = with_token(c.deps, c.conn, &**lever, c.deadline_ms, |t| {
        let (lever, f) = (lever.clone(), filter.clone());
        async move { lever.find_opportunities(&t, &f).await }
    })
    .await?;
    let (email, phone) = (c.email, c.phone);
    let transcript = c.s.screening.transcript_url.as_deref().filter(|u| !u.is_empty());
    let same_person = |o: &&Opportunity| {
        transcript.is_some_and(|t| o.has_link(t))
            || match email {
                Some(e) => o.has_email(e),
                None => phone.is_some_and(|p| o.has_phone(p)),
            }
    };
    let Some(o) = list.iter().filter(|o| o.has_posting(&c.posting_id) && o.has_source("XOR")).find(same_person) else {
        return Ok(None);
    };
    tracing::info!(connection = %c.conn.id, candidate = %c.s.candidate_id, email = %email.map(redact_email).unwrap_or_default(), opportunity = %o.id, "adopted the opportunity a previous attempt created");
    let remark = ensure_note(c, &o.id).await;
    Ok(Some(Done { opportunity: o.id.clone(), url: None, remark }))
}

/// Where the adoption's listing starts: the adoption window before the screening completed (or
/// the delivery arrived, when that is earlier or the screening gives no time).
fn adoption_since(s: &ScreeningPassed, first_seen_ms: i64) -> i64 {
    s.screening
        .completed_at
        .as_deref()
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .map_or(first_seen_ms, |t| ((t.unix_timestamp_nanos() / 1_000_000) as i64).min(first_seen_ms))
        - ADOPTION_WINDOW_MS
}

/// The posting check: the posting must be open in Lever.
async fn posting_check(c: &Create<'_>) -> Result<(), Outcome> {
    // The feed lists only published postings: while the last clean sync (or a 304 after one) is
    // recent and the mapping is active, the posting is open without asking Lever.
    let now = (c.deps.clock)();
    let known_open = c.mapping.is_active()
        && c.conn.feed.last_run_clean
        && c.conn.feed.confirmed_at_ms.is_some_and(|t| now - t < POSTING_KNOWLEDGE_MS);
    if known_open {
        return Ok(());
    }
    let (lever, posting_id) = (&c.lever, &c.posting_id);
    let posting = match with_token(c.deps, c.conn, &**lever, c.deadline_ms, |t| {
        let (lever, id) = (lever.clone(), posting_id.clone());
        async move { lever.posting(&t, &id).await }
    })
    .await
    {
        Ok(p) => p,
        Err(CallError::Lever(LeverError::Rejected { status: 404, .. })) => {
            return Err(Outcome::Failed(format!("posting {posting_id} does not exist in Lever")));
        }
        Err(e) => return Err(e.into()),
    };
    if !posting.is_open() {
        return Err(Outcome::Failed(format!(
            "posting {posting_id} is {} in Lever: candidates cannot be added",
            posting.state.as_deref().unwrap_or("closed")
        )));
    }
    Ok(())
}

/// The resume fetch: the file to attach (when its bytes are a type Lever accepts), and what the
/// report says about the resume.
async fn resume_fetch(c: &Create<'_>) -> (Option<FileUpload>, String) {
    let Some(url) = c.s.candidate.resume_url.as_deref().filter(|u| !u.trim().is_empty()) else {
        return (None, "none provided".to_owned());
    };
    let deps = c.deps;
    // At most half of what is left: the create and the note need the rest.
    match deps.files.fetch(url, super::lever_call::time_left(deps, c.deadline_ms) / 2).await {
        Ok(f) => match crate::domain::ats::resume_type(&f.bytes) {
            Some(t) => {
                let f = FileUpload {
                    kind: FileKind::Resume,
                    name: crate::domain::ats::resume_file_name(&f.name, t),
                    content_type: t.mime.to_owned(),
                    bytes: f.bytes,
                };
                let note = format!("attached ({})", f.name);
                (Some(f), note)
            }
            None => {
                tracing::warn!(declared = %f.content_type, bytes = f.bytes.len(), "resume not attached: not a type Lever accepts");
                crate::metrics::count(|s| s.resume_failures += 1);
                (None, format!("not attached (unsupported type); XOR's link: {url}"))
            }
        },
        Err(why) => {
            // The reason stays in the log: the recruiter's PDF says one fixed phrase, so a
            // link cannot learn what answered (or did not) inside a network from it.
            tracing::warn!(host = %link_host(url), reason = %why, "resume not downloaded");
            crate::metrics::count(|s| s.resume_failures += 1);
            (None, format!("not attached (could not be downloaded); XOR's link: {url}"))
        }
    }
}

/// The report: what the PDF says, `resume` being what became of the resume.
fn report(c: &Create<'_>, resume: String) -> Report {
    let s = c.s;
    Report {
        candidate_name: s.candidate.full_name(),
        email: c.email.map(str::to_owned),
        phone: c.phone.map(str::to_owned),
        location: s.candidate.location.clone(),
        linkedin_url: s.candidate.linkedin_url.clone(),
        job_title: c.mapping.title.clone(),
        posting_id: c.posting_id.clone(),
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
        resume,
        footer: format!(
            "Sent to Lever by xor-lever for connection {}. XOR candidate {}, XOR job {}.",
            c.conn.id, s.candidate_id, s.job_id
        ),
    }
}

/// The report rendered, as the opportunity's file (the time it took goes to the delivery's
/// metrics).
fn report_pdf(report: &Report) -> FileUpload {
    FileUpload {
        kind: FileKind::Other,
        name: "xor-screening-report.pdf".into(),
        content_type: "application/pdf".into(),
        bytes: {
            let started = std::time::Instant::now();
            let pdf = render(report);
            let ms = started.elapsed().as_millis() as u64;
            crate::metrics::count(|s| s.report_ms += ms);
            pdf
        },
    }
}

/// The create: the opportunity, as the connection's `perform_as` user, owned by the posting's
/// owner unless the admin keeps candidates.
async fn create(c: &Create<'_>, files: &[FileUpload]) -> Result<Opportunity, CallError> {
    let new = new_opportunity(c);
    let as_posting_owner = !c.conn.lever.admin_owns_candidates;
    let (lever, perform_as) = (&c.lever, &c.perform_as);
    with_token(c.deps, c.conn, &**lever, c.deadline_ms, |t| {
        let (lever, perform_as, new, files) = (lever.clone(), perform_as.clone(), new.clone(), files.to_vec());
        async move { lever.create_opportunity(&t, &perform_as, as_posting_owner, &new, &files).await }
    })
    .await
}

/// The candidate as Lever's create takes them.
fn new_opportunity(c: &Create<'_>) -> NewOpportunity {
    let s = c.s;
    NewOpportunity {
        name: s.candidate.full_name(),
        location: s.candidate.location.clone(),
        emails: c.email.map(|e| vec![e.to_owned()]).unwrap_or_default(),
        phones: c.phone.map(|p| vec![Phone { kind: "mobile".into(), value: p.to_owned() }]).unwrap_or_default(),
        links: [s.candidate.linkedin_url.clone(), s.screening.transcript_url.clone()]
            .into_iter()
            .flatten()
            .filter(|l| !l.is_empty())
            .collect(),
        tags: vec!["xor".into()],
        sources: vec!["XOR".into()],
        origin: c.conn.lever.origin.clone(),
        postings: vec![c.posting_id.clone()],
        stage: c.conn.lever.stage.clone(),
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
async fn add_note(c: &Create<'_>, opportunity: &str) -> Option<String> {
    let added = with_token(c.deps, c.conn, &*c.lever, c.deadline_ms, |t| {
        let (lever, perform_as, opportunity, note) =
            (c.lever.clone(), c.perform_as.clone(), opportunity.to_owned(), c.note.clone());
        async move { lever.add_note(&t, &perform_as, &opportunity, &note).await }
    })
    .await;
    match added {
        Ok(()) => None,
        Err(e) => {
            // Tokens from before the note scope: Lever refuses; a new authorization grants it.
            let hint = match &e {
                CallError::Lever(LeverError::Forbidden { .. }) => {
                    " — the connection must be authorized again to grant notes:write:admin"
                }
                _ => "",
            };
            let why = e.reason();
            tracing::warn!(connection = %c.conn.id, opportunity, reason = %why, "the screening note could not be added");
            Some(format!("the screening note could not be added ({why}){hint}; the attached report has the same"))
        }
    }
}

/// On an adopted opportunity: adds the note unless the earlier attempt did.
async fn ensure_note(c: &Create<'_>, opportunity: &str) -> Option<String> {
    let texts = with_token(c.deps, c.conn, &*c.lever, c.deadline_ms, |t| {
        let (lever, opportunity) = (c.lever.clone(), opportunity.to_owned());
        async move { lever.note_texts(&t, &opportunity).await }
    })
    .await;
    match texts {
        Ok(t) if t.iter().any(|x| x.starts_with(NOTE_HEADING)) => None,
        Ok(_) => add_note(c, opportunity).await,
        // Unknown whether the earlier attempt added it: no second note on a guess.
        Err(e) => Some(format!(
            "could not tell whether the screening note was added ({}); the attached report has it",
            e.reason()
        )),
    }
}

/// The host of a link, for the log (its path and query may carry an expiring token).
fn link_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or_default().rsplit('@').next().unwrap_or_default()
}
