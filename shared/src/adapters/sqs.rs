//! The sync queue on SQS: turns sent with `SendMessageBatch`, 10 per call (SQS's limit), each
//! entry that SQS reports as failed for its own reasons retried once.
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

    /// One batch call; returns the entries (indices into `batch`) to try again and the reason,
    /// or the whole batch when the call itself failed.
    async fn send_batch(&self, batch: &[&SyncTurn], delay_secs: u32) -> Result<(), (Vec<usize>, String)> {
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
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| ((0..batch.len()).collect::<Vec<_>>(), DisplayErrorContext(&e).to_string()))?;
        let failed: Vec<usize> = out.failed().iter().filter_map(|f| f.id().parse().ok()).collect();
        match out.failed().first() {
            None => Ok(()),
            Some(f) => Err((failed, format!("{}: {}", f.code(), f.message().unwrap_or("")))),
        }
    }
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
                match self.send_batch(&batch, delay_secs).await {
                    Ok(()) => break,
                    Err((failed, why)) => {
                        batch = failed.into_iter().filter_map(|i| batch.get(i).copied()).collect();
                        if attempt == 2 || batch.is_empty() {
                            refused.extend(batch.iter().map(|t| t.connection.clone()));
                            reason = why;
                            break;
                        }
                    }
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
