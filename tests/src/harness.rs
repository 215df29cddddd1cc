//! `spawn_app` for sync tests: a feed server, the XOR sandbox, a store, and one connection.
use std::sync::Arc;
use std::time::Duration;

use xor_lever_shared::adapters::lever::LeverApi;
use xor_lever_shared::adapters::memory::MemoryStore;
use xor_lever_shared::adapters::retry::RetryPolicy;
use xor_lever_shared::adapters::sqlite::SqliteStore;
use xor_lever_shared::adapters::xor::XorBoards;
use xor_lever_shared::domain::ports::XOR_API_KEY;
use xor_lever_shared::domain::*;
use xor_lever_shared::usecases::{SyncDeps, SyncOptions, SyncReport, sync_connection};

use crate::{FeedServer, XorSandbox, moto};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Sqlite,
    /// DynamoDB and Secrets Manager on moto.
    Aws,
    /// DynamoDB and Secrets Manager on the IAM-enforcing moto: set up by an admin, then used
    /// with a function's own permissions (exactly its template.yaml policy actions).
    AwsAs(crate::moto::Principal),
}

pub struct App {
    pub xor: XorSandbox,
    pub feed: FeedServer,
    pub deps: SyncDeps,
    pub id: ConnectionId,
    pub opts: SyncOptions,
    /// With `StoreKind::Aws`: the moto table and secret prefix (for a function binary's env).
    pub aws: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

pub async fn spawn_app(kind: StoreKind, feed: Vec<u8>) -> App {
    let xor = XorSandbox::spawn().await;
    let feed = FeedServer::spawn(feed).await;
    let http = xor_lever_shared::config::http_client();
    let mut aws = None;
    let (deps, dir) = match kind {
        StoreKind::Memory => (xor_lever_shared::config::sync_deps(Arc::new(MemoryStore::new()), http), None),
        StoreKind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(SqliteStore::open_dir(dir.path()).unwrap());
            (xor_lever_shared::config::sync_deps(store, http), Some(dir))
        }
        StoreKind::Aws => {
            // DynamoDB for state, Secrets Manager for secrets, as deployed.
            let table = moto::dynamo_store().await;
            let secrets = moto::secrets_store().await;
            aws = Some((table.table().to_owned(), secrets.prefix().to_owned()));
            (aws_sync_deps(table, secrets, http), None)
        }
        StoreKind::AwsAs(_) => {
            let ((table, secrets), _) = moto::enforced_stores(moto::Principal::Admin).await;
            aws = Some((table.table().to_owned(), secrets.prefix().to_owned()));
            (aws_sync_deps(table, secrets, http), None)
        }
    };
    let id = ConnectionId::parse(&format!("acme-{:06x}", fastrand::u32(..0xffffff))).unwrap();
    let mut conn = Connection::new(id.clone(), feed.url.clone(), xor.url.clone(), 0);
    conn.xor_max_rps = 500.0;
    deps.connections.create_connection(&conn).await.unwrap();
    deps.secrets.create_secret(&id, XOR_API_KEY, Some(&SecretString::new(format!("xor_test_{id}")))).await.unwrap();
    // Set up as the operator; from here on, act as the function.
    let deps = match kind {
        StoreKind::AwsAs(p) => {
            let (table, prefix) = aws.clone().unwrap();
            let (t, s) = moto::stores_as(p, &table, &prefix).await;
            aws_sync_deps(t, s, xor_lever_shared::config::http_client())
        }
        _ => deps,
    };
    // Short timeouts and retries: the sandboxes answer in milliseconds.
    let mut deps = deps;
    deps.boards = Arc::new(XorBoards {
        http: xor_lever_shared::config::http_client(),
        timeout: Duration::from_millis(500),
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            budget: Duration::from_secs(3),
        },
    });
    let opts = SyncOptions::default();
    App { xor, feed, deps, id, opts, aws, _dir: dir }
}

