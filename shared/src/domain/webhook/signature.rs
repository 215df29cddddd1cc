//! The Standard Webhooks signature XOR signs with (docs/xor-contract.md §2): `whsec_` secrets,
//! rotation, the timestamp tolerance, constant-time comparison over the raw body. A request's
//! headers are checked for shape first ([`precheck`]: no secret, no store read, no MAC), then
//! one MAC per secret is compared with each signature entry.
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Standard Webhooks' tolerance for the `webhook-timestamp` header, both ways.
pub const TOLERANCE_SECS: i64 = 5 * 60;
/// The largest body we read (a screening with a long transcript summary fits many times over).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not a Unix time")]
    BadTimestamp,
    #[error("webhook-timestamp is {0} s away from now, beyond the ±300 s tolerance")]
    Stale(i64),
    #[error("no v1 signature matches")]
    NoMatch,
    #[error("webhook-signature is malformed: {0}")]
    Malformed(&'static str),
    #[error("the connection has no usable webhook secret")]
    NoSecret,
}

/// A `whsec_…` secret, decoded. Its bytes are never printed.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl WebhookSecret {
    pub fn parse(s: &str) -> Option<Self> {
        let b64 = s.trim().strip_prefix("whsec_").unwrap_or(s.trim());
        B64.decode(b64).ok().filter(|k| !k.is_empty()).map(Self)
    }

    /// `v1,<base64>` for these parts (what XOR, and our tests and `dev`, send).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", B64.encode(self.mac(id, timestamp, body).finalize().into_bytes()))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The usable secrets of a stored `webhook-secret` value: whitespace-separated entries, each
    /// `whsec_…`, optionally `;until=<unix seconds>` (the old secret during a rotation's grace).
    pub fn parse_list(stored: &str, now_s: i64) -> Vec<Self> {
        stored
            .split_whitespace()
            .filter_map(|entry| {
                let (secret, until) = match entry.split_once(";until=") {
                    Some((s, u)) => (s, u.parse::<i64>().ok()?),
                    None => (entry, i64::MAX),
                };
                (until > now_s).then(|| Self::parse(secret)).flatten()
            })
            .collect()
    }

    /// `key` in the `whsec_` form. Fresh secrets come from [`crate::random::webhook_secret`]
    /// (the OS CSPRNG; the domain does no I/O).
    pub fn encode(key: &[u8]) -> String {
        format!("whsec_{}", B64.encode(key))
    }
}

/// The `webhook-signature` header's longest accepted length. Standard Webhooks senders send one
/// entry per secret they hold (`v1,` + 44 base64 characters), two during a rotation: 1 KB is
/// plenty, and a longer header is refused before any MAC is computed.
pub const MAX_SIGNATURE_HEADER_BYTES: usize = 1024;
/// At most this many `v1` entries are considered (more is refused, not truncated).
pub const MAX_SIGNATURES: usize = 8;

/// A delivery's signature headers, checked for shape and freshness: what can be known about a
/// request before reading anything stored, so a malformed or stale one costs no store call and
/// no MAC.
#[derive(Debug, Clone)]
pub struct SignedParts<'a> {
    id: &'a str,
    ts: i64,
    /// Each `v1` entry's 32 bytes (entries of another scheme or length are ignored).
    signatures: Vec<[u8; 32]>,
}

/// The shape checks of [`verify`], without the secrets: the headers are present, the timestamp is
/// within the tolerance of `now` (seconds), the signature header is short, and at least one
/// entry is a `v1` signature of the right length.
pub fn precheck<'a>(
    id: Option<&'a str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    now: i64,
) -> Result<SignedParts<'a>, SignatureError> {
    let id = id.filter(|s| !s.is_empty()).ok_or(SignatureError::MissingHeader("webhook-id"))?;
    let ts = timestamp.ok_or(SignatureError::MissingHeader("webhook-timestamp"))?;
    let signature = signature.ok_or(SignatureError::MissingHeader("webhook-signature"))?;
    let ts: i64 = ts.trim().parse().map_err(|_| SignatureError::BadTimestamp)?;
    // `abs_diff`: a timestamp near i64's ends must not overflow before anything is verified.
    if now.abs_diff(ts) > TOLERANCE_SECS as u64 {
        return Err(SignatureError::Stale(now.saturating_sub(ts)));
    }
    if signature.len() > MAX_SIGNATURE_HEADER_BYTES {
        return Err(SignatureError::Malformed("the webhook-signature header is too long"));
    }
    let entries: Vec<&str> = signature.split_whitespace().collect();
    if entries.len() > MAX_SIGNATURES {
        return Err(SignatureError::Malformed("too many signatures"));
    }
    let signatures: Vec<[u8; 32]> = entries
        .iter()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b| B64.decode(b).ok())
        .filter_map(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .collect();
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no v1 signature"));
    }
    Ok(SignedParts { id, ts, signatures })
}

impl SignedParts<'_> {
    /// True when any one entry is the MAC of the body under any one of `secrets` (rotation). One
    /// MAC per secret, whatever the number of entries; each entry compared in constant time.
    pub fn verify(&self, secrets: &[WebhookSecret], body: &[u8]) -> Result<(), SignatureError> {
        if secrets.is_empty() {
            return Err(SignatureError::NoSecret);
        }
        for secret in secrets {
            let expected = secret.mac(self.id, self.ts, body).finalize().into_bytes();
            // Every entry is compared (no early exit between them): the time says nothing about
            // which one, if any, matched.
            let matched = self.signatures.iter().fold(0u8, |any, sig| any | u8::from(ct_eq(&expected, sig)));
            if matched == 1 {
                return Ok(());
            }
        }
        Err(SignatureError::NoMatch)
    }
}

