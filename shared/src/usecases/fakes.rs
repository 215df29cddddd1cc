//! Small in-process fakes of the outside systems (a job board, a feed, an ATS, a file host) for
//! the use cases' unit tests: each keeps what it was asked and can be told to fail next. The
//! over-HTTP behaviour of the real adapters is tested against the sandboxes (`tests/`).
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::ats::*;
use crate::domain::*;

/// A job board: jobs by id, create keys remembered with their body.
#[derive(Clone, Default)]
pub struct FakeBoard(Arc<Mutex<BoardState>>);

#[derive(Default)]
pub struct BoardState {
    pub jobs: BTreeMap<String, XorJob>,
    /// Ids only go up (as XOR's): a job made after others were lost never reuses an id.
    next_id: u32,
    keys: HashMap<String, (String, Vec<u8>)>,
    /// Each call by name (`create`, `update`, `close`, `list`).
    pub calls: Vec<&'static str>,
    /// Answers to give instead of the next calls.
    pub fail_next: VecDeque<XorError>,
    /// The next create is made but its answer is lost.
    pub lose_next_create: bool,
    /// Candidate events received, once per key: (candidate id, key, event).
    pub events: Vec<(String, String, CandidateEvent)>,
}

impl FakeBoard {
    pub fn state(&self) -> std::sync::MutexGuard<'_, BoardState> {
        self.0.lock().unwrap()
    }
    pub fn active(&self) -> BTreeMap<String, String> {
        let s = self.state();
        s.jobs
            .values()
            .filter(|j| j.status == "active")
            .map(|j| (j.external_id.clone().unwrap_or_default(), j.id.clone()))
            .collect()
    }
    pub fn writes(&self) -> usize {
        self.state().calls.iter().filter(|c| **c != "list").count()
    }
    fn begin(&self, op: &'static str) -> Result<std::sync::MutexGuard<'_, BoardState>, XorError> {
        let mut s = self.state();
        s.calls.push(op);
        match s.fail_next.pop_front() {
            Some(e) => Err(e),
            None => Ok(s),
        }
    }
}

pub fn xor_unavailable(op: &'static str) -> XorError {
    XorError::Unavailable {
        op,
        attempts: 1,
        last: crate::domain::Failure::Status { status: 503, retry_after_ms: None },
    }
}

pub fn xor_refused(op: &'static str, status: u16) -> XorError {
    XorError::Rejected { op, status, code: "refused".into(), message: String::new() }
}

#[async_trait]
impl JobBoard for FakeBoard {
    async fn create(&self, key: &str, job: &Posting) -> Result<XorJob, XorError> {
        let mut s = self.begin("create")?;
        let body = job.to_body();
        if let Some((id, b)) = s.keys.get(key).cloned() {
            return if b == body { Ok(s.jobs[&id].clone()) } else { Err(xor_refused("create", 409)) };
        }
        s.next_id += 1;
        let id = format!("xj_{:06}", s.next_id);
        let made = XorJob {
            id: id.clone(),
            status: "active".into(),
            chatbot_url: Some(format!("https://chat.example/{id}")),
            webchat_url: Some(format!("https://web.example/{id}")),
            external_id: Some(job.external_id.to_string()),
            title: Some(job.title.clone()),
            source: Some("lever".into()),
            location: serde_json::to_value(&job.location).ok(),
        };
        s.jobs.insert(id.clone(), made.clone());
        s.keys.insert(key.to_owned(), (id, body));
        if std::mem::take(&mut s.lose_next_create) {
            return Err(xor_unavailable("create"));
        }
        Ok(made)
    }
    async fn update(&self, id: &str, job: &Posting) -> Result<XorJob, XorError> {
        let mut s = self.begin("update")?;
        let j = s.jobs.get_mut(id).ok_or_else(|| xor_refused("update", 404))?;
        // An update leaves the status alone (docs/xor-contract.md): only a create opens a job.
        j.title = Some(job.title.clone());
        Ok(j.clone())
    }
    async fn close(&self, id: &str) -> Result<XorJob, XorError> {
        let mut s = self.begin("close")?;
        let j = s.jobs.get_mut(id).ok_or_else(|| xor_refused("close", 404))?;
        j.status = "closed".into();
        Ok(j.clone())
    }
    async fn list_all(&self) -> Result<Vec<XorJob>, XorError> {
        let s = self.begin("list")?;
        Ok(s.jobs.values().cloned().collect())
    }
    async fn job(&self, id: &str) -> Result<XorJob, XorError> {
        let s = self.begin("get")?;
        s.jobs.get(id).cloned().ok_or_else(|| xor_refused("get", 404))
    }
    async fn candidate_event(&self, key: &str, candidate_id: &str, event: &CandidateEvent) -> Result<(), XorError> {
        let mut s = self.begin("candidate event")?;
        match s.events.iter().find(|(_, k, _)| k == key) {
            Some((_, _, first)) if first == event => Ok(()),
            Some(_) => Err(xor_refused("candidate event", 409)),
            None => {
                s.events.push((candidate_id.to_owned(), key.to_owned(), event.clone()));
                Ok(())
            }
        }
    }
}

