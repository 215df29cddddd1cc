//! The sync end to end over real HTTP: a feed served on loopback, the XOR sandbox, and each store.
use std::time::Duration;

use tokio::time::Instant;
use xor_lever_sandbox::feeds::{feed, posting_id};
use xor_lever_sandbox::harness::{StoreKind, spawn_app};
use xor_lever_sandbox::xor::{Config, Fault};
use xor_lever_shared::domain::{MappingStatus, RunOutcome};

const SAMPLE: &[u8] = include_bytes!("../../fixtures/lever-feed-sample.xml");

async fn first_run_then_nothing(kind: StoreKind) {
    let app = spawn_app(kind, SAMPLE.to_vec()).await;
    let r = app.sync().await;
    assert_eq!(r.run.outcome, RunOutcome::Completed, "{:?}", r.run);
    let s = &r.run.summary;
    assert_eq!((s.created, s.updated, s.closed, s.unchanged, s.failed, s.skipped), (4, 0, 0, 0, 0, 0));
    let maps = app.mappings().await;
    assert_eq!(maps.len(), 4);
    let xor = app.active_xor_jobs();
    for m in &maps {
        assert_eq!(xor.get(m.posting_id.as_str()), Some(&m.xor_job_id), "mapping points at XOR's job");
        assert!(m.chatbot_url.as_deref().unwrap().starts_with("https://jobs.xor.ai/c/"));
    }
    let writes = app.xor.stats().writes;

    // Second run: the feed answers 304 and the last run was clean, so nothing is even parsed.
    let r2 = app.sync().await;
    assert_eq!(r2.run.outcome, RunOutcome::NotModified);
    assert_eq!(app.feed.not_modified(), 1);
    // A full re-read (no validators) still makes zero XOR writes: every hash matches.
    let r3 = app.sync_with(|o| o.force = true).await;
    assert_eq!((r3.run.summary.unchanged, r3.run.summary.created), (4, 0));
    assert_eq!(app.xor.stats().writes, writes, "zero writes on unchanged runs");
    let runs = app.deps.runs.runs(&app.id, 10).await.unwrap();
    assert_eq!(runs.len(), 3, "every run is recorded");
}

#[tokio::test]
async fn first_run_creates_every_job_then_nothing_changes_memory() {
    first_run_then_nothing(StoreKind::Memory).await;
}
#[tokio::test]
async fn first_run_creates_every_job_then_nothing_changes_sqlite() {
    first_run_then_nothing(StoreKind::Sqlite).await;
}
#[tokio::test]
async fn first_run_creates_every_job_then_nothing_changes_dynamodb() {
    first_run_then_nothing(StoreKind::Aws).await;
}

/// The feed after `feed(0..6)` changed: job 1 retitled " (Senior)", job 5 gone, job 6 new.
fn changed_0_to_6() -> String {
    let next = String::from_utf8(feed([0, 2, 3, 4, 6], "")).unwrap();
    next.replace("</source>", "")
        + String::from_utf8(feed([1], " (Senior)")).unwrap().split_once("<publisher>Lever</publisher>").unwrap().1
}

async fn changed_feed(kind: StoreKind) {
    let app = spawn_app(kind, feed(0..6, "")).await;
    app.sync().await;
    let before = app.active_xor_jobs();
    // Job 1 changes, job 5 leaves, job 6 arrives.
    app.feed.set_feed(changed_0_to_6());
    let writes_before = app.xor.stats();
    let r = app.sync().await;
    let s = &r.run.summary;
    assert_eq!((s.created, s.updated, s.closed, s.unchanged, s.failed), (1, 1, 1, 4, 0), "{:?}", r.run);
    let after_stats = app.xor.stats();
    assert_eq!(after_stats.creates - writes_before.creates, 1);
    assert_eq!(after_stats.updates - writes_before.updates, 1);
    assert_eq!(after_stats.closes - writes_before.closes, 1);
    let after = app.active_xor_jobs();
    assert!(!after.contains_key(&posting_id(5)), "job 5 closed in XOR");
    assert!(after.contains_key(&posting_id(6)));
    assert_eq!(after[&posting_id(1)], before[&posting_id(1)], "an update keeps the XOR job");
    let updated = app.xor.jobs().into_iter().find(|j| j["external_id"] == posting_id(1).as_str()).unwrap();
    assert_eq!(updated["title"], "Engineer 1 (Senior)");
    let closed = app.mappings().await.into_iter().find(|m| m.posting_id.as_str() == posting_id(5)).unwrap();
    assert_eq!(closed.status, MappingStatus::Closed);
}

