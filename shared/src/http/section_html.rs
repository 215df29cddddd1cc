//! The Lever section's HTML (maud: every value is escaped; links from a feed or a webhook are
//! used as links only when they are http(s)).
use maud::{DOCTYPE, Markup, html};

use crate::domain::{ConnectionStatus, DeliveryStatus, JobMapping};
use crate::usecases::section::{CandidateRow, SectionView};

/// A link only for http(s) URLs (a `javascript:` link from a feed must never be clickable).
fn safe_url(u: &str) -> Option<&str> {
    let l = u.trim_start().to_ascii_lowercase();
    (l.starts_with("https://") || l.starts_with("http://")).then_some(u)
}

fn when(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| t.format(&time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC")).ok())
        .unwrap_or_else(|| "-".into())
}

pub fn layout(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · XOR for Lever" }
                link rel="stylesheet" href="/assets/section.css";
                script src="/assets/section.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top { p { "XOR for Lever" } }
                main #main { (body) }
            }
        }
    }
    .into_string()
}

/// A page that only says something (an error, a refusal).
pub fn message(title: &str, text: &str) -> String {
    layout(title, html! { h1 { (title) } section.card { p { (text) } } })
}

/// The page; with "Which jobs go to XOR" (the postings, and a preview when one was asked) for
/// a connected connection.
pub fn section_with(
    v: &SectionView,
    path: &str,
    postings: Option<(
        &crate::usecases::section::filter::PostingsView,
        Option<&crate::usecases::section::filter::Preview>,
    )>,
) -> String {
    let body = html! {
        h1 { "XOR integration" }
        p.muted { "Connection " code { (v.connection.id) } }
        section.card aria-labelledby="status-h" {
            h2 #status-h { "Status" }
            (status(v))
            (facts(v))
        }
        @if v.can_connect { (note(v, path)) }
        (jobs(v, path))
        @if let Some((p, preview)) = postings { (super::section_filter::card(&v.csrf, path, p, preview)) }
        (candidates(v, path))
        (disconnect(v, path))
    };
    layout("XOR integration", body)
}

/// The connection's status, and what to do about it.
fn status(v: &SectionView) -> Markup {
    let status = v.connection.status;
    let (label, class) = match status {
        ConnectionStatus::Pending => ("Not connected", "status-pending"),
        ConnectionStatus::Connected => ("Connected", "status-connected"),
        ConnectionStatus::Revoked => ("Revoked in Lever", "status-revoked"),
        ConnectionStatus::Disabled => ("Disabled", "status-disabled"),
    };
    html! {
        p.status.(class) #status data-status=(status.as_str()) { span.dot aria-hidden="true" {} (label) }
        @match status {
            ConnectionStatus::Pending | ConnectionStatus::Revoked => {
                @if status == ConnectionStatus::Revoked {
                    p { "XOR's access to Lever was revoked, so jobs and candidates no longer flow. Screened candidates received meanwhile are kept and sent on, once each, when a Super Admin connects again." }
                } @else {
                    p { "Connect Lever so that your published jobs get an XOR chatbot, and candidates who pass XOR's screening appear in Lever." }
                }
                @if v.can_connect {
                    a.btn.btn-green #connect href="#connect-note" { "Connect" }
                } @else {
                    p { "To connect, open the connect link your XOR contact sent you (it is for a Lever Super Admin)." }
                }
            }
            ConnectionStatus::Connected if v.can_connect => {
                p { a.btn.btn-green #connect href="#connect-note" { "Authorize again" } }
            }
            ConnectionStatus::Disabled => {
                p { "XOR is disabled for this account: nothing is sent to XOR or to Lever. Screened candidates that arrive are kept. Ask your XOR contact to enable it again." }
            }
            ConnectionStatus::Connected => {}
        }
    }
}

/// Who authorized, where the account lives, until when, and the last sync.
fn facts(v: &SectionView) -> Markup {
    let c = &v.connection;
    html! {
        dl.facts {
            @if let Some(by) = &c.lever.authorized_by {
                dt { "Authorized by" } dd { (user(c.lever.authorized_by_name.as_deref(), by)) @if let Some(at) = c.lever.authorized_at { ", " (when(at * 1000)) } }
            }
            @if let Some(a) = &c.lever.account_id { dt { "Lever account" } dd { (a) } }
            dt { "Lever region" } dd #lever-region { (c.lever.env.region()) }
            @if let Some(end) = c.lever.authorization_ends_at().filter(|_| c.status == ConnectionStatus::Connected) {
                dt { "Authorization ends" }
                dd #authorization-ends {
                    (when(end * 1000))
                    @if v.renewal_due {
                        strong { " — Lever ends every authorization after a year: a Super Admin must authorize again before then (ask your XOR contact for a connect link)." }
                    }
                }
            }
            @if let Some(u) = &c.lever.perform_as { dt { "Candidates created as" } dd { (user(c.lever.perform_as_name.as_deref(), u)) } }
            @if c.status == ConnectionStatus::Connected {
                dt { "Outcomes to XOR" }
                dd #lever-webhooks {
                    @if v.lever_webhooks > 0 && v.lever_events_seen {
                        (v.lever_webhooks) " Lever webhooks registered; Lever's events are arriving."
                    } @else if v.lever_webhooks > 0 {
                        (v.lever_webhooks) " Lever webhooks registered, no event yet. For XOR to learn what becomes of its candidates, a Super Admin switches them on in Lever: Settings → Integrations and API → Webhooks (Candidate Stage Change, Candidate Hired, Candidate Archive State Change, Candidate Deleted)."
                    } @else {
                        "Not registered: this authorization predates them. Authorize again (ask your XOR contact for a connect link) so XOR learns what becomes of its candidates."
                    }
                }
            }
            dt { "Job feed" } dd { (c.feed_url) }
            dt { "Last sync" }
            dd #last-sync {
                @match &v.last_run {
                    None => "not yet",
                    Some(r) => {
                        (when(r.finished_at_ms)) " — " (last_sync(v, r))
                    }
                }
            }
        }
    }
}

