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
