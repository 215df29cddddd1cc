//! The Lever section over real HTTP (the router as deployed, the Lever sandbox): who may see it
//! (invitation, page link, session — and a forged, expired or other connection's link refused),
//! what each state shows, CSRF on every POST, escaping, pages of jobs, and the security headers.
use std::sync::atomic::Ordering;

use xor_lever_sandbox::harness::{StoreKind, WebhookApp, job_mapping, spawn_webhook_app};
use xor_lever_sandbox::visitor::{Page, Visitor};
use xor_lever_shared::domain::*;
use xor_lever_shared::usecases::section::access;

fn csrf(page: &Page) -> String {
    page.csrf().expect("a form")
}

fn status_of(page: &Page) -> &str {
    page.section_status()
}

async fn invitation_link(app: &WebhookApp, id: &ConnectionId) -> String {
    let (token, _) = xor_lever_shared::usecases::connect::invite(&app.setup, id, 7).await.unwrap();
    access::invitation_link(&app.url, id, &token)
}

async fn page_link(app: &WebhookApp, id: &ConnectionId) -> String {
    access::page_link(&app.setup, &app.url, id, 7).await.unwrap()
}

/// Opens `link` in `v`: the token is traded for a session and the URL cleaned.
async fn open(app: &WebhookApp, v: &Visitor, link: &str) -> Page {
    let first = v.get(link).await.unwrap();
    assert_eq!(first.status, 303, "{}", first.body);
    let to = first.location.clone().unwrap();
    assert!(!to.contains('?'), "the token leaves the URL: {to}");
    assert!(to.starts_with(&format!("{}/connections/", app.url)), "{to}");
    v.get(&to).await.unwrap()
}

#[tokio::test]
async fn an_invitation_opens_the_not_connected_section_with_the_connect_note() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let (id, _) = app.add_pending_connection("acme", &app.lever).await;
    let link = invitation_link(&app, &id).await;
    let v = Visitor::new();
    let first = v.get(&link).await.unwrap();
    assert_eq!(first.status, 303);
    let cookie = &first.set_cookie[0];
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    let token = link.split("invitation=").nth(1).unwrap();
    assert!(!cookie.contains(token), "the cookie holds a session, not the invitation");
    let page = v.get(&first.location.unwrap()).await.unwrap();
    assert_eq!((page.status, status_of(&page)), (200, "pending"));
    assert!(page.body.contains("Not connected") && page.body.contains("id=\"connect\""), "the green Connect");
    assert!(page.body.contains("id=\"connect-note\"") && page.body.contains("Super Admin"), "the note");
    for scope in xor_lever_shared::adapters::lever::SCOPES.split(' ') {
        assert!(page.body.contains(scope), "the note explains {scope}");
    }
    assert!(page.body.contains("Revoke Access"), "how to disconnect");
    assert!(!page.body.contains(token), "no token in the page");
    // The headers of a page that holds no inline code and may not be framed.
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(!csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains(&app.lever.url), "the connect form may go to Lever's authorization: {csp}");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(!page.body.contains("<style") && !page.body.contains(" style=") && !page.body.contains("<script>"));
}

#[tokio::test]
async fn nothing_is_reachable_without_a_link_of_its_own_connection() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let (a, _) = app.add_pending_connection("acme", &app.lever).await;
    let (b, _) = app.add_pending_connection("globex", &app.lever).await;
    let v = Visitor::new();
    let bare = format!("{}/connections/{a}", app.url);
    let refused = |p: &Page| p.status == 403 && p.set_cookie.is_empty() && !p.body.contains("data-status");
    assert!(refused(&v.get(&bare).await.unwrap()), "no link");
    let made_up = v.get(&format!("{bare}?invitation=made-up")).await.unwrap();
    assert!(refused(&made_up), "made-up invitation");
    let nobody = v.get(&format!("{}/connections/nobody?invitation=made-up", app.url)).await.unwrap();
    assert_eq!(made_up.body, nobody.body, "no hint whether the connection exists");
    assert!(refused(&v.get(&format!("{bare}?link=made.up")).await.unwrap()), "made-up page link");
    assert!(refused(&v.get(&format!("{}/connections/nobody?link=x.y", app.url)).await.unwrap()), "no such connection");
    // B's links do not open A.
    let b_inv = invitation_link(&app, &b).await;
    let b_token = b_inv.split("invitation=").nth(1).unwrap();
    assert!(refused(&v.get(&format!("{bare}?invitation={b_token}")).await.unwrap()), "another's invitation");
    let b_link = page_link(&app, &b).await;
    let b_link_token = b_link.split("link=").nth(1).unwrap();
    assert!(refused(&v.get(&format!("{bare}?link={b_link_token}")).await.unwrap()), "another's page link");
    // An altered page link: its claims changed, its signature kept.
    let a_link = page_link(&app, &a).await;
    let t = a_link.split("link=").nth(1).unwrap();
    let (payload, sig) = t.split_once('.').unwrap();
    let forged = format!("{}X.{sig}", &payload[..payload.len() - 1]);
    assert!(refused(&v.get(&format!("{bare}?link={forged}")).await.unwrap()), "altered page link");
    // B's session is no session for A.
    let b_page = open(&app, &v, &b_link).await;
    assert_eq!(b_page.status, 200);
    assert!(refused(&v.get(&bare).await.unwrap()), "another connection's session");
    // A used or replaced invitation no longer opens anything.
    let old = invitation_link(&app, &a).await;
    let _newer = invitation_link(&app, &a).await;
    assert!(refused(&Visitor::new().get(&old).await.unwrap()), "a replaced invitation");
}

