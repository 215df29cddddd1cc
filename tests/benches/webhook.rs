//! `cargo bench -p xor-lever-sandbox --bench webhook`: the webhook handler's latency without
//! Lever's time, p50/p99 over 1,000 local deliveries (each a new screening: signature, delivery
//! record, claim, mapping lookup, cached token, posting check, the PDF report, the create, the
//! completion), on the embedded store. Lever is the sandbox on loopback; the time spent waiting
//! on it is measured by the Lever client and subtracted.
use std::cell::Cell;
use std::time::Instant;

use xor_lever::adapters::lever::LEVER_NANOS;
use xor_lever::domain::webhook::WebhookSecret;
use xor_lever::usecases::webhook::{SignedHeaders, receive};
use xor_lever_sandbox::harness::{StoreKind, spawn_webhook_app};

const N: usize = 1000;

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for kind in [StoreKind::Memory, StoreKind::Sqlite] {
            let app = spawn_webhook_app(kind).await;
            let secret = WebhookSecret::parse(&app.secret).unwrap();
            let mut ours = Vec::with_capacity(N);
            let mut total = Vec::with_capacity(N);
            for i in 0..N + 50 {
                let body = serde_json::to_vec(&app.screening(&format!("cand_{i}"))).unwrap();
                let id = format!("msg_{i}");
                let ts = xor_lever::usecases::now_ms() / 1000;
                let h = SignedHeaders { id: Some(id.clone()), timestamp: Some(ts.to_string()), signature: Some(secret.sign(&id, ts, &body)) };
                let t0 = Instant::now();
                let (answer, lever_ns) = LEVER_NANOS
                    .scope(Cell::new(0), async {
                        let a = receive(&app.deps, app.id.as_str(), &h, &body, xor_lever::usecases::now_ms() + 30_000).await;
                        (a, LEVER_NANOS.with(|n| n.get()))
                    })
                    .await;
                let all = t0.elapsed().as_secs_f64() * 1000.0;
                assert_eq!(answer.status, 200, "{answer:?}");
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
                pct(&ours, 0.5),
                pct(&ours, 0.99),
                pct(&total, 0.5),
                pct(&total, 0.99)
            );
            assert_eq!(app.lever.opportunities().len(), N + 50);
        }
    });
}
