//! `cargo bench -p xor-lever-sandbox --bench feed`: parse throughput and peak memory for
//! generated feeds of 1k and 10k postings (~4 KB each: the 10k feed is ~40 MB), and a full sync of
//! the 10k feed from the embedded store. Each case runs in a process of its own so that its peak
//! RSS (VmHWM) is its own; the XOR sandbox and the feed server run in yet another process.
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const DESC_BYTES: usize = 3600;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn feed_file(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join(format!("feed-{n}.xml"));
    if !path.exists() {
        let w = BufWriter::new(std::fs::File::create(&path).unwrap());
        xor_lever_sandbox::feeds::write_feed(w, 0..n, DESC_BYTES, "").unwrap();
    }
    path
}

fn parse_case(path: &Path) {
    let bytes = std::fs::metadata(path).unwrap().len() as f64;
    let t = Instant::now();
    let mut jobs = 0usize;
    let report =
        xor_lever_shared::feed::parse(BufReader::new(std::fs::File::open(path).unwrap()), Default::default(), |p| {
            jobs += 1;
            std::hint::black_box(p);
            ControlFlow::Continue(())
        })
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(report.jobs, jobs);
    println!(
        "parse  {:>6} postings  {:>6.1} MB  {:>7.1} MB/s  {:>6.3} s  peak RSS {:>6.1} MB",
        jobs,
        bytes / 1e6,
        bytes / 1e6 / secs,
        secs,
        peak_rss_mb()
    );
}

/// Serves the XOR sandbox and the feed; prints both URLs, then waits for stdin to close.
fn serve_case(path: &Path) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let xor = xor_lever_sandbox::XorSandbox::spawn().await;
        let feed = xor_lever_sandbox::FeedServer::spawn(std::fs::read(path).unwrap()).await;
        println!("{} {}", xor.url, feed.url);
        std::io::stdout().flush().unwrap();
        tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            let _ = std::io::stdin().read_line(&mut s);
        })
        .await
        .unwrap();
    });
}

fn sync_case(xor_url: &str, feed_url: &str, bytes: u64) {
    use xor_lever_shared::domain::*;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let http = xor_lever_shared::config::http_client();
        let s = std::sync::Arc::new(xor_lever_shared::adapters::sqlite::SqliteStore::open_dir(dir.path()).unwrap());
        let deps = xor_lever_shared::config::sync_deps(s, http);
        let id = ConnectionId::parse("bench").unwrap();
        let mut c = Connection::new(id.clone(), feed_url.into(), xor_url.into(), 0);
        c.xor_max_rps = 1000.0;
        c.xor_concurrency = 8;
        deps.connections.create_connection(&c).await.unwrap();
        deps.secrets.create_secret(&id, "xor-api-key", Some(&SecretString::new("k"))).await.unwrap();
        let t = Instant::now();
        let r = xor_lever_shared::usecases::sync_connection(&deps, &id, &Default::default()).await;
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(r.run.summary.failed, 0, "{:?}", r.run);
        println!(
            "sync   {:>6} postings  {:>6.1} MB  {:>7.0} jobs/s  {:>6.2} s  peak RSS {:>6.1} MB  (embedded store, XOR sandbox unthrottled)",
            r.run.summary.created,
            bytes as f64 / 1e6,
            r.run.summary.created as f64 / secs,
            secs,
            peak_rss_mb()
        );
    });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    match args.first().map(String::as_str) {
        Some("parse") => return parse_case(Path::new(&args[1])),
        Some("serve") => return serve_case(Path::new(&args[1])),
        Some("sync") => return sync_case(&args[1], &args[2], args[3].parse().unwrap()),
        _ => {}
    }
    let dir = std::env::temp_dir().join("xor-lever-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let me = std::env::current_exe().unwrap();
    let run = |args: &[&str]| {
        let st = Command::new(&me).args(args).status().unwrap();
        assert!(st.success());
    };
    for n in [1_000, 10_000] {
        let f = feed_file(&dir, n);
        run(&["parse", f.to_str().unwrap()]);
    }
    let f = feed_file(&dir, 10_000);
    let mut server = Command::new(&me)
        .args(["serve", f.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let urls: Vec<&str> = line.split_whitespace().collect();
    let bytes = std::fs::metadata(&f).unwrap().len().to_string();
    run(&["sync", urls[0], urls[1], &bytes]);
    drop(server.stdin.take());
    let _ = server.wait();
}