#[tokio::test]
async fn links_and_sessions_expire() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let link = access::page_link(&app.setup, &app.url, &app.id, 1).await.unwrap();
    let v = Visitor::new();
    assert_eq!(open(&app, &v, &link).await.status, 200);
    app.skew_ms.store(13 * 3600 * 1000, Ordering::SeqCst);
    let bare = format!("{}/connections/{}", app.url, app.id);
    let later = v.get(&bare).await.unwrap();
    assert_eq!(later.status, 403, "a session lasts 12 hours at most");
    assert!(later.body.contains("expired"), "{}", later.body);
    app.skew_ms.store(25 * 3600 * 1000, Ordering::SeqCst);
    let expired = Visitor::new().get(&link).await.unwrap();
    assert_eq!((expired.status, expired.set_cookie.len()), (403, 0), "a 1-day link after a day");
}

#[tokio::test]
async fn the_connected_section_shows_the_jobs_candidates_and_what_waits() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    // 120 jobs, one with a hostile title and a hostile link (as a feed or XOR could send them).
    for i in 0..120 {
        let mut m = job_mapping(&app.id, &format!("p-{i:03}"), &format!("xj_{i:03}"));
        m.title = if i == 7 { "<script>alert(1)</script> Welder".into() } else { format!("Engineer {i:03}") };
        m.chatbot_url =
            Some(if i == 7 { "javascript:alert(1)".into() } else { format!("https://jobs.xor.ai/c/xj_{i:03}") });
        m.webchat_url = Some(format!("https://chat.xor.ai/w/xj_{i:03}"));
        m.location = Some("Berlin, DE".into());
        app.setup.mappings.upsert_mapping(m, None).await.unwrap();
    }
    let body = serde_json::to_vec(&app.screening("cand_1")).unwrap();
    assert_eq!(app.deliver("msg_1", &body).await.0, 200);
    app.lever.inject([xor_lever_sandbox::lever::Fault {
        status: Some(503),
        op: Some("create".into()),
        ..Default::default()
    }]);
    let body2 = serde_json::to_vec(&app.screening("cand_2")).unwrap();
    assert_eq!(app.deliver("msg_2", &body2).await.0, 503);
    // The last sync found the feed unchanged.
    let run = xor_lever_shared::domain::SyncRun {
        run_id: "r1".into(),
        connection: app.id.clone(),
        started_at_ms: 1_000,
        finished_at_ms: 2_000,
        outcome: xor_lever_shared::domain::RunOutcome::NotModified,
        summary: Default::default(),
        guard: None,
        failures: vec![],
        warnings: vec![],
    };
    app.setup.runs.record_run(&run).await.unwrap();

    let v = Visitor::new();
    let page = open(&app, &v, &page_link(&app, &app.id).await).await;
    assert_eq!((page.status, status_of(&page)), (200, "connected"));
    // What XOR holds after it, not "0 created, 0 updated" (which reads as nothing published).
    assert!(page.body.contains("121 jobs in XOR, nothing changed (feed unchanged)"), "{}", page.body);
    assert!(!page.body.contains("id=\"connect\""), "a page link looks; it does not connect");
    assert!(page.body.contains("121 of 121 jobs (121 active)"), "{}", page.body);
    assert!(page.body.contains("Page 1 of 3"));
    assert_eq!(page.body.matches("data-label=\"Title\"").count(), 50);
    assert!(page.body.contains("https://chat.xor.ai/w/xj_000"), "the webchat link");
    assert!(page.body.contains("data-copy=\"https://jobs.xor.ai/c/xj_000\""), "a copy button");
    // The delivery's reason (Lever's or a store's words) is for operators, not this page.
    assert!(!page.body.contains("Lever unavailable for"), "no internal detail");
    // Escaped, and never a javascript: link.
    assert!(!page.body.contains("<script>alert"), "a title is escaped");
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; Welder"));
    assert!(!page.body.contains("href=\"javascript:"), "a javascript: link is not a link");
    // Search and pages.
    let found = v.get(&format!("{}/connections/{}?q=welder", app.url, app.id)).await.unwrap();
    assert!(found.body.contains("1 of 121 jobs"), "{}", found.body);
    let third = v.get(&format!("{}/connections/{}?page=3", app.url, app.id)).await.unwrap();
    assert!(third.body.contains("Page 3 of 3") && third.body.contains("rel=\"prev\""));
    // The candidate in Lever (initials only), and the one that waits.
    assert!(page.body.contains("A. L.") && !page.body.contains("Lovelace") && !page.body.contains("cand_1@"));
    let none = v.get(&format!("{}/connections/{}?q=zzz&page=abc", app.url, app.id)).await.unwrap();
    assert!(none.status == 200 && none.body.contains("No job matches"), "{}", none.body);
    // An admin with a live invitation may authorize again (e.g. for a new permission).
    let again = open(&app, &Visitor::new(), &invitation_link(&app, &app.id).await).await;
    assert_eq!(status_of(&again), "connected");
    assert!(again.body.contains("Authorize again") && again.body.contains("id=\"connect-note\""));
    assert!(page.body.contains("Open in Lever"));
    let waiting = page.body.split("id=\"waiting\"").nth(1).expect("a waiting table");
    assert!(waiting.contains("msg_2") && waiting.contains("Replay"));

    // Replay sends it on.
    let after = v
        .post(
            &format!("{}/connections/{}/replay", app.url, app.id),
            &app.url,
            &[("csrf", &csrf(&page)), ("webhook_id", "msg_2")],
        )
        .await
        .unwrap();
    assert_eq!(after.status, 303);
    let now = v.get(&format!("{}/connections/{}", app.url, app.id)).await.unwrap();
    assert!(now.body.contains("Nothing waits."), "{}", now.body);
    assert_eq!(now.body.matches("Open in Lever").count(), 2);
    assert_eq!(app.lever.opportunities().len(), 2);
}

