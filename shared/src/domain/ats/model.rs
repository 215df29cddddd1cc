//! What xor-lever reads from and sends to the ATS, in Lever's shapes (docs/lever-facts.md):
//! users, postings, opportunities (with their files) and the filters it searches them by.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
pub struct LeverUser {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, rename = "accessRole")]
    pub access_role: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LeverPosting {
    pub id: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

impl LeverPosting {
    /// Candidates can be added to published and internal postings.
    pub fn is_open(&self) -> bool {
        matches!(self.state.as_deref(), Some("published" | "internal"))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Opportunity {
    pub id: String,
    #[serde(default)]
    pub contact: Option<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    /// Application ids (DOCS); with `expand=applications`, the applications, each with its
    /// `posting`.
    #[serde(default)]
    pub applications: Vec<serde_json::Value>,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub phones: Vec<serde_json::Value>,
    #[serde(default)]
    pub links: Vec<String>,
    /// Epoch milliseconds.
    #[serde(default, rename = "createdAt")]
    pub created_at: Option<i64>,
    /// Where Lever shows it (DOCS: "An object containing the list and show urls for this
    /// Opportunity"): the recruiter's link, in the account's own region. A shape we do not
    /// expect is no link, never a failed create.
    #[serde(default, deserialize_with = "lenient")]
    pub urls: Option<OpportunityUrls>,
    /// The stage's id (DOCS: `stage`, a stage id unless expanded).
    #[serde(default, deserialize_with = "lenient")]
    pub stage: Option<String>,
    /// Set while the opportunity is archived (DOCS: `archived: {archivedAt, reason}`, the reason
    /// an archive reason's id); `null` when it is not.
    #[serde(default, deserialize_with = "lenient")]
    pub archived: Option<ArchivedState>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchivedState {
    #[serde(default)]
    pub archived_at: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A pipeline stage (`GET /stages`): its id and the words a recruiter sees.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Stage {
    pub id: String,
    #[serde(default)]
    pub text: String,
}

/// An archive reason (`GET /archive_reasons`): `type` is `hired` or `non-hired`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ArchiveReason {
    pub id: String,
    #[serde(default)]
    pub text: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// `T` when the value has its shape, else nothing: for what is only nice to have.
fn lenient<'de, D: serde::Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct OpportunityUrls {
    #[serde(default)]
    pub show: Option<String>,
}

impl Opportunity {
    /// Whether an application is for `posting_id` (needs `expand=applications`: an application
    /// id alone never matches).
    pub fn has_posting(&self, posting_id: &str) -> bool {
        self.applications.iter().any(|a| a.get("posting").and_then(|x| x.as_str()) == Some(posting_id))
    }
    /// Lever source names are matched without regard to case ("XOR", "xor").
    pub fn has_source(&self, source: &str) -> bool {
        self.sources.iter().any(|s| s.eq_ignore_ascii_case(source))
    }
    pub fn has_email(&self, email: &str) -> bool {
        self.emails.iter().any(|e| e.eq_ignore_ascii_case(email))
    }
    pub fn has_link(&self, url: &str) -> bool {
        self.links.iter().any(|l| l == url)
    }
    /// The same phone number, whichever way the account stored it: Lever's reference shows
    /// `(123) 456-7891`, and what it does with the international form we send is UNCONFIRMED
    /// (as sent, E.164, or national). Compared on the digits: equal, or the national number (its
    /// trunk `0` dropped, 8 digits at least) ending the international one.
    pub fn has_phone(&self, phone: &str) -> bool {
        let want = digits(phone);
        !want.is_empty()
            && self
                .phones
                .iter()
                .any(|p| p.get("value").and_then(|v| v.as_str()).is_some_and(|v| same_number(&digits(v), &want)))
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Two phone numbers' digits name the same line (see [`Opportunity::has_phone`]).
fn same_number(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (short, long) = if a.len() < b.len() { (a, b) } else { (b, a) };
    let national = short.strip_prefix('0').unwrap_or(short);
    national.len() >= 8 && long.ends_with(national) && long.len() - national.len() <= 3
}

/// The documented filters of `GET /opportunities` this product uses (all optional).
#[derive(Debug, Clone, Default)]
pub struct OpportunityFilter {
    pub email: Option<String>,
    pub posting_id: Option<String>,
    pub source: Option<String>,
    /// Epoch milliseconds.
    pub created_at_start: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Phone {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// The fields of `POST /v1/opportunities`. No `headline`: Lever's is the contact's (previous
/// companies or schools), shared by all their opportunities, and ignored for a known contact.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewOpportunity {
    pub name: String,
    pub location: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<Phone>,
    pub links: Vec<String>,
    pub tags: Vec<String>,
    pub sources: Vec<String>,
    pub origin: String,
    pub postings: Vec<String>,
    /// A stage id; Lever's default (the account's first stage) when absent.
    pub stage: Option<String>,
}

/// Which of Lever's file slots a file goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `resumeFile`: the one resume (Lever shows it under Resumes).
    Resume,
    /// `files[]`: any other file (Lever shows them under Files).
    Other,
}

#[derive(Debug, Clone)]
pub struct FileUpload {
    pub kind: FileKind,
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A resume type Lever accepts (docs/lever-facts.md, "Supported File Formats": doc, docx, pdf,
/// txt, jpg, png; the list's `js` is not a resume and is never sent as one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeType {
    pub mime: &'static str,
    pub extension: &'static str,
}

/// The resume type of `bytes`, by their content (a link's `Content-Type` is the sender's word):
/// `None` for anything Lever does not take, markup that would pass as text among them.
pub fn resume_type(bytes: &[u8]) -> Option<ResumeType> {
    let t = |mime, extension| Some(ResumeType { mime, extension });
    match infer::get(bytes).map(|k| k.extension()) {
        Some("pdf") => t("application/pdf", "pdf"),
        Some("docx") => t("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
        Some("doc") => t("application/msword", "doc"),
        Some("jpg") => t("image/jpeg", "jpg"),
        Some("png") => t("image/png", "png"),
        Some(_) => None,
        None if is_plain_text(bytes) => t("text/plain", "txt"),
        None => None,
    }
}

/// UTF-8 text with no control bytes but whitespace, that does not open as markup (HTML, SVG, XML
/// would be text to a sniffer and a page to a browser).
fn is_plain_text(bytes: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(bytes) else { return false };
    let opens_markup = s.trim_start_matches('\u{feff}').trim_start().starts_with('<');
    !s.trim().is_empty()
        && !opens_markup
        && s.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
}

/// `name` with the extension of its type (a link's name may say `.pdf` of a Word file).
pub fn resume_file_name(name: &str, t: ResumeType) -> String {
    let name = safe_file_name(name, "resume");
    match name.rsplit_once('.') {
        Some((stem, ext)) if ext.eq_ignore_ascii_case(t.extension) => format!("{stem}.{}", t.extension),
        Some((stem, ext)) if ext.len() <= 5 => format!("{stem}.{}", t.extension),
        _ => format!("{name}.{}", t.extension),
    }
}

/// A file name safe to hand to the ATS (it goes into a multipart header and is shown to
/// recruiters): letters, digits, `.`, `_` and `-` only, no leading dot, at most 100 characters
/// with the extension kept; `fallback` when nothing is left.
pub fn safe_file_name(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut out = String::new();
    for c in base.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    let out = out.trim_start_matches(['.', '_']).trim_end_matches('_').to_owned();
    let out = if out.chars().count() > 100 {
        let ext: String = out.rsplit_once('.').map(|(_, e)| e).filter(|e| e.len() <= 10).unwrap_or_default().to_owned();
        let keep: String = out.chars().take(100 - ext.len() - 1).collect();
        if ext.is_empty() { keep } else { format!("{keep}.{ext}") }
    } else {
        out
    };
    if out.is_empty() || out.chars().all(|c| c == '.') { fallback.to_owned() } else { out }
}

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn file_names_are_plain() {
        assert_eq!(safe_file_name("Ada Lovelace CV.pdf", "resume"), "Ada_Lovelace_CV.pdf");
        assert_eq!(safe_file_name("../../\"x\"\r\nA: b.pdf", "resume"), "x_A_b.pdf");
        assert_eq!(safe_file_name("..", "resume"), "resume");
        assert_eq!(safe_file_name("", "resume"), "resume");
        let long = format!("{}.docx", "a".repeat(300));
        let s = safe_file_name(&long, "resume");
        assert!(s.len() <= 100 && s.ends_with(".docx"), "{s}");
    }

    #[test]
    fn a_phone_is_the_same_however_it_was_stored() {
        let with = |v: &str| super::Opportunity {
            id: "o".into(),
            contact: None,
            sources: vec![],
            applications: vec![],
            emails: vec![],
            phones: vec![serde_json::json!({"value": v})],
            links: vec![],
            created_at: None,
            urls: None,
            stage: None,
            archived: None,
        };
        for stored in ["+44 20 7946 0001", "+442079460001", "020 7946 0001", "(020) 7946-0001"] {
            assert!(with(stored).has_phone("+44 (20) 7946-0001"), "{stored}");
        }
        assert!(with("(415) 555-0100").has_phone("+1 415 555 0100"));
        for other in ["+44 20 7946 0002", "7946 0001", "+49 20 7946 0001 99", ""] {
            assert!(!with(other).has_phone("+44 20 7946 0001"), "{other}");
        }
    }

    #[test]
    fn resume_types_are_sniffed_from_the_bytes() {
        use super::{resume_file_name, resume_type};
        let ty = |b: &[u8]| resume_type(b).map(|t| t.extension);
        assert_eq!(ty(b"%PDF-1.4 resume"), Some("pdf"));
        assert_eq!(ty(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("png"));
        assert_eq!(ty(b"\xff\xd8\xff\xe0\0\x10JFIF\0"), Some("jpg"));
        assert_eq!(ty(b"Ada Lovelace\nAnalyst, London\n"), Some("txt"));
        for refused in [
            &b"<html><script>alert(1)</script></html>"[..],
            b"  <svg onload=alert(1)>",
            b"MZ\x90\0\x03\0\0\0",
            b"\x7fELF\x02\x01\x01",
            b"GIF89a\x01\0",
            b"\0\0\0\0binary",
            b"",
        ] {
            assert_eq!(ty(refused), None, "{refused:?}");
        }
        let pdf = resume_type(b"%PDF-1.7").unwrap();
        assert_eq!(resume_file_name("cv.PDF", pdf), "cv.pdf");
        assert_eq!(resume_file_name("cv.docx", pdf), "cv.pdf");
        assert_eq!(resume_file_name("cv", pdf), "cv.pdf");
        assert_eq!(resume_file_name("", pdf), "resume.pdf");
    }
}

/// A webhook the app registered in Lever ("Webhooks via the API"): Lever gives its signature
/// token only in the answer to its creation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeverWebhook {
    pub id: String,
    pub url: String,
    pub event: String,
    #[serde(default)]
    pub signature_token: Option<String>,
}
