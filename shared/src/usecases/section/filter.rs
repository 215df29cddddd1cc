//! "Which jobs go to XOR" on the Lever section (issue 26): every posting of the last feed read,
//! published or not and why, paged and searched server-side; a rule change previewed ("34 jobs
//! would be published, 12 closed in XOR") before it applies; a per-posting switch. Whoever holds
//! a live page link or session of the connection may change it (as Disable), and the change is
//! kept with the session's identity. Applying starts a sync.
use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::{LeverContext, SectionError, Session, unavailable};
use crate::domain::job_filter::{MAX_SWITCHES, values_present};
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
    let judge = f.judge();
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
        let verdict = judge.verdict_of(&e);
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

/// What `rules` would do, against the last feed read and what XOR has now: the sync's own
/// plan and mass-close guard (the day's high, what was closed since), so the preview says what
/// the next sync will do.
pub async fn preview(deps: &LeverContext, conn: &Connection, rules: Rules) -> Result<Preview, SectionError> {
    rules.check_bounds().map_err(|_| SectionError::BadForm)?;
    let catalog = deps.catalogs.catalog(&conn.id).await.map_err(unavailable)?;
    let mappings = deps.mappings.mappings(&conn.id).await.map_err(unavailable)?;
    let active: BTreeSet<String> =
        mappings.iter().filter(|m| m.is_active()).map(|m| m.posting_id.to_string()).collect();
    let proposed = JobFilter { rules: rules.clone(), ..conn.job_filter.clone() };
    let judge = proposed.judge();
    let mut p = Preview { rules, version: conn.job_filter.version, total: catalog.len(), ..Default::default() };
    let mut digests = Vec::new();
    for e in catalog {
        if !judge.verdict_of(&e).publishes() {
            if active.contains(&e.id) {
                p.closes.push(e);
            }
            continue;
        }
        p.published += 1;
        if let Ok(id) = PostingId::parse(&e.id) {
            // Only creates and closes matter here: an unchanged hash stands for every posting.
            let hash = mappings.iter().find(|m| m.posting_id == id).map(|m| m.content_hash.clone()).unwrap_or_default();
            digests.push(PostingDigest { id, hash });
        }
        if !active.contains(&e.id) {
            p.creates.push(e);
        }
    }
    let guard = GuardSettings {
        max_close_share: conn.max_close_share,
        peak: conn.feed.peak((deps.clock)()),
        force: conn.allow_mass_close,
        ..GuardSettings::default()
    };
    p.guard_holds = plan(&digests, &[], &mappings, guard).guard.is_some();
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
    let id = connected(deps, s).await?;
    rules.check_bounds().map_err(|_| SectionError::BadForm)?;
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

/// One posting switched `on`, `off`, or back to the rules (`auto`); starts a sync. The posting
/// must be one the page lists (the last feed's) or one XOR has; two quick switches of different
/// postings do not refuse each other (a conflict is retried on a fresh read).
pub async fn switch(deps: &LeverContext, s: &Session, posting: &str, state: &str) -> Result<JobFilter, SectionError> {
    let id = connected(deps, s).await?;
    let posting = PostingId::parse(posting).map_err(|_| SectionError::BadForm)?.to_string();
    if !matches!(state, "on" | "off" | "auto") || !known(deps, &id, &posting).await? {
        return Err(SectionError::BadForm);
    }
    let by = session_identity(s);
    for _ in 0..3 {
        let at = (deps.clock)();
        let result = change_filter(deps.connections.as_ref(), &id, &by, at, None, |f| {
            match state {
                "auto" => {
                    f.switches.remove(&posting);
                }
                _ if f.switches.len() >= MAX_SWITCHES && !f.switches.contains_key(&posting) => {}
                _ => {
                    f.switches.insert(posting.clone(), Switch { on: state == "on", by: by.clone(), at_ms: at });
                }
            }
            format!("posting {posting} switched {state} from the Lever section")
        })
        .await;
        match result {
            Err(FilterError::Conflict(_)) => continue,
            other => {
                let f = other.map_err(filter_error)?;
                start_sync(deps, &id).await;
                return Ok(f);
            }
        }
    }
    Err(SectionError::FilterChanged)
}

/// The session's connection, if it is connected (a filter changes what a sync does: nothing for
/// a connection that does not sync).
async fn connected(deps: &LeverContext, s: &Session) -> Result<ConnectionId, SectionError> {
    let id = ConnectionId::parse(&s.c).map_err(|_| SectionError::NoAccess)?;
    let conn = deps.connections.connection(&id).await.map_err(unavailable)?.ok_or(SectionError::NoAccess)?;
    if conn.status != ConnectionStatus::Connected {
        return Err(SectionError::NotConnected);
    }
    Ok(id)
}

/// Whether the posting is one the page lists or XOR has.
async fn known(deps: &LeverContext, id: &ConnectionId, posting: &str) -> Result<bool, SectionError> {
    let pid = PostingId::parse(posting).map_err(|_| SectionError::BadForm)?;
    if deps.mappings.mapping(id, &pid).await.map_err(unavailable)?.is_some() {
        return Ok(true);
    }
    Ok(deps.catalogs.catalog(id).await.map_err(unavailable)?.iter().any(|e| e.id == posting))
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
