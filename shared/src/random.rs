//! Randomness that grants or proves something — webhook secrets, invitation tokens, OAuth state
//! nonces, lease owners — comes from the operating system's CSPRNG (`getrandom`), never from a
//! fast non-cryptographic generator (`fastrand` is kept for retry jitter only).
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;

/// `N` bytes from the OS CSPRNG. A machine whose OS cannot provide them cannot run xor-lever
/// safely, so this panics rather than fall back to something weaker.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the OS random number generator is available");
    b
}

/// A 256-bit token, URL-safe base64 (43 characters): invitation tokens, OAuth nonces.
pub fn token() -> String {
    B64URL.encode(bytes::<32>())
}

/// A 128-bit id in hex: lease and claim owners (unguessable, so no one can release a lease or
/// end a claim they do not hold).
pub fn id128() -> String {
    hex::encode(bytes::<16>())
}

/// A fresh `whsec_` webhook secret (256 bits), as XOR signs with.
pub fn webhook_secret() -> String {
    crate::domain::webhook::WebhookSecret::encode(&bytes::<32>())
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (super::token(), super::token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(super::id128().len(), 32);
    }
}
