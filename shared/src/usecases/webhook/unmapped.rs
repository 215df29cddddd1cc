//! A screening for an XOR job we have no mapping for: the job's create answer was lost, or its
//! mapping write has not landed (a crash between XOR's create and the write, a sync still
//! running). Not failed at once: XOR is asked about the job (`GET /v1/jobs/{id}`, with this
//! connection's key, so only its own jobs are seen); when XOR says it is this connection's job
//! for a Lever posting, the mapping is written as the sync writes it (the same conditional
//! write: a racing sync and this agree on one mapping) and the delivery goes on.
use super::Outcome;
use crate::domain::ports::XOR_API_KEY;
use crate::domain::*;
use crate::usecases::context::LeverContext;
use crate::usecases::now_ms;

/// The mapping for `s.job_id`, repaired from XOR's word, or the delivery's outcome: `failed`
/// when XOR does not know the job for this connection (or it is not a Lever posting's),
/// `pending` when XOR (or a store) cannot answer now.
pub(super) async fn repair(
    deps: &LeverContext,
    conn: &Connection,
    job_id: &str,
    hint: Option<&str>,
    deadline_ms: i64,
) -> Result<JobMapping, Outcome> {
    let job = ask_xor(deps, conn, job_id, deadline_ms).await?;
    let posting = lever_posting(conn, job_id, hint, &job)?;
    let current = match deps.mappings.mapping(&conn.id, &posting).await {
        Ok(m) => m,
        Err(e) => return Err(Outcome::Pending(format!("job mappings unavailable: {e}"))),
    };
    // A sync that mapped the job meanwhile: its mapping stands.
    if let Some(m) = current.as_ref().filter(|m| m.xor_job_id == job.id) {
        return Ok(m.clone());
    }
    // The posting's mapping names another, closed job (this is its re-open), or none.
    let generation = current.as_ref().map_or(0, |m| m.generation + u32::from(!m.is_active()));
    if current.as_ref().is_some_and(JobMapping::is_active) {
        return Err(unknown(job_id, &format!("posting {posting} is mapped to another XOR job")));
    }
    let mapping = new_mapping(conn, &job, posting, generation);
    write_mapping(deps, conn, job_id, mapping, current.map(|m| m.version)).await
}

/// The delivery's outcome for a job XOR does not give us as this connection's Lever posting.
fn unknown(job_id: &str, why: &str) -> Outcome {
    Outcome::Failed(format!("unknown XOR job {job_id}: {why}"))
}

/// XOR's job, asked with this connection's key within the invocation's time.
async fn ask_xor(deps: &LeverContext, conn: &Connection, job_id: &str, deadline_ms: i64) -> Result<XorJob, Outcome> {
    let Some(boards) = deps.boards.as_ref() else {
        return Err(unknown(job_id, "no job mapping for this connection"));
    };
    let key = match deps.secrets.secret(&conn.id, XOR_API_KEY).await {
        Ok(Some(k)) => k,
        Ok(None) => return Err(unknown(job_id, "no job mapping, and the connection has no XOR API key to ask XOR")),
        Err(e) => return Err(Outcome::Pending(format!("no job mapping yet, and the XOR API key is unavailable: {e}"))),
    };
    // Within the invocation: what XOR has not answered by then is answered `pending` in time
    // (the same reserve as a Lever call), never a killed invocation.
    let left = super::lever_call::time_left(deps, deadline_ms);
    let asked = tokio::time::timeout(left, boards.board(conn, key).job(job_id)).await;
    match asked {
        Ok(Ok(j)) => Ok(j),
        Ok(Err(e)) if e.status() == Some(404) => {
            Err(unknown(job_id, "XOR does not know it for this connection, and it has no job mapping"))
        }
        // A key XOR refuses (rotated, revoked) is the connection's to fix: the candidate waits.
        Ok(Err(e @ XorError::Rejected { status: 401 | 403, .. })) => {
            Err(Outcome::Pending(format!("no job mapping yet, and XOR refused this connection's key: {e}")))
        }
        Ok(Err(e @ XorError::Rejected { .. })) => {
            Err(unknown(job_id, &format!("no job mapping, and XOR refused to say: {e}")))
        }
        Ok(Err(e)) => Err(Outcome::Pending(format!("no job mapping yet, and XOR cannot say now: {e}"))),
        Err(_) => Err(Outcome::Pending("no job mapping yet, and XOR did not answer in time".into())),
    }
}

/// The Lever posting XOR's job is for, when it is an active job of this connection's feed.
fn lever_posting(conn: &Connection, job_id: &str, hint: Option<&str>, job: &XorJob) -> Result<PostingId, Outcome> {
    let posting = match (job.source.as_deref(), job.external_id.as_deref().map(PostingId::parse)) {
        (Some("lever"), Some(Ok(p))) => p,
        _ => return Err(unknown(job_id, "XOR has it, but not as a Lever posting of this connection's feed")),
    };
    if hint.is_some_and(|h| h != posting.as_str()) {
        // The webhook's `external_job_id` is only a hint: XOR's job is the truth.
        tracing::warn!(connection = %conn.id, job = job_id, hint = ?hint, posting = %posting, "the webhook's external_job_id disagrees with XOR's job; XOR's is used");
    }
    if job.status != "active" {
        return Err(unknown(
            job_id,
            &format!("XOR's job for posting {posting} is {}, and it has no job mapping", job.status),
        ));
    }
    Ok(posting)
}

/// The mapping as the sync writes it for XOR's `job` on `posting`.
fn new_mapping(conn: &Connection, job: &XorJob, posting: PostingId, generation: u32) -> JobMapping {
    JobMapping {
        connection: conn.id.clone(),
        posting_id: posting,
        xor_job_id: job.id.clone(),
        chatbot_url: job.chatbot_url.clone(),
        webchat_url: job.webchat_url.clone(),
        title: job.title.clone().unwrap_or_default(),
        location: job.location(),
        // Unknown here (the feed was not read): the next sync finds it differs and brings
        // XOR's job up to date, once.
        content_hash: String::new(),
        status: MappingStatus::Active,
        generation,
        version: 0,
        updated_at: now_ms() / 1000,
    }
}

/// Writes the repaired mapping with the sync's conditional write (`expected`: the version it
/// replaces); a sync that wrote it meanwhile wins when it maps the same job.
async fn write_mapping(
    deps: &LeverContext,
    conn: &Connection,
    job_id: &str,
    mapping: JobMapping,
    expected: Option<u64>,
) -> Result<JobMapping, Outcome> {
    let posting_id = mapping.posting_id.clone();
    match deps.mappings.upsert_mapping(mapping, expected).await {
        Ok(m) => {
            tracing::info!(connection = %conn.id, job = job_id, posting = %m.posting_id, "job mapping repaired from XOR's word");
            crate::metrics::count(|s| s.mappings_repaired += 1);
            Ok(m)
        }
        // A sync wrote it meanwhile: read what stands.
        // (By the posting: a consistent read, where the index by XOR job may lag.)
        Err(StoreError::Conflict { .. }) => match deps.mappings.mapping(&conn.id, &posting_id).await {
            Ok(Some(m)) if m.xor_job_id == job_id && m.is_active() => Ok(m),
            Ok(_) => Err(Outcome::Pending(format!("the mapping of XOR job {job_id} changed meanwhile: retried"))),
            Err(e) => Err(Outcome::Pending(format!("job mappings unavailable: {e}"))),
        },
        Err(e) => Err(Outcome::Pending(format!("job mappings unavailable: {e}"))),
    }
}
