//! Changing a connection's job filter (issue 26): the one place the CLI (and, later, the Lever
//! section) changes it. The write is optimistic (a concurrent change is refused, nothing
//! written), kept in the filter's history, and makes the next sync read the feed in full: an
//! unchanged feed answers 304, and the new selection must still be applied.
use crate::domain::*;

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("no connection {0}")]
    NoConnection(ConnectionId),
    #[error("the filter changed meanwhile (someone else saved it): read it again and retry")]
    Conflict(#[source] StoreError),
    #[error(transparent)]
    Store(StoreError),
}

/// Reads the filter, applies `change` (which says what it did, for the history), writes it.
pub async fn change_filter(
    connections: &dyn ConnectionStore,
    id: &ConnectionId,
    by: &str,
    now_ms: i64,
    change: impl FnOnce(&mut JobFilter) -> String,
) -> Result<JobFilter, FilterError> {
    let conn = connections
        .connection(id)
        .await
        .map_err(FilterError::Store)?
        .ok_or_else(|| FilterError::NoConnection(id.clone()))?;
    let mut f = conn.job_filter;
    let what = change(&mut f);
    f.changed(by, now_ms, what);
    connections.set_job_filter(id, &f).await.map_err(|e| match e {
        e @ StoreError::Conflict { .. } => FilterError::Conflict(e),
        e => FilterError::Store(e),
    })?;
    // The feed may be unchanged (a 304): the next run reads it in full to apply the selection.
    let state = FeedState { last_run_clean: false, ..conn.feed };
    if let Err(e) = connections.set_feed_state(id, &state).await {
        tracing::warn!(connection = %id, error = %e, "the next sync may skip an unchanged feed until it changes");
    }
    tracing::info!(connection = %id, version = f.version, by, "job filter changed");
    Ok(f)
}
