//! What each Lambda does, run with that Lambda's own permissions: moto enforcing IAM, and each
//! function's IAM user holding exactly the actions of its policies in template.yaml (set up by
//! `infra/scripts/moto-iam-start` from the template). An action the code calls that the policy
//! lacks is `AccessDenied` here, as it would be in AWS. (The real binaries run the same way:
//! functions/*/tests/bootstrap.rs.)

use xor_lever_sandbox::LeverSandbox;
use xor_lever_sandbox::feeds::feed;
use xor_lever_sandbox::harness::{StoreKind, WebhookApp, spawn_app, spawn_webhook_app};
use xor_lever_sandbox::lever::Fault;
use xor_lever_sandbox::moto::{self, Principal};
use xor_lever_shared::domain::{ConnectionStatus, ConnectionStore, DeliveryStatus, StoreError};
use xor_lever_shared::usecases::{SyncDeps, now_ms};

fn body(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

#[tokio::test]
async fn the_webhook_function_receives_refreshes_connects_and_replays_with_its_own_policy() {
    let app = spawn_webhook_app(StoreKind::AwsAs(Principal::Webhook)).await;
    // A screening: delivery record, claim, mapping lookup, secrets, Lever.
    let (st, v, _) = app.deliver("msg_1", &body(&app.screening("cand_1"))).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "{v}");
    // A token refresh stores the new pair (PutSecretValue on the Lever token secret).
    app.lever.expire_access_tokens();
    let mut t = app.deps.tokens.stored(&app.id).await.unwrap().unwrap();
    t.expires_at = 0;
    app.setup.tokens.store(&app.id, &t).await.unwrap();
    let (st, v, _) = app.deliver("msg_2", &body(&app.screening("cand_2"))).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "{v}");
    assert_eq!(app.lever.stats().refreshes, 1);
    assert_ne!(app.deps.tokens.stored(&app.id).await.unwrap().unwrap().refresh_token, t.refresh_token);

    // Connect: a webhook waits while pending; the OAuth callback stores tokens, binds the
    // account, and replays it.
    let lever = LeverSandbox::spawn().await;
    let (id, secret) = app.add_pending_connection("b", &lever).await;
    let ts = now_ms() / 1000;
    let b = body(&app.screening("cand_3"));
    let sig = xor_lever_shared::domain::webhook::WebhookSecret::parse(&secret).unwrap().sign("msg_3", ts, &b);
    let (st, _, _) = app.post_to(id.as_str(), "msg_3", &ts.to_string(), &sig, &b).await;
    assert_eq!(st, 503);
    let (st, page) = app.connect(&id).await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("1 waiting candidate(s) were sent on"), "{page}");
    let c = app.deps.connections.connection(&id).await.unwrap().unwrap();
    assert_eq!(c.status, ConnectionStatus::Connected);
    assert!(c.lever.account_id.is_some());
    assert_eq!(lever.opportunities().len(), 1);
}

/// The webhook function starts a new connection's first sync: it sends the connection's turn
/// to the sync queue (`sqs:SendMessage`), and the turn is there.
#[tokio::test]
async fn the_webhook_function_may_start_the_first_sync() {
    let url = moto::enforced_sync_queue().await;
    let trigger = xor_lever_shared::config::sqs_queue(&moto::sdk_as(Principal::Webhook).await, &url);
    use xor_lever_shared::domain::SyncTrigger;
    trigger.trigger(&"acme".parse().unwrap()).await.unwrap();
    let admin = aws_sdk_sqs::Client::new(&moto::sdk_as(Principal::Admin).await);
    let got = moto::drain(&admin, &url).await;
    assert_eq!(got.len(), 1);
    let turn: xor_lever_shared::domain::queue::SyncTurn = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(
        (turn.connection.as_str(), turn.reason),
        ("acme", xor_lever_shared::domain::queue::TurnReason::Connected)
    );
}

/// The dispatcher lists the connections and sends their turns with its two actions, and can
/// do nothing else: it reads no secret, writes no item.
#[tokio::test]
async fn the_dispatcher_sends_every_turn_with_its_own_policy_and_no_more() {
    let ((admin, _), (table, secrets)) = moto::enforced_stores(Principal::FeedSync).await;
    for i in 0..3 {
        let id = format!("d{i}").parse().unwrap();
        let mut c = xor_lever_shared::domain::Connection::new(id, "http://feed".into(), "http://xor".into(), now_ms());
        c.status = if i == 2 { ConnectionStatus::Revoked } else { ConnectionStatus::Connected };
        admin.create_connection(&c).await.unwrap();
    }
    let url = moto::enforced_sync_queue().await;
    let queue = xor_lever_shared::config::sqs_queue(&moto::sdk_as(Principal::FeedSync).await, &url);
    let r = xor_lever_shared::usecases::turns::dispatch(&table, &queue).await.unwrap();
    assert_eq!((r.sent, r.skipped.len()), (3, 1));
    let admin_sqs = aws_sdk_sqs::Client::new(&moto::sdk_as(Principal::Admin).await);
    assert_eq!(moto::drain(&admin_sqs, &url).await.len(), 3);
    let read = xor_lever_shared::domain::SecretStore::secret(&secrets, &"d0".parse().unwrap(), "xor-api-key").await;
    assert!(format!("{read:?}").contains("AccessDenied"), "{read:?}");
    let write = table.set_status(&"d0".parse().unwrap(), ConnectionStatus::Disabled).await;
    assert!(format!("{write:?}").contains("AccessDenied"), "{write:?}");
}

