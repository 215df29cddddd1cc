//! Lever as it really is (issue 21): the places where a real account behaves differently from a
//! naive sandbox, each against the Lever sandbox over real HTTP.

use xor_lever_sandbox::harness::{StoreKind, WebhookApp, spawn_webhook_app_with};
use xor_lever_sandbox::lever::{Config, Fault};
use xor_lever_shared::domain::{ConnectionStatus, DeliveryStatus, FeedState};

fn body(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// A resume host on loopback serving a PDF of `size` bytes, and the app wired to fetch from it.
async fn app_with_resume(size: usize) -> (WebhookApp, String) {
    use axum::routing::get;
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.resize(size, b'x');
    let files = axum::Router::new().route(
        "/r/cv.pdf",
        get(move || {
            let pdf = pdf.clone();
            async move { ([("content-type", "application/pdf")], pdf) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, files).await.unwrap() });
    let hosts = xor_lever_shared::config::ResumeHosts::parse(&host).unwrap();
    let app =
        spawn_webhook_app_with(StoreKind::Memory, |d| d.files = xor_lever_shared::config::resume_fetcher(hosts)).await;
    // The feed vouches for the posting: the create is the delivery's first Lever call.
    let state = FeedState {
        last_run_clean: true,
        confirmed_at_ms: Some(xor_lever_shared::usecases::now_ms()),
        ..Default::default()
    };
    app.deps.connections.set_feed_state(&app.id, &state).await.unwrap();
    (app, format!("http://{host}/r/cv.pdf"))
}

/// The Super Admin authorizes again: fresh tokens, the connection connected.
async fn reconnect(app: &WebhookApp) {
    let (at, rt, ttl) = app.lever.issue_tokens();
    let tokens = xor_lever_shared::adapters::lever::TokenSet {
        access_token: at,
        refresh_token: rt,
        expires_at: xor_lever_shared::usecases::now_ms() / 1000 + ttl as i64,
    };
    app.setup.tokens.store(&app.id, &tokens).await.unwrap();
    app.setup.connections.set_status(&app.id, ConnectionStatus::Connected).await.unwrap();
}

/// §1: Lever answers 401 to a revoked app's create while the upload (report and a resume) is
/// still being sent, and closes the connection: the client's write may fail before it reads the
/// answer. Whatever the timing, the first delivery ends `pending_reauth` and the connection
/// `revoked` (never `pending` "Lever unavailable", which would wait for nobody): with the upload
/// broken off every time (the sandbox's fault), and as the timing falls (a 3 MB resume).
#[tokio::test]
async fn a_revoked_app_is_seen_on_the_first_create_whatever_the_timing() {
    for breaks_off in [true, false] {
        revoked_on_the_first_create(breaks_off).await;
    }
}

async fn revoked_on_the_first_create(breaks_off: bool) {
    const RUNS: usize = 60;
    let (app, resume) = app_with_resume(3 * 1024 * 1024).await;
    app.lever.set_config(Config { refusal_breaks_upload: breaks_off, ..Config::default() });
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..RUNS {
        app.lever.revoke();
        let mut s = app.screening(&format!("cand_{i}"));
        s["data"]["candidate"]["resume_url"] = resume.clone().into();
        let (st, v, _) = app.deliver(&format!("msg_{i}"), &body(&s)).await;
        let seen = format!("{st} {} {}", v["status"].as_str().unwrap_or("?"), v["reason"].as_str().unwrap_or(""));
        *outcomes.entry(seen).or_default() += 1;
        let conn = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
        let d = app.delivery(&format!("msg_{i}")).await.unwrap();
        if (st, d.status, conn.status) != (503, DeliveryStatus::PendingReauth, ConnectionStatus::Revoked) {
            *outcomes.entry(format!("  (connection {:?})", conn.status)).or_default() += 1;
        }
        reconnect(&app).await;
    }
    assert!(app.lever.stats().unauthorized >= RUNS as u64, "every run met Lever's 401");
    assert_eq!(app.lever.opportunities().len(), 0);
    let ok = outcomes.iter().filter(|(k, _)| k.starts_with("503 pending_reauth")).map(|(_, n)| n).sum::<usize>();
    assert_eq!(ok, RUNS, "upload broken off: {breaks_off}; outcomes over {RUNS} runs: {outcomes:#?}");
}

/// §1: an access token that died early (Lever refuses it on the create's headers and the upload
/// breaks off): the check after the broken upload sees the 401, the token is refreshed and the
/// create sent again: the candidate is in Lever on the first delivery, once.
#[tokio::test]
async fn an_expired_token_refused_mid_upload_is_refreshed_and_the_create_goes_on() {
    let (app, resume) = app_with_resume(3 * 1024 * 1024).await;
    app.lever.set_config(Config { refusal_breaks_upload: true, ..Config::default() });
    for i in 0..50 {
        app.lever.expire_access_tokens();
        let mut s = app.screening(&format!("cand_{i}"));
        s["data"]["candidate"]["resume_url"] = resume.clone().into();
        let (st, v, _) = app.deliver(&format!("msg_{i}"), &body(&s)).await;
        assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "run {i}: {v}");
    }
    assert_eq!(app.lever.opportunities().len(), 50, "one each");
    assert_eq!(app.lever.stats().refreshes, 50);
}

/// §1: a 403 after a revoke (Lever's reference: "Your Lever account settings don't authorize you
/// to perform the requested operation") is a 401 that survives a refresh: the delivery waits for
/// a new authorization (`pending_reauth`, the connection `revoked`), never `failed` as if the
/// candidate were at fault; once authorized again, XOR's retry creates the candidate. A 403 to
/// one request while the token is otherwise accepted (a permission that request lacks) holds
/// that delivery the same way, and the connection stays connected for the others.
#[tokio::test]
async fn a_403_waits_for_a_new_authorization_and_never_fails_the_candidate() {
    let (app, resume) = app_with_resume(256 * 1024).await;
    app.lever.set_config(Config { revoked_status: 403, refusal_breaks_upload: true, ..Config::default() });
    app.lever.revoke();
    let mut s = app.screening("cand_1");
    s["data"]["candidate"]["resume_url"] = resume.into();
    let s = body(&s);
    let (st, v, _) = app.deliver("msg_1", &s).await;
    assert_eq!((st, v["status"].as_str()), (503, Some("pending_reauth")), "{v}");
    assert!(v["reason"].as_str().unwrap().contains("403"), "{v}");
    let conn = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
    assert_eq!(conn.status, ConnectionStatus::Revoked);
    assert_eq!(app.lever.stats().refreshes, 0, "a refresh cannot change the account's settings");
    reconnect(&app).await;
    let (st, v, _) = app.deliver("msg_1", &s).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "{v}");
    assert_eq!(app.lever.opportunities().len(), 1);

    // One request refused (answered, not broken off), the token good: that delivery waits; the
    // connection does not.
    app.lever.set_config(Config::default());
    let forbidden = Fault { op: Some("create".into()), status: Some(403), ..Default::default() };
    app.lever.inject([forbidden]);
    let (st, v, _) = app.deliver("msg_2", &body(&app.screening("cand_2"))).await;
    assert_eq!((st, v["status"].as_str()), (503, Some("pending_reauth")), "{v}");
    let conn = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
    assert_eq!(conn.status, ConnectionStatus::Connected, "one request's permission is not a revoke");
    let (st, v, _) = app.deliver("msg_3", &body(&app.screening("cand_3"))).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "the others go on: {v}");
}

