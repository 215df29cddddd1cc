//! Lever's Data API as this product uses it: users, postings, opportunities (with their files),
//! notes; the types it reads and sends.
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde::{Deserialize, Serialize};

use super::{Body, Data, LeverClient, LeverError, Page};
use crate::adapters::enc;
use crate::domain::SecretString;

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
    /// The same phone number, compared on its digits (formatting varies).
    pub fn has_phone(&self, phone: &str) -> bool {
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        let want = digits(phone);
        !want.is_empty()
            && self.phones.iter().any(|p| p.get("value").and_then(|v| v.as_str()).is_some_and(|v| digits(v) == want))
    }
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

impl LeverClient {
    // ---- Data API ----------------------------------------------------------------------------

    /// Any one user: the cheapest authenticated call (the scheduled run's authorization check).
    pub async fn any_user(&self, token: &SecretString) -> Result<Vec<LeverUser>, LeverError> {
        let page: Page<LeverUser> =
            self.call("users", Method::GET, "/users?limit=1".into(), token, Body::None, true).await?;
        Ok(page.data)
    }

    /// Every user with `access_role` (e.g. `super admin`), every page.
    pub async fn users_with_role(&self, token: &SecretString, access_role: &str) -> Result<Vec<LeverUser>, LeverError> {
        let base = format!("/users?accessRole={}&limit=100", enc(access_role));
        self.all_pages("users", &base, token).await
    }

    pub async fn user(&self, token: &SecretString, id: &str) -> Result<LeverUser, LeverError> {
        let d: Data<LeverUser> =
            self.call("get user", Method::GET, format!("/users/{}", enc(id)), token, Body::None, true).await?;
        Ok(d.data)
    }

    pub async fn posting(&self, token: &SecretString, id: &str) -> Result<LeverPosting, LeverError> {
        let d: Data<LeverPosting> =
            self.call("get posting", Method::GET, format!("/postings/{}", enc(id)), token, Body::None, true).await?;
        Ok(d.data)
    }

    /// Published postings, every page (offset tokens are used at once, never stored).
    pub async fn postings(&self, token: &SecretString) -> Result<Vec<LeverPosting>, LeverError> {
        let mut out = Vec::new();
        let mut offset: Option<String> = None;
        loop {
            let mut path = "/postings?state=published&limit=100".to_owned();
            if let Some(o) = &offset {
                path.push_str("&offset=");
                path.push_str(&enc(o));
            }
            let page: Page<LeverPosting> =
                self.call("list postings", Method::GET, path, token, Body::None, true).await?;
            out.extend(page.data);
            match (page.has_next, page.next) {
                (true, Some(n)) => offset = Some(n),
                _ => return Ok(out),
            }
        }
    }

    /// Opportunities by the documented filters, with their applications expanded (so each
    /// shows its posting), every page.
    pub async fn find_opportunities(
        &self,
        token: &SecretString,
        f: &OpportunityFilter,
    ) -> Result<Vec<Opportunity>, LeverError> {
        let mut q = vec!["expand=applications".to_owned(), "limit=100".to_owned()];
        for (k, v) in [("email", &f.email), ("posting_id", &f.posting_id), ("source", &f.source)] {
            if let Some(v) = v {
                q.push(format!("{k}={}", enc(v)));
            }
        }
        if let Some(t) = f.created_at_start {
            q.push(format!("created_at_start={t}"));
        }
        self.all_pages("find opportunities", &format!("/opportunities?{}", q.join("&")), token).await
    }

    /// `POST /v1/opportunities?perform_as=…`, multipart with the files. With `as_posting_owner`,
    /// Lever makes the posting's owner the owner (and the follower) instead of `perform_as`
    /// (`perform_as_posting_owner=true`). NOT idempotent at Lever: only a 429 (not processed) is
    /// retried; a 5xx or timeout is returned as `Unavailable` for the caller to look before it
    /// creates again.
    pub async fn create_opportunity(
        &self,
        token: &SecretString,
        perform_as: &str,
        as_posting_owner: bool,
        o: &NewOpportunity,
        files: &[FileUpload],
    ) -> Result<Opportunity, LeverError> {
        let (o, files) = (o.clone(), files.to_vec());
        let form = move || multipart_form(&o, &files);
        let mut path = format!("/opportunities?perform_as={}", enc(perform_as));
        if as_posting_owner {
            path.push_str("&perform_as_posting_owner=true");
        }
        let d: Data<Opportunity> =
            self.call("create opportunity", Method::POST, path, token, Body::Multipart(Box::new(form)), false).await?;
        Ok(d.data)
    }

    /// `POST /v1/opportunities/{id}/notes?perform_as=…` (`value`). Not idempotent either: a
    /// failure after sending is not retried.
    pub async fn add_note(
        &self,
        token: &SecretString,
        perform_as: &str,
        opportunity: &str,
        text: &str,
    ) -> Result<(), LeverError> {
        let path = format!("/opportunities/{}/notes?perform_as={}", enc(opportunity), enc(perform_as));
        let body = serde_json::json!({ "value": text });
        let _: serde_json::Value = self.call("add note", Method::POST, path, token, Body::Json(body), false).await?;
        Ok(())
    }

    /// The texts of an opportunity's notes (to see whether an earlier attempt added ours).
    pub async fn note_texts(&self, token: &SecretString, opportunity: &str) -> Result<Vec<String>, LeverError> {
        let base = format!("/opportunities/{}/notes?limit=100", enc(opportunity));
        let notes: Vec<serde_json::Value> = self.all_pages("list notes", &base, token).await?;
        Ok(notes
            .iter()
            .flat_map(|n| {
                n.get("fields")
                    .and_then(|f| f.as_array())
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|f| f.get("value").and_then(|v| v.as_str()).map(str::to_owned))
            })
            .collect())
    }
}

/// Lever's multipart shape (DOCS): arrays as repeated `name[]` keys; the resume under
/// `resumeFile`, every other file under `files[]`. Phones as `phones[i][type|value]` (UNCONFIRMED).
fn multipart_form(o: &NewOpportunity, files: &[FileUpload]) -> Form {
    let mut f = Form::new().text("name", o.name.clone()).text("origin", o.origin.clone());
    if let Some(s) = &o.stage {
        f = f.text("stage", s.clone());
    }
    if let Some(l) = &o.location {
        f = f.text("location", l.clone());
    }
    for (key, values) in [
        ("emails[]", &o.emails),
        ("links[]", &o.links),
        ("tags[]", &o.tags),
        ("sources[]", &o.sources),
        ("postings[]", &o.postings),
    ] {
        for v in values {
            f = f.text(key, v.clone());
        }
    }
    for (i, p) in o.phones.iter().enumerate() {
        f = f.text(format!("phones[{i}][type]"), p.kind.clone()).text(format!("phones[{i}][value]"), p.value.clone());
    }
    for file in files {
        let part = Part::bytes(file.bytes.clone())
            .file_name(file.name.clone())
            .mime_str(&file.content_type)
            .unwrap_or_else(|_| Part::bytes(file.bytes.clone()).file_name(file.name.clone()));
        let key = match file.kind {
            FileKind::Resume => "resumeFile",
            FileKind::Other => "files[]",
        };
        f = f.part(key, part);
    }
    f
}
