//! What the Lever section shows: the connection's state, its last sync, its jobs in XOR (searched
//! and paged), the candidates sent to Lever lately, and the deliveries that wait or failed.
use std::collections::HashMap;

use super::{SectionError, Session, unavailable};
use crate::domain::webhook::{Event, parse_event};
use crate::domain::*;
use crate::usecases::context::LeverContext;

pub const JOBS_PER_PAGE: usize = 50;
/// How many recent candidates, and waiting or failed deliveries, the page lists.
const RECENT: usize = 20;
const WAITING: usize = 50;

/// The job list's search and page (1-based), from the page's query string.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    pub q: Option<String>,
    pub page: usize,
}

pub struct SectionView {
    pub connection: Connection,
    /// The session may start the Lever authorization (it came from a live invitation).
    pub can_connect: bool,
    pub last_run: Option<SyncRun>,
    /// This page of the jobs that match the search; active ones first, then by title.
    pub jobs: Vec<JobMapping>,
    /// Jobs that match the search; all jobs of the connection.
    pub jobs_matching: usize,
    pub jobs_total: usize,
    pub jobs_active: usize,
    pub page: usize,
    pub pages: usize,
    pub q: String,
    /// Completed deliveries, newest first.
    pub recent: Vec<CandidateRow>,
    /// Pending, waiting for reauthorization, failed, or stuck in `received`: newest first.
    pub waiting: Vec<CandidateRow>,
    /// The ATS origin the connect form may send the browser to (for the page's CSP).
    pub lever_origin: String,
    /// What the authorization asks for in the ATS, and why.
    pub permissions: &'static [(&'static str, &'static str)],
    /// The form field every POST must carry.
    pub csrf: String,
    /// Lever ends the authorization within 30 days: the page says to authorize again.
    pub renewal_due: bool,
    /// Lever webhooks registered for the connection (issue 25): what becomes of XOR's
    /// candidates in Lever can flow back to XOR once a Super Admin switches them on.
    pub lever_webhooks: usize,
    /// Whether any of Lever's events has arrived (until one has, the page says which switches
    /// to turn on in Lever).
    pub lever_events_seen: bool,
}

/// One delivery as a recruiter may see it: initials only.
pub struct CandidateRow {
    pub webhook_id: String,
    pub initials: String,
    pub job: String,
    /// (The delivery's reason stays for operators: it may quote Lever or a store.)
    pub status: DeliveryStatus,
    pub opportunity_url: Option<String>,
    pub opportunity_id: Option<String>,
    pub received_at_ms: i64,
    pub attempts: u32,
    /// What became of them in Lever, as last told to XOR (`hired`, `stage_changed: Phone screen`).
    pub lever_outcome: Option<String>,
}

pub async fn view(deps: &LeverContext, s: &Session, query: &JobQuery) -> Result<SectionView, SectionError> {
    let id = ConnectionId::parse(&s.c).map_err(|_| SectionError::NoAccess)?;
    let connection = deps.connections.connection(&id).await.map_err(unavailable)?.ok_or(SectionError::NoAccess)?;
    let last_run = deps.runs.runs(&id, 1).await.map_err(unavailable)?.into_iter().next();
    let all = deps.mappings.mappings(&id).await.map_err(unavailable)?;
    let titles: HashMap<String, String> = all.iter().map(|m| (m.xor_job_id.clone(), m.title.clone())).collect();
    let jobs = JobsPage::of(all, query);
    let ats = deps.lever_for(&connection);
    let (mut recent, waiting, lever_events_seen) = candidates(deps, &id, &titles, &*ats).await?;
    outcomes(deps, &id, &mut recent).await;
    let lever_origin = origin(&ats.authorize_url("", "", ""));
    // Connect (or authorize again, e.g. for a new permission) while the invitation is live.
    let can_connect = match &s.i {
        Some(hash) if connection.status != ConnectionStatus::Disabled => {
            crate::usecases::connect::live_invitation(deps, &id, hash, (deps.clock)()).await.is_ok()
        }
        _ => false,
    };
    let renewal_due = connection.lever.renewal_due((deps.clock)() / 1000);
    let lever_webhooks = crate::usecases::connect::subscribe::stored(deps, &id).await.map_or(0, |h| h.len());
    Ok(SectionView {
        renewal_due,
        lever_webhooks,
        lever_events_seen,
        connection,
        can_connect,
        last_run,
        jobs: jobs.jobs,
        jobs_matching: jobs.matching,
        jobs_total: jobs.total,
        jobs_active: jobs.active,
        page: jobs.page,
        pages: jobs.pages,
        q: jobs.q,
        recent,
        waiting,
        lever_origin,
        permissions: ats.permissions(),
        csrf: s.csrf.clone(),
    })
}

/// One page of the jobs list: searched (title, location, ids), active first, then by title.
struct JobsPage {
    jobs: Vec<JobMapping>,
    matching: usize,
    total: usize,
    active: usize,
    page: usize,
    pages: usize,
    q: String,
}

