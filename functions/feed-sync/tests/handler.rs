//! The handler with the real EventBridge Scheduler event JSON, against moto and the sandboxes.
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::Value;
use xor_lever_sandbox::FeedServer;
use xor_lever_sandbox::feeds::feed;
use xor_lever_sandbox::harness::{StoreKind, spawn_app};
use xor_lever_shared::domain::{Connection, ConnectionStatus, RunOutcome};

fn event(path: &str) -> Value {
    let p = format!("{}/../../infra/events/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn ctx_with_seconds_left(secs: u64) -> Context {
    let mut ctx = Context::default();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    ctx.deadline = (now.as_millis() as u64) + secs * 1000;
    ctx
}

#[tokio::test]
async fn scheduled_event_syncs_every_connected_connection_and_isolates_failures() {
    let app = spawn_app(StoreKind::Aws, feed(0..5, "")).await;
    // A second connection whose feed is an HTML error page, and a disabled third one.
    let broken_feed = FeedServer::spawn(b"<html><body>maintenance</body></html>".to_vec()).await;
    let mut broken = Connection::new("broken-1".parse().unwrap(), broken_feed.url.clone(), app.xor.url.clone(), 0);
    broken.xor_max_rps = 100.0;
    app.deps.connections.create_connection(&broken).await.unwrap();
    app.deps.secrets.create_secret(&broken.id, "xor-api-key", Some(&"k2".to_owned().into())).await.unwrap();
    let mut off = Connection::new("off-1".parse().unwrap(), broken_feed.url.clone(), app.xor.url.clone(), 0);
    off.status = ConnectionStatus::Disabled;
    app.deps.connections.create_connection(&off).await.unwrap();

    let handler = feed_sync::handler::Handler { deps: app.deps.clone(), concurrency: 2, webhooks: None, turns: None };
    let out =
        handler.handle(LambdaEvent::new(event("scheduled-event.json"), ctx_with_seconds_left(120))).await.unwrap();
    let json = serde_json::to_value(&out).unwrap();
    let by_conn = |id: &str| json["connections"].as_array().unwrap().iter().find(|c| c["connection"] == id).cloned();
    let ok = by_conn(app.id.as_str()).expect("connected connection synced");
    assert_eq!((ok["created"].as_u64(), ok["outcome"].as_str()), (Some(5), Some("completed")));
    let bad = by_conn("broken-1").expect("broken connection reported");
    assert_eq!(bad["outcome"], "feed_error");
    assert!(bad["reason"].as_str().unwrap().contains("<html>"));
    assert!(by_conn("off-1").is_none(), "disabled connections are not synced");
    let skipped = json["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|s| s["connection"] == "off-1" && s["status"] == "disabled"),
        "and reported: {skipped:?}"
    );
    assert_eq!(app.active_xor_jobs().len(), 5);
}

#[tokio::test]
async fn manual_event_syncs_one_connection_as_a_dry_run() {
    let app = spawn_app(StoreKind::Aws, feed(0..3, "")).await;
    let handler = feed_sync::handler::Handler { deps: app.deps.clone(), concurrency: 2, webhooks: None, turns: None };
    let mut ev = event("sync-one-connection.json");
    ev["connection"] = app.id.to_string().into();
    let out = handler.handle(LambdaEvent::new(ev, ctx_with_seconds_left(60))).await.unwrap();
    assert_eq!(out.connections.len(), 1);
    assert_eq!(out.connections[0].outcome, RunOutcome::DryRun);
    assert_eq!(app.xor.stats().requests, 0, "a dry run changes nothing");
}

#[tokio::test]
async fn an_unrecognised_event_is_a_non_retryable_error() {
    let app = spawn_app(StoreKind::Memory, feed(0..1, "")).await;
    let handler = feed_sync::handler::Handler { deps: app.deps.clone(), concurrency: 1, webhooks: None, turns: None };
    for (event, says) in [
        (serde_json::json!([1, 2]), "unrecognised event"),
        // A typo must not read as "sync every connection".
        (serde_json::json!({"conection": app.id.as_str()}), "unknown field `conection`"),
        (serde_json::json!({"connection": "Not An Id"}), "connection id"),
        (serde_json::json!({"detail-type": "Object Created", "source": "aws.s3", "detail": {}}), "not a schedule"),
    ] {
        let err = handler.handle(LambdaEvent::new(event.clone(), Context::default())).await.unwrap_err();
        assert!(err.to_string().contains(says), "{event}: {err}");
        let d: Diagnostic = err.into();
        assert_eq!(d.error_type, "NonRetryable", "{event}");
    }
    assert_eq!(app.xor.stats().requests, 0, "nothing was synced");
}

#[tokio::test]
async fn a_store_outage_is_a_retryable_error() {
    let app = spawn_app(StoreKind::Memory, feed(0..1, "")).await;
    // A DynamoDB endpoint nobody answers on.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("k", "s", None, None, "test"))
        .load()
        .await;
    let mut deps = app.deps.clone();
    deps.connections = std::sync::Arc::new(xor_lever_shared::adapters::dynamodb::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        "t",
    ));
    let handler = feed_sync::handler::Handler { deps, concurrency: 1, webhooks: None, turns: None };
    let err = handler.handle(LambdaEvent::new(event("scheduled-event.json"), Context::default())).await.unwrap_err();
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "Retryable", "{}", d.error_message);
    assert!(d.error_message.contains("store"), "{}", d.error_message);
}

