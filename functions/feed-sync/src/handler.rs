//! Runs on the schedule (EventBridge Scheduler): syncs every connected connection, a few at a
//! time, and stops starting XOR calls before the invocation's deadline. An operator can also
//! invoke it with `{"connection": "acme", "force": true, "dry_run": false}` for one connection.
use std::time::{Duration, SystemTime};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;
use xor_lever::domain::{ConnectionId, RunOutcome, SyncSummary};
use xor_lever::usecases::webhook::{RetrySummary, WebhookDeps, retry_waiting};
use xor_lever::usecases::{AllReport, Skipped, SyncDeps, SyncOptions, now_ms, sync_all, sync_connection};

/// Time kept back from the Lambda deadline for recording the runs and answering.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SyncEvent {
    Scheduled(#[allow(dead_code)] EventBridgeEvent<Value>),
    Manual {
        connection: Option<String>,
        #[serde(default)]
        force: bool,
        #[serde(default)]
        dry_run: bool,
    },
}

#[derive(Debug, Serialize)]
pub struct ConnectionResult {
    #[serde(flatten)]
    pub summary: SyncSummary,
    #[serde(flatten)]
    pub outcome: RunOutcome,
    pub guard: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SyncResponse {
    pub connections: Vec<ConnectionResult>,
    /// Connections not synced (revoked, disabled, pending), with the reason.
    pub skipped: Vec<Skipped>,
    /// Webhook deliveries that waited (Lever down, app revoked, a crashed attempt), replayed.
    pub webhooks: Option<RetrySummary>,
}

pub struct Handler {
    pub deps: SyncDeps,
    pub concurrency: usize,
    /// Present in the deployed function: each run also replays waiting webhook deliveries.
    pub webhooks: Option<WebhookDeps>,
}

/// At most this many waiting deliveries are replayed per run.
const REPLAY_LIMIT: usize = 200;

impl Handler {
    /// A bad event is the caller's error (not retried by the Scheduler's retry policy to any
    /// avail, so it fails loudly); a store outage is an error too, so the invocation is retried.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<SyncResponse, Error> {
        let (payload, ctx) = event.into_parts();
        let parsed: SyncEvent = serde_json::from_value(payload).map_err(|e| format!("unrecognised event: {e}"))?;
        let remaining = Duration::from_millis(ctx.deadline)
            .checked_sub(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default());
        let mut opts = SyncOptions::default();
        // Context::default() (tests, local runs) has no deadline.
        if ctx.deadline > 0 {
            opts.deadline = Some(Instant::now() + remaining.unwrap_or_default().saturating_sub(DEADLINE_MARGIN));
        }
        let all = match parsed {
            SyncEvent::Scheduled(_) | SyncEvent::Manual { connection: None, .. } => {
                if let SyncEvent::Manual { force, dry_run, .. } = parsed {
                    opts.force = force;
                    opts.dry_run = dry_run;
                }
                sync_all(&self.deps, &opts, self.concurrency, self.webhooks.as_ref()).await?
            }
            SyncEvent::Manual { connection: Some(id), force, dry_run } => {
                let id = ConnectionId::parse(&id)?;
                opts.force = force;
                opts.dry_run = dry_run;
                AllReport { reports: vec![sync_connection(&self.deps, &id, &opts).await], skipped: Vec::new() }
            }
        };
        let webhooks = match &self.webhooks {
            Some(w) if !opts.dry_run => {
                let deadline = if ctx.deadline > 0 {
                    ctx.deadline as i64 - DEADLINE_MARGIN.as_millis() as i64
                } else {
                    now_ms() + 60_000
                };
                match retry_waiting(w, deadline, REPLAY_LIMIT).await {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::error!(error = %e, "could not sweep waiting webhook deliveries");
                        None
                    }
                }
            }
            _ => None,
        };
        let connections = all
            .reports
            .into_iter()
            .map(|r| ConnectionResult { summary: r.run.summary, outcome: r.run.outcome, guard: r.run.guard })
            .collect();
        let response = SyncResponse { connections, skipped: all.skipped, webhooks };
        println!("{}", metrics(&response, now_ms()));
        Ok(response)
    }
}

/// The run's figures as a CloudWatch Embedded Metric Format line (namespace `XorLever`): the
/// alarms in template.yaml watch `SyncFailures` and `RevokedConnections`. A log line, so the
/// function needs no `cloudwatch:PutMetricData`.
pub fn metrics(r: &SyncResponse, now_ms: i64) -> Value {
    let failures = r
        .connections
        .iter()
        .filter(|c| {
            matches!(c.outcome, RunOutcome::FeedError { .. } | RunOutcome::Error { .. }) || c.summary.failed > 0
        })
        .count();
    let revoked = r.skipped.iter().filter(|s| s.status == "revoked").count();
    let waiting = r.webhooks.as_ref().map_or(0, |w| w.still_waiting);
    serde_json::json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": "XorLever",
                "Dimensions": [[]],
                "Metrics": [
                    {"Name": "SyncFailures", "Unit": "Count"},
                    {"Name": "RevokedConnections", "Unit": "Count"},
                    {"Name": "ConnectionsSynced", "Unit": "Count"},
                    {"Name": "WebhooksWaiting", "Unit": "Count"}
                ]
            }]
        },
        "SyncFailures": failures,
        "RevokedConnections": revoked,
        "ConnectionsSynced": r.connections.len(),
        "WebhooksWaiting": waiting
    })
}
