//! Changing a connection's job filter (issue 26): the one place the CLI and the Lever section
//! change it. The write is optimistic (a concurrent change is refused, nothing written) and kept
//! in the filter's history; the next sync applies it even to an unchanged feed (a `304` skips a
//! run only under the filter version the last run applied: `FeedState::filter_version`).
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
/// `from_version`: the version the change was made from (a preview's): a newer one stored is a
/// conflict, and the same optimistic write catches one landing in between.
pub async fn change_filter(
    connections: &dyn ConnectionStore,
    id: &ConnectionId,
    by: &str,
    now_ms: i64,
    from_version: Option<u64>,
    change: impl FnOnce(&mut JobFilter) -> String,
) -> Result<JobFilter, FilterError> {
    let conn = connections
        .connection(id)
        .await
        .map_err(FilterError::Store)?
        .ok_or_else(|| FilterError::NoConnection(id.clone()))?;
    let mut f = conn.job_filter;
    if from_version.is_some_and(|v| v != f.version) {
        return Err(FilterError::Conflict(StoreError::Conflict { what: format!("job filter of connection {id}") }));
    }
    let what = change(&mut f);
    f.changed(by, now_ms, what);
    connections.set_job_filter(id, &f).await.map_err(|e| match e {
        e @ StoreError::Conflict { .. } => FilterError::Conflict(e),
        e => FilterError::Store(e),
    })?;
    tracing::info!(connection = %id, version = f.version, by, "job filter changed");
    Ok(f)
}
