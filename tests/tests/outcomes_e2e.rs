//! The third flow end to end (issue 25, docs/outcomes.md): Lever's events about XOR's candidates,
//! received over real HTTP from the Lever sandbox (signed as Lever signs), recorded once,
//! confirmed with Lever, sent to the XOR sandbox once and in order; a deletion erases the
//! candidate and XOR's retry of their screening creates nothing. On both stores, and on
//! DynamoDB with the functions' own IAM enforced.
use serde_json::json;
use xor_lever_sandbox::harness::{StoreKind, WebhookApp, spawn_webhook_app};
use xor_lever_sandbox::moto::Principal;
use xor_lever_sandbox::xor::Fault;
use xor_lever_shared::domain::DeliveryStatus;

/// What XOR received about candidate `cand`: (event, stage or reason).
fn received(app: &WebhookApp, cand: &str) -> Vec<(String, Option<String>)> {
    app.xor
        .candidate_events()
        .into_iter()
        .filter(|e| e["candidate_id"] == cand)
        .map(|e| {
            let word = e["stage"].as_str().or(e["reason"].as_str()).map(str::to_owned);
            (e["event"].as_str().unwrap().to_owned(), word)
        })
        .collect()
}

/// The sync worker's wiring on the app's DynamoDB table and secrets, under the worker's own IAM.
async fn worker(app: &WebhookApp) -> xor_lever_shared::usecases::context::LeverContext {
    let (table, prefix) = app.aws.clone().unwrap();
    let (t, s) = xor_lever_sandbox::moto::stores_as(Principal::SyncWorker, &table, &prefix).await;
    let mut worker = xor_lever_shared::config::lever_context_on(
        std::sync::Arc::new(t),
        std::sync::Arc::new(s),
        xor_lever_shared::config::http_client(),
    );
    worker.lever = app.deps.lever.clone();
    worker.boards = app.deps.boards.clone();
    worker
}

async fn outcomes_reach_xor_once_and_in_order(kind: StoreKind) {
    let app = spawn_webhook_app(kind).await;
    app.subscribe_lever().await;
    let opp = app.screened("cand_1").await;

    // A stage change Lever sends twice (a duplicate), then a hire (an archive for a hired reason).
    let sent = app.lever_move(&opp, json!({"to": "stage", "stage": "stage-phone", "copies": 2})).await;
    let answers: Vec<u64> = sent.iter().map(|s| s["status"].as_u64().unwrap()).collect();
    assert_eq!(answers, [200, 200], "recorded, then answered as a duplicate: {sent:?}");
    app.lever_move(&opp, json!({"to": "hire"})).await;
    let events = app.lever_events().await;
    assert_eq!(events.len(), 3, "a stage change, an archive change, a hire: {events:?}");
    assert!(events.iter().all(|e| e.status == DeliveryStatus::Pending), "Lever is answered before XOR is called");
    assert!(received(&app, "cand_1").is_empty(), "nothing reaches XOR from the request itself");

    let swept = app.sweep_with(&app.deps).await;
    assert_eq!(swept.completed, 3, "{swept:?}");
    assert_eq!(
        received(&app, "cand_1"),
        [("stage_changed".to_owned(), Some("Phone screen".to_owned())), ("hired".to_owned(), None)],
        "the stage's name as the recruiters see it; a hire once (its archive is not sent twice)"
    );
    let again = app.sweep_with(&app.deps).await;
    assert_eq!(again.replayed, 0, "{again:?}");
    assert_eq!(received(&app, "cand_1").len(), 2, "each event once");
    let link = app.deps.candidates.link(&app.id, &opp).await.unwrap().unwrap();
    assert_eq!(link.outcome.as_deref(), Some("hired"), "the candidate's latest outcome is kept for the section");

    // The section page shows it beside the candidate, and that Lever's events arrive.
    let link = xor_lever_shared::usecases::section::access::page_link(&app.setup, &app.url, &app.id, 7).await.unwrap();
    let v = xor_lever_sandbox::visitor::Visitor::new();
    let first = v.get(&link).await.unwrap();
    let page = v.get(&first.location.unwrap()).await.unwrap().body;
    assert!(page.contains("In Lever: hired"), "{page}");
    assert!(page.contains("Lever's events are arriving"), "{page}");
    assert_eq!(page.matches("Open in Lever").count(), 1, "Lever's events are not listed as candidates");
}

