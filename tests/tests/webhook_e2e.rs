//! The webhook over real HTTP: the router on loopback, the Lever sandbox, and each store.
//! Every row of docs/webhook.md's outcomes table, the exactly-once cases, and the token cases.
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use xor_lever_sandbox::harness::{
    StoreKind, WebhookApp, pdf_text, spawn_webhook_app, spawn_webhook_app_with, spawn_webhook_app_within,
};
use xor_lever_sandbox::lever::{ADMIN_USER, Config, Fault, POSTING_OWNER};
use xor_lever_shared::domain::DeliveryStatus;
use xor_lever_shared::domain::ports::LEVER_TOKENS;

fn body(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// Sends until XOR would stop retrying (a 2xx), like XOR's retry loop but without waiting.
async fn deliver_until_2xx(app: &WebhookApp, id: &str, b: &[u8]) -> serde_json::Value {
    // Bounded, and generous: on a loaded CI machine a claim can stay busy for seconds.
    for _ in 0..500 {
        let (st, v, _) = app.deliver(id, b).await;
        if (200..300).contains(&st) {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no 2xx for {id}");
}

async fn success(kind: StoreKind) {
    let app = spawn_webhook_app(kind).await;
    let (st, v, _) = app.deliver("msg_1", &body(&app.screening("cand_1"))).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "completed");
    let opp_id = v["opportunity_id"].as_str().unwrap().to_owned();
    let opps = app.lever.opportunities();
    assert_eq!(opps.len(), 1);
    let o = &opps[0];
    assert_eq!(o.id, opp_id);
    assert_eq!(o.sources, ["XOR"]);
    assert_eq!(o.postings, [app.posting.clone()]);
    assert_eq!(o.tags, ["xor"]);
    assert_eq!(o.origin.as_deref(), Some("sourced"));
    assert_eq!(o.emails, ["cand_1@example.com"]);
    // Owned by the posting's owner (a recruiter); followed by the user it was created as (Lever:
    // "The Opportunity creator will always be added as a follower").
    assert_eq!((o.owner.as_str(), o.followers.as_slice()), (POSTING_OWNER, &[ADMIN_USER.to_owned()][..]));
    assert_eq!(o.name, "Ada Lovelace");
    assert_eq!(o.headline, None, "the contact's headline is theirs, not a place for a score");
    assert_eq!(o.stage, xor_lever_sandbox::lever::DEFAULT_STAGE);
    assert_eq!(o.files.len(), 1, "the report under files (no resume was offered)");
    assert_eq!(o.files[0].field, "files", "one file: `files`, as Lever's reference names it");
    assert_eq!(
        (o.files[0].name.as_str(), o.files[0].content_type.as_str()),
        ("xor-screening-report.pdf", "application/pdf")
    );
    assert!(o.resumes.is_empty());
    // What a recruiter reads without opening the PDF.
    assert_eq!(o.notes.len(), 1);
    let note = &o.notes[0].value;
    for part in [
        "XOR screening passed for Senior Backend Engineer (Rust) — score 87/100",
        "Five years of Rust; available from January.",
        "- Are you authorised to work in the UK?\n  Yes",
        "Transcript: https://app.xor.ai/c/cand_1",
        "xor-screening-report.pdf",
    ] {
        assert!(note.contains(part), "{part:?} missing from the note:\n{note}");
    }
    assert!(!note.contains("cand_1@example.com"), "no contact details in the note");
    let d = app.delivery("msg_1").await.unwrap();
    assert_eq!((d.status, d.opportunity_id.as_deref()), (DeliveryStatus::Completed, Some(opp_id.as_str())));
}

#[tokio::test]
async fn success_creates_one_opportunity_memory() {
    success(StoreKind::Memory).await;
}
#[tokio::test]
async fn success_creates_one_opportunity_sqlite() {
    success(StoreKind::Sqlite).await;
}
#[tokio::test]
async fn success_creates_one_opportunity_dynamodb() {
    success(StoreKind::Aws).await;
}

#[tokio::test]
async fn bad_signatures_and_unknown_connections_store_nothing() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let b = body(&app.screening("cand_1"));
    let now = xor_lever_shared::usecases::now_ms() / 1000;
    let sign = |ts: i64, b: &[u8]| {
        xor_lever_shared::domain::webhook::WebhookSecret::parse(&app.secret).unwrap().sign("m", ts, b)
    };
    let other =
        xor_lever_shared::domain::webhook::WebhookSecret::parse(&xor_lever_shared::random::webhook_secret()).unwrap();
    let cases: Vec<(&str, String, String, Vec<u8>)> = vec![
        ("wrong secret", now.to_string(), other.sign("m", now, &b), b.clone()),
        ("stale", (now - 400).to_string(), sign(now - 400, &b), b.clone()),
        ("future", (now + 400).to_string(), sign(now + 400, &b), b.clone()),
        ("tampered", now.to_string(), sign(now, &b), [&b[..], b" "].concat()),
        ("no signature", now.to_string(), String::new(), b.clone()),
    ];
    for (name, ts, sig, payload) in cases {
        let (st, _, _) = app.post("m", &ts, &sig, &payload).await;
        assert_eq!(st, 401, "{name}");
    }
    let (st, _, _) = app.post_to("nobody-here", "m", &now.to_string(), &sign(now, &b), &b).await;
    assert_eq!(st, 404);
    let all = xor_lever_shared::usecases::webhook::list_deliveries(&app.deps, None, None, 10).await.unwrap();
    assert!(all.is_empty(), "nothing stored");
    assert!(app.lever.opportunities().is_empty());
}

#[tokio::test]
async fn a_webhook_signed_with_another_connections_secret_is_refused() {
    let a = spawn_webhook_app(StoreKind::Memory).await;
    let b = spawn_webhook_app(StoreKind::Memory).await;
    let payload = body(&a.screening("cand_1"));
    let ts = xor_lever_shared::usecases::now_ms() / 1000;
    let sig = xor_lever_shared::domain::webhook::WebhookSecret::parse(&b.secret).unwrap().sign("m1", ts, &payload);
    let (st, _, _) = a.post("m1", &ts.to_string(), &sig, &payload).await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn not_json_or_not_the_contract_is_400_and_kept_raw() {
    let app = spawn_webhook_app(StoreKind::Sqlite).await;
    let (st, v, _) = app.deliver("msg_bad", b"this is not json").await;
    assert_eq!(st, 400);
    assert!(v["reason"].as_str().unwrap().contains("JSON"));
    let d = app.delivery("msg_bad").await.unwrap();
    assert_eq!((d.status, d.body.as_slice()), (DeliveryStatus::Rejected, &b"this is not json"[..]));
    let (st, _, _) = app.deliver("msg_shape", br#"{"type":"candidate.screening_passed","data":{"job_id":"x"}}"#).await;
    assert_eq!(st, 400);
    assert_eq!(app.delivery("msg_shape").await.unwrap().status, DeliveryStatus::Rejected);
}

#[tokio::test]
async fn other_event_types_are_acknowledged_and_ignored() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let (st, v, _) = app.deliver("msg_o", br#"{"type":"candidate.created","data":{}}"#).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("ignored")));
    assert!(app.delivery("msg_o").await.is_none(), "nothing stored");
}

#[tokio::test]
async fn duplicates_and_the_same_screening_twice_make_one_opportunity() {
    let app = spawn_webhook_app(StoreKind::Aws).await;
    let b = body(&app.screening("cand_1"));
    let (_, first, _) = app.deliver("msg_1", &b).await;
    let (st, again, _) = app.deliver("msg_1", &b).await;
    assert_eq!(st, 200);
    assert_eq!(again["opportunity_id"], first["opportunity_id"], "the first result");
    assert_eq!(again["duplicate"], true);
    // The same screening under another webhook id.
    let (st, other, _) = app.deliver("msg_2", &b).await;
    assert_eq!(st, 200);
    assert_eq!(other["opportunity_id"], first["opportunity_id"]);
    assert_eq!(app.lever.opportunities().len(), 1);
}

async fn twenty_concurrent(kind: StoreKind) {
    let app = Arc::new(spawn_webhook_app(kind).await);
    let b = Arc::new(body(&app.screening("cand_1")));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, b) = (app.clone(), b.clone());
            tokio::spawn(async move { deliver_until_2xx(&app, "msg_same", &b).await })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap()["opportunity_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "every delivery got the same opportunity");
    assert_eq!(app.lever.opportunities().len(), 1, "exactly one opportunity in Lever");
}

/// 50 screenings, each delivered 10 times at once (5 under its webhook id, 5 under new ones):
/// 500 concurrent requests, 50 opportunities.
#[tokio::test(flavor = "multi_thread")]
async fn fifty_screenings_delivered_ten_times_each_at_once_make_fifty_opportunities() {
    let app = Arc::new(spawn_webhook_app(StoreKind::Sqlite).await);
    let tasks: Vec<_> = (0..50)
        .flat_map(|i| (0..10).map(move |k| (i, k)))
        .map(|(i, k)| {
            let app = app.clone();
            tokio::spawn(async move {
                let b = body(&app.screening(&format!("cand_{i}")));
                let id = if k < 5 { format!("msg_{i}") } else { format!("msg_{i}_{k}") };
                let v = deliver_until_2xx(&app, &id, &b).await;
                (i, v["opportunity_id"].as_str().unwrap().to_owned())
            })
        })
        .collect();
    let mut per: std::collections::HashMap<i32, std::collections::HashSet<String>> = Default::default();
    for t in tasks {
        let (i, opp) = t.await.unwrap();
        per.entry(i).or_default().insert(opp);
    }
    assert!(per.values().all(|s| s.len() == 1), "each screening's deliveries got one opportunity");
    assert_eq!(app.lever.opportunities().len(), 50, "exactly one opportunity per screening");
}

#[tokio::test]
async fn twenty_concurrent_deliveries_make_exactly_one_opportunity_sqlite() {
    twenty_concurrent(StoreKind::Sqlite).await;
}
#[tokio::test]
async fn twenty_concurrent_deliveries_make_exactly_one_opportunity_dynamodb() {
    twenty_concurrent(StoreKind::Aws).await;
}

#[tokio::test]
async fn a_crash_between_create_and_complete_is_adopted_on_retry() {
    let crash = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let c = crash.clone();
    let app = spawn_webhook_app_with(StoreKind::Aws, move |d| {
        d.crash_at = Some(Arc::new(move |point| point == "before_complete" && c.swap(false, Ordering::SeqCst)));
    })
    .await;
    let b = body(&app.screening("cand_1"));
    let (st, _, ra) = app.deliver("msg_1", &b).await;
    assert_eq!(st, 409, "the crashed attempt never answered 200");
    assert!(ra.is_some());
    assert_eq!(app.lever.opportunities().len(), 1, "Lever did create it");
    assert_eq!(app.delivery("msg_1").await.unwrap().status, DeliveryStatus::Received);
    // Within the lease, a retry waits; after it, the retry looks in Lever and adopts.
    let (st, _, _) = app.deliver("msg_1", &b).await;
    assert_eq!(st, 409);
    app.skew_ms.store(60_000, Ordering::SeqCst);
    let (st, v, _) = app.deliver("msg_1", &b).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["opportunity_id"].as_str(), Some(app.lever.opportunities()[0].id.as_str()));
    assert_eq!(app.lever.opportunities().len(), 1, "adopted, no duplicate");
}

#[tokio::test]
async fn failures_are_200_recorded_and_replayable() {
    let app = spawn_webhook_app(StoreKind::Sqlite).await;
    // Unknown job.
    let mut unknown = app.screening("cand_u");
    unknown["data"]["job_id"] = "xj_nope".into();
    let (st, v, _) = app.deliver("msg_u", &body(&unknown)).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("failed")));
    assert!(v["reason"].as_str().unwrap().contains("unknown XOR job xj_nope"));
    // No email and no phone.
    let mut nocontact = app.screening("cand_n");
    nocontact["data"]["candidate"]["email"] = serde_json::Value::Null;
    nocontact["data"]["candidate"]["phone"] = serde_json::Value::Null;
    let (st, v, _) = app.deliver("msg_n", &body(&nocontact)).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("failed")));
    assert!(v["reason"].as_str().unwrap().contains("neither an email nor a phone"));
    // A Lever 4xx on create.
    app.lever.inject([Fault { status: Some(422), op: Some("create".into()), ..Default::default() }]);
    let (st, v, _) = app.deliver("msg_4", &body(&app.screening("cand_4"))).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("failed")));
    assert!(v["reason"].as_str().unwrap().contains("HTTP 422"), "{v}");
    assert!(app.lever.opportunities().is_empty());
    // Recorded, and a replay after the cause is fixed succeeds.
    let failed = app.deps.webhooks.deliveries(&app.id, DeliveryStatus::Failed, 10, None).await.unwrap().items;
    assert_eq!(failed.len(), 3);
    let a = xor_lever_shared::usecases::webhook::replay(
        &app.deps,
        &app.id,
        "msg_4",
        xor_lever_shared::usecases::now_ms() + 30_000,
    )
    .await
    .unwrap();
    assert_eq!(a.reply, xor_lever_shared::usecases::webhook::Reply::Accepted);
    assert_eq!(app.lever.opportunities().len(), 1);
    assert_eq!(app.delivery("msg_4").await.unwrap().status, DeliveryStatus::Completed);
}

