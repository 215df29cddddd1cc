//! `POST /opportunities`: the create, with the person deduplicated by email, and its answer
//! (lost, held, or broken off when a fault says so).
use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::access::{acting_user, confidential_refused, gate, may_see_confidential};
use super::api::opportunity_view;
use super::faults::{AfterWork, take_after_work};
use super::files::{SUPPORTED_FILE_TYPES, Submitted, extension, read_submission};
use super::state::{Contact, LeverState, StoredFile, StoredOpportunity};
use super::{DEFAULT_STAGE, lever_error};

/// `POST /opportunities?perform_as=…[&perform_as_posting_owner=true]`: JSON, or multipart when
/// files go along. Files are read from `files[]` (any number) and `resumeFile` (one); a part under
/// any other name is ignored, as Lever ignores an unknown key. The person is deduplicated by email,
/// and a known person's stored data (name, headline, phones) wins over the create's.
async fn create_opportunity(
    State(s): State<LeverState>,
    Query(q): Query<Vec<(String, String)>>,
    req: Request,
) -> Response {
    if let Err(r) = gate(&s, req.headers(), "create").await {
        let refused = matches!(r.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
        if refused && s.0.lock().unwrap().config.refusal_breaks_upload {
            return broken_off(r.status());
        }
        // A refused token is answered on the headers (the body unread: the client may fail on
        // its write, as with a real server); an injected 429 or 5xx after the body is read, so
        // it reaches the client whatever the timing.
        if !refused {
            let _ = read_submission(req).await;
        }
        return r;
    }
    let perform_as = match acting_user(&s.0.lock().unwrap(), &q) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let on_behalf_of_owner = q.iter().any(|(k, v)| k == "perform_as_posting_owner" && v == "true");
    let headers = req.headers().clone();
    let Submitted { fields, files } = match read_submission(req).await {
        Ok(sub) => sub,
        Err(r) => return r,
    };
    // Arrays arrive as repeated `key[]` (a plain `key` is not an array: ignored); phones as
    // objects (JSON: `[{"type", "value"}]`; multipart, by the reference's nested-field syntax:
    // `phones[i][type|value]`), and in no other shape.
    let list = |key: &str| -> Vec<String> {
        fields.iter().filter(|(k, _)| *k == format!("{key}[]")).map(|(_, v)| v.clone()).collect()
    };
    let one = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let mut phones: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for (k, v) in &fields {
        let Some(rest) = k.strip_prefix("phones") else { continue };
        let attr = rest.strip_prefix('[').and_then(|r| r.split_once("][")).filter(|(i, _)| i.parse::<usize>().is_ok());
        let Some((idx, attr)) =
            attr.map(|(i, a)| (i, a.trim_end_matches(']'))).filter(|(_, a)| matches!(*a, "type" | "value"))
        else {
            return lever_error(
                StatusCode::BAD_REQUEST,
                "BadRequestError",
                format!("{k}: phones are objects with a value"),
            );
        };
        phones.entry(format!("{idx:0>4}")).or_default().insert(attr.to_owned(), Value::String(v.clone()));
    }
    let name = one("name").unwrap_or_default();
    let postings = list("postings");
    let emails = list("emails");
    // One file under `files`, several under `files[]` (DOCS); one resume under `resumeFile`, of a
    // listed type (DOCS: "Supported File Formats").
    let (resumes, files): (Vec<StoredFile>, Vec<StoredFile>) = files
        .into_iter()
        .filter(|f| f.field == "files[]" || f.field == "files" || f.field == "resumeFile")
        .partition(|f| f.field == "resumeFile");
    if let Some(r) = resumes.iter().find(|r| !SUPPORTED_FILE_TYPES.contains(&extension(&r.name).as_str())) {
        return lever_error(
            StatusCode::BAD_REQUEST,
            "BadRequestError",
            format!("resumeFile {}: not a supported file format", r.name),
        );
    }
    let mut g = s.0.lock().unwrap();
    if name.is_empty() {
        return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "name is required");
    }
    if postings.len() > 1 {
        return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "an opportunity has at most one posting");
    }
    let posting = match postings.first().map(|p| (p, g.postings.get(p))) {
        Some((p, None)) => {
            return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", format!("posting {p} does not exist"));
        }
        Some((p, Some(v)))
            if g.config.refuse_closed_postings && !matches!(v["state"].as_str(), Some("published" | "internal")) =>
        {
            let state = v["state"].as_str().unwrap_or("?");
            return lever_error(
                StatusCode::BAD_REQUEST,
                "BadRequestError",
                format!("posting {p} is {state}: candidates cannot be added"),
            );
        }
        Some((_, Some(v))) => Some(v.clone()),
        None => None,
    };
    // With `perform_as_posting_owner=true`, the posting's owner owns it (DOCS: "If the posting
    // does not have an owner, the Opportunity owner will default to the perform_as user").
    let creator = perform_as.clone();
    let actor = match posting.as_ref().and_then(|p| p["owner"].as_str()) {
        Some(owner) if on_behalf_of_owner => owner.to_owned(),
        _ => perform_as,
    };
    if posting.as_ref().is_some_and(|p| p["confidentiality"] == "confidential") && !may_see_confidential(&g, &headers) {
        return confidential_refused();
    }
    let known = emails.iter().find_map(|e| g.contacts.get(&e.to_lowercase()).cloned());
    let contact = known.clone().unwrap_or_else(|| g.next("ct_"));
    for e in &emails {
        g.contacts.insert(e.to_lowercase(), contact.clone());
    }
    let person = match known.and_then(|c| g.people.get(&c).cloned()) {
        Some(p) => p,
        None => {
            let stored_as = g.config.phones_stored_as;
            let phones = phones
                .into_values()
                .map(|mut p| {
                    if let Some(Value::String(v)) = p.get("value") {
                        let v = stored_as.store(v);
                        p.insert("value".into(), Value::String(v));
                    }
                    Value::Object(p)
                })
                .collect();
            let p = Contact { name: name.clone(), headline: one("headline"), phones };
            g.people.insert(contact.clone(), p.clone());
            p
        }
    };
    // An existing source is reused, as the account spells it; an unknown one is created.
    let mut sources = Vec::new();
    for src in list("sources") {
        match g.sources.iter().find(|x| x.eq_ignore_ascii_case(&src)).cloned() {
            Some(existing) => sources.push(existing),
            None => {
                g.sources.push(src.clone());
                sources.push(src);
            }
        }
    }
    // A known contact keeps the emails it has (and gains the new ones).
    let mut emails = emails;
    for o in g.opportunities.iter().filter(|o| o.contact == contact) {
        for e in &o.emails {
            if !emails.iter().any(|x| x.eq_ignore_ascii_case(e)) {
                emails.push(e.clone());
            }
        }
    }
    let id = g.next("opp_");
    let application = g.next("app_");
    // DOCS: "The Opportunity creator will always be added as a follower" — the creator is the
    // `perform_as` user, whoever owns it; `followers[]` adds others.
    let mut followers = vec![creator];
    for f in list("followers") {
        if !followers.contains(&f) {
            followers.push(f);
        }
    }
    let confidential = posting.as_ref().is_some_and(|p| p["confidentiality"] == "confidential");
    let o = StoredOpportunity {
        id: id.clone(),
        application,
        contact: contact.clone(),
        name: person.name,
        headline: person.headline,
        location: one("location"),
        emails,
        phones: person.phones,
        links: list("links"),
        tags: list("tags"),
        sources,
        origin: one("origin"),
        postings,
        owner: actor,
        followers,
        stage: one("stage").unwrap_or_else(|| DEFAULT_STAGE.into()),
        created_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
        files,
        resumes: resumes.into_iter().take(1).collect(),
        notes: Vec::new(),
        confidential,
        archived: None,
    };
    g.stats.opportunities_created += 1;
    g.opportunities.push(o.clone());
    let mut created =
        (StatusCode::CREATED, Json(json!({"data": opportunity_view(&o, false, &g.config.app_url)}))).into_response();
    match take_after_work(&mut g, "create") {
        Some(AfterWork::Lost(status)) => {
            return lever_error(status, "Injected", "the answer was lost (the opportunity was created)");
        }
        // Held by `create_opportunity_held`, once the state's lock is released.
        Some(AfterWork::Late(d)) => {
            created.extensions_mut().insert(Late(d));
        }
        None => {}
    }
    created
}

#[derive(Clone, Copy)]
struct Late(Duration);

/// An answer that never arrives: its body fails before a byte is sent, so the server drops the
/// connection and the client, mid-upload, sees the connection fail.
fn broken_off(status: StatusCode) -> Response {
    let fail =
        futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("upload broken off")) });
    (status, axum::body::Body::from_stream(fail)).into_response()
}

/// The create route: the opportunity is created at once; an answer to be held (`Late`) is sent
/// that much later.
pub(super) async fn create_opportunity_held(
    s: State<LeverState>,
    q: Query<Vec<(String, String)>>,
    req: Request,
) -> Response {
    let answer = create_opportunity(s, q, req).await;
    if let Some(Late(d)) = answer.extensions().get::<Late>().copied() {
        tokio::time::sleep(d).await;
    }
    answer
}
