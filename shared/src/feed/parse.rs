//! Event loop over quick-xml. Rules (docs/sync.md): `<job>` anywhere under the root `<source>`;
//! text and CDATA joined, comments ignored, values trimmed; only XML's predefined entities and
//! character references decoded (a DOCTYPE's entities are never expanded: an unknown `&name;`
//! is kept as written, which is also what HTML descriptions want); the declared encoding honoured.
use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use std::ops::ControlFlow;

use quick_xml::Reader;
use quick_xml::encoding::DecodingReader;
use quick_xml::events::{BytesRef, Event};
use serde::Serialize;

use super::map::{RawJob, build_posting, posting_id_of};
use crate::domain::{Posting, PostingId};

/// Hostile-input bounds. A feed that exceeds them is refused (document-wide limits) or loses the
/// one job (per-job limits), with a warning; it never exhausts memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    pub max_field_bytes: usize,
    pub max_fields_per_job: usize,
    /// Warnings kept in the report (all are counted).
    pub max_warnings: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_depth: 64, max_field_bytes: 1 << 20, max_fields_per_job: 256, max_warnings: 1000 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedWarning {
    /// Byte offset (in the UTF-8 text) where the job or element started.
    pub position: u64,
    pub message: String,
}

impl std::fmt::Display for FeedWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "byte {}: {}", self.position, self.message)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedReport {
    /// Postings handed to the caller.
    pub jobs: usize,
    /// `<job>` entries that could not be used (each has a warning).
    pub skipped: usize,
    /// The posting ids of skipped entries whose id could be read: those postings are still in
    /// the feed (a sync keeps their XOR jobs as they were, never closes them).
    pub invalid: Vec<PostingId>,
    pub warnings: Vec<FeedWarning>,
    pub warnings_total: usize,
    /// The encoding the document was read in.
    pub encoding: String,
}

/// The feed cannot be used at all. A sync never acts on such a feed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the feed is not usable: {reason} (at byte {position})")]
    Unusable { position: u64, reason: String },
    #[error("could not read the feed: {0}")]
    Io(#[from] std::io::Error),
}

impl FeedReport {
    /// Counts a warning, and keeps it while under the limit.
    pub(super) fn warn(&mut self, position: u64, message: String, limits: &Limits) {
        self.warnings_total += 1;
        if self.warnings.len() < limits.max_warnings {
            self.warnings.push(FeedWarning { position, message });
        }
    }
}

fn unusable(position: u64, reason: impl Into<String>) -> FeedError {
    FeedError::Unusable { position, reason: reason.into() }
}

struct Frame {
    path: String,
    text: String,
}

struct JobState {
    start: u64,
    depth: usize,
    frames: Vec<Frame>,
    fields: BTreeMap<String, String>,
    problem: Option<String>,
}

impl JobState {
    fn push_text(&mut self, s: &str, limits: &Limits) {
        if let Some(f) = self.frames.last_mut() {
            if f.text.len() + s.len() > limits.max_field_bytes {
                self.problem
                    .get_or_insert_with(|| format!("<{}> is larger than {} bytes", f.path, limits.max_field_bytes));
            } else {
                f.text.push_str(s);
            }
        }
    }
}

/// Parses a whole feed from a byte slice (tests, `feed inspect` of small files).
pub fn parse_slice(bytes: &[u8]) -> Result<(Vec<Posting>, FeedReport), FeedError> {
    let mut out = Vec::new();
    let report = parse(bytes, Limits::default(), |p| {
        out.push(p);
        ControlFlow::Continue(())
    })?;
    Ok((out, report))
}

