//! The worker's handler (SQS event source) on SQS's own event JSON, with moto's DynamoDB and SQS
//! and the XOR sandbox: what the deployed worker answers the event source mapping.
use std::sync::Arc;

use xor_lever_sandbox::feeds::feed;
use xor_lever_sandbox::harness::{App, StoreKind, spawn_app};
use xor_lever_sandbox::moto;
use xor_lever_shared::domain::queue::{SyncTurn, TurnReason};

/// The worker function's handler on SQS's event JSON (infra/events/sqs-turns.json): a batch of
/// three, two good turns and one malformed message; the answer names only the malformed one
/// (SQS redelivers it alone, then keeps it in the DLQ), the two connections are synced.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_of_three_with_one_bad_message_reports_only_that_one() {
    let a = spawn_app(StoreKind::Aws, feed(0..3, "")).await;
    let b = spawn_app(StoreKind::Aws, feed(0..4, "")).await;
    let url = moto::plain_sync_queue().await;
    let sdk = xor_lever_shared::config::aws_sdk_config().await;
    let queue: Arc<dyn xor_lever_shared::domain::queue::SyncQueue> =
        Arc::new(xor_lever_shared::config::sqs_queue(&sdk, &url));
    // Two apps, two tables: one worker per table (the deployed worker has one).
    let sample: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/events/sqs-turns.json")).unwrap(),
    )
    .unwrap();
    let record = |id: &str, body: String| {
        let mut r = sample["Records"][0].clone();
        r["messageId"] = id.into();
        r["body"] = body.into();
        r
    };
    let turn = |app: &App| serde_json::to_string(&SyncTurn::new(app.id.clone(), TurnReason::Schedule)).unwrap();
    let event = serde_json::json!({"Records": [
        record("m-1", turn(&a)),
        record("m-2", "{\"conection\":".into()),
        record("m-3", turn(&a)),
    ]});
    let handler = feed_sync::handler::Handler {
        deps: a.deps.clone(),
        concurrency: 1,
        webhooks: None,
        turns: Some(a.turn_deps(queue.clone()).await),
    };
    let ctx = lambda_runtime::Context::default();
    let out = handler.invoke(lambda_runtime::LambdaEvent::new(event, ctx)).await.unwrap();
    assert_eq!(out, serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m-2"}]}));
    // m-1 synced; m-3, the same connection after it, found nothing new to write.
    assert_eq!(a.active_xor_jobs().len(), 3);
    assert_eq!(a.xor.stats().writes, 3);

    // The other table's worker: a turn for a connection it does not know is acknowledged.
    let handler = feed_sync::handler::Handler {
        deps: b.deps.clone(),
        concurrency: 2,
        webhooks: None,
        turns: Some(b.turn_deps(queue.clone()).await),
    };
    let event = serde_json::json!({"Records": [record("m-4", turn(&b)), record("m-5", turn(&a))]});
    let out = handler.invoke(lambda_runtime::LambdaEvent::new(event, Default::default())).await.unwrap();
    assert_eq!(out, serde_json::json!({"batchItemFailures": []}));
    assert_eq!(b.active_xor_jobs().len(), 4);
}