#[tokio::test]
async fn a_closed_posting_fails_clearly() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    app.lever.add_posting(&app.posting, "Senior Backend Engineer (Rust)", "closed");
    let (st, v, _) = app.deliver("msg_c", &body(&app.screening("cand_c"))).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("failed")));
    assert!(v["reason"].as_str().unwrap().contains("is closed in Lever"), "{v}");
}

#[tokio::test]
async fn lever_down_is_pending_then_a_replay_creates_exactly_one() {
    let app = spawn_webhook_app(StoreKind::Aws).await;
    // One attempt reads the posting with 3 tries (the harness's retry policy): all answer 503.
    app.lever.inject((0..3).map(|_| Fault { status: Some(503), op: Some("posting".into()), ..Default::default() }));
    let b = body(&app.screening("cand_1"));
    let (st, v, ra) = app.deliver("msg_1", &b).await;
    assert_eq!((st, v["status"].as_str()), (503, Some("pending")), "{v}");
    assert_eq!(ra.as_deref(), Some("60"));
    assert_eq!(app.delivery("msg_1").await.unwrap().status, DeliveryStatus::Pending);
    assert_eq!(app.lever.stats().faults_served, 3);
    assert!(app.lever.opportunities().is_empty());
    // Lever is back; the scheduled function (or XOR's retry) replays it.
    let pending = app.deps.webhooks.deliveries(&app.id, DeliveryStatus::Pending, 10, None).await.unwrap().items;
    assert_eq!(pending.len(), 1);
    let a = xor_lever_shared::usecases::webhook::replay(
        &app.deps,
        &app.id,
        "msg_1",
        xor_lever_shared::usecases::now_ms() + 30_000,
    )
    .await
    .unwrap();
    assert_eq!(a.reply, xor_lever_shared::usecases::webhook::Reply::Accepted, "{a:?}");
    let (st, _, _) = app.deliver("msg_1", &b).await;
    assert_eq!(st, 200, "XOR's own retry now gets the result");
    assert_eq!(app.lever.opportunities().len(), 1);
}

