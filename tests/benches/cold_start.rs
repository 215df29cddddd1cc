//! Cold start: the time from process start to the runtime's first `GET …/invocation/next` (the
//! moment Lambda counts init as done), for each function and for a hello-world `lambda_runtime`
//! binary built with the same release profile. Run by `infra/scripts/cold-start`, which builds
//! the three release binaries first (or set COLD_START_DIR to a folder holding them).
use std::time::Instant;

use xor_lever_sandbox::lambda_emulator::RunningEmulator;

const RUNS: usize = 30;

fn main() {
    let dir =
        std::env::var("COLD_START_DIR").unwrap_or_else(|_| format!("{}/../target/release", env!("CARGO_MANIFEST_DIR")));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut baseline = None;
    for name in ["hello-baseline", "feed-sync", "webhook"] {
        let bin = format!("{dir}/{name}");
        assert!(std::path::Path::new(&bin).exists(), "{bin} is missing: run infra/scripts/cold-start");
        let mut ms: Vec<f64> = (0..RUNS)
            .map(|_| {
                rt.block_on(async {
                    let emulator = RunningEmulator::spawn().await;
                    let started = Instant::now();
                    let mut child = std::process::Command::new(&bin)
                        .env("AWS_LAMBDA_RUNTIME_API", &emulator.addr)
                        .env("AWS_LAMBDA_FUNCTION_NAME", name)
                        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
                        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
                        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
                        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
                        .env("TABLE_NAME", "bench")
                        .env("AWS_ACCESS_KEY_ID", "test")
                        .env("AWS_SECRET_ACCESS_KEY", "test")
                        .env("AWS_REGION", "us-east-1")
                        .env("AWS_EC2_METADATA_DISABLED", "true")
                        .stdout(std::process::Stdio::null())
                        .spawn()
                        .unwrap();
                    let polled = emulator.first_poll().await;
                    let _ = child.kill();
                    let _ = child.wait();
                    polled.duration_since(started).as_secs_f64() * 1000.0
                })
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        let (p50, p90) = (ms[RUNS / 2], ms[RUNS * 9 / 10]);
        let size = std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
        let base = *baseline.get_or_insert(p50);
        println!(
            "cold start  {name:<15} p50 {p50:>6.2} ms  p90 {p90:>6.2} ms  ({:.2}× hello-world)  binary {size:.1} MB",
            p50 / base
        );
    }
}
