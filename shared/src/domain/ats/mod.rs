//! The ATS port: where screened candidates become opportunities, and the OAuth that lets us in.
//! Lever implements it over HTTP (`adapters::lever`); use-case tests use a small fake.
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{Connection, SecretString};

pub mod lever_webhook;
mod model;
mod oauth;

pub use model::*;
pub use oauth::*;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The refresh token (or code) is dead: the app was revoked, or the token was used already.
    #[error("Lever refused the grant (invalid_grant): {0}")]
    InvalidGrant(String),
    #[error("Lever's token endpoint refused the request: HTTP {status} {error}")]
    Refused { status: u16, error: String },
    #[error("Lever's token endpoint is unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LeverError {
    /// 401: the access token expired or the app was revoked.
    #[error("Lever answered 401 to {op}")]
    Unauthorized { op: &'static str },
    /// 403: the token is live but the account no longer authorizes the app for this call (Lever's
    /// reference: "account settings don't authorize"; seen after a revoke, or a grant the
    /// authorization lacks). Like a 401 that survives a refresh: only a new authorization helps,
    /// never a reason to give up on the candidate.
    #[error("Lever answered 403 to {op}: {message}")]
    Forbidden { op: &'static str, message: String },
    /// A redirect not followed (not a 307/308, or not to Lever's own hosts): the connection's
    /// Lever host needs an operator, nothing about the candidate is wrong.
    #[error("Lever redirected {op} (HTTP {status}): {message}")]
    Redirected { op: &'static str, status: u16, message: String },
    /// A final 4xx: Lever will not accept this request as it is.
    #[error("Lever refused {op}: HTTP {status} {code}: {message}")]
    Rejected { op: &'static str, status: u16, code: String, message: String },
    /// 429 / 5xx / timeouts after the retry policy (reads), or at once (a create's ambiguous failure).
    #[error("Lever unavailable for {op} after {attempts} attempt(s): {last}")]
    Unavailable {
        op: &'static str,
        attempts: u32,
        #[source]
        last: crate::domain::Failure,
    },
    #[error("Lever answered {op} with a body we cannot read: {source}")]
    Decode {
        op: &'static str,
        #[source]
        source: std::sync::Arc<serde_json::Error>,
    },
    /// A listing longer than we follow: answering from part of it could be wrong.
    #[error("Lever's answer to {op} has more than {pages} pages")]
    TooManyPages { op: &'static str, pages: usize },
}

/// One connection's ATS: OAuth (the app's grants) and the Data API calls xor-lever makes.
#[async_trait]
pub trait Ats: Send + Sync {
    /// The link that asks a Super Admin to authorize the app (the scopes it needs, consent
    /// asked every time); `state` comes back on the redirect.
    fn authorize_url(&self, client_id: &str, redirect_uri: &str, state: &str) -> String;
    /// The permissions the authorization asks for, each with why (shown before authorizing).
    fn permissions(&self) -> &'static [(&'static str, &'static str)];
    /// Where a recruiter opens an opportunity in the ATS's own app.
    fn opportunity_url(&self, id: &str) -> String;
    /// The bound on one token call (the refresh lease is sized from it).
    fn token_timeout(&self) -> Duration;
    async fn exchange_code(
        &self,
        app: &AppCredentials,
        code: &str,
        redirect_uri: &str,
        now: i64,
    ) -> Result<TokenSet, OAuthError>;
    /// Refresh tokens are single use: a call is never retried.
    async fn refresh(
        &self,
        app: &AppCredentials,
        refresh_token: &SecretString,
        now: i64,
    ) -> Result<TokenSet, OAuthError>;

    /// Any one user: the cheapest authenticated call.
    async fn any_user(&self, token: &SecretString) -> Result<Vec<LeverUser>, LeverError>;
    async fn users_with_role(&self, token: &SecretString, access_role: &str) -> Result<Vec<LeverUser>, LeverError>;
    async fn user(&self, token: &SecretString, id: &str) -> Result<LeverUser, LeverError>;
    async fn posting(&self, token: &SecretString, id: &str) -> Result<LeverPosting, LeverError>;
    /// Opportunities by filter, each with its applications' postings.
    async fn find_opportunities(
        &self,
        token: &SecretString,
        f: &OpportunityFilter,
    ) -> Result<Vec<Opportunity>, LeverError>;
    /// Not idempotent: an ambiguous failure is `Unavailable`, for the caller to look first.
    async fn create_opportunity(
        &self,
        token: &SecretString,
        perform_as: &str,
        as_posting_owner: bool,
        o: &NewOpportunity,
        files: &[FileUpload],
    ) -> Result<Opportunity, LeverError>;
    /// Not idempotent either.
    async fn add_note(
        &self,
        token: &SecretString,
        perform_as: &str,
        opportunity: &str,
        text: &str,
    ) -> Result<(), LeverError>;
    async fn note_texts(&self, token: &SecretString, opportunity: &str) -> Result<Vec<String>, LeverError>;
    /// One opportunity as Lever has it now; `None` when Lever no longer has it (404: deleted).
    async fn opportunity(&self, token: &SecretString, id: &str) -> Result<Option<Opportunity>, LeverError>;
    /// The account's pipeline stages (ids and names).
    async fn stages(&self, token: &SecretString) -> Result<Vec<Stage>, LeverError>;
    /// The account's archive reasons (ids, names, hired or not).
    async fn archive_reasons(&self, token: &SecretString) -> Result<Vec<ArchiveReason>, LeverError>;
    /// The webhooks the app registered in this account.
    async fn webhooks(&self, token: &SecretString) -> Result<Vec<LeverWebhook>, LeverError>;
    /// Registers a webhook for `event` at `url`; the answer carries its signature token.
    async fn create_webhook(&self, token: &SecretString, url: &str, event: &str) -> Result<LeverWebhook, LeverError>;
    async fn delete_webhook(&self, token: &SecretString, id: &str) -> Result<(), LeverError>;
}

/// Makes a connection's ATS from its settings.
pub trait AtsProvider: Send + Sync {
    fn for_connection(&self, conn: &Connection) -> Arc<dyn Ats>;
}