/// A Lever user as a Super Admin recognises them: name and email (read at connect time), the
/// id aside; the id alone when Lever did not say.
fn user(name: Option<&str>, id: &str) -> Markup {
    html! {
        @match name {
            Some(n) => { (n) " " span.muted { "(Lever user " (id) ")" } }
            None => { "Lever user " (id) }
        }
    }
}

/// What XOR holds after the last sync, then what the run changed: "4 jobs in XOR, nothing
/// changed (feed unchanged)" reads as published, where "0 created, 0 updated" read as nothing.
fn last_sync(v: &SectionView, r: &crate::domain::SyncRun) -> String {
    let s = &r.summary;
    let held =
        if s.filtered > 0 { format!("; {} postings held back by your job filter", s.filtered) } else { String::new() };
    let jobs = format!("{} job{} in XOR", v.jobs_active, if v.jobs_active == 1 { "" } else { "s" });
    let changed = match &r.outcome {
        crate::domain::RunOutcome::NotModified => "nothing changed (feed unchanged)".to_owned(),
        o @ (crate::domain::RunOutcome::FeedError { .. } | crate::domain::RunOutcome::Error { .. }) => o.label(),
        _ if s.created + s.updated + s.closed + s.failed == 0 => "nothing changed".to_owned(),
        o => {
            let failed = if s.failed > 0 { format!(", {} failed (retried next run)", s.failed) } else { String::new() };
            format!("{} created, {} updated, {} closed{failed} ({})", s.created, s.updated, s.closed, o.label())
        }
    };
    format!("{jobs}, {changed}{held}")
}

