//! Connect and disconnect over real HTTP against the Lever sandbox: the authorization code flow,
//! every refusal, the lifecycle (revoked → pending_reauth → reconnect → replay exactly once), and
//! two connections side by side.
use std::sync::atomic::Ordering;

use xor_lever_sandbox::LeverSandbox;
use xor_lever_sandbox::harness::{Flow, StoreKind, WebhookApp, query_param, spawn_webhook_app, spawn_webhook_app_at};
use xor_lever_sandbox::lever::{ADMIN_USER, CLIENT_ID, Config, Fault, SANDBOX_ACCOUNT};
use xor_lever_shared::adapters::enc;
use xor_lever_shared::domain::invitation::hash_token;
use xor_lever_shared::domain::{ConnectionStatus, DeliveryStatus};

async fn status(app: &WebhookApp, id: &xor_lever_shared::domain::ConnectionId) -> ConnectionStatus {
    app.deps.connections.connection(id).await.unwrap().unwrap().status
}

#[tokio::test]
async fn the_authorization_code_flow_connects_a_pending_connection() {
    let app = spawn_webhook_app(StoreKind::Aws).await;
    let lever = LeverSandbox::spawn().await;
    let (id, _) = app.add_pending_connection("acme", &lever).await;
    let link = app.connect_link(&id).await;
    let (start, cookie) = app.get_redirect_with_cookie(&link).await;
    assert!(start.starts_with(&format!("{}/authorize?", lever.url)), "{start}");
    assert_eq!(query_param(&start, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(query_param(&start, "response_type").as_deref(), Some("code"));
    assert_eq!(query_param(&start, "prompt").as_deref(), Some("consent"));
    assert_eq!(
        query_param(&start, "audience").as_deref(),
        Some("https://api.lever.co/v1/"),
        "the environment's API with its trailing slash, never an overridden base"
    );
    assert_eq!(query_param(&start, "redirect_uri"), Some(format!("{}/oauth/lever/callback", app.url)));
    let scope = query_param(&start, "scope").unwrap();
    for s in [
        "offline_access",
        "opportunities:read:admin",
        "opportunities:write:admin",
        "files:write:admin",
        "notes:read:admin",
        "notes:write:admin",
        "postings:read:admin",
        "users:read:admin",
    ] {
        assert!(scope.split(' ').any(|x| x == s), "{scope}");
    }
    let callback = app.get_redirect(&start).await;
    let (st, page) = app.get_with_cookie(&callback, &cookie.expect("the state cookie")).await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("Lever is connected"), "{page}");
    assert!(page.contains("created as user usr_admin_0001: the Super Admin who authorized"), "{page}");
    assert_eq!(status(&app, &id).await, ConnectionStatus::Connected);
    let c = app.deps.connections.connection(&id).await.unwrap().unwrap();
    assert_eq!(c.lever.perform_as.as_deref(), Some(ADMIN_USER), "the authorizing Super Admin, from the token");
    assert_eq!(c.lever.account_id.as_deref(), Some(SANDBOX_ACCOUNT), "bound to the Lever account that authorized");
    assert_eq!(c.lever.authorized_by.as_deref(), Some(ADMIN_USER));
    let pair = app.deps.tokens.stored(&id).await.unwrap().expect("the token pair is in the connection's secret");
    assert!(!page.contains(&pair.access_token) && !page.contains(&pair.refresh_token), "no token on the page");
    assert_eq!(lever.stats().code_exchanges, 1);
}

#[tokio::test]
async fn the_connect_link_needs_a_live_invitation_for_that_connection() {
    let app = spawn_webhook_app(StoreKind::Aws).await;
    let lever = LeverSandbox::spawn().await;
    let (a, _) = app.add_pending_connection("a", &lever).await;
    let (b, _) = app.add_pending_connection("b", &lever).await;
    let refused = |url: String| {
        let app = &app;
        async move {
            let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
            let r = c.get(&url).send().await.unwrap();
            assert!(r.headers().get("location").is_none(), "redirects nowhere: {url}");
            assert!(r.headers().get("set-cookie").is_none(), "{url}");
            let _ = app;
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // What an outsider can build from public ids: no invitation, a made-up one.
    for url in [
        format!("{}/oauth/lever/start?connection={a}", app.url),
        format!("{}/oauth/lever/start?connection={a}&invitation=", app.url),
        format!("{}/oauth/lever/start?connection={a}&invitation={}", app.url, "A".repeat(43)),
        format!("{}/oauth/lever/start?connection=nobody-here&invitation=x", app.url),
    ] {
        let (st, page) = refused(url.clone()).await;
        assert_eq!(st, 403, "{url}: {page}");
        assert!(page.contains("<h1>") && page.contains("not valid"), "a readable page: {page}");
    }
    // A's invitation does not open B.
    let link_a = app.connect_link(&a).await;
    let token = query_param(&link_a, "invitation").unwrap();
    assert!(token.len() >= 43, "256 bits, URL-safe: {token}");
    let (st, _) = refused(link_a.replace(&format!("connection={a}"), &format!("connection={b}"))).await;
    assert_eq!(st, 403);
    // Only the hash is stored.
    let inv = app.deps.invitations.invitation(&a, &hash_token(&token)).await.unwrap().expect("stored by its hash");
    assert_ne!(inv.token_hash, token);
    assert!(app.deps.invitations.invitation(&a, &token).await.unwrap().is_none());
    assert_eq!((inv.expires_at_ms - inv.created_at_ms) / 86_400_000, 7, "7 days by default");
    // Single use: once A is connected, the same link is spent.
    let flow = app.authorize_with(&link_a).await;
    assert_eq!(app.get_with_cookie(&flow.callback, &flow.cookie).await.0, 200);
    let (st, page) = refused(link_a.clone()).await;
    assert_eq!(st, 403);
    assert!(page.contains("already used"), "{page}");
    // Expiring: a week later, an unused link is dead.
    let link_b = app.connect_link(&b).await;
    app.skew_ms.store(7 * 86_400_000 + 1, Ordering::SeqCst);
    let (st, page) = refused(link_b).await;
    assert_eq!(st, 403);
    assert!(page.contains("expired"), "{page}");
    app.skew_ms.store(0, Ordering::SeqCst);
    assert_eq!(status(&app, &b).await, ConnectionStatus::Pending);
}

/// The reproduced attack: an outsider who knows a connected connection's id authorizes in their
/// own Lever account. Without an invitation they never reach Lever; with a leaked one, the
/// callback still refuses to move the connection to their account.
#[tokio::test]
async fn a_connected_connection_cannot_be_taken_over_by_another_lever_account() {
    let app = spawn_webhook_app(StoreKind::Aws).await;
    let lever = LeverSandbox::spawn().await;
    let (id, _) = app.add_pending_connection("acme", &lever).await;
    assert_eq!(app.connect(&id).await.0, 200);
    let before = app.deps.tokens.stored(&id).await.unwrap().unwrap();

    let (st, _) = app.get(&format!("{}/oauth/lever/start?connection={id}", app.url)).await;
    assert_eq!(st, 403, "no invitation, no Lever");

    // A leaked invitation, used from a stranger's Lever account.
    lever.set_config(Config { account_id: "acct-stranger".into(), ..Config::default() });
    let (st, page) = app.connect(&id).await;
    assert_eq!(st, 403, "{page}");
    assert!(page.contains("different Lever account"), "{page}");
    let c = app.deps.connections.connection(&id).await.unwrap().unwrap();
    assert_eq!((c.status, c.lever.account_id.as_deref()), (ConnectionStatus::Connected, Some(SANDBOX_ACCOUNT)));
    assert_eq!(app.deps.tokens.stored(&id).await.unwrap().unwrap(), before, "the customer's tokens are untouched");

    // A token without account claims cannot prove it is the same account either.
    lever.set_config(Config { opaque_tokens: true, ..Config::default() });
    let (st, page) = app.connect(&id).await;
    assert_eq!(st, 403, "{page}");
    assert!(page.contains("did not say which account"), "{page}");
    assert_eq!(app.deps.tokens.stored(&id).await.unwrap().unwrap(), before);

    // Rebinding is the operator's explicit act; it voids the links sent for the old binding.
    let old_link = app.connect_link(&id).await;
    let previous = xor_lever_shared::usecases::connect::reset_lever(&app.deps, &id, "ops@test", &Default::default())
        .await
        .unwrap();
    assert_eq!(previous.as_deref(), Some(SANDBOX_ACCOUNT));
    assert_eq!(app.get(&old_link).await.0, 403, "a link from before the reset");
    let c = app.deps.connections.connection(&id).await.unwrap().unwrap();
    assert!(c.lever.reset.as_deref().is_some_and(|r| r.contains("ops@test")), "on the record: {:?}", c.lever.reset);
    assert_eq!(status(&app, &id).await, ConnectionStatus::Pending);
    assert!(app.deps.tokens.stored(&id).await.unwrap().is_none(), "the old account's tokens are forgotten");
    lever.set_config(Config { account_id: "acct-new-home".into(), ..Config::default() });
    assert_eq!(app.connect(&id).await.0, 200);
    let c = app.deps.connections.connection(&id).await.unwrap().unwrap();
    assert_eq!(c.lever.account_id.as_deref(), Some("acct-new-home"));
}

/// A connection authorized before accounts were recorded (no `account_id`) is bound to the
/// account its stored tokens name.
#[tokio::test]
async fn a_connection_connected_before_accounts_were_recorded_is_bound_by_its_tokens() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let c = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
    assert_eq!((c.status, c.lever.account_id.as_deref()), (ConnectionStatus::Connected, None));
    let before = app.deps.tokens.stored(&app.id).await.unwrap().unwrap();
    app.lever.set_config(Config { account_id: "acct-stranger".into(), ..Config::default() });
    let (st, page) = app.connect(&app.id).await;
    assert_eq!(st, 403, "{page}");
    assert!(page.contains("different Lever account"), "{page}");
    assert_eq!(app.deps.tokens.stored(&app.id).await.unwrap().unwrap(), before);
    // The same account reconnects, and the binding is recorded from now on.
    app.lever.set_config(Config::default());
    assert_eq!(app.connect(&app.id).await.0, 200);
    let c = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
    assert_eq!(c.lever.account_id.as_deref(), Some(SANDBOX_ACCOUNT));
}

#[tokio::test]
async fn a_new_connect_link_replaces_the_earlier_ones() {
    let app = spawn_webhook_app(StoreKind::Aws).await;
    let lever = LeverSandbox::spawn().await;
    let (id, _) = app.add_pending_connection("acme", &lever).await;
    let first = app.connect_link(&id).await;
    let second = app.connect_link(&id).await;
    let (st, page) = app.get(&first).await;
    assert_eq!(st, 403);
    assert!(page.contains("replaced by a newer one"), "{page}");
    let flow = app.authorize_with(&second).await;
    assert_eq!(app.get_with_cookie(&flow.callback, &flow.cookie).await.0, 200);
}

#[tokio::test]
async fn a_connection_never_bound_accepts_a_token_without_claims_as_unverified() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let lever = LeverSandbox::spawn().await;
    lever.set_config(Config { opaque_tokens: true, ..Config::default() });
    let (id, _) = app.add_pending_connection("acme", &lever).await;
    assert_eq!(app.connect(&id).await.0, 200);
    let c = app.deps.connections.connection(&id).await.unwrap().unwrap();
    assert_eq!((c.status, c.lever.account_id), (ConnectionStatus::Connected, None));
    // Lever did not say who authorized: the first Super Admin, found past the first page of users.
    assert_eq!(c.lever.perform_as.as_deref(), Some(ADMIN_USER));
    assert!(c.lever.perform_as_source.as_deref().is_some_and(|s| s.contains("first Super Admin")));
}

/// Lever's help article: only a Super Admin can configure the integration.
#[tokio::test]
async fn only_a_lever_super_admin_can_connect() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let lever = LeverSandbox::spawn().await;
    let (id, _) = app.add_pending_connection("acme", &lever).await;
    let link = app.connect_link(&id).await;
    lever.set_config(Config { user_id: xor_lever_sandbox::lever::POSTING_OWNER.into(), ..Config::default() });
    let flow = app.authorize_with(&link).await;
    let (st, page) = app.get_with_cookie(&flow.callback, &flow.cookie).await;
    assert_eq!(st, 403, "{page}");
    assert!(
        page.contains("only a Lever Super Admin can connect") && page.contains("Rita Recruiter (team member)"),
        "{page}"
    );
    assert_eq!(status(&app, &id).await, ConnectionStatus::Pending);
    assert!(app.deps.tokens.stored(&id).await.unwrap().is_none(), "nothing stored");
    // The same link still works for a Super Admin.
    lever.set_config(Config { user_id: xor_lever_sandbox::lever::OTHER_ADMIN.into(), ..Config::default() });
    let flow = app.authorize_with(&link).await;
    assert_eq!(app.get_with_cookie(&flow.callback, &flow.cookie).await.0, 200);
    let c = app.deps.connections.connection(&id).await.unwrap().unwrap();
    assert_eq!(c.lever.perform_as.as_deref(), Some(xor_lever_sandbox::lever::OTHER_ADMIN), "the one who authorized");
}

