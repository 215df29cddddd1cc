//! Cold start, four figures, for each function and for a hello-world `lambda_runtime` binary built
//! with the same release profile:
//! - init: process start → the runtime's first `GET …/invocation/next` (what Lambda counts as
//!   init);
//! - first answer: process start → the first invocation's response, as the first user feels it.
//!   The functions build their clients (AWS SDK, TLS roots) on the first event, so that cost is
//!   here, with the store round trips (moto on loopback, an empty table): feed-sync is asked to
//!   sync a connection, the webhook answers a delivery for one; the connection is unknown, so
//!   each reads the store and answers so;
//! - second answer: the same event again to the same process, every client built and connected:
//!   the store round trips and the work alone. The target is 1.5× hello-world's first answer plus
//!   this;
//! - first answer with a one-certificate system store: the same, with `SSL_CERT_FILE` naming one
//!   CA certificate and `SSL_CERT_DIR` an empty folder. The AWS SDK's HTTP client reads the
//!   system CA store (rustls-native-certs: the bundle file and the certificates folder) on its
//!   first connection, then parses it into each connector's trust store; the difference between
//!   the two first answers is that read and parse. The variants alternate run by run.
//!
//! The functions start without cargo's `LD_LIBRARY_PATH` (the build folders of every crate with
//! a build script, the toolchain's libraries): with it, the loader probes ~250 paths for libc and
//! libgcc before `main`, which no Lambda does.
//!
//! Run by `infra/scripts/cold-start`, which builds the three release binaries and starts moto
//! (or set COLD_START_DIR to a folder holding them, and AWS_ENDPOINT_URL).
use std::time::{Duration, Instant};

use xor_lever_sandbox::lambda_emulator::RunningEmulator;

const RUNS: usize = 30;

/// One CA certificate (the config tests' fixture), standing in for a system store.
const ONE_CERT: &str = include_str!("../../shared/tests/fixtures/extra-root.pem");

fn event(name: &str) -> serde_json::Value {
    match name {
        "feed-sync" => serde_json::json!({"connection": "cold-start-probe"}),
        "webhook" => {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/events/webhook-request.json");
            let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            v["rawPath"] = "/webhooks/xor/cold-start-probe".into();
            v["requestContext"]["http"]["path"] = "/webhooks/xor/cold-start-probe".into();
            v["pathParameters"]["connection_id"] = "cold-start-probe".into();
            v
        }
        _ => serde_json::json!({}),
    }
}

fn percentiles(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    (ms[RUNS / 2], ms[RUNS * 9 / 10])
}

/// Where a function's first answer goes, timed in this (fresh) process, first call of each.
fn breakdown(rt: &tokio::runtime::Runtime) {
    // What the SDK's HTTP client does once per process, on its first connection.
    let t = Instant::now();
    let native = rustls_native_certs::load_native_certs();
    let native_ms = t.elapsed();
    // The lever measured beside what the functions do: a reqwest client on the system's CA
    // store (what the functions did before) and the default credential/region chain.
    let t = Instant::now();
    let _system = reqwest::Client::builder().build().unwrap();
    let system_store = t.elapsed();
    let t = Instant::now();
    let http = xor_lever_shared::config::http_client();
    let http_ms = t.elapsed();
    let t = Instant::now();
    let _again = xor_lever_shared::config::http_client();
    let http_again = t.elapsed();
    let t = Instant::now();
    let _chain = rt.block_on(aws_config::defaults(aws_config::BehaviorVersion::latest()).load());
    let chain_ms = t.elapsed();
    // SAFETY: single-threaded here (the runtime is idle); the functions see this variable in Lambda.
    unsafe { std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "cold-start-breakdown") };
    let t = Instant::now();
    let sdk = rt.block_on(xor_lever_shared::config::aws_sdk_config());
    let sdk_ms = t.elapsed();
    let t = Instant::now();
    let dynamo = xor_lever_shared::config::dynamo_client(&sdk);
    let _secrets = xor_lever_shared::config::secrets_client(&sdk);
    let clients_ms = t.elapsed();
    let t = Instant::now();
    let _ = rt.block_on(
        dynamo.get_item().table_name("bench").key("pk", aws_sdk_dynamodb::types::AttributeValue::S("x".into())).send(),
    );
    let first_call = t.elapsed();
    let t = Instant::now();
    let _ = rt.block_on(
        dynamo.get_item().table_name("bench").key("pk", aws_sdk_dynamodb::types::AttributeValue::S("x".into())).send(),
    );
    let second_call = t.elapsed();
    drop(http);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "first answer, where it goes (this process, first call each): the system CA store read by the AWS SDK's HTTP client {:.2} ms ({} certificates); reqwest client {:.2} ms with compiled-in roots (a second one {:.2} ms; on the system CA store {:.2} ms); AWS config {:.2} ms from Lambda's variables (the default chain {:.2} ms); DynamoDB + Secrets Manager clients {:.2} ms; first DynamoDB call to moto {:.2} ms (connect + request; the second {:.2} ms)",
        ms(native_ms),
        native.certs.len(),
        ms(http_ms),
        ms(http_again),
        ms(system_store),
        ms(sdk_ms),
        ms(chain_ms),
        ms(clients_ms),
        ms(first_call),
        ms(second_call)
    );
}

