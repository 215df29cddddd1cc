//! OAuth with Lever: the app's credentials, the token pair, who authorized (the token's
//! claims), the code exchange and the refresh.
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use super::{LeverClient, OAuthError};
use crate::domain::SecretString;

/// The OAuth app (one per deployment).
#[derive(Clone, Serialize, Deserialize)]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials").field("client_id", &self.client_id).field("client_secret", &"***").finish()
    }
}

/// A connection's token pair as kept in its secret. `expires_at`: Unix seconds.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSet(***, expires_at: {})", self.expires_at)
    }
}

/// Who authorized, as Lever's access token says: Lever's documented example access token is a
/// JWT whose claims include `https://oauth.lever.co/accountId` and `https://oauth.lever.co/userId`.
///
/// The one place that decides what an access token tells us. The token comes straight from
/// Lever's token endpoint over TLS, in exchange for our client secret, so its claims are read
/// without checking a signature (no one else could have handed it to us). A token that is not
/// a JWT, or lacks the claims, gives `account_id: None`: the connect callback then binds a
/// connection that has no Lever account yet (recording it as unverified) but refuses one that is
/// already bound to an account, since it cannot show it is the same one (an operator confirms
/// with `connections reset-lever`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeverIdentity {
    pub account_id: Option<String>,
    pub user_id: Option<String>,
}

pub const ACCOUNT_CLAIM: &str = "https://oauth.lever.co/accountId";
pub const USER_CLAIM: &str = "https://oauth.lever.co/userId";

pub fn identity_of(access_token: &str) -> LeverIdentity {
    use base64::Engine;
    let claims = access_token
        .split('.')
        .nth(1)
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let claim = |k: &str| {
        claims.as_ref().and_then(|c| c.get(k)).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(str::to_owned)
    };
    LeverIdentity { account_id: claim(ACCOUNT_CLAIM), user_id: claim(USER_CLAIM) }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

impl LeverClient {
    // ---- OAuth -------------------------------------------------------------------------------

    pub async fn refresh(
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

    pub async fn exchange_code(
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
        let resp = self.http.post(self.hosts.token_url()).timeout(self.token_timeout).form(form).send().await.map_err(
            |e| OAuthError::Unavailable(if e.is_timeout() { "timed out".into() } else { "connection failed".into() }),
        )?;
        let status = resp.status();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_debug_output() {
        let app = AppCredentials { client_id: "cid".into(), client_secret: "s3cr3t-app".into() };
        let t = TokenSet { access_token: "lat_s3cr3t".into(), refresh_token: "lrt_s3cr3t".into(), expires_at: 1 };
        let printed = format!("{app:?} {t:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(printed.contains("cid") && printed.contains("***"), "{printed}");
    }

    #[test]
    fn the_authorizing_account_is_read_from_the_jwt_claims() {
        use base64::Engine;
        let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let jwt = format!(
            "{}.{}.sig",
            b64(serde_json::json!({"alg": "RS256"})),
            b64(serde_json::json!({ACCOUNT_CLAIM: "acct-1", USER_CLAIM: "usr-9", "sub": "x"}))
        );
        assert_eq!(
            identity_of(&jwt),
            LeverIdentity { account_id: Some("acct-1".into()), user_id: Some("usr-9".into()) }
        );
        assert_eq!(identity_of("opaque-token"), LeverIdentity::default());
        assert_eq!(identity_of("a.%%%.c"), LeverIdentity::default());
    }
}
