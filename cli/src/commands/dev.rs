//! `xor-lever dev`: the whole story on one machine, no AWS account. Starts the XOR and Lever
//! sandboxes, serves the bundled sample feed on loopback, registers a connection in a fresh
//! embedded store, connects it to Lever through the OAuth flow (authorize → callback), syncs the
//! jobs into XOR (and shows a second sync changes nothing), then sends
//! a signed "screening passed" webhook to the local webhook server and shows the opportunity that
//! appeared in Lever with its source, posting and attached files.
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use xor_lever_sandbox::visitor::{Page, Visitor};
use xor_lever_sandbox::xor::Config;
use xor_lever_sandbox::{FeedServer, LeverSandbox, Served, XorSandbox};
use xor_lever_shared::adapters::lever::AppCredentials;
use xor_lever_shared::adapters::xor::{XorClient, XorSettings};
use xor_lever_shared::domain::connection::XOR_ASSUMED_MAX_RPS;
use xor_lever_shared::domain::ports::LEVER_APP;
use xor_lever_shared::domain::webhook::WebhookSecret;
use xor_lever_shared::domain::{ConnectionId, DeliveryStatus, JobBoard, SecretString, XorJob};
use xor_lever_shared::usecases::context::LeverContext;
use xor_lever_shared::usecases::section::access;
use xor_lever_shared::usecases::webhook::list_deliveries;
use xor_lever_shared::usecases::{SyncDeps, SyncOptions, now_ms};

use super::cell;
use super::connections::{AddArgs, EnvArg, add};
use super::sync::{print_reports, run_sync};
use crate::store::{Ctx, Result, embedded_wiring};

const SAMPLE_FEED: &[u8] = include_bytes!("../../../fixtures/lever-feed-sample.xml");
/// A stand-in for the resume a candidate gave XOR (XOR hands over an expiring link to it).
const SAMPLE_RESUME: &[u8] = b"%PDF-1.4\n% Ada Lovelace - resume (sample)\n%%EOF\n";

#[derive(clap::Args)]
pub struct DevArgs {
    /// Keep the sandboxes and the webhook server running afterwards (Ctrl-C stops them).
    #[arg(long)]
    pub keep_running: bool,
}

/// What the steps share. The sandboxes and servers serve until dropped, so they live as long as
/// the story.
struct Demo {
    /// The fresh embedded store's directory (the screening report is saved there too).
    dir: PathBuf,
    xor: XorSandbox,
    lever: LeverSandbox,
    /// The sample Lever feed, served for the syncs.
    _feed: FeedServer,
    /// XOR's resume file server.
    resumes: Served,
    http: reqwest::Client,
    deps: SyncDeps,
    /// The webhook use case's wiring on the same store.
    webhooks: LeverContext,
    /// The connection `demo`.
    id: ConnectionId,
    /// Its webhook secret (XOR signs its deliveries with it).
    secret: String,
    /// Background syncs on (after the story's own): the section's changes apply at once.
    armed: Arc<AtomicBool>,
}

pub async fn run(ctx: &Ctx, args: DevArgs) -> Result<ExitCode> {
    let demo = set_up(ctx).await?;
    let (server, serve) = serve_routes(&demo).await?;
    let browser = connect(&demo, &server, args.keep_running).await?;
    let jobs = sync_jobs(&demo).await?;
    demo.armed.store(true, Ordering::SeqCst);

    // The candidate half: XOR calls our webhook; an opportunity appears in Lever.
    let body = screening_passed(&demo, &server, &jobs[0]).await?;
    show_opportunity(&demo).await?;
    redeliver(&demo, &server, &body).await?;
    candidate_waits(&demo, &server, &body).await?;
    replay(&demo, &server, &browser, args.keep_running).await?;
    if !args.keep_running {
        // The third flow: what recruiters do in Lever reaches XOR; a deletion erases.
        outcomes(&demo).await?;
        erasure(&demo, &server, &body).await?;
        job_filter(&demo).await?;
        println!(
            "done: jobs flow Lever → XOR, candidates XOR → Lever, outcomes Lever → XOR. State is in {}.",
            demo.dir.display()
        );
    }
    serve.abort();
    Ok(ExitCode::SUCCESS)
}

