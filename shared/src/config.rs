//! Wiring from the environment: the HTTP client, the AWS clients and the stores, built once per
//! process (a Lambda cold start, a CLI start) and shared by every invocation.
use std::sync::Arc;
use std::time::Duration;

pub use aws_config::SdkConfig;
pub use aws_sdk_dynamodb::Client as DynamoClient;

use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::feed_http::{DEFAULT_MAX_FEED_BYTES, FeedFetcher};
use crate::adapters::file_fetch::HttpFileFetcher;
pub use crate::adapters::file_fetch::ResumeHosts;
use crate::adapters::secrets_manager::SecretsManagerStore;
use crate::usecases::SyncDeps;

/// The deployment's settings, from the environment variables `template.yaml` sets.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `TABLE_NAME`
    pub table_name: String,
    /// `SECRET_PREFIX`, e.g. `xor-lever/` (secrets are `<prefix><connection>/<kind>`).
    pub secret_prefix: String,
    /// `SYNC_CONCURRENCY`: connections synced at once by one invocation.
    pub sync_concurrency: usize,
    /// `MAX_FEED_BYTES`
    pub max_feed_bytes: u64,
    /// `PUBLIC_URL`: the API's public base URL (a custom domain); else taken from each request.
    pub public_url: Option<String>,
    /// `SYNC_QUEUE_URL`: the sync queue (SQS). Set, the schedule sends one turn per connection
    /// and workers take them (usecases::turns); a new connection's first sync is a turn too.
    pub sync_queue_url: Option<String>,
    /// `DELIVERY_RETENTION_DAYS`: how long finished webhook deliveries are kept (TTL).
    pub delivery_retention_days: u32,
    /// `BODY_RETENTION_DAYS`: how long a finished screening's raw body (the candidate's personal
    /// data) is kept; the record itself keeps its TTL.
    pub body_retention_days: u32,
    /// `XOR_LEVER_RESUME_HOSTS`: the only hosts a resume link may point at.
    pub resume_hosts: ResumeHosts,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable missing or not of its form: the message names it.
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration: PUBLIC_URL: {0}")]
    PublicUrl(#[source] crate::url::PublicUrlError),
    #[error("configuration: {0}")]
    ResumeHosts(#[source] crate::adapters::file_fetch::BadHost),
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// The settings from `get` (the environment, or a test's map). The table and the secret
    /// prefix are required, never defaulted: a shell pointed at one stack's table must not read
    /// another stack's secrets.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| get(k).filter(|v| !v.is_empty());
        let num = |k: &str, d: u64| -> Result<u64, ConfigError> {
            var(k).map_or(Ok(d), |v| {
                v.parse().map_err(|_| ConfigError::Invalid(format!("{k} must be a whole number, got {v:?}")))
            })
        };
        Ok(Self {
            table_name: var("TABLE_NAME").ok_or_else(|| ConfigError::Invalid("TABLE_NAME is not set".into()))?,
            secret_prefix: var("SECRET_PREFIX").ok_or_else(|| {
                ConfigError::Invalid(
                    "SECRET_PREFIX is not set (the stack's SecretPrefix output, `<stack name>/`)".into(),
                )
            })?,
            sync_concurrency: num("SYNC_CONCURRENCY", 4)?.max(1) as usize,
            max_feed_bytes: num("MAX_FEED_BYTES", DEFAULT_MAX_FEED_BYTES)?,
            public_url: var("PUBLIC_URL")
                .map(|u| crate::url::public_base(&u).map_err(ConfigError::PublicUrl))
                .transpose()?,
            sync_queue_url: var("SYNC_QUEUE_URL"),
            delivery_retention_days: num(
                "DELIVERY_RETENTION_DAYS",
                u64::from(crate::domain::webhook::DEFAULT_RETENTION_DAYS),
            )?
            .clamp(1, 3650) as u32,
            body_retention_days: num(
                "BODY_RETENTION_DAYS",
                u64::from(crate::domain::webhook::DEFAULT_BODY_RETENTION_DAYS),
            )?
            .clamp(1, 3650) as u32,
            resume_hosts: resume_hosts_from_env()?,
        })
    }
}

/// `XOR_LEVER_RESUME_HOSTS` (comma-separated `host` or `host:port`); unset, XOR's file host.
pub fn resume_hosts_from_env() -> Result<ResumeHosts, ConfigError> {
    ResumeHosts::parse(&std::env::var("XOR_LEVER_RESUME_HOSTS").unwrap_or_default()).map_err(ConfigError::ResumeHosts)
}

