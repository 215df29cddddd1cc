//! Tokens from URLs and cookies (invitations, section links, sessions, webhook secret lists):
//! any text is refused or read, never a panic, and no made-up token opens.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xor_lever_shared::domain::signing::{SigningKey, SigningKeys};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let keys = SigningKeys { keys: vec![SigningKey::new("kfuzz".into(), &[7; 32], 0)] };
    for label in ["xor-lever section link v2", "xor-lever section session v2"] {
        assert!(xor_lever_shared::usecases::signed::open_with::<serde_json::Value>(&keys, label, s, 1).is_none());
    }
    let _ = xor_lever_shared::domain::signing::SigningKeys::parse(s);
    let h = xor_lever_shared::domain::invitation::hash_token(s);
    assert_eq!(h.len(), 64);
    let _ = xor_lever_shared::domain::webhook::WebhookSecret::parse_list(s, 1_764_000_000);
    let _ = xor_lever_shared::domain::ConnectionId::parse(s);
});
