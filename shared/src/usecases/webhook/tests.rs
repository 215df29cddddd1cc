//! The webhook use case against a fake Lever (milliseconds each); over real HTTP against the
//! Lever sandbox, with crashes, races and every store, in `tests/tests/webhook_e2e.rs`.
use std::sync::Arc;

use super::*;
use crate::adapters::memory::MemoryStore;
use crate::domain::ats::{AppCredentials, FileKind, TokenSet};
use crate::domain::ports::{LEVER_APP, LEVER_TOKENS};
use crate::usecases::fakes::{FakeFiles, FakeLever, lever_unavailable};
use crate::usecases::now_ms;

struct Fixture {
    deps: LeverContext,
    lever: FakeLever,
    id: ConnectionId,
    secret: String,
}

const POSTING: &str = "p-1";

/// A connected connection whose feed maps XOR job `xj_1` to posting `p-1`, with a token pair
/// that expires `expires_in` seconds from now.
async fn fixture(expires_in: i64) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let lever = FakeLever::default();
    let deps =
        LeverContext::from_store(store.clone(), store.clone(), Arc::new(lever.clone()), Arc::new(FakeFiles::default()));
    let id = ConnectionId::parse("acme").unwrap();
    let mut conn = Connection::new(id.clone(), "https://feed.example".into(), "https://xor".into(), 0);
    conn.lever.perform_as = Some("usr_1".into());
    // A clean sync confirmed the feed just now: the posting is known open without asking Lever.
    conn.feed.last_run_clean = true;
    conn.feed.confirmed_at_ms = Some(now_ms());
    store.create_connection(&conn).await.unwrap();
    let secret = crate::random::webhook_secret();
    store.create_secret(&id, WEBHOOK_SECRET, Some(&SecretString::new(secret.clone()))).await.unwrap();
    store.create_secret(&id, LEVER_TOKENS, None).await.unwrap();
    let app = AppCredentials { client_id: "cid".into(), client_secret: "cs".into(), env: Default::default() };
    store.put_app_secret(LEVER_APP, &SecretString::new(serde_json::to_string(&app).unwrap())).await.unwrap();
    let pair = TokenSet {
        access_token: "at_1".into(),
        refresh_token: "rt_1".into(),
        expires_at: now_ms() / 1000 + expires_in,
    };
    deps.tokens.store(&id, &pair).await.unwrap();
    {
        let mut l = lever.state();
        if expires_in > 0 {
            l.valid.push("at_1".into());
        }
        l.postings.insert(
            POSTING.into(),
            crate::domain::ats::LeverPosting { id: POSTING.into(), text: None, state: Some("published".into()) },
        );
    }
    let mapping = JobMapping {
        connection: id.clone(),
        posting_id: PostingId::parse(POSTING).unwrap(),
        xor_job_id: "xj_1".into(),
        chatbot_url: None,
        webchat_url: None,
        location: None,
        title: "Engineer".into(),
        content_hash: "h".into(),
        status: MappingStatus::Active,
        generation: 0,
        version: 0,
        updated_at: 0,
    };
    store.upsert_mapping(mapping, None).await.unwrap();
    Fixture { deps, lever, id, secret }
}

fn screening(cand: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "candidate.screening_passed",
        "timestamp": "2026-11-26T12:00:00Z",
        "data": {
            "candidate_id": cand, "job_id": "xj_1", "external_job_id": POSTING,
            "candidate": { "first_name": "Ada", "last_name": "Lovelace", "email": format!("{cand}@example.com") },
            "screening": { "passed": true, "score": 87, "completed_at": "2026-11-26T11:58:12Z",
                           "transcript_url": format!("https://app.xor.ai/c/{cand}") }
        }
    }))
    .unwrap()
}

impl Fixture {
    async fn deliver(&self, webhook_id: &str, body: &[u8]) -> Answer {
        let ts = now_ms() / 1000;
        let sig = WebhookSecret::parse(&self.secret).unwrap().sign(webhook_id, ts, body);
        let h = SignedHeaders { id: Some(webhook_id.into()), timestamp: Some(ts.to_string()), signature: Some(sig) };
        receive(&self.deps, self.id.as_str(), &h, body, now_ms() + 60_000).await
    }
}