/// Steps 1 and 2: the sandboxes, a fresh embedded store wired to them, and the connection `demo`
/// registered in it.
async fn set_up(ctx: &Ctx) -> Result<Demo> {
    let dir = ctx.state_dir.join("dev");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let (xor, lever, feed) = start_sandboxes().await?;

    let http = xor_lever_shared::config::http_client();
    let wiring = embedded_wiring(&dir, http.clone())?;
    let deps = wiring.sync;
    // XOR's resume links point at a file server of its own (here: one on loopback), the one host
    // the resume download may reach (XOR_LEVER_RESUME_HOSTS, as a deployment lists XOR's).
    let resumes = serve_resumes().await?;
    let mut webhooks = wiring.lever;
    let resume_host = resumes.url.trim_start_matches("http://");
    webhooks.files =
        xor_lever_shared::config::resume_fetcher(xor_lever_shared::config::ResumeHosts::parse(resume_host)?);
    // The section's changes (a job filter applied) start a sync in the background, as `serve`
    // does; armed once the story's own syncs are done, so the connect's trigger does not race them.
    let armed = Arc::new(AtomicBool::new(false));
    webhooks.sync_trigger = Some(super::serve::background_sync(deps.clone(), armed.clone()));
    let id = ConnectionId::parse("demo")?;
    let app = AppCredentials {
        client_id: xor_lever_sandbox::lever::CLIENT_ID.into(),
        client_secret: xor_lever_sandbox::lever::CLIENT_SECRET.into(),
        env: xor_lever_shared::domain::LeverEnv::Sandbox,
    };
    deps.secrets.put_app_secret(LEVER_APP, &SecretString::new(serde_json::to_string(&app)?)).await?;
    xor_lever_shared::usecases::signed::init_keys(deps.secrets.as_ref(), now_ms()).await?;
    let secret = add(&deps, &webhooks.tokens, demo_connection(&id, &xor, &lever, &feed)).await?;
    println!(
        "2. connection `demo` registered in a fresh embedded store ({}): {}",
        dir.join("state.db").display(),
        connection_status(&deps, &id).await
    );
    Ok(Demo { dir, xor, lever, _feed: feed, resumes, http, deps, webhooks, id, secret, armed })
}

/// Step 1: XOR's and Lever's sandboxes, and the sample Lever feed on loopback.
async fn start_sandboxes() -> Result<(XorSandbox, LeverSandbox, FeedServer)> {
    let xor =
        XorSandbox::spawn_on("127.0.0.1:0", Config { rate_limit_rps: XOR_ASSUMED_MAX_RPS, latency_ms: 0 }).await?;
    let lever = LeverSandbox::spawn_on("127.0.0.1:0").await?;
    let feed = FeedServer::spawn_on("127.0.0.1:0", SAMPLE_FEED.to_vec()).await?;
    // Lever publishes the postings the feed lists.
    let (postings, _) = xor_lever_shared::feed::parse_slice(SAMPLE_FEED)?;
    for p in &postings {
        lever.add_posting(p.external_id.as_str(), &p.title, "published");
    }
    println!("1. sandboxes: XOR {}, Lever {}; the sample Lever feed at {}", xor.url, lever.url, feed.url);
    Ok((xor, lever, feed))
}

/// XOR's file server on loopback, serving the sample resume.
async fn serve_resumes() -> Result<Served> {
    Ok(xor_lever_sandbox::serve(
        "127.0.0.1:0",
        axum::Router::new().route(
            "/resumes/ada-lovelace.pdf",
            axum::routing::get(|| async { ([("content-type", "application/pdf")], SAMPLE_RESUME.to_vec()) }),
        ),
    )
    .await?)
}

/// The connection `demo` as `connections add` takes it: the sandboxes' URLs.
fn demo_connection(id: &ConnectionId, xor: &XorSandbox, lever: &LeverSandbox, feed: &FeedServer) -> AddArgs {
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
        valid_days: xor_lever_shared::domain::invitation::DEFAULT_INVITATION_DAYS,
    }
}

