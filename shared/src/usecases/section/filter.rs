//! "Which jobs go to XOR" on the Lever section (issue 26): every posting of the last feed read,
//! published or not and why, paged and searched server-side; a rule change previewed ("34 jobs
//! would be published, 12 closed in XOR") before it applies; a per-posting switch. Whoever holds
//! a live page link or session of the connection may change it (as Disable), and the change is
//! kept with the session's identity. Applying starts a sync.
use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::{LeverContext, SectionError, Session, unavailable};
use crate::domain::job_filter::values_present;
use crate::domain::*;
use crate::usecases::job_filter::{FilterError, change_filter};

/// Postings per page of the list.
pub const POSTINGS_PER_PAGE: usize = 50;

/// One posting as the list shows it.
#[derive(Debug, Clone)]
pub struct PostingRow {
    pub entry: CatalogEntry,
    pub published: bool,
    /// Why (`published`, `filtered: team "Finance" excluded`, `switched off by …`).
    pub reason: String,
    /// The posting's own switch, if a person set one.
    pub switch: Option<bool>,
}

/// The list, its page, and what the rule form offers.
#[derive(Debug, Clone, Default)]
pub struct PostingsView {
    pub rows: Vec<PostingRow>,
    pub total: usize,
    pub published: usize,
    pub matching: usize,
    pub page: usize,
    pub pages: usize,
    pub q: String,
    /// The values present in the feed, per dimension (the form's choices).
    pub values: BTreeMap<Dimension, Vec<String>>,
    pub filter: JobFilter,
}

/// What a proposed rule set would do, before it applies.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    pub rules: Rules,
    /// The filter's version the proposal was made from (applying refuses a newer one).
    pub version: u64,
    pub published: usize,
    pub total: usize,
    /// Postings that would close in XOR (published now, held back then) and be created.
    pub closes: Vec<CatalogEntry>,
    pub creates: Vec<CatalogEntry>,
    /// The mass-close guard would hold the closes (an operator's `sync --force` lets them).
    pub guard_holds: bool,
}

/// The list for `q` (title words) and `page`, under the connection's filter.
pub async fn postings(
    deps: &LeverContext,
    conn: &Connection,
    q: &str,
    page: usize,
) -> Result<PostingsView, SectionError> {
    let catalog = deps.catalogs.catalog(&conn.id).await.map_err(unavailable)?;
    let f = &conn.job_filter;
    let words = crate::domain::job_filter::fold(q);
    let mut v = PostingsView {
        total: catalog.len(),
        q: q.to_owned(),
        values: values_present(&catalog),
        filter: f.clone(),
        ..Default::default()
    };
    let mut rows: Vec<PostingRow> = Vec::new();
    for e in catalog {
        let verdict = f.verdict_of(&e);
        v.published += usize::from(verdict.publishes());
        if words.is_empty() || crate::domain::job_filter::fold(&e.title).contains(&words) {
            let switch = f.switches.get(&e.id).map(|s| s.on);
            rows.push(PostingRow { published: verdict.publishes(), reason: verdict.reason(), switch, entry: e });
        }
    }
    v.matching = rows.len();
    v.pages = rows.len().div_ceil(POSTINGS_PER_PAGE).max(1);
    v.page = page.clamp(1, v.pages);
    v.rows = rows.into_iter().skip((v.page - 1) * POSTINGS_PER_PAGE).take(POSTINGS_PER_PAGE).collect();
    Ok(v)
}

/// What `rules` would do, against the last feed read and what XOR has now.
pub async fn preview(deps: &LeverContext, conn: &Connection, rules: Rules) -> Result<Preview, SectionError> {
    let catalog = deps.catalogs.catalog(&conn.id).await.map_err(unavailable)?;
    let active: BTreeSet<String> = deps
        .mappings
        .mappings(&conn.id)
        .await
        .map_err(unavailable)?
        .into_iter()
        .filter(JobMapping::is_active)
        .map(|m| m.posting_id.to_string())
        .collect();
    let proposed = JobFilter { rules: rules.clone(), ..conn.job_filter.clone() };
    let mut p = Preview { rules, version: conn.job_filter.version, total: catalog.len(), ..Default::default() };
    for e in catalog {
        match (proposed.verdict_of(&e).publishes(), active.contains(&e.id)) {
            (true, true) => p.published += 1,
            (true, false) => {
                p.published += 1;
                p.creates.push(e);
            }
            (false, true) => p.closes.push(e),
            (false, false) => {}
        }
    }
    let guard = GuardSettings { max_close_share: conn.max_close_share, peak: active.len(), ..GuardSettings::default() };
    let allowed = guard.floor.max((guard.max_close_share * active.len() as f64).floor() as usize);
    p.guard_holds = !conn.allow_mass_close && p.closes.len() > allowed;
    Ok(p)
}

/// Who changed it, as the filter's history keeps it: the section session (a hash of its nonce:
/// the same browser session reads the same, and the nonce itself is never shown).
pub fn session_identity(s: &Session) -> String {
    let h = hex::encode(Sha256::digest(s.n.as_bytes()));
    format!("the Lever section (session {})", &h[..8])
}

/// Applies `rules` if the filter is still the version previewed; starts a sync.
pub async fn apply(deps: &LeverContext, s: &Session, rules: Rules, version: u64) -> Result<JobFilter, SectionError> {
    let id = ConnectionId::parse(&s.c).map_err(|_| SectionError::NoAccess)?;
    let by = session_identity(s);
    let what =
        format!("rules set from the Lever section ({} include, {} exclude)", rules.include.len(), rules.exclude.len());
    let f = change_filter(deps.connections.as_ref(), &id, &by, (deps.clock)(), Some(version), |f| {
        f.rules = rules;
        what
    })
    .await
    .map_err(filter_error)?;
    start_sync(deps, &id).await;
    Ok(f)
}

/// One posting switched `on`, `off`, or back to the rules (`auto`); starts a sync.
pub async fn switch(deps: &LeverContext, s: &Session, posting: &str, state: &str) -> Result<JobFilter, SectionError> {
    let id = ConnectionId::parse(&s.c).map_err(|_| SectionError::NoAccess)?;
    if posting.is_empty() || posting.len() > 200 || !matches!(state, "on" | "off" | "auto") {
        return Err(SectionError::BadForm);
    }
    let by = session_identity(s);
    let at = (deps.clock)();
    let f = change_filter(deps.connections.as_ref(), &id, &by, at, None, |f| {
        match state {
            "auto" => {
                f.switches.remove(posting);
            }
            _ => {
                f.switches.insert(posting.to_owned(), Switch { on: state == "on", by: by.clone(), at_ms: at });
            }
        }
        format!("posting {posting} switched {state} from the Lever section")
    })
    .await
    .map_err(filter_error)?;
    start_sync(deps, &id).await;
    Ok(f)
}

fn filter_error(e: FilterError) -> SectionError {
    match e {
        FilterError::NoConnection(_) => SectionError::NoAccess,
        FilterError::Conflict(_) => SectionError::FilterChanged,
        FilterError::Store(e) => unavailable(e),
    }
}

/// The change applies at the next sync: started now when the deployment can (a queued turn, a
/// background task), else at the schedule's.
async fn start_sync(deps: &LeverContext, id: &ConnectionId) {
    if let Some(t) = &deps.sync_trigger
        && let Err(e) = t.trigger(id).await
    {
        tracing::warn!(connection = %id, error = %e, "job filter changed; the sync starts at the schedule's next run");
    }
}