/// The state is bound to the browser that started the flow: a state link handed to someone
/// else (who authorizes in their Lever) comes back without the cookie and is refused.
#[tokio::test]
async fn a_state_link_completed_in_another_browser_is_refused() {
    let app = spawn_webhook_app(StoreKind::Sqlite).await;
    let lever = LeverSandbox::spawn().await;
    let (id, _) = app.add_pending_connection("acme", &lever).await;
    let flow = app.authorize(&id).await;
    assert!(flow.cookie.starts_with("xor_lever_oauth="), "plain-HTTP loopback: no __Host- prefix: {}", flow.cookie);
    // Whoever holds the state link can read the state: it must not tell them the cookie.
    use base64::Engine;
    // `<key id>.<payload>.<mac>`
    let payload = flow.state.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let from_state = format!("xor_lever_oauth={}", claims["n"].as_str().unwrap());
    for cookie in ["", "xor_lever_oauth=someone-elses-nonce", "other=1", from_state.as_str()] {
        let (st, page) = app.get_with_cookie(&flow.callback, cookie).await;
        assert_eq!(st, 403, "{cookie}: {page}");
        assert!(page.contains("another browser"), "{page}");
    }
    assert_eq!(lever.stats().code_exchanges, 0, "the code was never exchanged");
    assert_eq!(status(&app, &id).await, ConnectionStatus::Pending);
    // The browser that started it still can.
    assert_eq!(app.get_with_cookie(&flow.callback, &flow.cookie).await.0, 200);
}

