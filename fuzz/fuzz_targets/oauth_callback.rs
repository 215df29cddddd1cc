//! The OAuth callback's query string as anyone can send it: parsed into its parameters, then the
//! state opened as the callback opens it. A forged state never opens.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xor_lever_shared::domain::signing::{SigningKey, SigningKeys};
use xor_lever_shared::usecases::connect::CallbackQuery;

fuzz_target!(|data: &[u8]| {
    let Ok(q) = serde_urlencoded::from_bytes::<CallbackQuery>(data) else { return };
    let keys = SigningKeys { keys: vec![SigningKey::new("kfuzz".into(), &[7; 32], 0)] };
    if let Some(state) = q.state.as_deref() {
        let opened =
            xor_lever_shared::usecases::signed::open_with::<serde_json::Value>(&keys, "xor-lever oauth state v3", state, 1);
        // The fuzzer does not know the key: nothing it makes can be a signed state.
        assert!(opened.is_none(), "a forged state opened: {state:?}");
    }
});