#[tokio::test]
async fn twenty_concurrent_requests_with_an_expired_token_refresh_once() {
    let app = Arc::new(spawn_webhook_app(StoreKind::Aws).await);
    // The stored token is past its expiry, and Lever no longer accepts it either.
    let mut t = app.deps.tokens.stored(&app.id).await.unwrap().unwrap();
    t.expires_at = 0;
    app.deps.tokens.store(&app.id, &t).await.unwrap();
    app.lever.expire_access_tokens();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                deliver_until_2xx(&app, &format!("msg_{i}"), &body(&app.screening(&format!("cand_{i}")))).await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap()["status"], "completed");
    }
    assert_eq!(app.lever.stats().refreshes, 1, "exactly one refresh at Lever");
    assert_eq!(app.lever.opportunities().len(), 20);
    let stored = app.deps.tokens.stored(&app.id).await.unwrap().unwrap();
    assert!(stored.expires_at > xor_lever_shared::usecases::now_ms() / 1000, "the new pair was stored");
}

#[tokio::test]
async fn a_revoked_app_waits_as_pending_reauth_without_a_refresh_loop() {
    let app = spawn_webhook_app(StoreKind::Sqlite).await;
    app.lever.revoke();
    let (st, v, _) = app.deliver("msg_1", &body(&app.screening("cand_1"))).await;
    assert_eq!((st, v["status"].as_str()), (503, Some("pending_reauth")), "{v}");
    let conn = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
    assert_eq!(conn.status, xor_lever_shared::domain::ConnectionStatus::Revoked);
    let refresh_attempts = app.lever.stats().refresh_failures;
    assert_eq!(refresh_attempts, 1);
    for i in 2..6 {
        let (st, _, _) = app.deliver(&format!("msg_{i}"), &body(&app.screening(&format!("cand_{i}")))).await;
        assert_eq!(st, 503);
    }
    assert_eq!(app.lever.stats().refresh_failures, 1, "no refresh loop");
    assert_eq!(
        app.deps.webhooks.deliveries(&app.id, DeliveryStatus::PendingReauth, 10, None).await.unwrap().items.len(),
        5
    );
}

