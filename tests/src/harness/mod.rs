//! `spawn_app` for sync tests: a feed server, the XOR sandbox, a store, and one connection.
//!
//! By job: `sync_app` (that app), `webhook_app` (the webhook's: the Lever sandbox, a connected
//! connection and the real router; its requests), `connect` (the connect flow as a browser walks
//! it), `functions` (a function's real binary under the Lambda emulator), `emf` (its EMF lines),
//! `secrets` (a secret store whose reads are watched) and `pdf` (a PDF's text); the store kinds
//! they run on are here.
mod connect;
mod emf;
mod functions;
mod outcomes;
mod pdf;
mod secrets;
mod sync_app;
mod webhook_app;

pub use connect::{Flow, query_param};
pub use emf::{EmfLines, emf_shape};
pub use functions::{KillOnDrop, start_function, start_function_as, start_function_with};
pub use pdf::pdf_text;
pub use secrets::WatchedSecrets;
pub use sync_app::{App, spawn_app};
pub use webhook_app::{
    WebhookApp, job_mapping, spawn_webhook_app, spawn_webhook_app_at, spawn_webhook_app_with, spawn_webhook_app_within,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Sqlite,
    /// DynamoDB and Secrets Manager on moto.
    Aws,
    /// DynamoDB and Secrets Manager on the IAM-enforcing moto: set up by an admin, then used
    /// with a function's own permissions (exactly its template.yaml policy actions).
    AwsAs(crate::moto::Principal),
}
