//! URL text: shared by the adapters' request paths and the links the use cases hand out.

/// Percent-encodes a path segment or query value (RFC 3986 unreserved characters pass).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The deployment's public base URL (`PublicUrl`, `PUBLIC_URL`, `serve --public-url`) in its one
/// form: `https://host[:port]` without a trailing slash, so `<base>/oauth/lever/callback` is the
/// same URL here and in the template's `OAuthRedirectUri` (which refuses a trailing slash). No
/// path: behind an API Gateway custom domain a mapping's base path stays in the request's path,
/// which the routes would not match. Plain `http` only for a loopback host (`serve`, `dev`).
pub fn public_base(s: &str) -> Result<String, PublicUrlError> {
    let u = url::Url::parse(s.trim()).map_err(|e| PublicUrlError::NotAUrl(s.to_owned(), e))?;
    let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if !(u.scheme() == "https" || (u.scheme() == "http" && loopback)) {
        return Err(PublicUrlError::NotHttps(s.to_owned()));
    }
    if u.host_str().is_none() || !u.username().is_empty() || u.password().is_some() {
        return Err(PublicUrlError::NotAnOrigin(s.to_owned()));
    }
    if u.query().is_some() || u.fragment().is_some() || u.path() != "/" {
        return Err(PublicUrlError::NotAnOrigin(s.to_owned()));
    }
    Ok(u.as_str().trim_end_matches('/').to_owned())
}

/// Why a public URL is refused.
#[derive(Debug, thiserror::Error)]
pub enum PublicUrlError {
    #[error("{0:?} is not a URL: {1}")]
    NotAUrl(String, #[source] url::ParseError),
    #[error("{0:?}: the public URL must be https (http only on a loopback host)")]
    NotHttps(String),
    #[error("{0:?}: a public URL is an origin (scheme and host): no user, path, query or fragment")]
    NotAnOrigin(String),
}

/// `host[:port]` of a URL, lowercase, the port only when it is not the scheme's default: what a
/// browser sends as `Host` for it.
pub fn authority(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let host = u.host_str()?.to_ascii_lowercase();
    Some(match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

#[cfg(test)]
mod public_base_tests {
    use super::*;

    #[test]
    fn one_form_for_the_public_url() {
        assert_eq!(public_base("https://api.example.com/").unwrap(), "https://api.example.com");
        assert_eq!(public_base("https://API.example.com:443").unwrap(), "https://api.example.com");
        assert!(public_base("https://api.example.com/lever/").is_err(), "a base path would not route");
        assert_eq!(public_base("http://127.0.0.1:8400").unwrap(), "http://127.0.0.1:8400");
        for bad in ["http://api.example.com", "ftp://x", "https://u:p@x.example", "https://x.example/?a=1", "x"] {
            assert!(public_base(bad).is_err(), "{bad}");
        }
        assert_eq!(authority("https://API.example.com:443/x").as_deref(), Some("api.example.com"));
        assert_eq!(authority("http://localhost:8400").as_deref(), Some("localhost:8400"));
    }
}
