//! From a job's raw fields (element path → trimmed text) to XOR's job body. Unknown elements go
//! to `extra` by name; nothing the feed says is dropped.
use std::collections::BTreeMap;

use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::{OffsetDateTime, UtcOffset};

use crate::domain::{Location, Posting, PostingId};

pub(super) struct RawJob {
    pub fields: BTreeMap<String, String>,
}

/// The feed's own element names that the mapping consumes. Everything else lands in `extra`.
const KNOWN: &[&str] = &[
    "title",
    "date",
    "referencenumber",
    "url",
    "company",
    "city",
    "state",
    "country",
    "postalcode",
    "description",
    "jobtype",
    "category",
    "remotetype",
    "applyurl",
];

/// Lever's hosted job pages, whose apply form is the page URL + `/apply` (docs/xor-contract.md §1 example).
/// An assumption about Lever's URL scheme: kept here, named in docs/assumptions.md.
const LEVER_JOB_HOSTS: &[&str] =
    &["https://jobs.lever.co/", "https://jobs.eu.lever.co/", "https://jobs.sandbox.lever.co/"];

/// Builds the posting, or says why the job is skipped. Also returns non-fatal warnings.
/// A job that could not be used, and its posting id when one was read (such a posting is still
/// in the feed: its XOR job must not be closed for it).
#[derive(Debug)]
pub(super) struct Skip {
    pub(super) id: Option<PostingId>,
    pub(super) reason: String,
}

/// The posting id of a job's fields ([`id_text`]).
pub(super) fn posting_id_of(f: &BTreeMap<String, String>) -> Option<PostingId> {
    PostingId::parse(id_text(f.get("referencenumber").map(String::as_str), f.get("url").map(String::as_str))?).ok()
}

/// Which text is the posting's id. The feed's format is not documented: `<referencenumber>` may
/// be Lever's posting id or a customer's requisition code, which must never become one. So, in
/// order: the UUID of a Lever job page in `<url>` (`jobs.lever.co/<site>/<uuid>`, EU or
/// sandbox: Lever's own id); a `<referencenumber>` that is itself a UUID; the UUID at the end of
/// any other `<url>`; and only when no URL names the posting, `<referencenumber>` as it is.
fn id_text<'a>(reference: Option<&'a str>, url: Option<&'a str>) -> Option<&'a str> {
    let on_lever = url.filter(|u| LEVER_JOB_HOSTS.iter().any(|h| u.starts_with(h))).and_then(posting_id_from_url);
    on_lever.or(reference.filter(|r| is_uuid(r))).or_else(|| url.and_then(posting_id_from_url)).or(reference)
}

pub(super) fn build_posting(raw: RawJob) -> Result<(Posting, Vec<String>), Skip> {
    let mut f = raw.fields;
    let mut warnings = Vec::new();
    let url = f.remove("url");
    let external_id = take_id(&mut f, url.as_deref())?;
    let title = f.remove("title").unwrap_or_default();
    if title.is_empty() {
        return Err(Skip {
            reason: format!("job {external_id} skipped: it has no <title>; its XOR job is kept as it was"),
            id: Some(external_id),
        });
    }
    let posted_at = take_date(&mut f, &external_id, &mut warnings);
    let apply_url = take_apply_url(&mut f, url.as_deref());
    let location = take_location(&mut f);
    let posting = Posting {
        source: "lever".into(),
        external_id,
        title,
        description_html: f.remove("description"),
        company: f.remove("company"),
        location,
        employment_type: f.remove("jobtype"),
        category: f.remove("category"),
        apply_url,
        posting_url: url,
        posted_at,
        extra: f,
    };
    debug_assert!(KNOWN.iter().all(|k| matches!(*k, "date" | "referencenumber") || !posting.extra.contains_key(*k)));
    Ok((posting, warnings))
}

/// The posting id ([`id_text`], from `<referencenumber>` and the job's `url`), or why the job is
/// skipped. `<referencenumber>` is taken out of `f`, and put back when the id is not it.
fn take_id(f: &mut BTreeMap<String, String>, url: Option<&str>) -> Result<PostingId, Skip> {
    let reference = f.remove("referencenumber");
    let Some(id_text) = id_text(reference.as_deref(), url) else {
        let title = f.get("title").map(|t| format!(" ({t:?})")).unwrap_or_default();
        return Err(Skip {
            id: None,
            reason: format!("job{title} skipped: no <referencenumber> and no posting UUID at the end of <url>"),
        });
    };
    let external_id = PostingId::parse(id_text).map_err(|e| Skip { id: None, reason: format!("job skipped: {e}") })?;
    // A reference the id did not come from (a customer's requisition code) is kept for XOR.
    if let Some(r) = reference.filter(|r| r.as_str() != external_id.as_str()) {
        f.insert("referencenumber".into(), r);
    }
    Ok(external_id)
}

