//! The operator's CLI against a deployment, with exactly the actions of infra/iam/operator.json
//! (the IAM-enforcing moto; the table and the queue made by an admin, as the stack makes them):
//! README's Deploy section walked from a fresh stack (doctor, the app, the signing key, a
//! customer, its links) and every command an operator runs after. An action the CLI needs and
//! the policy lacks is refused by moto, and the command fails here.
use std::process::{Command, Output};

use xor_lever_sandbox::moto::{self, Principal};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_policy_runs_every_command_of_the_readme() {
    let ((table, secrets), _) = moto::enforced_stores(Principal::Operator).await;
    let (table, prefix) = (table.table().to_owned(), secrets.prefix().to_owned());
    let queue = moto::enforced_sync_queue().await;
    // The function's router behind the public URL (its /healthz is routed by the template:
    // tests/tests/template.rs).
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", api.local_addr().unwrap());
    let store = std::sync::Arc::new(xor_lever_shared::adapters::memory::MemoryStore::new());
    let router = xor_lever_shared::http::router(
        xor_lever_shared::config::lever_context_on(store.clone(), store, xor_lever_shared::config::http_client()),
        None,
    );
    tokio::spawn(async move { axum::serve(api, router).await });
    let (key, secret) = Principal::Operator.keys();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| -> Output {
        let (args, env): (Vec<String>, Vec<(String, String)>) = (
            args.iter().map(|a| (*a).to_owned()).collect(),
            env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        );
        Command::new(env!("CARGO_BIN_EXE_xor-lever"))
            .arg("--state-dir")
            .arg(dir.path())
            .args(["--store", "dynamodb"])
            .args(&args)
            .env("TABLE_NAME", &table)
            .env("SECRET_PREFIX", &prefix)
            .env("SYNC_QUEUE_URL", &queue)
            .env("PUBLIC_URL", &public_url)
            .env("AWS_ENDPOINT_URL", moto::iam_endpoint())
            .env("AWS_ACCESS_KEY_ID", &key)
            .env("AWS_SECRET_ACCESS_KEY", &secret)
            .env("AWS_REGION", "us-east-1")
            .envs(env)
            .output()
            .unwrap()
    };
    let ok = |args: &[&str], env: &[(&str, &str)]| -> String {
        let out = run(args, env);
        assert!(out.status.success(), "{args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    };

    // A fresh stack: doctor says what is missing, and how to fix it.
    let first = run(&["doctor"], &[]);
    let report = text(&first.stdout);
    assert!(!first.status.success(), "{report}");
    for line in ["ok   store        reachable, 0 connection(s)", "ok   sync queue", "ok   public URL"] {
        assert!(report.contains(line), "{line} in {report}");
    }
    assert!(report.contains("FAIL Lever app") && report.contains("lever-app set"), "{report}");
    assert!(report.contains("FAIL signing key") && report.contains("keys init"), "{report}");

    ok(&["lever-app", "set", "--client-id", "cid-1"], &[("LEVER_CLIENT_SECRET", "cs-1")]);
    ok(&["keys", "show"], &[]);
    let report = ok(&["doctor"], &[]);
    assert!(report.contains("all 5 checks passed"), "{report}");

    // A customer, its links, and each command the README and the runbook name.
    let added = ok(
        &[
            "connections",
            "add",
            "acme",
            "--feed-url",
            "https://jobs.example/acme.xml",
            "--xor-base-url",
            "https://api.xor.example",
            "--public-url",
            &public_url,
        ],
        &[("XOR_API_KEY", "xor_live_K1")],
    );
    assert!(added.contains("invitation="), "{added}");
    for args in [
        &["connections", "list"][..],
        &["connections", "show", "acme"],
        &["connections", "connect-url", "acme", "--public-url", &public_url],
        &["connections", "page-url", "acme", "--public-url", &public_url],
        &["connections", "set-feed-url", "acme", "--feed-url", "https://jobs.example/moved.xml"],
        &["connections", "rotate-webhook-secret", "acme"],
        &["connections", "revoke-links", "acme"],
        &["connections", "disable", "acme"],
        &["connections", "enable", "acme"],
        &["connections", "reset-lever", "acme"],
        &["webhooks", "list"],
        &["status"],
        &["keys", "rotate", "--grace-days", "1"],
        &["sync", "--connection", "acme"],
    ] {
        ok(args, &[]);
    }
    ok(&["connections", "set-xor-key", "acme"], &[("XOR_API_KEY", "xor_live_K2")]);
    // The customer has not authorized yet: doctor says so, and what to send.
    let pending = run(&["doctor"], &[]);
    assert!(!pending.status.success());
    assert!(
        text(&pending.stdout).contains("FAIL connection   acme: pending: send `connections connect-url acme`"),
        "{}",
        text(&pending.stdout)
    );

    // What the policy does not grant is refused: the operator cannot make a table.
    let init = run(&["store", "init"], &[]);
    assert!(!init.status.success(), "CreateTable is the stack's, not the operator's");
}