#[tokio::test]
async fn over_https_the_state_cookie_is_a_secure_host_cookie() {
    let app = spawn_webhook_app_at(StoreKind::Memory, "https://xl.example.com").await;
    let lever = LeverSandbox::spawn().await;
    let (id, _) = app.add_pending_connection("acme", &lever).await;
    let link = app.connect_link(&id).await;
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // As the custom domain forwards it (another host is first moved there).
    let r = c.get(&link).header("host", "xl.example.com").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("__Host-xor_lever_oauth="), "{set}");
    for attr in ["; Path=/", "; HttpOnly", "; SameSite=Lax", "; Secure"] {
        assert!(set.contains(attr), "{attr} missing: {set}");
    }
    assert!(!set.contains("Domain="), "{set}");
}

/// A custom domain (`PublicUrl`) in front of the API: a connect link opened on another host of
/// the same API (the execute-api URL, here 127.0.0.1) is moved to the public host first, so the
/// state cookie is set where Lever sends the browser back (the redirect URI is on the public
/// host), and the connection connects.
#[tokio::test]
async fn with_a_custom_domain_a_link_opened_on_another_host_connects_on_the_public_one() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let lever = LeverSandbox::spawn().await;
    let (id, _) = app.add_pending_connection("acme", &lever).await;
    // The same API served at a listener whose public URL names another host (and a trailing
    // slash, as an operator may write it).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = xor_lever_shared::http::router(app.deps.clone(), Some(format!("http://localhost:{port}/")));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let (token, _) = xor_lever_shared::usecases::connect::invite(&app.setup, &id, 7).await.unwrap();
    let link = xor_lever_shared::usecases::connect::connect_link(&format!("http://127.0.0.1:{port}"), &id, &token);
    let v = xor_lever_sandbox::visitor::Visitor::new();
    let first = v.get(&link).await.unwrap();
    assert_eq!(first.status, 307, "{}", first.body);
    let moved = first.location.clone().unwrap();
    assert!(moved.starts_with(&format!("http://localhost:{port}/oauth/lever/start?")), "{moved}");
    assert!(first.set_cookie.is_empty(), "no cookie on the host Lever does not come back to");
    let start = v.get(&moved).await.unwrap();
    let to_lever = start.location.clone().unwrap();
    assert_eq!(
        query_param(&to_lever, "redirect_uri"),
        Some(format!("http://localhost:{port}/oauth/lever/callback")),
        "one origin, no double slash"
    );
    let done = v.follow(&to_lever).await.unwrap();
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Lever is connected"), "{}", done.body);
    assert_eq!(status(&app, &id).await, ConnectionStatus::Connected);
    // Behind a proxy that names the public host in X-Forwarded-Host: served, never a loop.
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let (token, _) = xor_lever_shared::usecases::connect::invite(&app.setup, &id, 7).await.unwrap();
    let proxied = xor_lever_shared::usecases::connect::connect_link(&format!("http://127.0.0.1:{port}"), &id, &token);
    let r = c.get(&proxied).header("x-forwarded-host", format!("localhost:{port}")).send().await.unwrap();
    assert_ne!(r.status().as_u16(), 307, "the proxy's public host is the request's");
    // XOR's webhooks are taken on any host of the API (no redirect for a POST).
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = c.post(format!("http://127.0.0.1:{port}/webhooks/xor/{id}")).body("{}").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "refused for its signature, not moved");
}

