//! The Lever client against the Lever sandbox over real HTTP: one test per endpoint it calls,
//! then the retry policy (429 with and without Retry-After, 5xx on reads, a create never retried
//! on an ambiguous failure) and the typed errors (401, 4xx).
use std::sync::Arc;
use std::time::Duration;

use xor_lever_sandbox::LeverSandbox;
use xor_lever_sandbox::lever::{ADMIN_USER, CLIENT_ID, CLIENT_SECRET, Config, Fault, OTHER_ADMIN, POSTING_OWNER};
use xor_lever_shared::adapters::lever::{
    AppCredentials, FileKind, FileUpload, LeverClient, LeverError, LeverHosts, NewOpportunity, OAuthError,
    OpportunityFilter, Phone,
};
use xor_lever_shared::adapters::retry::{RateLimiter, RetryPolicy};
use xor_lever_shared::domain::{Ats, LeverSettings, SecretString};

const POSTING: &str = "5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10";

struct Setup {
    lever: LeverSandbox,
    client: LeverClient,
    token: SecretString,
    refresh: String,
}

async fn setup() -> Setup {
    let lever = LeverSandbox::spawn().await;
    lever.add_posting(POSTING, "Backend Engineer", "published");
    let settings = LeverSettings {
        api_base_url: Some(lever.api_base()),
        auth_base_url: Some(lever.url.clone()),
        ..LeverSettings::default()
    };
    let mut client = LeverClient::new(
        xor_lever_shared::config::http_client(),
        LeverHosts::for_settings(&settings),
        Arc::new(RateLimiter::with_burst(1000.0, 1000)),
    );
    client.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        budget: Duration::from_secs(5),
    };
    let (at, rt, _) = lever.issue_tokens();
    Setup { lever, client, token: SecretString::new(at), refresh: rt }
}

fn new_opportunity(name: &str, email: Option<&str>, phone: Option<&str>) -> NewOpportunity {
    NewOpportunity {
        name: name.into(),
        emails: email.map(|e| vec![e.to_owned()]).unwrap_or_default(),
        phones: phone.map(|p| vec![Phone { kind: "mobile".into(), value: p.to_owned() }]).unwrap_or_default(),
        links: vec!["https://app.xor.ai/c/cand_1".into()],
        tags: vec!["xor".into()],
        sources: vec!["XOR".into()],
        origin: "sourced".into(),
        postings: vec![POSTING.into()],
        ..Default::default()
    }
}

fn pdf(kind: FileKind, name: &str) -> FileUpload {
    FileUpload { kind, name: name.into(), content_type: "application/pdf".into(), bytes: b"%PDF-1.4".to_vec() }
}

