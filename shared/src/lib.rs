//! xor-lever's library.
//!
//! * [`domain`]: pure types and rules (no I/O): ids, postings, the sync plan, the store ports.
//! * [`feed`]: the streaming Lever XML feed reader (bytes in, validated postings out).
//! * [`adapters`]: the edges: XOR's API, the feed fetcher, DynamoDB, Secrets Manager, the
//!   embedded SQLite store and in-memory fakes.
//! * [`usecases`]: what the Lambdas and the CLI run: the feed sync.
pub mod adapters;
pub mod config;
pub mod domain;
pub mod feed;
pub mod http;
pub mod random;
pub mod report;
pub mod usecases;