impl JobBoards for FakeBoard {
    fn board(&self, _: &Connection, _: SecretString) -> Arc<dyn JobBoard> {
        Arc::new(self.clone())
    }
}

/// A feed served from memory, with an ETag that changes with the body.
#[derive(Clone, Default)]
pub struct FakeFeed(Arc<Mutex<(Vec<u8>, u32)>>);

impl FakeFeed {
    pub fn set(&self, body: Vec<u8>) {
        let mut s = self.0.lock().unwrap();
        s.0 = body;
        s.1 += 1;
    }
}

#[async_trait]
impl FeedSource for FakeFeed {
    async fn fetch(&self, _url: &str, validators: Option<&FeedState>) -> Result<Fetched, FeedFetchError> {
        let (body, version) = self.0.lock().unwrap().clone();
        let etag = format!("\"v{version}\"");
        if validators.and_then(|v| v.etag.as_deref()) == Some(etag.as_str()) {
            return Ok(Fetched::NotModified);
        }
        let mut file = tempfile::tempfile()?;
        file.write_all(&body)?;
        file.seek(SeekFrom::Start(0))?;
        Ok(Fetched::Body { file, bytes: body.len() as u64, etag: Some(etag), last_modified: None })
    }
}

/// A Lever feed of postings `ids` (`p-<i>`, titled `Engineer <i><suffix>`).
pub fn feed(ids: impl IntoIterator<Item = usize>, suffix: &str) -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<source>\n");
    for i in ids {
        out.push_str(&format!(
            "<job><title>Engineer {i}{suffix}</title><referencenumber>p-{i}</referencenumber>\
             <url>https://jobs.lever.co/acme/p-{i}</url><city>Berlin</city><country>DE</country>\
             <description>Rust</description></job>\n"
        ));
    }
    out.push_str("</source>\n");
    out.into_bytes()
}

/// An ATS: postings, opportunities and notes in memory; tokens are accepted while listed.
#[derive(Clone, Default)]
pub struct FakeLever(Arc<Mutex<LeverState>>);

#[derive(Default)]
pub struct LeverState {
    pub postings: HashMap<String, LeverPosting>,
    pub opportunities: Vec<(Opportunity, NewOpportunity, Vec<FileUpload>)>,
    pub notes: HashMap<String, Vec<String>>,
    /// Access tokens Lever accepts.
    pub valid: Vec<String>,
    /// Refresh tokens Lever accepts, with the pair each gives.
    pub refreshable: HashMap<String, TokenSet>,
    pub refreshes: usize,
    pub creates: usize,
    /// Answers to give instead of the next calls of an operation (by its name: `create
    /// opportunity`, `get posting`, …).
    pub fail_next: HashMap<&'static str, VecDeque<LeverError>>,
    /// Each Data API call by operation name, in order.
    pub calls: Vec<&'static str>,
    /// The next create is made but its answer is lost.
    pub lose_next_create: bool,
    pub webhooks: Vec<LeverWebhook>,
}