/// A secret store whose token reads fail, as when Secrets Manager is down.
fn secrets_down(inner: Arc<dyn xor_lever_shared::domain::SecretStore>) -> xor_lever_sandbox::harness::WatchedSecrets {
    xor_lever_sandbox::harness::WatchedSecrets {
        inner,
        on_read: Arc::new(|kind| match kind {
            LEVER_TOKENS => {
                Err(xor_lever_shared::domain::StoreError::unavailable_because("get secret", "ServiceUnavailable"))
            }
            _ => Ok(()),
        }),
    }
}

#[tokio::test]
async fn secrets_manager_down_is_pending_with_retry_after() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let mut deps = app.deps.clone();
    let down: Arc<dyn xor_lever_shared::domain::SecretStore> = Arc::new(secrets_down(deps.secrets.clone()));
    deps.tokens = Arc::new(xor_lever_shared::usecases::tokens::TokenProvider::new(
        down,
        Arc::new(xor_lever_shared::adapters::memory::MemoryStore::new()),
        deps.connections.clone(),
        xor_lever_shared::usecases::system_clock(),
    ));
    let b = body(&app.screening("cand_1"));
    let ts = xor_lever_shared::usecases::now_ms() / 1000;
    let sig = xor_lever_shared::domain::webhook::WebhookSecret::parse(&app.secret).unwrap().sign("msg_1", ts, &b);
    let h = xor_lever_shared::usecases::webhook::SignedHeaders {
        id: Some("msg_1".into()),
        timestamp: Some(ts.to_string()),
        signature: Some(sig),
    };
    let a = xor_lever_shared::usecases::webhook::receive(
        &deps,
        app.id.as_str(),
        &h,
        &b,
        xor_lever_shared::usecases::now_ms() + 30_000,
    )
    .await;
    assert_eq!(
        (xor_lever_shared::http::status_of(a.reply).as_u16(), a.body["status"].as_str(), a.retry_after),
        (503, Some("pending"), Some(60)),
        "{a:?}"
    );
    assert_eq!(app.delivery("msg_1").await.unwrap().status, DeliveryStatus::Pending);
}