/// How to disconnect in Lever, and the Disable button (with its confirmation).
fn disconnect(v: &SectionView, path: &str) -> Markup {
    html! {
        section.card aria-labelledby="disable-h" {
            h2 #disable-h { "How to disconnect" }
            p { "In Lever, a Super Admin goes to " strong { "Settings → Integrations and API → Authorized Apps" } ", finds XOR and clicks " strong { "Revoke Access" } ". XOR then stops reading and writing in Lever; this page shows \"Revoked in Lever\"." }
            @if matches!(v.connection.status, ConnectionStatus::Connected | ConnectionStatus::Revoked) {
                p { "You can also switch XOR off here: nothing is sent to XOR or Lever until your XOR contact enables it again." }
                a.btn.btn-red #disable href="#disable-note" { "Disable XOR…" }
                div.modal #disable-note role="dialog" aria-modal="true" aria-labelledby="disable-h2" {
                    div.modal-box {
                        h2 #disable-h2 tabindex="-1" { "Disable XOR for this account?" }
                        p { "Jobs stop flowing to XOR and candidates stop flowing to Lever. Screened candidates that arrive meanwhile are kept. Only your XOR contact can enable it again." }
                        form.actions method="post" action={ (path) "/disable" } {
                            input type="hidden" name="csrf" value=(v.csrf);
                            button.btn.btn-red #disable-confirm type="submit" { "Disable" }
                            a href="#disable-h" data-back="disable" { "Cancel" }
                        }
                    }
                }
            }
        }
    }
}

fn note(v: &SectionView, path: &str) -> Markup {
    html! {
        div.modal #connect-note role="dialog" aria-modal="true" aria-labelledby="note-h" {
            div.modal-box {
                h2 #note-h tabindex="-1" { "Connect XOR to Lever" }
                p { "You are connecting Lever to XOR for the connection " strong { (v.connection.id) } ". You will be taken to Lever to sign in and authorize XOR. Only a Lever " strong { "Super Admin" } " can connect it; the candidates it adds are created as you." }
                h3 { "What XOR will do in Lever" }
                ul #permissions {
                    @for (scope, why) in v.permissions {
                        li { (why) " " span.muted { "(" code { (scope) } ")" } }
                    }
                }
                p { "XOR reads your published jobs from your Lever job feed to create a chatbot for each." }
                h3 { "How to disconnect later" }
                p { "Settings → Integrations and API → Authorized Apps → XOR → Revoke Access." }
                form.actions method="post" action={ (path) "/connect" } {
                    input type="hidden" name="csrf" value=(v.csrf);
                    button.btn.btn-blue #authorize type="submit" { "Connect" }
                    a href="#status-h" data-back="connect" { "Cancel" }
                }
            }
        }
    }
}

fn link_cell(label: &str, url: Option<&str>, what: &str, title: &str) -> Markup {
    html! {
        td.link data-label=(label) {
            @match url {
                Some(u) => @match safe_url(u) {
                    Some(u) => {
                        a href=(u) rel="noopener noreferrer" target="_blank" { (u) } " "
                        button.btn.btn-quiet type="button" data-copy=(u) aria-label={ "Copy the " (what) " of " (title) } { "Copy" }
                    }
                    None => span { (u) },
                },
                None => span.muted { "-" },
            }
        }
    }
}

fn job_row(m: &JobMapping) -> Markup {
    html! {
        tr {
            td data-label="Title" { (m.title) }
            td data-label="Location" { (m.location.as_deref().unwrap_or("-")) }
            td data-label="XOR job id" { code { (m.xor_job_id) } }
            (link_cell("Chatbot link", m.chatbot_url.as_deref(), "chatbot link", &m.title))
            (link_cell("Webchat link", m.webchat_url.as_deref(), "webchat link", &m.title))
            td data-label="Status" { @if m.is_active() { "active" } @else { "closed" } }
        }
    }
}

