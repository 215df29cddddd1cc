//! Event loop over quick-xml. Rules (docs/sync.md): `<job>` anywhere under the root `<source>`;
//! text and CDATA joined, comments ignored, values trimmed; only XML's predefined entities and
//! character references decoded (a DOCTYPE's entities are never expanded: an unknown `&name;`
//! is kept as written, which is also what HTML descriptions want); the declared encoding honoured.
use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use std::ops::ControlFlow;

use quick_xml::Reader;
use quick_xml::encoding::DecodingReader;
use quick_xml::events::{BytesCData, BytesDecl, BytesRef, BytesStart, BytesText, Event};
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
    /// A `<job>` that opened at `start`, `depth` elements deep.
    fn new(start: u64, depth: usize) -> Self {
        Self { start, depth, frames: Vec::new(), fields: BTreeMap::new(), problem: None }
    }

    /// An element opens inside the job: its path is its parent's plus its name.
    fn open(&mut self, name: String) {
        let path = match self.frames.last() {
            Some(parent) => format!("{}/{}", parent.path, name),
            None => name,
        };
        self.frames.push(Frame { path, text: String::new() });
    }

    /// An element inside the job closed: its trimmed text, when there is some, is a field.
    fn close(&mut self, frame: Frame, limits: &Limits) {
        let value = frame.text.trim();
        if !value.is_empty() {
            if self.fields.len() >= limits.max_fields_per_job {
                self.problem
                    .get_or_insert_with(|| format!("more than {} elements in one job", limits.max_fields_per_job));
            } else {
                insert_field(&mut self.fields, frame.path, value.to_owned());
            }
        }
    }

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

/// The XML reader and where it is in the document: the depth, the root element's state, the
/// job being read (its element path and fields), and what was reported so far.
struct XmlFeed<R> {
    reader: Reader<DecodingReader<R>>,
    limits: Limits,
    report: FeedReport,
    /// The posting ids already read (the repeated-id rule).
    seen: HashSet<String>,
    depth: usize,
    root_seen: bool,
    root_closed: bool,
    job: Option<JobState>,
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
    let mut feed = XmlFeed::new(input, limits);
    let mut buf = Vec::new();
    loop {
        let pos = feed.reader.buffer_position();
        let event = feed.read(&mut buf)?;
        if feed.on_event(event, pos, &mut on_posting)?.is_break() {
            return Ok(feed.finish());
        }
        buf.clear();
    }
}

impl<R: BufRead> XmlFeed<R> {
    fn new(input: R, limits: Limits) -> Self {
        let mut reader = Reader::from_reader(DecodingReader::new(input));
        {
            let cfg = reader.config_mut();
            cfg.check_end_names = true;
            // A bare `&` (as in "R&D") is unambiguous: keep it rather than refuse the whole feed.
            cfg.allow_dangling_amp = true;
        }
        Self {
            reader,
            limits,
            report: FeedReport::default(),
            seen: HashSet::new(),
            depth: 0,
            root_seen: false,
            root_closed: false,
            job: None,
        }
    }

