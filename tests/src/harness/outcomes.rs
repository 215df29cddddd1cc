//! Lever's events on a `WebhookApp` (issue 25): registering the app's webhooks with the Lever
//! sandbox, moving an opportunity there as a recruiter would, and the scheduled sweep that
//! sends what was recorded to XOR.
use xor_lever_shared::domain::*;
use xor_lever_shared::usecases::context::LeverContext;

use super::WebhookApp;

impl WebhookApp {
    /// Registers the connection's webhooks in the Lever sandbox (as a connect does) and switches
    /// the webhook group on (the Super Admin's toggle).
    pub async fn subscribe_lever(&self) {
        let conn = self.setup.connections.connection(&self.id).await.unwrap().unwrap();
        let lever = self.setup.lever_for(&conn);
        let access = self
            .setup
            .tokens
            .access_token(&conn, &*lever, xor_lever_shared::usecases::now_ms() + 10_000)
            .await
            .unwrap();
        xor_lever_shared::usecases::connect::subscribe::subscribe(&self.setup, &conn, &access, &self.url)
            .await
            .unwrap();
        let r = reqwest::Client::new()
            .post(format!("{}/_sandbox/webhooks/enabled", self.lever.url))
            .json(&serde_json::json!({"enabled": true}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// Moves opportunity `opp` in the Lever sandbox (`{"to": "stage", "stage": …}`, `hire`,
    /// `archive`, `unarchive`, `delete`); Lever then posts its events to the app. Returns what
    /// the sandbox sent (each attempt with the app's answer).
    pub async fn lever_move(&self, opp: &str, how: serde_json::Value) -> Vec<serde_json::Value> {
        let r = reqwest::Client::new()
            .post(format!("{}/_sandbox/opportunities/{opp}/move", self.lever.url))
            .json(&how)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        let v: serde_json::Value = r.json().await.unwrap();
        v["events"].as_array().unwrap().iter().flat_map(|e| e["sent"].as_array().cloned().unwrap_or_default()).collect()
    }

    /// Posts a body to the app's Lever route as Lever would; returns (status, JSON body).
    pub async fn post_lever(&self, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}/webhooks/lever/{}", self.url, self.id))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// The scheduled sweep of this connection (what the worker runs on its turn), on `deps`.
    pub async fn sweep_with(&self, deps: &LeverContext) -> xor_lever_shared::usecases::webhook::RetrySummary {
        let conn = deps.connections.connection(&self.id).await.unwrap().unwrap();
        let deadline = (deps.clock)() + 60_000;
        xor_lever_shared::usecases::webhook::retry_connection(deps, &conn, deadline, deadline, 100).await.unwrap()
    }

    /// The connection's recorded Lever events (every status).
    pub async fn lever_events(&self) -> Vec<Delivery> {
        let all = xor_lever_shared::usecases::webhook::list_deliveries(&self.setup, Some(&self.id), None, 1000)
            .await
            .unwrap();
        all.into_iter().filter(xor_lever_shared::usecases::webhook::lever_events::is_lever_event).collect()
    }

    /// Sends candidate `cand`'s screening as XOR would and returns the opportunity it made.
    pub async fn screened(&self, cand: &str) -> String {
        let body = serde_json::to_vec(&self.screening(cand)).unwrap();
        let (st, answer, _) = self.deliver(&format!("msg_{cand}"), &body).await;
        assert_eq!(st, 200, "{answer}");
        answer["opportunity_id"].as_str().unwrap().to_owned()
    }
}