#[tokio::test]
async fn the_sync_worker_syncs_checks_lever_and_replays_with_its_own_policy() {
    // The sync: mappings, runs, the feed state, the XOR key.
    let app = spawn_app(StoreKind::AwsAs(Principal::SyncWorker), feed(0..5, "")).await;
    let r = app.sync().await;
    assert_eq!(r.run.summary.created, 5, "{:?}", r.run);
    assert!(!app.deps.runs.runs(&app.id, 1).await.unwrap().is_empty(), "the run is recorded");

    // The scheduled run's Lever side: a due refresh, and a delivery that waited for Lever.
    let w = spawn_webhook_app(StoreKind::AwsAs(Principal::SyncWorker)).await;
    w.lever.inject((0..3).map(|_| Fault { status: Some(503), op: Some("posting".into()), ..Default::default() }));
    // The delivery arrives through the webhook function (the operator's wiring stands in).
    let h = signed(&w, "msg_w", &body(&w.screening("cand_w")));
    let a = xor_lever_shared::usecases::webhook::receive(&w.setup, w.id.as_str(), &h.0, &h.1, now_ms() + 30_000).await;
    assert_eq!(a.delivery, Some(DeliveryStatus::Pending), "{a:?}");
    let mut t = w.setup.tokens.stored(&w.id).await.unwrap().unwrap();
    t.expires_at = 0;
    w.setup.tokens.store(&w.id, &t).await.unwrap();
    let sync = w.sync_deps();
    let handler = feed_sync_like(sync, w.deps.clone()).await;
    assert_eq!(handler.0, 1, "one Lever refresh, stored");
    assert_eq!(handler.1, 1, "the waiting delivery was replayed");
    assert_eq!(w.delivery("msg_w").await.unwrap().status, DeliveryStatus::Completed);
}

/// What the scheduled function does on the Lever side (its handler lives in its own crate):
/// the authorization check for every connection, then the sweep of waiting deliveries.
async fn feed_sync_like(sync: SyncDeps, w: xor_lever_shared::usecases::context::LeverContext) -> (u64, usize) {
    let before = now_ms();
    let all = xor_lever_shared::usecases::sync_all(&sync, &Default::default(), 2, Some(&w)).await.unwrap();
    assert!(all.skipped.is_empty(), "{:?}", all.skipped);
    let s = xor_lever_shared::usecases::webhook::retry_waiting(&w, before + 120_000, 10).await.unwrap();
    let refreshed = w.tokens.stored(&all.reports[0].run.connection).await.unwrap().unwrap();
    ((refreshed.expires_at > now_ms() / 1000) as u64, s.completed)
}

fn signed(w: &WebhookApp, id: &str, b: &[u8]) -> (xor_lever_shared::usecases::webhook::SignedHeaders, Vec<u8>) {
    let ts = now_ms() / 1000;
    let sig = xor_lever_shared::domain::webhook::WebhookSecret::parse(&w.secret).unwrap().sign(id, ts, b);
    (
        xor_lever_shared::usecases::webhook::SignedHeaders {
            id: Some(id.into()),
            timestamp: Some(ts.to_string()),
            signature: Some(sig),
        },
        b.to_vec(),
    )
}

/// Enforcement is real: what the functions are not granted is refused (the operator's CLI
/// creates secrets; the functions never could — the reason `put_secret` no longer creates).
#[tokio::test]
async fn what_the_functions_are_not_granted_is_refused() {
    for p in [Principal::Webhook, Principal::SyncWorker, Principal::FeedSync] {
        let (_, (table, secrets)) = moto::enforced_stores(p).await;
        let id = "acme".parse().unwrap();
        let create = xor_lever_shared::domain::SecretStore::create_secret(&secrets, &id, "xor-api-key", None).await;
        let Err(StoreError::Unavailable { message, .. }) = create else { panic!("{p:?}: {create:?}") };
        assert!(message.contains("AccessDenied"), "{p:?}: {message}");
        let create_table = table.create_table().await.unwrap_err().to_string();
        assert!(create_table.contains("AccessDenied"), "{p:?}: {create_table}");
    }
}
