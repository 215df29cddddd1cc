//! The sync queue on SQS: turns sent with `SendMessageBatch`, 10 per call (SQS's limit). An
//! entry SQS reports as failed for its own reasons (`SenderFault` false), or a whole call that
//! failed, is tried once more; an entry failed as the sender's fault (a body SQS will never
//! take) is not, since it would be refused again.
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::domain::queue::{QueueError, SyncQueue, SyncTurn, TurnReason};
use crate::domain::{ConnectionId, SyncTrigger, TriggerError};

/// SQS takes at most 10 entries per `SendMessageBatch`.
pub const BATCH: usize = 10;

pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    /// How many turns wait (`ApproximateNumberOfMessages`): `xor-lever doctor`'s proof that the
    /// queue is there and this caller may reach it.
    pub async fn waiting(&self) -> Result<u64, crate::domain::StoreError> {
        use aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| crate::adapters::sdk_unavailable("get queue attributes", e))?;
        Ok(out.attributes().and_then(|a| a.get(&ApproximateNumberOfMessages)).and_then(|n| n.parse().ok()).unwrap_or(0))
    }

    /// One batch call; on failure, which entries (indices into `batch`) to try again and which
    /// not, with the reason of the first.
    async fn send_batch(&self, batch: &[&SyncTurn], delay_secs: u32) -> Result<(), Refused> {
        let entries = batch
            .iter()
            .enumerate()
            .map(|(i, t)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(serde_json::to_string(t).expect("a turn serialises"))
                    .delay_seconds(delay_secs.min(900) as i32)
                    .build()
                    .expect("id and body are set")
            })
            .collect();
        let out =
            self.client.send_message_batch().queue_url(&self.url).set_entries(Some(entries)).send().await.map_err(
                |e| Refused {
                    retry: (0..batch.len()).collect(),
                    permanent: Vec::new(),
                    reason: DisplayErrorContext(&e).to_string(),
                },
            )?;
        let Some(first) = out.failed().first() else { return Ok(()) };
        let (mut retry, mut permanent) = (Vec::new(), Vec::new());
        for f in out.failed() {
            let Ok(i) = f.id().parse::<usize>() else { continue };
            if f.sender_fault() { permanent.push(i) } else { retry.push(i) }
        }
        Err(Refused { retry, permanent, reason: format!("{}: {}", first.code(), first.message().unwrap_or("")) })
    }
}

/// What one batch call did not send.
struct Refused {
    /// Worth one more try: SQS's own failure, or the whole call failed.
    retry: Vec<usize>,
    /// The sender's fault: a retry would be refused again.
    permanent: Vec<usize>,
    reason: String,
}

#[async_trait]
impl SyncQueue for SqsQueue {
    async fn send(&self, turns: &[SyncTurn], delay_secs: u32) -> Result<(), QueueError> {
        let mut refused: Vec<ConnectionId> = Vec::new();
        let mut reason = String::new();
        // Every batch is tried, whatever happened to the previous one: one failure costs only
        // its own connections a tick.
        for chunk in turns.chunks(BATCH) {
            let mut batch: Vec<&SyncTurn> = chunk.iter().collect();
            for attempt in 1..=2 {
                let Err(r) = self.send_batch(&batch, delay_secs).await else { break };
                let mut given_up: Vec<ConnectionId> =
                    r.permanent.iter().filter_map(|&i| batch.get(i)).map(|t| t.connection.clone()).collect();
                batch = r.retry.into_iter().filter_map(|i| batch.get(i).copied()).collect();
                if attempt == 2 {
                    given_up.extend(batch.iter().map(|t| t.connection.clone()));
                }
                if !given_up.is_empty() {
                    refused.extend(given_up);
                    reason = r.reason;
                }
                if batch.is_empty() {
                    break;
                }
            }
        }
        if refused.is_empty() { Ok(()) } else { Err(QueueError { connections: refused, reason }) }
    }
}

/// A connection's first sync (the OAuth callback) is a turn like any other.
#[async_trait]
impl SyncTrigger for SqsQueue {
    async fn trigger(&self, connection: &ConnectionId) -> Result<(), TriggerError> {
        self.send(&[SyncTurn::new(connection.clone(), TurnReason::Connected)], 0)
            .await
            .map_err(|e| TriggerError { message: e.to_string(), source: Some(Box::new(e)) })
    }
}
