//! The feed-sync Lambda's handler (its `main` only wires configuration to it).
mod event;
pub mod fanout;
pub mod handler;
mod metrics;
