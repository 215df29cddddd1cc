//! AWS that does not answer: a store endpoint that accepts connections and never replies (as
//! moto frozen with SIGSTOP, or a network black hole), and one that refuses them. Every request
//! gets a clear answer within its budget, and nothing is half-written.
use std::sync::Arc;
use std::time::Duration;

use xor_lever_shared::adapters::dynamodb::DynamoStore;
use xor_lever_shared::adapters::secrets_manager::SecretsManagerStore;
use xor_lever_shared::domain::*;

/// An endpoint that accepts TCP connections and never answers.
async fn black_hole() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    url
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "t"))
        .load()
        .await
}

/// The deployed wiring (the AWS clients with their timeouts) on `endpoint`.
async fn stores(endpoint: &str) -> (Arc<DynamoStore>, Arc<SecretsManagerStore>) {
    let sdk = sdk(endpoint).await;
    (
        Arc::new(DynamoStore::new(xor_lever_shared::config::dynamo_client(&sdk), "t")),
        Arc::new(SecretsManagerStore::new(xor_lever_shared::config::secrets_client(&sdk), "p")),
    )
}

#[tokio::test]
async fn a_store_that_never_answers_gets_every_signed_looking_webhook_a_503_with_retry_after() {
    let (table, secrets) = stores(&black_hole().await).await;
    let deps = xor_lever_shared::config::lever_context_on(table, secrets, xor_lever_shared::config::http_client());
    let served = xor_lever_sandbox::serve("127.0.0.1:0", xor_lever_shared::http::router(deps, None)).await.unwrap();
    // A client that gives up long after the function's budget: the answer must come first.
    let client = reqwest::Client::builder().timeout(Duration::from_secs(25)).build().unwrap();
    // A request that cannot be signed (no 32-byte v1 entry) is refused on its headers alone,
    // store or no store (docs/security.md); one that may be signed waits on the store and is
    // told to retry.
    let well_formed = format!("v1,{}=", "A".repeat(43));
    for (what, sig, status) in
        [("signed-looking", well_formed.as_str(), 503), ("unsigned", "", 401), ("malformed", "v1,AAAA", 401)]
    {
        let r = client
            .post(format!("{}/webhooks/xor/acme", served.url))
            .header("webhook-id", "msg_1")
            .header("webhook-timestamp", (xor_lever_shared::usecases::now_ms() / 1000).to_string())
            .header("webhook-signature", sig)
            .body("{}")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        assert_eq!(r.status().as_u16(), status, "{what}");
        if status == 503 {
            assert!(r.headers().contains_key("retry-after"), "{what}: XOR is told when to retry");
        }
    }
    let health = client.get(format!("{}/healthz", served.url)).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test]
async fn a_sync_with_its_stores_down_fails_cleanly_and_writes_nothing() {
    // A refused port: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (table, secrets) = stores(&format!("http://127.0.0.1:{port}")).await;
    let xor = xor_lever_sandbox::XorSandbox::spawn().await;
    let mut deps = xor_lever_shared::config::sync_deps(
        Arc::new(xor_lever_shared::adapters::memory::MemoryStore::new()),
        xor_lever_shared::config::http_client(),
    );
    deps.connections = table.clone();
    deps.mappings = table.clone();
    deps.runs = table;
    deps.secrets = secrets;
    let id = ConnectionId::parse("acme").unwrap();
    let r = xor_lever_shared::usecases::sync_connection(&deps, &id, &Default::default()).await;
    match &r.run.outcome {
        RunOutcome::Error { reason } => assert!(reason.contains("unavailable"), "{reason}"),
        o => panic!("{o:?}"),
    }
    assert_eq!(xor.stats().requests, 0, "nothing reached XOR");
}
