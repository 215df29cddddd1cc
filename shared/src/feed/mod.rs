//! The Lever XML job feed (Indeed's job-board format, see docs/lever-facts.md): a streaming
//! reader that turns bytes into validated [`Posting`]s without holding the document in memory.
mod map;
mod parse;
mod postings_api;

pub use map::{normalise_date, posting_id_from_url};
pub use parse::{FeedError, FeedReport, FeedWarning, Limits, parse, parse_slice};