/// Streams the feed: `on_posting` sees each valid posting as soon as its `</job>` is read.
/// Memory is bounded by one job plus the set of ids seen (for the repeated-id rule).
/// The XML feed, or Lever's postings API (JSON, `postings_api.rs`): told apart by the first
/// character that is not white space (`<` or `[`/`{`).
pub fn parse<R: BufRead>(
    mut input: R,
    limits: Limits,
    mut on_posting: impl FnMut(Posting) -> ControlFlow<()>,
) -> Result<FeedReport, FeedError> {
    if is_json(&mut input)? {
        return super::postings_api::parse(input, limits, on_posting);
    }
    let mut reader = Reader::from_reader(DecodingReader::new(input));
    {
        let cfg = reader.config_mut();
        cfg.check_end_names = true;
        // A bare `&` (as in "R&D") is unambiguous: keep it rather than refuse the whole feed.
        cfg.allow_dangling_amp = true;
    }
    let mut report = FeedReport::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut root_closed = false;
    let mut job: Option<JobState> = None;
    let warn = |report: &mut FeedReport, position: u64, message: String| {
        report.warnings_total += 1;
        if report.warnings.len() < limits.max_warnings {
            report.warnings.push(FeedWarning { position, message });
        }
    };

    loop {
        let pos = reader.buffer_position();
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => {
                // quick-xml's "unclosed …" syntax errors all mean the input ended mid-markup.
                let reason = match &e {
                    quick_xml::Error::Syntax(s) if s.to_string().contains("end of input") => {
                        format!("the document is truncated: {e}")
                    }
                    _ => format!("malformed XML: {e}"),
                };
                return Err(unusable(reader.error_position(), reason));
            }
        };
        // `<source/>` (an empty, valid feed) arrives as `Empty`.
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Decl(d) => {
                let detected = reader.get_ref().encoding();
                // A BOM-detected UTF-16 wins over the declaration; otherwise the declaration rules.
                if detected == encoding_rs::UTF_8 {
                    match (d.encoding(), d.encoder()) {
                        (None, _) => {}
                        (Some(_), Some(enc)) if enc.is_ascii_compatible() => reader.get_mut().set_encoding(enc),
                        (Some(_), Some(_)) => {} // declared UTF-16 but bytes are ASCII-compatible: read as found
                        (Some(name), None) => {
                            let name = name.map(|n| n.into_owned()).unwrap_or_default();
                            return Err(unusable(pos, format!("unsupported encoding {name:?} in the XML declaration")));
                        }
                    }
                }
            }
            Event::Start(e) | Event::Empty(e) if !root_seen => {
                let name = e.local_name().as_ref().to_owned();
                if name != "source" {
                    return Err(unusable(
                        pos,
                        format!(
                            "the root element is <{name}>, expected <source> (an HTML error page or another document?)"
                        ),
                    ));
                }
                root_seen = true;
                if empty {
                    root_closed = true;
                } else {
                    depth = 1;
                }
            }
            Event::Start(e) => {
                if root_closed {
                    return Err(unusable(pos, "a second root element after </source>"));
                }
                if depth >= limits.max_depth {
                    return Err(unusable(pos, format!("elements nested deeper than {}", limits.max_depth)));
                }
                let name = e.local_name().as_ref().to_owned();
                depth += 1;
                match job.as_mut() {
                    None if name == "job" => {
                        job = Some(JobState {
                            start: pos,
                            depth,
                            frames: Vec::new(),
                            fields: BTreeMap::new(),
                            problem: None,
                        })
                    }
                    None => {}
                    Some(j) => {
                        let path = match j.frames.last() {
                            Some(parent) => format!("{}/{}", parent.path, name),
                            None => name,
                        };
                        j.frames.push(Frame { path, text: String::new() });
                    }
                }
            }
            Event::Empty(e) => {
                if root_closed {
                    return Err(unusable(pos, "a second root element after </source>"));
                }
                let name = e.local_name().as_ref().to_owned();
                if job.is_none() && name == "job" {
                    report.skipped += 1;
                    warn(&mut report, pos, "an empty <job/> was skipped".into());
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if let Some(j) = job.as_mut() {
                    if let Some(frame) = j.frames.pop() {
                        let value = frame.text.trim();
                        if !value.is_empty() {
                            if j.fields.len() >= limits.max_fields_per_job {
                                j.problem.get_or_insert_with(|| {
                                    format!("more than {} elements in one job", limits.max_fields_per_job)
                                });
                            } else {
                                insert_field(&mut j.fields, frame.path, value.to_owned());
                            }
                        }
                    } else if depth + 1 == j.depth {
                        let j = job.take().expect("in a job");
                        match finish_job(j, &mut seen) {
                            Ok((posting, warnings)) => {
                                for (p, w) in warnings {
                                    warn(&mut report, p, w);
                                }
                                report.jobs += 1;
                                if on_posting(posting).is_break() {
                                    report.encoding = reader.get_ref().encoding().name().to_owned();
                                    return Ok(report);
                                }
                            }
                            Err((p, w, id)) => {
                                report.skipped += 1;
                                report.invalid.extend(id);
                                warn(&mut report, p, w);
                            }
                        }
                    }
                }
                if depth == 0 {
                    root_closed = true;
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content();
                match job.as_mut() {
                    Some(j) => j.push_text(&s, &limits),
                    None if (!root_seen || root_closed) && !s.trim().is_empty() => {
                        return Err(unusable(pos, format!("text outside the root element: {:?}", preview(&s))));
                    }
                    None => {}
                }
            }
            Event::CData(c) => {
                if let Some(j) = job.as_mut() {
                    j.push_text(&c.xml10_content(), &limits);
                } else if !root_seen {
                    return Err(unusable(pos, "CDATA before the root element"));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(j) = job.as_mut() {
                    let s = resolve_ref(&r);
                    j.push_text(&s, &limits);
                }
            }
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => {
                if !root_seen {
                    return Err(unusable(pos, "the document is empty or has no root element"));
                }
                if !root_closed {
                    let inside = job.as_ref().and_then(|j| j.frames.last()).map(|f| format!(" inside <{}>", f.path));
                    return Err(unusable(
                        pos,
                        format!("the document is truncated: it ends{} before </source>", inside.unwrap_or_default()),
                    ));
                }
                break;
            }
        }
        buf.clear();
    }
    report.encoding = reader.get_ref().encoding().name().to_owned();
    Ok(report)
}

fn insert_field(fields: &mut BTreeMap<String, String>, path: String, value: String) {
    if !fields.contains_key(&path) {
        fields.insert(path, value);
        return;
    }
    // A repeated element: the first keeps its name, later ones are numbered, none is dropped.
    let mut n = 2;
    while fields.contains_key(&format!("{path}[{n}]")) {
        n += 1;
    }
    fields.insert(format!("{path}[{n}]"), value);
}

fn resolve_ref(r: &BytesRef<'_>) -> String {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => c.to_string(),
            _ => format!("&{};", &**r),
        };
    }
    match &**r {
        "lt" => "<".into(),
        "gt" => ">".into(),
        "amp" => "&".into(),
        "apos" => "'".into(),
        "quot" => "\"".into(),
        other => format!("&{other};"),
    }
}