#[tokio::test]
async fn a_changed_feed_updates_and_closes_exactly_the_right_jobs_sqlite() {
    changed_feed(StoreKind::Sqlite).await;
}
#[tokio::test]
async fn a_changed_feed_updates_and_closes_exactly_the_right_jobs_dynamodb() {
    changed_feed(StoreKind::Aws).await;
}

#[tokio::test]
async fn injected_429_5xx_and_timeouts_converge_without_duplicates() {
    let app = spawn_app(StoreKind::Sqlite, feed(0..12, "")).await;
    let mut faults = Vec::new();
    for i in 0..12 {
        faults.push(match i % 4 {
            0 => Fault { status: Some(429), retry_after: Some(0), ..Default::default() },
            1 => Fault { status: Some(503), ..Default::default() },
            2 => Fault { hang_ms: Some(800), op: Some("create".into()), ..Default::default() },
            _ => Fault { status: Some(500), ..Default::default() },
        });
    }
    app.xor.inject(faults);
    let mut runs = 0;
    loop {
        runs += 1;
        let r = app.sync_with(|o| o.force = true).await;
        if r.run.summary.failed == 0 && r.run.summary.unchanged + r.run.summary.created == 12 {
            break;
        }
        assert!(runs < 5, "did not converge: {:?}", r.run);
    }
    let xor = app.active_xor_jobs();
    assert_eq!(xor.len(), 12, "one XOR job per posting, no duplicates");
    assert_eq!(app.xor.jobs().len(), 12);
    assert_eq!(app.mappings().await.len(), 12);
}