/// The resume download's own client (adapters::file_fetch): the allow-list, the connect-time
/// address check, no redirects, no proxy.
pub fn resume_fetcher(hosts: ResumeHosts) -> Arc<HttpFileFetcher> {
    Arc::new(HttpFileFetcher::new(http_client_builder(), hosts))
}

/// One HTTP client for the outbound API calls (XOR, Lever): rustls, gzip, pooled connections,
/// and no redirect ever followed. A redirect would resend what the request carries (XOR's API
/// key, Lever's bearer token, the OAuth client secret and refresh token) to wherever the answer
/// points, and turn a POST into a GET: the adapters answer it as an error that names the target.
/// (The feeds follow https redirects: [`feed_client`]; the resume download has its own client:
/// [`resume_fetcher`].)
pub fn http_client() -> reqwest::Client {
    http_client_builder().redirect(reqwest::redirect::Policy::none()).build().expect("the TLS backend initialises")
}

/// The feed download's client: a customer's feed URL may move (a CDN, a site's new host), so a
/// redirect is followed, but only to https, never to an internal IP literal or `localhost`, and
/// at most 5 times. (A name the feed's host redirects to is resolved by the system: the feed
/// request carries no secret, and its answer is only parsed as a feed.) A feed request carries no secret. (The feed URL itself is the operator's: it may be
/// loopback, as in `xor-lever dev`.)
pub fn feed_client() -> reqwest::Client {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let internal = match attempt.url().host() {
            Some(url::Host::Ipv4(ip)) => crate::adapters::file_fetch::is_forbidden(ip.into()),
            Some(url::Host::Ipv6(ip)) => crate::adapters::file_fetch::is_forbidden(ip.into()),
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                d == "localhost" || d.ends_with(".localhost")
            }
            None => true,
        };
        if attempt.url().scheme() != "https" {
            attempt.error("the feed redirects to a non-https URL")
        } else if internal {
            attempt.error("the feed redirects to an internal address")
        } else if attempt.previous().len() >= 5 {
            attempt.error("the feed redirects more than 5 times")
        } else {
            attempt.follow()
        }
    });
    http_client_builder().redirect(policy).build().expect("the TLS backend initialises")
}

/// The settings every client of ours shares: the TLS roots, the user agent, the timeouts.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config())
        .user_agent(concat!("xor-lever/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(50))
}

/// The TLS settings of our own HTTPS calls (XOR, Lever, the feeds, resume files): aws-lc-rs as
/// the crypto, and Mozilla's roots compiled in as trust anchors (`webpki-roots`) rather than the
/// system store, which every reqwest client read and parsed again (~2.8 ms of a cold start,
/// docs/benchmarks.md). The roots follow Mozilla's list as of the build: a release picks up
/// root changes. `SSL_CERT_FILE`, when set, names a PEM bundle trusted as well (a proxy's own
/// CA). The AWS SDK keeps its own roots (the system store, loaded once per process).
pub fn tls_config() -> rustls::ClientConfig {
    let roots = roots_with(std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()).as_deref());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

fn roots_with(extra: Option<&std::ffi::OsStr>) -> rustls::RootCertStore {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let Some(path) = extra else { return roots };
    match CertificateDer::pem_file_iter(path) {
        Ok(certs) => {
            let (added, ignored) = roots.add_parsable_certificates(certs.filter_map(Result::ok));
            tracing::info!(added, ignored, file = ?path, "extra TLS roots from SSL_CERT_FILE");
        }
        Err(e) => tracing::warn!(error = %e, file = ?path, "SSL_CERT_FILE could not be read; Mozilla's roots only"),
    }
    roots
}

/// The AWS SDK configuration from the environment (region, credentials, and `AWS_ENDPOINT_URL`
/// so the same binary runs against moto).
///
/// In Lambda the region and the role's credentials are environment variables Lambda sets, so
/// they are read directly: the default chain also looks for profile files, SSO, web identity
/// and IMDS settings, ~3 ms of a cold start that finds nothing (docs/benchmarks.md). Anywhere
/// else (the CLI on a laptop, with profiles and SSO) the full default chain runs.
pub async fn aws_sdk_config() -> SdkConfig {
    match lambda_sdk_config() {
        Some(sdk) => sdk,
        None => aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await,
    }
}

/// `None` outside Lambda, or when Lambda's variables are not all there (then the default chain
/// decides, and says what is missing).
fn lambda_sdk_config() -> Option<SdkConfig> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    var("AWS_LAMBDA_FUNCTION_NAME")?;
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"))?;
    var("AWS_ACCESS_KEY_ID")?;
    var("AWS_SECRET_ACCESS_KEY")?;
    let credentials = aws_config::environment::EnvironmentVariableCredentialsProvider::new();
    let mut sdk = SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials));
    if let Some(endpoint) = var("AWS_ENDPOINT_URL") {
        sdk = sdk.endpoint_url(endpoint);
    }
    Some(sdk.build())
}

