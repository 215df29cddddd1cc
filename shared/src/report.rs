//! The screening report a recruiter reads in Lever's file viewer: a PDF with the candidate, the
//! job, the score, the summary, every question and answer, the completion time and the links.
//!
//! Text of any script: each character is set in the first embedded font that has it (DejaVu Sans
//! for Latin, Greek, Cyrillic and more; Droid Sans Fallback for CJK), fonts are subsetted to the
//! glyphs used, and a ToUnicode map makes the text searchable and extractable. Glyphs are placed
//! one by one, so scripts that need shaping (Arabic joining, Indic conjuncts) show unjoined forms
//! and right-to-left runs are laid out left to right: readable, not typographically perfect.
use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

const REGULAR: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");
const FALLBACK: &[u8] = include_bytes!("../assets/fonts/DroidSansFallback.ttf");

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;

/// What the report says. Everything but the ids is optional: XOR may leave any field out.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub candidate_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub location: Option<String>,
    pub linkedin_url: Option<String>,
    pub job_title: String,
    pub posting_id: String,
    pub score: Option<f64>,
    pub passed: Option<bool>,
    pub completed_at: Option<String>,
    pub summary: Option<String>,
    pub answers: Vec<(String, String)>,
    pub transcript_url: Option<String>,
    pub chatbot_url: Option<String>,
    /// "Attached" or why the resume is not.
    pub resume: String,
    pub footer: String,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Style {
    Regular,
    Bold,
}

struct Face {
    data: &'static [u8],
    face: ttf_parser::Face<'static>,
    remap: subsetter::GlyphRemapper,
    /// new glyph id → (advance in 1/1000 em, the text it stands for)
    used: BTreeMap<u16, (f32, String)>,
    pdf_name: &'static [u8],
    base: &'static str,
}

impl Face {
    fn new(data: &'static [u8], pdf_name: &'static [u8], base: &'static str) -> Self {
        let face = ttf_parser::Face::parse(data, 0).expect("bundled font parses");
        Self { data, face, remap: subsetter::GlyphRemapper::new(), used: BTreeMap::new(), pdf_name, base }
    }
    fn glyph(&self, c: char) -> Option<ttf_parser::GlyphId> {
        self.face.glyph_index(c).filter(|g| g.0 != 0)
    }
    fn advance(&self, g: ttf_parser::GlyphId) -> f32 {
        self.face.glyph_hor_advance(g).unwrap_or(0) as f32 * 1000.0 / self.face.units_per_em() as f32
    }
}

struct Fonts {
    faces: Vec<Face>, // 0 regular, 1 bold, 2 fallback
}

/// A run of glyphs in one font: (face index, new glyph ids).
type Run = (usize, Vec<u16>);

impl Fonts {
    fn new() -> Self {
        Self {
            faces: vec![
                Face::new(REGULAR, b"F0", "DejaVuSans"),
                Face::new(BOLD, b"F1", "DejaVuSans-Bold"),
                Face::new(FALLBACK, b"F2", "DroidSansFallback"),
            ],
        }
    }

    /// The face and glyph for a character: the style's face, else the fallback, else notdef.
    fn pick(&self, c: char, style: Style) -> (usize, ttf_parser::GlyphId) {
        let primary = if style == Style::Bold { 1 } else { 0 };
        for i in [primary, 0, 2] {
            if let Some(g) = self.faces[i].glyph(c) {
                return (i, g);
            }
        }
        (primary, ttf_parser::GlyphId(0))
    }

    fn width(&self, s: &str, style: Style, size: f32) -> f32 {
        s.chars()
            .map(|c| {
                let (i, g) = self.pick(c, style);
                self.faces[i].advance(g)
            })
            .sum::<f32>()
            * size
            / 1000.0
    }