#[tokio::test]
async fn an_html_error_page_an_error_status_or_an_empty_feed_close_nothing() {
    let app = spawn_app(StoreKind::Memory, feed(0..4, "")).await;
    app.sync().await;
    let writes = app.xor.stats().writes;

    app.feed.set(200, "text/html", b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>".to_vec());
    let r = app.sync().await;
    match &r.run.outcome {
        RunOutcome::FeedError { reason } => {
            assert!(reason.contains("root element is <html>"), "{reason}")
        }
        o => panic!("{o:?}"),
    }
    app.feed.set(500, "text/plain", b"oops".to_vec());
    assert!(matches!(app.sync().await.run.outcome, RunOutcome::FeedError { .. }));
    app.feed.set_feed(&SAMPLE[..SAMPLE.len() / 2]);
    assert!(matches!(app.sync().await.run.outcome, RunOutcome::FeedError { .. }), "truncated");

    app.feed.set_feed("<?xml version=\"1.0\"?><source><publisher>Lever</publisher></source>");
    let r = app.sync().await;
    assert_eq!(r.run.summary.closed, 0);
    assert_eq!(r.run.summary.held_closes, 4);
    assert!(r.run.guard.as_deref().unwrap().contains("no jobs"));
    assert_eq!(app.xor.stats().writes, writes, "nothing was closed");
    assert_eq!(app.active_xor_jobs().len(), 4);

    // The operator confirms: --force closes them.
    let r = app.sync_with(|o| o.force = true).await;
    assert_eq!(r.run.summary.closed, 4);
    assert!(app.active_xor_jobs().is_empty());
}

#[tokio::test]
async fn the_mass_close_guard_holds_and_force_proceeds() {
    let app = spawn_app(StoreKind::Memory, feed(0..10, "")).await;
    app.sync().await;
    app.feed.set_feed(feed(0..4, ""));
    let r = app.sync().await;
    assert_eq!((r.run.summary.closed, r.run.summary.held_closes), (0, 6));
    assert!(r.run.guard.as_deref().unwrap().contains("6 of 10"), "{:?}", r.run.guard);
    // A held close is unfinished work: the next run must not be skipped by a 304.
    let r = app.sync().await;
    assert_eq!(r.run.summary.held_closes, 6, "{:?}", r.run.outcome);
    let r = app.sync_with(|o| o.force = true).await;
    assert_eq!(r.run.summary.closed, 6);
}

#[tokio::test]
async fn a_reappearing_posting_is_reopened_as_a_new_job() {
    let app = spawn_app(StoreKind::Sqlite, feed(0..4, "")).await;
    app.sync().await;
    let old = app.active_xor_jobs()[&posting_id(3)].clone();
    app.feed.set_feed(feed(0..3, ""));
    assert_eq!(app.sync().await.run.summary.closed, 1);
    app.feed.set_feed(feed(0..4, ""));
    let r = app.sync().await;
    assert_eq!(r.run.summary.created, 1);
    let new = app.active_xor_jobs()[&posting_id(3)].clone();
    assert_ne!(new, old, "a new XOR job, not the closed one replayed by its idempotency key");
    let m = app.mappings().await.into_iter().find(|m| m.posting_id.as_str() == posting_id(3)).unwrap();
    assert_eq!((m.status, m.generation, m.xor_job_id.clone()), (MappingStatus::Active, 1, new));
}

#[tokio::test]
async fn a_failed_job_is_recorded_and_retried_on_the_next_run() {
    let app = spawn_app(StoreKind::Memory, feed(0..3, "")).await;
    app.xor.inject([Fault { status: Some(422), op: Some("create".into()), ..Default::default() }]);
    let r = app.sync().await;
    assert_eq!((r.run.summary.created, r.run.summary.failed), (2, 1));
    let recorded = &app.deps.runs.runs(&app.id, 1).await.unwrap()[0];
    assert_eq!(recorded.failures.len(), 1);
    assert!(recorded.failures[0].error.contains("HTTP 422"), "{:?}", recorded.failures);
    // The feed did not change, but the last run was not clean: no 304 shortcut.
    let r = app.sync().await;
    assert_eq!((r.run.summary.created, r.run.summary.unchanged, r.run.summary.failed), (1, 2, 0));
    assert_eq!(app.feed.not_modified(), 0);
    assert_eq!(app.sync().await.run.outcome, RunOutcome::NotModified);
}

#[tokio::test]
async fn a_run_stops_before_its_deadline_and_the_next_carries_on() {
    let app = spawn_app(StoreKind::Sqlite, feed(0..40, "")).await;
    app.xor.set_config(Config { rate_limit_rps: 0.0, latency_ms: 50 });
    let r = app
        .sync_with(|o| {
            o.deadline = Some(Instant::now() + Duration::from_millis(400));
            o.call_reserve = Duration::from_millis(100);
        })
        .await;
    let s = r.run.summary.clone();
    assert_eq!(r.run.outcome, RunOutcome::Partial);
    assert!(s.created > 0 && s.deferred > 0, "{s:?}");
    assert_eq!(s.created + s.deferred, 40);
    assert_eq!(app.mappings().await.len(), s.created, "what was done is recorded");
    let r = app.sync().await;
    assert_eq!((r.run.summary.created, r.run.summary.unchanged), (s.deferred, s.created));
    assert_eq!(app.active_xor_jobs().len(), 40);
}

#[tokio::test]
async fn two_overlapping_runs_do_not_corrupt_mappings_or_duplicate_jobs() {
    let app = spawn_app(StoreKind::Aws, feed(0..20, "")).await;
    app.xor.set_config(Config { rate_limit_rps: 0.0, latency_ms: 20 });
    let (a, b) = tokio::join!(app.sync_with(|o| o.force = true), app.sync_with(|o| o.force = true));
    assert_eq!(a.run.summary.failed + b.run.summary.failed, 0, "{:?} {:?}", a.run, b.run);
    assert_eq!(app.xor.jobs().len(), 20, "the idempotency keys made one job per posting");
    let maps = app.mappings().await;
    assert_eq!(maps.len(), 20);
    let xor = app.active_xor_jobs();
    assert!(maps.iter().all(|m| xor[m.posting_id.as_str()] == m.xor_job_id));
    let r = app.sync_with(|o| o.force = true).await;
    assert_eq!(r.run.summary.unchanged, 20);
}

#[tokio::test]
async fn a_feed_over_the_size_cap_is_refused_not_truncated() {
    let mut app = spawn_app(StoreKind::Memory, feed(0..50, "")).await;
    let mut fetcher = xor_lever_shared::adapters::feed_http::FeedFetcher::new(xor_lever_shared::config::http_client());
    fetcher.max_bytes = 4_000;
    app.deps.feeds = std::sync::Arc::new(fetcher);
    let r = app.sync().await;
    match &r.run.outcome {
        RunOutcome::FeedError { reason } => assert!(reason.contains("larger than the 4000-byte limit"), "{reason}"),
        o => panic!("{o:?}"),
    }
    assert_eq!(app.xor.stats().requests, 0);
}

/// A crash at each step of a sync (`SYNC_CRASH_POINTS`, in the order a run passes them): the
/// process dies there (nothing after it runs: no mapping, no feed state, no run record), and the
/// next run repairs everything: the feed's jobs active in XOR once each, the change applied, the
/// gone job closed, every mapping naming its job, the run recorded clean. On DynamoDB (moto).
#[tokio::test]
async fn a_crash_at_every_step_of_a_sync_is_repaired_by_the_next_run() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use xor_lever_shared::usecases::sync::SYNC_CRASH_POINTS;
    let want: Vec<String> = [0, 1, 2, 3, 4, 6].into_iter().map(posting_id).collect();
    for point in SYNC_CRASH_POINTS {
        let app = spawn_app(StoreKind::Aws, feed(0..6, "")).await;
        assert_eq!(app.sync().await.run.outcome, RunOutcome::Completed);
        app.feed.set_feed(changed_0_to_6());
        let runs_before = app.deps.runs.runs(&app.id, 10).await.unwrap().len();

        let armed = Arc::new(AtomicBool::new(true));
        let a = armed.clone();
        let crashed = app
            .sync_with(|o| o.crash_at = Some(Arc::new(move |p| p == point && a.swap(false, Ordering::SeqCst))))
            .await;
        assert!(!armed.load(Ordering::SeqCst), "{point}: the crash point was reached");
        assert!(
            matches!(&crashed.run.outcome, RunOutcome::Error { reason } if reason.contains(point)),
            "{point}: {:?}",
            crashed.run.outcome
        );
        assert_eq!(
            app.deps.runs.runs(&app.id, 10).await.unwrap().len(),
            runs_before,
            "{point}: a dead process records nothing"
        );

        let r = app.sync().await;
        assert!(matches!(r.run.outcome, RunOutcome::Completed | RunOutcome::NotModified), "{point}: {:?}", r.run);
        assert_eq!(r.run.summary.failed, 0, "{point}: {:?}", r.run.failures);
        let active = app.active_xor_jobs(); // panics on two active jobs for one posting
        assert_eq!(active.keys().cloned().collect::<Vec<_>>(), want, "{point}: exactly the feed's jobs are active");
        assert_eq!(app.xor.jobs().len(), 7, "{point}: 6 jobs and the new one, none made twice");
        let job1 = app.xor.jobs().into_iter().find(|j| j["external_id"] == posting_id(1).as_str()).unwrap();
        assert_eq!(job1["title"], "Engineer 1 (Senior)", "{point}: the change reached XOR");
        let maps = app.mappings().await;
        for m in &maps {
            match active.get(m.posting_id.as_str()) {
                Some(job) => assert_eq!((&m.xor_job_id, m.status), (job, MappingStatus::Active), "{point}"),
                None => {
                    assert_eq!((m.posting_id.to_string(), m.status), (posting_id(5), MappingStatus::Closed), "{point}")
                }
            }
        }
        assert_eq!(maps.len(), 7, "{point}");
        let again = app.sync_with(|o| o.force = true).await;
        assert_eq!(
            (
                again.run.summary.unchanged,
                again.run.summary.created + again.run.summary.updated + again.run.summary.closed
            ),
            (6, 0),
            "{point}: nothing left to do"
        );
        println!("{point}: repaired by the next run ({:?}, {:?})", r.run.outcome, r.run.summary);
    }
}