fn aws_sync_deps(
    table: xor_lever_shared::adapters::dynamodb::DynamoStore,
    secrets: xor_lever_shared::adapters::secrets_manager::SecretsManagerStore,
    http: reqwest::Client,
) -> SyncDeps {
    let table = Arc::new(table);
    let mut deps = xor_lever_shared::config::sync_deps(Arc::new(MemoryStore::new()), http);
    deps.connections = table.clone();
    deps.mappings = table.clone();
    deps.runs = table;
    deps.secrets = Arc::new(secrets);
    deps
}

impl App {
    pub async fn sync(&self) -> SyncReport {
        sync_connection(&self.deps, &self.id, &self.opts).await
    }
    pub async fn sync_with(&self, f: impl FnOnce(&mut SyncOptions)) -> SyncReport {
        let mut o = self.opts.clone();
        f(&mut o);
        sync_connection(&self.deps, &self.id, &o).await
    }
    pub async fn mappings(&self) -> Vec<JobMapping> {
        let mut m = self.deps.mappings.mappings(&self.id).await.unwrap();
        m.sort_by(|a, b| a.posting_id.cmp(&b.posting_id));
        m
    }
    /// XOR's active jobs by external id (panics on a duplicate: the thing we never allow).
    /// The fan-out worker's ports on this app's moto table (its leases) and `queue`.
    pub async fn turn_deps(
        &self,
        queue: Arc<dyn xor_lever_shared::domain::queue::SyncQueue>,
    ) -> xor_lever_shared::usecases::turns::TurnDeps {
        let (table, _) = self.aws.clone().expect("an AWS app");
        let sdk = xor_lever_shared::config::aws_sdk_config().await;
        let leases = Arc::new(xor_lever_shared::adapters::dynamodb::DynamoStore::new(
            xor_lever_shared::config::dynamo_client(&sdk),
            table,
        ));
        xor_lever_shared::usecases::turns::TurnDeps { sync: self.deps.clone(), lever: None, leases, queue }
    }

    pub fn active_xor_jobs(&self) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        for j in self.xor.jobs().into_iter().filter(|j| j["status"] == "active") {
            let ext = j["external_id"].as_str().unwrap().to_owned();
            let prev = out.insert(ext.clone(), j["id"].as_str().unwrap().to_owned());
            assert!(prev.is_none(), "two active XOR jobs for posting {ext}");
        }
        out
    }
}

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

    let mut router = xor_lever_shared::http::router(deps.clone());
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

impl WebhookApp {
    /// Another connection in the same store, `pending` (no Lever authorization yet), on `lever`.
    pub async fn add_pending_connection(&self, name: &str, lever: &crate::LeverSandbox) -> (ConnectionId, String) {
        use xor_lever_shared::domain::ports::{LEVER_TOKENS, WEBHOOK_SECRET};
        let id = ConnectionId::parse(&format!("{name}-{:06x}", fastrand::u32(..0xffffff))).unwrap();
        let mut conn =
            Connection::new(id.clone(), "http://127.0.0.1:9/feed.xml".into(), "http://127.0.0.1:9".into(), 0);
        conn.status = ConnectionStatus::Pending;
        conn.lever.api_base_url = Some(lever.api_base());
        conn.lever.auth_base_url = Some(lever.url.clone());
        self.setup.connections.create_connection(&conn).await.unwrap();
        let secret = xor_lever_shared::random::webhook_secret();
        self.setup.secrets.create_secret(&id, WEBHOOK_SECRET, Some(&SecretString::new(secret.clone()))).await.unwrap();
        self.setup.secrets.create_secret(&id, LEVER_TOKENS, None).await.unwrap();
        let mapping = job_mapping(&id, &self.posting, &self.xor_job);
        self.setup.mappings.upsert_mapping(mapping, None).await.unwrap();
        lever.add_posting(&self.posting, "Senior Backend Engineer (Rust)", "published");
        (id, secret)
    }

