//! The sync queue in one process (`xor-lever dev`, the fan-out bench, tests): turns wait in a
//! channel, a delayed one is put there after its delay. Whoever wires the process runs the
//! workers: they take turns with [`LocalQueue::next`] and say [`LocalQueue::finished`] after
//! each (a turn being taken may still send a continuation).
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use tokio::sync::{Mutex, mpsc};

use crate::domain::queue::{QueueError, SyncQueue, SyncTurn};

pub struct LocalQueue {
    tx: mpsc::UnboundedSender<SyncTurn>,
    rx: Mutex<mpsc::UnboundedReceiver<SyncTurn>>,
    /// Turns sent and not yet taken (delayed ones included).
    in_flight: Arc<AtomicUsize>,
    /// Turns taken and not yet finished.
    active: AtomicUsize,
}

impl LocalQueue {
    pub fn new() -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        Arc::new(Self { tx, rx: Mutex::new(rx), in_flight: Arc::new(AtomicUsize::new(0)), active: AtomicUsize::new(0) })
    }

    /// The next turn; `None` once nothing is left: every turn taken and finished, no delayed
    /// one waiting. Several workers may wait at once: each turn goes to one of them.
    pub async fn next(&self) -> Option<SyncTurn> {
        loop {
            // `active` first: a turn is counted active before it leaves `in_flight`.
            if self.active.load(Ordering::SeqCst) == 0 && self.in_flight.load(Ordering::SeqCst) == 0 {
                return None;
            }
            let mut rx = self.rx.lock().await;
            // Woken every 100 ms to see whether the last turn was taken by another worker.
            match tokio::time::timeout(std::time::Duration::from_millis(100), rx.recv()).await {
                Ok(Some(turn)) => {
                    self.active.fetch_add(1, Ordering::SeqCst);
                    self.in_flight.fetch_sub(1, Ordering::SeqCst);
                    return Some(turn);
                }
                Ok(None) => return None,
                Err(_) => continue,
            }
        }
    }

    /// The worker is done with the turn [`next`](Self::next) gave it (after any continuation
    /// it sent).
    pub fn finished(&self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl SyncQueue for LocalQueue {
    async fn send(&self, turns: &[SyncTurn], delay_secs: u32) -> Result<(), QueueError> {
        self.in_flight.fetch_add(turns.len(), Ordering::SeqCst);
        for t in turns {
            if delay_secs == 0 {
                let _ = self.tx.send(t.clone());
            } else {
                let (tx, t) = (self.tx.clone(), t.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs(delay_secs.into())).await;
                    let _ = tx.send(t);
                });
            }
        }
        Ok(())
    }
}
