//! The real feed-sync binary under a local Lambda Runtime API, with moto and the sandboxes:
//! the scheduled event in, the summaries out.
use std::time::Duration;

use xor_lever_sandbox::feeds::feed;
use xor_lever_sandbox::harness::{StoreKind, spawn_app, start_function};
use xor_lever_sandbox::lambda_emulator::RunningEmulator;

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_runs_a_scheduled_sync() {
    let app = spawn_app(StoreKind::Aws, feed(0..6, "")).await;
    let (table, prefix) = app.aws.clone().unwrap();
    let emulator = RunningEmulator::spawn().await;
    let _f = start_function(env!("CARGO_BIN_EXE_feed-sync"), &emulator, &table, &prefix);
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
}