#[tokio::test]
async fn a_screening_becomes_one_opportunity_with_its_report_and_note_and_repeats_are_duplicates() {
    let f = fixture(3600).await;
    let a = f.deliver("msg_1", &screening("cand_1")).await;
    assert_eq!((a.reply, a.delivery), (Reply::Accepted, Some(DeliveryStatus::Completed)), "{:?}", a.body);
    // XOR's retry of the same webhook, and another webhook of the same screening.
    let again = f.deliver("msg_1", &screening("cand_1")).await;
    assert_eq!(again.body["duplicate"], true);
    let other = f.deliver("msg_2", &screening("cand_1")).await;
    assert_eq!(other.body["opportunity_id"], a.body["opportunity_id"]);
    let l = f.lever.state();
    assert_eq!(l.creates, 1);
    let (opp, sent, files) = &l.opportunities[0];
    assert_eq!(
        (sent.sources.as_slice(), sent.postings.as_slice()),
        (&["XOR".to_owned()][..], &[POSTING.to_owned()][..])
    );
    assert_eq!(sent.emails, ["cand_1@example.com"]);
    assert!(files.iter().any(|x| x.kind == FileKind::Other && x.content_type == "application/pdf"), "the report");
    assert!(l.notes[&opp.id][0].contains("87"), "{:?}", l.notes);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_waits_and_its_replay_adopts_it() {
    let f = fixture(3600).await;
    f.lever.state().lose_next_create = true;
    let first = f.deliver("msg_1", &screening("cand_1")).await;
    assert_eq!((first.reply, first.delivery), (Reply::RetryLater, Some(DeliveryStatus::Pending)), "{:?}", first.body);
    let replayed = replay(&f.deps, &f.id, "msg_1", now_ms() + 60_000).await.unwrap();
    assert_eq!(replayed.delivery, Some(DeliveryStatus::Completed), "{:?}", replayed.body);
    assert_eq!(replayed.body["opportunity_id"], "opp_1");
    assert_eq!(f.lever.state().creates, 1, "looked before creating again");
}

#[tokio::test]
async fn lever_down_keeps_the_delivery_pending_for_the_sweep() {
    let f = fixture(3600).await;
    f.lever.state().fail_next.insert("create opportunity", [lever_unavailable("create opportunity")].into());
    let a = f.deliver("msg_1", &screening("cand_1")).await;
    assert_eq!((a.reply, a.delivery, a.retry_after), (Reply::RetryLater, Some(DeliveryStatus::Pending), Some(60)));
    let kept = f.deps.webhooks.delivery(&f.id, "msg_1").await.unwrap().unwrap();
    assert!(kept.reason.unwrap().contains("Lever unavailable for create opportunity"));
    assert_eq!(f.lever.state().calls, ["create opportunity"], "the feed vouched for the posting");
    assert_eq!(f.lever.state().creates, 0);
    // The sweep's replay looks first (the create may have happened), then creates once.
    let r = replay(&f.deps, &f.id, "msg_1", now_ms() + 60_000).await.unwrap();
    assert_eq!(r.delivery, Some(DeliveryStatus::Completed), "{:?}", r.body);
    assert_eq!(f.lever.state().calls[1..], ["find opportunities", "create opportunity", "add note"]);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_new_pair_stored() {
    let f = fixture(-10).await;
    let new =
        TokenSet { access_token: "at_2".into(), refresh_token: "rt_2".into(), expires_at: now_ms() / 1000 + 3600 };
    f.lever.state().refreshable.insert("rt_1".into(), new.clone());
    let a = f.deliver("msg_1", &screening("cand_1")).await;
    assert_eq!(a.delivery, Some(DeliveryStatus::Completed), "{:?}", a.body);
    assert_eq!(f.lever.state().refreshes, 1);
    assert_eq!(f.deps.tokens.stored(&f.id).await.unwrap(), Some(new));
}

#[tokio::test]
async fn a_revoked_app_marks_the_connection_and_keeps_the_delivery_for_after_reauthorization() {
    let f = fixture(-10).await;
    let a = f.deliver("msg_1", &screening("cand_1")).await;
    assert_eq!((a.reply, a.delivery), (Reply::RetryLater, Some(DeliveryStatus::PendingReauth)), "{:?}", a.body);
    let conn = f.deps.connections.connection(&f.id).await.unwrap().unwrap();
    assert_eq!(conn.status, ConnectionStatus::Revoked);
    assert_eq!(f.lever.state().creates, 0);
    // Later deliveries wait too, without calling Lever.
    let b = f.deliver("msg_2", &screening("cand_2")).await;
    assert_eq!(b.delivery, Some(DeliveryStatus::PendingReauth));
    assert_eq!(f.lever.state().refreshes, 1);
}

#[tokio::test]
async fn an_unsigned_delivery_is_refused_and_not_recorded() {
    let f = fixture(3600).await;
    let body = screening("cand_1");
    let h = SignedHeaders {
        id: Some("msg_1".into()),
        timestamp: Some((now_ms() / 1000).to_string()),
        signature: Some("v1,AAAA".into()),
    };
    let a = receive(&f.deps, f.id.as_str(), &h, &body, now_ms() + 60_000).await;
    assert_eq!(a.reply, Reply::Unsigned);
    assert!(f.deps.webhooks.delivery(&f.id, "msg_1").await.unwrap().is_none());
    assert_eq!(f.lever.state().creates, 0);
}

#[tokio::test]
async fn the_resume_goes_in_lever_s_resume_slot_and_an_expired_one_is_left_out() {
    let f = fixture(3600).await;
    let files = FakeFiles::default();
    files.0.lock().unwrap().insert(
        "https://files.xor.ai/r/1".into(),
        FetchedFile { name: "ada.pdf".into(), content_type: "application/pdf".into(), bytes: b"%PDF-1.7".to_vec() },
    );
    let mut deps = f.deps.clone();
    deps.files = Arc::new(files);
    let f = Fixture { deps, ..f };
    let with_resume = |cand: &str, url: &str| {
        let mut v: serde_json::Value = serde_json::from_slice(&screening(cand)).unwrap();
        v["data"]["candidate"]["resume_url"] = json!(url);
        serde_json::to_vec(&v).unwrap()
    };
    let a = f.deliver("msg_1", &with_resume("cand_1", "https://files.xor.ai/r/1")).await;
    let b = f.deliver("msg_2", &with_resume("cand_2", "https://files.xor.ai/r/expired")).await;
    assert_eq!((a.delivery, b.delivery), (Some(DeliveryStatus::Completed), Some(DeliveryStatus::Completed)));
    let l = f.lever.state();
    let kinds = |i: usize| l.opportunities[i].2.iter().map(|x| (x.kind, x.name.clone())).collect::<Vec<_>>();
    assert!(kinds(0).contains(&(FileKind::Resume, "ada.pdf".into())), "{:?}", kinds(0));
    // The expired link is said in the report (its text is read back in tests/tests/webhook_e2e.rs).
    assert_eq!(kinds(1), [(FileKind::Other, "xor-screening-report.pdf".to_owned())]);
}

#[tokio::test]
async fn a_hostile_resume_file_name_reaches_lever_as_a_plain_one() {
    let f = fixture(3600).await;
    let files = FakeFiles::default();
    files.0.lock().unwrap().insert(
        "https://files.xor.ai/r/x".into(),
        FetchedFile {
            name: "../../\"cv\"\r\nContent-Type: text/html;\u{0}é.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: b"%PDF-1.7".to_vec(),
        },
    );
    let mut deps = f.deps.clone();
    deps.files = Arc::new(files);
    let f = Fixture { deps, ..f };
    let mut v: serde_json::Value = serde_json::from_slice(&screening("cand_1")).unwrap();
    v["data"]["candidate"]["resume_url"] = json!("https://files.xor.ai/r/x");
    let a = f.deliver("msg_1", &serde_json::to_vec(&v).unwrap()).await;
    assert_eq!(a.delivery, Some(DeliveryStatus::Completed));
    let l = f.lever.state();
    let resume = l.opportunities[0].2.iter().find(|x| x.kind == FileKind::Resume).unwrap();
    assert!(
        resume.name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) && !resume.name.starts_with('.'),
        "{:?}",
        resume.name
    );
    assert!(resume.name.ends_with(".pdf"), "{:?}", resume.name);
}