#[tokio::test]
async fn a_reused_expired_forged_or_swapped_state_is_refused() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let lever = LeverSandbox::spawn().await;
    let (a, _) = app.add_pending_connection("a", &lever).await;
    let (b, _) = app.add_pending_connection("b", &lever).await;

    // Reused.
    let flow = app.authorize(&a).await;
    assert_eq!(app.get_with_cookie(&flow.callback, &flow.cookie).await.0, 200);
    let (st, page) = app.get_with_cookie(&flow.callback, &flow.cookie).await;
    assert_eq!(st, 400);
    assert!(page.contains("already used"), "{page}");

    // Expired.
    let flow = app.authorize(&b).await;
    app.skew_ms.store(11 * 60 * 1000, Ordering::SeqCst);
    let (st, page) = app.get_with_cookie(&flow.callback, &flow.cookie).await;
    assert_eq!(st, 400);
    assert!(page.contains("expired"), "{page}");
    app.skew_ms.store(0, Ordering::SeqCst);
    assert_eq!(status(&app, &b).await, ConnectionStatus::Pending);

    // Forged: a state signed by anyone else.
    let Flow { callback, state, cookie } = app.authorize(&b).await;
    let (head, sig) = state.rsplit_once('.').unwrap();
    let (kid, payload) = head.split_once('.').unwrap();
    let forged = callback.replace(&enc(&state), &enc(&format!("{head}.{}", sig.chars().rev().collect::<String>())));
    let (st, page) = app.get_with_cookie(&forged, &cookie).await;
    assert_eq!(st, 400);
    assert!(page.contains("not valid"), "{page}");

    // Swapped: A's signed state edited to name B.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: serde_json::Value = serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap();
    claims["c"] = a.to_string().into();
    let swapped_state = format!("{kid}.{}.{sig}", b64.encode(serde_json::to_vec(&claims).unwrap()));
    let swapped = callback.replace(&enc(&state), &enc(&swapped_state));
    assert_eq!(app.get_with_cookie(&swapped, &cookie).await.0, 400);
    assert_eq!(status(&app, &b).await, ConnectionStatus::Pending, "nothing changed");
}

