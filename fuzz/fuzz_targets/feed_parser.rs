//! The feed reader on any bytes: it answers with postings and warnings or an error, never a panic,
//! and what it hands over always validates (ids parse, titles are non-empty).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((postings, report)) = xor_lever_shared::feed::parse_slice(data) {
        assert_eq!(postings.len(), report.jobs);
        for p in &postings {
            assert!(!p.title.is_empty());
            assert!(xor_lever_shared::domain::PostingId::parse(p.external_id.as_str()).is_ok());
        }
    }
});