#[tokio::test]
async fn every_post_needs_the_session_s_csrf_field_and_this_origin() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let (id, _) = app.add_pending_connection("acme", &app.lever).await;
    let v = Visitor::new();
    let page = open(&app, &v, &invitation_link(&app, &id).await).await;
    let good = csrf(&page);
    let other = Visitor::new();
    let other_page = open(&app, &other, &invitation_link(&app, &id).await).await;
    let theirs = csrf(&other_page);
    let base = format!("{}/connections/{id}", app.url);
    for action in ["connect", "replay", "disable"] {
        let url = format!("{base}/{action}");
        for (why, form, origin) in [
            ("no field", vec![], app.url.as_str()),
            ("a made-up field", vec![("csrf", "x")], app.url.as_str()),
            ("another session's field", vec![("csrf", theirs.as_str())], app.url.as_str()),
            ("another origin", vec![("csrf", good.as_str())], "https://evil.example"),
        ] {
            let r = v.post(&url, origin, &form).await.unwrap();
            assert_eq!(r.status, 403, "{action} with {why}");
        }
        // Without the session cookie, even with a good field.
        let r = Visitor::new().post(&url, &app.url, &[("csrf", good.as_str())]).await.unwrap();
        assert_eq!(r.status, 403, "{action} without the session");
    }
    assert_eq!(app.setup.connections.connection(&id).await.unwrap().unwrap().status, ConnectionStatus::Pending);
    // With all of it: a connection never connected has nothing to disable (a leaked invitation
    // must not block the real admin's Connect).
    let r = v.post(&format!("{base}/disable"), &app.url, &[("csrf", good.as_str())]).await.unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(app.setup.connections.connection(&id).await.unwrap().unwrap().status, ConnectionStatus::Pending);
    // A connected one is disabled, through its confirmation note.
    let w = Visitor::new();
    let page = open(&app, &w, &page_link(&app, &app.id).await).await;
    assert!(page.body.contains("href=\"#disable-note\"") && page.body.contains("id=\"disable-confirm\""));
    let mine = format!("{}/connections/{}", app.url, app.id);
    let r = w.post(&format!("{mine}/disable"), &app.url, &[("csrf", csrf(&page).as_str())]).await.unwrap();
    assert_eq!(r.status, 303);
    assert_eq!(app.setup.connections.connection(&app.id).await.unwrap().unwrap().status, ConnectionStatus::Disabled);
    assert_eq!(status_of(&w.get(&mine).await.unwrap()), "disabled");
}

