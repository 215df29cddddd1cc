//! The real feed-sync binary under a local Lambda Runtime API, with moto and the sandboxes:
//! the scheduled event in, the summaries out. It runs with the function's own permissions
//! (the IAM-enforcing moto; exactly the actions of its policies in template.yaml).
use std::time::Duration;

use xor_lever_sandbox::feeds::feed;
use xor_lever_sandbox::harness::{StoreKind, emf_shape, spawn_app, start_function_as};
use xor_lever_sandbox::lambda_emulator::RunningEmulator;
use xor_lever_sandbox::moto::Principal;

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_runs_a_scheduled_sync() {
    let app = spawn_app(StoreKind::AwsAs(Principal::FeedSync), feed(0..6, "")).await;
    let (table, prefix) = app.aws.clone().unwrap();
    let emulator = RunningEmulator::spawn().await;
    let mut f =
        start_function_as(env!("CARGO_BIN_EXE_feed-sync"), &emulator, &table, &prefix, Some(Principal::FeedSync));
    let emf = f.emf_lines();
    let event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/events/scheduled-event.json"))
            .unwrap(),
    )
    .unwrap();
    let out = emulator.invoke(&event, Duration::from_secs(60)).await.expect("the function answered");
    let c = out["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["connection"] == app.id.as_str())
        .cloned()
        .expect("our connection");
    assert_eq!((c["created"].as_u64(), c["outcome"].as_str()), (Some(6), Some("completed")), "{out}");
    assert_eq!(app.active_xor_jobs().len(), 6);
    assert!(emulator.init_error().is_none());

    // The run's metrics, as CloudWatch reads them from the log: the run (the heartbeat) and the
    // connection's figures, each value with its definition, unit and dimensions.
    let run = emf.wait_for(|v| v.get("SyncRuns").is_some() && v["RunErrors"] == 0.0).await;
    let (defs, dims) = emf_shape(&run);
    assert_eq!(dims, serde_json::json!([[["Stack"]]]));
    assert_eq!(run["Stack"], "xor-lever-test");
    for (name, unit) in [
        ("SyncRuns", "Count"),
        ("DurationMs", "Milliseconds"),
        ("ConnectionsSynced", "Count"),
        ("SyncFailures", "Count"),
        ("RevokedConnections", "Count"),
        ("WebhooksWaiting", "Count"),
        ("ColdStart", "Count"),
        ("InitMs", "Milliseconds"),
        ("TokenRefreshes", "Count"),
        ("LeverCheckFailures", "Count"),
    ] {
        assert!(defs.contains(&(name.to_owned(), unit.to_owned())), "{name} {unit} in {run}");
        assert!(run[name].is_number(), "{name} has a value: {run}");
    }
    assert_eq!(run["ColdStart"], 1.0, "the first invocation of the process");
    let ours = emf.wait_for(|v| v["Connection"] == app.id.as_str()).await;
    let (defs, dims) = emf_shape(&ours);
    assert_eq!(dims, serde_json::json!([[["Stack"]], [["Stack", "Connection"]]]));
    assert!(defs.contains(&("JobsCreated".to_owned(), "Count".to_owned())));
    assert!(defs.contains(&("FeedBytes".to_owned(), "Bytes".to_owned())));
    assert_eq!(ours["FeedPostings"], 6.0, "{ours}");
    assert!(ours["FeedBytes"].as_f64().unwrap() > 1000.0, "{ours}");
    assert_eq!((ours["JobsCreated"].as_f64(), ours["SyncFailed"].as_f64()), (Some(6.0), Some(0.0)), "{ours}");

    // A misspelt operator event: an error the runtime reports as not worth retrying.
    let err = emulator.invoke(&serde_json::json!({"conection": app.id.as_str()}), Duration::from_secs(30)).await;
    let body: serde_json::Value = serde_json::from_str(&err.expect_err("the invocation failed")).unwrap();
    assert_eq!(body["errorType"], "NonRetryable", "{body}");
    assert!(body["errorMessage"].as_str().unwrap().contains("unknown field `conection`"), "{body}");
    // The error path emits its line too; an operator's event counts as a manual run, never as
    // the schedule's heartbeat.
    let failed = emf.wait_for(|v| v["RunErrors"] == 1.0).await;
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
}