#[tokio::test]
async fn the_resume_is_attached_and_an_expired_one_never_blocks() {
    use axum::routing::get;
    let files = axum::Router::new()
        .route("/r/ok.pdf", get(|| async { ([("content-type", "application/pdf")], b"%PDF-1.4 resume".to_vec()) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let base = format!("http://{host}");
    tokio::spawn(async move { axum::serve(listener, files).await.unwrap() });
    // XOR's file host, as a deployment lists it (XOR_LEVER_RESUME_HOSTS).
    let hosts = xor_lever_shared::config::ResumeHosts::parse(&host).unwrap();
    let app =
        spawn_webhook_app_with(StoreKind::Memory, |d| d.files = xor_lever_shared::config::resume_fetcher(hosts)).await;

    let mut ok = app.screening("cand_r1");
    ok["data"]["candidate"]["resume_url"] = format!("{base}/r/ok.pdf").into();
    let (st, _, _) = app.deliver("msg_r1", &body(&ok)).await;
    assert_eq!(st, 200);
    let mut gone = app.screening("cand_r2");
    gone["data"]["candidate"]["resume_url"] = format!("{base}/r/expired.pdf").into();
    let (st, _, _) = app.deliver("msg_r2", &body(&gone)).await;
    assert_eq!(st, 200, "an expired resume never blocks the candidate");

    let opps = app.lever.opportunities();
    let with = opps.iter().find(|o| o.emails == ["cand_r1@example.com"]).unwrap();
    assert_eq!(with.files.len(), 1, "the report under files");
    assert_eq!(with.resumes.len(), 1, "the resume under resumeFile");
    assert_eq!((with.resumes[0].name.as_str(), with.resumes[0].bytes.as_slice()), ("ok.pdf", &b"%PDF-1.4 resume"[..]));
    let without = opps.iter().find(|o| o.emails == ["cand_r2@example.com"]).unwrap();
    assert_eq!((without.files.len(), without.resumes.len()), (1, 0));
    let text = pdf_text(&without.files[0].bytes);
    assert!(text.contains("Resume: not attached (could not be downloaded)"), "{text}");
    assert!(!text.contains("404"), "no network detail in the recruiter's PDF: {text}");
    let text = pdf_text(&with.files[0].bytes);
    for part in [
        "Ada Lovelace",
        "Senior Backend Engineer (Rust)",
        "87 / 100",
        "Are you authorised to work in the UK?",
        "Yes",
        "https://app.xor.ai/c/cand_r1",
        "2026-11-26T11:58:12Z",
        "Resume: attached (ok.pdf)",
    ] {
        assert!(text.contains(part), "{part:?} missing from the report:\n{text}");
    }
}

#[tokio::test]
async fn a_body_over_256_kb_is_refused() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let big = vec![b' '; 300 * 1024];
    let (st, _, _) = app.deliver("msg_big", &big).await;
    assert_eq!(st, 413);
}

/// Two Lambda instances (two token providers, no shared memory) sharing DynamoDB and Secrets
/// Manager: the lease lets exactly one of them refresh.
#[tokio::test]
async fn two_instances_refresh_once_between_them() {
    use xor_lever_shared::usecases::tokens::TokenProvider;
    let app = spawn_webhook_app(StoreKind::Aws).await;
    let mut t = app.deps.tokens.stored(&app.id).await.unwrap().unwrap();
    t.expires_at = 0;
    app.deps.tokens.store(&app.id, &t).await.unwrap();
    let conn = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
    let leases = moto_leases(&app).await;
    let clock = xor_lever_shared::usecases::system_clock();
    let a = Arc::new(TokenProvider::new(
        app.deps.secrets.clone(),
        leases.clone(),
        app.deps.connections.clone(),
        clock.clone(),
    ));
    let b = Arc::new(TokenProvider::new(app.deps.secrets.clone(), leases, app.deps.connections.clone(), clock));
    let lever = app.deps.lever_for(&conn);
    let deadline = xor_lever_shared::usecases::now_ms() + 60_000;
    let calls = (0..10).flat_map(|_| [a.clone(), b.clone()]).map(|p| {
        let (conn, lever) = (conn.clone(), lever.clone());
        tokio::spawn(async move { p.access_token(&conn, &*lever, deadline).await.map(|t| t.expose().to_owned()) })
    });
    let tokens: std::collections::HashSet<String> =
        futures::future::join_all(calls).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert_eq!(tokens.len(), 1, "everyone uses the one new token");
    assert_eq!(app.lever.stats().refreshes, 1);
}

async fn moto_leases(_app: &WebhookApp) -> Arc<dyn xor_lever_shared::domain::LeaseStore> {
    Arc::new(xor_lever_sandbox::moto::dynamo_store().await)
}

/// The first instance takes the refresh lease, then stalls (its request reaches Lever late) past
/// the lease; the second takes the lease over and refreshes. Lever then refuses the first one's
/// (already spent) refresh token: it must pick up the pair the second stored — not mark a
/// healthy connection revoked.
#[tokio::test]
async fn an_instance_slow_past_its_lease_never_marks_the_connection_revoked() {
    use xor_lever_shared::usecases::tokens::TokenProvider;
    let app = spawn_webhook_app(StoreKind::Aws).await;
    let mut t = app.deps.tokens.stored(&app.id).await.unwrap().unwrap();
    t.expires_at = 0;
    app.deps.tokens.store(&app.id, &t).await.unwrap();
    let conn = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
    let lever = app.deps.lever_for(&conn);
    let leases = moto_leases(&app).await;
    let provider = |clock| {
        Arc::new(TokenProvider::new(app.deps.secrets.clone(), leases.clone(), app.deps.connections.clone(), clock))
    };
    let a = provider(xor_lever_shared::usecases::system_clock());
    let lease_ms = a.refresh_worst_case(&*lever).as_millis() as i64;
    // B's clock runs past A's lease: to B, A's lease has ended.
    let b = provider(Arc::new(move || xor_lever_shared::usecases::now_ms() + lease_ms + 1_000));
    app.lever.inject([Fault { op: Some("token".into()), delay_ms: Some(1_500), ..Default::default() }]);
    let deadline = xor_lever_shared::usecases::now_ms() + 120_000;
    let first = {
        let (a, conn, lever) = (a.clone(), conn.clone(), lever.clone());
        tokio::spawn(async move { a.access_token(&conn, &*lever, deadline).await })
    };
    // A is now waiting on Lever with the old refresh token.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = b.access_token(&conn, &*lever, deadline + lease_ms + 1_000).await.expect("B refreshes");
    let first = first.await.unwrap().expect("A uses the pair B stored");
    assert_eq!(first.expose(), second.expose(), "both use the one new access token");
    assert_eq!(app.lever.stats().refreshes, 1, "one refresh");
    assert_eq!(app.lever.stats().refresh_failures, 1, "A's spent refresh token was refused");
    let c = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
    assert_eq!(c.status, xor_lever_shared::domain::ConnectionStatus::Connected, "no spurious revoke");
}

/// A refresh that might not finish before the invocation ends does not start: the old refresh
/// token is never spent without the new pair being stored.
#[tokio::test]
async fn no_refresh_starts_too_close_to_the_deadline() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let mut t = app.deps.tokens.stored(&app.id).await.unwrap().unwrap();
    t.expires_at = 0;
    app.deps.tokens.store(&app.id, &t).await.unwrap();
    let conn = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
    let lever = app.deps.lever_for(&conn);
    let near = xor_lever_shared::usecases::now_ms() + 3_000;
    let err = app.deps.tokens.access_token(&conn, &*lever, near).await.unwrap_err();
    assert!(err.to_string().contains("deadline"), "{err}");
    assert_eq!(app.lever.stats().refreshes + app.lever.stats().refresh_failures, 0, "Lever was not asked");
    // A webhook request, with its full budget, refreshes.
    let (st, v, _) = app.deliver("msg_near", &body(&app.screening("cand_near"))).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "with its full budget, the request refreshes");
    assert_eq!(app.lever.stats().refreshes, 1);
}

