//! The HTTP routes, one axum router for both the Lambda (behind API Gateway's HTTP API, through
//! `lambda_http`) and `xor-lever serve` on loopback.
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

mod section;
mod section_filter;
mod section_html;

use crate::domain::webhook::MAX_BODY_BYTES;
use crate::metrics::Metric;
use crate::usecases::connect::{self, CallbackQuery, ConnectError};
use crate::usecases::context::LeverContext;
use crate::usecases::webhook::{Reply, SignedHeaders, receive, receive_lever};

/// When the current invocation must have answered (Unix ms): the Lambda adapter sets it from
/// the invocation's deadline; elsewhere a request gets [`DEFAULT_BUDGET_MS`].
#[derive(Debug, Clone, Copy)]
pub struct RequestDeadline(pub i64);

pub const DEFAULT_BUDGET_MS: i64 = 30_000;

/// The largest form the section's filter takes (the rules' bounds fit well within it).
pub const SECTION_FORM_BYTES: usize = 64 * 1024;

/// The routes over `deps`. `public_url`: the API's public base URL (`PUBLIC_URL`, a custom
/// domain), HTTP's own setting: the OAuth redirect URI, the pages' cookies and links use it, and
/// a page opened on another host is moved there; without it, each request's own URL.
pub fn router(deps: LeverContext, public_url: Option<String>) -> Router {
    // One form of the public URL for every link and redirect URI built from it.
    let public_url = public_url.map(|u| u.trim_end_matches('/').to_owned());
    Router::new()
        .route("/webhooks/xor/{connection_id}", post(webhook))
        .route("/webhooks/lever/{connection_id}", post(lever_webhook))
        .route("/oauth/lever/start", get(oauth_start))
        .route(connect::CALLBACK_PATH, get(oauth_callback))
        .route("/connections/{connection_id}", get(section::page))
        .route("/connections/{connection_id}/connect", post(section::connect))
        .route("/connections/{connection_id}/replay", post(section::replay))
        .route("/connections/{connection_id}/disable", post(section::disable))
        // The section's forms are small: their own bound, read before any session check.
        .route(
            "/connections/{connection_id}/filter",
            post(section_filter::rules).layer(DefaultBodyLimit::max(SECTION_FORM_BYTES)),
        )
        .route(
            "/connections/{connection_id}/switch",
            post(section_filter::switch).layer(DefaultBodyLimit::max(SECTION_FORM_BYTES)),
        )
        .route("/assets/section.css", get(section::css))
        .route("/assets/section.js", get(section::js))
        .route("/healthz", get(|| async { "ok" }))
        // One byte over the cap so the handler (not the framework) answers with its own 413.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES + 1))
        .layer(axum::middleware::from_fn(count_the_rest))
        .layer(axum::middleware::from_fn_with_state(public_url.clone(), canonical_host))
        .layer(axum::middleware::from_fn_with_state(public_url, hsts))
        .with_state(deps)
}

/// A page opened on another host of the API than the public one (the execute-api URL behind a
/// custom domain) is moved to the public host first, before any cookie is set: the connect
/// flow's state cookie and the section's session must live where Lever sends the browser back
/// (the redirect URI is on the public host) and where the page's forms post. XOR's webhooks are
/// taken on any host. The host a proxy names in `X-Forwarded-Host` counts as the request's (a
/// CDN in front of the execute-api origin forwards there; without it every page would loop).
/// `307`, not `308`: a browser does not cache it, so a changed `PublicUrl` is not stuck.
///
/// It then hands every route the request's base URL ([`Base`]): the public one, else the one
/// the request came through.
async fn canonical_host(
    State(public_url): State<Option<String>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let page = req.uri().path() == "/oauth/lever/start" || req.uri().path().starts_with("/connections/");
    if let Some(public) = public_url.as_deref().filter(|_| page && req.method() == axum::http::Method::GET)
        && let Some(want) = crate::url::authority(public)
    {
        let https = public.starts_with("https://");
        let forwarded = header(req.headers(), "x-forwarded-host");
        let named = forwarded.as_deref().and_then(|h| h.split(',').next()).map(str::trim).map(str::to_owned);
        let host = named.or_else(|| header(req.headers(), "host")).map(|h| {
            let h = h.to_ascii_lowercase();
            let default = if https { ":443" } else { ":80" };
            h.strip_suffix(default).map(str::to_owned).unwrap_or(h)
        });
        if host.as_deref() != Some(want.as_str()) {
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            return redirect(StatusCode::TEMPORARY_REDIRECT, &format!("{public}{path}"));
        }
    }
    let base = base_url(public_url.as_deref(), req.headers());
    req.extensions_mut().insert(Base(base));
    next.run(req).await
}

