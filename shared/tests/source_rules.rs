//! Rules checked on the sources, so that a new line cannot break them unnoticed:
//! - the dependency rule: the domain imports nothing of the crate's outer rings; adapters
//!   implement the domain's ports and never reach a use case, the router or the wiring; use cases
//!   talk to the outside only through ports (their unit tests may use the in-memory store);
//! - secrets, tokens, nonces and lease owners come from the OS CSPRNG: `fastrand` (fast, seeded,
//!   predictable) may only pick retry jitter.
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

/// `file:line: text` for every line under `dir` that names one of the crate's `modules` (as
/// `crate::m`, `m::` after `{` or `super::`) or one of the outside `crates`, skipping `allowed` files.
fn offenders(dir: &str, modules: &[&str], crates: &[&str], allowed: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root.join(dir), &mut files);
    assert!(!files.is_empty(), "the scan found {dir}");
    files
        .iter()
        .filter(|f| !allowed.iter().any(|a| f.ends_with(a)))
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim_start().starts_with("//"))
                .filter(|(_, l)| {
                    let words: Vec<&str> = l.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).collect();
                    words.iter().any(|w| {
                        modules.iter().any(|m| {
                            w.starts_with(&format!("crate::{m}"))
                                || w.starts_with(&format!("{m}::"))
                                || w.contains(&format!("super::{m}"))
                        }) || crates.iter().any(|c| w.starts_with(&format!("{c}::")) || *w == *c)
                    })
                })
                .map(|(i, l)| format!("{}:{}: {}", f.display(), i + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_domain_imports_no_outer_ring() {
    let found = offenders(
        "domain",
        &["adapters", "usecases", "http", "config", "feed", "report"],
        &["reqwest", "aws_sdk_dynamodb", "aws_sdk_secretsmanager", "aws_sdk_sqs", "rusqlite", "axum"],
        &[],
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn adapters_never_import_a_use_case_the_router_or_the_wiring() {
    let found = offenders("adapters", &["usecases", "http", "config"], &[], &[]);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn use_cases_reach_the_outside_only_through_ports() {
    let found = offenders(
        "usecases",
        &["adapters", "http", "config"],
        &["reqwest", "aws_sdk_dynamodb", "aws_sdk_secretsmanager", "aws_sdk_sqs", "rusqlite", "axum"],
        &["tests.rs"],
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
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
