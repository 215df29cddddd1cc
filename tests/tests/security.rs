//! docs/security.md's rows, each tried as an outsider would: over real HTTP, through the real
//! router, against the sandboxes and each store.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::routing::get;
use xor_lever_sandbox::harness::{StoreKind, WebhookApp, pdf_text, spawn_webhook_app_with};
use xor_lever_shared::config::{ResumeHosts, resume_fetcher};

fn body(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// An "internal" service on loopback (the Lambda Runtime API, a VPC service, the metadata
/// service): it counts every request that reaches it, and must see none.
async fn internal_service() -> (xor_lever_sandbox::Served, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let router = axum::Router::new().fallback(move || {
        h.fetch_add(1, Ordering::SeqCst);
        async { ([("content-type", "application/pdf")], b"%PDF-1.4 internal secret".to_vec()) }
    });
    (xor_lever_sandbox::serve("127.0.0.1:0", router).await.unwrap(), hits)
}

/// XOR's file host, listed on purpose (as `xor-lever dev` lists its own): a resume, a page that
/// is not one, and a redirect to `to`.
async fn file_host(to: String) -> xor_lever_sandbox::Served {
    let router = axum::Router::new()
        .route("/r/ok.pdf", get(|| async { ([("content-type", "application/pdf")], b"%PDF-1.4 resume".to_vec()) }))
        .route(
            "/r/cv.pdf",
            get(|| async { ([("content-type", "application/pdf")], b"<html><script>alert(1)</script>".to_vec()) }),
        )
        .route(
            "/r/jump.pdf",
            get(move || {
                let to = to.clone();
                async move { (axum::http::StatusCode::FOUND, [("location", to)]) }
            }),
        );
    xor_lever_sandbox::serve("127.0.0.1:0", router).await.unwrap()
}

async fn deliver_with_resume(app: &WebhookApp, n: usize, url: &str) -> xor_lever_sandbox::lever::StoredOpportunity {
    let cand = format!("cand_s{n}");
    let mut s = app.screening(&cand);
    s["data"]["candidate"]["resume_url"] = url.into();
    let (st, v, _) = app.deliver(&format!("msg_s{n}"), &body(&s)).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("completed")), "a bad link never costs the candidate: {url} {v}");
    app.lever.opportunities().into_iter().find(|o| o.emails == [format!("{cand}@example.com")]).unwrap()
}