#[tokio::test]
async fn users_by_role_follow_every_page_and_one_user_by_id() {
    let s = setup().await;
    s.lever.set_config(Config { max_page: 1, ..Config::default() });
    let before = s.lever.stats().requests;
    let admins = s.client.users_with_role(&s.token, "super admin").await.unwrap();
    assert_eq!(admins.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), [ADMIN_USER, OTHER_ADMIN]);
    assert!(s.lever.stats().requests - before >= 2, "more than one page was read");
    let u = s.client.user(&s.token, POSTING_OWNER).await.unwrap();
    assert_eq!(u.access_role.as_deref(), Some("team member"));
    let missing = s.client.user(&s.token, "usr_nobody").await.unwrap_err();
    assert!(matches!(missing, LeverError::Rejected { status: 404, .. }), "{missing:?}");
    assert_eq!(s.client.any_user(&s.token).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_posting_and_the_published_postings() {
    let s = setup().await;
    s.lever.add_posting("p-closed", "Old job", "closed");
    assert!(s.client.posting(&s.token, POSTING).await.unwrap().is_open());
    assert!(!s.client.posting(&s.token, "p-closed").await.unwrap().is_open());
    let published = s.client.postings(&s.token).await.unwrap();
    assert_eq!(published.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [POSTING]);
}

#[tokio::test]
async fn create_an_opportunity_with_the_report_and_the_resume() {
    let s = setup().await;
    let o = new_opportunity("Ada Lovelace", Some("ada@example.com"), Some("+44 20 7946 0000"));
    let files = [pdf(FileKind::Other, "report.pdf"), pdf(FileKind::Resume, "cv.pdf")];
    let created = s.client.create_opportunity(&s.token, ADMIN_USER, true, &o, &files).await.unwrap();
    let stored = &s.lever.opportunities()[0];
    assert_eq!(stored.id, created.id);
    assert_eq!((stored.files[0].name.as_str(), stored.resumes[0].name.as_str()), ("report.pdf", "cv.pdf"));
    assert_eq!(stored.owner, POSTING_OWNER, "perform_as_posting_owner=true");
    assert_eq!(stored.phones[0]["value"], "+44 20 7946 0000");
}

#[tokio::test]
async fn find_opportunities_by_the_documented_filters_expanded() {
    let s = setup().await;
    let o = new_opportunity("Ada", None, Some("+44 20 7946 0001"));
    let created = s.client.create_opportunity(&s.token, ADMIN_USER, false, &o, &[]).await.unwrap();
    let f = OpportunityFilter { posting_id: Some(POSTING.into()), created_at_start: Some(0), ..Default::default() };
    let found = s.client.find_opportunities(&s.token, &f).await.unwrap();
    assert_eq!(found.len(), 1);
    let x = &found[0];
    assert_eq!(x.id, created.id);
    assert!(x.has_posting(POSTING) && x.has_source("xor") && x.has_phone("+442079460001"));
    assert!(x.has_link("https://app.xor.ai/c/cand_1"));
    let none = OpportunityFilter { email: Some("nobody@example.com".into()), ..Default::default() };
    assert!(s.client.find_opportunities(&s.token, &none).await.unwrap().is_empty());
}

#[tokio::test]
async fn add_a_note_and_read_it_back() {
    let s = setup().await;
    let created = s
        .client
        .create_opportunity(&s.token, ADMIN_USER, false, &new_opportunity("Ada", Some("a@x.io"), None), &[])
        .await
        .unwrap();
    s.client.add_note(&s.token, ADMIN_USER, &created.id, "XOR screening passed").await.unwrap();
    assert_eq!(s.client.note_texts(&s.token, &created.id).await.unwrap(), ["XOR screening passed"]);
}

#[tokio::test]
async fn refresh_rotates_and_a_spent_refresh_token_is_invalid_grant() {
    let s = setup().await;
    let app =
        AppCredentials { client_id: CLIENT_ID.into(), client_secret: CLIENT_SECRET.into(), env: Default::default() };
    let old = SecretString::new(s.refresh.clone());
    let new = s.client.refresh(&app, &old, 1_000).await.unwrap();
    assert_ne!(new.refresh_token, s.refresh);
    assert_eq!(new.expires_at, 1_000 + 3600, "Lever's expires_in, not a constant of ours");
    let again = s.client.refresh(&app, &old, 1_000).await.unwrap_err();
    assert!(matches!(again, OAuthError::InvalidGrant(_)), "{again:?}");
}

#[tokio::test]
async fn reads_retry_429s_with_and_without_retry_after_and_5xx() {
    let s = setup().await;
    s.lever.inject([
        Fault { status: Some(429), retry_after: Some(0), op: Some("posting".into()), ..Default::default() },
        Fault { status: Some(429), op: Some("posting".into()), ..Default::default() },
        Fault { status: Some(503), op: Some("posting".into()), ..Default::default() },
    ]);
    assert!(s.client.posting(&s.token, POSTING).await.is_ok(), "the fourth attempt answers");
    assert_eq!(s.lever.stats().faults_served, 3);
}

#[tokio::test]
async fn a_create_is_not_retried_on_an_ambiguous_failure_but_is_on_a_429() {
    let s = setup().await;
    let o = new_opportunity("Ada", Some("a@x.io"), None);
    s.lever.inject([Fault { status: Some(429), op: Some("create".into()), ..Default::default() }]);
    assert!(s.client.create_opportunity(&s.token, ADMIN_USER, false, &o, &[]).await.is_ok(), "a 429 was not processed");
    s.lever.inject([Fault {
        status: Some(502),
        op: Some("create".into()),
        after_processing: true,
        ..Default::default()
    }]);
    let err = s.client.create_opportunity(&s.token, ADMIN_USER, false, &o, &[]).await.unwrap_err();
    assert!(matches!(err, LeverError::Unavailable { attempts: 1, .. }), "{err:?}");
    assert_eq!(s.lever.opportunities().len(), 2, "one each: the lost answer's create happened, once");
}

#[tokio::test]
async fn an_expired_token_is_unauthorized_and_a_refusal_is_rejected() {
    let s = setup().await;
    s.lever.expire_access_tokens();
    assert!(matches!(s.client.posting(&s.token, POSTING).await, Err(LeverError::Unauthorized { .. })));
    let (at, _, _) = s.lever.issue_tokens();
    let token = SecretString::new(at);
    let err = s
        .client
        .create_opportunity(&token, "usr_nobody", false, &new_opportunity("A", Some("a@x.io"), None), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, LeverError::Rejected { status: 400, .. }), "{err:?}");
}
