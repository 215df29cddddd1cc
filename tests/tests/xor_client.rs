//! The XOR client against the sandbox over real HTTP: one test per endpoint, then the retry
//! policy (429 with Retry-After, 5xx, lost responses) and the 4xx that must not be retried.
use std::time::{Duration, Instant};

use xor_lever_sandbox::XorSandbox;
use xor_lever_sandbox::xor::{Config, Fault};
use xor_lever_shared::adapters::retry::RetryPolicy;
use xor_lever_shared::adapters::xor::{XorClient, XorError, XorSettings};
use xor_lever_shared::domain::{JobBoard, Posting, SecretString};
use xor_lever_shared::feed::parse_slice;

fn posting(n: usize) -> Posting {
    let xml = include_bytes!("../../fixtures/lever-feed-sample.xml");
    parse_slice(xml).unwrap().0.remove(n)
}

fn client(sb: &XorSandbox, key: &str) -> XorClient {
    let mut s = XorSettings::new(&sb.url, SecretString::new(key));
    s.max_rps = 1000.0;
    s.timeout = Duration::from_millis(500);
    s.retry = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        budget: Duration::from_secs(5),
    };
    XorClient::new(xor_lever_shared::config::http_client(), s)
}

fn fault(status: u16) -> Fault {
    Fault { status: Some(status), ..Default::default() }
}

#[tokio::test]
async fn create_is_idempotent_by_key() {
    let sb = XorSandbox::spawn().await;
    let c = client(&sb, "key_a");
    let p = posting(0);
    let a = c.create("k-1", &p).await.unwrap();
    assert_eq!(a.status, "active");
    assert!(a.chatbot_url.as_deref().unwrap().starts_with("https://jobs.xor.ai/c/"));
    let again = c.create("k-1", &p).await.unwrap();
    assert_eq!(again.id, a.id, "same key, same job");
    let err = c.create("k-1", &posting(1)).await.unwrap_err();
    assert_eq!(err.status(), Some(409), "same key with another body");
    assert_eq!((sb.stats().creates, sb.stats().idempotent_replays), (1, 1));
}

#[tokio::test]
async fn update_replaces_the_body() {
    let sb = XorSandbox::spawn().await;
    let c = client(&sb, "key_a");
    let job = c.create("k", &posting(0)).await.unwrap();
    let mut p = posting(0);
    p.title = "Principal Engineer".into();
    let updated = c.update(&job.id, &p).await.unwrap();
    assert_eq!(updated.title.as_deref(), Some("Principal Engineer"));
    assert_eq!(c.update("xj_missing", &p).await.unwrap_err().status(), Some(404));
}

#[tokio::test]
async fn close_is_repeatable_and_404_for_unknown() {
    let sb = XorSandbox::spawn().await;
    let c = client(&sb, "key_a");
    let job = c.create("k", &posting(0)).await.unwrap();
    assert_eq!(c.close(&job.id).await.unwrap().status, "closed");
    assert_eq!(c.close(&job.id).await.unwrap().status, "closed", "closing a closed job is 200");
    match c.close("xj_nope").await.unwrap_err() {
        XorError::Rejected { status: 404, code, .. } => assert_eq!(code, "not_found"),
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn get_reads_one_job_and_keys_are_isolated() {
    let sb = XorSandbox::spawn().await;
    let job = client(&sb, "key_a").create("k", &posting(0)).await.unwrap();
    assert_eq!(
        client(&sb, "key_a").get(&job.id).await.unwrap().external_id.as_deref(),
        Some(posting(0).external_id.as_str())
    );
    assert_eq!(client(&sb, "key_b").get(&job.id).await.unwrap_err().status(), Some(404), "another key never sees it");
}

#[tokio::test]
async fn list_follows_cursors() {
    let sb = XorSandbox::spawn().await;
    let c = client(&sb, "key_a");
    for i in 0..230 {
        let mut p = posting(i % 4);
        p.external_id = xor_lever_shared::domain::PostingId::parse(&format!("p{i:04}")).unwrap();
        c.create(&format!("k{i}"), &p).await.unwrap();
    }
    let first = c.list_page(None).await.unwrap();
    assert_eq!(first.data.len(), 100);
    assert!(first.next_cursor.is_some());
    let all = c.list_all().await.unwrap();
    assert_eq!(all.len(), 230);
    let mut ids: Vec<_> = all.iter().map(|j| j.id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 230, "no job twice across pages");
}

#[tokio::test]
async fn retries_429_honouring_retry_after_and_5xx() {
    let sb = XorSandbox::spawn().await;
    let c = client(&sb, "key_a");
    sb.inject([Fault { status: Some(429), retry_after: Some(1), ..Default::default() }, fault(503), fault(500)]);
    let t0 = Instant::now();
    let job = c.create("k", &posting(0)).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(1), "waited for Retry-After");
    assert_eq!(job.status, "active");
    let s = sb.stats();
    assert_eq!((s.requests, s.creates), (4, 1));
}

#[tokio::test]
async fn a_lost_response_is_retried_without_a_second_job() {
    let sb = XorSandbox::spawn().await;
    let c = client(&sb, "key_a");
    // The first create is done by XOR, but its answer never reaches us (timeout).
    sb.inject([Fault { hang_ms: Some(1500), op: Some("create".into()), ..Default::default() }]);
    let job = c.create("k", &posting(0)).await.unwrap();
    let s = sb.stats();
    assert_eq!(s.creates, 1, "one job");
    assert_eq!(s.idempotent_replays, 1, "the retry was answered from the idempotency key");
    assert_eq!(sb.jobs().len(), 1);
    assert_eq!(sb.jobs()[0]["id"], job.id);
}

#[tokio::test]
async fn final_4xx_are_not_retried_and_keep_xors_error() {
    let sb = XorSandbox::spawn().await;
    let c = client(&sb, "key_a");
    sb.inject([fault(422)]);
    match c.create("k", &posting(0)).await.unwrap_err() {
        XorError::Rejected { status, code, message, .. } => {
            assert_eq!((status, code.as_str(), message.as_str()), (422, "injected", "injected 422"));
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(sb.stats().requests, 1);
    let err = client(&sb, "").get("x").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
}

#[tokio::test]
async fn gives_up_within_its_budget_and_says_so() {
    let sb = XorSandbox::spawn().await;
    let c = client(&sb, "key_a");
    sb.inject((0..10).map(|_| fault(503)));
    let err = c.create("k", &posting(0)).await.unwrap_err();
    assert!(matches!(err, XorError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("after 5 attempt(s)"), "{err}");
    assert_eq!(sb.stats().requests, 5);
}

#[tokio::test]
async fn paces_itself_under_the_sandbox_rate_limit() {
    let sb = XorSandbox::spawn().await;
    // 30 concurrent calls; XOR allows 10/s with a burst of 10; the client paces at 8/s.
    sb.set_config(Config { rate_limit_rps: 10.0, latency_ms: 0 });
    let mut s = XorSettings::new(&sb.url, SecretString::new("key_a"));
    s.max_rps = 8.0;
    s.concurrency = 30;
    let c = XorClient::new(xor_lever_shared::config::http_client(), s);
    let calls = (0..30).map(|i| {
        let c = c.clone();
        async move { c.get(&format!("xj_{i}")).await }
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(|r| r.as_ref().unwrap_err().status() == Some(404)));
    assert_eq!(sb.stats().rate_limited, 0, "a paced client is never throttled");
}