/// The connection's status as the store has it (`?` when it cannot be read).
async fn connection_status(deps: &SyncDeps, id: &ConnectionId) -> &'static str {
    deps.connections.connection(id).await.ok().flatten().map(|c| c.status.as_str()).unwrap_or("?")
}

/// The webhook and OAuth routes (the Lambda's router) on loopback: their URL, and the task
/// serving them.
async fn serve_routes(d: &Demo) -> Result<(String, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = format!("http://{}", listener.local_addr()?);
    let router = xor_lever_shared::http::router(d.webhooks.clone(), Some(server.clone()));
    let serve = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((server, serve))
}

/// Step 2, connect: the operator's invitation link to the integration's Lever section, walked by a
/// person (`--keep-running`) or by the demo's browser, which is returned (it replays in step 10).
async fn connect(d: &Demo, server: &str, keep_running: bool) -> Result<Visitor> {
    let (token, _) = xor_lever_shared::usecases::connect::invite(&d.webhooks, &d.id, 7).await?;
    let section_url = access::invitation_link(server, &d.id, &token);
    println!(
        "   connect: the operator sends a Lever Super Admin the link to the integration's Lever section (single use, 7 days):"
    );
    println!("   {section_url}");
    let browser = Visitor::new();
    if keep_running {
        // A person walks it: Lever's consent page shows Allow and Deny, as Lever's does.
        d.lever.set_config(xor_lever_sandbox::lever::Config { consent_page: true, ..Default::default() });
        println!(
            "   open it in a browser: the section says \"Not connected\"; click Connect, read the note, click its"
        );
        println!("   Connect, then Allow on Lever's page. Waiting for the connection…");
        while connection_status(&d.deps, &d.id).await != "connected" {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    } else {
        let page = connect_in_section(&browser, &section_url).await?;
        println!(
            "   → the section (\"Not connected\") → Connect → the note → its Connect → Lever's consent (the sandbox approves) → back on the section: \"{}\"",
            page.section_status()
        );
    }
    let lever_side = d.deps.connections.connection(&d.id).await?.map(|c| c.lever).unwrap_or_default();
    println!(
        "   connection `demo` is now {}, bound to Lever account {} (authorized by {}); the link is spent",
        connection_status(&d.deps, &d.id).await,
        lever_side.account_id.as_deref().unwrap_or("?"),
        lever_side.authorized_by.as_deref().unwrap_or("?")
    );
    Ok(browser)
}

/// Steps 3 to 6: the first sync and the jobs it made in XOR, then a second sync and a full re-read
/// that write nothing more. Returns XOR's jobs.
async fn sync_jobs(d: &Demo) -> Result<Vec<XorJob>> {
    println!("3. first sync (the schedule's dispatcher queues a turn per connection; a worker takes it):");
    let opts = SyncOptions::default();
    print_reports(&scheduled_tick(&d.deps, &d.webhooks).await?, false, false);
    let client = XorClient::new(d.http.clone(), XorSettings::new(&d.xor.url, SecretString::new("xor_test_demo")));
    let jobs = client.list_all().await?;
    print_jobs(&jobs);
    let writes_before = d.xor.stats().writes;
    println!("5. second sync (the feed answers 304 Not Modified):");
    print_reports(&scheduled_tick(&d.deps, &d.webhooks).await?, false, false);
    println!("6. a full re-read (--force: no conditional GET):");
    print_reports(&run_sync(&d.deps, &SyncOptions { force: true, ..opts }, Some(&d.id)).await?, false, false);
    let extra_writes = d.xor.stats().writes - writes_before;
    println!("   XOR writes since the first sync: {extra_writes}");
    if extra_writes != 0 || jobs.len() != 4 {
        return Err(format!(
            "expected 4 jobs and no further writes, saw {} jobs and {extra_writes} writes",
            jobs.len()
        )
        .into());
    }
    Ok(jobs)
}

/// Step 4: XOR's jobs, with their chatbot links.
fn print_jobs(jobs: &[XorJob]) {
    println!("4. XOR now has {} jobs:", jobs.len());
    println!("   {}  {}  {}  {}", cell("XOR ID", 10), cell("STATUS", 7), cell("TITLE", 38), "CHATBOT");
    for j in jobs {
        println!(
            "   {}  {}  {}  {}",
            cell(&j.id, 10),
            cell(&j.status, 7),
            cell(j.title.as_deref().unwrap_or("-"), 38),
            j.chatbot_url.as_deref().unwrap_or("-")
        );
    }
}

/// Step 7: XOR sends a signed "screening passed" webhook for `job`. Returns its body (XOR sends it
/// again in step 9, and a second candidate's is made from it in step 10).
async fn screening_passed(d: &Demo, server: &str, job: &XorJob) -> Result<Vec<u8>> {
    let resume_url = format!("{}/resumes/ada-lovelace.pdf", d.resumes.url);
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
    println!(
        "7. XOR sends a signed \"screening passed\" webhook for {} to {server}/webhooks/xor/demo:",
        job.title.as_deref().unwrap_or("-")
    );
    let (status, answer) = send_webhook(d, server, "msg_demo_1", &body).await?;
    println!("   HTTP {status} {answer}");
    Ok(body)
}

/// A delivery as XOR makes it: `body` signed with the connection's webhook secret, posted to the
/// webhook server. Returns the HTTP status and the answer's text.
async fn send_webhook(d: &Demo, server: &str, webhook_id: &str, body: &[u8]) -> reqwest::Result<(u16, String)> {
    let ts = now_ms() / 1000;
    let sig = WebhookSecret::parse(&d.secret).expect("generated").sign(webhook_id, ts, body);
    let resp = d
        .http
        .post(format!("{server}/webhooks/xor/demo"))
        .header("webhook-id", webhook_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await?))
}

