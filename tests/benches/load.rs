//! `cargo bench -p xor-lever-sandbox --bench load [-- RATE SECONDS]`: the webhook router as
//! `xor-lever serve` runs it (HTTP on loopback, the embedded SQLite store, the Lever sandbox),
//! driven at a fixed rate (default 50 requests/s for 20 s; each a new screening, one in five
//! sent twice as XOR's retry). Prints throughput, p50/p99/max latency and the answers by status,
//! then counts the records against the requests: nothing lost, nothing twice.
use std::time::{Duration, Instant};

use xor_lever_sandbox::harness::{StoreKind, spawn_webhook_app};
use xor_lever_sandbox::percentile;
use xor_lever_shared::domain::webhook::WebhookSecret;

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with('-')).collect();
    let rate: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let app = std::sync::Arc::new(spawn_webhook_app(StoreKind::Sqlite).await);
        let feed = xor_lever_shared::domain::FeedState {
            last_run_clean: true,
            confirmed_at_ms: Some(xor_lever_shared::usecases::now_ms()),
            ..Default::default()
        };
        app.deps.connections.set_feed_state(&app.id, &feed).await.unwrap();
        let client = reqwest::Client::new();
        let total = rate * secs;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..total {
            // A fixed schedule: request i leaves at i / rate, whatever the answers do.
            let at = started + Duration::from_micros(i * 1_000_000 / rate);
            tokio::time::sleep_until(at.into()).await;
            let (app, client) = (app.clone(), client.clone());
            let retry = i % 5 == 0 && i > 0;
            let n = if retry { i - 1 } else { i };
            tasks.push(tokio::spawn(async move {
                let body = serde_json::to_vec(&app.screening(&format!("cand_{n}"))).unwrap();
                let id = format!("msg_{n}");
                let ts = xor_lever_shared::usecases::now_ms() / 1000;
                let sig = WebhookSecret::parse(&app.secret).unwrap().sign(&id, ts, &body);
                let t = Instant::now();
                let r = client
                    .post(format!("{}/webhooks/xor/{}", app.url, app.id))
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", sig)
                    .body(body)
                    .send()
                    .await;
                (r.map(|r| r.status().as_u16()).unwrap_or(0), t.elapsed().as_secs_f64() * 1000.0)
            }));
        }
        let mut lat = Vec::new();
        let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
        for t in tasks {
            let (st, ms) = t.await.unwrap();
            *by_status.entry(st).or_default() += 1;
            lat.push(ms);
        }
        let elapsed = started.elapsed().as_secs_f64();
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let distinct = (0..total).filter(|i| !(i % 5 == 0 && *i > 0)).count();
        let count = |status| {
            let app = app.clone();
            async move {
                xor_lever_shared::usecases::webhook::count_deliveries(&app.deps, &app.id, status, usize::MAX).await.unwrap()
            }
        };
        use xor_lever_shared::domain::DeliveryStatus::{Completed, Pending, Received};
        let (recorded, pending, received) = (count(Completed).await, count(Pending).await, count(Received).await);
        println!("load: {total} requests at {rate}/s for {secs} s ({distinct} screenings, the rest XOR's retries)");
        println!("  throughput {:.1} requests/s over {elapsed:.1} s", total as f64 / elapsed);
        println!(
            "  latency p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat[lat.len() - 1]
        );
        println!("  answers by status: {by_status:?}");
        println!(
            "  records: {recorded} completed + {pending} pending (answered 503: XOR and the sweep send them on) + {received} in progress = {} for {distinct} screenings; {} opportunities in Lever",
            recorded + pending + received,
            app.lever.opportunities().len()
        );
        // Then the schedule's sweep sends the waiting ones on.
        let mut rounds = 0;
        while count(Pending).await > 0 && rounds < 60 {
            let deadline = xor_lever_shared::usecases::now_ms() + 60_000;
            xor_lever_shared::usecases::webhook::retry_waiting(&app.deps, deadline, 1000).await.unwrap();
            rounds += 1;
        }
        println!(
            "  after {rounds} sweep(s): {} completed, {} opportunities in Lever",
            count(Completed).await,
            app.lever.opportunities().len()
        );
    });
}