/// The deployment's base URL as this request sees it (set by `canonical_host`).
#[derive(Debug, Clone)]
pub(crate) struct Base(pub(crate) String);

/// What a request other than XOR's webhook counted (a replay from the section, the replays after
/// a connect: Lever calls, token refreshes, 429s) gets a line of its own; the webhook's delivery
/// line counts its own request (its scope is inside this one, so nothing is counted twice).
async fn count_the_rest(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (r, c) = crate::metrics::counted(next.run(req)).await;
    if c != crate::metrics::Counters::default() {
        crate::metrics::MetricLine::new(None)
            .with_counters(&c)
            .count(Metric::LeverCalls, c.lever_calls as usize)
            .millis(Metric::LeverMs, u128::from(c.lever_ms))
            .emit();
    }
    r
}

/// `Strict-Transport-Security` on every answer given over HTTPS (API Gateway says so in
/// `X-Forwarded-Proto`; a custom domain is https by its `PUBLIC_URL`): a browser that has seen
/// the section once never reaches it over plain HTTP, where a link's token could be read. Not
/// `includeSubDomains`: a custom domain's siblings are the customer's business.
async fn hsts(
    State(public_url): State<Option<String>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let https = public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
        || req.headers().get("x-forwarded-proto").is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let mut r = next.run(req).await;
    if https {
        r.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    r
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn deadline_of(deps: &LeverContext, d: Option<Extension<RequestDeadline>>) -> i64 {
    d.map_or_else(|| (deps.clock)() + DEFAULT_BUDGET_MS, |Extension(d)| d.0)
}

async fn webhook(
    State(deps): State<LeverContext>,
    Path(connection_id): Path<String>,
    deadline: Option<Extension<RequestDeadline>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signed = SignedHeaders {
        id: header(&headers, "webhook-id"),
        timestamp: header(&headers, "webhook-timestamp"),
        signature: header(&headers, "webhook-signature"),
    };
    let deadline = deadline_of(&deps, deadline);
    let started = std::time::Instant::now();
    // Every log line of this delivery carries the connection and the webhook id (the correlation
    // id from XOR to Lever's opportunity); in Lambda, inside the runtime's span with the request
    // id. An unsigned request's id is the sender's text: cut short, and JSON-escaped by the log.
    let id: String = signed.id.as_deref().unwrap_or_default().chars().take(64).collect();
    let span = tracing::info_span!("webhook", connection = %connection_id.chars().take(64).collect::<String>(), webhook_id = %id);
    let work = crate::metrics::counted(receive(&deps, &connection_id, &signed, &body, deadline));
    let (answer, stats) = tracing::Instrument::instrument(work, span).await;
    delivery_metrics(&connection_id, signed.id.as_deref(), &answer, &stats, started.elapsed().as_millis()).emit();
    let status = status_of(answer.reply);
    let mut resp = (status, Json(answer.body)).into_response();
    if let Some(secs) = answer.retry_after {
        resp.headers_mut().insert("retry-after", HeaderValue::from(secs));
    }
    resp
}

/// Lever's webhook (issue 25): recorded, or refused, never acted on here (the sweep forwards).
/// Lever retries any non-2xx, a 3xx included: a refusal is a 4xx it stops after five tries.
async fn lever_webhook(State(deps): State<LeverContext>, Path(connection_id): Path<String>, body: Bytes) -> Response {
    let started = std::time::Instant::now();
    let span = tracing::info_span!("lever_webhook", connection = %connection_id.chars().take(64).collect::<String>());
    let answer = tracing::Instrument::instrument(receive_lever(&deps, &connection_id, &body), span).await;
    lever_event_metrics(&connection_id, &answer, started.elapsed().as_millis()).emit();
    let mut resp = (status_of(answer.reply), Json(answer.body)).into_response();
    if let Some(secs) = answer.retry_after {
        resp.headers_mut().insert("retry-after", HeaderValue::from(secs));
    }
    resp
}

/// One EMF line per Lever delivery: recorded, a duplicate, dropped (not XOR's), refused.
pub fn lever_event_metrics(
    connection: &str,
    a: &crate::usecases::webhook::Answer,
    duration_ms: u128,
) -> crate::metrics::MetricLine {
    let recorded = a.delivery == Some(crate::domain::DeliveryStatus::Pending) && !a.duplicate;
    let dropped = a.reply == Reply::Accepted && a.delivery.is_none();
    crate::metrics::MetricLine::new(a.known_connection.then_some(connection))
        .count(Metric::LeverEventsReceived, 1)
        .count(Metric::LeverEventsRecorded, usize::from(recorded))
        .count(Metric::LeverEventsDropped, usize::from(dropped))
        .count(Metric::LeverEventsDuplicate, usize::from(a.duplicate))
        .count(Metric::LeverEventsRefused, usize::from(a.reply != Reply::Accepted))
        .millis(Metric::WebhookMs, duration_ms)
        .with_cold_start()
        .property("status", status_of(a.reply).as_u16())
}

/// One EMF line per webhook request: what became of it, and how long it took. `Connection` is a
/// dimension only for a connection that exists (a made-up path must not create metrics), and the
/// `webhook-id` is a property (the correlation id in Logs Insights) only once the request is
/// signed.
pub fn delivery_metrics(
    connection: &str,
    webhook_id: Option<&str>,
    a: &crate::usecases::webhook::Answer,
    stats: &crate::metrics::Counters,
    duration_ms: u128,
) -> crate::metrics::MetricLine {
    use crate::domain::DeliveryStatus as S;
    // Only a connection the store knows: an unknown path, a store that failed before the
    // lookup, or a request refused on its headers alone (before any lookup) leaves the path's
    // id unverified, and it must not become a dimension.
    let known = a.known_connection;
    let mut line = crate::metrics::MetricLine::new(known.then_some(connection));
    let is = |s: S| usize::from(a.delivery == Some(s));
    let duplicate = a.duplicate;
    // A duplicate answers with the first delivery's outcome: it is not counted again.
    let first = |s: S| usize::from(a.delivery == Some(s) && !duplicate);
    line = line
        .count(Metric::WebhooksReceived, 1)
        .count(Metric::DeliveriesCompleted, first(S::Completed))
        .count(Metric::DeliveriesDuplicate, usize::from(duplicate))
        .count(Metric::DeliveriesFailed, first(S::Failed))
        .count(Metric::DeliveriesPending, is(S::Pending))
        .count(Metric::DeliveriesPendingReauth, is(S::PendingReauth))
        .count(Metric::DeliveriesRejected, is(S::Rejected))
        .count(Metric::WebhooksUnsigned, usize::from(a.reply == Reply::Unsigned))
        .count(Metric::WebhooksBusy, usize::from(a.reply == Reply::InProgress))
        .millis(Metric::WebhookMs, duration_ms)
        .count(Metric::LeverCalls, stats.lever_calls as usize)
        .millis(Metric::LeverMs, u128::from(stats.lever_ms))
        .millis(Metric::ReportRenderMs, u128::from(stats.report_ms))
        .count(Metric::ResumeDownloadFailures, stats.resume_failures as usize)
        .count(Metric::MappingsRepaired, stats.mappings_repaired as usize)
        .with_counters(stats)
        .with_cold_start()
        .property("status", status_of(a.reply).as_u16());
    if let (Some(id), true) = (webhook_id, known && a.reply != Reply::Unsigned) {
        line = line.property("webhook_id", id);
    }
    if let Some(opp) = &a.opportunity_id {
        line = line.property("opportunity_id", opp.as_str());
    }
    line
}

/// The webhook's replies in HTTP (XOR retries a non-2xx; a 4xx other than 409 tells it to stop).
pub fn status_of(reply: Reply) -> StatusCode {
    match reply {
        Reply::Accepted => StatusCode::OK,
        Reply::BadRequest => StatusCode::BAD_REQUEST,
        Reply::Unsigned => StatusCode::UNAUTHORIZED,
        Reply::UnknownConnection => StatusCode::NOT_FOUND,
        Reply::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Reply::InProgress | Reply::Conflict => StatusCode::CONFLICT,
        Reply::RetryLater => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The deployment's public base URL: configured (`PUBLIC_URL`, e.g. a custom domain), else the
/// one the request came through (API Gateway sets `Host` and `X-Forwarded-Proto`).
fn base_url(public_url: Option<&str>, headers: &HeaderMap) -> String {
    if let Some(u) = public_url {
        return u.to_owned();
    }
    let host = header(headers, "host").unwrap_or_else(|| "localhost".into());
    let proto = header(headers, "x-forwarded-proto").unwrap_or_else(|| "http".into());
    format!("{proto}://{host}")
}

#[derive(Deserialize)]
struct StartQuery {
    connection: Option<String>,
    invitation: Option<String>,
}

async fn oauth_start(
    State(deps): State<LeverContext>,
    Extension(Base(base)): Extension<Base>,
    Query(q): Query<StartQuery>,
) -> Response {
    let connection = q.connection.unwrap_or_default();
    match connect::start(&deps, &connection, q.invitation.as_deref(), &base).await {
        Ok(s) => to_lever(&base, &s),
        Err(e) => error_page(&e),
    }
}

/// `302` to Lever's authorize page, with the cookie that binds the flow to this browser (the
/// bare start link and the section's Connect both end here).
fn to_lever(base: &str, s: &connect::Started) -> Response {
    let max_age = connect::STATE_TTL_MS / 1000;
    with_cookie(section::secure(found(&s.authorize_url), None), &connect::state_cookie(base, &s.nonce, max_age))
}

/// Adds a `Set-Cookie` to a response.
fn with_cookie(mut r: Response, set_cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(set_cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The value of cookie `name` in the request's `Cookie` header(s).
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

async fn oauth_callback(
    State(deps): State<LeverContext>,
    Extension(Base(base)): Extension<Base>,
    headers: HeaderMap,
    deadline: Option<Extension<RequestDeadline>>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let deadline = deadline_of(&deps, deadline);
    let nonce = cookie(&headers, &connect::state_cookie_name(&base));
    let result = connect::callback(&deps, &q, nonce.as_deref(), &base, deps.sync_trigger.as_ref(), deadline).await;
    let section = match &result {
        Ok(c) => section::back_to_section(&deps, &base, &headers, c.connection.as_str()).await,
        Err(_) => None,
    };
    let r = match section {
        Some(r) => r,
        None => callback_page(result),
    };
    // The nonce has done its job either way.
    if nonce.is_some() { with_cookie(r, &connect::state_cookie(&base, "", 0)) } else { r }
}

fn callback_page(result: Result<connect::Connected, ConnectError>) -> Response {
    match result {
        Ok(c) => page(
            StatusCode::OK,
            "Lever is connected",
            &format!(
                "xor-lever is now connected to Lever for {}. Jobs will flow to XOR{} and screened candidates will appear in Lever (created as user {}: {}). {} waiting candidate(s) were sent on. You can close this page. To disconnect, revoke xor-lever in Lever: Settings → Integrations and API → Authorized Apps.",
                c.connection,
                if c.sync_started { " (the first sync has started)" } else { " at the next scheduled sync" },
                c.perform_as,
                c.perform_as_source,
                c.replayed
            ),
        ),
        Err(e) => error_page(&e),
    }
}

/// `302 Found`, as OAuth providers expect for the authorize redirect.
pub fn found(url: &str) -> Response {
    redirect(StatusCode::FOUND, url)
}

/// A redirect to `url` (a 500 if it cannot be a header: never a half-made answer).
fn redirect(status: StatusCode, url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(v) => (status, [(header::LOCATION, v)]).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn error_page(e: &ConnectError) -> Response {
    let status = match e {
        ConnectError::NoInvitation
        | ConnectError::InvitationUsed
        | ConnectError::InvitationExpired
        | ConnectError::OtherBrowser
        | ConnectError::OtherAccount
        | ConnectError::UnverifiedAccount
        | ConnectError::NotSuperAdmin { .. } => StatusCode::FORBIDDEN,
        ConnectError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ConnectError::Denied(_) => StatusCode::OK,
        ConnectError::ForgedState
        | ConnectError::ExpiredState
        | ConnectError::ReusedState
        | ConnectError::Exchange(_)
        | ConnectError::NoCode
        | ConnectError::Lookup(_)
        | ConnectError::NoPerformAs
        | ConnectError::Disabled => StatusCode::BAD_REQUEST,
        // The operator's words (a setup step) are not for a public page.
        ConnectError::AppNotSet | ConnectError::OtherEnvironment(_) => {
            let unset = ConnectError::Unavailable("the Lever app is not set up".into());
            return page(StatusCode::SERVICE_UNAVAILABLE, "Lever is not connected", &unset.to_string());
        }
    };
    page(status, "Lever is not connected", &e.to_string())
}

/// A page that only says something (the OAuth pages), with the section's stylesheet and headers.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    section::secure((status, Html(section_html::message(title, message))).into_response(), None)
}