#[tokio::test]
async fn the_scheduled_run_replays_a_delivery_that_waited_for_lever() {
    use xor_lever_sandbox::harness::spawn_webhook_app;
    use xor_lever_sandbox::lever::Fault;
    use xor_lever_shared::domain::DeliveryStatus;
    let app = spawn_webhook_app(StoreKind::Aws).await;
    app.lever.inject((0..3).map(|_| Fault { status: Some(503), op: Some("posting".into()), ..Default::default() }));
    let (st, _, _) = app.deliver("msg_w", &serde_json::to_vec(&app.screening("cand_w")).unwrap()).await;
    assert_eq!(st, 503);
    let sync = app.sync_deps();
    let handler =
        feed_sync::handler::Handler { deps: sync, concurrency: 2, webhooks: Some(app.deps.clone()), turns: None };
    let out =
        handler.handle(LambdaEvent::new(event("scheduled-event.json"), ctx_with_seconds_left(120))).await.unwrap();
    let w = out.webhooks.expect("a sweep ran");
    assert_eq!((w.replayed, w.completed), (1, 1), "{w:?}");
    assert_eq!(app.delivery("msg_w").await.unwrap().status, DeliveryStatus::Completed);
    assert_eq!(app.lever.opportunities().len(), 1);
}

#[tokio::test]
async fn a_sync_that_hangs_never_starves_the_replays() {
    use xor_lever_sandbox::harness::spawn_webhook_app;
    use xor_lever_sandbox::lever::Fault;
    use xor_lever_shared::domain::DeliveryStatus;
    use xor_lever_shared::domain::ports::XOR_API_KEY;
    let app = spawn_webhook_app(StoreKind::Aws).await;
    app.lever.inject((0..3).map(|_| Fault { status: Some(503), op: Some("posting".into()), ..Default::default() }));
    let (st, _, _) = app.deliver("msg_h", &serde_json::to_vec(&app.screening("cand_h")).unwrap()).await;
    assert_eq!(st, 503);
    // Another customer's feed host accepts the connection and never answers.
    let frozen = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let frozen_url = format!("http://{}/feed.xml", frozen.local_addr().unwrap());
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = frozen.accept().await {
            open.push(s);
        }
    });
    let slow = xor_lever_shared::domain::ConnectionId::parse("slow-feed").unwrap();
    app.setup
        .connections
        .create_connection(&Connection::new(slow.clone(), frozen_url, "http://127.0.0.1:9".into(), 0))
        .await
        .unwrap();
    let key = xor_lever_shared::domain::SecretString::new("xor_test_slow");
    app.setup.secrets.create_secret(&slow, XOR_API_KEY, Some(&key)).await.unwrap();
    let handler = feed_sync::handler::Handler {
        deps: app.sync_deps(),
        concurrency: 2,
        webhooks: Some(app.deps.clone()),
        turns: None,
    };
    let out = handler.handle(LambdaEvent::new(event("scheduled-event.json"), ctx_with_seconds_left(20))).await.unwrap();
    let w = out.webhooks.expect("a sweep ran");
    assert_eq!((w.replayed, w.completed), (1, 1), "{w:?}");
    assert_eq!(app.delivery("msg_h").await.unwrap().status, DeliveryStatus::Completed);
    let slow_run = out.connections.iter().find(|c| c.summary.connection == "slow-feed").expect("reported");
    assert!(
        matches!(&slow_run.outcome, RunOutcome::FeedError { reason } if reason.contains("time")),
        "{:?}",
        slow_run.outcome
    );
}
