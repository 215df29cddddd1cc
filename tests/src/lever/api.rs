//! The Data API's reads: users, postings and opportunities, listed a page at a time or one by id.
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::access::{confidential_refused, gate, may_see_confidential};
use super::lever_error;
use super::state::{Inner, LeverState, StoredOpportunity};

/// `GET /users`: paginated like every list (`limit` 1–100, default 100; `offset` is the `next`
/// token of the previous page), filtered by `accessRole` (repeatable) and `email`.
pub(super) async fn users(
    State(s): State<LeverState>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = gate(&s, &headers, "users").await {
        return r;
    }
    let g = s.0.lock().unwrap();
    let roles: Vec<&str> = q.iter().filter(|(k, _)| k == "accessRole").map(|(_, v)| v.as_str()).collect();
    let email = q.iter().find(|(k, _)| k == "email").map(|(_, v)| v.to_lowercase());
    let matching: Vec<&Value> = g
        .users
        .iter()
        .filter(|u| roles.is_empty() || roles.iter().any(|r| u["accessRole"] == *r))
        .filter(|u| email.as_ref().is_none_or(|e| u["email"].as_str().map(str::to_lowercase).as_ref() == Some(e)))
        .collect();
    page_of(&matching, &q, g.config.max_page)
}

/// One page of `items` by `limit` and `offset` (the id of the last item of the previous page).
fn page_of(items: &[&Value], q: &[(String, String)], max_page: usize) -> Response {
    let get = |k: &str| q.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.clone());
    let limit: usize = get("limit").and_then(|l| l.parse().ok()).unwrap_or(100).clamp(1, max_page.clamp(1, 100));
    let start = match get("offset") {
        Some(o) => match items.iter().position(|i| i["id"] == o.as_str()) {
            Some(p) => p + 1,
            None => return lever_error(StatusCode::BAD_REQUEST, "InvalidOffset", "offset is not a token we issued"),
        },
        None => 0,
    };
    let page: Vec<Value> = items.iter().skip(start).take(limit).map(|v| (*v).clone()).collect();
    let has_next = start + limit < items.len();
    let next = if has_next { page.last().and_then(|p| p["id"].as_str()).map(str::to_owned) } else { None };
    let mut body = json!({"data": page, "hasNext": has_next});
    if let Some(n) = next {
        body["next"] = n.into();
    }
    Json(body).into_response()
}

pub(super) async fn get_user(State(s): State<LeverState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = gate(&s, &headers, "user").await {
        return r;
    }
    match s.0.lock().unwrap().users.iter().find(|u| u["id"] == id.as_str()) {
        Some(u) => Json(json!({"data": u})).into_response(),
        None => lever_error(StatusCode::NOT_FOUND, "ResourceNotFound", format!("user {id} not found")),
    }
}

pub(super) async fn list_postings(
    State(s): State<LeverState>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = gate(&s, &headers, "postings").await {
        return r;
    }
    let g = s.0.lock().unwrap();
    let state = q.iter().find(|(k, _)| k == "state").map(|(_, v)| v.clone());
    let Some(wanted) = confidentiality(&g, &headers, &q) else {
        return confidential_refused();
    };
    let matching: Vec<&Value> = g
        .postings
        .values()
        .filter(|p| state.as_ref().is_none_or(|st| p["state"] == st.as_str()))
        .filter(|p| wanted.admits(p["confidentiality"] == "confidential"))
        .collect();
    page_of(&matching, &q, g.config.max_page)
}

pub(super) async fn get_posting(State(s): State<LeverState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = gate(&s, &headers, "posting").await {
        return r;
    }
    let g = s.0.lock().unwrap();
    match g.postings.get(&id) {
        Some(p) if p["confidentiality"] == "confidential" && !may_see_confidential(&g, &headers) => {
            confidential_refused()
        }
        Some(p) => Json(json!({"data": p})).into_response(),
        None => lever_error(StatusCode::NOT_FOUND, "ResourceNotFound", format!("posting {id} not found")),
    }
}

/// Which confidentiality a listing asks for (`confidentiality`: DOCS "If unspecified, defaults to
/// non-confidential. To get both confidential and non-confidential ... you must specify all.");
/// `None` when the token may not see what it asks for.
#[derive(Clone, Copy)]
enum Confidentiality {
    NonConfidential,
    Confidential,
    All,
}

impl Confidentiality {
    fn admits(self, confidential: bool) -> bool {
        match self {
            Self::NonConfidential => !confidential,
            Self::Confidential => confidential,
            Self::All => true,
        }
    }
}

fn confidentiality(g: &Inner, headers: &HeaderMap, q: &[(String, String)]) -> Option<Confidentiality> {
    let asked = match q.iter().find(|(k, _)| k == "confidentiality").map(|(_, v)| v.as_str()) {
        None | Some("non-confidential") => return Some(Confidentiality::NonConfidential),
        Some("confidential") => Confidentiality::Confidential,
        Some(_) => Confidentiality::All,
    };
    may_see_confidential(g, headers).then_some(asked)
}

