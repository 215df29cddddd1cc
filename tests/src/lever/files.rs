//! A create's body as Lever reads it (JSON, or multipart with its files), the file types a
//! resume may have, and the notes and files added to an opportunity.
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::access::{acting_user, gate};
use super::lever_error;
use super::state::{LeverState, StoredFile, StoredNote};

/// The file types Lever's reference lists ("Supported File Formats": docx, doc, js, jpg, png,
/// pdf, txt); a `resumeFile` of another type is refused.
pub const SUPPORTED_FILE_TYPES: [&str; 7] = ["docx", "doc", "js", "jpg", "png", "pdf", "txt"];

/// The fields and file parts of a create, as Lever reads them.
pub(super) struct Submitted {
    pub(super) fields: Vec<(String, String)>,
    pub(super) files: Vec<StoredFile>,
}

pub(super) async fn read_submission(req: Request) -> Result<Submitted, Response> {
    let bad = |e: String| lever_error(StatusCode::BAD_REQUEST, "BadRequestError", e);
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut files: Vec<StoredFile> = Vec::new();
    if is_multipart {
        let mut mp = Multipart::from_request(req, &()).await.map_err(|e| bad(e.to_string()))?;
        while let Some(field) = mp.next_field().await.map_err(|e| bad(e.to_string()))? {
            let name = field.name().unwrap_or_default().to_owned();
            if let Some(file_name) = field.file_name().map(str::to_owned) {
                let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
                let bytes = field.bytes().await.unwrap_or_default().to_vec();
                files.push(StoredFile { field: name, name: file_name, content_type, size: bytes.len(), bytes });
            } else {
                fields.push((name, field.text().await.unwrap_or_default()));
            }
        }
        return Ok(Submitted { fields, files });
    }
    let body = Bytes::from_request(req, &()).await.map_err(|e| bad(e.to_string()))?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
    for (k, val) in v.as_object().cloned().unwrap_or_default() {
        match val {
            Value::Array(items) => {
                for (i, it) in items.into_iter().enumerate() {
                    match it {
                        Value::Object(o) => {
                            for (kk, vv) in o {
                                fields.push((format!("{k}[{i}][{kk}]"), vv.as_str().unwrap_or_default().to_owned()));
                            }
                        }
                        other => fields.push((
                            format!("{k}[]"),
                            other.as_str().map(str::to_owned).unwrap_or_else(|| other.to_string()),
                        )),
                    }
                }
            }
            Value::String(st) => fields.push((k, st)),
            other => fields.push((k, other.to_string())),
        }
    }
    Ok(Submitted { fields, files })
}

/// A file name's extension, lower-cased.
pub(super) fn extension(name: &str) -> String {
    name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default()
}

/// `POST /opportunities/{id}/notes?perform_as=…` with `{"value": …, "secret"?: bool}`.
pub(super) async fn add_note(
    State(s): State<LeverState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Response {
    if let Err(r) = gate(&s, &headers, "note").await {
        return r;
    }
    let mut g = s.0.lock().unwrap();
    let user = match acting_user(&g, &q) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(value) = v["value"].as_str().filter(|t| !t.is_empty()).map(str::to_owned) else {
        return lever_error(StatusCode::BAD_REQUEST, "BadRequestError", "value is required");
    };
    let note_id = g.next("note_");
    let Some(o) = g.opportunities.iter_mut().find(|o| o.id == id) else {
        return lever_error(StatusCode::NOT_FOUND, "ResourceNotFound", format!("opportunity {id} not found"));
    };
    let note = StoredNote { id: note_id.clone(), value, user, secret: v["secret"].as_bool().unwrap_or(false) };
    o.notes.push(note.clone());
    (StatusCode::CREATED, Json(json!({"data": {"noteId": note_id}}))).into_response()
}

pub(super) async fn list_notes(State(s): State<LeverState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = gate(&s, &headers, "notes").await {
        return r;
    }
    let g = s.0.lock().unwrap();
    match g.opportunities.iter().find(|o| o.id == id) {
        Some(o) => {
            let notes: Vec<Value> = o
                .notes
                .iter()
                .map(|n| json!({"id": n.id, "user": n.user, "secret": n.secret, "fields": [{"type": "text", "value": n.value}]}))
                .collect();
            Json(json!({"data": notes, "hasNext": false})).into_response()
        }
        None => lever_error(StatusCode::NOT_FOUND, "ResourceNotFound", format!("opportunity {id} not found")),
    }
}

/// `POST /opportunities/{id}/files?perform_as=…`, multipart with the file under `file`.
pub(super) async fn add_file(
    State(s): State<LeverState>,
    Path(id): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
    req: Request,
) -> Response {
    if let Err(r) = gate(&s, req.headers(), "file").await {
        return r;
    }
    if let Err(r) = acting_user(&s.0.lock().unwrap(), &q) {
        return r;
    }
    let Submitted { files, .. } = match read_submission(req).await {
        Ok(sub) => sub,
        Err(r) => return r,
    };
    let mut g = s.0.lock().unwrap();
    let Some(o) = g.opportunities.iter_mut().find(|o| o.id == id) else {
        return lever_error(StatusCode::NOT_FOUND, "ResourceNotFound", format!("opportunity {id} not found"));
    };
    let n = files.iter().filter(|f| f.field == "file").count();
    o.files.extend(files.into_iter().filter(|f| f.field == "file"));
    (StatusCode::OK, Json(json!({"data": {"files": n}}))).into_response()
}
