//! The real webhook binary under a local Lambda Runtime API: an API Gateway HTTP API v2 event in,
//! an API Gateway response out, an opportunity in the Lever sandbox.
use std::time::Duration;

use xor_lever_sandbox::harness::{StoreKind, emf_shape, spawn_webhook_app, start_function_as};
use xor_lever_sandbox::lambda_emulator::RunningEmulator;
use xor_lever_sandbox::moto::Principal;
use xor_lever_shared::domain::webhook::WebhookSecret;

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_handles_a_signed_webhook() {
    // With the function's own permissions (the IAM-enforcing moto).
    let app = spawn_webhook_app(StoreKind::AwsAs(Principal::Webhook)).await;
    let (table, prefix) = app.aws.clone().unwrap();
    let emulator = RunningEmulator::spawn().await;
    let mut f = start_function_as(env!("CARGO_BIN_EXE_webhook"), &emulator, &table, &prefix, Some(Principal::Webhook));
    let emf = f.emf_lines();
    let mut v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/events/webhook-request.json"))
            .unwrap(),
    )
    .unwrap();
    let body = v["body"].as_str().unwrap().to_owned();
    let ts = xor_lever_shared::usecases::now_ms() / 1000;
    let path = format!("/webhooks/xor/{}", app.id);
    v["headers"]["webhook-timestamp"] = ts.to_string().into();
    v["headers"]["webhook-signature"] =
        WebhookSecret::parse(&app.secret).unwrap().sign("msg_2Yx1fQ0kEwLZ3xR9", ts, body.as_bytes()).into();
    v["rawPath"] = path.clone().into();
    v["requestContext"]["http"]["path"] = path.into();
    v["pathParameters"]["connection_id"] = app.id.to_string().into();
    // Lever throttles the create once (a 429 is not processed: retried after Retry-After).
    app.lever.inject([xor_lever_sandbox::lever::Fault {
        status: Some(429),
        retry_after: Some(0),
        op: Some("create".into()),
        ..Default::default()
    }]);
    let out = emulator.invoke(&v, Duration::from_secs(29)).await.expect("the function answered");
    assert_eq!(out["statusCode"], 200, "{out}");
    let answer: serde_json::Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
    assert_eq!(answer["status"], "completed");
    assert_eq!(app.lever.opportunities().len(), 1);

    // The delivery's metrics: what became of it, under the connection, with the webhook id and
    // the opportunity as properties (the correlation in Logs Insights).
    let line = emf.wait_for(|v| v.get("WebhooksReceived").is_some()).await;
    let (defs, dims) = emf_shape(&line);
    assert_eq!(dims, serde_json::json!([[["Stack"]], [["Stack", "Connection"]]]));
    assert_eq!((line["Stack"].as_str(), line["Connection"].as_str()), (Some("xor-lever-test"), Some(app.id.as_str())));
    for (name, unit) in [
        ("WebhooksReceived", "Count"),
        ("DeliveriesCompleted", "Count"),
        ("DeliveriesFailed", "Count"),
        ("DeliveriesPending", "Count"),
        ("DeliveriesDuplicate", "Count"),
        ("WebhookMs", "Milliseconds"),
        ("ColdStart", "Count"),
        ("LeverCalls", "Count"),
        ("LeverMs", "Milliseconds"),
        ("ReportRenderMs", "Milliseconds"),
        ("ResumeDownloadFailures", "Count"),
        ("LeverThrottled", "Count"),
        ("TokenRefreshes", "Count"),
    ] {
        assert!(defs.contains(&(name.to_owned(), unit.to_owned())), "{name} {unit} in {line}");
    }
    assert_eq!(
        (line["DeliveriesCompleted"].as_f64(), line["DeliveriesFailed"].as_f64()),
        (Some(1.0), Some(0.0)),
        "{line}"
    );
    // Lever's share of the delivery: at least the create with its file, and the note.
    assert!(line["LeverCalls"].as_f64().unwrap() >= 2.0, "{line}");
    assert_eq!(line["ResumeDownloadFailures"], 0.0, "{line}");
    assert_eq!(line["LeverThrottled"], 1.0, "Lever's 429 counted: {line}");
    assert_eq!(line["webhook_id"], "msg_2Yx1fQ0kEwLZ3xR9");
    assert_eq!(line["opportunity_id"], answer["opportunity_id"]);
    // The function's log lines: JSON (AWS_LAMBDA_LOG_FORMAT=JSON, as the template sets), each of
    // this delivery's in the span that names the connection and the webhook id; no line holds
    // the candidate's name, email or phone, or the webhook secret.
    let processed = emf.wait_for(|v| v["fields"]["message"] == "webhook processed").await;
    let span = &processed["span"];
    assert_eq!(
        (span["connection"].as_str(), span["webhook_id"].as_str()),
        (Some(app.id.as_str()), Some("msg_2Yx1fQ0kEwLZ3xR9")),
        "{processed}"
    );
    assert_eq!(processed["level"], "INFO");
    println!("a log line: {processed}\nits metric line: {line}");
    for l in emf.all() {
        let text = l.to_string();
        for pii in ["Lovelace", "ada@example.com", "7946", &app.secret] {
            assert!(!text.contains(pii), "{pii} in a log line: {text}");
        }
    }
}
