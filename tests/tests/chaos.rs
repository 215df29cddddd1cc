//! Faults at random over real HTTP, seeded (a failing seed replays exactly):
//! - XOR: 30% of calls fail (429 with and without `Retry-After`, 500, 503, a timeout, an answer
//!   lost after the job was made) across a 1,000-posting feed: repeated syncs converge to exactly
//!   the feed's jobs — none missing, none twice, none wrongly closed — and every mapping names
//!   its posting's job, within 3 runs, 5 seeds;
//! - Lever: 30% of calls fail (429 bursts, 5xx, slow answers, answers slower than the whole
//!   invocation, a create whose answer is lost or comes after the deadline): 200 deliveries of 120
//!   screenings, duplicated and shuffled, in invocations of 5 s, each end as exactly one
//!   opportunity after XOR's retries and the scheduled replays.
//!
//! - Issue 23: a screening for a job whose create's answer was lost, before the next sync: one
//!   opportunity, on the right posting (`webhook_e2e.rs` has the XOR-side cases one by one).
//!
//! The suite runs the seeds below; `infra/scripts/chaos` runs many more (200 XOR seeds, 50 Lever
//! seeds, `CHAOS_PARALLEL` at once), printing one line per seed and naming every failing seed.
use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;
use xor_lever_sandbox::feeds::{feed, posting_id};
use xor_lever_sandbox::harness::{StoreKind, spawn_app, spawn_webhook_app_within};
use xor_lever_sandbox::xor::Fault;
use xor_lever_shared::domain::DeliveryStatus;

/// The seeds to run: `CHAOS_SEEDS` ("1-50" or "3,9,12"), else `default`.
fn seeds(default: std::ops::RangeInclusive<u64>) -> Vec<u64> {
    match std::env::var("CHAOS_SEEDS") {
        Ok(spec) => parse_seeds(&spec),
        Err(_) => default.collect(),
    }
}

/// "1-50" or "3,9,12".
fn parse_seeds(spec: &str) -> Vec<u64> {
    match spec.split_once('-') {
        Some((a, b)) => (a.trim().parse().expect("seeds")..=b.trim().parse().expect("seeds")).collect(),
        None => spec.split(',').map(|s| s.trim().parse().expect("seeds")).collect(),
    }
}

/// Seeds run at once: `CHAOS_PARALLEL`, else `default` (a seed mostly waits on backoffs, so
/// many fit on two cores; `infra/scripts/chaos` runs 20).
fn parallel(default: usize) -> usize {
    std::env::var("CHAOS_PARALLEL").ok().and_then(|p| p.parse().ok()).unwrap_or(default).max(1)
}

fn fault(status: u16) -> Fault {
    Fault { status: Some(status), ..Default::default() }
}

