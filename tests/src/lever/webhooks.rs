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
    Json(send_event(&s, &h.event, h.data, h.copies.unwrap_or(1)).await).into_response()
}

/// What a test does to an opportunity, as a recruiter would in Lever.
#[derive(Deserialize)]
pub(super) struct Move {
    /// `stage` (to `stage`), `archive` (for `reason`), `hire`, `unarchive`, `delete`.
    to: String,
    stage: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    copies: Option<u32>,
}

/// Changes the opportunity as Lever would, then sends the events Lever sends for it (a hire is
/// an archive for a reason of type `hired`: `candidateArchiveChange` and `candidateHired`,
/// UNCONFIRMED which of them Lever sends). 404 for an opportunity the account does not have.
pub(super) async fn move_opportunity(
    State(s): State<LeverState>,
    Path(id): Path<String>,
    Json(m): Json<Move>,
) -> Response {
    let events = {
        let mut g = s.0.lock().unwrap();
        let now = xor_lever_shared::usecases::now_ms();
        let Some(i) = g.opportunities.iter().position(|o| o.id == id) else {
            return lever_error(StatusCode::NOT_FOUND, "ResourceNotFoundError", "no such opportunity");
        };
        let o = &mut g.opportunities[i];
        let base = json!({"opportunityId": o.id, "candidateId": o.contact, "contactId": o.contact});
        let with = |extra: Value| {
            let mut d = base.clone();
            d.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            d
        };
        let from_archived = o.archived.clone();
        match (m.to.as_str(), m.stage, m.reason) {
            ("stage", Some(stage), _) => {
                let from = std::mem::replace(&mut o.stage, stage.clone());
                vec![("candidateStageChange", with(json!({"toStageId": stage, "fromStageId": from})))]
            }
            ("archive", _, Some(reason)) => {
                o.archived = Some(json!({"archivedAt": now, "reason": reason}));
                vec![("candidateArchiveChange", with(json!({"toArchived": o.archived, "fromArchived": from_archived})))]
            }
            ("hire", _, _) => {
                o.archived = Some(json!({"archivedAt": now, "reason": "reason-hired"}));
                let change = with(json!({"toArchived": o.archived, "fromArchived": from_archived}));
                vec![("candidateArchiveChange", change), ("candidateHired", base.clone())]
            }
            ("unarchive", _, _) => {
                o.archived = None;
                vec![("candidateArchiveChange", with(json!({"toArchived": null, "fromArchived": from_archived})))]
            }
            ("delete", _, _) => {
                g.opportunities.remove(i);
                vec![("candidateDeleted", with(json!({"deletedBy": super::ADMIN_USER})))]
            }
            _ => {
                return lever_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequestError",
                    "to: stage (with stage), archive (with reason), hire, unarchive or delete",
                );
            }
        }
    };
    let mut sent = Vec::new();
    for (event, data) in events {
        sent.push(send_event(&s, event, data, m.copies.unwrap_or(1)).await);
    }
    Json(json!({"events": sent})).into_response()
}

/// Sends one event to each webhook of it, `copies` times (Lever's duplicates), each retried
/// five more times on a non-2xx; answers what was sent.
async fn send_event(s: &LeverState, event: &str, data: Value, copies: u32) -> Value {
    let (enabled, targets, id, token, at) = {
        let mut g = s.0.lock().unwrap();
        let targets: Vec<Registered> = g.webhooks.iter().filter(|w| w.event == event).cloned().collect();
        let token: String = (0..4).map(|_| g.next("")).collect::<String>().chars().take(48).collect();
        (g.webhooks_enabled, targets, g.next("evt_"), token, xor_lever_shared::usecases::now_ms())
    };
    if !enabled {
        return json!({"sent": [], "reason": "the webhook group is switched off"});
    }
    let http = reqwest::Client::new();
    let mut sent = Vec::new();
    for w in targets {
        let signature = lever_signature(&SecretString::new(w.signature_token.clone()), &token, at);
        let body =
            json!({"id": id, "event": event, "triggeredAt": at, "token": token, "signature": signature, "data": data});
        for _ in 0..copies.max(1) {
            for _attempt in 0..6 {
                let status = match http.post(&w.url).json(&body).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                let record = Sent {
                    webhook: w.id.clone(),
                    event: event.to_owned(),
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
    json!({"sent": sent})
}
