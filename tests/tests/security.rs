//! docs/security.md's rows, each tried as an outsider would: over real HTTP, through the real
//! router, against the sandboxes and each store.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::routing::get;
use xor_lever::config::{ResumeHosts, resume_fetcher};
use xor_lever_sandbox::harness::{StoreKind, WebhookApp, pdf_text, spawn_webhook_app_with};

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
        for detail in ["connect", "timed out", "HTTP", "refused", "redirect"] {
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
