//! The deployment's allow-list of file hosts (`XOR_LEVER_RESUME_HOSTS`): the only hosts a resume
//! link may point at. A host is `name` (https on 443 only) or `name:port` (that port only); an
//! IP literal or `localhost` listed with its port names a loopback or private host on purpose
//! (how `xor-lever dev` and the tests reach their own file server) and may then be http. Every
//! other host must be https and resolve to public addresses only.
use std::net::IpAddr;

/// XOR's file host (`docs/xor-contract.md` §2: resume links are `https://files.xor.ai/…`), the
/// list when the variable is unset.
pub const XOR_FILE_HOST: &str = "files.xor.ai";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    /// Lower case; an IPv6 literal without its brackets.
    pub host: String,
    /// `None`: https on 443 only. Kept as written (`:443` stays explicit).
    pub port: Option<u16>,
}

impl AllowedHost {
    /// An IP literal or `localhost`: listed on purpose, so it may be loopback or private. A
    /// name is never trusted to resolve anywhere private.
    pub fn is_explicit_address(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().is_ok()
    }

    /// Plain http is for an address listed on purpose with its port (a local file server).
    pub fn allows_http(&self) -> bool {
        self.is_explicit_address() && self.port.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeHosts(Vec<AllowedHost>);

#[derive(Debug, thiserror::Error)]
#[error("XOR_LEVER_RESUME_HOSTS: {0:?} is not a host or host:port")]
pub struct BadHost(String);

impl Default for ResumeHosts {
    fn default() -> Self {
        Self(vec![AllowedHost { host: XOR_FILE_HOST.into(), port: None }])
    }
}

impl ResumeHosts {
    /// A comma-separated list of `host` or `host:port` (`[v6]:port` for an IPv6 literal).
    /// Blank means the default (XOR's file host).
    pub fn parse(list: &str) -> Result<Self, BadHost> {
        let hosts =
            list.split(',').map(str::trim).filter(|h| !h.is_empty()).map(parse_one).collect::<Result<Vec<_>, _>>()?;
        Ok(if hosts.is_empty() { Self::default() } else { Self(hosts) })
    }

    /// The entry for a URL's host and port (the port as the URL gives it, or its scheme's
    /// default), if any: a bare entry matches https on 443 only.
    pub fn find(&self, host: &str, port: u16, https: bool) -> Option<&AllowedHost> {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        self.0.iter().find(|h| h.host == host && h.port.map_or(https && port == 443, |p| p == port))
    }

    /// Names (not IP literals) listed on purpose as local: the resolver lets them resolve to
    /// loopback.
    pub fn local_names(&self) -> Vec<String> {
        self.0.iter().filter(|h| h.host == "localhost").map(|h| h.host.clone()).collect()
    }

    pub fn entries(&self) -> &[AllowedHost] {
        &self.0
    }
}

fn parse_one(s: &str) -> Result<AllowedHost, BadHost> {
    let bad = || BadHost(s.to_owned());
    // Parsed as a URL's authority, so a host is spelled the way a link's host is compared:
    // `127.1` and `0x7f000001` become 127.0.0.1, names lower case.
    let url = reqwest::Url::parse(&format!("https://{s}/")).map_err(|_| bad())?;
    if !url.username().is_empty() || url.password().is_some() || url.path() != "/" {
        return Err(bad());
    }
    let host = match url.host().ok_or_else(bad)? {
        url::Host::Domain(d) => d.to_ascii_lowercase(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    };
    // `Url` drops a port equal to the scheme's default: read it as written instead.
    let port = match s.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && (h.ends_with(']') || !h.contains(':')) => {
            Some(p.parse().map_err(|_| bad())?)
        }
        _ => None,
    };
    Ok(AllowedHost { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_and_ports() {
        let h =
            ResumeHosts::parse(" files.xor.ai, 127.0.0.1:8080 ,[::1]:9000,LOCALHOST:7,10.0.0.9:443,10.0.0.8").unwrap();
        assert!(h.find("files.xor.ai", 443, true).is_some());
        assert!(h.find("FILES.xor.ai", 443, true).is_some());
        assert!(h.find("files.xor.ai", 80, false).is_none(), "a bare host is https on 443 only");
        assert!(h.find("files.xor.ai", 8443, true).is_none(), "another port is another host");
        assert!(h.find("127.0.0.1", 8080, false).unwrap().allows_http());
        assert!(h.find("127.0.0.1", 80, false).is_none());
        assert!(h.find("[::1]", 9000, false).is_some());
        assert_eq!(h.local_names(), ["localhost"]);
        assert!(!h.find("files.xor.ai", 443, true).unwrap().is_explicit_address());
        assert_eq!(h.find("10.0.0.9", 443, true).unwrap().port, Some(443), ":443 kept as written");
        assert!(h.find("10.0.0.9", 80, false).is_none(), "443 listed: not http on 80");
        assert!(!h.find("10.0.0.8", 443, true).unwrap().allows_http(), "no port listed: https only");
        assert_eq!(ResumeHosts::parse("").unwrap(), ResumeHosts::default());
        assert_eq!(ResumeHosts::parse("127.1:5").unwrap().entries()[0].host, "127.0.0.1");
        for bad in ["a b", "x/y", "user@host", "host:99999"] {
            assert!(ResumeHosts::parse(bad).is_err(), "{bad}");
        }
    }
}