/// A used job, or why not: the position, the reason, and the posting id when one was read.
type Finished = Result<(Posting, Vec<(u64, String)>), (u64, String, Option<PostingId>)>;

fn finish_job(j: JobState, seen: &mut HashSet<String>) -> Finished {
    finish_fields(j.start, j.fields, j.problem, seen)
}

/// One job's fields (read at `start`) as a posting, or why not; `problem` is a reason found while
/// reading. The same rules for the XML feed and the postings API.
pub(super) fn finish_fields(
    start: u64,
    fields: BTreeMap<String, String>,
    problem: Option<String>,
    seen: &mut HashSet<String>,
) -> Finished {
    if let Some(problem) = problem {
        return Err((start, format!("job skipped: {problem}"), posting_id_of(&fields)));
    }
    let (posting, warnings) = build_posting(RawJob { fields }).map_err(|s| (start, s.reason, s.id))?;
    if !seen.insert(posting.external_id.as_str().to_owned()) {
        // The first one is in the feed: nothing to keep apart for this one.
        return Err((start, format!("job {} appears again: the first one is kept", posting.external_id), None));
    }
    Ok((posting, warnings.into_iter().map(|w| (start, w)).collect()))
}

/// Whether the input is JSON (Lever's postings API): its first character that is not white
/// space (after a UTF-8 byte order mark, which is dropped then) opens an array or an object.
fn is_json<R: BufRead>(input: &mut R) -> std::io::Result<bool> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    // A buffer of nothing but white space says nothing yet: it is skipped (valid in front of
    // either document), so the first character is seen whatever the buffer's size.
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() || !buf.iter().all(u8::is_ascii_whitespace) {
            break;
        }
        let n = buf.len();
        input.consume(n);
    }
    let buf = input.fill_buf()?;
    let bom = buf.starts_with(BOM);
    let rest = if bom { &buf[BOM.len()..] } else { buf };
    let json = matches!(rest.iter().find(|b| !b.is_ascii_whitespace()), Some(b'[' | b'{'));
    if json && bom {
        input.consume(BOM.len());
    }
    Ok(json)
}

fn preview(s: &str) -> String {
    let t = s.trim();
    t.chars().take(40).collect()
}
