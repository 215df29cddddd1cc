//! The `xor-lever` binary as an operator runs it.
use std::process::{Command, Output};

use xor_lever_sandbox::feeds::feed;
use xor_lever_sandbox::{FeedServer, XorSandbox};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/lever-feed-sample.xml");

fn xl(state: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xor-lever"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env_remove("XOR_LEVER_STORE")
        .output()
        .expect("run xor-lever")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn feed_inspect_prints_a_table_or_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let out = xl(dir.path(), &["feed", "inspect", SAMPLE]);
    assert!(out.status.success());
    let table = text(&out.stdout);
    assert_eq!(table.lines().count(), 5, "{table}");
    assert!(table.contains("Field Technician – Nachtschicht") && table.contains("München, DE"));
    let out = xl(dir.path(), &["feed", "inspect", SAMPLE, "--json"]);
    let lines: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3]["title"], "Data Analyst & Reporting Lead");
    assert_eq!(lines[3]["extra"]["team"], "Business Intelligence");
    assert_eq!(lines[0]["location"]["remote"], "hybrid");
}

/// `feed inspect` reads Lever's postings API (JSON) as it reads the XML feed.
#[test]
fn feed_inspect_reads_lever_s_postings_api_too() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("postings.json");
    std::fs::write(&json, xor_lever_sandbox::feeds::postings_api(0..3, "")).unwrap();
    let out = xl(dir.path(), &["feed", "inspect", json.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["external_id"], xor_lever_sandbox::feeds::posting_id(1));
    assert_eq!(lines[1]["location"]["remote"], "hybrid");
}

