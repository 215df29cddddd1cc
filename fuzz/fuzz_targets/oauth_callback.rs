//! The OAuth callback's query string as anyone can send it: parsed into its parameters, then the
//! state opened as the callback opens it. A forged state never opens.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xor_lever::domain::ats::AppCredentials;
use xor_lever::usecases::connect::CallbackQuery;

fuzz_target!(|data: &[u8]| {
    let Ok(q) = serde_urlencoded::from_bytes::<CallbackQuery>(data) else { return };
    let app = AppCredentials { client_id: "cid".into(), client_secret: "fuzz-secret".into() };
    if let Some(state) = q.state.as_deref() {
        let opened = xor_lever::usecases::signed::open::<serde_json::Value>(&app, "xor-lever oauth state v2", state);
        // The fuzzer does not know the key: nothing it makes can be a signed state.
        assert!(opened.is_none(), "a forged state opened: {state:?}");
    }
});
