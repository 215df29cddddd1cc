//! The real feed-sync binary under a local Lambda Runtime API, with moto and the sandboxes, as
//! deployed: the same binary runs as the scheduled dispatcher and as the sync worker, each with
//! its own permissions (the IAM-enforcing moto; exactly the actions of its policies in
//! template.yaml). The schedule's event in, the turns through moto's SQS, SQS's event into the
//! worker, the jobs in the XOR sandbox.
use std::time::Duration;

use xor_lever_sandbox::feeds::feed;
use xor_lever_sandbox::harness::{StoreKind, emf_shape, spawn_app, start_function_with};
use xor_lever_sandbox::lambda_emulator::RunningEmulator;
use xor_lever_sandbox::moto::{self, Principal};

fn event(name: &str) -> serde_json::Value {
    let path = format!("{}/../../infra/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_dispatches_on_the_schedule_and_syncs_a_turn_from_sqs() {
    let app = spawn_app(StoreKind::AwsAs(Principal::SyncWorker), feed(0..6, "")).await;
    let (table, prefix) = app.aws.clone().unwrap();
    let url = moto::enforced_sync_queue().await;
    let env = [("SYNC_QUEUE_URL", url.as_str())];

    // The dispatcher: the schedule's event in, one turn per connection out.
    let dispatcher = RunningEmulator::spawn().await;
    let mut d = start_function_with(
        env!("CARGO_BIN_EXE_feed-sync"),
        &dispatcher,
        &table,
        &prefix,
        Some(Principal::FeedSync),
        &env,
    );
    let d_emf = d.emf_lines();
    let out = dispatcher.invoke(&event("scheduled-event.json"), Duration::from_secs(60)).await.expect("answered");
    assert_eq!((out["sent"].as_u64(), out["skipped"].as_array().map(Vec::len)), (Some(1), Some(0)), "{out}");
    let run = d_emf.wait_for(|v| v.get("SyncRuns").is_some()).await;
    let (defs, dims) = emf_shape(&run);
    assert_eq!(dims, serde_json::json!([[["Stack"]]]));
    for (name, unit) in [
        ("SyncRuns", "Count"),
        ("RunErrors", "Count"),
        ("DurationMs", "Milliseconds"),
        ("ConnectionsDispatched", "Count"),
        ("ConnectionsSkipped", "Count"),
        ("RevokedConnections", "Count"),
        ("AuthorizationsExpiring", "Count"),
        ("ColdStart", "Count"),
    ] {
        assert!(defs.contains(&(name.to_owned(), unit.to_owned())), "{name} {unit} in {run}");
    }
    assert_eq!((run["SyncRuns"].as_f64(), run["ConnectionsDispatched"].as_f64()), (Some(1.0), Some(1.0)), "{run}");

    // The turn, as SQS hands it to the worker (SQS's event JSON around the message).
    let admin = aws_sdk_sqs::Client::new(&moto::sdk_as(Principal::Admin).await);
    let messages = moto::drain(&admin, &url).await;
    assert_eq!(messages.len(), 1);
    let mut sqs = event("sqs-turns.json");
    sqs["Records"][0]["messageId"] = messages[0].0.clone().into();
    sqs["Records"][0]["body"] = messages[0].1.clone().into();

    // The worker: the turn synced with the worker's own policy.
    let worker = RunningEmulator::spawn().await;
    let mut w = start_function_with(
        env!("CARGO_BIN_EXE_feed-sync"),
        &worker,
        &table,
        &prefix,
        Some(Principal::SyncWorker),
        &env,
    );
    let w_emf = w.emf_lines();
    let out = worker.invoke(&sqs, Duration::from_secs(60)).await.expect("answered");
    assert_eq!(out, serde_json::json!({"batchItemFailures": []}));
    assert_eq!(app.active_xor_jobs().len(), 6);
    assert!(worker.init_error().is_none());

    // The worker's metrics: the batch's line and the connection's.
    let batch = w_emf.wait_for(|v| v.get("TurnsTaken").is_some()).await;
    let (defs, _) = emf_shape(&batch);
    for (name, unit) in [
        ("TurnsTaken", "Count"),
        ("TurnsBusy", "Count"),
        ("TurnsFailed", "Count"),
        ("TurnsContinued", "Count"),
        ("SyncFailures", "Count"),
        ("LeverCheckFailures", "Count"),
        ("WebhooksWaiting", "Count"),
        ("ColdStart", "Count"),
        ("InitMs", "Milliseconds"),
        ("TokenRefreshes", "Count"),
        ("LeverThrottled", "Count"),
    ] {
        assert!(defs.contains(&(name.to_owned(), unit.to_owned())), "{name} {unit} in {batch}");
    }
    assert_eq!((batch["TurnsTaken"].as_f64(), batch["ColdStart"].as_f64()), (Some(1.0), Some(1.0)), "{batch}");
    let ours = w_emf.wait_for(|v| v["Connection"] == app.id.as_str()).await;
    let (defs, dims) = emf_shape(&ours);
    assert_eq!(dims, serde_json::json!([[["Stack"]], [["Stack", "Connection"]]]));
    assert!(defs.contains(&("FeedBytes".to_owned(), "Bytes".to_owned())));
    assert_eq!(ours["FeedPostings"], 6.0, "{ours}");
    assert_eq!((ours["JobsCreated"].as_f64(), ours["SyncFailed"].as_f64()), (Some(6.0), Some(0.0)), "{ours}");

    // A misspelt operator event to the dispatcher: an error the runtime reports as not worth
    // retrying; its line counts a manual run, never the schedule's heartbeat.
    let err = dispatcher.invoke(&serde_json::json!({"conection": app.id.as_str()}), Duration::from_secs(30)).await;
    let body: serde_json::Value = serde_json::from_str(&err.expect_err("the invocation failed")).unwrap();
    assert_eq!(body["errorType"], "NonRetryable", "{body}");
    assert!(body["errorMessage"].as_str().unwrap().contains("unknown field `conection`"), "{body}");
    let failed = d_emf.wait_for(|v| v["RunErrors"] == 1.0).await;
    assert_eq!(
        (
            failed["ManualRuns"].as_f64(),
            failed.get("SyncRuns"),
            failed["error_type"].as_str(),
            failed["ColdStart"].as_f64()
        ),
        (Some(1.0), None, Some("NonRetryable"), Some(0.0)),
        "{failed}"
    );
    // An operator's event for one connection is queued as its turn.
    let out = dispatcher
        .invoke(&serde_json::json!({"connection": app.id.as_str(), "force": true}), Duration::from_secs(30))
        .await
        .expect("answered");
    assert_eq!(out["sent"], 1, "{out}");
    let queued = moto::drain(&admin, &url).await;
    let turn: xor_lever_shared::domain::queue::SyncTurn = serde_json::from_str(&queued[0].1).unwrap();
    assert_eq!((turn.reason, turn.force), (xor_lever_shared::domain::queue::TurnReason::Operator, true));
}