/// Equal 32-byte values, compared in constant time.
fn ct_eq(a: &[u8], b: &[u8; 32]) -> bool {
    a.len() == 32 && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies a delivery: any one `v1` signature made with any one of `secrets` (rotation) over
/// the raw body, within the tolerance of `now` (seconds; injected for tests).
pub fn verify(
    secrets: &[WebhookSecret],
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    precheck(id, timestamp, signature, now)?.verify(secrets, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secrets(list: &[&str]) -> Vec<WebhookSecret> {
        list.iter().map(|s| WebhookSecret::parse(s).unwrap()).collect()
    }
    fn check(s: &[WebhookSecret], sig: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
        verify(s, Some(ID), Some(&TS.to_string()), Some(sig), body, now)
    }

    #[test]
    fn the_specs_published_test_vector() {
        let s = WebhookSecret::parse(SECRET).unwrap();
        assert_eq!(s.sign(ID, TS, BODY), SIG);
        assert_eq!(check(&[s], SIG, BODY, TS), Ok(()));
    }

    #[test]
    fn rotation_any_secret_and_any_signature() {
        let other = crate::random::webhook_secret();
        // Two secrets configured (old and new), the delivery signed with the old one.
        assert_eq!(check(&secrets(&[&other, SECRET]), SIG, BODY, TS), Ok(()));
        // XOR sends two signatures (one per secret it holds): one valid is enough.
        let two = format!("v1,{} {SIG}", "A".repeat(44));
        assert_eq!(check(&secrets(&[SECRET]), &two, BODY, TS), Ok(()));
    }

    #[test]
    fn a_rotated_out_secret_works_until_its_grace_ends() {
        let stored = format!("{} {SECRET};until={}", crate::random::webhook_secret(), TS + 60);
        assert_eq!(check(&WebhookSecret::parse_list(&stored, TS), SIG, BODY, TS), Ok(()));
        assert_eq!(
            check(&WebhookSecret::parse_list(&stored, TS + 61), SIG, BODY, TS + 61),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn a_flood_of_entries_or_a_long_header_is_refused_before_any_mac() {
        let s = secrets(&[SECRET]);
        let many = vec!["v1,"; 2500].join(" ");
        assert_eq!(
            check(&s, &many, BODY, TS),
            Err(SignatureError::Malformed("the webhook-signature header is too long"))
        );
        let nine = vec![SIG; 9].join(" ");
        assert_eq!(check(&s, &nine, BODY, TS), Err(SignatureError::Malformed("too many signatures")));
        // The valid one among junk of other lengths and schemes, within the caps.
        let mixed = format!("v1,{} v1, v2,{} {SIG}", "A".repeat(40), "B".repeat(44));
        assert_eq!(check(&s, &mixed, BODY, TS), Ok(()));
        // Nothing about the sender is needed to refuse: no secrets given at all.
        assert_eq!(
            precheck(Some(ID), Some(&TS.to_string()), Some(&many), TS).err(),
            Some(SignatureError::Malformed("the webhook-signature header is too long"))
        );
    }

    #[test]
    fn refusals() {
        let s = secrets(&[SECRET]);
        assert_eq!(
            check(&secrets(&[&crate::random::webhook_secret()]), SIG, BODY, TS),
            Err(SignatureError::NoMatch),
            "wrong secret"
        );
        assert_eq!(check(&s, SIG, br#"{"test": 2432232315}"#, TS), Err(SignatureError::NoMatch), "tampered body");
        assert_eq!(check(&s, SIG, BODY, TS + 301), Err(SignatureError::Stale(301)), "stale");
        assert_eq!(check(&s, SIG, BODY, TS - 301), Err(SignatureError::Stale(-301)), "future");
        assert_eq!(check(&s, SIG, BODY, TS + 300), Ok(()), "inside the tolerance");
        assert_eq!(check(&s, "v2,abc", BODY, TS), Err(SignatureError::Malformed("no v1 signature")), "unknown scheme");
        assert_eq!(check(&s, "v1,abc", BODY, TS), Err(SignatureError::Malformed("no v1 signature")), "not 32 bytes");
        assert_eq!(verify(&s, None, Some("1"), Some(SIG), BODY, TS), Err(SignatureError::MissingHeader("webhook-id")));
        assert_eq!(
            verify(&s, Some(ID), None, Some(SIG), BODY, TS),
            Err(SignatureError::MissingHeader("webhook-timestamp"))
        );
        assert_eq!(
            verify(&s, Some(ID), Some("1"), None, BODY, TS),
            Err(SignatureError::MissingHeader("webhook-signature"))
        );
        assert_eq!(verify(&s, Some(ID), Some("soon"), Some(SIG), BODY, TS), Err(SignatureError::BadTimestamp));
        let far = (i64::MIN + 5).to_string();
        assert!(
            matches!(verify(&s, Some(ID), Some(&far), Some(SIG), BODY, TS), Err(SignatureError::Stale(_))),
            "no overflow"
        );
        assert_eq!(check(&[], SIG, BODY, TS), Err(SignatureError::NoSecret));
    }
}
