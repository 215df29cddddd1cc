//! Every log line the product writes while it connects a customer, opens the Lever section,
//! refreshes a token, takes screenings (one that fails, one whose Lever call fails) and replays,
//! captured at TRACE level: none holds a token, a secret, a link's token, a session, or a
//! candidate's email, phone or name.
use std::io::Write;
use std::sync::{Arc, Mutex};

use xor_lever_sandbox::harness::{StoreKind, spawn_webhook_app};
use xor_lever_sandbox::lever::{CLIENT_SECRET, Fault};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_log_line_holds_a_secret_a_token_or_a_candidate_s_contact() {
    let captured = Captured::default();
    let sink = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace,hyper=info,h2=info,rustls=info,reqwest=info,aws=info,tower=info")
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .init();

    let app = spawn_webhook_app(StoreKind::Memory).await;
    let (id, webhook_secret) = app.add_pending_connection("acme", &app.lever).await;
    // Connect through the section (invitation → session → Lever → callback).
    let (invitation, _) = xor_lever_shared::usecases::connect::invite(&app.setup, &id, 7).await.unwrap();
    let (st, _) = app.connect(&id).await;
    assert_eq!(st, 200);
    let link = xor_lever_shared::usecases::section::access::page_link(&app.setup, &app.url, &id, 7).await.unwrap();
    let section = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let opened = section.get(&link).send().await.unwrap();
    let session = opened.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    section.get(format!("{}/connections/{id}", app.url)).header("cookie", &session).send().await.unwrap();
    // Screenings on the original connection: one fine, one whose Lever call fails, one that
    // cannot be created (no contact details), an expired token refreshed on the way.
    app.lever.expire_access_tokens();
    let fine = app.screening("cand_fine");
    assert_eq!(app.deliver("msg_fine", &serde_json::to_vec(&fine).unwrap()).await.0, 200);
    app.lever.inject([Fault { status: Some(503), op: Some("create".into()), ..Default::default() }]);
    let waits = app.screening("cand_waits");
    assert_eq!(app.deliver("msg_waits", &serde_json::to_vec(&waits).unwrap()).await.0, 503);
    let mut none = app.screening("cand_none");
    none["data"]["candidate"]["email"] = serde_json::Value::Null;
    none["data"]["candidate"]["phone"] = serde_json::Value::Null;
    app.deliver("msg_none", &serde_json::to_vec(&none).unwrap()).await;
    xor_lever_shared::usecases::webhook::retry_waiting(&app.deps, xor_lever_shared::usecases::now_ms() + 60_000, 100)
        .await
        .unwrap();
    assert_eq!(app.lever.opportunities().len(), 2);

    let stored = app.deps.tokens.stored(&app.id).await.unwrap().unwrap();
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.lines().count() > 5, "the capture works: {} lines", logs.lines().count());
    let secrets = [
        ("the access token", stored.access_token.as_str()),
        ("the refresh token", stored.refresh_token.as_str()),
        ("the webhook secret", webhook_secret.as_str()),
        ("the app's webhook secret", app.secret.as_str()),
        ("the Lever client secret", CLIENT_SECRET),
        ("the invitation", invitation.as_str()),
        ("the page link's token", link.split("link=").nth(1).unwrap()),
        ("the session", session.split('=').nth(1).unwrap()),
        ("a candidate's email", "cand_fine@example.com"),
        ("a candidate's email", "cand_waits@example.com"),
        ("a candidate's phone", "7946 0000"),
        ("a candidate's name", "Lovelace"),
    ];
    for (what, s) in secrets {
        assert!(!s.is_empty());
        let hit = logs.lines().find(|l| l.contains(s));
        assert!(hit.is_none(), "{what} in a log line: {}", hit.unwrap_or_default());
    }
}