/// Finished deliveries carry DynamoDB's TTL attribute (`expires_at`, the retention after they
/// finished); deliveries that still wait carry none, so they are never deleted.
#[tokio::test]
async fn finished_deliveries_expire_by_ttl_and_waiting_ones_never_do() {
    let app = spawn_webhook_app_with(StoreKind::Aws, |d| d.delivery_retention_days = 30).await;
    let (st, _, _) = app.deliver("msg_done", &body(&app.screening("cand_done"))).await;
    assert_eq!(st, 200);
    app.lever.inject((0..3).map(|_| Fault { status: Some(503), op: Some("posting".into()), ..Default::default() }));
    let (st, _, _) = app.deliver("msg_wait", &body(&app.screening("cand_wait"))).await;
    assert_eq!(st, 503);
    let (st, _, _) = app.deliver("msg_bad", b"{\"type\": \"candidate.screening_passed\", \"data\": 7}").await;
    assert_eq!(st, 400);

    let (table, _) = app.aws.clone().unwrap();
    let sdk = xor_lever_shared::config::aws_sdk_config().await;
    let client = xor_lever_shared::config::dynamo_client(&sdk);
    let ttl = |id: &'static str| {
        let (client, table, pk) = (client.clone(), table.clone(), format!("CONN#{}", app.id));
        async move {
            let item = client
                .get_item()
                .table_name(table)
                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
                .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("WH#{id}")))
                .send()
                .await
                .unwrap()
                .item
                .expect("the delivery is stored");
            item.get("expires_at").map(|v| v.as_n().unwrap().parse::<i64>().unwrap())
        }
    };
    let now = xor_lever_shared::usecases::now_ms() / 1000;
    for id in ["msg_done", "msg_bad"] {
        let t = ttl(id).await.unwrap_or_else(|| panic!("{id} has no TTL"));
        assert!((t - (now + 30 * 86_400)).abs() < 120, "{id}: 30 days after it finished: {t} vs {now}");
    }
    assert_eq!(ttl("msg_wait").await, None, "a waiting delivery never expires");
    // Once it completes, it gets its expiry.
    let a = xor_lever_shared::usecases::webhook::replay(
        &app.deps,
        &app.id,
        "msg_wait",
        xor_lever_shared::usecases::now_ms() + 30_000,
    )
    .await
    .unwrap();
    assert_eq!(a.delivery, Some(DeliveryStatus::Completed));
    assert!(ttl("msg_wait").await.is_some());
}

/// A candidate with a phone and no email (Lever dedupes people by email only): the first create
/// happened but its answer was lost; XOR's retry, and a crashed attempt's takeover, must both end
/// with the one opportunity, found by the documented filters and the phone.
#[tokio::test]
async fn a_phone_only_candidate_whose_create_answer_was_lost_ends_as_one_opportunity() {
    let app = spawn_webhook_app(StoreKind::Aws).await;
    // Lever answers one opportunity per page: the adoption must follow `next`. The account
    // already spells the source `xor`, and Lever reuses it.
    app.lever.set_config(Config { max_page: 1, refuse_closed_postings: true, ..Default::default() });
    app.lever.add_source("xor");
    let phone_only = |cand: &str, phone: &str| {
        let mut s = app.screening(cand);
        s["data"]["candidate"]["email"] = serde_json::Value::Null;
        s["data"]["candidate"]["phone"] = phone.into();
        s["data"]["screening"]["transcript_url"] = serde_json::Value::Null;
        s
    };
    // Another phone-only candidate on the same posting, listed first, is never adopted by mistake.
    assert_eq!(app.deliver("msg_r", &body(&phone_only("cand_r", "+44 20 7946 0003"))).await.0, 200);
    let s = phone_only("cand_p", "+44 (20) 7946-0001");
    let lost = Fault { op: Some("create".into()), status: Some(502), after_processing: true, ..Default::default() };
    app.lever.inject([lost]);
    let (st, v, _) = app.deliver("msg_p", &body(&s)).await;
    assert_eq!((st, v["status"].as_str()), (503, Some("pending")), "{v}");
    assert_eq!(app.lever.opportunities().len(), 2, "Lever did create it");
    assert_eq!(app.lever.opportunities()[1].sources, ["xor"], "the account's spelling");
    // Meanwhile the posting closes: the retry must still find what the lost create made.
    app.lever.add_posting(&app.posting, "Senior Backend Engineer (Rust)", "closed");
    let v = deliver_until_2xx(&app, "msg_p", &body(&s)).await;
    assert_eq!(v["status"], "completed", "{v}");
    let opps = app.lever.opportunities();
    assert_eq!(opps.len(), 2, "one each, no duplicate");
    let p = opps.iter().find(|o| o.id == v["opportunity_id"].as_str().unwrap()).unwrap();
    assert_eq!(p.phones[0]["value"], "+44 (20) 7946-0001", "the right person");
    assert_eq!(p.notes.len(), 1, "the adopted opportunity got its note once");

    // The same with a crash between Lever's answer and the record, taken over after the lease.
    let crash = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let c = crash.clone();
    let app = spawn_webhook_app_with(StoreKind::Sqlite, move |d| {
        d.crash_at = Some(Arc::new(move |point| point == "before_complete" && c.swap(false, Ordering::SeqCst)));
    })
    .await;
    let (st, _, _) = app.deliver("msg_p", &body(&s)).await;
    assert_eq!(st, 409);
    app.skew_ms.store(60_000, Ordering::SeqCst);
    let (st, v, _) = app.deliver("msg_p", &body(&s)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(app.lever.opportunities().len(), 1, "adopted by phone, no duplicate");
    assert_eq!(app.lever.opportunities()[0].notes.len(), 1, "the note the crashed attempt added is not added twice");
}

/// Lever allows ~10 requests/s: while the feed vouches for the posting (a clean sync or a 304
/// after one, recently, and an active mapping), a first attempt makes the create and the note
/// and nothing else; stale knowledge reads the posting first.
#[tokio::test]
async fn a_first_attempt_makes_the_create_and_the_note_and_nothing_else() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let confirm = |at: i64| {
        let (deps, id) = (app.deps.clone(), app.id.clone());
        async move {
            let state = xor_lever_shared::domain::FeedState {
                last_run_clean: true,
                confirmed_at_ms: Some(at),
                ..Default::default()
            };
            deps.connections.set_feed_state(&id, &state).await.unwrap();
        }
    };
    let now = xor_lever_shared::usecases::now_ms();
    confirm(now - 60_000).await;
    let before = app.lever.stats().requests;
    assert_eq!(app.deliver("msg_1", &body(&app.screening("cand_1"))).await.0, 200);
    assert_eq!(app.lever.stats().requests - before, 2, "POST opportunity + POST note");
    confirm(now - 2 * 3600 * 1000).await;
    let before = app.lever.stats().requests;
    assert_eq!(app.deliver("msg_2", &body(&app.screening("cand_2"))).await.0, 200);
    assert_eq!(app.lever.stats().requests - before, 3, "stale: GET posting first");
    // A posting the feed vouched for but Lever closed meanwhile: Lever refuses; a failure on record.
    confirm(now).await;
    app.lever.set_config(Config { refuse_closed_postings: true, ..Default::default() });
    app.lever.add_posting(&app.posting, "Senior Backend Engineer (Rust)", "closed");
    let (st, v, _) = app.deliver("msg_3", &body(&app.screening("cand_3"))).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("failed")), "{v}");
    assert!(v["reason"].as_str().unwrap().contains("closed"), "{v}");
}