/// Step 8: the opportunity that appeared in Lever: its source, posting, owner, files and notes (the
/// screening report is saved next to the store).
async fn show_opportunity(d: &Demo) -> Result<()> {
    let opps = d.lever.opportunities();
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
        d.deps.connections.connection(&d.id).await?.and_then(|c| c.lever.perform_as).unwrap_or_default(),
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
        let path = d.dir.join("screening-report.pdf");
        std::fs::write(&path, &report.bytes)?;
        println!("   the report is saved at {} (open it to see what a recruiter sees)", path.display());
    }
    println!(
        "   Lever token refreshes so far: {} (the stored refresh token was exchanged on first use)",
        d.lever.stats().refreshes
    );
    Ok(())
}

/// Step 9: XOR retries the same delivery: still exactly one opportunity in Lever.
async fn redeliver(d: &Demo, server: &str, body: &[u8]) -> Result<()> {
    let (status, answer) = send_webhook(d, server, "msg_demo_1", body).await?;
    println!("9. XOR retries the same delivery: HTTP {status} {answer}");
    println!("   opportunities in Lever: {} (exactly once)", d.lever.opportunities().len());
    if d.lever.opportunities().len() != 1 || status != 200 {
        return Err("expected exactly one opportunity".into());
    }
    Ok(())
}

/// Step 10: a candidate who waits: Lever is down for one call, the delivery is kept as pending, and
/// the section's Replay sends it on (`replay`).
async fn candidate_waits(d: &Demo, server: &str, body: &[u8]) -> Result<()> {
    d.lever.inject([xor_lever_sandbox::lever::Fault {
        status: Some(503),
        op: Some("create".into()),
        ..Default::default()
    }]);
    let grace = String::from_utf8(body.to_vec())?
        .replace("cand_demo_1", "cand_demo_2")
        .replace("\"Ada\"", "\"Grace\"")
        .replace("\"Lovelace\"", "\"Hopper\"")
        .replace("ada@example.com", "grace@example.com");
    let (st, answer) = send_webhook(d, server, "msg_demo_2", grace.as_bytes()).await?;
    println!("10. Lever answers 503 to the next create: a second candidate (G. H.) waits: HTTP {st} {answer}");
    Ok(())
}

