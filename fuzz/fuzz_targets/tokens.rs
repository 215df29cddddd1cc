//! Tokens from URLs and cookies (invitations, section links, sessions, webhook secret lists):
//! any text is refused or read, never a panic, and no made-up token opens.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xor_lever::domain::ats::AppCredentials;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let app = AppCredentials { client_id: "cid".into(), client_secret: "fuzz-secret".into() };
    for label in ["xor-lever section link v1", "xor-lever section session v1"] {
        assert!(xor_lever::usecases::signed::open::<serde_json::Value>(&app, label, s).is_none());
    }
    let h = xor_lever::domain::invitation::hash_token(s);
    assert_eq!(h.len(), 64);
    let _ = xor_lever::domain::webhook::WebhookSecret::parse_list(s, 1_764_000_000);
    let _ = xor_lever::domain::ConnectionId::parse(s);
});
