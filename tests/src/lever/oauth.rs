//! OAuth as Lever does it: the authorize page (auto-approving, denying, or showing a consent
//! page), the token endpoint with rotating refresh tokens, and the tokens issued.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::faults::{take_delay, take_fault};
use super::state::{Inner, LeverState};
use super::{CLIENT_ID, CLIENT_SECRET};

/// What `issue_tokens` grants (an authorization grants what its `scope` asked for).
pub const ALL_SCOPES: &str = "offline_access confidential:access:admin opportunities:read:admin opportunities:write:admin files:write:admin notes:read:admin notes:write:admin postings:read:admin users:read:admin webhooks:write:admin stages:read:admin archive_reasons:read:admin";

impl Inner {
    pub(super) fn issue_pair(&mut self) -> (String, String, u64) {
        self.issue_pair_with(ALL_SCOPES, Instant::now())
    }

    /// A new pair for a grant of `scope` whose authorization happened at `born`.
    pub(super) fn issue_pair_with(&mut self, scope: &str, born: Instant) -> (String, String, u64) {
        let jti = self.next("lat_");
        let at = if self.config.opaque_tokens { jti } else { self.jwt(&jti) };
        let rt = self.next("lrt_");
        let ttl = self.config.access_ttl_secs;
        self.access.insert(at.clone(), Instant::now() + Duration::from_secs(ttl));
        self.refresh.insert(rt.clone(), true);
        self.born.insert(rt.clone(), born);
        self.scopes.insert(at.clone(), scope.to_owned());
        self.scopes.insert(rt.clone(), scope.to_owned());
        (at, rt, ttl)
    }
}

impl Inner {
    /// An access token shaped like Lever's documented example: a JWT whose claims name the
    /// account and the user who authorized (the signature is not ours to check, nor theirs).
    fn jwt(&self, jti: &str) -> String {
        use base64::Engine;
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": "sandbox"});
        let claims = json!({
            "https://oauth.lever.co/accountId": self.config.account_id,
            "https://oauth.lever.co/userId": self.config.user_id,
            "iss": "https://auth.lever.co/",
            "sub": format!("lever|{}", self.config.user_id),
            "aud": ["https://api.lever.co/v1/"],
            "iat": now,
            "exp": now + self.config.access_ttl_secs,
            "scope": "offline_access opportunities:write:admin",
            "jti": jti,
        });
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jti.as_bytes());
        format!("{}.{}.{sig}", b64(header), b64(claims))
    }
}

#[derive(Deserialize)]
pub(super) struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: String,
    state: Option<String>,
    response_type: Option<String>,
    audience: Option<String>,
    scope: Option<String>,
    /// The consent page's answer (`allow` or `deny`).
    decision: Option<String>,
}

/// The `audience` values Lever documents (OAuth): the API base of production or of the sandbox,
/// with the trailing slash.
pub const AUDIENCES: [&str; 2] = ["https://api.lever.co/v1/", "https://api.sandbox.lever.co/v1/"];

pub(super) async fn authorize(State(s): State<LeverState>, Query(q): Query<AuthorizeQuery>) -> Response {
    let mut g = s.0.lock().unwrap();
    let sep = if q.redirect_uri.contains('?') { '&' } else { '?' };
    let state = q.state.clone().unwrap_or_default();
    if q.client_id.as_deref() != Some(CLIENT_ID) || q.response_type.as_deref() != Some("code") {
        return (StatusCode::BAD_REQUEST, "unknown client or response_type").into_response();
    }
    // OAuth: `state` and `audience` are required (an audience of Lever's API, not of a proxy).
    if state.is_empty() || !q.audience.as_deref().is_some_and(|a| AUDIENCES.contains(&a)) {
        return (StatusCode::BAD_REQUEST, "state and a Lever API audience are required").into_response();
    }
    if g.config.consent_page && q.decision.is_none() {
        return consent_page(&q);
    }
    if g.config.deny_consent || q.decision.as_deref() == Some("deny") {
        let url = format!(
            "{}{sep}error=access_denied&error_description=User%20did%20not%20authorize%20the%20request&state={}",
            q.redirect_uri,
            xor_lever_shared::adapters::enc(&state)
        );
        return xor_lever_shared::http::found(&url);
    }
    let code = g.next("code_");
    g.codes.insert(code.clone(), q.redirect_uri.clone());
    g.scopes.insert(code.clone(), q.scope.clone().unwrap_or_default());
    xor_lever_shared::http::found(&format!(
        "{}{sep}code={code}&state={}",
        q.redirect_uri,
        xor_lever_shared::adapters::enc(&state)
    ))
}

