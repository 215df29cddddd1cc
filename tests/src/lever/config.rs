//! The sandbox's settings (`Config`, set in process or by `POST /_sandbox/config`).
use serde::{Deserialize, Serialize};

use super::{ADMIN_USER, SANDBOX_ACCOUNT};

/// The sandbox's settings (`POST /_sandbox/config`: a field left out keeps its default).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Seconds an access token lives (`expires_in`).
    pub access_ttl_secs: u64,
    /// The authorize page answers `error=access_denied` (the admin clicked "Deny").
    pub deny_consent: bool,
    /// Requests per second per token before 429 (0 = unlimited).
    pub rate_limit_rps: f64,
    /// The Lever account whose admin consents on the authorize page (its id goes in the tokens).
    pub account_id: String,
    /// Issue opaque access tokens instead of Lever's documented JWTs (no account claims).
    pub opaque_tokens: bool,
    /// The user who signs in on the authorize page (their id goes in the tokens).
    pub user_id: String,
    /// The largest page a list answers with (Lever: `limit` up to 100).
    pub max_page: usize,
    /// Refuse a create on a posting that is not published or internal (Lever's reference does not
    /// say what it does: off by default).
    pub refuse_closed_postings: bool,
    /// Show a consent page with Allow and Deny (as Lever does) instead of approving at once:
    /// for a person, or a browser test, walking the flow.
    pub consent_page: bool,
    /// Seconds a refresh token lives, counted from the authorization that began its family (each
    /// refresh hands over a new one that keeps the family's age). Lever: "Refresh tokens will
    /// expire after one year or after 90 days of inactivity" (DOCS); whether a refresh restarts
    /// the year is UNCONFIRMED, so the sandbox takes the stricter reading.
    pub refresh_ttl_secs: u64,
    /// How the account stores a phone it was sent (Lever's reference shows `(123) 456-7891`;
    /// what it does with other formats is UNCONFIRMED).
    pub phones_stored_as: PhoneStorage,
    /// The account lives in another region (an EU account): every Data API and token call to
    /// this host is answered `307` to the same path under this base. Lever's OAuth page: "Any
    /// integration authorization or action will be re-directed automatically to the appropriate
    /// data center" (DOCS; the status and hosts are UNCONFIRMED).
    pub region_redirect: Option<String>,
    /// A create refused on its headers (a dead token, a 401 or 403 fault) breaks the upload off
    /// before the client can read the refusal: Lever answers before reading the body and closes,
    /// and a client still sending fails on the write (seen against a real server, timing
    /// dependent; forced here: the connection is dropped in place of the answer). The refusal is
    /// counted as if it had been read.
    pub refusal_breaks_upload: bool,
    /// The account's recruiters' app, in each opportunity's `urls` (`https://hire.lever.co`;
    /// an EU account's is `https://hire.eu.lever.co`).
    pub app_url: String,
    /// What a revoked app's token is answered (Lever's reference: 401 "A valid API key was not
    /// provided"; 403 "account settings don't authorize" is what some accounts may answer).
    pub revoked_status: u16,
}

/// How a sent phone is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneStorage {
    /// As sent.
    #[default]
    AsSent,
    /// `+` and the digits (E.164).
    E164,
    /// The national format: `(415) 555-0100` for +1, `020 7946 0001` for +44.
    National,
}

impl PhoneStorage {
    pub(super) fn store(self, sent: &str) -> String {
        let digits: String = sent.chars().filter(char::is_ascii_digit).collect();
        match self {
            Self::AsSent => sent.to_owned(),
            Self::E164 => format!("+{digits}"),
            Self::National => match (digits.strip_prefix('1'), digits.strip_prefix("44")) {
                (Some(n), _) if n.len() == 10 => format!("({}) {}-{}", &n[..3], &n[3..6], &n[6..]),
                (_, Some(n)) if n.len() == 10 => format!("0{} {} {}", &n[..2], &n[2..6], &n[6..]),
                _ => sent.to_owned(),
            },
        }
    }
}

/// Lever's one year, for the refresh tokens' default lifetime.
pub const REFRESH_TOKEN_LIFETIME_SECS: u64 = 365 * 24 * 3600;

impl Default for Config {
    fn default() -> Self {
        Self {
            access_ttl_secs: 3600,
            deny_consent: false,
            rate_limit_rps: 0.0,
            account_id: SANDBOX_ACCOUNT.into(),
            opaque_tokens: false,
            user_id: ADMIN_USER.into(),
            max_page: 100,
            refuse_closed_postings: false,
            consent_page: false,
            refresh_ttl_secs: REFRESH_TOKEN_LIFETIME_SECS,
            phones_stored_as: PhoneStorage::AsSent,
            region_redirect: None,
            refusal_breaks_upload: false,
            app_url: "https://hire.lever.co".into(),
            revoked_status: 401,
        }
    }
}