    /// Turns a line into runs of remapped glyphs, remembering what each glyph stands for.
    fn shape(&mut self, s: &str, style: Style) -> Vec<Run> {
        let mut runs: Vec<Run> = Vec::new();
        for c in s.chars().filter(|c| !c.is_control()) {
            let (i, g) = self.pick(c, style);
            // No bundled font has it: show U+FFFD's glyph rather than one notdef for many texts.
            let (i, g) = if g.0 == 0 { self.pick('\u{FFFD}', style) } else { (i, g) };
            let f = &mut self.faces[i];
            let new = f.remap.remap(g.0);
            let adv = f.advance(g);
            f.used.entry(new).or_insert_with(|| (adv, c.to_string()));
            match runs.last_mut() {
                Some((fi, glyphs)) if *fi == i => glyphs.push(new),
                _ => runs.push((i, vec![new])),
            }
        }
        runs
    }
}

struct Writer {
    fonts: Fonts,
    pages: Vec<Content>,
    y: f32,
}

impl Writer {
    fn new() -> Self {
        let mut w = Self { fonts: Fonts::new(), pages: Vec::new(), y: 0.0 };
        w.new_page();
        w
    }

    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = PAGE_H - MARGIN;
    }

    fn line(&mut self, s: &str, style: Style, size: f32, indent: f32) {
        let leading = size * 1.35;
        if self.y - leading < MARGIN {
            self.new_page();
        }
        self.y -= leading;
        let runs = self.fonts.shape(s, style);
        let page = self.pages.last_mut().expect("a page");
        page.begin_text();
        page.next_line(MARGIN + indent, self.y);
        for (fi, glyphs) in runs {
            let bytes: Vec<u8> = glyphs.iter().flat_map(|g| g.to_be_bytes()).collect();
            page.set_font(Name(self.fonts.faces[fi].pdf_name), size);
            page.show(Str(&bytes));
        }
        page.end_text();
    }

    /// Word-wrapped paragraph (long words, as in CJK text without spaces, break anywhere).
    fn paragraph(&mut self, text: &str, style: Style, size: f32, indent: f32) {
        let max = PAGE_W - 2.0 * MARGIN - indent;
        for source_line in text.lines() {
            let mut line = String::new();
            for word in source_line.split_whitespace() {
                let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
                if self.fonts.width(&candidate, style, size) <= max {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    self.line(&line, style, size, indent);
                    line.clear();
                }
                for c in word.chars() {
                    line.push(c);
                    if self.fonts.width(&line, style, size) > max {
                        line.pop();
                        self.line(&line, style, size, indent);
                        line = c.to_string();
                    }
                }
            }
            if !line.is_empty() || source_line.trim().is_empty() {
                self.line(&line, style, size, indent);
            }
        }
    }

    fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    fn field(&mut self, label: &str, value: Option<&str>) {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            self.paragraph(&format!("{label}: {v}"), Style::Regular, 10.5, 0.0);
        }
    }
}

pub fn render(r: &Report) -> Vec<u8> {
    let mut w = Writer::new();
    w.line("XOR screening report", Style::Bold, 18.0, 0.0);
    w.gap(4.0);
    w.paragraph(&r.candidate_name, Style::Bold, 15.0, 0.0);
    w.paragraph(&format!("Job: {} (Lever posting {})", r.job_title, r.posting_id), Style::Regular, 10.5, 0.0);
    let score = r.score.map(|s| if s.fract() == 0.0 { format!("{s:.0} / 100") } else { format!("{s:.1} / 100") });
    let passed = r.passed.map(|p| if p { "passed" } else { "not passed" });
    w.field("Score", score.as_deref());
    w.field("Result", passed);
    w.field("Completed", r.completed_at.as_deref());
    w.gap(6.0);
    w.field("Email", r.email.as_deref());
    w.field("Phone", r.phone.as_deref());
    w.field("Location", r.location.as_deref());
    w.field("LinkedIn", r.linkedin_url.as_deref());
    if let Some(s) = r.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        w.gap(8.0);
        w.line("Summary", Style::Bold, 12.5, 0.0);
        w.paragraph(s, Style::Regular, 10.5, 0.0);
    }
    w.gap(8.0);
    w.line("Questions and answers", Style::Bold, 12.5, 0.0);
    if r.answers.is_empty() {
        w.paragraph("No questions were recorded.", Style::Regular, 10.5, 0.0);
    }
    for (i, (q, a)) in r.answers.iter().enumerate() {
        w.gap(3.0);
        w.paragraph(&format!("{}. {q}", i + 1), Style::Bold, 10.5, 0.0);
        w.paragraph(a, Style::Regular, 10.5, 14.0);
    }
    w.gap(8.0);
    w.field("Transcript", r.transcript_url.as_deref());
    w.field("Chatbot", r.chatbot_url.as_deref());
    w.field("Resume", Some(&r.resume));
    w.gap(10.0);
    w.paragraph(&r.footer, Style::Regular, 8.0, 0.0);
    finish(w)
}

