//! Which addresses a link from outside may make us connect to: the public internet only. A
//! resume link arrives in a webhook, so it is hostile until proven otherwise: the address is
//! checked after DNS resolution, on the address actually connected to (`GuardedResolver`), and an
//! IP literal in the URL (which never reaches a resolver) is checked by the same rule.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// True when `ip` is not a public unicast address: loopback, private (RFC 1918), link-local,
/// unique-local, CGNAT, "this network", multicast, broadcast, reserved, documentation and
/// benchmarking ranges, and every IPv6 form that embeds one of those IPv4 addresses
/// (IPv4-mapped, IPv4-compatible, NAT64, 6to4).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_forbidden(v4),
        IpAddr::V6(v6) => v6_forbidden(v6),
    }
}

fn v4_forbidden(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || a == 0 // 0.0.0.0/8: "this network" (0.0.0.0 reaches the local host on Linux)
        || ip.is_loopback() // 127/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16: the instance metadata service among them
        || (a == 100 && (b & 0xc0) == 64) // 100.64/10: carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24: IETF protocol assignments
        || ip.is_documentation() // 192.0.2/24, 198.51.100/24, 203.0.113/24
        || (a == 198 && (b & 0xfe) == 18) // 198.18/15: benchmarking
        || ip.is_multicast() // 224/4
        || a >= 240 // 240/4 reserved, 255.255.255.255 broadcast
}

fn v6_forbidden(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        return true;
    }
    // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) forms.
    if let Some(v4) = ip.to_ipv4() {
        return v4_forbidden(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s[0] {
        0xfe80..=0xfebf => true,                      // fe80::/10 link-local
        0xfec0..=0xfeff => true,                      // fec0::/10 site-local (deprecated)
        0xfc00..=0xfdff => true,                      // fc00::/7 unique-local (EC2's fd00:ec2::254 among them)
        0x2001 if s[1] == 0x0db8 => true,             // 2001:db8::/32 documentation
        0x2001 if s[1] == 0 => true,                  // 2001::/32 Teredo (tunnels to any IPv4)
        0x2002 => v4_forbidden(embedded(s[1], s[2])), // 6to4 embeds an IPv4 address
        // 64:ff9b::/96: NAT64 translates to the embedded IPv4 address (the last 32 bits).
        0x0064 if s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] => v4_forbidden(embedded(s[6], s[7])),
        // 64:ff9b:1::/48: local-use NAT64, translating inside someone's network.
        0x0064 if s[1] == 0xff9b => true,
        // ::ffff:0:a.b.c.d (SIIT, ::ffff:0:0/96) embeds an IPv4 address too: never public.
        0 if s[1..4] == [0, 0, 0] && s[4] == 0xffff && s[5] == 0 => true,
        0x0100 if s[1..4] == [0, 0, 0] => true, // 100::/64 discard-only
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(s: &str) -> bool {
        is_forbidden(s.parse().unwrap())
    }

    #[test]
    fn internal_addresses_are_forbidden() {
        for a in [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.170",
            "198.18.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::10.0.0.1",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd00:ec2::254",
            "ff02::1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2001::1",
            "2001:db8::1",
            "::ffff:0:7f00:1",
            "::ffff:0:808:808",
            "64:ff9b:1::808:808",
        ] {
            assert!(forbidden(a), "{a} must be refused");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "52.94.236.248",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!forbidden(a), "{a} is public");
        }
    }
}
