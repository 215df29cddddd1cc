//! xor-lever's library. Dependencies point inwards: `usecases` use `domain` (its types and
//! ports) only; `adapters` implement `domain`'s ports and never import a use case; `domain`
//! imports nothing of the crate's outer rings; `config` wires adapters into use cases
//! (`tests/source_rules.rs` checks the rule on the sources).
//!
//! * [`domain`]: pure types and rules (no I/O): ids, postings, the sync plan and mass-close
//!   guard, webhook signatures and deliveries, invitations, and the ports: the stores, the sync
//!   trigger, the feed source, the job board (XOR), the ATS (Lever) and the file fetcher.
//! * [`feed`]: the streaming Lever XML feed reader (bytes in, validated postings out).
//! * [`adapters`]: the edges: XOR's API, Lever's API, the feed fetcher, DynamoDB, Secrets
//!   Manager, the embedded SQLite store, in-memory fakes, the sync triggers (Lambda, background).
//! * [`usecases`]: what the Lambdas and the CLI run: the feed sync; the webhook (receive,
//!   replay, sweep); connecting (invitations, OAuth); Lever tokens and the authorization check,
//!   over one [`usecases::context::LeverContext`].
//! * [`http`]: the one router (Lambda and `xor-lever serve`); [`config`]: wiring from the
//!   environment; [`metrics`]: CloudWatch EMF lines; [`random`]: the OS CSPRNG; [`report`]: the screening PDF; [`url`]: percent-encoding.
pub mod adapters;
pub mod config;
pub mod domain;
pub mod feed;
pub mod http;
pub mod metrics;
pub mod random;
pub mod report;
pub mod url;
pub mod usecases;