    /// The next event; it borrows `buf`, never the reader.
    fn read<'b>(&mut self, buf: &'b mut Vec<u8>) -> Result<Event<'b>, FeedError> {
        match self.reader.read_event_into(buf) {
            Ok(e) => Ok(e),
            Err(e) => {
                // quick-xml's "unclosed …" syntax errors all mean the input ended mid-markup.
                let reason = match &e {
                    quick_xml::Error::Syntax(s) if s.to_string().contains("end of input") => {
                        format!("the document is truncated: {e}")
                    }
                    _ => format!("malformed XML: {e}"),
                };
                Err(unusable(self.reader.error_position(), reason))
            }
        }
    }

    /// One event read at `pos`: `Break` once the document has ended or `on_posting` said stop.
    fn on_event(
        &mut self,
        event: Event<'_>,
        pos: u64,
        on_posting: &mut impl FnMut(Posting) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, FeedError> {
        // `<source/>` (an empty, valid feed) arrives as `Empty`.
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Decl(d) => self.declaration(&d, pos)?,
            Event::Start(e) | Event::Empty(e) if !self.root_seen => self.root(&e, empty, pos)?,
            Event::Start(e) => self.start_tag(&e, pos)?,
            Event::Empty(e) => self.empty_tag(&e, pos)?,
            Event::End(_) => return Ok(self.end_tag(on_posting)),
            Event::Text(t) => self.text(&t, pos)?,
            Event::CData(c) => self.cdata(&c, pos)?,
            Event::GeneralRef(r) => self.general_ref(&r),
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => {
                self.end_of_document(pos)?;
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    fn declaration(&mut self, d: &BytesDecl<'_>, pos: u64) -> Result<(), FeedError> {
        let detected = self.reader.get_ref().encoding();
        // A BOM-detected UTF-16 wins over the declaration; otherwise the declaration rules.
        if detected == encoding_rs::UTF_8 {
            match (d.encoding(), d.encoder()) {
                (None, _) => {}
                (Some(_), Some(enc)) if enc.is_ascii_compatible() => self.reader.get_mut().set_encoding(enc),
                (Some(_), Some(_)) => {} // declared UTF-16 but bytes are ASCII-compatible: read as found
                (Some(name), None) => {
                    let name = name.map(|n| n.into_owned()).unwrap_or_default();
                    return Err(unusable(pos, format!("unsupported encoding {name:?} in the XML declaration")));
                }
            }
        }
        Ok(())
    }

    /// The first element, `<source>` (or `<source/>` when `empty`).
    fn root(&mut self, e: &BytesStart<'_>, empty: bool, pos: u64) -> Result<(), FeedError> {
        let name = e.local_name().as_ref().to_owned();
        if name != "source" {
            return Err(unusable(
                pos,
                format!("the root element is <{name}>, expected <source> (an HTML error page or another document?)"),
            ));
        }
        self.root_seen = true;
        if empty {
            self.root_closed = true;
        } else {
            self.depth = 1;
        }
        Ok(())
    }

    fn start_tag(&mut self, e: &BytesStart<'_>, pos: u64) -> Result<(), FeedError> {
        if self.root_closed {
            return Err(unusable(pos, "a second root element after </source>"));
        }
        if self.depth >= self.limits.max_depth {
            return Err(unusable(pos, format!("elements nested deeper than {}", self.limits.max_depth)));
        }
        let name = e.local_name().as_ref().to_owned();
        self.depth += 1;
        match self.job.as_mut() {
            None if name == "job" => self.job = Some(JobState::new(pos, self.depth)),
            None => {}
            Some(j) => j.open(name),
        }
        Ok(())
    }

    fn empty_tag(&mut self, e: &BytesStart<'_>, pos: u64) -> Result<(), FeedError> {
        if self.root_closed {
            return Err(unusable(pos, "a second root element after </source>"));
        }
        let name = e.local_name().as_ref().to_owned();
        if self.job.is_none() && name == "job" {
            self.report.skipped += 1;
            self.report.warn(pos, "an empty <job/> was skipped".into(), &self.limits);
        }
        Ok(())
    }

    /// `Break` when the end closed a job and `on_posting` said stop.
    fn end_tag(&mut self, on_posting: &mut impl FnMut(Posting) -> ControlFlow<()>) -> ControlFlow<()> {
        self.depth = self.depth.saturating_sub(1);
        if let Some(j) = self.job.as_mut() {
            if let Some(frame) = j.frames.pop() {
                j.close(frame, &self.limits);
            } else if self.depth + 1 == j.depth {
                let j = self.job.take().expect("in a job");
                if self.end_of_job(j, on_posting).is_break() {
                    return ControlFlow::Break(());
                }
            }
        }
        if self.depth == 0 {
            self.root_closed = true;
        }
        ControlFlow::Continue(())
    }

    /// `</job>`: the posting goes to `on_posting` (whose answer is returned), or the job is skipped.
    fn end_of_job(&mut self, j: JobState, on_posting: &mut impl FnMut(Posting) -> ControlFlow<()>) -> ControlFlow<()> {
        match finish_job(j, &mut self.seen) {
            Ok((posting, warnings)) => {
                for (p, w) in warnings {
                    self.report.warn(p, w, &self.limits);
                }
                self.report.jobs += 1;
                on_posting(posting)
            }
            Err((p, w, id)) => {
                self.report.skipped += 1;
                self.report.invalid.extend(id);
                self.report.warn(p, w, &self.limits);
                ControlFlow::Continue(())
            }
        }
    }

    fn text(&mut self, t: &BytesText<'_>, pos: u64) -> Result<(), FeedError> {
        let s = t.xml10_content();
        match self.job.as_mut() {
            Some(j) => j.push_text(&s, &self.limits),
            None if (!self.root_seen || self.root_closed) && !s.trim().is_empty() => {
                return Err(unusable(pos, format!("text outside the root element: {:?}", preview(&s))));
            }
            None => {}
        }
        Ok(())
    }

    fn cdata(&mut self, c: &BytesCData<'_>, pos: u64) -> Result<(), FeedError> {
        if let Some(j) = self.job.as_mut() {
            j.push_text(&c.xml10_content(), &self.limits);
        } else if !self.root_seen {
            return Err(unusable(pos, "CDATA before the root element"));
        }
        Ok(())
    }

    fn general_ref(&mut self, r: &BytesRef<'_>) {
        if let Some(j) = self.job.as_mut() {
            let s = resolve_ref(r);
            j.push_text(&s, &self.limits);
        }
    }

    fn end_of_document(&self, pos: u64) -> Result<(), FeedError> {
        if !self.root_seen {
            return Err(unusable(pos, "the document is empty or has no root element"));
        }
        if !self.root_closed {
            let inside = self.job.as_ref().and_then(|j| j.frames.last()).map(|f| format!(" inside <{}>", f.path));
            return Err(unusable(
                pos,
                format!("the document is truncated: it ends{} before </source>", inside.unwrap_or_default()),
            ));
        }
        Ok(())
    }

    /// The report, with the encoding the document was read in.
    fn finish(mut self) -> FeedReport {
        self.report.encoding = self.reader.get_ref().encoding().name().to_owned();
        self.report
    }
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
