//! The pure core: no network, no disk, no clocks read here (times are passed in). The ports name
//! what the edges hand in (a fetched feed arrives as an open temp file, for streaming).
pub mod ats;
pub mod candidate;
pub mod connection;
pub mod feed_source;
pub mod ids;
pub mod invitation;
pub mod job;
pub mod job_board;
pub mod job_filter;
pub mod plan;
pub mod ports;
pub mod queue;
pub mod remote;
pub mod run;
pub mod secret;
pub mod signing;
pub mod webhook;

pub use ats::{Ats, AtsProvider, LeverError, OAuthError};
pub use candidate::{CandidateLink, Tombstone, tombstone_key};
pub use connection::{Connection, ConnectionStatus, FeedState, LeverEnv, LeverSettings};
pub use feed_source::{FeedFetchError, FeedSource, Fetched};
pub use ids::{ConnectionId, IdError, PostingId};
pub use invitation::{Invitation, InvitationState};
pub use job::{JobMapping, Location, MappingStatus, Posting};
pub use job_board::{CandidateEvent, JobBoard, JobBoards, XorError, XorJob, idempotency_key};
pub use job_filter::{CatalogEntry, Dimension, JobFilter, Rules, Switch, Verdict};
pub use plan::{GuardSettings, Plan, PostingDigest, plan};
pub use ports::{
    CandidateStore, CatalogStore, ConnectionStore, FetchError, FetchedFile, FileFetcher, InvitationStore, LeaseStore,
    MappingStore, RunStore, SecretStore, StoreError, SyncTrigger, TriggerError, WebhookStore,
};
pub use remote::Failure;
pub use run::{JobFailure, RunOutcome, SyncRun, SyncSummary};
pub use secret::SecretString;
pub use webhook::{Claim, ClaimEnd, ClaimRecord, Delivery, DeliveryCursor, DeliveryPage, DeliveryStatus};
