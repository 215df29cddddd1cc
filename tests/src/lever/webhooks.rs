//! Lever's webhooks as the reference documents them ("Webhooks", "Webhooks via the API",
//! "Securing webhooks"; docs/lever-facts.md, third pass): the app registers one webhook per event
//! (`POST /v1/webhooks`, scope `webhooks:write:admin`; the answer carries its `signatureToken`),
//! lists and deletes its own; nothing is sent until a Super Admin switches the webhook group on
//! (`/_sandbox/webhooks/enabled`); a URL that is not HTTPS is refused (loopback http is allowed:
//! the tests and `dev` listen there). `/_sandbox/events` stands for something happening to an
//! opportunity in Lever: each webhook of that event gets a signed delivery, retried like Lever's
//! (five more times on a non-2xx), sent as many times as a test asks (duplicates).
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use xor_lever_shared::domain::SecretString;
use xor_lever_shared::domain::ats::lever_webhook::{EVENTS, lever_signature};

use super::access::gate;
use super::lever_error;
use super::state::LeverState;

/// One registered webhook.
#[derive(Debug, Clone)]
pub struct Registered {
    pub id: String,
    pub url: String,
    pub event: String,
    pub signature_token: String,
    pub conditions: Option<Value>,
}

/// One delivery attempt the sandbox made: to whom, what, and the answer's status (0: no answer).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sent {
    pub webhook: String,
    pub event: String,
    pub token: String,
    pub status: u16,
    pub body: Value,
}

#[derive(Deserialize)]
pub(super) struct NewWebhook {
    url: Option<String>,
    event: Option<String>,
    configuration: Option<Value>,
}

fn view(w: &Registered, with_token: bool) -> Value {
    let mut v = json!({"id": w.id, "url": w.url, "event": w.event, "configuration": {"conditions": w.conditions}});
    if with_token {
        v["signatureToken"] = w.signature_token.clone().into();
    }
    v
}

/// Lever requires HTTPS with a CA-signed certificate; loopback http stands for it here.
fn acceptable_url(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else { return false };
    let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    u.scheme() == "https" || (u.scheme() == "http" && loopback)
}

pub(super) async fn create(State(s): State<LeverState>, headers: HeaderMap, Json(n): Json<NewWebhook>) -> Response {
    if let Err(r) = gate(&s, &headers, "webhooks").await {
        return r;
    }
    let (Some(url), Some(event)) = (n.url, n.event) else {
        return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "url and event are required");
    };
    if !EVENTS.contains(&event.as_str()) && !["applicationCreated", "interviewCreated"].contains(&event.as_str()) {
        return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", format!("unknown event {event}"));
    }
    if !acceptable_url(&url) {
        return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "webhook URLs must be https");
    }
    let conditions = n.configuration.and_then(|c| c.get("conditions").cloned()).filter(|c| !c.is_null());
    if conditions.is_some() && event == "candidateDeleted" {
        return lever_error(
            StatusCode::BAD_REQUEST,
            "BadRequestError",
            "conditions are not available for candidateDeleted",
        );
    }
    let mut g = s.0.lock().unwrap();
    let id = g.next("wh_");
    let signature_token = format!("{}{}", g.next("st_"), g.next(""));
    let w = Registered { id, url, event, signature_token, conditions };
    g.webhooks.push(w.clone());
    (StatusCode::CREATED, Json(json!({"data": view(&w, true)}))).into_response()
}

pub(super) async fn list(State(s): State<LeverState>, headers: HeaderMap) -> Response {
    if let Err(r) = gate(&s, &headers, "webhooks").await {
        return r;
    }
    let g = s.0.lock().unwrap();
    let data: Vec<Value> = g.webhooks.iter().map(|w| view(w, false)).collect();
    Json(json!({"data": data, "hasNext": false})).into_response()
}

pub(super) async fn delete(State(s): State<LeverState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = gate(&s, &headers, "webhooks").await {
        return r;
    }
    let mut g = s.0.lock().unwrap();
    let before = g.webhooks.len();
    g.webhooks.retain(|w| w.id != id);
    if g.webhooks.len() == before {
        return lever_error(StatusCode::NOT_FOUND, "ResourceNotFoundError", "no such webhook");
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
pub(super) struct Toggle {
    enabled: bool,
}

/// The Super Admin's switch for the webhook group in Lever's settings.
pub(super) async fn set_enabled(State(s): State<LeverState>, Json(t): Json<Toggle>) -> Response {
    s.0.lock().unwrap().webhooks_enabled = t.enabled;
    StatusCode::NO_CONTENT.into_response()
}

/// Something that happens to an opportunity in Lever.
#[derive(Deserialize)]
pub(super) struct Happened {
    event: String,
    data: Value,
    /// Times the same delivery is sent (Lever's duplicates); 1 by default.
    #[serde(default)]
    copies: Option<u32>,
}

/// Sends the event to each webhook registered for it: signed, retried five more times on a
/// non-2xx (at once: a test's time), each copy with the same token. Answers what was sent.
pub(super) async fn happen(State(s): State<LeverState>, Json(h): Json<Happened>) -> Response {
    let (enabled, targets, id, token, at) = {
        let mut g = s.0.lock().unwrap();
        let targets: Vec<Registered> = g.webhooks.iter().filter(|w| w.event == h.event).cloned().collect();
        let token: String = (0..4).map(|_| g.next("")).collect::<String>().chars().take(48).collect();
        (g.webhooks_enabled, targets, g.next("evt_"), token, xor_lever_shared::usecases::now_ms())
    };
    if !enabled {
        return Json(json!({"sent": [], "reason": "the webhook group is switched off"})).into_response();
    }
    let http = reqwest::Client::new();
    let mut sent = Vec::new();
    for w in targets {
        let signature = lever_signature(&SecretString::new(w.signature_token.clone()), &token, at);
        let body = json!({"id": id, "event": h.event, "triggeredAt": at, "token": token, "signature": signature, "data": h.data});
        for _ in 0..h.copies.unwrap_or(1).max(1) {
            for _attempt in 0..6 {
                let status = match http.post(&w.url).json(&body).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                let record = Sent {
                    webhook: w.id.clone(),
                    event: h.event.clone(),
                    token: token.clone(),
                    status,
                    body: body.clone(),
                };
                s.0.lock().unwrap().sent.push(record.clone());
                sent.push(record);
                if (200..300).contains(&status) {
                    break;
                }
            }
        }
    }
    Json(json!({"sent": sent})).into_response()
}
