//! The deployed shape (issue 14's fan-out, `SYNC_QUEUE_URL` set): the same binary runs as two
//! functions. On the schedule (or an operator's event) it is the dispatcher: it sends one turn
//! per connected connection to the sync queue and syncs nothing itself. On an SQS batch it is
//! the worker: each record is one connection's turn (usecases::turns), and the answer names the
//! records to retry (`ReportBatchItemFailures`): a failed turn never makes SQS redeliver the
//! others.
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use futures::stream::{self, StreamExt};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use xor_lever::domain::queue::{SyncQueue, SyncTurn, TurnReason};
use xor_lever::domain::{ConnectionId, ConnectionStatus};
use xor_lever::metrics::MetricLine;
use xor_lever::usecases::turns::{DispatchError, TurnDeps, TurnOutcome, dispatch, take_turn};
use xor_lever::usecases::{SyncOptions, now_ms};

use crate::handler::{
    Handler, HandlerError, ManualEvent, SyncEvent, connection_line, parse_event, replay_counts, revoked, run_line,
    sync_failed, with_error, work_deadline,
};

/// SQS's shape: `Records` whose `eventSource` is `aws:sqs`.
pub fn is_sqs(payload: &Value) -> bool {
    payload["Records"].as_array().and_then(|r| r.first()).is_some_and(|r| r["eventSource"] == "aws:sqs")
}

/// The dispatcher's answer.
#[derive(Debug, Serialize)]
pub struct Dispatched {
    pub sent: usize,
    pub skipped: Vec<xor_lever::usecases::Skipped>,
    /// Connections whose Lever authorization ends within 30 days (`None`: one connection's
    /// turn, nothing measured).
    pub renewals_due: Option<Vec<String>>,
}

impl Handler {
    /// The entry point of the deployed functions: routes by the event's shape.
    pub async fn invoke(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        match &self.turns {
            Some(turns) if is_sqs(&event.payload) => {
                let (payload, ctx) = event.into_parts();
                let sqs: SqsEvent =
                    serde_json::from_value(payload).map_err(|e| HandlerError::BadEvent(e.to_string()))?;
                Ok(json(&self.take_turns(turns, sqs, ctx.deadline).await))
            }
            Some(turns) => self.dispatch_event(turns, event).await.map(|d| json(&d)),
            None => self.handle(event).await.map(|r| json(&r)),
        }
    }

    async fn dispatch_event(&self, turns: &TurnDeps, event: LambdaEvent<Value>) -> Result<Dispatched, HandlerError> {
        let started = std::time::Instant::now();
        let (started_ms, scheduled) = (now_ms(), crate::handler::from_eventbridge(&event.payload));
        let result = self.dispatch_inner(turns, event.payload).await;
        dispatch_metrics(&result, scheduled, started.elapsed().as_millis()).at(started_ms).emit();
        result
    }

    async fn dispatch_inner(&self, turns: &TurnDeps, payload: Value) -> Result<Dispatched, HandlerError> {
        let queue: &dyn SyncQueue = &*turns.queue;
        match parse_event(payload)? {
            SyncEvent::Scheduled | SyncEvent::Manual(ManualEvent { connection: None, force: false, dry_run: false }) => {
                let r = dispatch(&*turns.sync.connections, queue).await.map_err(|e| match e {
                    DispatchError::Store(e) => HandlerError::Store(e),
                    e @ DispatchError::Queue { .. } => HandlerError::Queue(Box::new(e)),
                })?;
                Ok(Dispatched { sent: r.sent, skipped: r.skipped, renewals_due: Some(r.renewals_due) })
            }
            SyncEvent::Manual(ManualEvent { dry_run: true, .. }) => Err(HandlerError::BadEvent(
                "a dry run is not queued (its plan would be lost): run `xor-lever sync --dry-run` against the deployment"
                    .into(),
            )),
            SyncEvent::Manual(ManualEvent { connection: None, force: true, .. }) => Err(HandlerError::BadEvent(
                "`force` lets every connection's mass-close guard through: name one connection".into(),
            )),
            SyncEvent::Manual(ManualEvent { connection: Some(id), force, .. }) => {
                let turn = SyncTurn { force, ..SyncTurn::new(ConnectionId::parse(&id)?, TurnReason::Operator) };
                queue.send(&[turn], 0).await.map_err(|e| HandlerError::Queue(Box::new(e)))?;
                Ok(Dispatched { sent: 1, skipped: Vec::new(), renewals_due: None })
            }
        }
    }

