//! `cargo bench -p xor-lever-sandbox --bench webhook`: the webhook handler's latency without
//! Lever's time, p50/p99 over 1,000 local deliveries (each a new screening: signature, delivery
//! record, claim, mapping lookup, cached token, posting check, the PDF report, the create, the
//! completion), on the embedded store. Lever is the sandbox on loopback; the time spent waiting
//! on it is measured by the Lever client and subtracted. Also Lever calls per delivery (Lever
//! allows ~10 requests/s per key): with the feed vouching for the posting (as the scheduled sync
//! leaves it), and with that knowledge stale.
use std::time::Instant;

use xor_lever_sandbox::harness::{StoreKind, spawn_webhook_app};
use xor_lever_sandbox::percentile;
use xor_lever_shared::domain::webhook::WebhookSecret;
use xor_lever_shared::metrics::counted;
use xor_lever_shared::usecases::webhook::{Reply, SignedHeaders, receive};

const N: usize = 1000;

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for kind in [StoreKind::Memory, StoreKind::Sqlite] {
            let app = spawn_webhook_app(kind).await;
            let secret = WebhookSecret::parse(&app.secret).unwrap();
            let feed = |at: i64| xor_lever_shared::domain::FeedState {
                last_run_clean: true,
                confirmed_at_ms: Some(at),
                ..Default::default()
            };
            app.deps.connections.set_feed_state(&app.id, &feed(xor_lever_shared::usecases::now_ms())).await.unwrap();
            let calls_before = app.lever.stats().requests;
            let mut ours = Vec::with_capacity(N);
            let mut total = Vec::with_capacity(N);
            for i in 0..N + 50 {
                let body = serde_json::to_vec(&app.screening(&format!("cand_{i}"))).unwrap();
                let id = format!("msg_{i}");
                let ts = xor_lever_shared::usecases::now_ms() / 1000;
                let h = SignedHeaders { id: Some(id.clone()), timestamp: Some(ts.to_string()), signature: Some(secret.sign(&id, ts, &body)) };
                let t0 = Instant::now();
                let (answer, counters) = counted(receive(
                    &app.deps,
                    app.id.as_str(),
                    &h,
                    &body,
                    xor_lever_shared::usecases::now_ms() + 30_000,
                ))
                .await;
                let lever_ns = counters.lever_nanos;
                let all = t0.elapsed().as_secs_f64() * 1000.0;
                assert_eq!(answer.reply, Reply::Accepted, "{answer:?}");
                if i >= 50 {
                    // the first 50 warm caches and connections
                    total.push(all);
                    ours.push(all - lever_ns as f64 / 1e6);
                }
            }
            ours.sort_by(f64::total_cmp);
            total.sort_by(f64::total_cmp);
            println!(
                "webhook  {:>6} store  {N} deliveries  without Lever: p50 {:>6.2} ms  p99 {:>6.2} ms   with loopback Lever: p50 {:>6.2} ms  p99 {:>6.2} ms",
                format!("{kind:?}").to_lowercase(),
                percentile(&ours, 0.5),
                percentile(&ours, 0.99),
                percentile(&total, 0.5),
                percentile(&total, 0.99)
            );
            assert_eq!(app.lever.opportunities().len(), N + 50);
            let fresh = (app.lever.stats().requests - calls_before) as f64 / (N + 50) as f64;
            // The same with stale knowledge: the posting is read from Lever first.
            app.deps.connections.set_feed_state(&app.id, &feed(0)).await.unwrap();
            let before = app.lever.stats().requests;
            for i in 0..100 {
                let body = serde_json::to_vec(&app.screening(&format!("stale_{i}"))).unwrap();
                let id = format!("stale_{i}");
                let ts = xor_lever_shared::usecases::now_ms() / 1000;
                let h = SignedHeaders { id: Some(id.clone()), timestamp: Some(ts.to_string()), signature: Some(secret.sign(&id, ts, &body)) };
                let a = receive(&app.deps, app.id.as_str(), &h, &body, xor_lever_shared::usecases::now_ms() + 30_000).await;
                assert_eq!(a.reply, Reply::Accepted, "{a:?}");
            }
            let stale = (app.lever.stats().requests - before) as f64 / 100.0;
            println!(
                "webhook  {:>6} store  Lever calls per delivery: {fresh:.2} (the feed vouches for the posting: create + note), {stale:.2} (stale: + GET posting)",
                format!("{kind:?}").to_lowercase()
            );
        }
    });
}
