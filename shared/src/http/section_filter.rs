//! "Which jobs go to XOR" on the Lever section (issue 26): the postings of the last feed read,
//! published or not and why, with a switch per row; the rule form, its preview and Apply. Every
//! form carries the session's CSRF field, as the page's other buttons do; no script is needed.
use std::collections::{BTreeMap, BTreeSet};

use axum::Extension;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};

use super::Base;
use super::section::{Posted, answered, path_of, posted, secure, see_other};
use crate::domain::{CatalogEntry, Dimension, Rules};
use crate::usecases::context::LeverContext;
use crate::usecases::section::filter::{self, PostingsView, Preview};
use crate::usecases::section::{JobQuery, SectionError};

fn one<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The rules the form states: `include_<dimension>` / `exclude_<dimension>` (a select's values,
/// or, for the title, comma-separated words).
fn rules_of(f: &[(String, String)]) -> Result<Rules, SectionError> {
    let mut r = Rules::default();
    for (k, v) in f {
        let (kind, dim) = match k.split_once('_') {
            Some((kind @ ("include" | "exclude"), dim)) => (kind, Dimension::parse(dim).ok_or(SectionError::BadForm)?),
            _ => continue,
        };
        let target = if kind == "include" { &mut r.include } else { &mut r.exclude };
        // A select's value is one value ("San Francisco, CA"); only title words are a list.
        let values: Vec<&str> = if dim == Dimension::Title { v.split(',').collect() } else { vec![v.as_str()] };
        for value in values.into_iter().map(str::trim).filter(|s| !s.is_empty()) {
            target.entry(dim).or_insert_with(BTreeSet::new).insert(value.to_owned());
        }
    }
    r.check_bounds().map_err(|_| SectionError::BadForm)?;
    Ok(r)
}

/// The form's session, checked as every section form is (the session, its origin, its CSRF
/// field), before anything in the form is used.
async fn session(
    deps: &LeverContext,
    base: &str,
    id: &str,
    headers: &HeaderMap,
    f: &[(String, String)],
) -> Result<crate::usecases::section::Session, SectionError> {
    let csrf = Posted { csrf: one(f, "csrf").map(str::to_owned), webhook_id: None };
    posted(deps, base, id, headers, &csrf).await
}

/// `POST /connections/{id}/filter`: `action=preview` shows what the rules would do (the page
/// again, with the preview); `action=apply` applies the previewed rules and starts a sync.
pub(super) async fn rules(
    State(deps): State<LeverContext>,
    Extension(Base(base)): Extension<Base>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    answered(async {
        let s = session(&deps, &base, &id, &headers, &f).await?;
        let rules = rules_of(&f)?;
        match one(&f, "action") {
            Some("apply") => {
                let version = one(&f, "version").and_then(|v| v.parse().ok()).ok_or(SectionError::BadForm)?;
                filter::apply(&deps, &s, rules, version).await?;
                Ok(secure(see_other(&format!("{}#filter-h", path_of(&id))), None))
            }
            Some("preview") => {
                let v = crate::usecases::section::view(&deps, &s, &JobQuery::default()).await?;
                let p = filter::preview(&deps, &v.connection, rules).await?;
                let postings = filter::postings(&deps, &v.connection, "", 1).await?;
                let html = super::section_html::section_with(&v, &path_of(&id), Some((&postings, Some(&p))));
                Ok(secure((StatusCode::OK, Html(html)).into_response(), None))
            }
            _ => Err(SectionError::BadForm),
        }
    })
    .await
}

/// `POST /connections/{id}/switch`: one posting `on`, `off` or `auto` (the rules decide).
pub(super) async fn switch(
    State(deps): State<LeverContext>,
    Extension(Base(base)): Extension<Base>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    answered(async {
        let s = session(&deps, &base, &id, &headers, &f).await?;
        filter::switch(&deps, &s, one(&f, "posting").unwrap_or_default(), one(&f, "state").unwrap_or_default()).await?;
        Ok(secure(see_other(&format!("{}#filter-h", path_of(&id))), None))
    })
    .await
}

/// The card: the rule form (or the preview and Apply), then the postings with their switches.
pub fn card(csrf: &str, path: &str, v: &PostingsView, preview: Option<&Preview>) -> Markup {
    html! {
        section.card aria-labelledby="filter-h" {
            h2 #filter-h { "Which jobs go to XOR" }
            p #filter-summary { (v.published) " of " (v.total) " postings of your job feed are published to XOR (each gets a chatbot)." }
            @match preview {
                Some(p) => (preview_block(csrf, path, p)),
                None => (rule_form(csrf, path, v)),
            }
            (postings(csrf, path, v))
        }
    }
}

fn rule_form(csrf: &str, path: &str, v: &PostingsView) -> Markup {
    let r = &v.filter.rules;
    let chosen = |m: &BTreeMap<Dimension, BTreeSet<String>>, d: Dimension, value: &str| {
        m.get(&d).is_some_and(|s| {
            s.iter().any(|x| crate::domain::job_filter::fold(x) == crate::domain::job_filter::fold(value))
        })
    };
    let words = |m: &BTreeMap<Dimension, BTreeSet<String>>| {
        m.get(&Dimension::Title).map(|s| s.iter().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default()
    };
    html! {
        form #filter-form method="post" action={ (path) "/filter" } {
            input type="hidden" name="csrf" value=(csrf);
            p.muted { "Choose which postings get a chatbot. Nothing chosen in a list: every value. An exclusion wins over an inclusion; a posting switched on or off below keeps its switch." }
            @for (d, values) in &choices(v) {
                fieldset.filter-dim {
                    legend { (label(*d)) }
                    @for kind in ["include", "exclude"] {
                        label for={ (kind) "_" (d.as_str()) } { (if kind == "include" { "Only these" } else { "Never these" }) }
                        select multiple id={ (kind) "_" (d.as_str()) } name={ (kind) "_" (d.as_str()) } size=(values.len().clamp(2, 6)) {
                            @for value in values {
                                @let on = chosen(if kind == "include" { &r.include } else { &r.exclude }, *d, value);
                                option value=(value) selected[on] { (value) }
                            }
                        }
                    }
                }
            }
            fieldset.filter-dim {
                legend { "Title words" }
                label for="include_title" { "Only titles with (comma-separated)" }
                input #include_title type="text" name="include_title" value=(words(&r.include));
                label for="exclude_title" { "Never titles with" }
                input #exclude_title type="text" name="exclude_title" value=(words(&r.exclude));
            }
            button.btn.btn-green #preview type="submit" name="action" value="preview" { "Preview" }
        }
    }
}

/// Options a select offers per dimension: the values present in the feed (at most
/// [`MAX_OPTIONS`]; more, and the title words or the CLI narrow it), and every value the stored
/// rules name, present or not (a rule is never dropped by saving the form again).
pub const MAX_OPTIONS: usize = 200;

fn choices(v: &PostingsView) -> BTreeMap<Dimension, Vec<String>> {
    let mut out: BTreeMap<Dimension, Vec<String>> =
        v.values.iter().map(|(d, vals)| (*d, vals.iter().take(MAX_OPTIONS).cloned().collect())).collect();
    let r = &v.filter.rules;
    for (d, vals) in r.include.iter().chain(r.exclude.iter()).filter(|(d, _)| **d != Dimension::Title) {
        let list = out.entry(*d).or_default();
        for value in vals {
            let f = crate::domain::job_filter::fold(value);
            if !list.iter().any(|x| crate::domain::job_filter::fold(x) == f) {
                list.push(value.clone());
            }
        }
    }
    out
}

fn preview_block(csrf: &str, path: &str, p: &Preview) -> Markup {
    html! {
        div #preview-result role="status" {
            p { strong { (p.published) " jobs would be published, " (p.closes.len()) " closed in XOR" } ", " (p.creates.len()) " created (of " (p.total) " postings)." }
            @if p.guard_holds {
                p.warn { "That closes more than the safety limit allows at once: the next sync holds these closes and your XOR contact confirms them. Nothing else changes." }
            }
            @if !p.closes.is_empty() {
                h3 { "Closed in XOR" }
                ul { @for e in p.closes.iter().take(50) { li { (e.title) } } @if p.closes.len() > 50 { li { "… and " (p.closes.len() - 50) " more" } } }
            }
            @if !p.creates.is_empty() {
                h3 { "Published" }
                ul { @for e in p.creates.iter().take(50) { li { (e.title) } } @if p.creates.len() > 50 { li { "… and " (p.creates.len() - 50) " more" } } }
            }
            form #apply-form method="post" action={ (path) "/filter" } {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="version" value=(p.version);
                @for (d, values) in &p.rules.include { @for value in values { input type="hidden" name={ "include_" (d.as_str()) } value=(value); } }
                @for (d, values) in &p.rules.exclude { @for value in values { input type="hidden" name={ "exclude_" (d.as_str()) } value=(value); } }
                button.btn.btn-green #apply type="submit" name="action" value="apply" { "Apply" }
                " "
                a href={ (path) "#filter-h" } { "Cancel" }
            }
        }
    }
}

