//! The Lever context: what OAuth, webhooks and the scheduled run share to reach a connection's
//! Lever (its stores, its token provider, the Lever port, the clock, the timeouts) and the
//! first-sync trigger.
use std::sync::Arc;

use super::tokens::TokenProvider;
use super::{Clock, system_clock};
use crate::domain::*;

#[derive(Clone)]
pub struct LeverContext {
    pub connections: Arc<dyn ConnectionStore>,
    pub mappings: Arc<dyn MappingStore>,
    /// The sync runs (the Lever section shows the last).
    pub runs: Arc<dyn RunStore>,
    pub webhooks: Arc<dyn WebhookStore>,
    /// The candidates put in Lever: what Lever's events are matched against, and erasure.
    pub candidates: Arc<dyn CandidateStore>,
    /// The postings of each connection's last feed read (the section's job list).
    pub catalogs: Arc<dyn CatalogStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub invitations: Arc<dyn InvitationStore>,
    /// Fetches the resume XOR links to.
    pub files: Arc<dyn FileFetcher>,
    pub tokens: Arc<TokenProvider>,
    /// Each connection's Lever.
    pub lever: Arc<dyn AtsProvider>,
    /// Each connection's XOR, to ask about a job a screening names and no mapping does yet
    /// (`webhook::unmapped`); without it such a screening fails as unknown.
    pub boards: Option<Arc<dyn JobBoards>>,
    pub clock: Clock,
    /// Days a finished delivery is kept (DynamoDB's TTL deletes it then).
    pub delivery_retention_days: u32,
    /// Days a finished screening's raw body is kept (the sweep removes it then).
    pub body_retention_days: u32,
    /// Test hook: return true at a named point to stop there as a crash would (no cleanup).
    pub crash_at: Option<super::CrashHook>,
    /// Starts a connection's first sync once it connects.
    pub sync_trigger: Option<Arc<dyn SyncTrigger>>,
    /// Secrets read on every request (webhook secrets, signing keys), kept briefly.
    pub secret_cache: Arc<super::secret_cache::SecretCache>,
    /// Each connection's Lever stage and archive-reason names, kept a few minutes.
    pub names: Arc<super::webhook::NameCache>,
}

/// A store that holds everything the webhook and connect routes keep (DynamoDB, SQLite, memory).
pub trait LeverStores:
    ConnectionStore
    + MappingStore
    + RunStore
    + WebhookStore
    + CandidateStore
    + CatalogStore
    + LeaseStore
    + InvitationStore
    + 'static
{
}
impl<
    T: ConnectionStore
        + MappingStore
        + RunStore
        + WebhookStore
        + CandidateStore
        + CatalogStore
        + LeaseStore
        + InvitationStore
        + 'static,
> LeverStores for T
{
}

impl LeverContext {
    /// The wiring on one store for state and one for secrets.
    /// `config::lever_context_on` adds the HTTP adapters.
    pub fn from_store<S: LeverStores>(
        store: Arc<S>,
        secrets: Arc<dyn SecretStore>,
        lever: Arc<dyn AtsProvider>,
        files: Arc<dyn FileFetcher>,
    ) -> Self {
        let connections: Arc<dyn ConnectionStore> = store.clone();
        let tokens = Arc::new(TokenProvider::new(secrets.clone(), store.clone(), connections.clone(), system_clock()));
        Self {
            connections,
            mappings: store.clone(),
            runs: store.clone(),
            webhooks: store.clone(),
            candidates: store.clone(),
            catalogs: store.clone(),
            secrets,
            invitations: store,
            files,
            tokens,
            lever,
            boards: None,
            clock: system_clock(),
            delivery_retention_days: crate::domain::webhook::DEFAULT_RETENTION_DAYS,
            body_retention_days: crate::domain::webhook::DEFAULT_BODY_RETENTION_DAYS,
            crash_at: None,
            sync_trigger: None,
            secret_cache: Arc::default(),
            names: Arc::default(),
        }
    }

    /// Moves every part of the wiring onto `clock` (tests move time; two "instances" differ).
    pub fn set_clock(&mut self, clock: Clock) {
        let t = &self.tokens;
        let mut tokens = TokenProvider::new(t.secrets.clone(), t.leases.clone(), t.connections.clone(), clock.clone());
        tokens.budget = t.budget;
        self.tokens = Arc::new(tokens);
        self.clock = clock;
    }

    pub fn lever_for(&self, conn: &Connection) -> Arc<dyn Ats> {
        self.lever.for_connection(conn)
    }
}