/// An opportunity as the Data API shows it: `applications` are application ids, unless the
/// caller asks for `expand=applications` (then each has its `posting`).
pub(super) fn opportunity_view(o: &StoredOpportunity, expand_applications: bool, app: &str) -> Value {
    let applications = if expand_applications {
        json!(
            o.postings
                .iter()
                .map(|p| json!({"id": o.application, "type": "posting", "posting": p, "opportunityId": o.id}))
                .collect::<Vec<_>>()
        )
    } else {
        json!([o.application])
    };
    json!({
        "id": o.id, "name": o.name, "headline": o.headline, "contact": o.contact, "emails": o.emails,
        "phones": o.phones, "links": o.links, "tags": o.tags, "sources": o.sources, "origin": o.origin,
        "owner": o.owner, "followers": o.followers, "stage": o.stage, "createdAt": o.created_at as u64,
        "location": o.location, "applications": applications, "archived": o.archived,
        "confidentiality": if o.confidential { "confidential" } else { "non-confidential" },
        "urls": {"list": format!("{app}/candidates"), "show": format!("{app}/candidates/{}", o.id)},
    })
}

/// `GET /opportunities` with the documented filters: `email`, `posting_id`, `source`, `tag`
/// (case-sensitive), `origin`, `contact_id`, `created_at_start`/`created_at_end` (ms), and
/// `expand`; every filter may repeat (any of its values matches).
pub(super) async fn find_opportunities(
    State(s): State<LeverState>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = gate(&s, &headers, "find").await {
        return r;
    }
    let all = |k: &str| q.iter().filter(|(kk, _)| kk == k).map(|(_, v)| v.clone()).collect::<Vec<_>>();
    let ms = |k: &str| all(k).first().and_then(|v| v.parse::<u128>().ok());
    let (emails, postings, sources, tags, origins, contacts) =
        (all("email"), all("posting_id"), all("source"), all("tag"), all("origin"), all("contact_id"));
    let (start, end) = (ms("created_at_start"), ms("created_at_end"));
    let expand = all("expand").iter().any(|e| e == "applications");
    let g = s.0.lock().unwrap();
    let Some(wanted) = confidentiality(&g, &headers, &q) else {
        return confidential_refused();
    };
    let any = |want: &[String], have: &[String]| want.is_empty() || want.iter().any(|w| have.contains(w));
    let found: Vec<Value> = g
        .opportunities
        .iter()
        .filter(|o| {
            let lower: Vec<String> = o.emails.iter().map(|e| e.to_lowercase()).collect();
            emails.is_empty() || emails.iter().any(|e| lower.contains(&e.to_lowercase()))
        })
        .filter(|o| any(&postings, &o.postings) && any(&sources, &o.sources) && any(&tags, &o.tags))
        .filter(|o| any(&contacts, std::slice::from_ref(&o.contact)))
        .filter(|o| origins.is_empty() || o.origin.as_ref().is_some_and(|x| origins.contains(x)))
        .filter(|o| start.is_none_or(|t| o.created_at >= t) && end.is_none_or(|t| o.created_at <= t))
        .filter(|o| wanted.admits(o.confidential))
        .map(|o| opportunity_view(o, expand, &g.config.app_url))
        .collect();
    let refs: Vec<&Value> = found.iter().collect();
    page_of(&refs, &q, g.config.max_page)
}

/// `GET /opportunities/{id}`: the opportunity as it is now; 404 once deleted (or never made).
pub(super) async fn get_opportunity(
    State(s): State<LeverState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = gate(&s, &headers, "find").await {
        return r;
    }
    let g = s.0.lock().unwrap();
    match g.opportunities.iter().find(|o| o.id == id) {
        Some(o) if o.confidential && !may_see_confidential(&g, &headers) => confidential_refused(),
        Some(o) => Json(json!({"data": opportunity_view(o, false, &g.config.app_url)})).into_response(),
        None => lever_error(StatusCode::NOT_FOUND, "ResourceNotFoundError", "no such opportunity"),
    }
}

/// The account's pipeline stages (`GET /stages`, scope `stages:read:admin`).
pub(super) async fn stages(State(s): State<LeverState>, headers: HeaderMap) -> Response {
    if let Err(r) = gate(&s, &headers, "stages").await {
        return r;
    }
    let data: Vec<Value> = STAGES.iter().map(|(id, text)| json!({"id": id, "text": text})).collect();
    Json(json!({"data": data, "hasNext": false})).into_response()
}

/// The account's archive reasons (`GET /archive_reasons`, scope `archive_reasons:read:admin`).
pub(super) async fn archive_reasons(State(s): State<LeverState>, headers: HeaderMap) -> Response {
    if let Err(r) = gate(&s, &headers, "archive_reasons").await {
        return r;
    }
    let data: Vec<Value> =
        ARCHIVE_REASONS.iter().map(|(id, text, kind)| json!({"id": id, "text": text, "type": kind})).collect();
    Json(json!({"data": data, "hasNext": false})).into_response()
}

/// The sandbox account's stages: the first is where a new opportunity starts.
pub const STAGES: [(&str, &str); 4] = [
    (super::DEFAULT_STAGE, "New lead"),
    ("stage-phone", "Phone screen"),
    ("stage-onsite", "On-site"),
    ("stage-offer", "Offer"),
];
/// The sandbox account's archive reasons.
pub const ARCHIVE_REASONS: [(&str, &str, &str); 3] = [
    ("reason-hired", "Hired", "hired"),
    ("reason-underqualified", "Underqualified", "non-hired"),
    ("reason-withdrew", "Withdrew", "non-hired"),
];