    /// One SQS batch: each record a turn, `sync_concurrency` at a time.
    async fn take_turns(&self, turns: &TurnDeps, event: SqsEvent, deadline: u64) -> SqsBatchResponse {
        let started = std::time::Instant::now();
        let end = work_deadline(deadline);
        let opts = &SyncOptions { deadline: end.map(|(at, _)| at), ..SyncOptions::default() };
        let deadline_ms = end.map_or_else(|| now_ms() + 15 * 60_000, |(_, ms)| ms);
        let results: Vec<(String, Result<TurnOutcome, String>)> = stream::iter(event.records)
            .map(|record| async move {
                let id = record.message_id.clone().unwrap_or_default();
                let turn = match record.body.as_deref().map(serde_json::from_str::<SyncTurn>) {
                    Some(Ok(t)) => t,
                    // Retried, then kept in the dead-letter queue for an operator to read.
                    Some(Err(e)) => return (id, Err(format!("not a sync turn: {e}"))),
                    None => return (id, Err("a message without a body".into())),
                };
                let _span = tracing::info_span!("turn", connection = %turn.connection, invocation = turn.invocation);
                let out = take_turn(turns, &turn, opts, deadline_ms).await.map_err(|e| {
                    let e: &dyn std::error::Error = &e;
                    let cause = e.source().map(|s| format!(": {s}")).unwrap_or_default();
                    format!("{e}{cause}")
                });
                (id, out)
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let mut answer = SqsBatchResponse::default();
        let line = MetricLine::new(None)
            .millis("DurationMs", started.elapsed().as_millis())
            .with_cold_start()
            .with_process_counts();
        let mut count = TurnCounts::default();
        for (message_id, r) in results {
            match r {
                Err(reason) => {
                    tracing::error!(message_id = %message_id, reason = %reason, "turn failed: SQS delivers it again");
                    count.failed += 1;
                    answer.add_failure(message_id);
                }
                Ok(o) => count.add(&o),
            }
        }
        count.onto(line).emit();
        for l in count.connection_lines {
            l.emit();
        }
        answer
    }
}

/// The figures of one batch of turns.
#[derive(Default)]
struct TurnCounts {
    taken: usize,
    busy: usize,
    skipped: usize,
    failed: usize,
    continued: usize,
    revoked: usize,
    sync_failures: usize,
    check_failures: usize,
    /// What the replays did, when any ran (`None`: nothing measured, no 0 to clear the alarm).
    webhooks: Option<xor_lever::usecases::webhook::RetrySummary>,
    connection_lines: Vec<MetricLine>,
}

impl TurnCounts {
    fn add(&mut self, o: &TurnOutcome) {
        match o {
            TurnOutcome::Busy { .. } => self.busy += 1,
            TurnOutcome::Skipped { skipped, webhooks } => {
                self.skipped += 1;
                self.revoked += usize::from(skipped.status == ConnectionStatus::Revoked);
                self.add_replays(webhooks);
            }
            TurnOutcome::Taken { report, webhooks, continued, lever_check_failed } => {
                self.taken += 1;
                self.continued += usize::from(*continued);
                self.check_failures += usize::from(*lever_check_failed);
                let run = &report.run;
                let failed = sync_failed(&run.outcome, &run.summary);
                self.sync_failures += usize::from(failed);
                self.add_replays(webhooks);
                self.connection_lines.push(connection_line(&run.summary, &run.outcome, run.guard.is_some(), failed));
            }
        }
    }

    fn add_replays(&mut self, w: &Option<xor_lever::usecases::webhook::RetrySummary>) {
        if let Some(w) = w {
            self.webhooks.get_or_insert_default().add(w.clone());
        }
    }

    fn onto(&self, line: MetricLine) -> MetricLine {
        let line = line
            .count("TurnsTaken", self.taken)
            .count("TurnsBusy", self.busy)
            .count("TurnsSkipped", self.skipped)
            .count("TurnsFailed", self.failed)
            .count("TurnsContinued", self.continued)
            .count("ConnectionsSynced", self.taken)
            .count("SyncFailures", self.sync_failures)
            .count("RevokedConnections", self.revoked)
            .count("LeverCheckFailures", self.check_failures);
        // Only what was measured (a 0 would clear the waiting alarm).
        match &self.webhooks {
            Some(w) => replay_counts(line, w),
            None => line,
        }
    }
}

/// The dispatcher's line: the heartbeat (`SyncRuns` for the schedule's run), what it sent.
fn dispatch_metrics(result: &Result<Dispatched, HandlerError>, scheduled: bool, duration_ms: u128) -> MetricLine {
    let line = run_line(scheduled, duration_ms);
    match result {
        Err(e) => with_error(line, e),
        Ok(d) => {
            let line = line
                .count("RunErrors", 0)
                .count("ConnectionsDispatched", d.sent)
                .count("ConnectionsSkipped", d.skipped.len())
                .count("RevokedConnections", revoked(&d.skipped));
            match &d.renewals_due {
                Some(due) => line.count("AuthorizationsExpiring", due.len()),
                None => line,
            }
        }
    }
}

fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("an answer serialises")
}