fn postings(csrf: &str, path: &str, v: &PostingsView) -> Markup {
    html! {
        form.search method="get" action=(path) role="search" {
            label for="pq" { "Search postings" }
            input #pq type="search" name="pq" value=(v.q);
            button.btn.btn-quiet type="submit" { "Search" }
        }
        p.muted { (v.matching) " of " (v.total) " postings" }
        div.table-wrap { table #postings {
            caption.visually-hidden { "The postings of your job feed and whether each goes to XOR" }
            thead { tr { th scope="col" { "Posting" } th scope="col" { "Team" } th scope="col" { "Place" } th scope="col" { "To XOR" } th scope="col" { "Switch" } } }
            tbody { @for r in &v.rows { (row(csrf, path, r)) } }
        } }
        @if v.pages > 1 {
            nav.pages aria-label="Posting pages" {
                @if v.page > 1 { a href={ (path) "?pq=" (crate::url::enc(&v.q)) "&pp=" (v.page - 1) "#filter-h" } rel="prev" { "Previous" } }
                span { "Page " (v.page) " of " (v.pages) }
                @if v.page < v.pages { a href={ (path) "?pq=" (crate::url::enc(&v.q)) "&pp=" (v.page + 1) "#filter-h" } rel="next" { "Next" } }
            }
        }
    }
}