#[tokio::test]
async fn a_connection_may_keep_the_admin_as_owner_and_pick_the_stage() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let mut c = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
    c.lever.admin_owns_candidates = true;
    c.lever.stage = Some("applicant-new".into());
    app.deps.connections.set_lever(&app.id, &c.lever).await.unwrap();
    assert_eq!(app.deliver("msg_1", &body(&app.screening("cand_1"))).await.0, 200);
    let o = &app.lever.opportunities()[0];
    assert_eq!((o.owner.as_str(), o.stage.as_str()), (ADMIN_USER, "applicant-new"));
}

#[tokio::test]
async fn the_largest_signed_body_of_any_bytes_is_kept_as_it_came_on_every_store() {
    use xor_lever_shared::domain::webhook::MAX_BODY_BYTES;
    for kind in [StoreKind::Aws, StoreKind::Sqlite, StoreKind::Memory] {
        let app = spawn_webhook_app(kind).await;
        // Not UTF-8 at all (made text, each byte would become U+FFFD: three times the size), and
        // valid JSON at the limit.
        let bytes: Vec<u8> = (0..MAX_BODY_BYTES).map(|i| [0xff, 0xfe, 0x80][i % 3]).collect();
        let mut json = serde_json::to_vec(&app.screening("cand_big")).unwrap();
        json.pop();
        json.extend(format!(",\"pad\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES - json.len() - 10)).bytes());
        assert!(json.len() <= MAX_BODY_BYTES, "{}", json.len());
        for (id, body, want) in [("msg_bin", bytes, 400), ("msg_json", json, 200)] {
            let (st, v, _) = app.deliver(id, &body).await;
            assert_eq!(st, want, "{kind:?} {id}: {v}");
            let d = app.delivery(id).await.unwrap_or_else(|| panic!("{kind:?} {id}: recorded"));
            let got: &[u8] = d.body.as_ref();
            assert!(got == &body[..], "{kind:?} {id}: the bytes as signed");
        }
        let d = app.delivery("msg_bin").await.unwrap();
        assert_eq!(d.status, DeliveryStatus::Rejected, "{kind:?}");
    }
}

/// A crash at each point a delivery passes (`CRASH_POINTS`): the process dies there (no answer,
/// no cleanup). XOR's retry repairs it — at once, or once the dead attempt's lease ends — and so
/// does the scheduled sweep: one opportunity with one note, the delivery completed.
#[tokio::test]
async fn a_crash_at_every_step_of_a_delivery_is_repaired() {
    use xor_lever_shared::usecases::webhook::{CRASH_POINTS, STUCK_AFTER_MS, retry_waiting};
    for (point, by_sweep) in CRASH_POINTS.iter().flat_map(|p| [(*p, false), (*p, true)]) {
        let armed = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let a = armed.clone();
        let app = spawn_webhook_app_with(StoreKind::Sqlite, move |d| {
            d.crash_at = Some(Arc::new(move |p| p == point && a.swap(false, Ordering::SeqCst)));
        })
        .await;
        let b = body(&app.screening("cand_1"));
        let (st, _, _) = app.deliver("msg_1", &b).await;
        assert_eq!(st, 409, "{point}: the dead attempt never answered 200");
        assert!(!armed.load(Ordering::SeqCst), "{point}: the crash point was reached");
        if by_sweep {
            // XOR gave up; the schedule finds the delivery stuck in `received` and replays it.
            app.skew_ms.store(STUCK_AFTER_MS + 60_000, Ordering::SeqCst);
            let now = xor_lever_shared::usecases::now_ms() + STUCK_AFTER_MS + 60_000;
            let s = retry_waiting(&app.deps, now + 60_000, 100).await.unwrap();
            assert_eq!(s.completed, 1, "{point} (sweep): {s:?}");
        } else {
            app.skew_ms.store(60_000, Ordering::SeqCst);
            let (st, v, _) = app.deliver("msg_1", &b).await;
            assert_eq!(st, 200, "{point}: {v}");
        }
        let d = app.delivery("msg_1").await.unwrap();
        assert_eq!(d.status, DeliveryStatus::Completed, "{point} (sweep: {by_sweep})");
        let opps = app.lever.opportunities();
        assert_eq!(opps.len(), 1, "{point} (sweep: {by_sweep}): one opportunity");
        assert_eq!(opps[0].notes.len(), 1, "{point} (sweep: {by_sweep}): one note");
        assert_eq!(d.opportunity_id.as_deref(), Some(opps[0].id.as_str()), "{point}");
    }
}

/// Lever slower than the invocation (a 3 s one here; 29 s in Lambda): a call still waiting when
/// the time runs out is cut before the deadline, so the delivery is recorded `pending` and XOR
/// answered 503 with `Retry-After`, instead of the invocation being killed mid-call. Then XOR's
/// retry makes exactly one opportunity: for a request Lever never started (held before the
/// work) and for one it carried out but answered too late (held after the work).
#[tokio::test]
async fn a_lever_answer_slower_than_the_invocation_is_cut_before_its_deadline() {
    let held = |before: bool| Fault {
        op: Some("create".into()),
        delay_ms: before.then_some(6_000),
        hang_ms: (!before).then_some(6_000),
        after_processing: !before,
        ..Default::default()
    };
    for (case, fault) in [("held before the work", held(true)), ("answered after the deadline", held(false))] {
        let app = spawn_webhook_app_within(StoreKind::Sqlite, Some(Duration::from_secs(3)), |_| {}).await;
        app.lever.inject([fault]);
        let b = body(&app.screening("cand_slow"));
        let started = tokio::time::Instant::now();
        let (st, v, retry_after) = app.deliver("msg_slow", &b).await;
        assert_eq!(st, 503, "{case}: answered within the invocation, not killed by its deadline: {v}");
        assert!(retry_after.is_some(), "{case}: XOR is told when to retry");
        let waiting = app.deps.webhooks.delivery(&app.id, "msg_slow").await.unwrap().unwrap();
        assert_eq!(waiting.status, DeliveryStatus::Pending, "{case}");
        let reason = waiting.reason.unwrap_or_default();
        assert!(reason.contains("deadline"), "{case}: the record says why: {reason}");

        let done = deliver_until_2xx(&app, "msg_slow", &b).await;
        assert_eq!(done["status"], "completed", "{case}: {done}");
        // Past the held request's 6 s: whatever Lever does with it, still one opportunity.
        tokio::time::sleep_until(started + Duration::from_millis(6_500)).await;
        assert_eq!(app.lever.opportunities().len(), 1, "{case}: one opportunity, whatever Lever did with the first");
    }
}

/// Issue 23: a screening for an XOR job whose mapping is not written (its create's answer was
/// lost, or the write has not landed): XOR is asked about the job; when it is this connection's
/// job for a Lever posting, the mapping is repaired and the candidate is created on that posting
/// (the webhook's `external_job_id` is only a hint: XOR's word wins).
async fn an_unmapped_job_is_repaired_from_xor(kind: StoreKind) {
    let app = spawn_webhook_app(kind).await;
    let posting = "0b7e5c44-2f1a-4d8b-b6c3-9e8f7a6b5c40";
    app.lever.add_posting(posting, "Field Technician", "published");
    let job = app.xor_job(posting, "Field Technician").await;
    let mut s = app.screening("cand_u");
    s["data"]["job_id"] = job.clone().into();
    s["data"]["external_job_id"] = app.posting.clone().into(); // a wrong hint
    let (st, v, _) = app.deliver("msg_u", &body(&s)).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "{v}");
    let o = app.lever.opportunities();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].postings, [posting], "on XOR's posting, not the hint's");
    let m = app.deps.mappings.mapping_by_xor_job(&app.id, &job).await.unwrap().expect("the mapping, repaired");
    assert_eq!((m.posting_id.as_str(), m.title.as_str(), m.is_active()), (posting, "Field Technician", true));
    assert_eq!(m.location.as_deref(), Some("Berlin, DE"));
    assert_eq!(app.xor.stats().gets, 1, "XOR asked once");
    // The next screening for it finds the mapping: XOR is not asked again.
    let mut s2 = app.screening("cand_u2");
    s2["data"]["job_id"] = job.into();
    assert_eq!(app.deliver("msg_u2", &body(&s2)).await.0, 200);
    assert_eq!(app.xor.stats().gets, 1);
}

