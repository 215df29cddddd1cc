//! The feed-sync function's handler: one binary, two deployed roles. On the schedule (or an
//! operator's event) it runs `usecases::schedule`: it dispatches one turn per connection to the
//! sync queue (`SYNC_QUEUE_URL` set), or syncs in place. On an SQS batch it is the worker
//! (fanout.rs). This crate keeps what is Lambda's: the events, the `Diagnostic`, the metric lines.
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use xor_lever_shared::domain::{IdError, StoreError};
use xor_lever_shared::usecases::schedule::{self, Dispatched, RunReport, ScheduleError};
use xor_lever_shared::usecases::turns::TurnDeps;
use xor_lever_shared::usecases::webhook::LeverContext;
use xor_lever_shared::usecases::{SyncDeps, now_ms};

use crate::event::{from_eventbridge, parse_event, work_deadline};
use crate::metrics::{dispatch_line, run_lines};
use xor_lever_shared::metrics::counted;

/// Why an invocation failed, and whether trying it again can help. The runtime reports it as a
/// [`Diagnostic`] whose `error_type` is `Retryable` or `NonRetryable` (the function's failure
/// record and CloudWatch Logs show which).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event is not one this function understands: the same event will fail again.
    #[error("unrecognised event: {0}")]
    BadEvent(String),
    #[error("unrecognised event: {0}")]
    Unreadable(#[source] serde_json::Error),
    #[error("unrecognised event: {0} (expected a scheduled event or {{\"connection\", \"force\", \"dry_run\"}})")]
    // Not a `#[source]`: the message quotes it already, with what was expected.
    NotAnOperatorEvent(serde_json::Error),
    #[error("unrecognised event: {0}")]
    BadConnectionId(#[from] IdError),
    /// The store failed: a later run can succeed.
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    /// The sync queue did not take every turn: a later run can succeed.
    #[error("{0}")]
    Queue(#[source] xor_lever_shared::usecases::turns::DispatchError),
}

impl HandlerError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::BadEvent(_) | Self::Unreadable(_) | Self::NotAnOperatorEvent(_) | Self::BadConnectionId(_) => false,
            Self::Store(e) => matches!(e, StoreError::Unavailable { .. } | StoreError::Conflict { .. }),
            Self::Queue(_) => true,
        }
    }
}

impl From<ScheduleError> for HandlerError {
    fn from(e: ScheduleError) -> Self {
        match e {
            ScheduleError::Refused(why) => Self::BadEvent(why.into()),
            ScheduleError::Store(e) => Self::Store(e),
            ScheduleError::Dispatch(e) => Self::Queue(e),
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = if e.is_retryable() { "Retryable" } else { "NonRetryable" };
        // The whole chain: the queue's or the store's own error says what failed.
        Diagnostic { error_type: error_type.into(), error_message: xor_lever_shared::domain::ports::error_chain(&e) }
    }
}

pub struct Handler {
    pub deps: SyncDeps,
    pub concurrency: usize,
    /// Present in the deployed function: each run also replays waiting webhook deliveries.
    pub webhooks: Option<LeverContext>,
    /// Present when deployed with the sync queue (`SYNC_QUEUE_URL`): the schedule dispatches
    /// turns and SQS batches are taken as turns (fanout.rs); absent, a run syncs everything.
    pub turns: Option<TurnDeps>,
}

impl Handler {
    /// The entry point of the deployed functions: routes by the event's shape.
    pub async fn invoke(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        match &self.turns {
            Some(turns) if crate::fanout::is_sqs(&event.payload) => {
                let (payload, ctx) = event.into_parts();
                let sqs = serde_json::from_value(payload).map_err(HandlerError::Unreadable)?;
                Ok(json(&crate::fanout::take_turns(turns, self.concurrency, sqs, ctx.deadline).await))
            }
            Some(turns) => self.dispatch(turns, event).await.map(|d| json(&d)),
            None => self.handle(event).await.map(|r| json(&r)),
        }
    }

    /// The run in place. A bad event fails as `NonRetryable`; a store outage as `Retryable` (the
    /// next scheduled run is the retry: see template.yaml, `EventInvokeConfig`). Every exit
    /// emits the run's metrics: a run that returns, with figures or an error, is a heartbeat; one
    /// that times out or crashes emits nothing, which the heartbeat alarm (missing data =
    /// breaching) sees.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<RunReport, HandlerError> {
        let started = std::time::Instant::now();
        let (started_ms, scheduled) = (now_ms(), from_eventbridge(&event.payload));
        let (payload, ctx) = event.into_parts();
        let (result, counters) = counted(async {
            let request = parse_event(payload)?;
            let deadline = work_deadline(ctx.deadline);
            let run = schedule::run_here(&self.deps, self.webhooks.as_ref(), self.concurrency, request, deadline);
            Ok(run.await?)
        })
        .await;
        for line in run_lines(&result, scheduled, started.elapsed().as_millis(), &counters) {
            line.at(started_ms).emit();
        }
        result
    }

    /// The dispatcher: the turns to the sync queue, and its line.
    async fn dispatch(&self, turns: &TurnDeps, event: LambdaEvent<Value>) -> Result<Dispatched, HandlerError> {
        let started = std::time::Instant::now();
        let (started_ms, scheduled) = (now_ms(), from_eventbridge(&event.payload));
        let (result, counters) = counted(async {
            let request = parse_event(event.payload)?;
            Ok(schedule::dispatch_run(&*turns.sync.connections, &*turns.queue, request).await?)
        })
        .await;
        dispatch_line(&result, scheduled, started.elapsed().as_millis(), &counters).at(started_ms).emit();
        result
    }
}

fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("an answer serialises")
}
