//! Files third parties link to (the resume XOR hands over as an expiring link), over HTTP with a
//! size cap and a timeout, and never to an address inside our own network.
//!
//! The link arrives in a webhook, so it is treated as hostile (docs/security.md, SSRF):
//! - its host must be on the deployment's allow-list (`hosts`, `XOR_LEVER_RESUME_HOSTS`);
//! - https only, unless the host is an address listed on purpose with its port (the sandbox's
//!   file server);
//! - the address connected to is checked at connect time by a resolver of our own
//!   ([`GuardedResolver`]): a name that resolves to a forbidden address (`address`), or is
//!   rebound to one between two lookups, is refused; an IP literal, which no resolver sees, is
//!   checked before the request;
//! - no redirect is followed (a 3xx is a refused download), and no proxy is used (a proxy would
//!   resolve the name itself, out of the resolver's sight).
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;

use crate::domain::{FetchError, FetchedFile, FileFetcher};

pub mod address;
pub mod hosts;

pub use address::is_forbidden;
pub use hosts::{AllowedHost, BadHost, ResumeHosts};

/// A resume larger than this is not downloaded (the candidate is created without it).
pub const MAX_RESUME_BYTES: u64 = 10 * 1024 * 1024;
/// A resume download gives up after this (or sooner, when the request's time is shorter).
pub const RESUME_TIMEOUT: Duration = Duration::from_secs(10);

pub struct HttpFileFetcher {
    client: reqwest::Client,
    hosts: ResumeHosts,
    max_bytes: u64,
    timeout: Duration,
}

impl HttpFileFetcher {
    /// The resume client on `base` (the deployment's TLS and user agent): its own resolver, no
    /// redirects, no proxy.
    pub fn new(base: reqwest::ClientBuilder, hosts: ResumeHosts) -> Self {
        let resolver = GuardedResolver { local_names: hosts.local_names() };
        let client = base
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
            .build()
            .expect("the TLS backend initialises");
        Self { client, hosts, max_bytes: MAX_RESUME_BYTES, timeout: RESUME_TIMEOUT }
    }

    /// Why `url` may not be fetched at all, before any connection is made.
    fn refusal(&self, url: &reqwest::Url) -> Option<&'static str> {
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Some("not an http(s) link"),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Some("credentials in the link");
        }
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return Some("no host");
        };
        let Some(entry) = self.hosts.find(host, port, https) else {
            return Some("host not on the resume allow-list (XOR_LEVER_RESUME_HOSTS)");
        };
        if !https && !entry.allows_http() {
            return Some("plain http (https only, but for an address listed with its port)");
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        // An IP literal is connected to as it is: only one listed on purpose may be internal.
        if literal.is_some_and(is_forbidden) && !entry.is_explicit_address() {
            return Some("an internal address");
        }
        None
    }
}

#[async_trait]
impl FileFetcher for HttpFileFetcher {
    async fn fetch(&self, url: &str, time_left: Duration) -> Result<FetchedFile, FetchError> {
        let (max_bytes, timeout) = (self.max_bytes, self.timeout.min(time_left));
        let parsed = reqwest::Url::parse(url).map_err(|_| FetchError::NotHttp)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(FetchError::NotHttp);
        }
        if let Some(why) = self.refusal(&parsed) {
            return Err(FetchError::Refused(why.into()));
        }
        let resp = self.client.get(parsed.clone()).timeout(timeout).send().await.map_err(|e| {
            if let Some(f) = forbidden_in(&e) {
                FetchError::Refused(f.to_string())
            } else if e.is_timeout() {
                FetchError::TimedOut(Box::new(e))
            } else {
                FetchError::Connect(Box::new(e))
            }
        })?;
        if resp.status().is_redirection() {
            return Err(FetchError::Refused(format!("a redirect (HTTP {}), not followed", resp.status().as_u16())));
        }
        if !resp.status().is_success() {
            return Err(FetchError::Status(resp.status().as_u16()));
        }
        let too_large = || FetchError::TooLarge(max_bytes / 1024 / 1024);
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Err(too_large());
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let name = parsed
            .path_segments()
            .and_then(|mut s| s.next_back())
            .filter(|n| !n.is_empty() && n.is_ascii())
            .unwrap_or("resume")
            .to_owned();
        let mut bytes = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| FetchError::BrokeOff(Box::new(e)))?;
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(FetchedFile { name, content_type, bytes })
    }
}