#[tokio::test]
async fn the_note_s_connect_goes_to_lever_and_comes_back_to_the_connected_section() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let (id, _) = app.add_pending_connection("acme", &app.lever).await;
    let v = Visitor::new();
    let page = open(&app, &v, &invitation_link(&app, &id).await).await;
    let to_lever =
        v.post(&format!("{}/connections/{id}/connect", app.url), &app.url, &[("csrf", &csrf(&page))]).await.unwrap();
    assert_eq!(to_lever.status, 302);
    let authorize = to_lever.location.unwrap();
    assert!(authorize.starts_with(&format!("{}/authorize?", app.lever.url)), "{authorize}");
    let callback = v.get(&authorize).await.unwrap().location.expect("the sandbox approves");
    let back = v.get(&callback).await.unwrap();
    assert_eq!(
        (back.status, back.location.as_deref()),
        (303, Some(format!("{}/connections/{id}", app.url).as_str())),
        "{}",
        back.body
    );
    let section = v.get(&format!("{}/connections/{id}", app.url)).await.unwrap();
    assert_eq!(status_of(&section), "connected");
    assert!(section.body.contains("Authorized by"), "who authorized");
    // As a Super Admin recognises them: name and email, read from Lever at connect time.
    assert!(
        section.body.contains("Grace Hopper &lt;grace@acme.example&gt;"),
        "the authorizing and acting user named: {}",
        section.body
    );
    assert_eq!(section.body.matches("Grace Hopper &lt;grace@acme.example&gt;").count(), 2, "authorized by, created as");
    // Lever's webhooks: registered, and what the Super Admin switches on in Lever (issue 25).
    assert!(
        section.body.contains("4 Lever webhooks registered")
            && section.body.contains("Integrations and API → Webhooks"),
        "{}",
        section.body
    );
    // The invitation is spent: the Connect button is gone and the link opens nothing more.
    assert!(!section.body.contains("id=\"connect\""));
}

#[tokio::test]
async fn a_revoked_connection_says_so_and_keeps_what_arrived() {
    let app = spawn_webhook_app(StoreKind::Sqlite).await;
    app.setup.connections.set_status(&app.id, ConnectionStatus::Revoked).await.unwrap();
    let body = serde_json::to_vec(&app.screening("cand_r")).unwrap();
    assert_eq!(app.deliver("msg_r", &body).await.0, 503, "kept, waiting for a new authorization");
    let v = Visitor::new();
    let page = open(&app, &v, &page_link(&app, &app.id).await).await;
    assert_eq!(status_of(&page), "revoked");
    assert!(page.body.contains("Revoked in Lever") && page.body.contains("sent on, once each"));
    assert!(!page.body.contains("id=\"connect\""), "a page link cannot reconnect");
    assert!(page.body.contains("waiting for Lever to be connected"), "the candidate that waits");
    // With a new connect link, the admin may connect again.
    let again = open(&app, &Visitor::new(), &invitation_link(&app, &app.id).await).await;
    assert!(again.body.contains("id=\"connect\""));
}

/// The section says where the account lives (an EU account: "Lever EU") and, 30 days before Lever
/// ends the authorization (a year after it was given), that a Super Admin must authorize again.
#[tokio::test]
async fn the_section_shows_the_region_and_when_the_authorization_must_be_renewed() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let mut c = app.setup.connections.connection(&app.id).await.unwrap().unwrap();
    c.lever.env = LeverEnv::Eu;
    let now_s = xor_lever_shared::usecases::now_ms() / 1000;
    c.lever.authorized_at = Some(now_s - 200 * 86_400);
    app.setup.connections.set_lever(&app.id, &c.lever).await.unwrap();
    let v = Visitor::new();
    let page = open(&app, &v, &page_link(&app, &app.id).await).await;
    assert!(page.body.contains(r#"<dd id="lever-region">Lever EU</dd>"#), "{}", page.body);
    assert!(page.body.contains("Authorization ends"), "{}", page.body);
    assert!(!page.body.contains("must authorize again"), "not yet: 165 days left");

    c.lever.authorized_at = Some(now_s - 340 * 86_400);
    app.setup.connections.set_lever(&app.id, &c.lever).await.unwrap();
    let page = v.get(&format!("{}/connections/{}", app.url, app.id)).await.unwrap();
    assert!(page.body.contains("a Super Admin must authorize again before then"), "{}", page.body);
}