/// One seed of the XOR test: repeated syncs until XOR's active jobs are exactly the feed's, none
/// made twice, and every mapping names its posting's job. `Ok`: the runs it took; `Err`: why not,
/// briefly (the postings whose mapping is missing or wrong, with their XOR job).
async fn xor_converges(seed: u64) -> Result<(u32, String), String> {
    let app = spawn_app(StoreKind::Memory, feed(0..1000, "")).await;
    let kinds = vec![
        Fault { retry_after: Some(1), ..fault(429) },
        fault(429),
        fault(500),
        fault(503),
        // Held past the client's 500 ms timeout: a timeout, and for a create a lost answer.
        Fault { hang_ms: Some(700), ..Default::default() },
    ];
    app.xor.inject_random(0.3, seed, kinds);
    let want: Vec<String> = (0..1000).map(posting_id).collect();
    let mut log = Vec::new();
    let mut last = String::new();
    for run in 1..=3 {
        let r = app.sync().await;
        let active = app.active_xor_jobs(); // panics on two active jobs for one posting
        let s = &r.run.summary;
        log.push(format!(
            "run {run}: created {} failed {} (creates repaired {}, unanswered {}) closed {}; {} active",
            s.created,
            s.failed,
            s.creates_repaired,
            s.creates_unanswered,
            s.closed,
            active.len()
        ));
        if s.closed != 0 {
            return Err(format!("seed {seed}: {} job(s) of the feed closed; {}", s.closed, log.join("; ")));
        }
        let maps = app.deps.mappings.mappings(&app.id).await.unwrap();
        let mapped: BTreeMap<String, String> =
            maps.iter().filter(|m| m.is_active()).map(|m| (m.posting_id.to_string(), m.xor_job_id.clone())).collect();
        let jobs_ok = active.keys().cloned().collect::<Vec<_>>() == want;
        let all = app.xor.jobs().len();
        if jobs_ok && all != 1000 {
            return Err(format!("seed {seed}: {all} jobs in XOR for 1,000 postings (a job made twice)"));
        }
        let wrong: Vec<String> = active
            .iter()
            .filter(|(p, j)| mapped.get(*p) != Some(*j))
            .map(|(p, j)| format!("{p}: mapping {:?}, XOR {j}", mapped.get(p)))
            .collect();
        // A job XOR holds that no mapping names is one the run knows it left for the next (a
        // create XOR did not answer even on the run's second try), never a silent gap.
        if wrong.len() > s.creates_unanswered {
            return Err(format!(
                "seed {seed} run {run}: {} of XOR's jobs have no mapping, the run reports {} left: {wrong:?}; {}",
                wrong.len(),
                s.creates_unanswered,
                log.join("; ")
            ));
        }
        if jobs_ok && wrong.is_empty() {
            return Ok((run, log.join("; ")));
        }
        last = format!("{} active of 1,000; mappings missing or wrong: {wrong:?}", active.len());
    }
    Err(format!("seed {seed} did not converge in 3 runs ({last}); {}", log.join("; ")))
}

