//! `xor-lever dev`: the whole story on one machine, no AWS account. Starts the XOR and Lever
//! sandboxes, serves the bundled sample feed on loopback, registers a connection in a fresh
//! embedded store, connects it to Lever through the OAuth flow (authorize → callback), syncs the
//! jobs into XOR (and shows a second sync changes nothing), then sends
//! a signed "screening passed" webhook to the local webhook server and shows the opportunity that
//! appeared in Lever with its source, posting and attached files.
use std::process::ExitCode;

use xor_lever::adapters::lever::AppCredentials;
use xor_lever::adapters::xor::{XorClient, XorSettings};
use xor_lever::domain::connection::XOR_ASSUMED_MAX_RPS;
use xor_lever::domain::ports::LEVER_APP;
use xor_lever::domain::webhook::WebhookSecret;
use xor_lever::domain::{ConnectionId, JobBoard, SecretString};
use xor_lever::usecases::{SyncOptions, now_ms};
use xor_lever_sandbox::xor::Config;
use xor_lever_sandbox::{FeedServer, LeverSandbox, XorSandbox};

use super::cell;
use super::connections::{AddArgs, EnvArg, add};
use super::sync::{print_reports, run_sync};
use crate::store::{Ctx, Result, embedded_deps, embedded_lever_context};

const SAMPLE_FEED: &[u8] = include_bytes!("../../../fixtures/lever-feed-sample.xml");
/// A stand-in for the resume a candidate gave XOR (XOR hands over an expiring link to it).
const SAMPLE_RESUME: &[u8] = b"%PDF-1.4\n% Ada Lovelace - resume (sample)\n%%EOF\n";

#[derive(clap::Args)]
pub struct DevArgs {
    /// Keep the sandboxes and the webhook server running afterwards (Ctrl-C stops them).
    #[arg(long)]
    pub keep_running: bool,
}

