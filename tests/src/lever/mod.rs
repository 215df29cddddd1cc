//! A faithful fake of the Lever facts the project relies on (docs/lever-facts.md): OAuth authorize
//! (auto-approves, or denies when told) and token endpoints with ROTATING refresh tokens (a used
//! refresh token is dead), `/v1/users`, `/v1/postings`, `/v1/opportunities` (JSON and multipart,
//! files kept, email dedupe onto one contact, list by email), a switch that revokes the app, 429
//! and 5xx injection, and controls under `/_sandbox/`.
//!
//! By job: `oauth` (authorize, consent page, token endpoint, the tokens it issues), `access`
//! (bearer, scopes, confidentiality, rate limit: the gate before the Data API's work), `api` (the
//! Data API's reads: users, postings, opportunities), `create` (`POST /opportunities`), `files`
//! (a create's body and its files, notes, files added later), `faults` (injected faults taken
//! from the queue), `control` (the controls: in process and under `/_sandbox/`), `config` (the
//! settings) and `state` (what the sandbox holds).
mod access;
mod api;
mod config;
mod control;
mod create;
mod faults;
mod files;
mod oauth;
mod state;
pub mod webhooks;

pub use access::CONFIDENTIAL_SCOPE;
pub use config::{Config, PhoneStorage, REFRESH_TOKEN_LIFETIME_SECS};
pub use files::SUPPORTED_FILE_TYPES;
pub use oauth::{ALL_SCOPES, AUDIENCES};
pub use state::{LeverState, Stats, StoredFile, StoredNote, StoredOpportunity};

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

pub use api::{ARCHIVE_REASONS, STAGES};
use api::{find_opportunities, get_posting, get_user, list_postings, users};
use control::{add_faults, all_opportunities, expire, file_bytes, issue, revoke, seed_postings, set_config};
use create::create_opportunity_held;
use files::{add_file, add_note, list_notes};
use oauth::{authorize, token};

pub const CLIENT_ID: &str = "sandbox-client";
pub const CLIENT_SECRET: &str = "sandbox-secret";
pub const ADMIN_USER: &str = "usr_admin_0001";
/// A second Super Admin (accounts can have several), listed after `ADMIN_USER`.
pub const OTHER_ADMIN: &str = "usr_admin_0002";
/// The owner of the postings the sandbox is given (a recruiter, not an admin).
pub const POSTING_OWNER: &str = "usr_recruiter_0002";
/// Team members seeded before the Super Admins, so that they are past the first page of 100.
pub const SEEDED_TEAM: usize = 120;
/// The stage a new opportunity gets unless the create names one (Lever: the account's first).
pub const DEFAULT_STAGE: &str = "lead-new";

/// The Lever account the sandbox's admin signs in to (unless `Config::account_id` says another).
pub const SANDBOX_ACCOUNT: &str = "acct-5a1c0b6e-acme";

pub use crate::faults::Fault;

pub struct LeverSandbox {
    pub url: String,
    pub addr: SocketAddr,
    pub state: LeverState,
    _served: crate::Served,
}

impl LeverSandbox {
    pub async fn spawn() -> Self {
        Self::spawn_on("127.0.0.1:0").await.expect("bind loopback")
    }

    pub async fn spawn_on(addr: &str) -> std::io::Result<Self> {
        let state = LeverState::default();
        {
            let mut g = state.0.lock().unwrap();
            // An account as real ones are: more than a page of users, Super Admins past the first
            // page, and more than one of them.
            g.users.push(json!({"id": POSTING_OWNER, "name": "Rita Recruiter", "email": "rita@acme.example", "accessRole": "team member"}));
            for i in 0..SEEDED_TEAM {
                g.users.push(json!({"id": format!("usr_team_{i:04}"), "name": format!("Team Member {i}"), "email": format!("team{i}@acme.example"), "accessRole": if i % 7 == 0 { "interviewer" } else { "team member" }}));
            }
            g.users.push(json!({"id": ADMIN_USER, "name": "Grace Hopper", "email": "grace@acme.example", "accessRole": "super admin"}));
            g.users.push(json!({"id": OTHER_ADMIN, "name": "Ada Admin", "email": "ada.admin@acme.example", "accessRole": "super admin"}));
        }
        let served = crate::serve(addr, router(state.clone())).await?;
        Ok(Self { url: served.url.clone(), addr: served.addr, state, _served: served })
    }

    /// The Data API base (`…/v1`) for a connection's `--lever-base-url`.
    pub fn api_base(&self) -> String {
        format!("{}/v1", self.url)
    }
}

/// The sandbox's routes, also served under `/eu` (the account's region, when `region_redirect`
/// points there).
pub fn router(state: LeverState) -> Router {
    Router::new()
        .nest("/eu", routes())
        .merge(routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), region))
        .with_state(state)
}

/// An account of another region: its Data API and token calls on this host are redirected
/// (`307`: the same method and body) to the same path under `region_redirect`.
async fn region(State(s): State<LeverState>, req: Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    let api = path.starts_with("/v1/") || path == "/oauth/token";
    let to = s.0.lock().unwrap().config.region_redirect.clone().filter(|_| api);
    match to {
        Some(base) => {
            let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
            s.0.lock().unwrap().stats.redirected += 1;
            let location = format!("{}{path}{query}", base.trim_end_matches('/'));
            (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response()
        }
        None => next.run(req).await,
    }
}

/// Lever takes files up to 30 MB (DOCS: "Upload a single file"); the form around them is small.
const MAX_BODY_BYTES: usize = 40 * 1024 * 1024;

fn routes() -> Router<LeverState> {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/oauth/token", post(token))
        .route("/v1/users", get(users))
        .route("/v1/users/{id}", get(get_user))
        .route("/v1/opportunities/{id}/notes", post(add_note).get(list_notes))
        .route("/v1/opportunities/{id}/files", post(add_file))
        .route("/v1/postings", get(list_postings))
        .route("/v1/postings/{id}", get(get_posting))
        .route("/v1/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/v1/webhooks/{id}", axum::routing::delete(webhooks::delete))
        .route("/_sandbox/webhooks/enabled", post(webhooks::set_enabled))
        .route("/_sandbox/events", post(webhooks::happen))
        .route("/_sandbox/opportunities/{id}/move", post(webhooks::move_opportunity))
        .route("/v1/opportunities/{id}", get(api::get_opportunity))
        .route("/v1/stages", get(api::stages))
        .route("/v1/archive_reasons", get(api::archive_reasons))
        .route("/v1/opportunities", post(create_opportunity_held).get(find_opportunities))
        .route(
            "/_sandbox/stats",
            get(|State(s): State<LeverState>| async move { Json(s.0.lock().unwrap().stats.clone()) }),
        )
        .route("/_sandbox/faults", post(add_faults))
        .route("/_sandbox/config", post(set_config))
        .route("/_sandbox/revoke", post(revoke))
        .route("/_sandbox/expire-tokens", post(expire))
        .route("/_sandbox/tokens", post(issue))
        .route("/_sandbox/postings", post(seed_postings))
        .route("/_sandbox/opportunities", get(all_opportunities))
        .route("/_sandbox/opportunities/{id}/files/{n}", get(file_bytes))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

fn lever_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({"code": code, "message": message.into()}))).into_response()
}
