//! Validating newtypes: a value of these types is known to be well-formed.
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error(
        "a connection id must be 1 to 64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit; got {0:?}"
    )]
    BadConnectionId(String),
    #[error("a posting id must be 1 to 200 printable characters without '#' or whitespace; got {0:?}")]
    BadPostingId(String),
}

/// One customer's connection. It scopes every key, secret name and log line, so it is kept to
/// characters that are safe in DynamoDB keys, Secrets Manager names and URL paths.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConnectionId(String);

impl ConnectionId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && s.as_bytes()[0].is_ascii_alphanumeric();
        if ok { Ok(Self(s.to_owned())) } else { Err(IdError::BadConnectionId(s.to_owned())) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Lever posting id as the feed gives it (`<referencenumber>`, else the UUID ending `<url>`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PostingId(String);

impl PostingId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = (1..=200).contains(&s.len()) && !s.chars().any(|c| c.is_whitespace() || c.is_control() || c == '#');
        if ok { Ok(Self(s.to_owned())) } else { Err(IdError::BadPostingId(s.to_owned())) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype_impls {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
        impl TryFrom<String> for $t {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(id: $t) -> String {
                id.0
            }
        }
        impl std::str::FromStr for $t {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}
string_newtype_impls!(ConnectionId);
string_newtype_impls!(PostingId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_are_validated() {
        for ok in ["acme", "acme-eu_2", "9lives"] {
            assert!(ConnectionId::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Acme", "-acme", "acme/x", "a b", &"a".repeat(65)] {
            assert!(ConnectionId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn posting_ids_reject_separators_and_whitespace() {
        assert!(PostingId::parse("5f1c2a7e-3b44-4c1e-9a0d-6f6b7d1e2a10").is_ok());
        for bad in ["", "a b", "JOB#1", "x\n"] {
            assert!(PostingId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
