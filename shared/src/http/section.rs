//! The Lever section's routes: `GET /connections/{id}` (with `?invitation=` or `?link=` once, to
//! open a session; then with the session cookie, `?q=` and `?page=`), the POSTs of its buttons
//! (`/connect`, `/replay`, `/disable`, each with the session's CSRF field) and its two assets.
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::{Base, RequestDeadline, cookie, deadline_of, with_cookie};
use crate::usecases::connect::ConnectError;
use crate::usecases::context::LeverContext;
use crate::usecases::section::{self, JobQuery, SectionError, Session, access};
use crate::usecases::webhook::ReplayError;

pub const CSS: &str = include_str!("../../assets/section.css");
pub const JS: &str = include_str!("../../assets/section.js");

#[derive(Deserialize)]
pub(super) struct PageQuery {
    invitation: Option<String>,
    link: Option<String>,
    q: Option<String>,
    /// Read leniently: a made-up page number is page 1.
    page: Option<String>,
    /// The postings list's search and page (issue 26).
    pq: Option<String>,
    pp: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Posted {
    pub(super) csrf: Option<String>,
    pub(super) webhook_id: Option<String>,
}

/// The page's security headers: no inline code, no framing, no referrer, no caching; forms may
/// go to this origin and to Lever's authorization (the connect form's redirect).
pub(super) fn secure(mut r: Response, form_to: Option<&str>) -> Response {
    let form_action = match form_to {
        Some(o) if !o.contains([';', '\'', '"', ' ']) => {
            // Lever sends an EU account's authorization on to its data centre ("re-directed
            // automatically", its OAuth page): the form's redirect chain stays on Lever's hosts.
            let lever = if o.ends_with(".lever.co") { " https://*.lever.co" } else { "" };
            format!("'self' {o}{lever}")
        }
        _ => "'self'".into(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'none'; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // `same-origin`, not `no-referrer`: with no referrer at all, browsers send `Origin: null` on
    // the page's own form posts, which the origin check must refuse.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn refusal(e: &SectionError) -> Response {
    let status = match e {
        SectionError::NoAccess
        | SectionError::Expired
        | SectionError::Csrf
        | SectionError::NotInvited
        | SectionError::Invitation(_) => StatusCode::FORBIDDEN,
        SectionError::Unavailable(_)
        | SectionError::Connect(ConnectError::Unavailable(_))
        | SectionError::Replay(ReplayError::Store(_)) => StatusCode::SERVICE_UNAVAILABLE,
        SectionError::NotAllowed | SectionError::NotConnected => StatusCode::FORBIDDEN,
        SectionError::FilterChanged => StatusCode::CONFLICT,
        SectionError::Connect(_) | SectionError::Replay(_) | SectionError::TooLong(_) | SectionError::BadForm => {
            StatusCode::BAD_REQUEST
        }
    };
    let title = if status == StatusCode::FORBIDDEN { "This page is not available" } else { "Something went wrong" };
    // The page is public: a store's or Lever's own words stay in the log.
    let text = if status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(error = %crate::domain::ports::error_chain(e), "Lever section unavailable");
        "XOR cannot show this right now; try again in a few minutes.".to_owned()
    } else {
        e.to_string()
    };
    secure((status, Html(super::section_html::message(title, &text))).into_response(), None)
}

/// `303 See Other`: after a form, or to take a token out of the URL.
pub(super) fn see_other(url: &str) -> Response {
    super::redirect(StatusCode::SEE_OTHER, url)
}

/// The bare path of the section (what the browser shows once the token left the URL).
pub(super) fn path_of(id: &str) -> String {
    format!("/connections/{}", crate::url::enc(id))
}

pub(super) async fn page(
    State(deps): State<LeverContext>,
    Extension(Base(base)): Extension<Base>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    // A token in the URL is traded for a session at once, and the URL cleaned.
    let opened = match (&q.invitation, &q.link) {
        (Some(t), _) => Some(access::open_with_invitation(&deps, &id, t).await),
        (None, Some(t)) => Some(access::open_with_link(&deps, &id, t).await),
        (None, None) => None,
    };
    if let Some(opened) = opened {
        return match opened {
            Ok(o) => {
                let max_age = ((o.session.e - (deps.clock)()) / 1000).max(1);
                let r = secure(see_other(&path_of(&id)), None);
                with_cookie(r, &access::set_cookie(&base, &id, &o.cookie, max_age))
            }
            Err(e) => {
                tracing::warn!(connection = %id, reason = %e, "Lever section link refused");
                refusal(&e)
            }
        };
    }
    let s = match access::session(&deps, &id, cookie(&headers, &access::cookie_name(&base, &id)).as_deref()).await {
        Ok(s) => s,
        Err(e) => return refusal(&e),
    };
    let query = JobQuery { q: q.q, page: q.page.and_then(|p| p.parse().ok()).unwrap_or(1) };
    match section::view(&deps, &s, &query).await {
        Ok(v) => {
            let listed = match v.connection.status {
                crate::domain::ConnectionStatus::Connected => {
                    let page = q.pp.and_then(|p| p.parse().ok()).unwrap_or(1);
                    // Without the list the page still works (Disable, the jobs, the candidates).
                    section::filter::postings(&deps, &v.connection, q.pq.as_deref().unwrap_or(""), page).await.ok()
                }
                _ => None,
            };
            let html = super::section_html::section_with(&v, &path_of(&id), listed.as_ref().map(|p| (p, None)));
            let origin = v.can_connect.then_some(v.lever_origin.as_str());
            secure((StatusCode::OK, Html(html)).into_response(), origin)
        }
        Err(e) => refusal(&e),
    }
}

/// The session of a POST, with its CSRF field checked (and, when the browser says where the form
/// came from, that it came from here).
pub(super) async fn posted(
    deps: &LeverContext,
    base: &str,
    id: &str,
    headers: &HeaderMap,
    f: &Posted,
) -> Result<Session, SectionError> {
    let s = access::session(deps, id, cookie(headers, &access::cookie_name(base, id)).as_deref()).await?;
    if let Some(origin) = super::header(headers, "origin") {
        if origin != base {
            return Err(SectionError::Csrf);
        }
    }
    access::check_csrf(&s, f.csrf.as_deref())?;
    Ok(s)
}

/// A form's answer: what the action did, or the page that says why it was refused.
pub(super) async fn answered(action: impl std::future::Future<Output = Result<Response, SectionError>>) -> Response {
    action.await.unwrap_or_else(|e| refusal(&e))
}

pub(super) async fn connect(
    State(deps): State<LeverContext>,
    Extension(Base(base)): Extension<Base>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<Posted>,
) -> Response {
    answered(async {
        let s = posted(&deps, &base, &id, &headers, &f).await?;
        Ok(super::to_lever(&base, &section::connect(&deps, &s, &base).await?))
    })
    .await
}

pub(super) async fn replay(
    State(deps): State<LeverContext>,
    Extension(Base(base)): Extension<Base>,
    Path(id): Path<String>,
    headers: HeaderMap,
    deadline: Option<axum::Extension<RequestDeadline>>,
    Form(f): Form<Posted>,
) -> Response {
    answered(async {
        let s = posted(&deps, &base, &id, &headers, &f).await?;
        let deadline = deadline_of(&deps, deadline);
        section::replay(&deps, &s, f.webhook_id.as_deref().unwrap_or_default(), deadline).await?;
        Ok(secure(see_other(&format!("{}#recent-h", path_of(&id))), None))
    })
    .await
}

pub(super) async fn disable(
    State(deps): State<LeverContext>,
    Extension(Base(base)): Extension<Base>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<Posted>,
) -> Response {
    answered(async {
        let s = posted(&deps, &base, &id, &headers, &f).await?;
        section::disable(&deps, &s).await?;
        Ok(secure(see_other(&path_of(&id)), None))
    })
    .await
}

/// After a successful authorization in a browser that holds the section's session: back to
/// the section, now connected.
pub(super) async fn back_to_section(
    deps: &LeverContext,
    base: &str,
    headers: &HeaderMap,
    id: &str,
) -> Option<Response> {
    access::session(deps, id, cookie(headers, &access::cookie_name(base, id)).as_deref()).await.ok()?;
    Some(secure(see_other(&path_of(id)), None))
}

pub(super) async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

pub(super) async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    fn csp(form_to: Option<&str>) -> String {
        let r = super::secure(().into_response(), form_to);
        r.headers()[axum::http::header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned()
    }

    #[test]
    fn forms_may_go_to_lever_and_its_regions_and_nowhere_else() {
        assert!(
            csp(Some("https://auth.lever.co")).contains("form-action 'self' https://auth.lever.co https://*.lever.co;")
        );
        assert!(csp(Some("http://127.0.0.1:8481")).contains("form-action 'self' http://127.0.0.1:8481;"));
        assert!(csp(Some("https://x.example; script-src *")).contains("form-action 'self';"));
        assert!(csp(None).contains("form-action 'self';"));
    }
}
