//! The webhook app: the Lever sandbox, the XOR sandbox, a store, a connected connection with its
//! secrets and a job mapping, the real router served on loopback; and its requests.
use std::sync::Arc;
use std::time::Duration;

use xor_lever_shared::adapters::lever::LeverApi;
use xor_lever_shared::adapters::memory::MemoryStore;
use xor_lever_shared::adapters::retry::RetryPolicy;
use xor_lever_shared::adapters::sqlite::SqliteStore;
use xor_lever_shared::adapters::xor::XorBoards;
use xor_lever_shared::domain::ports::XOR_API_KEY;
use xor_lever_shared::domain::*;
use xor_lever_shared::usecases::SyncDeps;

use super::StoreKind;
use crate::{XorSandbox, moto};

/// A job made in the XOR sandbox at `xor_url` under `key`, for `posting`; XOR's job id.
async fn make_xor_job(xor_url: &str, key: &str, posting: &str, title: &str) -> String {
    let body = serde_json::json!({
        "source": "lever", "external_id": posting, "title": title,
        "description_html": "<p>…</p>", "location": {"city": "Berlin", "country": "DE"},
        "apply_url": format!("https://jobs.lever.co/acme/{posting}/apply"),
    });
    let r = reqwest::Client::new()
        .post(format!("{xor_url}/v1/jobs"))
        .bearer_auth(key)
        .header("idempotency-key", format!("test:{posting}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

/// `spawn_app` for the webhook: the Lever sandbox, a store, a connected connection with its
/// secrets and a job mapping, and the real router served on loopback.
pub struct WebhookApp {
    pub lever: crate::LeverSandbox,
    /// The connection's XOR (asked about a job a screening names and no mapping does yet).
    pub xor: XorSandbox,
    pub url: String,
    pub id: ConnectionId,
    pub secret: String,
    pub deps: xor_lever_shared::usecases::context::LeverContext,
    /// The operator's wiring on the same store (the same as `deps` but under `AwsAs`, where
    /// `deps` holds only the function's permissions).
    pub setup: xor_lever_shared::usecases::context::LeverContext,
    /// Milliseconds added to the real clock (tests move time forward).
    pub skew_ms: Arc<std::sync::atomic::AtomicI64>,
    pub posting: String,
    pub xor_job: String,
    /// With `StoreKind::Aws`: the moto table and secret prefix (for a function binary's env).
    pub aws: Option<(String, String)>,
    _served: crate::Served,
    _dir: Option<tempfile::TempDir>,
}

pub async fn spawn_webhook_app(kind: StoreKind) -> WebhookApp {
    spawn_webhook_app_with(kind, |_| {}).await
}

pub async fn spawn_webhook_app_with(
    kind: StoreKind,
    tweak: impl FnOnce(&mut xor_lever_shared::usecases::context::LeverContext),
) -> WebhookApp {
    spawn_webhook_app_within(kind, None, tweak).await
}

/// With `budget`, each request is an invocation of that length, as in Lambda: the router is given
/// its deadline (`RequestDeadline`, as `functions/webhook` does), and a request still running at
/// the deadline is dropped where it stands and answered 500 "Task timed out", as API Gateway
/// answers for a function that timed out.
pub async fn spawn_webhook_app_within(
    kind: StoreKind,
    budget: Option<Duration>,
    tweak: impl FnOnce(&mut xor_lever_shared::usecases::context::LeverContext),
) -> WebhookApp {
    spawn_webhook_app_served(kind, budget, None, tweak).await
}

/// The app behind a public URL (the router's `PUBLIC_URL`: a custom domain's, say).
pub async fn spawn_webhook_app_at(kind: StoreKind, public_url: &str) -> WebhookApp {
    spawn_webhook_app_served(kind, None, Some(public_url.to_owned()), |_| {}).await
}

async fn spawn_webhook_app_served(
    kind: StoreKind,
    budget: Option<Duration>,
    public_url: Option<String>,
    tweak: impl FnOnce(&mut xor_lever_shared::usecases::context::LeverContext),
) -> WebhookApp {
    use std::sync::atomic::{AtomicI64, Ordering};
    use xor_lever_shared::adapters::lever::{AppCredentials, TokenSet};
    use xor_lever_shared::domain::ports::{LEVER_APP, LEVER_TOKENS, WEBHOOK_SECRET};
    use xor_lever_shared::usecases::context::LeverContext;

    let lever = crate::LeverSandbox::spawn().await;
    let xor = XorSandbox::spawn().await;
    let http = xor_lever_shared::config::http_client();
    let mut aws = None;
    let (deps, dir): (LeverContext, _) = match kind {
        StoreKind::Memory => {
            let s = Arc::new(MemoryStore::new());
            (xor_lever_shared::config::lever_context_on(s.clone(), s, http), None)
        }
        StoreKind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let s = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
            (xor_lever_shared::config::lever_context_on(s.clone(), s, http), Some(dir))
        }
        StoreKind::Aws => {
            let t = Arc::new(moto::dynamo_store().await);
            let secrets = moto::secrets_store().await;
            aws = Some((t.table().to_owned(), secrets.prefix().to_owned()));
            (xor_lever_shared::config::lever_context_on(t, Arc::new(secrets), http), None)
        }
        StoreKind::AwsAs(_) => {
            let ((t, secrets), _) = moto::enforced_stores(moto::Principal::Admin).await;
            aws = Some((t.table().to_owned(), secrets.prefix().to_owned()));
            (xor_lever_shared::config::lever_context_on(Arc::new(t), Arc::new(secrets), http), None)
        }
    };
    let skew_ms = Arc::new(AtomicI64::new(0));
    let skew = skew_ms.clone();
    let clock: xor_lever_shared::usecases::Clock =
        Arc::new(move || xor_lever_shared::usecases::now_ms() + skew.load(Ordering::SeqCst));
    let ready = |mut deps: LeverContext| {
        deps.set_clock(clock.clone());
        deps.lever = Arc::new(LeverApi {
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(30),
                budget: Duration::from_secs(2),
            },
            ..LeverApi::new(xor_lever_shared::config::http_client())
        });
        // Short timeouts and retries: the sandbox answers in milliseconds.
        deps.boards = Some(Arc::new(XorBoards {
            http: xor_lever_shared::config::http_client(),
            timeout: Duration::from_millis(500),
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(30),
                budget: Duration::from_secs(2),
            },
        }));
        deps
    };
    // `setup` is the operator (creates connections and secrets); `deps` is the function.
    let setup = ready(deps);
    let mut deps = match kind {
        StoreKind::AwsAs(p) => {
            let (table, prefix) = aws.clone().unwrap();
            let (t, s) = moto::stores_as(p, &table, &prefix).await;
            ready(xor_lever_shared::config::lever_context_on(
                Arc::new(t),
                Arc::new(s),
                xor_lever_shared::config::http_client(),
            ))
        }
        _ => setup.clone(),
    };
    tweak(&mut deps);

    let id = ConnectionId::parse(&format!("wh-{:06x}", fastrand::u32(..0xffffff))).unwrap();
    let mut conn = Connection::new(id.clone(), "http://127.0.0.1:9/feed.xml".into(), xor.url.clone(), 0);
    conn.lever.api_base_url = Some(lever.api_base());
    conn.lever.auth_base_url = Some(lever.url.clone());
    conn.lever.perform_as = Some(crate::lever::ADMIN_USER.into());
    setup.connections.create_connection(&conn).await.unwrap();
    let secret = xor_lever_shared::random::webhook_secret();
    setup.secrets.create_secret(&id, WEBHOOK_SECRET, Some(&SecretString::new(secret.clone()))).await.unwrap();
    setup.secrets.create_secret(&id, LEVER_TOKENS, None).await.unwrap();
    setup.secrets.create_secret(&id, xor_lever_shared::domain::ports::LEVER_WEBHOOKS, None).await.unwrap();
    setup.secrets.create_secret(&id, XOR_API_KEY, Some(&SecretString::new(format!("xor_test_{id}")))).await.unwrap();
    let app = AppCredentials {
        client_id: crate::lever::CLIENT_ID.into(),
        client_secret: crate::lever::CLIENT_SECRET.into(),
        env: Default::default(),
    };
    setup.secrets.put_app_secret(LEVER_APP, &SecretString::new(serde_json::to_string(&app).unwrap())).await.unwrap();
    // The deployment's signing key, as `lever-app set` makes it.
    xor_lever_shared::usecases::signed::init_keys(setup.secrets.as_ref(), xor_lever_shared::usecases::now_ms())
        .await
        .unwrap();
    let (at, rt, ttl) = lever.issue_tokens();
    let tokens = TokenSet {
        access_token: at,
        refresh_token: rt,
        expires_at: xor_lever_shared::usecases::now_ms() / 1000 + ttl as i64,
    };
    setup.tokens.store(&id, &tokens).await.unwrap();

    let posting = "5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10".to_owned();
    // The mapped job is XOR's own (the first it made: `xj_000001`).
    let xor_job = make_xor_job(&xor.url, &format!("xor_test_{id}"), &posting, "Senior Backend Engineer (Rust)").await;
    lever.add_posting(&posting, "Senior Backend Engineer (Rust)", "published");
    let mapping = job_mapping(&id, &posting, &xor_job);
    setup.mappings.upsert_mapping(mapping, None).await.unwrap();

    let mut router = xor_lever_shared::http::router(deps.clone(), public_url);
    if let Some(budget) = budget {
        // On the app's clock, as the code under test reads the time.
        let clock = clock.clone();
        router = router.layer(axum::middleware::from_fn(
            move |mut req: axum::extract::Request, next: axum::middleware::Next| {
                let deadline = clock() + budget.as_millis() as i64;
                async move {
                    use axum::response::IntoResponse;
                    req.extensions_mut().insert(xor_lever_shared::http::RequestDeadline(deadline));
                    match tokio::time::timeout(budget, next.run(req)).await {
                        Ok(answer) => answer,
                        Err(_) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "Task timed out").into_response(),
                    }
                }
            },
        ));
    }
    let served = crate::serve("127.0.0.1:0", router).await.unwrap();
    WebhookApp {
        lever,
        xor,
        url: served.url.clone(),
        id,
        secret,
        deps,
        setup,
        skew_ms,
        posting,
        xor_job,
        aws,
        _served: served,
        _dir: dir,
    }
}