/// `<date>` as UTC RFC 3339; a date that cannot be read stays in `f` (so in `extra`), with a warning.
fn take_date(f: &mut BTreeMap<String, String>, external_id: &PostingId, warnings: &mut Vec<String>) -> Option<String> {
    let raw = f.remove("date")?;
    match normalise_date(&raw) {
        Some(d) => Some(d),
        None => {
            warnings.push(format!("job {external_id}: <date> {raw:?} is neither RFC 3339 nor RFC 2822; kept in extra"));
            f.insert("date".into(), raw);
            None
        }
    }
}

/// `<applyurl>`, or else a Lever job page's apply form (its URL + `/apply`).
fn take_apply_url(f: &mut BTreeMap<String, String>, url: Option<&str>) -> Option<String> {
    f.remove("applyurl").or_else(|| {
        url.filter(|u| LEVER_JOB_HOSTS.iter().any(|h| u.starts_with(h)))
            .map(|u| format!("{}/apply", u.trim_end_matches('/')))
    })
}

fn take_location(f: &mut BTreeMap<String, String>) -> Location {
    Location {
        city: f.remove("city"),
        state: f.remove("state"),
        country: f.remove("country"),
        postal_code: f.remove("postalcode"),
        remote: f.remove("remotetype").map(|r| normalise_workplace(&r)),
    }
}

/// `Hybrid` → `hybrid`, `On-site` → `onsite` (Lever's `workplaceType` words); others lower-cased.
fn normalise_workplace(s: &str) -> String {
    let key: String = s.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
    match key.as_str() {
        "onsite" | "inoffice" | "office" => "onsite".into(),
        "remote" | "fullyremote" => "remote".into(),
        "hybrid" => "hybrid".into(),
        _ => s.trim().to_lowercase(),
    }
}

/// The posting UUID at the end of a Lever job URL (`…/acme/<uuid>` or `…/acme/<uuid>/apply`).
pub fn posting_id_from_url(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?.trim_end_matches('/');
    let mut segments = path.rsplit('/');
    let last = segments.next()?;
    let candidate = if last == "apply" { segments.next()? } else { last };
    is_uuid(candidate).then_some(candidate)
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// RFC 3339 or RFC 2822 → UTC RFC 3339 with seconds precision (`2026-11-23T10:15:00Z`).
pub fn normalise_date(s: &str) -> Option<String> {
    let s = s.trim();
    let parsed = OffsetDateTime::parse(s, &Rfc3339).or_else(|_| OffsetDateTime::parse(s, &Rfc2822)).ok()?;
    let utc = parsed.to_offset(UtcOffset::UTC).replace_nanosecond(0).ok()?;
    utc.format(&Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_normalise_to_utc() {
        assert_eq!(normalise_date("2026-11-20T09:00:00Z").as_deref(), Some("2026-11-20T09:00:00Z"));
        assert_eq!(normalise_date("2026-11-20T10:00:00.123+01:00").as_deref(), Some("2026-11-20T09:00:00Z"));
        assert_eq!(normalise_date("Mon, 23 Nov 2026 10:15:00 GMT").as_deref(), Some("2026-11-23T10:15:00Z"));
        assert_eq!(normalise_date("Mon, 23 Nov 2026 11:15:00 +0100").as_deref(), Some("2026-11-23T10:15:00Z"));
        assert_eq!(normalise_date("23/11/2026"), None);
    }

    #[test]
    fn uuid_from_url() {
        let u = "https://jobs.lever.co/acme/5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10";
        assert_eq!(posting_id_from_url(u), Some("5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10"));
        assert_eq!(
            posting_id_from_url(&format!("{u}/apply?lever-source=xor")),
            Some("5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10")
        );
        assert_eq!(posting_id_from_url("https://jobs.lever.co/acme/careers"), None);
    }

    #[test]
    fn the_posting_id_is_lever_s_never_a_requisition_code() {
        let uuid = "5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10";
        let other = "0c0c0c0c-3b44-4c1e-9a0d-6f6b7d1e2a10";
        let lever = format!("https://jobs.lever.co/acme/{uuid}");
        let eu = format!("https://jobs.eu.lever.co/acme/{uuid}/apply");
        assert_eq!(id_text(Some("REQ-2291"), Some(&lever)), Some(uuid), "the Lever URL, not the requisition code");
        assert_eq!(id_text(Some("REQ-2291"), Some(&eu)), Some(uuid), "an EU job page too");
        assert_eq!(id_text(Some(other), Some(&lever)), Some(uuid), "Lever's page names the posting");
        assert_eq!(id_text(Some(uuid), Some("https://careers.acme.example/jobs/42")), Some(uuid));
        assert_eq!(id_text(Some("REQ-2291"), Some(&format!("https://careers.acme.example/j/{other}"))), Some(other));
        assert_eq!(id_text(Some("REQ-2291"), Some("https://careers.acme.example/jobs/42")), Some("REQ-2291"));
        assert_eq!(id_text(Some("REQ-2291"), None), Some("REQ-2291"), "no URL names the posting");
        assert_eq!(id_text(None, Some("https://careers.acme.example/jobs/42")), None);
    }

    #[test]
    fn workplace_words() {
        assert_eq!(normalise_workplace("On-site"), "onsite");
        assert_eq!(normalise_workplace("Hybrid"), "hybrid");
        assert_eq!(normalise_workplace("Flexible"), "flexible");
    }
}
