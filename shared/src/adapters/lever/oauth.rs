//! OAuth with Lever: the code exchange and the refresh (one token request, never retried).
use futures::TryFutureExt;
use reqwest::StatusCode;
use serde::Deserialize;

use super::LeverClient;
use crate::domain::SecretString;
use crate::domain::ats::{AppCredentials, OAuthError, TokenSet};

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

impl LeverClient {
    // ---- OAuth -------------------------------------------------------------------------------

    pub(super) async fn refresh_grant(
        &self,
        app: &AppCredentials,
        refresh_token: &SecretString,
        now: i64,
    ) -> Result<TokenSet, OAuthError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.as_str()),
            ("refresh_token", refresh_token.expose()),
        ];
        self.token_request(&form, now, Some(refresh_token)).await
    }

    pub(super) async fn code_grant(
        &self,
        app: &AppCredentials,
        code: &str,
        redirect_uri: &str,
        now: i64,
    ) -> Result<TokenSet, OAuthError> {
        let audience = self.hosts.audience();
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.as_str()),
            ("redirect_uri", redirect_uri),
            ("code", code),
            ("audience", audience.as_str()),
        ];
        self.token_request(&form, now, None).await
    }

    async fn token_request(
        &self,
        form: &[(&str, &str)],
        now: i64,
        old_refresh: Option<&SecretString>,
    ) -> Result<TokenSet, OAuthError> {
        // Never retried: a refresh token is single-use, and a lost answer would already have spent it.
        // A redirect (an EU account's hop: Lever's OAuth page says actions are "re-directed
        // automatically") is not a retry: the token endpoint refused nothing yet. The form carries
        // the client secret and a refresh token: followed only where `LeverHosts::redirect` allows.
        let send = |url: String| {
            self.http.post(url).timeout(self.token_timeout).form(form).send().map_err(|e| {
                OAuthError::Unavailable(if e.is_timeout() { "timed out".into() } else { "connection failed".into() })
            })
        };
        let refused = |e: super::RedirectRefused| OAuthError::Refused { status: e.status, error: e.to_string() };
        let resp = self.hosts.send_following(self.hosts.token_url(), send, refused).await?;
        let status = resp.status();
        if status.is_redirection() {
            let to = crate::adapters::redirect_target(&resp);
            return Err(OAuthError::Refused {
                status: status.as_u16(),
                error: format!("a redirect to {to}, not followed (too many in a row)"),
            });
        }
        let body = resp.bytes().await.map_err(|_| OAuthError::Unavailable("unreadable answer".into()))?;
        if status.is_success() {
            let t: TokenResponse = serde_json::from_slice(&body)
                .map_err(|e| OAuthError::Unavailable(format!("unreadable token answer: {e}")))?;
            let refresh_token = match (t.refresh_token, old_refresh) {
                (Some(r), _) => r,
                (None, Some(old)) => old.expose().to_owned(),
                (None, None) => {
                    return Err(OAuthError::Refused {
                        status: status.as_u16(),
                        error: "no refresh_token (is offline_access granted?)".into(),
                    });
                }
            };
            // `expires_in` is Lever's word (about 3600 s): never a constant of ours.
            return Ok(TokenSet {
                access_token: t.access_token,
                refresh_token,
                expires_at: now + t.expires_in.unwrap_or(3600),
            });
        }
        #[derive(Deserialize)]
        struct OAuthErr {
            error: Option<String>,
        }
        let error = serde_json::from_slice::<OAuthErr>(&body).ok().and_then(|e| e.error).unwrap_or_default();
        if error == "invalid_grant" {
            return Err(OAuthError::InvalidGrant("the refresh token or code is no longer valid".into()));
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(OAuthError::Unavailable(format!("HTTP {}", status.as_u16())));
        }
        Err(OAuthError::Refused { status: status.as_u16(), error })
    }
}