/// §4: a phone-only candidate (Lever dedupes people by email only) whose create answer was lost
/// is found again on XOR's retry whichever way the account stored the phone: as sent, E.164, or
/// the national form of Lever's own example (`(415) 555-0100`); one opportunity each time.
#[tokio::test]
async fn a_phone_only_candidate_is_found_again_whichever_way_lever_stored_the_phone() {
    use xor_lever_sandbox::lever::PhoneStorage;
    for (storage, phone) in [
        (PhoneStorage::AsSent, "+44 20 7946 0001"),
        (PhoneStorage::E164, "+44 (20) 7946-0001"),
        (PhoneStorage::National, "+44 20 7946 0001"),
        (PhoneStorage::National, "+1 415 555 0100"),
    ] {
        let (app, _) = app_with_resume(1024).await;
        app.lever.set_config(Config { phones_stored_as: storage, ..Config::default() });
        let mut s = app.screening("cand_p");
        s["data"]["candidate"]["email"] = serde_json::Value::Null;
        s["data"]["candidate"]["phone"] = phone.into();
        s["data"]["screening"]["transcript_url"] = serde_json::Value::Null;
        let lost = Fault { op: Some("create".into()), status: Some(502), after_processing: true, ..Default::default() };
        app.lever.inject([lost]);
        let (st, v, _) = app.deliver("msg_p", &body(&s)).await;
        assert_eq!((st, v["status"].as_str()), (503, Some("pending")), "{storage:?}: {v}");
        let stored = app.lever.opportunities()[0].phones[0]["value"].as_str().unwrap().to_owned();
        let (st, v, _) = app.deliver("msg_p", &body(&s)).await;
        assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "{storage:?} stored {stored:?}: {v}");
        assert_eq!(app.lever.opportunities().len(), 1, "{storage:?}: {phone} stored as {stored:?}, no duplicate");
    }
}

