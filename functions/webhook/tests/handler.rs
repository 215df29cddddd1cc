//! The webhook Lambda's router fed a real API Gateway HTTP API (v2) request event, as
//! `lambda_http` would after reading it from the Runtime API.
use lambda_http::request::LambdaRequest;
use lambda_http::tower::ServiceExt;
use xor_lever_sandbox::harness::{StoreKind, spawn_webhook_app};
use xor_lever_shared::domain::webhook::WebhookSecret;

fn event(connection: &str, secret: &str, base64_body: bool) -> LambdaRequest {
    let path = format!("{}/../../infra/events/webhook-request.json", env!("CARGO_MANIFEST_DIR"));
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let body = v["body"].as_str().unwrap().to_owned();
    let ts = xor_lever_shared::usecases::now_ms() / 1000;
    let sig = WebhookSecret::parse(secret).unwrap().sign("msg_2Yx1fQ0kEwLZ3xR9", ts, body.as_bytes());
    v["headers"]["webhook-timestamp"] = ts.to_string().into();
    v["headers"]["webhook-signature"] = sig.into();
    for p in ["rawPath"] {
        v[p] = format!("/webhooks/xor/{connection}").into();
    }
    v["requestContext"]["http"]["path"] = format!("/webhooks/xor/{connection}").into();
    v["pathParameters"]["connection_id"] = connection.into();
    if base64_body {
        use base64::Engine;
        v["body"] = base64::engine::general_purpose::STANDARD.encode(body.as_bytes()).into();
        v["isBase64Encoded"] = true.into();
    }
    serde_json::from_value(v).expect("an API Gateway v2 event")
}

async fn call(app: &xor_lever_sandbox::harness::WebhookApp, ev: LambdaRequest) -> (u16, serde_json::Value) {
    let mut req: lambda_http::Request = ev.into();
    let mut ctx = lambda_http::Context::default();
    ctx.deadline = (xor_lever_shared::usecases::now_ms() + 20_000) as u64;
    req.extensions_mut().insert(ctx);
    let resp = webhook::app(app.deps.clone(), None).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn an_api_gateway_v2_event_creates_the_opportunity() {
    let app = spawn_webhook_app(StoreKind::Aws).await;
    let (status, body) = call(&app, event(app.id.as_str(), &app.secret, false)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "completed");
    assert_eq!(app.lever.opportunities().len(), 1);
    // API Gateway may base64-encode the body: the signature still covers the raw bytes.
    let (status, body) = call(&app, event(app.id.as_str(), &app.secret, true)).await;
    assert_eq!((status, body["duplicate"].as_bool()), (200, Some(true)), "{body}");
    assert_eq!(app.lever.opportunities().len(), 1);
}

#[tokio::test]
async fn a_bad_signature_in_an_api_gateway_event_is_401() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let (status, _) = call(&app, event(app.id.as_str(), &xor_lever_shared::random::webhook_secret(), false)).await;
    assert_eq!(status, 401);
}

/// A GET of the Lever section as API Gateway sends it: the query string, and the browser's
/// cookies in the v2 event's `cookies` array (not a `Cookie` header).
fn section_event(connection: &str, query: Option<(&str, &str)>, cookies: &[String]) -> LambdaRequest {
    let path = format!("{}/../../infra/events/webhook-request.json", env!("CARGO_MANIFEST_DIR"));
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let route = format!("/connections/{connection}");
    v["rawPath"] = route.clone().into();
    v["requestContext"]["http"]["path"] = route.into();
    v["requestContext"]["http"]["method"] = "GET".into();
    v["routeKey"] = "GET /connections/{connection_id}".into();
    v["pathParameters"] = serde_json::json!({ "connection_id": connection });
    v["body"] = serde_json::Value::Null;
    v["isBase64Encoded"] = false.into();
    if let Some((k, val)) = query {
        v["rawQueryString"] = format!("{k}={val}").into();
        v["queryStringParameters"] = serde_json::json!({ k: val });
    }
    if !cookies.is_empty() {
        v["cookies"] = serde_json::json!(cookies);
    }
    serde_json::from_value(v).expect("an API Gateway v2 event")
}

#[tokio::test]
async fn the_lever_section_works_through_api_gateway_with_its_cookie() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let link =
        xor_lever_shared::usecases::section::access::page_link(&app.setup, "https://x", &app.id, 7).await.unwrap();
    let token = link.split("link=").nth(1).unwrap().to_owned();
    let send = |ev: LambdaRequest| {
        let deps = app.deps.clone();
        async move {
            let req: lambda_http::Request = ev.into();
            webhook::app(deps, None).oneshot(req).await.unwrap()
        }
    };
    let first = send(section_event(app.id.as_str(), Some(("link", &token)), &[])).await;
    assert_eq!(first.status().as_u16(), 303);
    // Over HTTPS (API Gateway), the session cookie is a __Host- cookie.
    let set = first.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with(&format!("__Host-xor_lever_section_{}=", app.id)) && set.contains("; Secure"), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    let page = send(section_event(app.id.as_str(), None, &[cookie])).await;
    assert_eq!(page.status().as_u16(), 200);
    let html = String::from_utf8(axum::body::to_bytes(page.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(html.contains("data-status=\"connected\""), "{html}");
    let none = send(section_event(app.id.as_str(), None, &[])).await;
    assert_eq!(none.status().as_u16(), 403, "no cookie, no page");
}