#[test]
fn feed_inspect_fails_clearly_on_an_unusable_feed() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xml");
    std::fs::write(&bad, "<html><body>Service Unavailable</body></html>").unwrap();
    let out = xl(dir.path(), &["feed", "inspect", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no table for an unusable feed");
    assert!(text(&out.stderr).contains("root element is <html>"), "{}", text(&out.stderr));
    let warn = dir.path().join("warn.xml");
    std::fs::write(&warn, "<source><job><title>No id</title></job><job><title>A</title><referencenumber>a1</referencenumber></job></source>").unwrap();
    let out = xl(dir.path(), &["feed", "inspect", warn.to_str().unwrap(), "--json"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).lines().count(), 1);
    assert!(text(&out.stderr).contains("warning:") && text(&out.stderr).contains("No id"));
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_and_sync_against_the_sandbox() {
    let xor = XorSandbox::spawn().await;
    let feed = FeedServer::spawn(feed(0..3, "")).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let (xor_url, feed_url) = (xor.url.clone(), feed.url.clone());
    let run = move |args: Vec<String>| {
        let d = d.clone();
        tokio::task::spawn_blocking(move || xl(&d, &args.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    let add = run(vec![
        "connections".into(),
        "add".into(),
        "acme".into(),
        "--feed-url".into(),
        feed_url,
        "--xor-base-url".into(),
        xor_url,
        "--xor-api-key".into(),
        "xor_test_secret_123".into(),
        "--xor-max-rps".into(),
        "100".into(),
        // A connected customer (Lever authorized): only connected connections sync.
        "--lever-refresh-token".into(),
        "lrt_test".into(),
    ])
    .await
    .unwrap();
    assert!(add.status.success(), "{}", text(&add.stderr));
    let list = run(vec!["connections".into(), "list".into(), "--json".into()]).await.unwrap();
    let listed = text(&list.stdout);
    assert!(listed.contains("\"id\":\"acme\""), "{listed}");
    assert!(!listed.contains("xor_test_secret_123"), "the API key never shows");

    let dry = run(vec!["sync".into(), "--dry-run".into()]).await.unwrap();
    assert!(text(&dry.stdout).contains("would create 3"), "{}", text(&dry.stdout));
    assert_eq!(xor.stats().requests, 0, "--dry-run changes nothing");

    let sync = run(vec!["sync".into(), "--json".into()]).await.unwrap();
    assert!(sync.status.success(), "{}", text(&sync.stderr));
    let v: serde_json::Value = serde_json::from_str(text(&sync.stdout).trim()).unwrap();
    for (k, n) in [("created", 3), ("updated", 0), ("closed", 0), ("unchanged", 0), ("failed", 0), ("skipped", 0)] {
        assert_eq!(v[k], n, "{k} in {v}");
    }
    assert_eq!(v["connection"], "acme");
    assert_eq!(xor.jobs().len(), 3);

    let again = run(vec!["sync".into(), "--connection".into(), "acme".into(), "--force".into(), "--json".into()])
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(text(&again.stdout).trim()).unwrap();
    assert_eq!((v["unchanged"].as_u64(), v["created"].as_u64()), (Some(3), Some(0)));
}

#[test]
fn dev_runs_the_local_story_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = xl(dir.path(), &["dev"]);
    let s = text(&out.stdout);
    assert!(out.status.success(), "{s}\n{}", text(&out.stderr));
    assert!(s.contains("XOR now has 4 jobs"), "{s}");
    assert!(s.contains("https://jobs.xor.ai/c/"), "{s}");
    assert!(s.contains("XOR writes since the first sync: 0"), "{s}");
    assert!(s.contains(r#"sources ["XOR"]"#) && s.contains("file xor-screening-report.pdf (application/pdf"), "{s}");
    assert!(s.contains("opportunities in Lever: 1 (exactly once)"), "{s}");
    // The delivery is there for an operator to see.
    let dev = dir.path().join("dev");
    let out = xl(&dev, &["webhooks", "list", "--json"]);
    let all: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (lines, lever): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|l| l["event_type"] == "candidate.screening_passed");
    assert_eq!(lines.len(), 3, "two screenings and XOR's retry of the erased one: {lines:?}");
    assert_eq!(lever.len(), 4, "Lever's events: a stage change, a hire's two, a deletion: {lever:?}");
    assert!(
        lever.iter().all(|l| l["status"] == "completed" && l["webhook_id"].as_str().unwrap().starts_with("lever:"))
    );
    // The third flow: outcomes reach XOR, a deletion erases and is not undone by XOR's retry.
    assert!(s.contains("XOR received: cand_demo_1 stage_changed (Phone screen)"), "{s}");
    assert!(s.contains("XOR received: cand_demo_1 hired"), "{s}");
    assert!(s.contains("our copy of the screening: 0 bytes (erased)"), "{s}");
    assert!(s.contains(r#""status":"erased"}; opportunities in Lever: 1"#), "{s}");
    // Which jobs go to XOR: a filter previewed, then applied.
    assert!(s.contains("13. the customer's job filter (v1): exclude team: finance"), "{s}");
    assert!(s.contains("(filtered: team \"finance\" excluded)"), "{s}");
    assert!(s.contains("the next sync: 1 closed in XOR; XOR has 3 active jobs"), "{s}");
    let ids: Vec<(&str, &str)> =
        lines.iter().map(|l| (l["status"].as_str().unwrap(), l["webhook_id"].as_str().unwrap())).collect();
    assert!(ids.contains(&("completed", "msg_demo_1")) && ids.contains(&("completed", "msg_demo_2")), "{ids:?}");
    assert!(s.contains("connected"), "the section, after Lever's consent: {s}");
    assert!(s.contains("the section's Replay sends it on: 2 candidates in Lever, 2 opportunities"), "{s}");
    assert!(lines[0].get("body").is_none(), "list never prints candidate data");
    let out = xl(&dev, &["webhooks", "show", "msg_demo_1"]);
    assert!(text(&out.stdout).contains("cand_demo_1"), "show prints the raw body");
    let out = xl(&dev, &["webhooks", "replay", "msg_demo_1"]);
    assert!(out.status.success() && text(&out.stdout).contains("\"duplicate\":true"), "{}", text(&out.stdout));
}

/// `--store dynamodb` runs the same commands against DynamoDB and Secrets Manager (moto here).
#[tokio::test(flavor = "multi_thread")]
async fn the_same_commands_run_against_dynamodb_on_moto() {
    let endpoint = xor_lever_sandbox::moto::endpoint();
    let xor = XorSandbox::spawn().await;
    let feed = FeedServer::spawn(feed(0..2, "")).await;
    let dir = tempfile::tempdir().unwrap();
    let table = format!("xl-cli-{:08x}", fastrand::u32(..));
    let prefix = format!("xl-cli-{:08x}/", fastrand::u32(..));
    let d = dir.path().to_owned();
    let run = move |args: Vec<String>| {
        let (d, table, prefix, endpoint) = (d.clone(), table.clone(), prefix.clone(), endpoint.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_xor-lever"))
                .arg("--state-dir")
                .arg(&d)
                .args(["--store", "dynamodb"])
                .args(&args)
                .env("TABLE_NAME", table)
                .env("SECRET_PREFIX", prefix)
                .env("AWS_ENDPOINT_URL", endpoint)
                .output()
                .unwrap()
        })
    };
    let init = run(vec!["store".into(), "init".into()]).await.unwrap();
    assert!(init.status.success(), "{}", text(&init.stderr));
    let add = run(vec![
        "connections".into(),
        "add".into(),
        "acme".into(),
        "--feed-url".into(),
        feed.url.clone(),
        "--xor-base-url".into(),
        xor.url.clone(),
        "--xor-api-key".into(),
        "k".into(),
        "--allow-mass-close".into(),
        "--lever-refresh-token".into(),
        "lrt_test".into(),
    ])
    .await
    .unwrap();
    assert!(add.status.success(), "{}", text(&add.stderr));
    // A second `add` of the id on DynamoDB: refused before any write, the secrets untouched.
    let again = run(vec![
        "connections".into(),
        "add".into(),
        "acme".into(),
        "--feed-url".into(),
        feed.url.clone(),
        "--xor-api-key".into(),
        "k-overwritten".into(),
    ])
    .await
    .unwrap();
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("already exists: nothing was changed"), "{}", text(&again.stderr));
    // No SECRET_PREFIX: an error naming it, never another stack's secrets by default.
    let d2 = dir.path().to_owned();
    let (table2, endpoint2) = (format!("xl-cli-{:08x}", fastrand::u32(..)), xor_lever_sandbox::moto::endpoint());
    let no_prefix = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_xor-lever"))
            .arg("--state-dir")
            .arg(&d2)
            .args(["--store", "dynamodb", "connections", "list"])
            .env("TABLE_NAME", table2)
            .env_remove("SECRET_PREFIX")
            .env("AWS_ENDPOINT_URL", endpoint2)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!no_prefix.status.success());
    assert!(text(&no_prefix.stderr).contains("SECRET_PREFIX is not set"), "{}", text(&no_prefix.stderr));
    // The feed moved: one command, nothing recreated (the next sync below reads the new URL).
    let moved = FeedServer::spawn(xor_lever_sandbox::feeds::feed(0..3, "")).await;
    let set =
        run(vec!["connections".into(), "set-feed-url".into(), "acme".into(), "--feed-url".into(), moved.url.clone()])
            .await
            .unwrap();
    assert!(set.status.success(), "{}", text(&set.stderr));
    let feed = moved;
    let sync = run(vec!["sync".into(), "--json".into()]).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(text(&sync.stdout).trim()).unwrap();
    assert_eq!(v["created"], 3, "{v}: the moved feed's postings");
    // The standing override lets an empty feed close everything without --force.
    feed.set_feed("<source></source>");
    let sync = run(vec!["sync".into(), "--json".into()]).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(text(&sync.stdout).trim()).unwrap();
    assert_eq!(v["closed"], 3, "{v}");
    assert!(!dir.path().join("state.db").exists(), "nothing went to the embedded store");
}

#[test]
fn operator_commands_show_and_change_a_connection_without_revealing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let add = xl(
        d,
        &[
            "connections",
            "add",
            "acme",
            "--feed-url",
            "http://127.0.0.1:9/feed.xml",
            "--xor-api-key",
            "xor_live_SECRET_1",
            "--public-url",
            "https://api.example.com",
        ],
    );
    let out = text(&add.stdout);
    assert!(add.status.success(), "{}", text(&add.stderr));
    assert!(out.contains("XOR webhook URL: https://api.example.com/webhooks/xor/acme"), "{out}");
    // No connect link while the Lever app is not set: the command that fixes it instead.
    assert!(!out.contains("invitation="), "{out}");
    assert!(out.contains("Lever app is not set up yet") && out.contains("lever-app set"), "{out}");
    let app = xl(d, &["lever-app", "set", "--client-id", "cid-1", "--client-secret", "cs-1"]);
    assert!(app.status.success(), "{}", text(&app.stderr));
    let secret =
        out.lines().find_map(|l| l.split("shown once): ").nth(1)).expect("a generated whsec_ secret").trim().to_owned();
    assert!(secret.starts_with("whsec_"));

    // Each connect link carries a fresh invitation, shown once and stored only as its hash.
    let link = |days: &str| {
        let out = xl(
            d,
            &["connections", "connect-url", "acme", "--public-url", "https://api.example.com/", "--valid-days", days],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let s = text(&out.stdout);
        assert!(s.contains("single use") && s.contains("valid until"), "{s}");
        s.lines().last().unwrap().trim().to_owned()
    };
    let (one, two) = (link("7"), link("1"));
    assert!(one.starts_with("https://api.example.com/connections/acme?invitation="), "{one}");
    assert_ne!(one, two, "a new invitation each time");
    let token = one.split("invitation=").nth(1).unwrap();
    assert!(token.len() >= 43, "at least 128 bits: {token}");
    let mut stored = Vec::new();
    for f in ["state.db", "state.db-wal"] {
        stored.extend(std::fs::read(d.join(f)).unwrap_or_default());
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(!stored.contains(token), "the token itself is never stored");
    assert!(stored.contains(&xor_lever_shared::domain::invitation::hash_token(token)), "its hash is");
    assert!(
        !xl(d, &["connections", "connect-url", "acme", "--public-url", "https://a.example", "--valid-days", "0"])
            .status
            .success()
    );

    let show = xl(d, &["connections", "show", "acme", "--json"]);
    let v: serde_json::Value = serde_json::from_str(text(&show.stdout).trim()).unwrap();
    assert_eq!((v["status"].as_str(), v["lever_authorized"].as_bool()), (Some("pending"), Some(false)), "{v}");
    assert!(
        !text(&show.stdout).contains("xor_live_SECRET_1") && !text(&show.stdout).contains(&secret),
        "no secret in show"
    );

    // An `add` over an existing id is refused before anything is written: the live secrets stay.
    let again = xl(
        d,
        &["connections", "add", "acme", "--feed-url", "http://127.0.0.1:9/other.xml", "--xor-api-key", "xor_live_NEW"],
    );
    assert!(!again.status.success());
    let err = text(&again.stderr);
    assert!(err.contains("already exists: nothing was changed") && err.contains("set-xor-key acme"), "{err}");
    let stored = |kind: &'static str| {
        let d = d.to_owned();
        async move {
            let s = xor_lever_shared::adapters::sqlite::SqliteStore::open_dir(&d).unwrap();
            xor_lever_shared::domain::SecretStore::secret(&s, &"acme".parse().unwrap(), kind).await.unwrap().unwrap()
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    assert_eq!(
        rt.block_on(stored("webhook-secret")).expose(),
        secret,
        "the webhook secret XOR signs with is unchanged"
    );
    assert_eq!(rt.block_on(stored("xor-api-key")).expose(), "xor_live_SECRET_1");
    // The XOR key is replaced by its own command.
    let set = xl(d, &["connections", "set-xor-key", "acme", "--xor-api-key", "xor_live_SECRET_2"]);
    assert!(set.status.success(), "{}", text(&set.stderr));
    assert_eq!(rt.block_on(stored("xor-api-key")).expose(), "xor_live_SECRET_2");
    assert!(!text(&set.stdout).contains("xor_live_SECRET_2"), "never printed");

    // A moved feed is one command: the connection keeps its id, secrets and authorization.
    let set = xl(d, &["connections", "set-feed-url", "acme", "--feed-url", "http://127.0.0.1:9/moved.xml"]);
    assert!(set.status.success(), "{}", text(&set.stderr));
    let v: serde_json::Value =
        serde_json::from_str(text(&xl(d, &["connections", "list", "--json"]).stdout).lines().next().unwrap()).unwrap();
    assert_eq!(v["feed_url"], "http://127.0.0.1:9/moved.xml", "{v}");
    assert_eq!(rt.block_on(stored("webhook-secret")).expose(), secret, "the webhook secret is untouched");
    let bad = xl(d, &["connections", "set-feed-url", "acme", "--feed-url", "file:///etc/passwd"]);
    assert!(!bad.status.success(), "an http(s) URL only");

    // The postings API follows the region: an EU account's feed on the global host is refused,
    // with the URL to use.
    let wrong = xl(
        d,
        &[
            "connections",
            "add",
            "eu-acme",
            "--feed-url",
            "https://api.lever.co/v0/postings/acme?mode=json",
            "--xor-api-key",
            "xor_live_SECRET_2",
            "--lever-env",
            "eu",
        ],
    );
    assert!(!wrong.status.success());
    assert!(
        text(&wrong.stderr).contains("use https://api.eu.lever.co/v0/postings/acme?mode=json"),
        "{}",
        text(&wrong.stderr)
    );
    assert!(!text(&xl(d, &["connections", "list"]).stdout).contains("eu-acme"), "nothing written");

    // An EU account set up as global: moved to its region (a rebinding: new connect link).
    let reset = xl(d, &["connections", "reset-lever", "acme", "--lever-env", "eu"]);
    assert!(reset.status.success(), "{}", text(&reset.stderr));
    let v: serde_json::Value =
        serde_json::from_str(text(&xl(d, &["connections", "show", "acme", "--json"]).stdout).trim()).unwrap();
    assert_eq!((v["lever_env"].as_str(), v["lever_region"].as_str()), (Some("eu"), Some("Lever EU")), "{v}");

    assert!(xl(d, &["connections", "disable", "acme"]).status.success());
    let st = xl(d, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(text(&st.stdout).lines().next().unwrap()).unwrap();
    assert_eq!((v["status"].as_str(), v["jobs_in_xor"].as_u64()), (Some("disabled"), Some(0)), "{v}");
    assert!(v.get("access_token").is_none() && !text(&st.stdout).contains("xor_live_SECRET_1"), "never a token");
    // The table, as an operator reads it (no colour when stdout is not a terminal).
    let table = text(&xl(d, &["status"]).stdout);
    let header = table.lines().next().unwrap();
    for col in
        ["CONNECTION", "STATUS", "LAST RUN", "FINISHED", "JOBS IN XOR", "WAITING", "FAILED", "AUTHORIZATION ENDS"]
    {
        assert!(header.contains(col), "{col} in {header}");
    }
    let acme = table.lines().find(|l| l.trim_start().starts_with("acme")).unwrap();
    assert!(acme.contains("disabled") && acme.contains("never") && !acme.contains('\u{1b}'), "{acme}");
    let en = xl(d, &["connections", "enable", "acme"]);
    assert!(text(&en.stdout).contains("acme is pending"), "no Lever authorization yet: {}", text(&en.stdout));

    let rot = xl(d, &["connections", "rotate-webhook-secret", "acme", "--grace-hours", "2"]);
    let new = text(&rot.stdout).lines().find_map(|l| l.split("shown once): ").nth(1)).unwrap().trim().to_owned();
    assert!(new.starts_with("whsec_") && new != secret);
    assert!(text(&rot.stdout).contains("keeps working for 2 h"));

    // Closed sets are checked by clap, which lists what it takes.
    let bad = xl(d, &["webhooks", "list", "--status", "stuck"]);
    assert!(!bad.status.success() && text(&bad.stderr).contains("pending_reauth"), "{}", text(&bad.stderr));
    assert!(xl(d, &["webhooks", "list", "--status", "pending_reauth"]).status.success());

    // Rebinding to another Lever account is an explicit, logged operator act.
    let reset = xl(d, &["connections", "reset-lever", "acme"]);
    assert!(reset.status.success(), "{}", text(&reset.stderr));
    assert!(text(&reset.stderr).contains("Lever binding reset"), "{}", text(&reset.stderr));
    assert!(text(&reset.stdout).contains("connect-url acme"), "{}", text(&reset.stdout));
}

/// One deployment, one Lever app, one Lever environment: Lever's sandbox and production issue
/// separate app credentials (an EU account authorizes the production app). A connection of the
/// other environment is refused at `add`, and a connect link is never minted for one made before
/// the app was set.
#[test]
fn a_connection_in_another_lever_environment_than_the_app_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let add = |id: &str, env: &str| {
        xl(
            d,
            &[
                "connections",
                "add",
                id,
                "--feed-url",
                "http://127.0.0.1:9/feed.xml",
                "--xor-api-key",
                "xor_live_K",
                "--lever-env",
                env,
                "--public-url",
                "https://api.example.com",
            ],
        )
    };
    // Before the app is set nothing tells the environment: allowed, checked at the link.
    assert!(add("early", "sandbox").status.success());
    let app = xl(d, &["lever-app", "set", "--client-id", "cid-1", "--client-secret", "cs-1"]);
    assert!(app.status.success(), "{}", text(&app.stderr));
    assert!(text(&app.stdout).contains("Lever production"), "{}", text(&app.stdout));
    let eu_app = xl(d, &["lever-app", "set", "--client-id", "c", "--client-secret", "s", "--lever-env", "eu"]);
    assert!(!eu_app.status.success() && text(&eu_app.stderr).contains("production app"), "{}", text(&eu_app.stderr));

    let wrong = add("beta", "sandbox");
    assert!(!wrong.status.success());
    let err = text(&wrong.stderr);
    assert!(
        err.contains("Lever sandbox") && err.contains("production") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(!text(&xl(d, &["connections", "list"]).stdout).contains("beta"), "nothing written");
    assert!(add("gamma", "eu").status.success(), "an EU account uses the production app");
    assert!(add("delta", "production").status.success());

    let link = xl(d, &["connections", "connect-url", "early", "--public-url", "https://api.example.com"]);
    assert!(!link.status.success());
    assert!(text(&link.stderr).contains("Lever sandbox"), "{}", text(&link.stderr));
    assert!(
        xl(d, &["connections", "connect-url", "gamma", "--public-url", "https://api.example.com"]).status.success()
    );
}

/// A screening of `cand` (email `ada.<cand>@example.com`) completed into an opportunity, kept
/// with its raw body, in `store`; and the opportunity's link.
async fn screened_in<S>(store: &S, id: &xor_lever_shared::domain::ConnectionId, cand: &str)
where
    S: xor_lever_shared::domain::ConnectionStore
        + xor_lever_shared::domain::WebhookStore
        + xor_lever_shared::domain::CandidateStore,
{
    use xor_lever_shared::domain::*;
    if store.connection(id).await.unwrap().is_none() {
        store.create_connection(&Connection::new(id.clone(), "http://f".into(), "http://x".into(), 0)).await.unwrap();
    }
    let body = serde_json::json!({"type": "candidate.screening_passed", "data": {"candidate_id": cand, "job_id": "xj_1",
        "candidate": {"first_name": "Ada", "email": format!("Ada.{cand}@Example.com"), "phone": "+44 20 7946 0000"},
        "screening": {"passed": true, "score": 90}}});
    let mut d = Delivery {
        connection: id.clone(),
        webhook_id: format!("msg_{cand}"),
        received_at_ms: 1_000,
        status: DeliveryStatus::Received,
        event_type: Some("candidate.screening_passed".into()),
        natural_key: Some(format!("{cand}#xj_1")),
        body: serde_json::to_vec(&body).unwrap(),
        opportunity_id: Some(format!("opp_{cand}")),
        opportunity_url: None,
        reason: None,
        attempts: 1,
        updated_at_ms: 1_000,
        expires_at: None,
    };
    d.set_status(DeliveryStatus::Completed, 2_000, 90);
    store.insert_delivery(&d).await.unwrap();
    let link = CandidateLink {
        connection: id.clone(),
        opportunity_id: format!("opp_{cand}"),
        candidate_id: cand.into(),
        job_id: "xj_1".into(),
        webhook_id: d.webhook_id.clone(),
        created_at_ms: 2_000,
        outcome: None,
        outcome_at_ms: None,
        erased_at_ms: None,
    };
    store.put_link(&link).await.unwrap();
}

/// `candidates erase` by email (any case) and by XOR candidate id, on the embedded store and on
/// DynamoDB: the person's screening bodies go, the other candidate's stay, a tombstone is left.
#[tokio::test(flavor = "multi_thread")]
async fn candidates_erase_removes_one_person_in_both_stores() {
    use xor_lever_shared::domain::*;
    let id = ConnectionId::parse("acme").unwrap();
    // Embedded.
    let dir = tempfile::tempdir().unwrap();
    {
        let s = xor_lever_shared::adapters::sqlite::SqliteStore::open_dir(dir.path()).unwrap();
        screened_in(&s, &id, "cand_1").await;
        screened_in(&s, &id, "cand_2").await;
    }
    let out = xl(dir.path(), &["candidates", "erase", "--email", "ada.CAND_1@example.com"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("acme: erased candidate(s) cand_1: 1 screening body removed; Lever opportunities opp_cand_1"),
        "{said}"
    );
    let s = xor_lever_shared::adapters::sqlite::SqliteStore::open_dir(dir.path()).unwrap();
    assert!(s.delivery(&id, "msg_cand_1").await.unwrap().unwrap().body.is_empty());
    assert!(!s.delivery(&id, "msg_cand_2").await.unwrap().unwrap().body.is_empty(), "only that person");
    assert!(s.tombstone(&id, &tombstone_key(&id, "cand_1")).await.unwrap().is_some());
    assert!(s.link(&id, "opp_cand_1").await.unwrap().unwrap().erased_at_ms.is_some());
    let none = xl(dir.path(), &["candidates", "erase", "--email", "nobody@example.com"]);
    assert!(text(&none.stdout).contains("nobody found"), "{}", text(&none.stdout));

    // DynamoDB on moto, by XOR's candidate id.
    let t = xor_lever_sandbox::moto::dynamo_store().await;
    screened_in(&t, &id, "cand_3").await;
    let out = Command::new(env!("CARGO_BIN_EXE_xor-lever"))
        .args(["--store", "dynamodb", "candidates", "erase", "--candidate", "cand_3", "--connection", "acme", "--json"])
        .env("TABLE_NAME", t.table())
        .env("SECRET_PREFIX", "xl-cli-erase/")
        .env("AWS_ENDPOINT_URL", xor_lever_sandbox::moto::endpoint())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["bodies"], 1, "{report}");
    assert!(t.delivery(&id, "msg_cand_3").await.unwrap().unwrap().body.is_empty());
}

/// The job filter from the CLI (issue 26): set rules, switch a posting, see the effect with
/// `sync --dry-run` (each close with its reason), apply it, show the history, clear it.
#[tokio::test(flavor = "multi_thread")]
async fn the_job_filter_is_set_previewed_applied_and_cleared_from_the_cli() {
    let xor = XorSandbox::spawn().await;
    let sample = std::fs::read(SAMPLE).unwrap();
    let feed = FeedServer::spawn(sample).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let run = move |args: &[&str]| {
        let (d, args): (_, Vec<String>) = (d.clone(), args.iter().map(|s| (*s).to_owned()).collect());
        tokio::task::spawn_blocking(move || xl(&d, &args.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    let add = run(&[
        "connections",
        "add",
        "acme",
        "--feed-url",
        &feed.url,
        "--xor-base-url",
        &xor.url,
        "--xor-api-key",
        "k",
        "--xor-max-rps",
        "100",
        "--lever-refresh-token",
        "lrt_test",
    ])
    .await
    .unwrap();
    assert!(add.status.success(), "{}", text(&add.stderr));
    assert!(run(&["sync"]).await.unwrap().status.success());
    assert_eq!(xor.jobs().len(), 4);

    let set = run(&["connections", "filter", "set", "acme", "--exclude-team", "finance", "--by", "ops@xor.example"])
        .await
        .unwrap();
    assert!(set.status.success(), "{}", text(&set.stderr));
    assert!(text(&set.stdout).contains("job filter v1 — exclude team: finance"), "{}", text(&set.stdout));
    let dry = run(&["sync", "--connection", "acme", "--dry-run"]).await.unwrap();
    let said = text(&dry.stdout);
    assert!(said.contains("close 1") && said.contains("1 held back by the job filter"), "{said}");
    assert!(said.contains("(filtered: team \"finance\" excluded)"), "{said}");
    assert_eq!(xor.jobs().iter().filter(|j| j["status"] == "active").count(), 4, "a dry run changes nothing");

    let sync = run(&["sync", "--json"]).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(text(&sync.stdout).trim()).unwrap();
    assert_eq!((v["closed"].as_u64(), v["filtered"].as_u64()), (Some(1), Some(1)), "{v}");
    let show = run(&["connections", "show", "acme", "--json"]).await.unwrap();
    let shown: serde_json::Value = serde_json::from_str(text(&show.stdout).trim()).unwrap();
    assert_eq!(shown["jobs_held_back"], 1, "{shown}");

    let posting =
        xor.jobs().into_iter().find(|j| j["status"] == "closed").unwrap()["external_id"].as_str().unwrap().to_owned();
    let sw = run(&["jobs", "switch", "acme", &posting, "on", "--by", "grace@acme.example"]).await.unwrap();
    assert!(sw.status.success(), "{}", text(&sw.stderr));
    let filter = run(&["connections", "filter", "show", "acme"]).await.unwrap();
    let shown = text(&filter.stdout);
    assert!(shown.contains(&format!("switch: {posting} on (by grace@acme.example)")), "{shown}");
    assert!(shown.contains("v1 by ops@xor.example: rules set: exclude team: finance"), "who changed what: {shown}");
    run(&["sync"]).await.unwrap();
    assert_eq!(xor.jobs().iter().filter(|j| j["status"] == "active").count(), 4, "the switch beats the rule");

    let clear = run(&["connections", "filter", "clear", "acme"]).await.unwrap();
    assert!(text(&clear.stdout).contains("v3 cleared"), "{}", text(&clear.stdout));
}