#[tokio::test]
async fn a_resume_link_never_reaches_an_internal_address() {
    let (internal, hits) = internal_service().await;
    let port = internal.addr.port();
    let files = file_host(format!("{}/secret.txt", internal.url)).await;
    let hosts = ResumeHosts::parse(&files.addr.to_string()).unwrap();
    let app = spawn_webhook_app_with(StoreKind::Memory, |d| d.files = resume_fetcher(hosts)).await;

    let attacks = [
        format!("http://127.0.0.1:{port}/secret.txt"),
        format!("https://127.0.0.1:{port}/secret.txt"),
        format!("http://127.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f000001:{port}/"),
        format!("http://0177.0.0.1:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://0.0.0.0:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://{}@127.0.0.1:{port}/", files.addr),
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/".to_owned(),
        // From the allowed host, a redirect to the internal service.
        format!("{}/r/jump.pdf", files.url),
    ];
    for (n, url) in attacks.iter().enumerate() {
        let o = deliver_with_resume(&app, n, url).await;
        assert!(o.resumes.is_empty(), "{url}: nothing attached");
        let text = pdf_text(&o.files[0].bytes);
        assert!(text.contains("Resume: not attached (could not be downloaded)"), "{url}: {text}");
        for detail in ["could not connect", "timed out", "HTTP ", "refused", "redirect", "internal"] {
            assert!(!text.contains(detail), "{url}: the PDF names no network detail ({detail}): {text}");
        }
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the internal service received a request");

    // Not a type Lever accepts (a page named .pdf): left out, and said so.
    let o = deliver_with_resume(&app, 100, &format!("{}/r/cv.pdf", files.url)).await;
    assert!(o.resumes.is_empty());
    assert!(pdf_text(&o.files[0].bytes).contains("Resume: not attached (unsupported type)"));
    // The allowed host's resume is still attached.
    let o = deliver_with_resume(&app, 101, &format!("{}/r/ok.pdf", files.url)).await;
    assert_eq!(o.resumes.len(), 1);
    assert_eq!(
        (o.resumes[0].name.as_str(), o.resumes[0].content_type.as_str(), o.resumes[0].bytes.as_slice()),
        ("ok.pdf", "application/pdf", &b"%PDF-1.4 resume"[..])
    );
}

#[tokio::test]
async fn with_the_default_list_only_xors_file_host_is_fetched() {
    // What `xor-lever serve` and the Lambda do with XOR_LEVER_RESUME_HOSTS unset.
    let (internal, hits) = internal_service().await;
    let app = spawn_webhook_app_with(StoreKind::Memory, |d| d.files = resume_fetcher(ResumeHosts::default())).await;
    let o = deliver_with_resume(&app, 0, &format!("{}/r/ok.pdf", internal.url)).await;
    assert!(o.resumes.is_empty());
    assert_eq!(hits.load(Ordering::SeqCst), 0, "loopback refused without an explicit listing");
}

#[tokio::test]
async fn an_unsigned_request_is_refused_before_any_secret_is_read() {
    let reads = Arc::new(AtomicUsize::new(0));
    let r = reads.clone();
    // A secret store that counts its reads (the cost of a refusal, in Secrets Manager calls).
    let counting = |inner| xor_lever_sandbox::harness::WatchedSecrets {
        inner,
        on_read: Arc::new(move |_: &str| {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }),
    };
    let app = spawn_webhook_app_with(StoreKind::Memory, |d| d.secrets = Arc::new(counting(d.secrets.clone()))).await;
    let junk = vec![b'x'; 255 * 1024];
    let ts = (xor_lever_shared::usecases::now_ms() / 1000).to_string();
    let flood = vec!["v1,"; 2500].join(" ");
    let one_wrong = format!("v1,{}=", "A".repeat(43));
    // A flood of entries, a missing header, a stale timestamp: refused on their shape alone.
    assert_eq!(app.post("msg_f", &ts, &flood, &junk).await.0, 401);
    assert_eq!(app.post("msg_f", &ts, "", &junk).await.0, 401);
    assert_eq!(app.post("msg_f", "1000", &one_wrong, &junk).await.0, 401);
    // An unknown connection: refused on the store's answer, without its secrets.
    assert_eq!(app.post_to("nobody-here", "msg_f", &ts, &one_wrong, &junk).await.0, 404);
    assert_eq!(reads.load(Ordering::SeqCst), 0, "no Secrets Manager call for an unauthenticated request");
    // Well-formed but wrong, 50 times: the connection's secret is read once (then cached), and
    // once more at most to make sure it did not just change.
    for i in 0..50 {
        assert_eq!(app.post(&format!("msg_w{i}"), &ts, &one_wrong, &junk).await.0, 401);
    }
    assert!(reads.load(Ordering::SeqCst) <= 2, "{} reads", reads.load(Ordering::SeqCst));
    let (st, v, _) = app.deliver("msg_ok", &body(&app.screening("cand_ok"))).await;
    assert_eq!(st, 200, "{v}");
}

/// The old key derivation (stop 18): HMAC(client secret, label) signed every link. Whoever holds
/// the Lever client secret (Lever does) could mint a page link for any connection.
fn forged_with_client_secret(label: &str, claims: &serde_json::Value, kid: Option<&str>) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
    use hmac::{Hmac, Mac};
    let mut k = Hmac::<sha2::Sha256>::new_from_slice(xor_lever_sandbox::lever::CLIENT_SECRET.as_bytes()).unwrap();
    k.update(label.as_bytes());
    let derived = k.finalize().into_bytes();
    let payload = B64URL.encode(serde_json::to_vec(claims).unwrap());
    let head = match kid {
        Some(kid) => format!("{kid}.{payload}"),
        None => payload,
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&derived).unwrap();
    mac.update(head.as_bytes());
    format!("{head}.{}", B64URL.encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn a_page_link_cannot_be_forged_with_the_lever_client_secret_or_made_to_last() {
    use xor_lever_sandbox::visitor::Visitor;
    use xor_lever_shared::usecases::section::access;
    let app = spawn_webhook_app_with(StoreKind::Memory, |_| {}).await;
    let now = xor_lever_shared::usecases::now_ms();
    let claims = serde_json::json!({"c": app.id.as_str(), "e": now + 9000 * 86_400_000i64, "t": now, "n": "x"});
    let keys = xor_lever_shared::usecases::signed::stored_keys(app.setup.secrets.as_ref()).await.unwrap();
    let kid = keys.keys[0].id.clone();
    let section = access::section_path(&app.url, &app.id);
    let forged = [
        forged_with_client_secret("xor-lever section link v1", &claims, None),
        forged_with_client_secret("xor-lever section link v2", &claims, Some(&kid)),
        // Our own key, but a link that claims 9,000 days.
        xor_lever_shared::usecases::signed::sign_with(&keys.keys[0], "xor-lever section link v2", &claims),
    ];
    for token in forged {
        let page = Visitor::new().get(&format!("{section}?link={}", xor_lever_shared::url::enc(&token))).await.unwrap();
        assert_eq!(page.status, 403, "{token}: {}", page.body);
        assert!(page.set_cookie.is_empty(), "no session for a forged link");
    }
    // A session cookie and an OAuth state forged the same way open nothing either.
    let session = serde_json::json!({"c": app.id.as_str(), "e": now + 3_600_000, "t": now, "g": 0, "n": "x"});
    let cookie_name = access::cookie_name(&app.url, app.id.as_str());
    for cookie in [
        forged_with_client_secret("xor-lever section session v1", &session, None),
        forged_with_client_secret("xor-lever section session v2", &session, Some(&kid)),
    ] {
        let page = reqwest::Client::new()
            .get(&section)
            .header("cookie", format!("{cookie_name}={cookie}"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 403, "a forged session");
    }
    let state = serde_json::json!({"c": app.id.as_str(), "n": "x", "e": now + 600_000, "i": "x"});
    for forged in [
        forged_with_client_secret("xor-lever oauth state v2", &state, None),
        forged_with_client_secret("xor-lever oauth state v3", &state, Some(&kid)),
    ] {
        let url = format!("{}/oauth/lever/callback?code=c&state={}", app.url, xor_lever_shared::url::enc(&forged));
        let page = reqwest::Client::new().get(&url).header("cookie", "xor_lever_oauth=x").send().await.unwrap();
        assert_eq!(page.status(), 400, "a forged OAuth state");
    }
    // A link of ours for 90 days opens; 91 cannot be made.
    let link = access::page_link(&app.setup, &app.url, &app.id, 90).await.unwrap();
    assert_eq!(Visitor::new().get(&link).await.unwrap().status, 303);
    assert!(access::page_link(&app.setup, &app.url, &app.id, 91).await.is_err());
}

#[tokio::test]
async fn revoked_links_and_sessions_open_nothing() {
    use xor_lever_sandbox::visitor::Visitor;
    use xor_lever_shared::usecases::section::access;
    for reset in [false, true] {
        let app = spawn_webhook_app_with(StoreKind::Sqlite, |_| {}).await;
        let link = access::page_link(&app.setup, &app.url, &app.id, 30).await.unwrap();
        let v = Visitor::new();
        let first = v.get(&link).await.unwrap();
        assert_eq!(first.status, 303);
        let section = first.location.clone().unwrap();
        assert_eq!(v.get(&section).await.unwrap().status, 200, "the session opens the section");
        let (invitation, _) = xor_lever_shared::usecases::connect::invite(&app.setup, &app.id, 7).await.unwrap();
        let invited = access::invitation_link(&app.url, &app.id, &invitation);
        if reset {
            xor_lever_shared::usecases::connect::reset_lever(&app.setup, &app.id, "a test", &Default::default())
                .await
                .unwrap();
        } else {
            access::revoke_links(&app.setup, &app.id).await.unwrap();
        }
        assert_eq!(v.get(&section).await.unwrap().status, 403, "the session is void (reset: {reset})");
        assert_eq!(Visitor::new().get(&link).await.unwrap().status, 403, "the link is void (reset: {reset})");
        assert_eq!(
            Visitor::new().get(&invited).await.unwrap().status,
            403,
            "the connect link is void (reset: {reset})"
        );
        // A link made after the revocation works.
        let fresh = access::page_link(&app.setup, &app.url, &app.id, 30).await.unwrap();
        assert_eq!(Visitor::new().get(&fresh).await.unwrap().status, 303);
    }
}

#[tokio::test]
async fn a_rotated_key_keeps_its_links_for_the_grace_then_refuses_them() {
    use xor_lever_sandbox::visitor::Visitor;
    use xor_lever_shared::usecases::section::access;
    let app = spawn_webhook_app_with(StoreKind::Memory, |_| {}).await;
    let old = access::page_link(&app.setup, &app.url, &app.id, 30).await.unwrap();
    let now = xor_lever_shared::usecases::now_ms();
    xor_lever_shared::usecases::signed::rotate_keys(app.setup.secrets.as_ref(), now, 3_600_000).await.unwrap();
    // A link of the new key (made by the operator's CLI, a new process) opens at once in the
    // serving process, which cached the old keys.
    let mut cli = app.setup.clone();
    cli.secret_cache = Arc::default();
    let new = access::page_link(&cli, &app.url, &app.id, 30).await.unwrap();
    assert_eq!(Visitor::new().get(&new).await.unwrap().status, 303);
    assert_eq!(Visitor::new().get(&old).await.unwrap().status, 303, "within the grace");
    // Two hours on, the grace (one hour) has ended: the old key's link is refused, the new key's
    // still opens.
    app.skew_ms.store(2 * 3_600_000, Ordering::SeqCst);
    assert_eq!(Visitor::new().get(&old).await.unwrap().status, 403, "retired after its grace");
    let page = Visitor::new().get(&new).await.unwrap();
    assert_eq!(page.status, 303, "{}", page.body);
}

#[tokio::test]
async fn https_answers_carry_hsts() {
    let app = spawn_webhook_app_with(StoreKind::Memory, |_| {}).await;
    let http = reqwest::Client::new();
    let over_https =
        http.get(format!("{}/healthz", app.url)).header("x-forwarded-proto", "https").send().await.unwrap();
    assert_eq!(over_https.headers()["strict-transport-security"], "max-age=31536000");
    let plain = http.get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert!(plain.headers().get("strict-transport-security").is_none(), "HSTS is for HTTPS answers");
}

/// A host whose every answer is a redirect to `to` (a moved API, or a hostile one).
async fn mover(to: String) -> xor_lever_sandbox::Served {
    let router = axum::Router::new().fallback(move || {
        let to = to.clone();
        async move { (axum::http::StatusCode::TEMPORARY_REDIRECT, [("location", to)]) }
    });
    xor_lever_sandbox::serve("127.0.0.1:0", router).await.unwrap()
}

/// XOR's calls follow no redirect; Lever's follow only a 307/308 to Lever's own hosts (an EU
/// account's move, `lever_real.rs`): a redirect anywhere else is refused, naming the target, and
/// no token, key or secret reaches it.
#[tokio::test]
async fn xor_and_lever_calls_never_follow_a_redirect_off_their_hosts() {
    use xor_lever_shared::adapters::lever::{AppCredentials, LeverClient, LeverError, LeverHosts, OAuthError};
    use xor_lever_shared::domain::{Ats, JobBoard, LeverSettings, SecretString};
    let (elsewhere, hits) = internal_service().await;
    let to = format!("{}/collect", elsewhere.url);
    let moved = mover(to.clone()).await;

    // Lever's Data API (a bearer token) and its token endpoint (the client secret, a refresh token).
    let settings = LeverSettings {
        api_base_url: Some(format!("{}/v1", moved.url)),
        auth_base_url: Some(moved.url.clone()),
        ..LeverSettings::default()
    };
    let lever = LeverClient::new(
        xor_lever_shared::config::http_client(),
        LeverHosts::for_settings(&settings),
        Arc::new(xor_lever_shared::adapters::retry::RateLimiter::with_burst(1000.0, 1000)),
    );
    match lever.posting(&SecretString::new("bearer-token"), "p1").await {
        Err(LeverError::Redirected { status: 307, message, .. }) => {
            assert!(message.contains(&to), "the error names the target: {message}");
        }
        other => panic!("{other:?}"),
    }
    let app =
        AppCredentials { client_id: "cid".into(), client_secret: "client-secret".into(), env: Default::default() };
    match lever.refresh(&app, &SecretString::new("refresh-token"), 0).await {
        Err(OAuthError::Refused { error, .. }) => assert!(error.contains(&to), "{error}"),
        other => panic!("{other:?}"),
    }
    // XOR (its API key).
    let mut s = xor_lever_shared::adapters::xor::XorSettings::new(&moved.url, SecretString::new("xor-api-key"));
    s.max_rps = 1000.0;
    let xor = xor_lever_shared::adapters::xor::XorClient::new(xor_lever_shared::config::http_client(), s);
    let posting = xor_lever_shared::feed::parse_slice(include_bytes!("../../fixtures/lever-feed-sample.xml"))
        .unwrap()
        .0
        .remove(0);
    match xor.create("k-1", &posting).await {
        Err(xor_lever_shared::adapters::xor::XorError::Rejected { code, message, .. }) => {
            assert_eq!(code, "redirect");
            assert!(message.contains(&to), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no token, key or secret was sent on");
}

#[tokio::test]
async fn a_feed_follows_a_redirect_to_https_only() {
    use xor_lever_shared::domain::feed_source::FeedSource;
    let (elsewhere, hits) = internal_service().await;
    let moved = mover(format!("{}/feed.xml", elsewhere.url)).await;
    let fetcher = xor_lever_shared::adapters::feed_http::FeedFetcher::new(xor_lever_shared::config::feed_client());
    let e = fetcher.fetch(&format!("{}/feed.xml", moved.url), None).await.err().expect("refused");
    assert!(format!("{e:?}").contains("non-https"), "{e:?}");
    // https, but to an internal address or localhost: refused before any connection.
    for to in [format!("https://127.0.0.1:{}/feed.xml", elsewhere.addr.port()), "https://localhost/feed.xml".into()] {
        let moved = mover(to.clone()).await;
        let e = fetcher.fetch(&format!("{}/feed.xml", moved.url), None).await.err().expect("refused");
        assert!(format!("{e:?}").contains("internal address"), "{to}: {e:?}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_made_up_path_refused_on_its_headers_names_no_metric() {
    use xor_lever_shared::metrics::Counters as DeliveryStats;
    use xor_lever_shared::usecases::webhook::{SignedHeaders, receive};
    let app = spawn_webhook_app_with(StoreKind::Memory, |_| {}).await;
    let ts = (xor_lever_shared::usecases::now_ms() / 1000).to_string();
    let line = |conn: &str, sig: &str| {
        let (deps, conn, sig, ts) = (app.deps.clone(), conn.to_owned(), sig.to_owned(), ts.clone());
        async move {
            let h = SignedHeaders { id: Some("msg_m".into()), timestamp: Some(ts), signature: Some(sig) };
            let a = receive(&deps, &conn, &h, b"{}", xor_lever_shared::usecases::now_ms() + 30_000).await;
            let json = xor_lever_shared::http::delivery_metrics(&conn, Some("msg_m"), &a, &DeliveryStats::default(), 1)
                .to_json_with(0, true);
            (a.reply, json)
        }
    };
    // Anyone can send these to any path: none may create a per-connection metric.
    for (conn, sig) in [("made-up-1", ""), ("made-up-2", "v1,AAAA"), ("made-up-3", &*format!("v1,{}=", "A".repeat(43)))]
    {
        let (_, json) = line(conn, sig).await;
        assert!(!json.to_string().contains(conn), "{conn} became a dimension: {json}");
    }
    // A known connection's refused delivery is its own.
    let (reply, json) = line(app.id.as_str(), &format!("v1,{}=", "A".repeat(43))).await;
    assert_eq!(reply, xor_lever_shared::usecases::webhook::Reply::Unsigned);
    assert!(json.to_string().contains(app.id.as_str()), "{json}");
}