impl FakeLever {
    pub fn state(&self) -> std::sync::MutexGuard<'_, LeverState> {
        self.0.lock().unwrap()
    }
    fn begin(
        &self,
        op: &'static str,
        token: &SecretString,
    ) -> Result<std::sync::MutexGuard<'_, LeverState>, LeverError> {
        let mut s = self.state();
        s.calls.push(op);
        if let Some(e) = s.fail_next.get_mut(op).and_then(VecDeque::pop_front) {
            return Err(e);
        }
        if !s.valid.iter().any(|t| t == token.expose()) {
            return Err(LeverError::Unauthorized { op });
        }
        Ok(s)
    }
}

pub fn lever_unavailable(op: &'static str) -> LeverError {
    LeverError::Unavailable {
        op,
        attempts: 1,
        last: crate::domain::Failure::Status { status: 503, retry_after_ms: None },
    }
}

#[async_trait]
impl Ats for FakeLever {
    fn authorize_url(&self, client_id: &str, _: &str, state: &str) -> String {
        format!("https://auth.lever.example/authorize?client_id={client_id}&state={state}")
    }
    fn permissions(&self) -> &'static [(&'static str, &'static str)] {
        &[("opportunities:write", "create candidates")]
    }
    fn opportunity_url(&self, id: &str) -> String {
        format!("https://hire.lever.example/candidates/{id}")
    }
    fn token_timeout(&self) -> Duration {
        Duration::from_secs(1)
    }
    async fn exchange_code(&self, _: &AppCredentials, _: &str, _: &str, _: i64) -> Result<TokenSet, OAuthError> {
        Err(OAuthError::Unavailable("not faked".into()))
    }
    async fn refresh(&self, _: &AppCredentials, rt: &SecretString, _: i64) -> Result<TokenSet, OAuthError> {
        let mut s = self.state();
        s.refreshes += 1;
        let t = s.refreshable.remove(rt.expose()).ok_or_else(|| OAuthError::InvalidGrant("spent".into()))?;
        // The new access token replaces the old ones (Lever refuses an expired token).
        s.valid = vec![t.access_token.clone()];
        Ok(t)
    }
    async fn any_user(&self, token: &SecretString) -> Result<Vec<LeverUser>, LeverError> {
        let _s = self.begin("users", token)?;
        Ok(vec![LeverUser { id: "usr_1".into(), name: None, email: None, access_role: Some("super admin".into()) }])
    }
    async fn users_with_role(&self, token: &SecretString, _: &str) -> Result<Vec<LeverUser>, LeverError> {
        self.any_user(token).await
    }
    async fn user(&self, token: &SecretString, id: &str) -> Result<LeverUser, LeverError> {
        let _s = self.begin("get user", token)?;
        Ok(LeverUser { id: id.into(), name: None, email: None, access_role: Some("super admin".into()) })
    }
    async fn posting(&self, token: &SecretString, id: &str) -> Result<LeverPosting, LeverError> {
        let s = self.begin("get posting", token)?;
        s.postings.get(id).cloned().ok_or(LeverError::Rejected {
            op: "get posting",
            status: 404,
            code: "NotFound".into(),
            message: String::new(),
        })
    }
    async fn find_opportunities(
        &self,
        token: &SecretString,
        f: &OpportunityFilter,
    ) -> Result<Vec<Opportunity>, LeverError> {
        let s = self.begin("find opportunities", token)?;
        Ok(s.opportunities
            .iter()
            .map(|(o, _, _)| o)
            .filter(|o| f.email.as_ref().is_none_or(|e| o.has_email(e)))
            .filter(|o| f.posting_id.as_ref().is_none_or(|p| o.has_posting(p)))
            .filter(|o| f.source.as_ref().is_none_or(|x| o.has_source(x)))
            .filter(|o| f.created_at_start.is_none_or(|t| o.created_at.is_some_and(|c| c >= t)))
            .cloned()
            .collect())
    }
    async fn create_opportunity(
        &self,
        token: &SecretString,
        _perform_as: &str,
        _as_posting_owner: bool,
        o: &NewOpportunity,
        files: &[FileUpload],
    ) -> Result<Opportunity, LeverError> {
        let mut s = self.begin("create opportunity", token)?;
        s.creates += 1;
        let made = Opportunity {
            id: format!("opp_{}", s.opportunities.len() + 1),
            contact: None,
            sources: o.sources.clone(),
            applications: o.postings.iter().map(|p| serde_json::json!({ "posting": p })).collect(),
            emails: o.emails.clone(),
            phones: o.phones.iter().map(|p| serde_json::json!({ "value": p.value })).collect(),
            links: o.links.clone(),
            created_at: Some(crate::usecases::now_ms()),
            urls: None,
            stage: Some("stage_new".into()),
            archived: None,
        };
        s.opportunities.push((made.clone(), o.clone(), files.to_vec()));
        if std::mem::take(&mut s.lose_next_create) {
            return Err(lever_unavailable("create opportunity"));
        }
        Ok(made)
    }
    async fn add_note(&self, token: &SecretString, _: &str, opportunity: &str, text: &str) -> Result<(), LeverError> {
        let mut s = self.begin("add note", token)?;
        s.notes.entry(opportunity.to_owned()).or_default().push(text.to_owned());
        Ok(())
    }
    async fn note_texts(&self, token: &SecretString, opportunity: &str) -> Result<Vec<String>, LeverError> {
        let s = self.begin("list notes", token)?;
        Ok(s.notes.get(opportunity).cloned().unwrap_or_default())
    }
    async fn opportunity(&self, token: &SecretString, id: &str) -> Result<Option<Opportunity>, LeverError> {
        let s = self.begin("get opportunity", token)?;
        Ok(s.opportunities.iter().find(|(o, _, _)| o.id == id).map(|(o, _, _)| o.clone()))
    }
    async fn stages(&self, token: &SecretString) -> Result<Vec<Stage>, LeverError> {
        let _s = self.begin("list stages", token)?;
        Ok(vec![Stage { id: "stage_new".into(), text: "New lead".into() }])
    }
    async fn archive_reasons(&self, token: &SecretString) -> Result<Vec<ArchiveReason>, LeverError> {
        let _s = self.begin("list archive reasons", token)?;
        Ok(vec![ArchiveReason { id: "reason_hired".into(), text: "Hired".into(), kind: Some("hired".into()) }])
    }
    async fn webhooks(&self, token: &SecretString) -> Result<Vec<LeverWebhook>, LeverError> {
        let s = self.begin("list webhooks", token)?;
        Ok(s.webhooks.clone())
    }
    async fn create_webhook(&self, token: &SecretString, url: &str, event: &str) -> Result<LeverWebhook, LeverError> {
        let mut s = self.begin("create webhook", token)?;
        let w = LeverWebhook {
            id: format!("wh_{}", s.webhooks.len() + 1),
            url: url.into(),
            event: event.into(),
            signature_token: Some(format!("st_{}", s.webhooks.len() + 1)),
        };
        s.webhooks.push(LeverWebhook { signature_token: None, ..w.clone() });
        Ok(w)
    }
    async fn delete_webhook(&self, token: &SecretString, id: &str) -> Result<(), LeverError> {
        let mut s = self.begin("delete webhook", token)?;
        s.webhooks.retain(|w| w.id != id);
        Ok(())
    }
}

impl AtsProvider for FakeLever {
    fn for_connection(&self, _: &Connection) -> Arc<dyn Ats> {
        Arc::new(self.clone())
    }
}

/// Files by URL.
#[derive(Clone, Default)]
pub struct FakeFiles(pub Arc<Mutex<HashMap<String, FetchedFile>>>);

#[async_trait]
impl FileFetcher for FakeFiles {
    async fn fetch(&self, url: &str, _: Duration) -> Result<FetchedFile, FetchError> {
        self.0.lock().unwrap().get(url).cloned().ok_or_else(|| FetchError::Status(404))
    }
}
