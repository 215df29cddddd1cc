//! Lever's Data API as this product uses it (users, postings, opportunities with their files,
//! notes), and `LeverClient` as the product's `Ats`.
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use reqwest::multipart::{Form, Part};

use super::{Body, Data, LeverClient, Page};
use crate::adapters::enc;
use crate::domain::SecretString;
use crate::domain::ats::*;

impl LeverClient {
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
}

/// Lever as the product's ATS.
#[async_trait]
impl Ats for LeverClient {
    fn authorize_url(&self, client_id: &str, redirect_uri: &str, state: &str) -> String {
        let audience = self.hosts.audience();
        let q = [
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("state", state),
            ("scope", super::SCOPES),
            ("audience", audience.as_str()),
            ("prompt", "consent"),
        ];
        let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
        format!("{}?{}", self.hosts.authorize_url(), query.join("&"))
    }
    fn permissions(&self) -> &'static [(&'static str, &'static str)] {
        super::SCOPE_REASONS
    }
    /// Lever's app shows an opportunity at `/candidates/<opportunity id>` (UNCONFIRMED: seen in
    /// Lever's app, not in the API reference).
    fn opportunity_url(&self, id: &str) -> String {
        format!("{}/candidates/{}", self.hosts.app_base(), enc(id))
    }
    fn token_timeout(&self) -> Duration {
        self.token_timeout
    }
    async fn exchange_code(
        &self,
        app: &AppCredentials,
        code: &str,
        redirect_uri: &str,
        now: i64,
    ) -> Result<TokenSet, OAuthError> {
        self.code_grant(app, code, redirect_uri, now).await
    }
    async fn refresh(
        &self,
        app: &AppCredentials,
        refresh_token: &SecretString,
        now: i64,
    ) -> Result<TokenSet, OAuthError> {
        self.refresh_grant(app, refresh_token, now).await
    }

    // ---- Data API ----------------------------------------------------------------------------

    /// Any one user: the cheapest authenticated call (the scheduled run's authorization check).
    async fn any_user(&self, token: &SecretString) -> Result<Vec<LeverUser>, LeverError> {
        let page: Page<LeverUser> =
            self.call("users", Method::GET, "/users?limit=1".into(), token, Body::None, true).await?;
        Ok(page.data)
    }

    /// Every user with `access_role` (e.g. `super admin`), every page.
    async fn users_with_role(&self, token: &SecretString, access_role: &str) -> Result<Vec<LeverUser>, LeverError> {
        let base = format!("/users?accessRole={}&limit=100", enc(access_role));
        self.all_pages("users", &base, token).await
    }

    async fn user(&self, token: &SecretString, id: &str) -> Result<LeverUser, LeverError> {
        let d: Data<LeverUser> =
            self.call("get user", Method::GET, format!("/users/{}", enc(id)), token, Body::None, true).await?;
        Ok(d.data)
    }

    async fn posting(&self, token: &SecretString, id: &str) -> Result<LeverPosting, LeverError> {
        let d: Data<LeverPosting> =
            self.call("get posting", Method::GET, format!("/postings/{}", enc(id)), token, Body::None, true).await?;
        Ok(d.data)
    }

    /// Opportunities by the documented filters, with their applications expanded (so each
    /// shows its posting), every page.
    async fn find_opportunities(
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
        let q = q.join("&");
        // Lists leave confidential opportunities out unless asked (DOCS: "If unspecified, defaults
        // to non-confidential"): a retry must see one it created on a confidential posting. An
        // authorization from before `confidential:access:admin` was asked for is refused that
        // (an access error): it still sees the rest, as it did before.
        let all = format!("/opportunities?{q}&confidentiality=all");
        match self.all_pages("find opportunities", &all, token).await {
            Err(LeverError::Forbidden { .. }) => {
                tracing::info!("no access to confidential data: looking among non-confidential opportunities only");
                self.all_pages("find opportunities", &format!("/opportunities?{q}"), token).await
            }
            other => other,
        }
    }

    /// `POST /v1/opportunities?perform_as=…`, multipart with the files. With `as_posting_owner`,
    /// Lever makes the posting's owner the owner (and the follower) instead of `perform_as`
    /// (`perform_as_posting_owner=true`). NOT idempotent at Lever: only a 429 (not processed) is
    /// retried; a 5xx or timeout is returned as `Unavailable` for the caller to look before it
    /// creates again.
    async fn create_opportunity(
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
        let mut d: Data<Opportunity> =
            self.call("create opportunity", Method::POST, path, token, Body::Multipart(Box::new(form)), false).await?;
        // A link for recruiters, shown on the section page: only one of Lever's own (else the
        // page builds it from the id).
        if let Some(u) = d.data.urls.as_mut() {
            u.show = u
                .show
                .take()
                .filter(|s| s.len() <= 2048 && reqwest::Url::parse(s).is_ok_and(|u| super::is_lever_host(&u)));
        }
        Ok(d.data)
    }

    /// `POST /v1/opportunities/{id}/notes?perform_as=…` (`value`). Not idempotent either: a
    /// failure after sending is not retried.
    async fn add_note(
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

    /// `GET /opportunities/{id}`: 404 means Lever no longer has it (a deleted candidate).
    async fn opportunity(&self, token: &SecretString, id: &str) -> Result<Option<Opportunity>, LeverError> {
        let path = format!("/opportunities/{}", enc(id));
        match self.call::<Data<Opportunity>>("get opportunity", Method::GET, path, token, Body::None, true).await {
            Ok(d) => Ok(Some(d.data)),
            Err(LeverError::Rejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn stages(&self, token: &SecretString) -> Result<Vec<Stage>, LeverError> {
        self.all_pages("list stages", "/stages?limit=100", token).await
    }

    async fn archive_reasons(&self, token: &SecretString) -> Result<Vec<ArchiveReason>, LeverError> {
        self.all_pages("list archive reasons", "/archive_reasons?limit=100", token).await
    }

    /// The webhooks this app registered (Lever lists only the app's own).
    async fn webhooks(&self, token: &SecretString) -> Result<Vec<LeverWebhook>, LeverError> {
        self.all_pages("list webhooks", "/webhooks?limit=100", token).await
    }

    /// Not retried on a failure (a second webhook would double every event); a lost answer is
    /// seen by the next subscription's listing.
    async fn create_webhook(&self, token: &SecretString, url: &str, event: &str) -> Result<LeverWebhook, LeverError> {
        let body = serde_json::json!({ "url": url, "event": event });
        let d: Data<LeverWebhook> =
            self.call("create webhook", Method::POST, "/webhooks".into(), token, Body::Json(body), false).await?;
        Ok(d.data)
    }

    async fn delete_webhook(&self, token: &SecretString, id: &str) -> Result<(), LeverError> {
        let path = format!("/webhooks/{}", enc(id));
        self.call::<()>("delete webhook", Method::DELETE, path, token, Body::None, true).await
    }

    async fn note_texts(&self, token: &SecretString, opportunity: &str) -> Result<Vec<String>, LeverError> {
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
/// `resumeFile`, another file under `files` (several under `files[]`: DOCS "If uploading
/// multiple files ... use files[] as the field name"). Phones as `phones[i][type|value]`, the
/// reference's syntax for a nested field in a form (`archive[archivedAt]`): the reference
/// shows no phone in a form, so this encoding is UNCONFIRMED.
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
    let others = files.iter().filter(|f| f.kind == FileKind::Other).count();
    for file in files {
        let part = Part::bytes(file.bytes.clone())
            .file_name(file.name.clone())
            .mime_str(&file.content_type)
            .unwrap_or_else(|_| Part::bytes(file.bytes.clone()).file_name(file.name.clone()));
        let key = match file.kind {
            FileKind::Resume => "resumeFile",
            FileKind::Other if others == 1 => "files",
            FileKind::Other => "files[]",
        };
        f = f.part(key, part);
    }
    f
}