#[tokio::test]
async fn an_unmapped_job_is_repaired_from_xor_memory() {
    an_unmapped_job_is_repaired_from_xor(StoreKind::Memory).await;
}

#[tokio::test]
async fn an_unmapped_job_is_repaired_from_xor_sqlite() {
    an_unmapped_job_is_repaired_from_xor(StoreKind::Sqlite).await;
}

#[tokio::test]
async fn an_unmapped_job_is_repaired_from_xor_dynamodb_as_the_webhook_function() {
    an_unmapped_job_is_repaired_from_xor(StoreKind::AwsAs(xor_lever_sandbox::moto::Principal::Webhook)).await;
}

/// Issue 23: XOR does not know the job, or it is another connection's: `failed`, with the reason;
/// XOR cannot answer: `pending` (503 + Retry-After), replayed, and the candidate made once XOR
/// answers.
#[tokio::test]
async fn an_unmapped_job_xor_does_not_know_fails_and_xor_down_waits() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let posting = "0b7e5c44-2f1a-4d8b-b6c3-9e8f7a6b5c40";
    app.lever.add_posting(posting, "Field Technician", "published");
    let theirs = app.xor_job_as("xor_test_someone-else", posting, "Theirs").await;
    for (id, job) in [("msg_n", "xj_999999".to_owned()), ("msg_t", theirs)] {
        let mut s = app.screening(id);
        s["data"]["job_id"] = job.clone().into();
        let (st, v, _) = app.deliver(id, &body(&s)).await;
        assert_eq!((st, v["status"].as_str()), (200, Some("failed")), "{v}");
        assert!(v["reason"].as_str().unwrap().contains("XOR does not know it for this connection"), "{v}");
    }
    let job = app.xor_job(posting, "Field Technician").await;
    let down = xor_lever_sandbox::xor::Fault { status: Some(503), op: Some("get".into()), ..Default::default() };
    app.xor.inject(std::iter::repeat_n(down, 3));
    let mut s = app.screening("cand_d");
    s["data"]["job_id"] = job.into();
    let (st, v, retry_after) = app.deliver("msg_d", &body(&s)).await;
    assert_eq!((st, v["status"].as_str()), (503, Some("pending")), "{v}");
    assert!(retry_after.is_some(), "503 with Retry-After");
    assert!(v["reason"].as_str().unwrap().contains("XOR cannot say now"), "{v}");
    assert_eq!(app.lever.opportunities().len(), 0);
    let v = deliver_until_2xx(&app, "msg_d", &body(&s)).await;
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(app.lever.opportunities().len(), 1);
}
