//! Lever's public postings API as a feed: `GET https://api.lever.co/v0/postings/SITE?mode=json`
//! (EU: `api.eu.lever.co`), documented in the lever/postings-api README: a JSON array of the
//! published postings, each with its authoritative `id`, `text`, `categories` (`team`,
//! `department`, `location`, `commitment`, `allLocations`), `country`, `workplaceType`,
//! `description`, `lists`, `additional`, `hostedUrl`, `applyUrl`, `createdAt` (ms).
//!
//! For a customer whose XML feed turns out different from what we expect: the same postings,
//! through the same mapping as the XML feed's jobs (`map.rs`), so the sync, the guards and the
//! conditional GET treat both alike. Streamed one posting at a time, like the XML.
use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, Read};
use std::ops::ControlFlow;
use std::rc::Rc;

use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;

use super::parse::{FeedError, FeedReport, Limits, finish_fields};
use crate::domain::Posting;

/// Reads the postings API's array, handing each usable posting to `on_posting`.
pub(super) fn parse<R: BufRead>(
    input: R,
    limits: Limits,
    on_posting: impl FnMut(Posting) -> ControlFlow<()>,
) -> Result<FeedReport, FeedError> {
    // Each posting is read whole before it is looked at: the reader bounds it in bytes, so a
    // hostile element (a vast array under an unknown key) can never take the memory the XML
    // reader's streaming never takes. Nesting is bounded by serde_json's recursion limit.
    let cap = (limits.max_field_bytes as u64).saturating_mul(2);
    let bounded = Bounded { inner: input, read: Rc::default(), start: Rc::default(), cap, over: Rc::default() };
    let (read, start, over) = (bounded.read.clone(), bounded.start.clone(), bounded.over.clone());
    let mut de = serde_json::Deserializer::from_reader(bounded);
    let mut each =
        Each { limits, on_posting, report: FeedReport::default(), seen: HashSet::new(), index: 0, read, start };
    match (&mut de).deserialize_any(&mut each) {
        Ok(()) => {}
        Err(_) if over.get() => {
            return Err(FeedError::Unusable {
                position: 0,
                reason: format!(
                    "Lever's postings API: posting #{} is larger than {cap} bytes (the feed is refused, not cut)",
                    each.index + 1
                ),
            });
        }
        Err(e) if e.is_io() => return Err(FeedError::Io(e.into())),
        Err(e) => return Err(unusable(&e)),
    }
    // Only the array, and nothing after it.
    de.end().map_err(|e| unusable(&e))?;
    let mut report = each.report;
    report.encoding = "UTF-8 (JSON: Lever's postings API)".into();
    Ok(report)
}

fn unusable(e: &serde_json::Error) -> FeedError {
    FeedError::Unusable {
        position: e.column() as u64,
        reason: format!("Lever's postings API: {e} (line {})", e.line()),
    }
}

struct Each<F> {
    limits: Limits,
    on_posting: F,
    report: FeedReport,
    seen: HashSet<String>,
    index: u64,
    /// Bytes read so far, and where the element being read started (shared with [`Bounded`]).
    read: Rc<Cell<u64>>,
    start: Rc<Cell<u64>>,
}

/// The input, counting bytes: it fails once one element is more than `cap` bytes past its start.
struct Bounded<R> {
    inner: R,
    read: Rc<Cell<u64>>,
    start: Rc<Cell<u64>>,
    cap: u64,
    over: Rc<Cell<bool>>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        if self.read.get().saturating_sub(self.start.get()) > self.cap {
            self.over.set(true);
            return Err(std::io::Error::other("a posting larger than the bound"));
        }
        Ok(n)
    }
}