    /// A fresh connect link for `id`, as `connections connect-url` mints it.
    pub async fn connect_link(&self, id: &ConnectionId) -> String {
        let (token, _) = xor_lever_shared::usecases::connect::invite(&self.setup, id, 7).await.unwrap();
        xor_lever_shared::usecases::connect::connect_link(&self.url, id, &token)
    }

    /// Follows the connect flow as the admin's browser does (a fresh invitation; the cookie kept;
    /// no automatic redirects): start → Lever → callback. Returns the callback's status and page.
    pub async fn connect(&self, id: &ConnectionId) -> (u16, String) {
        let flow = self.authorize(id).await;
        self.get_with_cookie(&flow.callback, &flow.cookie).await
    }

    /// Start and Lever's authorize step on a fresh invitation.
    pub async fn authorize(&self, id: &ConnectionId) -> Flow {
        let link = self.connect_link(id).await;
        self.authorize_with(&link).await
    }

    /// Start (with `link`) and Lever's authorize step: the callback URL Lever redirects to, the
    /// state, and the cookie the start set.
    pub async fn authorize_with(&self, link: &str) -> Flow {
        let (start, cookie) = self.get_redirect_with_cookie(link).await;
        let state = query_param(&start, "state").expect("a state");
        let callback = self.get_redirect(&start).await;
        Flow { callback, state, cookie: cookie.expect("the start sets the state cookie") }
    }

    pub async fn get_redirect(&self, url: &str) -> String {
        self.get_redirect_with_cookie(url).await.0
    }

    /// A 302's `Location`, and the `name=value` of the cookie it sets.
    pub async fn get_redirect_with_cookie(&self, url: &str) -> (String, Option<String>) {
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let r = c.get(url).send().await.unwrap();
        let status = r.status();
        let cookie = r.headers().get("set-cookie").map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
        let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        let Some(location) = location else {
            panic!("expected a redirect from {url}: {status} {}", r.text().await.unwrap());
        };
        assert_eq!(status.as_u16(), 302, "{url}");
        (location, cookie)
    }

    pub async fn get(&self, url: &str) -> (u16, String) {
        self.get_with_cookie(url, "").await
    }

    pub async fn get_with_cookie(&self, url: &str, cookie: &str) -> (u16, String) {
        let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut req = c.get(url);
        if !cookie.is_empty() {
            req = req.header("cookie", cookie);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

/// One connect flow up to Lever's redirect back.
#[derive(Debug, Clone)]
pub struct Flow {
    pub callback: String,
    pub state: String,
    /// `name=value` of the state cookie, as the starting browser holds it.
    pub cookie: String,
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| {
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' && i + 2 < b.len() {
                    out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap_or(b'?'));
                    i += 3;
                } else {
                    out.push(if b[i] == b'+' { b' ' } else { b[i] });
                    i += 1;
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        })
    })
}

/// Starts a function's real binary the way Lambda does: its runtime polls `emulator`, and it
/// talks to moto (DynamoDB, Secrets Manager) for its state. Killed when dropped.
pub fn start_function(
    binary: &str,
    emulator: &crate::lambda_emulator::RunningEmulator,
    table: &str,
    secret_prefix: &str,
) -> KillOnDrop {
    start_function_as(binary, emulator, table, secret_prefix, None)
}

/// [`start_function`], on the IAM-enforcing moto with `principal`'s keys when given.
pub fn start_function_as(
    binary: &str,
    emulator: &crate::lambda_emulator::RunningEmulator,
    table: &str,
    secret_prefix: &str,
    principal: Option<crate::moto::Principal>,
) -> KillOnDrop {
    start_function_with(binary, emulator, table, secret_prefix, principal, &[])
}

/// The same, with more environment variables (the sync queue's URL).
pub fn start_function_with(
    binary: &str,
    emulator: &crate::lambda_emulator::RunningEmulator,
    table: &str,
    secret_prefix: &str,
    principal: Option<crate::moto::Principal>,
    env: &[(&str, &str)],
) -> KillOnDrop {
    let (endpoint, (key, secret)) = match principal {
        Some(p) => (crate::moto::iam_endpoint(), p.keys()),
        None => (crate::moto::endpoint(), ("test".to_owned(), "test".to_owned())),
    };
    let child = std::process::Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", &emulator.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", "local")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/local")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("STACK_NAME", "xor-lever-test")
        .env("TABLE_NAME", table)
        .env("SECRET_PREFIX", secret_prefix)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start the function binary");
    KillOnDrop(child)
}

