//! One job's write: create, update or close it in XOR (adopting on a 409, re-creating on a
//! 404), then its mapping, versioned.
use tokio::time::Instant;

use super::crash::Crash;
use super::{JobOutcome, SyncDeps, SyncOptions};
use crate::domain::*;
use crate::usecases::now_ms;

pub(super) fn failure(p: &PostingId, op: &str, e: impl std::fmt::Display) -> JobFailure {
    JobFailure { posting_id: p.to_string(), op: op.into(), error: e.to_string() }
}

pub(super) struct ApplyCtx<'a> {
    pub(super) deps: &'a SyncDeps,
    pub(super) board: &'a dyn JobBoard,
    pub(super) conn: &'a Connection,
    pub(super) opts: &'a SyncOptions,
    pub(super) crash: &'a Crash,
}

impl ApplyCtx<'_> {
    pub(super) fn out_of_time(&self) -> bool {
        self.crash.dead() || self.opts.deadline.is_some_and(|d| Instant::now() + self.opts.call_reserve >= d)
    }

    pub(super) fn mapping_for(&self, p: &Posting, job: &XorJob, generation: u32, status: MappingStatus) -> JobMapping {
        JobMapping {
            connection: self.conn.id.clone(),
            posting_id: p.external_id.clone(),
            xor_job_id: job.id.clone(),
            chatbot_url: job.chatbot_url.clone(),
            webchat_url: job.webchat_url.clone(),
            title: p.title.clone(),
            location: p.location.label(),
            content_hash: p.content_hash(),
            status,
            generation,
            version: 0,
            updated_at: now_ms() / 1000,
        }
    }

    pub(super) async fn save(&self, m: JobMapping, expected: Option<u64>, done: JobOutcome, op: &str) -> JobOutcome {
        let pid = m.posting_id.clone();
        let job = m.xor_job_id.clone();
        self.crash.stop_if_dead().await;
        match self.deps.mappings.upsert_mapping(m, expected).await {
            Ok(_) => {
                self.crash.point("after_mapping_write").await;
                done
            }
            Err(StoreError::Conflict { .. }) => JobOutcome::Conflict,
            Err(e) => JobOutcome::Failed(failure(
                &pid,
                op,
                format!("XOR job {job} is written but its mapping is not ({e}); the next run repeats the call safely"),
            )),
        }
    }

    /// Create (or re-open) with an idempotency key: a retry after a lost response, or a second
    /// run before the mapping was written, gets the same job back.
    pub(super) async fn create(&self, p: &Posting, generation: u32, expected: Option<u64>) -> JobOutcome {
        if self.out_of_time() {
            return JobOutcome::Deferred;
        }
        let key = idempotency_key(&self.conn.id, &p.external_id, generation);
        let job = match self.board.create(&key, p).await {
            Ok(job) => job,
            // The key was used with another body (the posting changed between a lost create
            // and now): find the job the key made and bring it up to date.
            Err(XorError::Rejected { status: 409, .. }) => match self.adopt(p).await {
                Ok(Some(job)) => job,
                Ok(None) => {
                    return JobOutcome::Failed(failure(
                        &p.external_id,
                        "create",
                        "XOR reports an idempotency conflict but lists no job for this posting",
                    ));
                }
                Err(e) => return JobOutcome::Failed(failure(&p.external_id, "create", e)),
            },
            // XOR may have made it: the same key again (later in this run) gets it back.
            Err(e @ XorError::Unavailable { .. }) => {
                return JobOutcome::Unanswered(failure(&p.external_id, "create", e));
            }
            Err(e) => return JobOutcome::Failed(failure(&p.external_id, "create", e)),
        };
        self.crash.point("after_xor_create").await;
        let m = self.mapping_for(p, &job, generation, MappingStatus::Active);
        self.save(m, expected, JobOutcome::Created, "create").await
    }

    pub(super) async fn adopt(&self, p: &Posting) -> Result<Option<XorJob>, XorError> {
        let jobs = self.board.list_all().await?;
        let Some(found) =
            jobs.into_iter().find(|j| j.external_id.as_deref() == Some(p.external_id.as_str()) && j.status == "active")
        else {
            return Ok(None);
        };
        self.board.update(&found.id, p).await.map(Some)
    }

    pub(super) async fn update(&self, p: &Posting, m: JobMapping) -> JobOutcome {
        if self.out_of_time() {
            return JobOutcome::Deferred;
        }
        match self.board.update(&m.xor_job_id, p).await {
            Ok(job) => {
                self.crash.point("after_xor_update").await;
                let new = self.mapping_for(p, &job, m.generation, MappingStatus::Active);
                self.save(new, Some(m.version), JobOutcome::Updated, "update").await
            }
            // The XOR job is gone: open a new one in its place (next generation).
            Err(XorError::Rejected { status: 404, .. }) => self.create(p, m.generation + 1, Some(m.version)).await,
            Err(e) => JobOutcome::Failed(failure(&p.external_id, "update", e)),
        }
    }

    pub(super) async fn close(&self, mut m: JobMapping) -> JobOutcome {
        if self.out_of_time() {
            return JobOutcome::Deferred;
        }
        match self.board.close(&m.xor_job_id).await {
            // A job XOR no longer has is as closed as it gets.
            Ok(_) | Err(XorError::Rejected { status: 404, .. }) => {
                self.crash.point("after_xor_close").await;
                let expected = m.version;
                m.status = MappingStatus::Closed;
                m.updated_at = now_ms() / 1000;
                self.save(m, Some(expected), JobOutcome::Closed, "close").await
            }
            Err(e) => JobOutcome::Failed(failure(&m.posting_id, "close", e)),
        }
    }
}