/// Every call gives up after `total` (its retries included), each attempt after `total / 2`: a
/// store that accepts connections but never answers cannot hold a request past its budget, and
/// the token refresh's lease is sized from these bounds (usecases::tokens).
fn timeouts(total: Duration) -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2).min(total))
        .operation_attempt_timeout(total / 2)
        .operation_timeout(total)
        .build()
}

pub fn dynamo_client(sdk: &SdkConfig) -> DynamoClient {
    let conf = aws_sdk_dynamodb::config::Builder::from(sdk)
        .timeout_config(timeouts(crate::adapters::dynamodb::CALL_TIMEOUT))
        .build();
    DynamoClient::from_conf(conf)
}

pub fn secrets_client(sdk: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    let conf = aws_sdk_secretsmanager::config::Builder::from(sdk)
        .timeout_config(timeouts(crate::adapters::secrets_manager::CALL_TIMEOUT))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(conf)
}

/// The deployment's stores, built once per process and shared by every port that needs them:
/// one client each for DynamoDB, Secrets Manager and (with `SYNC_QUEUE_URL`) SQS, so one
/// connection pool each, and a cold start makes each connection once.
#[derive(Clone)]
pub struct AwsStores {
    pub table: Arc<DynamoStore>,
    pub secrets: Arc<SecretsManagerStore>,
    pub queue: Option<Arc<crate::adapters::sqs::SqsQueue>>,
}

impl AwsStores {
    pub fn new(sdk: &SdkConfig, settings: &Settings) -> Self {
        Self {
            table: Arc::new(DynamoStore::new(dynamo_client(sdk), &settings.table_name)),
            secrets: Arc::new(SecretsManagerStore::new(secrets_client(sdk), &settings.secret_prefix)),
            queue: settings.sync_queue_url.as_ref().map(|url| Arc::new(sqs_queue(sdk, url))),
        }
    }
}

/// The production wiring: DynamoDB for state, Secrets Manager for secrets.
pub fn aws_deps(stores: &AwsStores, settings: &Settings, http: reqwest::Client) -> SyncDeps {
    let mut fetcher = FeedFetcher::new(feed_client());
    fetcher.max_bytes = settings.max_feed_bytes;
    SyncDeps {
        connections: stores.table.clone(),
        mappings: stores.table.clone(),
        runs: stores.table.clone(),
        catalogs: stores.table.clone(),
        secrets: stores.secrets.clone(),
        feeds: Arc::new(fetcher),
        boards: Arc::new(crate::adapters::xor::XorBoards::new(http)),
    }
}

/// The sync queue on SQS.
pub fn sqs_queue(sdk: &SdkConfig, url: &str) -> crate::adapters::sqs::SqsQueue {
    let conf = aws_sdk_sqs::config::Builder::from(sdk).timeout_config(timeouts(Duration::from_secs(5))).build();
    crate::adapters::sqs::SqsQueue::new(aws_sdk_sqs::Client::from_conf(conf), url)
}

/// The fan-out's worker wiring (when the stores have the sync queue): the sync's and Lever's
/// ports, the table's leases, the queue.
pub fn turn_deps(
    stores: &AwsStores,
    sync: SyncDeps,
    lever: Option<crate::usecases::context::LeverContext>,
) -> Option<crate::usecases::turns::TurnDeps> {
    Some(crate::usecases::turns::TurnDeps { sync, lever, leases: stores.table.clone(), queue: stores.queue.clone()? })
}

/// The production wiring of the webhook function.
pub fn lever_context(
    stores: &AwsStores,
    settings: &Settings,
    http: reqwest::Client,
) -> crate::usecases::context::LeverContext {
    let mut deps = lever_context_on(stores.table.clone(), stores.secrets.clone(), http);
    deps.files = resume_fetcher(settings.resume_hosts.clone());
    deps.delivery_retention_days = settings.delivery_retention_days;
    deps.body_retention_days = settings.body_retention_days;
    if let Some(queue) = &stores.queue {
        deps.sync_trigger = Some(queue.clone());
    }
    deps
}

/// The sync's wiring on one store that implements every store port (SQLite, memory), with XOR
/// and the feed over HTTP.
pub fn sync_deps<S>(store: Arc<S>, http: reqwest::Client) -> SyncDeps
where
    S: crate::domain::ConnectionStore
        + crate::domain::MappingStore
        + crate::domain::RunStore
        + crate::domain::SecretStore
        + crate::domain::CatalogStore
        + 'static,
{
    SyncDeps::from_store(
        store,
        Arc::new(FeedFetcher::new(feed_client())),
        Arc::new(crate::adapters::xor::XorBoards::new(http)),
    )
}