pub struct KillOnDrop(pub std::process::Child);

impl KillOnDrop {
    /// The JSON lines the process writes to stdout (its log lines and its CloudWatch EMF lines,
    /// those with `_aws`), collected as they come by a reader thread.
    pub fn emf_lines(&mut self) -> EmfLines {
        use std::io::BufRead;
        let lines = EmfLines::default();
        let out = self.0.stdout.take().expect("stdout is piped once");
        let sink = lines.0.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        lines
    }
}

#[derive(Clone, Default)]
pub struct EmfLines(Arc<std::sync::Mutex<Vec<serde_json::Value>>>);

impl EmfLines {
    /// Every line so far.
    pub fn all(&self) -> Vec<serde_json::Value> {
        self.0.lock().unwrap().clone()
    }

    /// The first line (waiting up to 10 s) that `pick` accepts.
    pub async fn wait_for(&self, pick: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        for _ in 0..200 {
            if let Some(v) = self.0.lock().unwrap().iter().find(|v| pick(v)) {
                return v.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no such EMF line among {:#?}", self.0.lock().unwrap());
    }
}

/// An EMF line's metric definitions as (name, unit) (its first directive: every metric, under
/// `Stack`), and the dimension sets of each of its directives.
pub fn emf_shape(v: &serde_json::Value) -> (Vec<(String, String)>, serde_json::Value) {
    let directives = v["_aws"]["CloudWatchMetrics"].as_array().unwrap();
    for d in directives {
        assert_eq!(d["Namespace"], "XorLever", "{v}");
    }
    let m = &directives[0];
    let defs = m["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["Name"].as_str().unwrap().to_owned(), d["Unit"].as_str().unwrap().to_owned()))
        .collect();
    (defs, directives.iter().map(|d| d["Dimensions"].clone()).collect())
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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

/// A PDF's text, read back with poppler's `pdftotext` (what a recruiter reads in the report).
pub fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.pdf");
    std::fs::write(&p, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8", p.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils)");
    String::from_utf8(out.stdout).unwrap()
}

/// A secret store seen through a hook called before each read (`secret`, `app_secret`) with the
/// kind read: it may count the reads, or fail them as Secrets Manager down would.
pub struct WatchedSecrets {
    pub inner: Arc<dyn xor_lever_shared::domain::SecretStore>,
    #[allow(clippy::type_complexity)]
    pub on_read: Arc<dyn Fn(&str) -> Result<(), xor_lever_shared::domain::StoreError> + Send + Sync>,
}

type SecretResult<T> = Result<T, xor_lever_shared::domain::StoreError>;

#[async_trait::async_trait]
impl xor_lever_shared::domain::SecretStore for WatchedSecrets {
    async fn secret(&self, c: &ConnectionId, kind: &str) -> SecretResult<Option<SecretString>> {
        (self.on_read)(kind)?;
        self.inner.secret(c, kind).await
    }
    async fn put_secret(&self, c: &ConnectionId, kind: &str, v: &SecretString) -> SecretResult<()> {
        self.inner.put_secret(c, kind, v).await
    }
    async fn create_secret(&self, c: &ConnectionId, kind: &str, v: Option<&SecretString>) -> SecretResult<()> {
        self.inner.create_secret(c, kind, v).await
    }
    async fn app_secret(&self, kind: &str) -> SecretResult<Option<SecretString>> {
        (self.on_read)(kind)?;
        self.inner.app_secret(kind).await
    }
    async fn put_app_secret(&self, kind: &str, v: &SecretString) -> SecretResult<()> {
        self.inner.put_app_secret(kind, v).await
    }
}