#[tokio::test]
async fn a_denied_consent_or_a_failed_exchange_is_a_readable_page_and_changes_nothing() {
    let app = spawn_webhook_app(StoreKind::Sqlite).await;
    let lever = LeverSandbox::spawn().await;
    let (id, _) = app.add_pending_connection("acme", &lever).await;
    lever.set_config(Config { deny_consent: true, ..Config::default() });
    let (st, page) = app.connect(&id).await;
    assert_eq!(st, 200);
    assert!(page.contains("did not authorize") && page.contains("User did not authorize the request"), "{page}");
    assert_eq!(status(&app, &id).await, ConnectionStatus::Pending);

    lever.set_config(Config::default());
    lever.inject([Fault { status: Some(500), op: Some("token".into()), ..Default::default() }]);
    let (st, page) = app.connect(&id).await;
    assert_eq!(st, 400);
    assert!(page.contains("Lever refused the authorization code"), "{page}");
    assert!(page.to_lowercase().starts_with("<!doctype html>"), "a page, not a 500");
    assert_eq!(status(&app, &id).await, ConnectionStatus::Pending);
    assert!(app.deps.tokens.stored(&id).await.unwrap().is_none());

    let (st, page) = app.get(&format!("{}/oauth/lever/start?connection=nobody-here", app.url)).await;
    assert_eq!(st, 403);
    assert!(page.contains("not valid"));
}

