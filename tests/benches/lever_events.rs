//! `cargo bench -p xor-lever-sandbox --bench lever_events`: how many of Lever's events one
//! connection absorbs (issue 25): N distinct signed deliveries about one of XOR's candidates,
//! posted over loopback HTTP 16 at a time to `serve`'s router, each recorded once; then how fast
//! the sweep confirms them with Lever and sends them to XOR (one Lever read and one XOR call
//! each; one candidate's events go in order, so this is the slowest case: a single chain).
//! On the embedded store (memory, SQLite) and, with AWS_ENDPOINT_URL set, DynamoDB on moto.
use std::time::Instant;

use futures::StreamExt;
use serde_json::json;
use xor_lever_sandbox::harness::{StoreKind, spawn_webhook_app};
use xor_lever_shared::domain::SecretString;
use xor_lever_shared::domain::ats::lever_webhook::lever_signature;

const N: usize = 2000;
const AT_ONCE: usize = 16;

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut kinds = vec![StoreKind::Memory, StoreKind::Sqlite];
        if std::env::var("AWS_ENDPOINT_URL").is_ok() {
            kinds.push(StoreKind::Aws);
        }
        for kind in kinds {
            let app = spawn_webhook_app(kind).await;
            app.subscribe_lever().await;
            let opp = app.screened("cand_bench").await;
            let hooks = xor_lever_shared::usecases::connect::subscribe::stored(&app.setup, &app.id).await.unwrap();
            let key = SecretString::new(hooks["candidateStageChange"].token.clone());
            let at = xor_lever_shared::usecases::now_ms();
            let bodies: Vec<serde_json::Value> = (0..N)
                .map(|i| {
                    let token = format!("{i:048}");
                    json!({"id": format!("evt_{i}"), "event": "candidateStageChange", "triggeredAt": at, "token": token,
                        "signature": lever_signature(&key, &token, at),
                        "data": {"opportunityId": opp, "toStageId": "lead-new"}})
                })
                .collect();
            let http = reqwest::Client::new();
            let url = format!("{}/webhooks/lever/{}", app.url, app.id);
            let t0 = Instant::now();
            let statuses: Vec<u16> = futures::stream::iter(bodies)
                .map(|b| {
                    let (http, url) = (http.clone(), url.clone());
                    async move { http.post(&url).json(&b).send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
                })
                .buffer_unordered(AT_ONCE)
                .collect()
                .await;
            let secs = t0.elapsed().as_secs_f64();
            assert!(statuses.iter().all(|s| *s == 200), "every event recorded");
            let kind_name = format!("{kind:?}").to_lowercase();
            println!("lever events  {kind_name:>6} store  {N} received: {:>7.0} events/s ({AT_ONCE} at once, loopback HTTP)", N as f64 / secs);
            let t0 = Instant::now();
            let mut forwarded = 0;
            while forwarded < 200 {
                let s = app.sweep_with(&app.deps).await;
                forwarded += s.completed;
                if s.replayed == 0 {
                    break;
                }
            }
            let secs = t0.elapsed().as_secs_f64();
            println!(
                "lever events  {kind_name:>6} store  {forwarded} forwarded by the sweep (one candidate's chain, in order): {:>7.0} events/s",
                forwarded as f64 / secs
            );
        }
    });
}