/// Lever's public postings API as a connection's feed (its documented JSON): the same jobs as the
/// XML feed of the same postings (switching closes and creates nothing), and the conditional
/// GET holds as for XML (a second run is a 304).
#[tokio::test]
async fn lever_s_postings_api_is_a_feed_like_the_xml() {
    let app = spawn_app(StoreKind::Memory, feed(0..5, "")).await;
    let r = app.sync().await;
    assert_eq!(r.run.summary.created, 5);
    let before = app.active_xor_jobs();
    app.feed.set(200, "application/json", xor_lever_sandbox::feeds::postings_api(0..5, ""));
    let r = app.sync().await;
    assert_eq!(r.run.outcome, RunOutcome::Completed, "{:?}", r.run);
    let s = &r.run.summary;
    assert_eq!((s.created, s.closed, s.failed, s.skipped), (0, 0, 0, 0), "{s:?}");
    assert_eq!(app.active_xor_jobs(), before, "the same postings, the same XOR jobs");
    let r = app.sync().await;
    assert_eq!(r.run.outcome, RunOutcome::NotModified);
    // A posting leaves the API's list: its job is closed, as with the XML.
    app.feed.set(200, "application/json", xor_lever_sandbox::feeds::postings_api(0..4, ""));
    let r = app.sync().await;
    assert_eq!(r.run.summary.closed, 1);
    assert!(!app.active_xor_jobs().contains_key(&posting_id(4)));
}