#[tokio::test]
async fn revoke_then_reconnect_replays_each_waiting_webhook_exactly_once() {
    let app = spawn_webhook_app(StoreKind::Aws).await;
    let lever = LeverSandbox::spawn().await;
    let (id, secret) = app.add_pending_connection("acme", &lever).await;
    assert_eq!(app.connect(&id).await.0, 200);

    // The customer revokes the app in Lever; the next scheduled run notices.
    lever.revoke();
    let sync = app.sync_deps();
    let all = xor_lever_shared::usecases::sync_all(&sync, &Default::default(), 2, Some(&app.deps)).await.unwrap();
    let skipped = all.skipped.iter().find(|s| s.connection == id.as_str()).expect("reported as skipped");
    assert_eq!(skipped.status, ConnectionStatus::Revoked);
    assert_eq!(status(&app, &id).await, ConnectionStatus::Revoked);
    let refreshes = lever.stats().refresh_failures;

    // Webhooks meanwhile wait.
    for i in 0..3 {
        let body = serde_json::to_vec(&app.screening(&format!("cand_{i}"))).unwrap();
        let ts = xor_lever_shared::usecases::now_ms() / 1000;
        let sig =
            xor_lever_shared::domain::webhook::WebhookSecret::parse(&secret).unwrap().sign(&format!("m{i}"), ts, &body);
        let (st, v, _) = app.post_to(id.as_str(), &format!("m{i}"), &ts.to_string(), &sig, &body).await;
        assert_eq!((st, v["status"].as_str()), (503, Some("pending_reauth")));
    }
    assert_eq!(lever.stats().refresh_failures, refreshes, "no refresh attempts while revoked");
    assert!(lever.opportunities().is_empty());

    // The admin authorizes again (same Lever account, a new link): the waiting webhooks go
    // through, once each.
    let (st, page) = app.connect(&id).await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("3 waiting candidate(s) were sent on"), "{page}");
    assert_eq!(status(&app, &id).await, ConnectionStatus::Connected);
    assert_eq!(lever.opportunities().len(), 3);
    let done = app.deps.webhooks.deliveries(&id, DeliveryStatus::Completed, 10, None).await.unwrap();
    assert_eq!(done.items.len(), 3);
    // A later sweep or XOR retry changes nothing.
    let s = xor_lever_shared::usecases::webhook::retry_waiting(
        &app.deps,
        xor_lever_shared::usecases::now_ms() + 30_000,
        100,
    )
    .await
    .unwrap();
    assert_eq!(s.replayed, 0);
    assert_eq!(lever.opportunities().len(), 3);
    // Job mappings were kept throughout.
    assert!(app.deps.mappings.mapping_by_xor_job(&id, &app.xor_job).await.unwrap().is_some());
}

