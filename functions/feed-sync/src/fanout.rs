//! The worker (issue 14's fan-out): on an SQS batch each record is one connection's turn
//! (`usecases::turns`), and the answer names the records to retry (`ReportBatchItemFailures`):
//! a failed turn never makes SQS redeliver the others.
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::stream::{self, StreamExt};
use serde_json::Value;
use tracing::Instrument;
use xor_lever_shared::domain::queue::SyncTurn;
use xor_lever_shared::usecases::turns::{TurnDeps, TurnError, TurnOutcome, take_turn};
use xor_lever_shared::usecases::{SyncOptions, now_ms};

use crate::event::work_deadline;
use crate::metrics::TurnCounts;

/// SQS's shape: `Records` whose `eventSource` is `aws:sqs`.
pub fn is_sqs(payload: &Value) -> bool {
    payload["Records"].as_array().and_then(|r| r.first()).is_some_and(|r| r["eventSource"] == "aws:sqs")
}

/// Why a record is answered as failed (SQS delivers it again, then keeps it in the DLQ).
#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error("not a sync turn: {0}")]
    NotATurn(#[source] serde_json::Error),
    #[error("a message without a body")]
    NoBody,
    #[error(transparent)]
    Turn(#[from] TurnError),
}

/// One SQS batch: each record a turn, `concurrency` at a time.
pub(crate) async fn take_turns(
    turns: &TurnDeps,
    concurrency: usize,
    event: SqsEvent,
    deadline: u64,
) -> SqsBatchResponse {
    let started = std::time::Instant::now();
    let end = work_deadline(deadline);
    let opts = &SyncOptions { deadline: end.map(|d| d.at), ..SyncOptions::default() };
    let deadline_ms = end.map_or_else(|| now_ms() + 15 * 60_000, |d| d.ms);
    let work = stream::iter(event.records)
        .map(|record| async move {
            let id = record.message_id.clone().unwrap_or_default();
            (id, take_record(turns, record, opts, deadline_ms).await)
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<(String, Result<TurnOutcome, RecordError>)>>();
    let (results, counters) = xor_lever_shared::metrics::counted(work).await;
    let mut answer = SqsBatchResponse::default();
    let mut count = TurnCounts::default();
    for (message_id, r) in results {
        match r {
            Err(e) => {
                let reason = xor_lever_shared::domain::ports::error_chain(&e);
                tracing::error!(message_id = %message_id, reason = %reason, "turn failed: SQS delivers it again");
                count.failed += 1;
                answer.add_failure(message_id);
            }
            Ok(o) => count.add(&o),
        }
    }
    count.emit(started.elapsed().as_millis(), &counters);
    answer
}

/// One record: its turn, taken inside a span that tags every log line with the connection.
async fn take_record(
    turns: &TurnDeps,
    record: SqsMessage,
    opts: &SyncOptions,
    deadline_ms: i64,
) -> Result<TurnOutcome, RecordError> {
    let body = record.body.ok_or(RecordError::NoBody)?;
    let turn: SyncTurn = serde_json::from_str(&body).map_err(RecordError::NotATurn)?;
    let span = tracing::info_span!("turn", connection = %turn.connection, invocation = turn.invocation);
    Ok(take_turn(turns, &turn, opts, deadline_ms).instrument(span).await?)
}