/// Issue 23: a create XOR made but never answered (every attempt's answer lost) is sent again
/// with the same idempotency key before the run ends: XOR gives the job back and the run that
/// made it maps it (the summary says so). Still unanswered then: the run says one is left.
#[tokio::test]
async fn a_create_whose_answer_was_lost_is_mapped_by_the_same_run() {
    let app = spawn_app(StoreKind::Memory, feed(0..1, "")).await;
    // Held past the client's timeout on each of its 4 attempts: made in XOR, never answered.
    let lost = Fault { hang_ms: Some(700), op: Some("create".into()), ..Default::default() };
    app.xor.inject(std::iter::repeat_n(lost.clone(), 4));
    let r = app.sync().await;
    let s = &r.run.summary;
    assert_eq!((s.created, s.failed, s.creates_repaired, s.creates_unanswered), (1, 0, 1, 0), "{s:?}");
    assert_eq!(app.xor.jobs().len(), 1, "made once (the key)");
    let maps = app.mappings().await;
    assert_eq!(maps.len(), 1, "mapped by the run that made it");
    assert_eq!(app.active_xor_jobs().get(&posting_id(0)), Some(&maps[0].xor_job_id));
    assert_eq!(r.run.outcome, RunOutcome::Completed);

    // Eight lost answers: the second try is unanswered too; the run says one is left, the next maps it.
    let app = spawn_app(StoreKind::Memory, feed(0..1, "")).await;
    app.xor.inject(std::iter::repeat_n(lost, 8));
    let s = app.sync().await.run.summary;
    assert_eq!((s.created, s.failed, s.creates_repaired, s.creates_unanswered), (0, 1, 0, 1), "{s:?}");
    assert!(app.mappings().await.is_empty());
    let s = app.sync().await.run.summary;
    assert_eq!((s.created, s.failed), (1, 0), "{s:?}");
    assert_eq!((app.xor.jobs().len(), app.mappings().await.len()), (1, 1));
}
