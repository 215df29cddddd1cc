//! `cargo bench -p xor-lever-sandbox --bench refusal`: what an unauthenticated webhook request
//! costs us (docs/security.md). The largest body we read (255 KB) with a forged
//! `webhook-signature` header, through the handler, on each embedded store: 2,500 empty `v1,`
//! entries (10 KB, within API Gateway's header limits), and eight entries of the right shape
//! (within the caps: one MAC of the body for the connection's one secret). The bar: under 1 ms of
//! handler time.
use std::time::Instant;

use xor_lever_sandbox::harness::{StoreKind, spawn_webhook_app};
use xor_lever_sandbox::percentile;
use xor_lever_shared::usecases::webhook::{Reply, SignedHeaders, receive};

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for kind in [StoreKind::Memory, StoreKind::Sqlite] {
            let app = spawn_webhook_app(kind).await;
            let junk = vec![b'x'; 255 * 1024];
            let entries = |n: usize, b64: &str| vec![format!("v1,{b64}"); n].join(" ");
            for (what, header) in [
                ("2,500 empty v1 entries", entries(2500, "")),
                ("8 well-formed wrong entries", entries(8, &format!("{}=", "A".repeat(43)))),
            ] {
                let mut times = Vec::with_capacity(200);
                for i in 0..220 {
                    let ts = xor_lever_shared::usecases::now_ms() / 1000;
                    let h = SignedHeaders {
                        id: Some(format!("forged_{i}")),
                        timestamp: Some(ts.to_string()),
                        signature: Some(header.clone()),
                    };
                    let t0 = Instant::now();
                    let a =
                        receive(&app.deps, app.id.as_str(), &h, &junk, xor_lever_shared::usecases::now_ms() + 30_000)
                            .await;
                    let ms = t0.elapsed().as_secs_f64() * 1000.0;
                    assert_eq!(a.reply, Reply::Unsigned, "{a:?}");
                    if i >= 20 {
                        times.push(ms);
                    }
                }
                times.sort_by(f64::total_cmp);
                println!(
                    "refusal  {:>6} store  a forged 255 KB delivery, {what}: p50 {:.3} ms  p99 {:.3} ms (bar: 1 ms)",
                    format!("{kind:?}").to_lowercase(),
                    percentile(&times, 0.5),
                    percentile(&times, 0.99)
                );
            }
        }
    });
}