/// The resolver's refusal, when it is what failed the request.
fn forbidden_in(e: &reqwest::Error) -> Option<&Forbidden> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(f) = s.downcast_ref::<Forbidden>() {
            return Some(f);
        }
        source = s.source();
    }
    None
}

#[derive(Debug, thiserror::Error)]
#[error("{name} resolves only to internal addresses")]
pub struct Forbidden {
    name: String,
}

/// The system resolver, keeping only the public addresses of a name: the connection is made to
/// one of those or not at all, so a DNS answer cannot steer it inside (rebinding included: the
/// address checked is the one connected to). Names listed on purpose as local (`localhost`) keep
/// their addresses.
struct GuardedResolver {
    local_names: Vec<String>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_ascii_lowercase();
        let local = self.local_names.contains(&name);
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = found.into_iter().filter(|a| local || !is_forbidden(a.ip())).collect();
            if usable.is_empty() {
                return Err(Box::new(Forbidden { name }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(usable.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetcher(list: &str) -> HttpFileFetcher {
        HttpFileFetcher::new(reqwest::Client::builder(), ResumeHosts::parse(list).unwrap())
    }

    #[test]
    fn every_spelling_of_an_internal_address_is_refused_before_any_connection() {
        // Allowed names only: every one of these is refused by the allow-list or the address rule.
        let f = fetcher("files.xor.ai");
        for url in [
            "http://127.0.0.1/x",
            "https://127.0.0.1/x",
            "https://127.1/x",
            "https://2130706433/x",
            "https://0x7f000001/x",
            "https://0177.0.0.1/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://[::1]/x",
            "https://0.0.0.0/x",
            "https://localhost/x",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fd00:ec2::254]/x",
            "https://files.xor.ai.evil.example/x",
            "https://files.xor.ai@127.0.0.1/x",
            "http://files.xor.ai/x",
            "https://files.xor.ai:8443/x",
            "ftp://files.xor.ai/x",
        ] {
            let u = reqwest::Url::parse(url).unwrap();
            assert!(f.refusal(&u).is_some(), "{url} must be refused");
        }
        assert_eq!(f.refusal(&reqwest::Url::parse("https://files.xor.ai/r/a.pdf").unwrap()), None);
    }

    /// The check after DNS resolution, at connect time: a listed name that resolves to an
    /// internal address (here `localhost`, not trusted as a local name) is refused by the
    /// resolver, and nothing connects to the server behind it.
    #[tokio::test]
    async fn a_name_that_resolves_inside_is_refused_at_connect_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = tokio::spawn(async move { listener.accept().await.is_ok() });
        let hosts = ResumeHosts::parse(&format!("localhost:{port}")).unwrap();
        let resolver = GuardedResolver { local_names: vec![] };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
            .build()
            .unwrap();
        let f = HttpFileFetcher { client, hosts, max_bytes: 1024, timeout: Duration::from_secs(2) };
        let url = format!("http://localhost:{port}/r.pdf");
        assert_eq!(f.refusal(&reqwest::Url::parse(&url).unwrap()), None, "the allow-list lets it through");
        match f.fetch(&url, Duration::from_secs(2)).await {
            Err(FetchError::Refused(why)) => assert!(why.contains("internal"), "{why}"),
            other => panic!("{other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!accepted.is_finished(), "no connection was made");
        accepted.abort();
    }

    #[test]
    fn a_listed_loopback_host_is_allowed_and_only_on_its_port() {
        let f = fetcher("127.0.0.1:8080");
        assert_eq!(f.refusal(&reqwest::Url::parse("http://127.0.0.1:8080/r.pdf").unwrap()), None);
        assert_eq!(f.refusal(&reqwest::Url::parse("http://127.1:8080/r.pdf").unwrap()), None, "the same address");
        assert!(f.refusal(&reqwest::Url::parse("http://127.0.0.1:8081/r.pdf").unwrap()).is_some());
        assert!(f.refusal(&reqwest::Url::parse("http://[::1]:8080/r.pdf").unwrap()).is_some());
    }
}