#[tokio::test]
async fn outcomes_reach_xor_once_and_in_order_on_sqlite() {
    outcomes_reach_xor_once_and_in_order(StoreKind::Sqlite).await;
}

#[tokio::test]
async fn outcomes_reach_xor_once_and_in_order_on_memory() {
    outcomes_reach_xor_once_and_in_order(StoreKind::Memory).await;
}

/// On DynamoDB and Secrets Manager with the functions' own policies enforced: the webhook
/// function receives and records, the sync worker (whose turn runs the sweep) forwards.
#[tokio::test]
async fn outcomes_flow_under_the_functions_own_iam() {
    let app = spawn_webhook_app(StoreKind::AwsAs(Principal::Webhook)).await;
    app.subscribe_lever().await;
    let opp = app.screened("cand_1").await;
    app.lever_move(&opp, json!({"to": "archive", "reason": "reason-withdrew"})).await;
    assert_eq!(app.lever_events().await.len(), 1);
    let worker = worker(&app).await;
    let swept = app.sweep_with(&worker).await;
    assert_eq!(swept.completed, 1, "{swept:?}");
    assert_eq!(received(&app, "cand_1"), [("archived".to_owned(), Some("Withdrew".to_owned()))]);

    // And a deletion, erased by the worker.
    let opp2 = app.screened("cand_2").await;
    app.lever_move(&opp2, json!({"to": "delete"})).await;
    let swept = app.sweep_with(&worker).await;
    assert_eq!(swept.completed, 1, "{swept:?}");
    assert_eq!(received(&app, "cand_2"), [("deleted".to_owned(), None)]);
    assert!(app.delivery("msg_cand_2").await.unwrap().body.is_empty(), "the screening's body is erased");
}

/// 20 copies of one delivery at once: one record, one event at XOR.
#[tokio::test]
async fn twenty_concurrent_copies_are_one_event() {
    let app = spawn_webhook_app(StoreKind::Sqlite).await;
    app.subscribe_lever().await;
    let opp = app.screened("cand_1").await;
    let sent = app.lever_move(&opp, json!({"to": "stage", "stage": "stage-onsite"})).await;
    let body = sent[0]["body"].clone();
    let copies = futures::future::join_all((0..20).map(|_| app.post_lever(&body))).await;
    assert!(copies.iter().all(|(st, _)| *st == 200), "{copies:?}");
    assert_eq!(app.lever_events().await.len(), 1);
    app.sweep_with(&app.deps).await;
    assert_eq!(received(&app, "cand_1"), [("stage_changed".to_owned(), Some("On-site".to_owned()))]);
}

