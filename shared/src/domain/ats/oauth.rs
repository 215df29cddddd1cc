//! OAuth with the ATS: the app's credentials, a connection's token pair and who authorized
//! (read from the access token's claims, the one place that decides what a token tells us).
use serde::{Deserialize, Serialize};

/// The client id `template.yaml` puts in the app secret until an operator runs `lever-app set`:
/// no connect link is minted while the secret holds it (it could only fail at Lever).
pub const APP_PLACEHOLDER_CLIENT_ID: &str = "set-me";

/// The OAuth app (one per deployment).
#[derive(Clone, Serialize, Deserialize)]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: String,
    /// Which of Lever's environments issued them (`production` or `sandbox`; a secret stored
    /// before the field existed is production's).
    #[serde(default)]
    pub env: crate::domain::LeverEnv,
}

impl AppCredentials {
    /// Why an account in `account` cannot authorize this app, if it cannot.
    pub fn refuses(&self, account: crate::domain::LeverEnv) -> Option<String> {
        (account.app_environment() != self.env).then(|| {
            format!(
                "the account is in {} and xor-lever's Lever app is {}'s: one deployment has one Lever app, so one environment (deploy another stack for the other)",
                account.region(),
                self.env.as_str()
            )
        })
    }
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("env", &self.env)
            .finish()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_debug_output() {
        let app =
            AppCredentials { client_id: "cid".into(), client_secret: "s3cr3t-app".into(), env: Default::default() };
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