/// Lever's consent page, in short: who asks, for what, Allow or Deny (a GET form back to
/// `/authorize` with the same query and the decision).
fn consent_page(q: &AuthorizeQuery) -> Response {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let hidden: String = [
        ("client_id", q.client_id.as_deref()),
        ("redirect_uri", Some(q.redirect_uri.as_str())),
        ("state", q.state.as_deref()),
        ("response_type", q.response_type.as_deref()),
        ("audience", q.audience.as_deref()),
        ("scope", q.scope.as_deref()),
    ]
    .iter()
    .filter_map(|(k, v)| v.map(|v| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v))))
    .collect();
    let scopes: String =
        q.scope.as_deref().unwrap_or_default().split(' ').map(|s| format!("<li>{}</li>", esc(s))).collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorize app · Lever (sandbox)</title></head>\
         <body><main><h1>Authorize XOR</h1><p>XOR would like to access your Lever account (sandbox):</p><ul id=\"scopes\">{scopes}</ul>\
         <form method=\"get\" action=\"/authorize\">{hidden}<button id=\"allow\" name=\"decision\" value=\"allow\">Allow</button> \
         <button id=\"deny\" name=\"decision\" value=\"deny\">Deny</button></form></main></body></html>"
    );
    axum::response::Html(html).into_response()
}

pub(super) async fn token(State(s): State<LeverState>, Form(f): Form<HashMap<String, String>>) -> Response {
    // A slow token endpoint: the request waits before Lever looks at it.
    if let Some(d) = take_delay(&s, "token") {
        tokio::time::sleep(d).await;
    }
    let mut g = s.0.lock().unwrap();
    if let Some(r) = take_fault(&mut g, "token") {
        return r;
    }
    let oauth_error = |status: StatusCode, e: &str, d: &str| {
        (status, Json(json!({"error": e, "error_description": d}))).into_response()
    };
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    }
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = f.get("code").cloned().unwrap_or_default();
            match g.codes.remove(&code) {
                Some(uri) if Some(&uri) == f.get("redirect_uri") => {
                    g.revoked = false;
                    g.stats.code_exchanges += 1;
                    let scope = g.scopes.remove(&code).unwrap_or_default();
                    let (at, rt, ttl) = g.issue_pair_with(&scope, Instant::now());
                    Json(json!({"access_token": at, "refresh_token": rt, "expires_in": ttl, "token_type": "Bearer", "scope": f.get("scope")})).into_response()
                }
                _ => oauth_error(StatusCode::FORBIDDEN, "invalid_grant", "Invalid authorization code"),
            }
        }
        Some("refresh_token") => {
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            let born = g.born.get(&rt).copied().unwrap_or_else(Instant::now);
            let aged_out = born.elapsed() >= Duration::from_secs(g.config.refresh_ttl_secs);
            if g.revoked || g.refresh.get(&rt) != Some(&true) || aged_out {
                g.stats.refresh_failures += 1;
                return oauth_error(StatusCode::FORBIDDEN, "invalid_grant", "Unknown or invalid refresh token.");
            }
            // Rotation: the used refresh token is dead from now on; the grant stays as it was.
            g.refresh.insert(rt.clone(), false);
            g.stats.refreshes += 1;
            let scope = g.scopes.get(&rt).cloned().unwrap_or_default();
            let (at, rt, ttl) = g.issue_pair_with(&scope, born);
            Json(json!({"access_token": at, "refresh_token": rt, "expires_in": ttl, "token_type": "Bearer"}))
                .into_response()
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "grant_type"),
    }
}