/// The PDF's objects: the catalog, the page tree, each page (its fonts, its content stream),
/// then each font used (subset and embedded).
fn finish(w: Writer) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let mut next = 1;
    let mut alloc = || {
        next += 1;
        Ref::new(next - 1)
    };
    let catalog = alloc();
    let tree = alloc();
    let page_ids: Vec<(Ref, Ref)> = w.pages.iter().map(|_| (alloc(), alloc())).collect();
    let font_ids: Vec<[Ref; 5]> = w.fonts.faces.iter().map(|_| [alloc(), alloc(), alloc(), alloc(), alloc()]).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().map(|(p, _)| *p)).count(page_ids.len() as i32);
    for ((page_id, content_id), content) in page_ids.iter().zip(w.pages) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H)).parent(tree).contents(*content_id);
        let mut res = page.resources();
        let mut fonts = res.fonts();
        for (f, ids) in w.fonts.faces.iter().zip(&font_ids) {
            if !f.used.is_empty() {
                fonts.pair(Name(f.pdf_name), ids[0]);
            }
        }
        fonts.finish();
        res.finish();
        page.finish();
        pdf.stream(*content_id, &content.finish());
    }
    for (f, ids) in w.fonts.faces.iter().zip(font_ids) {
        if !f.used.is_empty() {
            embed_font(&mut pdf, f, ids);
        }
    }
    pdf.finish()
}

/// One font, as the glyphs used: a Type 0 font over a CID font, its descriptor, the subset
/// file, and the map back to Unicode (so text can be searched and copied).
fn embed_font(pdf: &mut Pdf, f: &Face, [type0, cid, descriptor, file, cmap_id]: [Ref; 5]) {
    let base = format!("{}+{}", subset_tag(f), f.base);
    let system = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };
    pdf.type0_font(type0)
        .base_font(Name(base.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap_id);
    let mut c = pdf.cid_font(cid);
    c.subtype(CidFontType::Type2)
        .base_font(Name(base.as_bytes()))
        .system_info(system)
        .font_descriptor(descriptor)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    let max = f.used.keys().max().copied().unwrap_or(0);
    let widths: Vec<f32> = (0..=max).map(|g| f.used.get(&g).map_or(0.0, |(a, _)| *a)).collect();
    c.widths().consecutive(0, widths);
    c.finish();
    let upem = f.face.units_per_em() as f32;
    let s = |v: i16| v as f32 * 1000.0 / upem;
    let bb = f.face.global_bounding_box();
    pdf.font_descriptor(descriptor)
        .name(Name(base.as_bytes()))
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(s(bb.x_min), s(bb.y_min), s(bb.x_max), s(bb.y_max)))
        .italic_angle(0.0)
        .ascent(s(f.face.ascender()))
        .descent(s(f.face.descender()))
        .cap_height(s(f.face.capital_height().unwrap_or(f.face.ascender())))
        .stem_v(80.0)
        .font_file2(file);
    let subset = subsetter::subset(f.data, 0, &f.remap).expect("subsetting a bundled font");
    pdf.stream(file, &subset);
    let mut cmap = UnicodeCmap::new(Name(b"Custom"), system);
    for (g, (_, text)) in &f.used {
        cmap.pair_with_multiple(*g, text.chars());
    }
    pdf.cmap(cmap_id, &cmap.finish());
}

/// A subset's name carries a six-letter tag (PDF 32000 §9.6.4).
fn subset_tag(f: &Face) -> String {
    f.base
        .bytes()
        .chain(f.used.len().to_le_bytes())
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
        .to_string()
        .bytes()
        .map(|d| (b'A' + (d - b'0')) as char)
        .chain("AAAAAA".chars())
        .take(6)
        .collect()
}