impl WebhookApp {
    /// The scheduled run's wiring over this app's stores (its runs kept in memory).
    pub fn sync_deps(&self) -> SyncDeps {
        let mut sync =
            xor_lever_shared::config::sync_deps(Arc::new(MemoryStore::new()), xor_lever_shared::config::http_client());
        sync.connections = self.deps.connections.clone();
        sync.mappings = self.deps.mappings.clone();
        sync.catalogs = self.deps.catalogs.clone();
        sync.secrets = self.deps.secrets.clone();
        sync
    }

    /// A screening-passed body for candidate `cand` on this app's job.
    pub fn screening(&self, cand: &str) -> serde_json::Value {
        serde_json::json!({
            "type": "candidate.screening_passed",
            "timestamp": "2026-11-26T12:00:00Z",
            "data": {
                "candidate_id": cand,
                "job_id": self.xor_job,
                "external_job_id": self.posting,
                "candidate": {
                    "first_name": "Ada", "last_name": "Lovelace",
                    "email": format!("{cand}@example.com"), "phone": "+44 20 7946 0000",
                    "location": "London, UK", "linkedin_url": "https://linkedin.com/in/ada",
                    "resume_url": null
                },
                "screening": {
                    "passed": true, "score": 87, "completed_at": "2026-11-26T11:58:12Z",
                    "summary": "Five years of Rust; available from January.",
                    "answers": [ {"question": "Are you authorised to work in the UK?", "answer": "Yes"} ],
                    "transcript_url": format!("https://app.xor.ai/c/{cand}")
                },
                "chatbot_url": "https://jobs.xor.ai/c/abc"
            }
        })
    }