fn jobs(v: &SectionView, path: &str) -> Markup {
    let page_link = |p: usize| {
        let mut q = vec![format!("page={p}")];
        if !v.q.is_empty() {
            q.insert(0, format!("q={}", crate::url::enc(&v.q)));
        }
        format!("{path}?{}#jobs-h", q.join("&"))
    };
    html! {
        section.card aria-labelledby="jobs-h" {
            h2 #jobs-h { "Jobs in XOR" }
            @if v.jobs_total == 0 {
                p { "No jobs yet: they appear here after the first sync of your job feed." }
            } @else {
                form.search method="get" action=(path) role="search" {
                    label for="q" { "Search jobs" }
                    input #q type="search" name="q" value=(v.q) placeholder="title, location or job id";
                    button.btn.btn-blue type="submit" { "Search" }
                }
                p #jobs-count { (v.jobs_matching) " of " (v.jobs_total) " jobs (" (v.jobs_active) " active)" }
                @if v.jobs_matching == 0 { p { "No job matches “" (v.q) "”." } }
                div.table-wrap {
                    table #jobs {
                        caption.visually-hidden { "Jobs in XOR with their chatbot and webchat links" }
                        thead { tr {
                            th scope="col" { "Title" } th scope="col" { "Location" } th scope="col" { "XOR job id" }
                            th scope="col" { "Chatbot link" } th scope="col" { "Webchat link" } th scope="col" { "Status" }
                        } }
                        tbody { @for m in &v.jobs { (job_row(m)) } }
                    }
                }
                @if v.pages > 1 {
                    nav.pages aria-label="Job pages" {
                        @if v.page > 1 { a href=(page_link(v.page - 1)) rel="prev" { "Previous" } }
                        span { "Page " (v.page) " of " (v.pages) }
                        @if v.page < v.pages { a href=(page_link(v.page + 1)) rel="next" { "Next" } }
                    }
                }
            }
        }
    }
}

fn status_word(s: DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Completed => "in Lever",
        DeliveryStatus::Pending => "waiting: Lever or AWS was unavailable",
        DeliveryStatus::PendingReauth => "waiting for Lever to be connected",
        DeliveryStatus::Failed => "failed: XOR's team sees why; Replay tries again",
        DeliveryStatus::Received => "being processed",
        DeliveryStatus::Rejected => "rejected",
    }
}

fn candidates(v: &SectionView, path: &str) -> Markup {
    let row = |r: &CandidateRow, replay: bool| {
        html! {
            tr data-webhook=(r.webhook_id) {
                td data-label="Candidate" { (r.initials) }
                td data-label="Job" { (r.job) }
                td data-label="Received" { (when(r.received_at_ms)) }
                td data-label="Outcome" {
                    (status_word(r.status))
                    @if let Some(o) = &r.lever_outcome { br; span.muted { "In Lever: " (o) } }
                    }
                @if replay {
                    td data-label="Attempts" { (r.attempts) }
                    td {
                        form method="post" action={ (path) "/replay" } {
                            input type="hidden" name="csrf" value=(v.csrf);
                            input type="hidden" name="webhook_id" value=(r.webhook_id);
                            button.btn.btn-quiet type="submit" aria-label={ "Replay the delivery of " (r.initials) " for " (r.job) } { "Replay" }
                        }
                    }
                } @else {
                    td data-label="Lever" {
                        @if let Some(u) = r.opportunity_url.as_deref().and_then(safe_url) {
                            a href=(u) rel="noopener noreferrer" target="_blank" { "Open in Lever" }
                        }
                    }
                }
            }
        }
    };
    html! {
        section.card aria-labelledby="recent-h" {
            h2 #recent-h { "Candidates sent to Lever" }
            @if v.recent.is_empty() {
                p { "None yet." }
            } @else {
                div.table-wrap { table #recent {
                    caption.visually-hidden { "Recent candidates sent to Lever (initials only)" }
                    thead { tr { th scope="col" { "Candidate" } th scope="col" { "Job" } th scope="col" { "Received" } th scope="col" { "Outcome" } th scope="col" { "Lever" } } }
                    tbody { @for r in &v.recent { (row(r, false)) } }
                } }
            }
        }
        section.card aria-labelledby="waiting-h" {
            h2 #waiting-h { "Waiting or failed" }
            @if v.waiting.is_empty() {
                p { "Nothing waits." }
            } @else {
                p { "These screened candidates have not reached Lever yet. XOR and the schedule retry the waiting ones; Replay tries one now." }
                div.table-wrap { table #waiting {
                    caption.visually-hidden { "Deliveries that wait or failed" }
                    thead { tr { th scope="col" { "Candidate" } th scope="col" { "Job" } th scope="col" { "Received" } th scope="col" { "Outcome" } th scope="col" { "Attempts" } th scope="col" { span.visually-hidden { "Action" } } } }
                    tbody { @for r in &v.waiting { (row(r, true)) } }
                } }
            }
        }
    }
}
