use serde::{Deserialize, Serialize};

use super::ids::ConnectionId;

/// XOR's rate limit per API key. UNCONFIRMED (docs/xor-contract.md §1: "XOR's limit is unknown: assume 5
/// requests/s per key"): the client's default pace and the sandbox's default limit both read it.
pub const XOR_ASSUMED_MAX_RPS: f64 = 5.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// Created, waiting for the Lever admin to authorize.
    Pending,
    Connected,
    /// Lever refused our tokens (the app was revoked): nothing is sent until re-authorized.
    Revoked,
    /// Switched off by an operator.
    Disabled,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Connected => "connected",
            Self::Revoked => "revoked",
            Self::Disabled => "disabled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "connected" => Self::Connected,
            "revoked" => Self::Revoked,
            "disabled" => Self::Disabled,
            _ => return None,
        })
    }
}

/// What the last fetch of the feed left behind, for the next conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// True when the last run finished every job (no failure, nothing deferred, no held close):
    /// only then may a `304 Not Modified` skip a run.
    pub last_run_clean: bool,
    /// When the feed was last known to match the job mappings (a clean run, or a `304` after
    /// one), Unix ms: until it is stale, an active mapping means the posting is published.
    #[serde(default)]
    pub confirmed_at_ms: Option<i64>,
    /// The most jobs active at once, per 6-hour bucket (start Unix ms, count), over the last day:
    /// the mass-close guard counts closes from the highest.
    #[serde(default)]
    pub active_peaks: Vec<(i64, u32)>,
    /// The job filter's version the last run applied: a `304` may skip a run only under the
    /// same filter (a changed selection must be applied to an unchanged feed).
    #[serde(default)]
    pub filter_version: u64,
}

/// The guard's memory: 6-hour buckets over a day.
const PEAK_BUCKET_MS: i64 = 6 * 3600 * 1000;
const PEAK_WINDOW_MS: i64 = 24 * 3600 * 1000;

impl FeedState {
    /// The most jobs active at once over the last day (0 when nothing is remembered).
    pub fn peak(&self, now_ms: i64) -> usize {
        self.active_peaks
            .iter()
            .filter(|(t, _)| *t + PEAK_WINDOW_MS > now_ms)
            .map(|(_, n)| *n as usize)
            .max()
            .unwrap_or(0)
    }

    /// Remembers `active` jobs at `now_ms`, forgetting buckets older than the window.
    pub fn note_active(&mut self, active: usize, now_ms: i64) {
        let bucket = now_ms - now_ms.rem_euclid(PEAK_BUCKET_MS);
        self.active_peaks.retain(|(t, _)| *t + PEAK_WINDOW_MS + PEAK_BUCKET_MS > now_ms);
        match self.active_peaks.iter_mut().find(|(t, _)| *t == bucket) {
            Some((_, n)) => *n = (*n).max(active as u32),
            None => self.active_peaks.push((bucket, active as u32)),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeverEnv {
    /// Lever's global (US) data centre.
    #[default]
    Production,
    Sandbox,
    /// An account hosted in Lever's EU data centre (`hire.eu.lever.co`, `jobs.eu.lever.co`).
    Eu,
}

impl LeverEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Sandbox => "sandbox",
            Self::Eu => "eu",
        }
    }
    /// The environment of the Lever app an account of this environment authorizes. Lever issues
    /// an app separate credentials for its sandbox and for production, and an EU account
    /// authorizes the production app (Lever redirects it to its data centre): a deployment's one
    /// app serves the accounts of one environment.
    pub fn app_environment(self) -> Self {
        match self {
            Self::Eu => Self::Production,
            e => e,
        }
    }
    /// Where the account's data lives, in words (the section page, `connections show`).
    pub fn region(self) -> &'static str {
        match self {
            Self::Production => "Lever (global)",
            Self::Sandbox => "Lever sandbox",
            Self::Eu => "Lever EU",
        }
    }
}

