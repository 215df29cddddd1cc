//! A webhook as an outsider can send it: any id, timestamp, signature header and body go through
//! the signature check (which must refuse all but a valid signature) and the payload parser.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xor_lever_shared::domain::webhook::{WebhookSecret, parse_event, verify};

fn text(b: Option<&[u8]>) -> Option<&str> {
    b.and_then(|b| std::str::from_utf8(b).ok())
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fuzz_target!(|data: &[u8]| {
    // id \n timestamp \n signature \n body
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let (id, ts, sig) = (parts.next(), parts.next(), parts.next());
    let body = parts.next().unwrap_or_default();
    let secrets = WebhookSecret::parse_list(SECRET, 1_764_000_000);
    let ok = verify(&secrets, text(id), text(ts), text(sig), body, 1_764_000_000).is_ok();
    if ok {
        // Only the real signature of these bytes passes.
        let key = WebhookSecret::parse(SECRET).unwrap();
        let want = key.sign(text(id).unwrap(), text(ts).unwrap().trim().parse().unwrap(), body);
        assert!(text(sig).unwrap().split_whitespace().any(|s| s == want));
    }
    let _ = parse_event(body);
});
