//! The edges: each module talks to one outside system and implements domain ports.
pub mod dynamodb;
pub mod feed_http;
pub mod memory;
pub mod retry;
pub mod secrets_manager;
pub mod sqlite;
pub mod xor;