    /// A job made in this connection's XOR (as a sync's create whose answer was lost leaves it:
    /// in XOR, not mapped here), for `posting`; returns XOR's job id.
    pub async fn xor_job(&self, posting: &str, title: &str) -> String {
        self.xor_job_as(&format!("xor_test_{}", self.id), posting, title).await
    }

    /// The same under another XOR key (another connection's job).
    pub async fn xor_job_as(&self, key: &str, posting: &str, title: &str) -> String {
        make_xor_job(&self.xor.url, key, posting, title).await
    }

    /// Signs and posts a body as XOR would; returns (status, JSON body, Retry-After).
    pub async fn deliver(&self, webhook_id: &str, body: &[u8]) -> (u16, serde_json::Value, Option<String>) {
        let ts = (xor_lever_shared::usecases::now_ms() + self.skew_ms.load(std::sync::atomic::Ordering::SeqCst)) / 1000;
        let sig =
            xor_lever_shared::domain::webhook::WebhookSecret::parse(&self.secret).unwrap().sign(webhook_id, ts, body);
        self.post(webhook_id, &ts.to_string(), &sig, body).await
    }

    pub async fn post(
        &self,
        webhook_id: &str,
        ts: &str,
        sig: &str,
        body: &[u8],
    ) -> (u16, serde_json::Value, Option<String>) {
        self.post_to(&self.id.to_string(), webhook_id, ts, sig, body).await
    }

    pub async fn post_to(
        &self,
        conn: &str,
        webhook_id: &str,
        ts: &str,
        sig: &str,
        body: &[u8],
    ) -> (u16, serde_json::Value, Option<String>) {
        let resp = reqwest::Client::new()
            .post(format!("{}/webhooks/xor/{conn}", self.url))
            .header("webhook-id", webhook_id)
            .header("webhook-timestamp", ts)
            .header("webhook-signature", sig)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let ra = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = resp.json().await.unwrap_or(serde_json::Value::Null);
        (status, body, ra)
    }

    pub async fn delivery(&self, webhook_id: &str) -> Option<Delivery> {
        self.deps.webhooks.delivery(&self.id, webhook_id).await.unwrap()
    }
}

/// An active mapping of `posting` to XOR job `xor_job` for connection `id`.
pub fn job_mapping(id: &ConnectionId, posting: &str, xor_job: &str) -> JobMapping {
    JobMapping {
        connection: id.clone(),
        posting_id: PostingId::parse(posting).unwrap(),
        xor_job_id: xor_job.to_owned(),
        chatbot_url: Some(format!("https://jobs.xor.ai/c/{xor_job}")),
        webchat_url: None,
        location: None,
        title: "Senior Backend Engineer (Rust)".into(),
        content_hash: "h".into(),
        status: MappingStatus::Active,
        generation: 0,
        version: 0,
        updated_at: 0,
    }
}
