//! The feed-sync Lambda's handler (its `main` only wires configuration to it).
pub mod fanout;
pub mod handler;