/// What is not Lever's, or not believed, is refused and nothing is stored; what is Lever's but
/// about someone XOR never screened is acknowledged and dropped.
#[tokio::test]
async fn forged_stale_replayed_and_foreign_events_are_not_stored() {
    let app = spawn_webhook_app(StoreKind::Sqlite).await;
    app.subscribe_lever().await;
    let opp = app.screened("cand_1").await;
    let other_candidate = app.screened("cand_2").await;
    let sent = app.lever_move(&opp, json!({"to": "stage", "stage": "stage-phone"})).await;
    let real = sent[0]["body"].clone();
    assert_eq!(app.lever_events().await.len(), 1);

    // The same token with another of XOR's candidates in `data` (the signature does not cover
    // it). (One naming a candidate XOR did not screen is dropped as any such event is.)
    let mut replayed = real.clone();
    replayed["data"]["opportunityId"] = json!(other_candidate);
    assert_eq!(app.post_lever(&replayed).await.0, 409);
    // A signature from another key.
    let mut forged = real.clone();
    forged["token"] = json!("f".repeat(48));
    assert_eq!(app.post_lever(&forged).await.0, 401);
    // Lever's own signature of a delivery from yesterday.
    let mut stale = real.clone();
    stale["triggeredAt"] = json!(real["triggeredAt"].as_i64().unwrap() - 24 * 3600 * 1000);
    assert_eq!(app.post_lever(&stale).await.0, 401);
    // Not a delivery at all, and an unknown connection.
    assert_eq!(app.post_lever(&json!({"hello": "world"})).await.0, 400);
    let other =
        reqwest::Client::new().post(format!("{}/webhooks/lever/nobody", app.url)).json(&real).send().await.unwrap();
    assert_eq!(other.status().as_u16(), 404);
    assert_eq!(app.lever_events().await.len(), 1, "nothing more stored");

    // Lever's real event about a candidate XOR never screened: 200, dropped.
    let sent = reqwest::Client::new()
        .post(format!("{}/_sandbox/events", app.lever.url))
        .json(&json!({"event": "candidateStageChange", "data": {"opportunityId": "opp_not_xors", "toStageId": "stage-phone"}}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(sent["sent"][0]["status"], 200, "{sent}");
    assert_eq!(app.lever_events().await.len(), 1, "not stored");
}

/// XOR down: the event waits (`pending`), the next sweep sends it, once.
#[tokio::test]
async fn with_xor_down_the_event_waits_and_is_sent_once_later() {
    let app = spawn_webhook_app(StoreKind::Sqlite).await;
    app.subscribe_lever().await;
    let opp = app.screened("cand_1").await;
    app.lever_move(&opp, json!({"to": "stage", "stage": "stage-phone"})).await;
    let down = Fault { status: Some(503), op: Some("candidate_event".into()), ..Fault::default() };
    app.xor.inject(vec![down; 3]);
    let swept = app.sweep_with(&app.deps).await;
    assert_eq!((swept.completed, swept.still_waiting), (0, 1), "{swept:?}");
    let waiting = app.lever_events().await;
    assert_eq!(waiting[0].status, DeliveryStatus::Pending, "{:?}", waiting[0].reason);
    assert!(received(&app, "cand_1").is_empty());
    let swept = app.sweep_with(&app.deps).await;
    assert_eq!(swept.completed, 1, "{swept:?}");
    assert_eq!(received(&app, "cand_1").len(), 1);
}

/// A deletion Lever confirms erases the candidate; a deletion it does not confirm (the
/// opportunity is still there: a forged `data`) erases nothing and is kept `failed`; XOR's
/// late retry of an erased candidate's screening creates nothing in Lever.
#[tokio::test]
async fn a_deleted_candidate_is_erased_and_never_created_again() {
    let app = spawn_webhook_app(StoreKind::Sqlite).await;
    app.subscribe_lever().await;
    let keep = app.screened("cand_keep").await;
    let gone = app.screened("cand_gone").await;

    // A deletion event for the one Lever still has: refused at the sweep.
    let r = reqwest::Client::new()
        .post(format!("{}/_sandbox/events", app.lever.url))
        .json(&json!({"event": "candidateDeleted", "data": {"opportunityId": keep}}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    app.lever_move(&gone, json!({"to": "delete"})).await;
    let swept = app.sweep_with(&app.deps).await;
    assert_eq!((swept.completed, swept.failed), (1, 1), "{swept:?}");
    assert!(
        !app.delivery("msg_cand_keep").await.unwrap().body.is_empty(),
        "nothing erased on Lever's unconfirmed word"
    );
    assert!(received(&app, "cand_keep").is_empty());
    assert_eq!(received(&app, "cand_gone"), [("deleted".to_owned(), None)]);
    let erased = app.delivery("msg_cand_gone").await.unwrap();
    assert!(erased.body.is_empty(), "the raw body (name, email, answers) is gone");
    assert_eq!(erased.status, DeliveryStatus::Completed, "the record itself stays (idempotency)");

    // XOR retries the screening with a new delivery id: nothing is created, nothing kept.
    let before = app.lever.opportunities().len();
    let body = serde_json::to_vec(&app.screening("cand_gone")).unwrap();
    let (st, answer, _) = app.deliver("msg_cand_gone_retry", &body).await;
    assert_eq!(st, 200, "{answer}");
    assert_eq!(answer["status"], "erased");
    assert_eq!(app.lever.opportunities().len(), before, "not created again");
    assert!(app.delivery("msg_cand_gone_retry").await.unwrap().body.is_empty(), "its body is not kept either");
}

/// Disabling from the Lever section stops Lever's events: the app's webhooks are deleted in
/// Lever and their tokens forgotten, so even a delivery already on its way is refused.
#[tokio::test]
async fn disabling_removes_lever_s_webhooks_and_forgets_their_tokens() {
    let app = spawn_webhook_app(StoreKind::Sqlite).await;
    app.subscribe_lever().await;
    let opp = app.screened("cand_1").await;
    let sent = app.lever_move(&opp, json!({"to": "stage", "stage": "stage-phone"})).await;
    let in_flight = sent[0]["body"].clone();
    assert_eq!(app.post_lever(&in_flight).await.0, 200, "a duplicate while subscribed");
    assert_eq!(app.lever.registered_webhooks().len(), 4);

    let link = xor_lever_shared::usecases::section::access::page_link(&app.setup, &app.url, &app.id, 7).await.unwrap();
    let v = xor_lever_sandbox::visitor::Visitor::new();
    let page = v.follow(&link).await.unwrap();
    let page = v.submit(&page, &format!("/connections/{}/disable", app.id), &[]).await.unwrap();
    assert!(page.body.contains("isabled"), "{}", page.body);
    assert!(app.lever.registered_webhooks().is_empty(), "{:?}", app.lever.registered_webhooks());
    let kept = xor_lever_shared::usecases::connect::subscribe::stored(&app.setup, &app.id).await.unwrap();
    assert!(kept.is_empty(), "tokens forgotten: {kept:?}");
    // Lever's retry of a delivery sent before: a duplicate while subscribed, refused after.
    assert_eq!(app.post_lever(&in_flight).await.0, 401, "no signature token is believed any more");
}

/// A finished screening's raw body goes after `BodyRetentionDays` (30 by default), removed by
/// the connection's sweep; the record stays (its own TTL), and a recent one keeps its body.
async fn bodies_go_after_their_retention(kind: StoreKind) {
    let app = spawn_webhook_app(kind).await;
    // The sweep runs in the sync worker: on DynamoDB, under its own IAM (on the app's clock).
    let sweeper = match app.aws.clone() {
        Some(_) => {
            let mut w = worker(&app).await;
            w.set_clock(app.deps.clock.clone());
            w
        }
        None => app.deps.clone(),
    };
    app.screened("cand_old").await;
    app.skew_ms.store(20 * 24 * 3600 * 1000, std::sync::atomic::Ordering::SeqCst);
    app.screened("cand_new").await;
    app.sweep_with(&sweeper).await;
    assert!(!app.delivery("msg_cand_old").await.unwrap().body.is_empty(), "20 days: kept");
    app.skew_ms.store(31 * 24 * 3600 * 1000, std::sync::atomic::Ordering::SeqCst);
    app.sweep_with(&sweeper).await;
    let old = app.delivery("msg_cand_old").await.unwrap();
    assert!(old.body.is_empty(), "31 days: the body is gone");
    assert_eq!(old.status, DeliveryStatus::Completed, "the record stays");
    assert!(!app.delivery("msg_cand_new").await.unwrap().body.is_empty(), "11 days: kept");
}

#[tokio::test]
async fn bodies_go_after_their_retention_on_sqlite() {
    bodies_go_after_their_retention(StoreKind::Sqlite).await;
}

#[tokio::test]
async fn bodies_go_after_their_retention_on_dynamodb() {
    bodies_go_after_their_retention(StoreKind::AwsAs(Principal::Webhook)).await;
}

/// Without Lever's archive reasons a hire cannot be told from another archive: the event waits
/// (it is never sent as something else, nor dropped), and goes once Lever answers.
#[tokio::test]
async fn a_hire_waits_while_lever_s_archive_reasons_cannot_be_read() {
    let app = spawn_webhook_app(StoreKind::Sqlite).await;
    app.subscribe_lever().await;
    let opp = app.screened("cand_1").await;
    app.lever_move(&opp, json!({"to": "hire"})).await;
    let down =
        xor_lever_sandbox::lever::Fault { status: Some(503), op: Some("archive_reasons".into()), ..Default::default() };
    app.lever.inject(vec![down; 3]);
    let swept = app.sweep_with(&app.deps).await;
    assert_eq!(swept.completed, 0, "{swept:?}");
    assert!(received(&app, "cand_1").is_empty(), "nothing sent as something else");
    let swept = app.sweep_with(&app.deps).await;
    assert_eq!(swept.completed, 2, "{swept:?}");
    assert_eq!(received(&app, "cand_1"), [("hired".to_owned(), None)], "once, from whichever event");
}
