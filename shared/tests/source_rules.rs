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
    assert!(offenders.is_empty(), "use xor_lever_shared::random (the OS CSPRNG) instead:\n{}", offenders.join("\n"));
}

/// Every product source file (tests aside): the library, the CLI, the functions.
fn product_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["shared/src", "cli/src", "functions/feed-sync/src", "functions/webhook/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    files
}

/// A file's product code: its text without the items marked `#[cfg(test)]` (a `mod tests;`
/// line, or a `mod tests { … }` block, wherever it sits in the file).
fn product_text(f: &Path) -> String {
    let text = std::fs::read_to_string(f).unwrap();
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        // The item the attribute marks: one line (`mod x;`), or a block to its closing brace.
        let mut depth = 0i32;
        for item in lines.by_ref() {
            depth += item.matches('{').count() as i32 - item.matches('}').count() as i32;
            if depth <= 0 && (item.trim_end().ends_with(';') || item.trim_end().ends_with('}')) {
                break;
            }
        }
    }
    out
}

/// `file:line: text` of every product line (unit tests aside) of `files` that `hit` matches.
fn lines_matching(files: &[PathBuf], hit: impl Fn(&str) -> bool) -> Vec<String> {
    files
        .iter()
        .flat_map(|f| {
            product_text(f)
                .lines()
                .enumerate()
                .filter(|(_, l)| hit(l))
                .map(|(i, l)| format!("{}:{}: {}", f.display(), i + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Each `fn` with a body, as (name, first line, lines), found by matching braces (strings and
/// comments with braces in them are rare enough in this tree to be counted as code).
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].trim_start();
        let signature = l.split("fn ").nth(1).filter(|_| {
            let before = l.split("fn ").next().unwrap_or("");
            before
                .split_whitespace()
                .all(|w| ["pub", "pub(crate)", "pub(super)", "async", "const", "unsafe"].contains(&w))
                && !l.starts_with("//")
        });
        let Some(sig) = signature else {
            i += 1;
            continue;
        };
        let name: String = sig.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let (mut depth, mut started, mut j) = (0i32, false, i);
        while j < lines.len() {
            for c in lines[j].chars() {
                match c {
                    '{' => (depth, started) = (depth + 1, true),
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if (started && depth == 0) || (!started && lines[j].trim_end().ends_with(';')) {
                break;
            }
            j += 1;
        }
        if started {
            out.push((name, i + 1, j - i + 1));
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// Functions that do one job: none of the product's is over 60 lines (issue 22).
#[test]
fn no_product_function_is_over_60_lines() {
    let long: Vec<String> = product_files()
        .iter()
        .flat_map(|f| {
            functions(&product_text(f))
                .into_iter()
                .filter(|(_, _, n)| *n > 60)
                .map(|(name, line, n)| format!("{}:{line}: {name} ({n} lines)", f.display()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(long.is_empty(), "split into named steps:\n{}", long.join("\n"));
}

/// Whether a line names `Result<T, String>` (the error argument at the top level of the
/// `Result`'s arguments, not a `String` inside another type).
fn string_error(line: &str) -> bool {
    line.match_indices("Result<").any(|(i, m)| {
        let mut depth = 1;
        let mut args = vec![String::new()];
        for c in line[i + m.len()..].chars() {
            match c {
                '<' | '(' | '[' => depth += 1,
                '>' | ')' | ']' => depth -= 1,
                ',' if depth == 1 => {
                    args.push(String::new());
                    continue;
                }
                _ => {}
            }
            if depth == 0 {
                break;
            }
            args.last_mut().unwrap().push(c);
        }
        args.get(1).is_some_and(|e| e.trim() == "String")
    })
}

/// Errors keep their cause: no `Result<_, String>` in the library.
#[test]
fn the_library_returns_no_string_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let found = lines_matching(&files, string_error);
    assert!(found.is_empty(), "a typed error (thiserror, #[source]) instead:\n{}", found.join("\n"));
}

/// One call loop: only adapters/retry.rs backs off (`next_delay`) between attempts.
#[test]
fn one_call_loop_backs_off() {
    let files: Vec<PathBuf> =
        product_files().into_iter().filter(|f| !f.ends_with("shared/src/adapters/retry.rs")).collect();
    let found = lines_matching(&files, |l| l.contains(".next_delay("));
    assert!(found.is_empty(), "use adapters::retry::call_with:\n{}", found.join("\n"));
}

/// One name per crate: a library is imported by its package's name (no `[lib] name` that a
/// reader would take for another crate: `xor_lever` read as the CLI's `xor-lever`).
#[test]
fn each_crate_is_imported_by_its_package_name() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for member in ["shared", "cli", "tests", "functions/feed-sync", "functions/webhook"] {
        let toml = std::fs::read_to_string(root.join(member).join("Cargo.toml")).unwrap();
        let value = |section: &str, key: &str| {
            let start = toml.find(section)?;
            let body = &toml[start + section.len()..];
            let body = &body[..body.find("\n[").unwrap_or(body.len())];
            body.lines().find_map(|l| {
                l.trim().strip_prefix(key)?.trim().strip_prefix('=').map(|v| v.trim().trim_matches('"').to_owned())
            })
        };
        let package = value("[package]", "name").expect("a package name");
        if let Some(lib) = value("[lib]", "name") {
            assert_eq!(lib, package.replace('-', "_"), "{member}: the library is imported under another name");
        }
    }
}

/// One way to count: what an invocation counts is task-local (`metrics::counted`), never a
/// process-wide atomic that a line swaps out (the cold start's flag aside, a fact of the process).
#[test]
fn counting_is_task_local() {
    let files: Vec<PathBuf> = product_files().into_iter().filter(|f| !f.ends_with("shared/src/metrics.rs")).collect();
    let found = lines_matching(&files, |l| l.trim_start().starts_with("static ") && l.contains("Atomic"));
    assert!(found.is_empty(), "count with xor_lever_shared::metrics::count:\n{}", found.join("\n"));
}