impl JobsPage {
    fn of(mut all: Vec<JobMapping>, query: &JobQuery) -> Self {
        let total = all.len();
        let active = all.iter().filter(|m| m.is_active()).count();
        let q = query.q.as_deref().map(str::trim).unwrap_or_default().to_owned();
        if !q.is_empty() {
            let needle = q.to_lowercase();
            all.retain(|m| {
                [Some(&m.title), m.location.as_ref(), Some(&m.xor_job_id), Some(&m.posting_id.to_string())]
                    .into_iter()
                    .flatten()
                    .any(|f| f.to_lowercase().contains(&needle))
            });
        }
        all.sort_by(|a, b| b.is_active().cmp(&a.is_active()).then_with(|| a.title.cmp(&b.title)));
        let matching = all.len();
        let pages = matching.div_ceil(JOBS_PER_PAGE).max(1);
        let page = query.page.clamp(1, pages);
        let jobs = all.into_iter().skip((page - 1) * JOBS_PER_PAGE).take(JOBS_PER_PAGE).collect();
        Self { jobs, matching, total, active, page, pages, q }
    }
}

/// The recent candidates (completed) and those waiting (pending, for a new authorization,
/// failed, or just received), newest first.
async fn candidates(
    deps: &LeverContext,
    id: &ConnectionId,
    titles: &HashMap<String, String>,
    ats: &dyn crate::domain::Ats,
) -> Result<(Vec<CandidateRow>, Vec<CandidateRow>, bool), SectionError> {
    let row = |d: Delivery| candidate_row(d, titles, ats);
    // Lever's events share the deliveries' listing: read a few more, keep the screenings.
    let is_lever = crate::usecases::webhook::lever_events::is_lever_event;
    let completed =
        deps.webhooks.deliveries(id, DeliveryStatus::Completed, RECENT * 4, None).await.map_err(unavailable)?;
    let mut seen = completed.items.iter().any(is_lever);
    let mut recent: Vec<CandidateRow> = completed.items.into_iter().filter(|d| !is_lever(d)).map(row).collect();
    recent.truncate(RECENT);
    let mut waiting = Vec::new();
    for status in
        [DeliveryStatus::Pending, DeliveryStatus::PendingReauth, DeliveryStatus::Failed, DeliveryStatus::Received]
    {
        for d in deps.webhooks.deliveries(id, status, WAITING * 4, None).await.map_err(unavailable)?.items {
            seen |= is_lever(&d);
            if !is_lever(&d) {
                waiting.push(row(d));
            }
        }
    }
    recent.sort_by_key(|r| std::cmp::Reverse(r.received_at_ms));
    waiting.sort_by_key(|r| std::cmp::Reverse(r.received_at_ms));
    waiting.truncate(WAITING);
    Ok((recent, waiting, seen))
}

/// Each recent candidate's latest outcome in Lever (one link read each; a failure leaves it out:
/// the page is still useful without it).
async fn outcomes(deps: &LeverContext, id: &ConnectionId, recent: &mut [CandidateRow]) {
    for r in recent.iter_mut() {
        let Some(opp) = r.opportunity_id.clone() else { continue };
        if let Ok(Some(link)) = deps.candidates.link(id, &opp).await {
            r.lever_outcome = if link.erased_at_ms.is_some() { Some("erased".into()) } else { link.outcome };
        }
    }
}

/// A delivery as the page shows it: the candidate's initials, the job's title, Lever's link.
fn candidate_row(d: Delivery, titles: &HashMap<String, String>, ats: &dyn crate::domain::Ats) -> CandidateRow {
    let screening = match parse_event(&d.body) {
        Ok(Event::ScreeningPassed(s)) => Some(s),
        _ => None,
    };
    let initials = screening.as_ref().map(|s| initials(&s.candidate)).unwrap_or_else(|| "?".into());
    let job = screening
        .as_ref()
        .map(|s| titles.get(&s.job_id).cloned().unwrap_or_else(|| format!("XOR job {}", s.job_id)))
        .unwrap_or_else(|| "-".into());
    CandidateRow {
        opportunity_url: d
            .opportunity_url
            .clone()
            .or_else(|| d.opportunity_id.as_deref().map(|o| ats.opportunity_url(o))),
        webhook_id: d.webhook_id,
        initials,
        job,
        status: d.status,
        received_at_ms: d.received_at_ms,
        attempts: d.attempts,
        opportunity_id: d.opportunity_id,
        lever_outcome: None,
    }
}

/// "A. L.": a recruiter recognises the candidate in Lever; the page shows no more than that.
fn initials(c: &crate::domain::webhook::Candidate) -> String {
    let i: Vec<String> = [c.first_name.as_deref(), c.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter_map(|n| n.trim().chars().next())
        .map(|ch| format!("{}.", ch.to_uppercase()))
        .collect();
    if i.is_empty() { "?".into() } else { i.join(" ") }
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> String {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find(['/', '?', '#']).map_or(url.len(), |i| after + i);
    url[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_and_origins() {
        let c = crate::domain::webhook::Candidate {
            first_name: Some("ada".into()),
            last_name: Some("Lovelace".into()),
            ..Default::default()
        };
        assert_eq!(initials(&c), "A. L.");
        assert_eq!(initials(&Default::default()), "?");
        assert_eq!(origin("https://auth.lever.co/authorize?x=1"), "https://auth.lever.co");
        assert_eq!(origin("http://127.0.0.1:9/a"), "http://127.0.0.1:9");
    }
}