#[tokio::test]
async fn two_connections_side_by_side_are_isolated() {
    let app = spawn_webhook_app(StoreKind::Aws).await;
    let (lever_a, lever_b) = (LeverSandbox::spawn().await, LeverSandbox::spawn().await);
    let (a, secret_a) = app.add_pending_connection("a", &lever_a).await;
    let (b, secret_b) = app.add_pending_connection("b", &lever_b).await;
    assert_eq!(app.connect(&a).await.0, 200);
    assert_eq!(app.connect(&b).await.0, 200);
    // Secrets: each connection's tokens are its own.
    let (ta, tb) =
        (app.deps.tokens.stored(&a).await.unwrap().unwrap(), app.deps.tokens.stored(&b).await.unwrap().unwrap());
    assert_ne!(ta.refresh_token, tb.refresh_token);
    // A's secret cannot sign for B.
    let body = serde_json::to_vec(&app.screening("cand_x")).unwrap();
    let ts = xor_lever_shared::usecases::now_ms() / 1000;
    let sig_a = xor_lever_shared::domain::webhook::WebhookSecret::parse(&secret_a).unwrap().sign("mx", ts, &body);
    assert_eq!(app.post_to(b.as_str(), "mx", &ts.to_string(), &sig_a, &body).await.0, 401);
    // A's failure (revoked) never stops B.
    lever_a.revoke();
    let sig_b = xor_lever_shared::domain::webhook::WebhookSecret::parse(&secret_b).unwrap().sign("mb", ts, &body);
    let (st, v, _) = app.post_to(b.as_str(), "mb", &ts.to_string(), &sig_b, &body).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("completed")));
    let sig_a = xor_lever_shared::domain::webhook::WebhookSecret::parse(&secret_a).unwrap().sign("ma", ts, &body);
    let (st, _, _) = app.post_to(a.as_str(), "ma", &ts.to_string(), &sig_a, &body).await;
    assert_eq!(st, 503);
    assert_eq!(
        (lever_a.opportunities().len(), lever_b.opportunities().len()),
        (0, 1),
        "each connection's candidates go to its own Lever"
    );
    // The same screening id under two connections is two screenings (claims are per connection).
    assert_eq!(status(&app, &a).await, ConnectionStatus::Revoked);
    assert_eq!(status(&app, &b).await, ConnectionStatus::Connected);
}