/// The XOR test over `seeds`, five at a time (each holds a 1,000-job XOR sandbox): every seed's
/// figures are printed, and every failing seed is named (the test does not stop at the first).
async fn xor_over(seeds: Vec<u64>) {
    let n = seeds.len();
    let results: Vec<(u64, Result<(u32, String), String>)> = futures::stream::iter(seeds)
        .map(|seed| async move {
            // A panic inside a seed (two active XOR jobs for one posting) is that seed's failure.
            let r = tokio::spawn(xor_converges(seed)).await.unwrap_or_else(|e| Err(format!("seed {seed}: {e}")));
            (seed, r)
        })
        .buffer_unordered(parallel(5))
        .collect()
        .await;
    let mut runs_needed: BTreeMap<u32, usize> = BTreeMap::new();
    let mut failed = Vec::new();
    for (seed, r) in &results {
        match r {
            Ok((runs, log)) => {
                *runs_needed.entry(*runs).or_default() += 1;
                println!("seed {seed}: converged in {runs} run(s): {log}");
            }
            Err(why) => {
                println!("seed {seed}: FAILED: {why}");
                failed.push(*seed);
            }
        }
    }
    println!("seeds {n}: failed {failed:?}; runs needed {runs_needed:?}");
    assert!(failed.is_empty(), "seeds that did not converge: {failed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn xor_failing_30_percent_of_calls_converges_within_three_runs_for_five_seeds() {
    xor_over(seeds(1..=5)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lever_failing_30_percent_of_calls_still_makes_one_opportunity_per_screening() {
    // One seed here (the suite's time); infra/scripts/chaos runs more (`CHAOS_LEVER_SEEDS`).
    let seeds = lever_seeds(7..=7);
    let n = seeds.len();
    let results: Vec<(u64, Result<String, String>)> = futures::stream::iter(seeds)
        .map(|seed| async move {
            // A panic inside a seed is that seed's failure, named; the others still run.
            let r = tokio::spawn(lever_seed(seed)).await.map_err(|e| format!("seed {seed}: {e}"));
            (seed, r)
        })
        .buffer_unordered(parallel(4))
        .collect()
        .await;
    let mut failed = Vec::new();
    for (seed, r) in &results {
        match r {
            Ok(line) => println!("{line}"),
            Err(why) => {
                println!("seed {seed}: FAILED: {why}");
                failed.push(*seed);
            }
        }
    }
    println!("lever seeds {n}: failed {failed:?}");
    assert!(failed.is_empty(), "seeds that failed: {failed:?}");
}

/// The Lever test's seeds: `CHAOS_LEVER_SEEDS` (as `CHAOS_SEEDS`), else `default`.
fn lever_seeds(default: std::ops::RangeInclusive<u64>) -> Vec<u64> {
    match std::env::var("CHAOS_LEVER_SEEDS") {
        Ok(spec) => parse_seeds(&spec),
        Err(_) => default.collect(),
    }
}

/// One seed of the Lever test; its figures line, or a panic naming what failed.
async fn lever_seed(seed: u64) -> String {
    {
        // Each request an invocation of 5 s (Lambda's is 29 s; the client's retry budget here is 2 s,
        // there 10 s): a call Lever holds longer is cut.
        let app = spawn_webhook_app_within(StoreKind::Sqlite, Some(std::time::Duration::from_secs(5)), |_| {}).await;
        let lever_fault = |status: u16| xor_lever_sandbox::lever::Fault { status: Some(status), ..Default::default() };
        app.lever.inject_random(
            0.3,
            seed,
            vec![
                lever_fault(429),
                xor_lever_sandbox::lever::Fault { retry_after: Some(1), ..lever_fault(429) },
                lever_fault(500),
                lever_fault(503),
                // Slow, but within the invocation.
                xor_lever_sandbox::lever::Fault { delay_ms: Some(300), ..Default::default() },
                // Slower than the whole invocation, before Lever does the work…
                xor_lever_sandbox::lever::Fault { delay_ms: Some(5_200), ..Default::default() },
                // …and a create made but answered after the invocation's deadline.
                xor_lever_sandbox::lever::Fault { after_processing: true, hang_ms: Some(5_200), ..Default::default() },
                // A create (or note) made, its answer lost.
                xor_lever_sandbox::lever::Fault { after_processing: true, ..lever_fault(503) },
            ],
        );
        // 120 screenings, 200 deliveries: some under the same webhook id (XOR's retry), some under
        // a new one (XOR sending the screening again), in random order.
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut deliveries: Vec<(String, String)> =
            (0..120).map(|i| (format!("msg_{i}"), format!("cand_{i}"))).collect();
        for _ in 0..80 {
            let i = rng.usize(..120);
            let id = if rng.bool() { format!("msg_{i}") } else { format!("msg_{i}_again{}", rng.u32(..)) };
            deliveries.push((id, format!("cand_{i}")));
        }
        rng.shuffle(&mut deliveries);
        let app = &app;
        let answers: Vec<(String, u16)> = futures::stream::iter(deliveries.clone())
            .map(|(id, cand)| async move {
                let body = serde_json::to_vec(&app.screening(&cand)).unwrap();
                (id.clone(), app.deliver(&id, &body).await.0)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        // An invocation killed at its deadline is answered 500 "Task timed out" (by the harness,
        // as API Gateway does): none may be.
        let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
        for (_, st) in &answers {
            *by_status.entry(*st).or_default() += 1;
        }

        let killed = std::sync::atomic::AtomicUsize::new(answers.iter().filter(|(_, st)| *st == 500).count());
        let killed = &killed;
        // XOR retries what was not taken (a few times), then the schedule replays what waits.
        let mut retry: HashMap<String, String> = deliveries.iter().cloned().collect();
        retry.retain(|id, _| answers.iter().any(|(a, st)| a == id && *st != 200));
        for _ in 0..3 {
            retry = futures::stream::iter(retry)
                .map(|(id, cand)| async move {
                    let body = serde_json::to_vec(&app.screening(&cand)).unwrap();
                    let st = app.deliver(&id, &body).await.0;
                    if st == 500 {
                        killed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    (st != 200).then_some((id, cand))
                })
                .buffer_unordered(8)
                .filter_map(|x| async move { x })
                .collect()
                .await;
        }
        for _ in 0..10 {
            let s = xor_lever_shared::usecases::webhook::retry_waiting(
                &app.deps,
                xor_lever_shared::usecases::now_ms() + 60_000,
                1000,
            )
            .await
            .unwrap();
            if s.replayed == 0 {
                break;
            }
        }
        let opps = app.lever.opportunities();
        let mut per_email: BTreeMap<String, usize> = BTreeMap::new();
        for o in &opps {
            for e in &o.emails {
                *per_email.entry(e.clone()).or_default() += 1;
            }
        }
        let killed = killed.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(killed, 0, "seed {seed}: every delivery answered before its invocation's deadline");
        let twice: Vec<_> = per_email.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "seed {seed}: screenings made twice: {twice:?}");
        let waiting =
            xor_lever_shared::usecases::webhook::count_deliveries(&app.deps, &app.id, DeliveryStatus::Pending, 1000)
                .await;
        assert_eq!(per_email.len(), 120, "seed {seed}: every screening reached Lever ({waiting:?} pending)");
        assert_eq!(opps.len(), 120, "seed {seed}");
        let served = app.lever.stats().faults_served;
        format!(
            "seed {seed}: 200 deliveries, 120 screenings, {served} Lever faults → {} opportunities; first answers {by_status:?}",
            opps.len()
        )
    }
}

/// Issue 23's new case: XOR made a job but every answer to its create was lost, so no mapping
/// names it; before any sync repairs that, a screening for it arrives while XOR fails 30% of
/// calls at random: once XOR answers, it ends as one opportunity, on that job's posting.
#[tokio::test(flavor = "multi_thread")]
async fn a_screening_for_a_job_whose_create_answer_was_lost_makes_one_opportunity_on_its_posting() {
    use xor_lever_shared::domain::{SecretString, idempotency_key};
    // Its own seeds (`CHAOS_LOST_SEEDS`): the suite's three unless asked.
    let seeds = std::env::var("CHAOS_LOST_SEEDS").map_or_else(|_| (1..=3).collect(), |s| parse_seeds(&s));
    for seed in seeds {
        let app = xor_lever_sandbox::harness::spawn_webhook_app(StoreKind::Sqlite).await;
        let posting = xor_lever_shared::feed::parse_slice(&feed(7..8, "")).unwrap().0.remove(0);
        app.lever.add_posting(posting.external_id.as_str(), &posting.title, "published");
        // The sync's create, every answer lost (the client tries 3 times): the job is in XOR only.
        // Held past the client's timeout, each attempt: the job is made, no answer arrives.
        let lost = Fault { hang_ms: Some(700), op: Some("create".into()), ..Default::default() };
        app.xor.inject(std::iter::repeat_n(lost, 3));
        let conn = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
        let board = app.deps.boards.as_ref().unwrap().board(&conn, SecretString::new(format!("xor_test_{}", app.id)));
        let made = board.create(&idempotency_key(&app.id, &posting.external_id, 0), &posting).await;
        assert!(made.is_err(), "seed {seed}: the create's answer was lost: {made:?}");
        let job = app.xor.jobs().iter().find(|j| j["external_id"] == posting.external_id.as_str()).expect("made")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(app.deps.mappings.mapping_by_xor_job(&app.id, &job).await.unwrap().is_none());

        app.xor.inject_random(0.3, seed, vec![fault(500), fault(503), fault(429)]);
        let mut s = app.screening("cand_lost");
        s["data"]["job_id"] = job.clone().into();
        s["data"]["external_job_id"] = serde_json::Value::Null;
        let body = serde_json::to_vec(&s).unwrap();
        let mut answers = Vec::new();
        for attempt in 0..50 {
            let (st, v, _) = app.deliver("msg_lost", &body).await;
            answers.push(st);
            if st == 200 {
                assert_eq!(v["status"], "completed", "seed {seed}: {v}");
                break;
            }
            assert_eq!(
                v["status"], "pending",
                "seed {seed} attempt {attempt}: XOR down is a wait, never a failure: {v}"
            );
        }
        let opps = app.lever.opportunities();
        assert_eq!(opps.len(), 1, "seed {seed}: one opportunity ({answers:?})");
        assert_eq!(opps[0].postings, [posting.external_id.to_string()], "seed {seed}: on the job's posting");
        let m = app.deps.mappings.mapping_by_xor_job(&app.id, &job).await.unwrap().expect("repaired");
        assert_eq!(m.posting_id, posting.external_id);
        println!(
            "seed {seed}: a screening for a job whose create answer was lost: answers {answers:?}, one opportunity"
        );
    }
}
