//! Secrets, tokens, nonces and lease owners come from the OS CSPRNG: `fastrand` (fast, seeded,
//! predictable) may only pick retry jitter. A source scan, so a new call site cannot slip in.
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn only_retry_jitter_uses_a_non_cryptographic_generator() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["shared/src", "cli/src", "functions/feed-sync/src", "functions/webhook/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 20, "the scan found the sources");
    let allowed = Path::new("shared/src/adapters/retry.rs");
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with(allowed))
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.contains("fastrand::") || l.contains("rand::random") || l.contains("thread_rng"))
                .map(|(i, l)| format!("{}:{}: {}", f.display(), i + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(offenders.is_empty(), "use xor_lever::random (the OS CSPRNG) instead:\n{}", offenders.join("\n"));
}