/// The end of step 10: the section's Replay, by a person (`--keep-running`: everything keeps
/// serving until Ctrl-C) or by the demo's browser.
async fn replay(d: &Demo, server: &str, browser: &Visitor, keep_running: bool) -> Result<()> {
    let page_url = access::page_link(&d.webhooks, server, &d.id, 7).await?;
    if keep_running {
        println!("   the Lever section lists it under \"Waiting or failed\": Replay sends it on. The section:");
        println!("   {page_url}");
        println!("done: jobs flow Lever → XOR, candidates flow XOR → Lever. State is in {}.", d.dir.display());
        println!("sandboxes and the webhook server keep running; Ctrl-C stops them");
        tokio::signal::ctrl_c().await?;
    } else {
        let page = browser.follow(&page_url).await?;
        let page = browser.submit(&page, "/connections/demo/replay", &[("webhook_id", "msg_demo_2")]).await?;
        let sent = page.body.matches("Open in Lever").count();
        println!(
            "   the section's Replay sends it on: {sent} candidates in Lever, {} opportunities (once each)",
            d.lever.opportunities().len()
        );
        if d.lever.opportunities().len() != 2 || sent != 2 {
            return Err("expected the replayed candidate in Lever".into());
        }
        println!("   the section (connected, 4 jobs with their chatbot and webchat links): {page_url}");
    }
    Ok(())
}

/// Step 11: the Super Admin switches Lever's webhook group on; a recruiter moves the first
/// candidate to a stage and hires them; Lever's signed events reach the local route and are
/// recorded; the sweep confirms them with Lever and tells XOR.
async fn outcomes(d: &Demo) -> Result<()> {
    d.http
        .post(format!("{}/_sandbox/webhooks/enabled", d.lever.url))
        .json(&serde_json::json!({"enabled": true}))
        .send()
        .await?;
    let first = d.lever.opportunities().first().map(|o| o.id.clone()).ok_or("no opportunity")?;
    for how in [serde_json::json!({"to": "stage", "stage": "stage-phone"}), serde_json::json!({"to": "hire"})] {
        d.http
            .post(format!("{}/_sandbox/opportunities/{first}/move", d.lever.url))
            .json(&how)
            .send()
            .await?
            .error_for_status()?;
    }
    let recorded = list_deliveries(&d.webhooks, Some(&d.id), Some(DeliveryStatus::Pending), 50).await?;
    println!(
        "11. in Lever, A. L. moves to \"Phone screen\" and is hired: {} Lever events recorded (signed, recent, new)",
        recorded.len()
    );
    let swept = sweep(d).await?;
    println!("   the scheduled sweep confirms each with Lever and tells XOR: {} done", swept.completed);
    for e in d.xor.candidate_events() {
        let word = e["stage"].as_str().or(e["reason"].as_str()).map(|w| format!(" ({w})")).unwrap_or_default();
        println!(
            "   XOR received: {} {}{word}",
            e["candidate_id"].as_str().unwrap_or(""),
            e["event"].as_str().unwrap_or("")
        );
    }
    if d.xor.candidate_events().len() != 2 {
        return Err("expected a stage change and a hire at XOR".into());
    }
    Ok(())
}

/// Step 12: the second candidate is deleted in Lever: the product's copy is erased (Lever
/// confirms the deletion first), XOR is told, and XOR's late retry creates nothing.
async fn erasure(d: &Demo, server: &str, body: &[u8]) -> Result<()> {
    let second = d.lever.opportunities().get(1).map(|o| o.id.clone()).ok_or("no second opportunity")?;
    d.http
        .post(format!("{}/_sandbox/opportunities/{second}/move", d.lever.url))
        .json(&serde_json::json!({"to": "delete"}))
        .send()
        .await?
        .error_for_status()?;
    sweep(d).await?;
    let kept = d.webhooks.webhooks.delivery(&d.id, "msg_demo_2").await?.ok_or("no delivery")?;
    println!(
        "12. in Lever, G. H. is deleted: XOR received {}; our copy of the screening: {} bytes (erased), the record kept ({})",
        d.xor.candidate_events().last().and_then(|e| e["event"].as_str().map(str::to_owned)).unwrap_or_default(),
        kept.body.len(),
        kept.status.as_str()
    );
    let grace = String::from_utf8(body.to_vec())?.replace("cand_demo_1", "cand_demo_2");
    let (st, answer) = send_webhook(d, server, "msg_demo_2_retry", grace.as_bytes()).await?;
    println!(
        "   XOR retries G. H.'s screening: HTTP {st} {answer}; opportunities in Lever: {}",
        d.lever.opportunities().len()
    );
    if !kept.body.is_empty() || d.lever.opportunities().len() != 1 {
        return Err("expected the deleted candidate erased and not created again".into());
    }
    Ok(())
}