/// How this connection talks to Lever. Hosts come from `lever_env` (see the Lever adapter) unless
/// overridden (the local sandbox, or an EU host should Lever ask for one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeverSettings {
    #[serde(default)]
    pub env: LeverEnv,
    /// Overrides the Data API base (`…/v1`).
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// Overrides the OAuth host (`…/authorize`, `…/oauth/token`).
    #[serde(default)]
    pub auth_base_url: Option<String>,
    /// The Lever user opportunities are created as (`perform_as`).
    #[serde(default)]
    pub perform_as: Option<String>,
    /// Why that user (the authorizing Super Admin, an operator's choice, the first Super Admin).
    #[serde(default)]
    pub perform_as_source: Option<String>,
    /// Keep the acting admin as the opportunity's owner; by default the posting's owner owns it
    /// (`perform_as_posting_owner=true`), so recruiters, not the admin, own XOR's candidates.
    #[serde(default)]
    pub admin_owns_candidates: bool,
    /// The stage new opportunities start in (a Lever stage id); Lever's default when absent.
    #[serde(default)]
    pub stage: Option<String>,
    /// The opportunity's `origin` (`sourced` unless configured).
    #[serde(default = "default_origin")]
    pub origin: String,
    /// The Lever account this connection is bound to (from the first authorization); another
    /// account's authorization is refused until an operator runs `connections reset-lever`.
    #[serde(default)]
    pub account_id: Option<String>,
    /// The Lever user who last authorized, and when (Unix seconds).
    #[serde(default)]
    pub authorized_by: Option<String>,
    /// That user, and the acting user (`perform_as`), as a Super Admin recognises them: "Grace
    /// Hopper <grace@acme.example>", read from Lever at connect time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_by_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perform_as_name: Option<String>,
    #[serde(default)]
    pub authorized_at: Option<i64>,
    /// The last operator reset of the binding (`connections reset-lever`): who, when, from what.
    #[serde(default)]
    pub reset: Option<String>,
    /// The generation of the section's page links and sessions: each carries the one it was
    /// issued under, and one of an earlier generation is refused. `connections revoke-links`
    /// and `reset-lever` move it on (a counter, not a time: the operator's clock and the
    /// function's never need to agree).
    #[serde(default)]
    pub links_generation: u32,
    /// When the links were last revoked (Unix ms), for `connections show`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links_revoked_at_ms: Option<i64>,
    /// Until when the latest connect link an operator sent is valid (Unix ms): a revoked
    /// connection with a live one has been acted on (the `RevokedConnections` alarm does not
    /// count it); a link that expired unused counts again.
    #[serde(default)]
    pub invited_until_ms: Option<i64>,
}

/// Lever ends an authorization a year after it was given (DOCS, "Authentication": "Refresh
/// tokens will expire after one year or after 90 days of inactivity"). Counted from the last
/// authorization: whether a refresh restarts the year is UNCONFIRMED, so the stricter reading.
pub const AUTHORIZATION_LIFETIME_SECS: i64 = 365 * 24 * 3600;
/// How long before that the operator and the Super Admin are told to authorize again.
pub const RENEWAL_NOTICE_SECS: i64 = 30 * 24 * 3600;

impl LeverSettings {
    /// When Lever will end this authorization (Unix seconds), if it was given through the app.
    pub fn authorization_ends_at(&self) -> Option<i64> {
        self.authorized_at.map(|t| t.saturating_add(AUTHORIZATION_LIFETIME_SECS))
    }
    /// Within [`RENEWAL_NOTICE_SECS`] of that end (or past it): a Super Admin should authorize
    /// again now, while everything still works.
    pub fn renewal_due(&self, now_s: i64) -> bool {
        self.authorization_ends_at().is_some_and(|end| now_s >= end - RENEWAL_NOTICE_SECS)
    }
}

fn default_origin() -> String {
    "sourced".into()
}

impl Default for LeverSettings {
    fn default() -> Self {
        Self {
            env: LeverEnv::Production,
            api_base_url: None,
            auth_base_url: None,
            perform_as: None,
            perform_as_source: None,
            admin_owns_candidates: false,
            stage: None,
            origin: default_origin(),
            account_id: None,
            authorized_by: None,
            authorized_by_name: None,
            perform_as_name: None,
            authorized_at: None,
            reset: None,
            links_generation: 0,
            links_revoked_at_ms: None,
            invited_until_ms: None,
        }
    }
}

/// One customer: where its feed is, where its XOR is, and how hard we may push XOR.
/// Secrets (the XOR API key) are not here: they live in the [`super::SecretStore`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub id: ConnectionId,
    pub status: ConnectionStatus,
    pub feed_url: String,
    pub xor_base_url: String,
    pub xor_max_rps: f64,
    pub xor_concurrency: usize,
    /// The mass-close guard's limit (share of active jobs one run may close).
    pub max_close_share: f64,
    /// A standing override of the mass-close guard (the setting form of `--force`).
    pub allow_mass_close: bool,
    pub feed: FeedState,
    #[serde(default)]
    pub lever: LeverSettings,
    /// Which postings become XOR jobs (issue 26); written on its own (`set_job_filter`).
    #[serde(default)]
    pub job_filter: super::job_filter::JobFilter,
    /// Unix seconds.
    pub created_at: i64,
}

impl Connection {
    /// Revoked in Lever and nobody has acted yet: no live connect link sent since (an operator
    /// who has sent one waits for the Super Admin; one who disabled the connection has decided).
    pub fn revocation_unattended(&self, now_ms: i64) -> bool {
        self.status == ConnectionStatus::Revoked && !self.lever.invited_until_ms.is_some_and(|t| t > now_ms)
    }

    pub fn new(id: ConnectionId, feed_url: String, xor_base_url: String, now: i64) -> Self {
        Self {
            id,
            status: ConnectionStatus::Connected,
            feed_url,
            xor_base_url,
            xor_max_rps: XOR_ASSUMED_MAX_RPS,
            xor_concurrency: 4,
            max_close_share: 0.5,
            allow_mass_close: false,
            feed: FeedState::default(),
            lever: LeverSettings::default(),
            job_filter: Default::default(),
            created_at: now,
        }
    }
}