/// §4: what Lever does with what we send, as its reference says: the `perform_as` user (the
/// creator) always follows; the posting's owner owns; the one report goes under `files`, a resume
/// under `resumeFile`; a resume of a type Lever does not list is never sent as one.
#[tokio::test]
async fn the_creator_follows_one_file_goes_under_files_and_an_unlisted_resume_type_is_not_sent() {
    use xor_lever_sandbox::lever::{ADMIN_USER, POSTING_OWNER};
    let (app, resume) = app_with_resume(2048).await;
    let mut s = app.screening("cand_1");
    s["data"]["candidate"]["resume_url"] = resume.into();
    let (st, v, _) = app.deliver("msg_1", &body(&s)).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "{v}");
    let o = &app.lever.opportunities()[0];
    assert_eq!(o.owner, POSTING_OWNER, "the posting's owner owns XOR's candidates");
    assert_eq!(o.followers, [ADMIN_USER], "the creator (perform_as) is always a follower");
    assert_eq!(o.files.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["files"], "one file: `files`");
    assert_eq!(o.resumes.len(), 1);
    assert_eq!(o.resumes[0].field, "resumeFile");
}

/// §3: a candidate on a confidential posting whose create answer was lost: Lever's lists leave
/// confidential opportunities out unless asked, so the retry asks for every confidentiality
/// (with the grant it asks for, `confidential:access:admin`) and finds it: one opportunity.
#[tokio::test]
async fn a_lost_create_on_a_confidential_posting_is_found_again_not_duplicated() {
    let (app, _) = app_with_resume(1024).await;
    let seed = serde_json::json!([{
        "id": app.posting, "text": "VP Finance", "state": "published", "confidentiality": "confidential",
        "owner": xor_lever_sandbox::lever::POSTING_OWNER,
    }]);
    reqwest::Client::new().post(format!("{}/_sandbox/postings", app.lever.url)).json(&seed).send().await.unwrap();
    let lost = Fault { op: Some("create".into()), status: Some(502), after_processing: true, ..Default::default() };
    app.lever.inject([lost]);
    let s = body(&app.screening("cand_c"));
    let (st, v, _) = app.deliver("msg_c", &s).await;
    assert_eq!((st, v["status"].as_str()), (503, Some("pending")), "{v}");
    let (st, v, _) = app.deliver("msg_c", &s).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "{v}");
    let opps = app.lever.opportunities();
    assert_eq!(opps.len(), 1, "adopted, not duplicated");
    assert!(opps[0].confidential);
    assert_eq!(v["opportunity_id"], opps[0].id.as_str());
}

/// The connection's Lever settings, changed in place.
async fn with_lever(app: &WebhookApp, f: impl FnOnce(&mut xor_lever_shared::domain::LeverSettings)) {
    let mut c = app.setup.connections.connection(&app.id).await.unwrap().unwrap();
    f(&mut c.lever);
    app.setup.connections.set_lever(&app.id, &c.lever).await.unwrap();
}