/// The `revoked-connections` alarm counts a revoked connection until an operator acts: a connect
/// link sent (it waits for the Super Admin while the link lives), or the connection disabled. A
/// link that was voided (`revoke-links`) or expired unused counts it again.
#[tokio::test]
async fn a_revoked_connection_alarms_until_an_operator_sends_a_link_or_disables_it() {
    use xor_lever_shared::usecases::turns::dispatch;
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let queue = xor_lever_shared::adapters::local_queue::LocalQueue::new();
    let unattended = || async {
        let r = dispatch(app.setup.connections.as_ref(), queue.as_ref()).await.unwrap();
        r.skipped.iter().filter(|s| s.connection == app.id.as_str() && s.unattended).count()
    };
    app.setup.connections.set_status(&app.id, ConnectionStatus::Revoked).await.unwrap();
    assert_eq!(unattended().await, 1, "revoked, nobody has acted");
    let _link = app.connect_link(&app.id).await;
    assert_eq!(unattended().await, 0, "a connect link is out: back to OK");
    // A week later the link has expired unused.
    let c = app.setup.connections.connection(&app.id).await.unwrap().unwrap();
    let week_later = (app.setup.clock)() + 8 * 86_400_000;
    assert!(c.revocation_unattended(week_later), "the link expired unused");
    let _link = app.connect_link(&app.id).await;
    xor_lever_shared::usecases::section::access::revoke_links(&app.setup, &app.id).await.unwrap();
    assert_eq!(unattended().await, 1, "the link was voided");
    // A link used to reconnect has done its job: the next revoke alarms at once.
    let (st, page) = app.connect(&app.id).await;
    assert_eq!(st, 200, "{page}");
    app.setup.connections.set_status(&app.id, ConnectionStatus::Revoked).await.unwrap();
    assert_eq!(unattended().await, 1, "revoked again after reconnecting");
    app.setup.connections.set_status(&app.id, ConnectionStatus::Disabled).await.unwrap();
    assert_eq!(unattended().await, 0, "disabled: the operator has decided");
}

/// Authorizing registers Lever's webhooks (issue 25): one per event the product uses, at the
/// connection's own URL, each signature token kept in the connection's secret; a second
/// authorization registers nothing twice.
#[tokio::test]
async fn connecting_registers_one_webhook_per_event_and_reconnecting_registers_none_twice() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let lever = LeverSandbox::spawn().await;
    let (id, _) = app.add_pending_connection("acme", &lever).await;
    let (st, page) = app.connect(&id).await;
    assert_eq!(st, 200, "{page}");
    let url = format!("{}/webhooks/lever/{id}", app.url);
    let mut registered = lever.registered_webhooks();
    registered.sort_by(|a, b| a.2.cmp(&b.2));
    let events: Vec<&str> = registered.iter().map(|(_, _, e)| e.as_str()).collect();
    assert_eq!(events, ["candidateArchiveChange", "candidateDeleted", "candidateHired", "candidateStageChange"]);
    assert!(registered.iter().all(|(_, u, _)| *u == url), "{registered:?}");
    let kept = xor_lever_shared::usecases::connect::subscribe::stored(&app.setup, &id).await.unwrap();
    assert_eq!(kept.len(), 4);
    assert!(kept.values().all(|h| h.token.len() > 8), "each signature token kept: {kept:?}");

    let (st, page) = app.connect(&id).await;
    assert_eq!(st, 200, "{page}");
    let mut again = lever.registered_webhooks();
    again.sort_by(|a, b| a.2.cmp(&b.2));
    assert_eq!(again, registered, "nothing registered twice");
}

/// An operator's rebinding (`reset-lever`) removes the old account's webhooks from Lever and
/// forgets their tokens (issue 25: nothing the old account sends is believed after).
#[tokio::test]
async fn resetting_the_lever_binding_removes_its_webhooks() {
    let app = spawn_webhook_app(StoreKind::Memory).await;
    let lever = LeverSandbox::spawn().await;
    let (id, _) = app.add_pending_connection("acme", &lever).await;
    let (st, page) = app.connect(&id).await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(lever.registered_webhooks().len(), 4);
    let to = xor_lever_shared::usecases::connect::Relocation::default();
    xor_lever_shared::usecases::connect::reset_lever(&app.setup, &id, "ops", &to).await.unwrap();
    assert!(lever.registered_webhooks().is_empty(), "{:?}", lever.registered_webhooks());
    let kept = xor_lever_shared::usecases::connect::subscribe::stored(&app.setup, &id).await.unwrap();
    assert!(kept.is_empty(), "tokens forgotten: {kept:?}");
}