pub async fn run(ctx: &Ctx, args: DevArgs) -> Result<ExitCode> {
    let dir = ctx.state_dir.join("dev");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let xor =
        XorSandbox::spawn_on("127.0.0.1:0", Config { rate_limit_rps: XOR_ASSUMED_MAX_RPS, latency_ms: 0 }).await?;
    let lever = LeverSandbox::spawn_on("127.0.0.1:0").await?;
    let feed = FeedServer::spawn_on("127.0.0.1:0", SAMPLE_FEED.to_vec()).await?;
    // Lever publishes the postings the feed lists.
    let (postings, _) = xor_lever::feed::parse_slice(SAMPLE_FEED)?;
    for p in &postings {
        lever.add_posting(p.external_id.as_str(), &p.title, "published");
    }
    println!("1. sandboxes: XOR {}, Lever {}; the sample Lever feed at {}", xor.url, lever.url, feed.url);

    let http = xor_lever::config::http_client();
    let deps = embedded_deps(&dir, http.clone())?;
    let webhooks = embedded_lever_context(&dir, http.clone())?;
    let id = ConnectionId::parse("demo")?;
    let app = AppCredentials {
        client_id: xor_lever_sandbox::lever::CLIENT_ID.into(),
        client_secret: xor_lever_sandbox::lever::CLIENT_SECRET.into(),
    };
    deps.secrets.put_app_secret(LEVER_APP, &SecretString::new(serde_json::to_string(&app)?)).await?;
    let secret = add(
        &deps,
        &webhooks.tokens,
        AddArgs {
            id: id.clone(),
            feed_url: feed.url.clone(),
            xor_base_url: xor.url.clone(),
            xor_api_key: SecretString::new("xor_test_demo"),
            xor_max_rps: XOR_ASSUMED_MAX_RPS,
            max_close_share: 0.5,
            allow_mass_close: false,
            webhook_secret: None,
            lever_env: EnvArg::Sandbox,
            lever_base_url: Some(lever.api_base()),
            lever_auth_url: Some(lever.url.clone()),
            lever_refresh_token: None,
            perform_as: None,
            origin: "sourced".into(),
            stage: None,
            admin_owns_candidates: false,
            public_url: None,
            valid_days: xor_lever::domain::invitation::DEFAULT_INVITATION_DAYS,
        },
    )
    .await?;
    let status = |deps: &xor_lever::usecases::SyncDeps| {
        let (deps, id) = (deps.clone(), id.clone());
        async move { deps.connections.connection(&id).await.ok().flatten().map(|c| c.status.as_str()).unwrap_or("?") }
    };
    println!(
        "2. connection `demo` registered in a fresh embedded store ({}): {}",
        dir.join("state.db").display(),
        status(&deps).await
    );

    // The webhook and OAuth routes (the Lambda's router) on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = format!("http://{}", listener.local_addr()?);
    let mut routes = webhooks.clone();
    routes.public_url = Some(server.clone());
    let router = xor_lever::http::router(routes);
    let serve = tokio::spawn(async move { axum::serve(listener, router).await });
    let (token, _) = xor_lever::usecases::connect::invite(&webhooks, &id, 7).await?;
    let connect_url = xor_lever::usecases::connect::connect_link(&server, &id, &token);
    println!("   connect: the operator sends a Lever Super Admin the connect link (single use, 7 days):");
    println!("   {connect_url}");
    let page = follow_connect_flow(&connect_url).await?;
    let heading = page.split("<h1>").nth(1).and_then(|h| h.split("</h1>").next()).unwrap_or("?").to_owned();
    let message = page.split("<p>").nth(1).and_then(|h| h.split("</p>").next()).unwrap_or("").to_owned();
    println!("   → Lever's consent (the sandbox approves) → the callback page: \"{heading}\": {message}");
    let lever_side = deps.connections.connection(&id).await?.map(|c| c.lever).unwrap_or_default();
    println!(
        "   connection `demo` is now {}, bound to Lever account {} (authorized by {}); the link is spent",
        status(&deps).await,
        lever_side.account_id.as_deref().unwrap_or("?"),
        lever_side.authorized_by.as_deref().unwrap_or("?")
    );

    println!("3. first sync:");
    let opts = SyncOptions::default();
    print_reports(&run_sync(&deps, &opts, Some(&id)).await?, false, false);
    let client = XorClient::new(http.clone(), XorSettings::new(&xor.url, SecretString::new("xor_test_demo")));
    let jobs = client.list_all().await?;
    println!("4. XOR now has {} jobs:", jobs.len());
    println!("   {}  {}  {}  {}", cell("XOR ID", 10), cell("STATUS", 7), cell("TITLE", 38), "CHATBOT");
    for j in &jobs {
        println!(
            "   {}  {}  {}  {}",
            cell(&j.id, 10),
            cell(&j.status, 7),
            cell(j.title.as_deref().unwrap_or("-"), 38),
            j.chatbot_url.as_deref().unwrap_or("-")
        );
    }
    let writes_before = xor.stats().writes;
    println!("5. second sync (the feed answers 304 Not Modified):");
    print_reports(&run_sync(&deps, &opts, Some(&id)).await?, false, false);
    println!("6. a full re-read (--force: no conditional GET):");
    print_reports(
        &run_sync(&deps, &SyncOptions { force: true, ..SyncOptions::default() }, Some(&id)).await?,
        false,
        false,
    );
    let extra_writes = xor.stats().writes - writes_before;
    println!("   XOR writes since the first sync: {extra_writes}");
    if extra_writes != 0 || jobs.len() != 4 {
        return Err(format!(
            "expected 4 jobs and no further writes, saw {} jobs and {extra_writes} writes",
            jobs.len()
        )
        .into());
    }

    // The candidate half: XOR calls our webhook; an opportunity appears in Lever. XOR's resume
    // link points at a file server of its own (here: one on loopback).
    let resumes = xor_lever_sandbox::serve(
        "127.0.0.1:0",
        axum::Router::new().route(
            "/resumes/ada-lovelace.pdf",
            axum::routing::get(|| async { ([("content-type", "application/pdf")], SAMPLE_RESUME.to_vec()) }),
        ),
    )
    .await?;
    let resume_url = format!("{}/resumes/ada-lovelace.pdf", resumes.url);
    let job = &jobs[0];
    let body = serde_json::to_vec(&serde_json::json!({
        "type": "candidate.screening_passed",
        "timestamp": "2026-11-26T12:00:00Z",
        "data": {
            "candidate_id": "cand_demo_1", "job_id": job.id, "external_job_id": job.external_id,
            "candidate": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000",
                          "location": "London, UK", "linkedin_url": "https://linkedin.com/in/ada", "resume_url": resume_url},
            "screening": {"passed": true, "score": 87, "completed_at": "2026-11-26T11:58:12Z",
                          "summary": "Five years of Rust; available from January.",
                          "answers": [{"question": "Are you authorised to work in the UK?", "answer": "Yes"},
                                      {"question": "Which async runtime have you used in production?", "answer": "Tokio"}],
                          "transcript_url": "https://app.xor.ai/c/cand_demo_1"},
            "chatbot_url": job.chatbot_url
        }
    }))?;
    let send = |webhook_id: &'static str| {
        let (body, secret, server, http) = (body.clone(), secret.clone(), server.clone(), http.clone());
        async move {
            let ts = now_ms() / 1000;
            let sig = WebhookSecret::parse(&secret).expect("generated").sign(webhook_id, ts, &body);
            let resp = http
                .post(format!("{server}/webhooks/xor/demo"))
                .header("webhook-id", webhook_id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sig)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            let status = resp.status().as_u16();
            Ok::<_, reqwest::Error>((status, resp.text().await?))
        }
    };
    println!(
        "7. XOR sends a signed \"screening passed\" webhook for {} to {server}/webhooks/xor/demo:",
        job.title.as_deref().unwrap_or("-")
    );
    let (status, answer) = send("msg_demo_1").await?;
    println!("   HTTP {status} {answer}");
    let opps = lever.opportunities();
    let Some(o) = opps.first() else {
        return Err("no opportunity appeared in the Lever sandbox".into());
    };
    println!("8. the opportunity in Lever:");
    println!(
        "   id {}  name {}  sources {:?}  origin {}  tags {:?}",
        o.id,
        o.name,
        o.sources,
        o.origin.as_deref().unwrap_or("-"),
        o.tags
    );
    println!("   posting {:?} (the job's Lever posting)  stage {}", o.postings, o.stage);
    println!(
        "   owner {} (the posting's owner; created as the Super Admin {})  followers {:?}",
        o.owner,
        deps.connections.connection(&id).await?.and_then(|c| c.lever.perform_as).unwrap_or_default(),
        o.followers
    );
    for f in &o.files {
        println!("   file {} ({}, {} bytes)", f.name, f.content_type, f.size);
    }
    for f in &o.resumes {
        println!("   resume {} ({}, {} bytes)", f.name, f.content_type, f.size);
    }
    for n in &o.notes {
        println!("   note by {}:", n.user);
        for line in n.value.lines() {
            println!("     | {line}");
        }
    }
    if let Some(report) = o.files.first() {
        let path = dir.join("screening-report.pdf");
        std::fs::write(&path, &report.bytes)?;
        println!("   the report is saved at {} (open it to see what a recruiter sees)", path.display());
    }
    println!(
        "   Lever token refreshes so far: {} (the stored refresh token was exchanged on first use)",
        lever.stats().refreshes
    );
    let (status, answer) = send("msg_demo_1").await?;
    println!("9. XOR retries the same delivery: HTTP {status} {answer}");
    println!("   opportunities in Lever: {} (exactly once)", lever.opportunities().len());
    if lever.opportunities().len() != 1 || status != 200 {
        return Err("expected exactly one opportunity".into());
    }
    println!("done: jobs flow Lever → XOR, candidates flow XOR → Lever. State is in {}.", dir.display());
    if args.keep_running {
        println!("sandboxes and the webhook server keep running; Ctrl-C stops them");
        tokio::signal::ctrl_c().await?;
    }
    serve.abort();
    Ok(ExitCode::SUCCESS)
}

/// What the admin's browser does: open the connect link (keeping the cookie it sets), go through
/// Lever's authorize page (the sandbox approves), come back to the callback with the cookie.
async fn follow_connect_flow(connect_url: &str) -> Result<String> {
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let start = browser.get(connect_url).send().await?;
    let location = |r: &reqwest::Response| -> Result<String> {
        Ok(r.headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("expected a redirect, got HTTP {}", r.status()))?
            .to_owned())
    };
    let cookie = start
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_owned();
    let authorize = location(&start)?;
    let callback = location(&browser.get(&authorize).send().await?)?;
    Ok(browser.get(&callback).header(reqwest::header::COOKIE, cookie).send().await?.text().await?)
}