/// One cold start of `bin`, then a second event to the same process.
async fn run(bin: &str, name: &str, endpoint: &str, env: &[(&str, std::path::PathBuf)]) -> Run {
    let emulator = RunningEmulator::spawn().await;
    let started = Instant::now();
    let mut child = std::process::Command::new(bin)
        .env_remove("LD_LIBRARY_PATH")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", &emulator.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("TABLE_NAME", "bench")
        .env("SECRET_PREFIX", "bench/")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Queued as soon as the process runs: its first poll takes it at once.
    let probe = event(name);
    let answered =
        tokio::time::timeout(Duration::from_secs(25), emulator.invoke(&probe, Duration::from_secs(20))).await;
    let done = Instant::now();
    let polled = emulator.first_poll().await;
    // The same event again, in the same (now warm) process: the store round trips and the work,
    // with every client built and connected.
    let again = Instant::now();
    let warm = tokio::time::timeout(Duration::from_secs(25), emulator.invoke(&probe, Duration::from_secs(20))).await;
    let warm_ms = again.elapsed().as_secs_f64() * 1000.0;
    let _ = child.kill();
    let _ = child.wait();
    assert!(matches!(answered, Ok(Ok(_))), "{name} answered its first event: {answered:?}");
    assert!(matches!(warm, Ok(Ok(_))), "{name} answered its second event: {warm:?}");
    let ms = |t: Instant| t.duration_since(started).as_secs_f64() * 1000.0;
    Run { init: ms(polled), first: ms(done), warm: warm_ms }
}

/// One cold start, in ms: process start → first poll, → first answer; and the second answer.
struct Run {
    init: f64,
    first: f64,
    warm: f64,
}

fn main() {
    let dir =
        std::env::var("COLD_START_DIR").unwrap_or_else(|_| format!("{}/../target/release", env!("CARGO_MANIFEST_DIR")));
    let endpoint =
        std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL: run infra/scripts/cold-start (it starts moto)");
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The functions' table, empty: their store calls succeed as in a deployment (the probe's
    // connection is unknown) instead of failing on a missing table.
    rt.block_on(async {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        let table =
            xor_lever_shared::adapters::dynamodb::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), "bench");
        let _ = table.create_table().await; // already there from an earlier run: as good
    });
    let one_cert = tempfile::tempdir().unwrap();
    std::fs::write(one_cert.path().join("one.pem"), ONE_CERT).unwrap();
    std::fs::create_dir(one_cert.path().join("empty")).unwrap();
    let small_store =
        [("SSL_CERT_FILE", one_cert.path().join("one.pem")), ("SSL_CERT_DIR", one_cert.path().join("empty"))];
    let mut baseline = None;
    for name in ["hello-baseline", "feed-sync", "webhook"] {
        let bin = format!("{dir}/{name}");
        assert!(std::path::Path::new(&bin).exists(), "{bin} is missing: run infra/scripts/cold-start");
        // The two variants alternate, so that drift over the runs (the machine, moto's table)
        // falls on both alike.
        let (mut default, mut small) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            default.push(rt.block_on(run(&bin, name, &endpoint, &[])));
            small.push(rt.block_on(run(&bin, name, &endpoint, &small_store)));
        }
        let p = |runs: &[Run], f: fn(&Run) -> f64| percentiles(runs.iter().map(f).collect());
        let ((ip50, ip90), (fp50, fp90)) = (p(&default, |r| r.init), p(&default, |r| r.first));
        let ((sp50, sp90), (wp50, _)) = (p(&small, |r| r.first), p(&default, |r| r.warm));
        let size = std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
        let (bi, bf) = *baseline.get_or_insert((ip50, fp50));
        println!(
            "cold start  {name:<15} init p50 {ip50:>6.2} ms p90 {ip90:>6.2} ms ({:.2}×)  first answer p50 {fp50:>6.2} ms p90 {fp90:>6.2} ms ({:.2}× hello-world); one-certificate store p50 {sp50:>6.2} ms p90 {sp90:>6.2} ms; second answer p50 {wp50:>5.2} ms, target (1.5× hello-world + second answer) {:.2} ms  binary {size:.1} MB",
            ip50 / bi,
            fp50 / bf,
            1.5 * bf + wp50
        );
    }
    breakdown(&rt);
}