fn row(csrf: &str, path: &str, r: &filter::PostingRow) -> Markup {
    let e: &CatalogEntry = &r.entry;
    let place: Vec<&str> =
        [e.city.as_deref(), e.country.as_deref(), e.workplace.as_deref()].into_iter().flatten().collect();
    let (next, label) = match r.switch {
        None if r.published => ("off", "Switch off"),
        None => ("on", "Switch on"),
        Some(_) => ("auto", "Back to the rules"),
    };
    html! {
        tr data-posting=(e.id) {
            td data-label="Posting" { (e.title) }
            td data-label="Team" { (e.team.as_deref().unwrap_or("-")) }
            td data-label="Place" { (place.join(", ")) }
            td data-label="To XOR" { @if r.published { "Yes" } @else { "No" } " " span.muted { "(" (r.reason) ")" } }
            td {
                form method="post" action={ (path) "/switch" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="posting" value=(e.id);
                    input type="hidden" name="state" value=(next);
                    button.btn.btn-quiet type="submit" aria-label={ (label) ": " (e.title) } { (label) }
                }
            }
        }
    }
}

fn label(d: Dimension) -> &'static str {
    match d {
        Dimension::Team => "Team",
        Dimension::Department => "Department",
        Dimension::City => "City",
        Dimension::Country => "Country",
        Dimension::Workplace => "Workplace (on-site, remote, hybrid)",
        Dimension::Commitment => "Commitment",
        Dimension::Title => "Title words",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_select_s_value_is_one_value_and_title_words_are_a_list() {
        let r =
            rules_of(&form(&[("exclude_city", "San Francisco, CA"), ("include_title", "rust, senior"), ("csrf", "x")]))
                .unwrap();
        assert_eq!(r.exclude[&Dimension::City], ["San Francisco, CA".to_owned()].into());
        assert_eq!(r.include[&Dimension::Title], ["rust".to_owned(), "senior".to_owned()].into());
    }

    #[test]
    fn a_form_past_the_bounds_or_naming_no_dimension_is_refused() {
        let many: Vec<(String, String)> = (0..60).map(|i| ("include_city".to_owned(), format!("c{i}"))).collect();
        assert!(matches!(rules_of(&many), Err(SectionError::BadForm)));
        assert!(matches!(rules_of(&form(&[("include_salary", "1")])), Err(SectionError::BadForm)));
    }
}