/// The Lever context on one store for state and one for secrets, with Lever and the resume
/// download over HTTP (resumes from XOR's file host only: set `files` to
/// [`resume_fetcher`] for another list).
pub fn lever_context_on<S: crate::usecases::context::LeverStores>(
    store: Arc<S>,
    secrets: Arc<dyn crate::domain::SecretStore>,
    http: reqwest::Client,
) -> crate::usecases::context::LeverContext {
    let mut deps = crate::usecases::context::LeverContext::from_store(
        store,
        secrets,
        Arc::new(crate::adapters::lever::LeverApi::new(http.clone())),
        resume_fetcher(ResumeHosts::default()),
    );
    // A webhook's question to XOR about one job: short, so the invocation keeps its time for
    // Lever (the use case bounds it by the deadline as well).
    deps.boards = Some(Arc::new(crate::adapters::xor::XorBoards {
        timeout: Duration::from_secs(3),
        retry: crate::adapters::retry::RetryPolicy {
            max_attempts: 2,
            budget: Duration::from_secs(5),
            ..Default::default()
        },
        ..crate::adapters::xor::XorBoards::new(http)
    }));
    deps
}

/// One process's wiring, built in one place (`wiring` for the sync's Lambda, whose handler takes
/// every part; the webhook Lambda takes only `lever_context`, the part it serves; the CLI's `Ctx` builds
/// the same from its store): the sync's ports, Lever's (OAuth, webhooks, replays), the fan-out's
/// when the stack has a sync queue, and HTTP's own setting. Each use case takes the narrow part
/// it needs.
#[derive(Clone)]
pub struct Wiring {
    pub sync: SyncDeps,
    pub lever: crate::usecases::context::LeverContext,
    /// The sync queue's worker and dispatcher (`SYNC_QUEUE_URL` set).
    pub turns: Option<crate::usecases::turns::TurnDeps>,
    /// The router's public base URL (`PUBLIC_URL`).
    pub public_url: Option<String>,
}

/// The deployed functions' wiring: the AWS stores, the HTTP clients, the settings.
pub async fn wiring(settings: &Settings) -> Wiring {
    let sdk = aws_sdk_config().await;
    let http = http_client();
    let stores = AwsStores::new(&sdk, settings);
    let sync = aws_deps(&stores, settings, http.clone());
    let lever = lever_context(&stores, settings, http);
    let turns = turn_deps(&stores, sync.clone(), Some(lever.clone()));
    Wiring { sync, lever, turns, public_url: settings.public_url.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_and_the_secret_prefix_are_required_never_defaulted() {
        let with = |pairs: &'static [(&'static str, &'static str)]| {
            Settings::from_vars(move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()))
        };
        let e = with(&[("TABLE_NAME", "t")]).err().expect("no prefix").to_string();
        assert!(e.contains("SECRET_PREFIX is not set"), "{e}");
        let e = with(&[("SECRET_PREFIX", "stack/")]).err().expect("no table").to_string();
        assert!(e.contains("TABLE_NAME is not set"), "{e}");
        let e = with(&[("TABLE_NAME", "t"), ("SECRET_PREFIX", "")]).err().expect("an empty prefix").to_string();
        assert!(e.contains("SECRET_PREFIX"), "{e}");
        let s = with(&[("TABLE_NAME", "t"), ("SECRET_PREFIX", "stack/")]).unwrap();
        assert_eq!((s.table_name.as_str(), s.secret_prefix.as_str()), ("t", "stack/"));
    }

    #[test]
    fn the_roots_are_mozillas_and_ssl_cert_file_adds_only_certificates() {
        let mozilla = roots_with(None).len();
        assert!(mozilla > 100, "{mozilla}");
        let dir = tempfile::tempdir().unwrap();
        // A self-signed CA certificate (made with openssl req -x509 for this test).
        let cert = include_str!("../tests/fixtures/extra-root.pem");
        let file = dir.path().join("extra.pem");
        // One certificate, one block that is not one (base64 of junk), and text around them.
        let text =
            format!("a comment\n{cert}-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n");
        std::fs::write(&file, text).unwrap();
        assert_eq!(roots_with(Some(file.as_os_str())).len(), mozilla + 1);
        assert_eq!(roots_with(Some(dir.path().join("missing.pem").as_os_str())).len(), mozilla);
    }

    #[test]
    fn reqwest_takes_the_preconfigured_tls() {
        // reqwest answers an unrecognised preconfigured TLS value with a build error: the
        // rustls version must be reqwest's own.
        reqwest::Client::builder().tls_backend_preconfigured(tls_config()).build().unwrap();
    }
}
