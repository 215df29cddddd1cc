//! The sandbox's controls: in process (`LeverSandbox`'s methods) and over HTTP under
//! `/_sandbox/` (faults, config, revocation, tokens, postings, what was created).
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::state::{LeverState, Stats, StoredOpportunity};
use super::{ADMIN_USER, Config, Fault, LeverSandbox, POSTING_OWNER};

impl LeverSandbox {
    pub fn stats(&self) -> Stats {
        self.state.0.lock().unwrap().stats.clone()
    }
    pub fn set_config(&self, c: Config) {
        self.state.0.lock().unwrap().config = c;
    }
    /// Every request fails with probability `rate`, with one of `kinds`, drawn from `seed`.
    pub fn inject_random(&self, rate: f64, seed: u64, kinds: Vec<Fault>) {
        self.state.0.lock().unwrap().faults.random(rate, seed, kinds);
    }

    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.0.lock().unwrap().faults.extend(faults);
    }
    pub fn revoke(&self) {
        let mut g = self.state.0.lock().unwrap();
        g.revoked = true;
        g.access.clear();
        g.refresh.clear();
    }
    /// Every access token expires now (the next API call is a 401 until refreshed).
    pub fn expire_access_tokens(&self) {
        self.state.0.lock().unwrap().access.clear();
    }
    /// Issues a token pair as if an admin had authorized (for tests and `dev`).
    pub fn issue_tokens(&self) -> (String, String, u64) {
        let mut g = self.state.0.lock().unwrap();
        g.revoked = false;
        g.issue_pair()
    }
    /// Issues a token pair for a grant of `scope` only (an authorization that asked for less).
    pub fn issue_tokens_with(&self, scope: &str) -> (String, String, u64) {
        let mut g = self.state.0.lock().unwrap();
        g.revoked = false;
        g.issue_pair_with(scope, Instant::now())
    }
    /// A source the account already has (spelled as the account spells it).
    pub fn add_source(&self, name: &str) {
        self.state.0.lock().unwrap().sources.push(name.into());
    }
    pub fn add_posting(&self, id: &str, text: &str, state: &str) {
        let p = json!({"id": id, "text": text, "state": state, "owner": POSTING_OWNER, "hiringManager": ADMIN_USER});
        self.state.0.lock().unwrap().postings.insert(id.into(), p);
    }
    pub fn opportunities(&self) -> Vec<StoredOpportunity> {
        self.state.0.lock().unwrap().opportunities.clone()
    }
}

pub(super) async fn add_faults(State(s): State<LeverState>, Json(f): Json<Vec<Fault>>) -> StatusCode {
    s.0.lock().unwrap().faults.extend(f);
    StatusCode::NO_CONTENT
}
pub(super) async fn set_config(State(s): State<LeverState>, Json(c): Json<Config>) -> StatusCode {
    s.0.lock().unwrap().config = c;
    StatusCode::NO_CONTENT
}
pub(super) async fn revoke(State(s): State<LeverState>) -> StatusCode {
    let mut g = s.0.lock().unwrap();
    g.revoked = true;
    g.access.clear();
    g.refresh.clear();
    StatusCode::NO_CONTENT
}
pub(super) async fn expire(State(s): State<LeverState>) -> StatusCode {
    s.0.lock().unwrap().access.clear();
    StatusCode::NO_CONTENT
}
pub(super) async fn issue(State(s): State<LeverState>) -> Json<Value> {
    let mut g = s.0.lock().unwrap();
    g.revoked = false;
    let (at, rt, ttl) = g.issue_pair();
    Json(json!({"access_token": at, "refresh_token": rt, "expires_in": ttl}))
}
pub(super) async fn seed_postings(State(s): State<LeverState>, Json(list): Json<Vec<Value>>) -> StatusCode {
    let mut g = s.0.lock().unwrap();
    for p in list {
        if let Some(id) = p["id"].as_str() {
            let mut p = p.clone();
            if p.get("state").is_none() {
                p["state"] = "published".into();
            }
            g.postings.insert(id.to_owned(), p);
        }
    }
    StatusCode::NO_CONTENT
}
pub(super) async fn all_opportunities(State(s): State<LeverState>) -> Json<Value> {
    Json(json!({"data": s.0.lock().unwrap().opportunities.clone()}))
}
pub(super) async fn file_bytes(State(s): State<LeverState>, Path((id, n)): Path<(String, usize)>) -> Response {
    let g = s.0.lock().unwrap();
    match g.opportunities.iter().find(|o| o.id == id).and_then(|o| o.files.get(n)) {
        Some(f) => ([(header::CONTENT_TYPE, f.content_type.clone())], f.bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

impl LeverSandbox {
    /// The webhooks the app registered: (id, url, event).
    pub fn registered_webhooks(&self) -> Vec<(String, String, String)> {
        let g = self.state.0.lock().unwrap();
        g.webhooks.iter().map(|w| (w.id.clone(), w.url.clone(), w.event.clone())).collect()
    }
}