/// §2: an EU account. Lever's OAuth page: "Any integration authorization or action will be
/// re-directed automatically to the appropriate data center". The Data API and token calls that
/// start at the global host are followed to the account's region with the same method and body
/// (a 307: the create stays a multipart create with its files, the refresh a POST with its form),
/// and the recruiter's link is the one Lever gives (`urls.show`, on `hire.eu.lever.co`).
#[tokio::test]
async fn an_eu_account_is_followed_to_its_region_with_the_same_method_and_body() {
    let (app, resume) = app_with_resume(64 * 1024).await;
    with_lever(&app, |l| l.env = xor_lever_shared::domain::LeverEnv::Eu).await;
    app.lever.set_config(Config {
        region_redirect: Some(format!("{}/eu", app.lever.url)),
        app_url: "https://hire.eu.lever.co".into(),
        ..Config::default()
    });
    app.lever.expire_access_tokens();
    let mut s = app.screening("cand_eu");
    s["data"]["candidate"]["resume_url"] = resume.into();
    let (st, v, _) = app.deliver("msg_eu", &body(&s)).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "{v}");
    let stats = app.lever.stats();
    // The first create and the refresh are redirected; once Lever moved the connection, the
    // create again and the note go to its region directly.
    assert_eq!((stats.redirected, stats.refreshes), (2, 1), "{stats:?}");
    let o = &app.lever.opportunities()[0];
    assert_eq!((o.files.len(), o.resumes.len(), o.notes.len()), (1, 1, 1), "the body went along");
    let d = app.delivery("msg_eu").await.unwrap();
    assert_eq!(d.opportunity_url.unwrap(), format!("https://hire.eu.lever.co/candidates/{}", o.id));
}

/// §2: a redirect is never followed blindly: to a host that is not Lever's (nor the configured
/// one), or one that would turn the POST into a GET (301/302/303), is an error that names where
/// Lever pointed and how to point the connection there; the candidate is not created elsewhere
/// and the delivery waits (`pending`: nothing about the candidate is wrong) for a replay.
#[tokio::test]
async fn a_redirect_elsewhere_is_refused_and_names_where_lever_pointed() {
    let (app, _) = app_with_resume(1024).await;
    app.lever.set_config(Config { region_redirect: Some("http://127.0.0.1:9/eu".into()), ..Config::default() });
    let (st, v, _) = app.deliver("msg_1", &body(&app.screening("cand_1"))).await;
    assert_eq!((st, v["status"].as_str()), (503, Some("pending")), "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.contains("http://127.0.0.1:9/eu/v1/opportunities"), "{reason}");
    assert!(reason.contains("--lever-base-url"), "{reason}");
    assert_eq!(app.lever.opportunities().len(), 0);
    let d = app.delivery("msg_1").await.unwrap();
    assert_eq!(d.status, DeliveryStatus::Pending, "waits (nothing about the candidate is wrong), replayed once fixed");
    // Fixed (Lever stops pointing elsewhere): XOR's retry creates the candidate.
    app.lever.set_config(Config::default());
    let (st, v, _) = app.deliver("msg_1", &body(&app.screening("cand_1"))).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "{v}");
}

/// §3: a connection authorized before `confidential:access:admin` was asked for: its retries'
/// lookups are refused confidential data, and fall back to what they saw before (a lost create on
/// an ordinary posting is found again); the connection is not revoked for it.
#[tokio::test]
async fn an_authorization_without_the_confidential_scope_still_finds_its_candidates() {
    let (app, _) = app_with_resume(1024).await;
    let old_grant = "offline_access opportunities:read:admin opportunities:write:admin files:write:admin notes:read:admin notes:write:admin postings:read:admin users:read:admin";
    let (at, rt, ttl) = app.lever.issue_tokens_with(old_grant);
    let tokens = xor_lever_shared::adapters::lever::TokenSet {
        access_token: at,
        refresh_token: rt,
        expires_at: xor_lever_shared::usecases::now_ms() / 1000 + ttl as i64,
    };
    app.setup.tokens.store(&app.id, &tokens).await.unwrap();
    let lost = Fault { op: Some("create".into()), status: Some(502), after_processing: true, ..Default::default() };
    app.lever.inject([lost]);
    let s = body(&app.screening("cand_1"));
    assert_eq!(app.deliver("msg_1", &s).await.0, 503);
    let (st, v, _) = app.deliver("msg_1", &s).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "{v}");
    assert_eq!(app.lever.opportunities().len(), 1, "found again, not duplicated");
    let conn = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
    assert_eq!(conn.status, ConnectionStatus::Connected);
}