impl<'de, F: FnMut(Posting) -> ControlFlow<()>> Visitor<'de> for &mut Each<F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of postings (Lever's postings API with mode=json)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut stopped = false;
        loop {
            // The next element is bounded from here.
            self.start.set(self.read.get());
            let Some(item) = seq.next_element::<Value>()? else { break };
            self.index += 1;
            if stopped {
                continue;
            }
            let (fields, problem) = fields_of(&item, &self.limits);
            // No byte offsets here: the warning names the posting's place in the array.
            let at = |w: String| format!("posting #{}: {w}", self.index);
            match finish_fields(0, fields, problem, &mut self.seen) {
                Ok((posting, warnings)) => {
                    for (_, w) in warnings {
                        self.report.warn(0, at(w), &self.limits);
                    }
                    self.report.jobs += 1;
                    stopped = (self.on_posting)(posting).is_break();
                }
                Err((_, w, id)) => {
                    self.report.skipped += 1;
                    self.report.invalid.extend(id);
                    self.report.warn(0, at(w), &self.limits);
                }
            }
        }
        Ok(())
    }

    /// An object where the array should be: Lever's error answer (`{"ok": false, "error":
    /// "Document not found"}` for an unknown site), named as such.
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut said = None;
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            if k == "error" || k == "message" {
                said = v.as_str().map(str::to_owned);
            }
        }
        // Lever's words, bounded and printable (they end up in a run record and a log line).
        let said = said.map(|s| s.chars().filter(|c| !c.is_control()).take(200).collect::<String>());
        Err(serde::de::Error::custom(format!(
            "an object, not the array of postings{}",
            said.map(|s| format!(": Lever says {s:?}")).unwrap_or_default()
        )))
    }
}

/// A posting's JSON as the feed's fields (`map.rs` names): the id as `referencenumber` (it is
/// Lever's posting id), the job page as `url`; what the mapping does not consume is kept in
/// `extra` under the API's own names. The second value is why the posting cannot be used.
fn fields_of(item: &Value, limits: &Limits) -> (BTreeMap<String, String>, Option<String>) {
    let mut fields = BTreeMap::new();
    let Some(obj) = item.as_object() else {
        return (fields, Some("an entry of the postings array is not an object".into()));
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Null => None,
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    };
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            fields.insert(k.to_owned(), v);
        }
    };
    for (k, v) in obj {
        match k.as_str() {
            "id" => put("referencenumber", text(v)),
            "text" => put("title", text(v)),
            "hostedUrl" => put("url", text(v)),
            "applyUrl" => put("applyurl", text(v)),
            "country" => put("country", text(v)),
            // "May be one of unspecified, on-site, remote, or hybrid": unspecified says nothing.
            "workplaceType" => put("remotetype", text(v).filter(|w| w != "unspecified")),
            "createdAt" => put("date", v.as_i64().and_then(ms_to_rfc3339).or_else(|| text(v))),
            "categories" => {
                let c = |name: &str| v.get(name).and_then(text);
                put("city", c("location"));
                put("jobtype", c("commitment"));
                put("category", c("team"));
                put("department", c("department"));
                if let Some(all) = v.get("allLocations").and_then(Value::as_array) {
                    let all: Vec<String> = all.iter().filter_map(text).collect();
                    put("allLocations", Some(all.join("; ")));
                }
            }
            // The page's text is the description, its lists and the closing part, in order.
            "description" | "lists" | "additional" | "descriptionPlain" | "additionalPlain" => {}
            _ => put(k, text(v)),
        }
    }
    put("description", description_html(obj));
    let problem = if fields.len() > limits.max_fields_per_job {
        Some(format!("more than {} fields in one posting", limits.max_fields_per_job))
    } else {
        fields
            .iter()
            .find(|(_, v)| v.len() > limits.max_field_bytes)
            .map(|(k, _)| format!("{k} is larger than {} bytes", limits.max_field_bytes))
    };
    (fields, problem)
}

/// The posting's page as HTML: `description`, each of `lists` as a heading and its items, then
/// `additional` (the README: "lists: Extra lists (such as requirements, benefits, etc.)").
fn description_html(obj: &serde_json::Map<String, Value>) -> Option<String> {
    let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty());
    let mut html = String::new();
    if let Some(d) = s("description") {
        html.push_str(d);
    }
    for list in obj.get("lists").and_then(Value::as_array).into_iter().flatten() {
        let part = |k: &str| list.get(k).and_then(Value::as_str).unwrap_or_default();
        // The list's title is text (escaped); its content is HTML (`<li>` items), as Lever gives it.
        html.push_str(&format!("<h3>{}</h3><ul>{}</ul>", escape(part("text")), part("content")));
    }
    if let Some(a) = s("additional") {
        html.push_str(a);
    }
    (!html.is_empty()).then_some(html)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn ms_to_rfc3339(ms: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).ok()?;
    t.format(&time::format_description::well_known::Rfc3339).ok()
}