/// Step 13: the customer chooses which jobs get a chatbot: no Finance roles. The dry run shows
/// the effect, the next sync applies it.
async fn job_filter(d: &Demo) -> Result<()> {
    let f = xor_lever_shared::usecases::job_filter::change_filter(
        d.deps.connections.as_ref(),
        &d.id,
        "demo",
        now_ms(),
        None,
        |f| {
            f.rules.exclude.insert(xor_lever_shared::domain::Dimension::Team, ["finance".to_owned()].into());
            "exclude team finance".into()
        },
    )
    .await?;
    println!("13. the customer's job filter (v{}): {}", f.version, super::filter::words(&f.rules));
    let preview = run_sync(&d.deps, &SyncOptions { dry_run: true, ..SyncOptions::default() }, Some(&d.id)).await?;
    print!("   the dry run: ");
    print_reports(&preview, false, true);
    let applied = run_sync(&d.deps, &SyncOptions::default(), Some(&d.id)).await?;
    let active = d.xor.jobs().iter().filter(|j| j["status"] == "active").count();
    let closed = applied.first().map_or(0, |r| r.run.summary.closed);
    println!("   the next sync: {closed} closed in XOR; XOR has {active} active jobs (the others keep their chatbots)");
    if closed != 1 || active != 3 {
        return Err("expected the Finance job closed".into());
    }
    Ok(())
}

/// The scheduled sweep of the demo connection (what its turn runs).
async fn sweep(d: &Demo) -> Result<xor_lever_shared::usecases::webhook::RetrySummary> {
    let conn = d.webhooks.connections.connection(&d.id).await?.ok_or("no connection")?;
    let deadline = now_ms() + 60_000;
    Ok(xor_lever_shared::usecases::webhook::retry_connection(&d.webhooks, &conn, deadline, deadline, 100).await?)
}

/// The admin's browser on the Lever section: the link → "Not connected" → the note's Connect →
/// Lever (the sandbox approves) → back on the section.
async fn connect_in_section(browser: &Visitor, section_url: &str) -> Result<Page> {
    let page = browser.follow(section_url).await?;
    if page.section_status() != "pending" {
        return Err(format!("the section shows {}", page.section_status()).into());
    }
    Ok(browser.submit(&page, "/connections/demo/connect", &[]).await?)
}

/// One scheduled tick as deployed, in this process: the dispatcher sends a turn per connected
/// connection to an in-process queue (standing in for SQS) and a worker takes the turns (Lever
/// check, replays, sync, continuations) until none is left.
async fn scheduled_tick(
    deps: &xor_lever_shared::usecases::SyncDeps,
    lever: &xor_lever_shared::usecases::context::LeverContext,
) -> Result<Vec<xor_lever_shared::usecases::SyncReport>> {
    use xor_lever_shared::usecases::turns::{TurnDeps, TurnOutcome, dispatch, take_turn};
    let queue = xor_lever_shared::adapters::local_queue::LocalQueue::new();
    // The leases are the same store's (the embedded one behind every port here).
    let leases = lever.tokens.leases.clone();
    let turns = TurnDeps { sync: deps.clone(), lever: Some(lever.clone()), leases, queue: queue.clone() };
    let sent = dispatch(&*deps.connections, &*queue).await?;
    println!("   dispatcher: {} turn(s) queued, {} connection(s) skipped", sent.sent, sent.skipped.len());
    let mut reports = Vec::new();
    while let Some(turn) = queue.next().await {
        let out = take_turn(&turns, &turn, &SyncOptions::default(), now_ms() + 15 * 60_000).await;
        queue.finished();
        match out? {
            TurnOutcome::Taken { report, .. } => reports.push(*report),
            other => println!("   {}: {other:?}", turn.connection),
        }
    }
    Ok(reports)
}
