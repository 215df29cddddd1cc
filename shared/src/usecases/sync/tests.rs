//! The sync against fakes of XOR and the feed (milliseconds each); over real HTTP against the
//! sandboxes in `tests/tests/sync_e2e.rs`.
use std::sync::Arc;

use super::*;
use crate::adapters::memory::MemoryStore;
use crate::usecases::fakes::{FakeBoard, FakeFeed, feed, xor_refused, xor_unavailable};

struct Fixture {
    deps: SyncDeps,
    board: FakeBoard,
    feed: FakeFeed,
    id: ConnectionId,
}

async fn fixture(body: Vec<u8>) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let (board, feed) = (FakeBoard::default(), FakeFeed::default());
    feed.set(body);
    let id = ConnectionId::parse("acme").unwrap();
    store
        .create_connection(&Connection::new(id.clone(), "https://feed.example".into(), "https://xor".into(), 0))
        .await
        .unwrap();
    store.create_secret(&id, XOR_API_KEY, Some(&SecretString::new("xor_key"))).await.unwrap();
    let deps = SyncDeps::from_store(store, Arc::new(feed.clone()), Arc::new(board.clone()));
    Fixture { deps, board, feed, id }
}

impl Fixture {
    async fn sync(&self) -> SyncReport {
        sync_connection(&self.deps, &self.id, &SyncOptions::default()).await
    }
    async fn mapped(&self) -> Vec<(String, String, MappingStatus)> {
        let mut m: Vec<_> = self
            .deps
            .mappings
            .mappings(&self.id)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.posting_id.to_string(), m.xor_job_id, m.status))
            .collect();
        m.sort_by(|a, b| a.0.cmp(&b.0));
        m
    }
}

#[tokio::test]
async fn a_first_sync_creates_every_job_and_an_unchanged_feed_writes_nothing() {
    let f = fixture(feed(0..3, "")).await;
    let r = f.sync().await;
    assert_eq!((r.run.summary.created, r.run.outcome.clone()), (3, RunOutcome::Completed), "{:?}", r.run);
    let active = f.board.active();
    assert_eq!(active.len(), 3);
    for (pid, job, status) in f.mapped().await {
        assert_eq!((active[&pid].as_str(), status), (job.as_str(), MappingStatus::Active));
    }
    let again = f.sync().await;
    assert_eq!(again.run.outcome, RunOutcome::NotModified);
    assert_eq!(f.board.writes(), 3, "a 304 writes nothing to XOR");
}

#[tokio::test]
async fn a_changed_posting_is_updated_and_a_gone_one_closed() {
    let f = fixture(feed(0..4, "")).await;
    f.sync().await;
    f.feed.set(feed(1..4, " (m/f/d)"));
    let r = f.sync().await;
    assert_eq!((r.run.summary.updated, r.run.summary.closed), (3, 1), "{:?}", r.run);
    let closed: Vec<_> = f.mapped().await.into_iter().filter(|m| m.2 == MappingStatus::Closed).collect();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].0, "p-0");
    assert_eq!(f.board.state().jobs[&closed[0].1].status, "closed");
    assert!(
        f.board.state().jobs.values().filter(|j| j.status == "active").all(|j| j
            .title
            .as_deref()
            .unwrap()
            .ends_with("(m/f/d)"))
    );
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_not_made_twice() {
    // Lost once: the run's second pass sends it again with its key and maps it.
    let f = fixture(feed(0..1, "")).await;
    f.board.state().lose_next_create = true;
    let first = f.sync().await;
    let s = &first.run.summary;
    assert_eq!((s.created, s.failed, s.creates_repaired, first.run.is_clean()), (1, 0, 1, true), "{:?}", first.run);
    assert_eq!(f.board.state().jobs.len(), 1, "the same idempotency key gave the same job back");
    assert_eq!(f.mapped().await.len(), 1, "mapped by the run that made it");

    // Lost, and XOR down for the second try too: left for the next run, which maps it.
    let f = fixture(feed(0..1, "")).await;
    f.board.state().lose_next_create = true;
    f.board.state().fail_next.push_back(xor_unavailable("create"));
    let first = f.sync().await;
    let s = &first.run.summary;
    assert_eq!((s.failed, s.creates_unanswered, first.run.is_clean()), (1, 1, false), "{:?}", first.run);
    assert!(first.run.failures[0].error.contains("XOR unavailable"), "{:?}", first.run.failures);
    let second = f.sync().await;
    assert_eq!(second.run.summary.created, 1, "the unclean run makes the next fetch a full one");
    assert_eq!(f.board.state().jobs.len(), 1, "the same idempotency key gave the same job back");
}

#[tokio::test]
async fn a_key_conflict_adopts_the_job_the_key_made() {
    let f = fixture(feed(0..1, "")).await;
    // The create's answer lost, and the run's second try unanswered too: no mapping.
    f.board.state().lose_next_create = true;
    f.board.state().fail_next.push_back(xor_unavailable("create"));
    f.sync().await;
    // The posting changed before the retry: the key now comes with another body (XOR: 409).
    f.feed.set(feed(0..1, " v2"));
    let r = f.sync().await;
    assert_eq!(r.run.summary.created, 1, "{:?}", r.run);
    let s = f.board.state();
    assert_eq!(s.jobs.len(), 1);
    assert_eq!(s.jobs["xj_000001"].title.as_deref(), Some("Engineer 0 v2"));
    assert!(s.calls.ends_with(&["create", "list", "update"]), "{:?}", s.calls);
}

#[tokio::test]
async fn a_job_gone_from_xor_is_opened_again_as_the_next_generation() {
    let f = fixture(feed(0..1, "")).await;
    f.sync().await;
    f.board.state().jobs.clear();
    f.feed.set(feed(0..1, " v2"));
    let r = f.sync().await;
    assert_eq!(r.run.summary.created, 1, "{:?}", r.run);
    let m = f.deps.mappings.mappings(&f.id).await.unwrap();
    assert_eq!((m[0].generation, m[0].xor_job_id.as_str()), (1, "xj_000002"), "a new job in the lost one's place");
    assert_eq!(f.board.active().len(), 1);
}

#[tokio::test]
async fn xor_down_fails_the_jobs_and_the_next_run_repeats_them() {
    let f = fixture(feed(0..2, "")).await;
    // Unavailable (and again on the run's second try), and refused.
    f.board.state().fail_next.extend([
        xor_unavailable("create"),
        xor_refused("create", 422),
        xor_unavailable("create"),
    ]);
    let r = f.sync().await;
    assert_eq!((r.run.summary.created, r.run.summary.failed), (0, 2), "{:?}", r.run);
    assert_eq!(r.run.summary.creates_unanswered, 1);
    assert_eq!(r.run.failures.len(), 2);
    assert!(f.mapped().await.is_empty());
    let again = f.sync().await;
    assert_eq!(again.run.summary.created, 2, "the feed is read in full after an unclean run");
}

#[tokio::test]
async fn past_the_deadline_no_call_starts_and_the_run_is_partial() {
    let f = fixture(feed(0..2, "")).await;
    let opts = SyncOptions { deadline: Some(tokio::time::Instant::now()), ..SyncOptions::default() };
    let r = sync_connection(&f.deps, &f.id, &opts).await;
    assert_eq!((r.run.summary.deferred, r.run.outcome.clone()), (2, RunOutcome::Partial));
    assert_eq!(f.board.writes(), 0);
}

#[tokio::test]
async fn a_dry_run_plans_and_writes_nothing() {
    let f = fixture(feed(0..2, "")).await;
    let r = sync_connection(&f.deps, &f.id, &SyncOptions { dry_run: true, ..SyncOptions::default() }).await;
    assert_eq!(r.plan.unwrap().creates.len(), 2);
    assert_eq!((f.board.writes(), f.mapped().await.len()), (0, 0));
}

#[tokio::test]
async fn a_posting_that_turns_invalid_keeps_its_xor_job() {
    let f = fixture(feed(0..3, "")).await;
    f.sync().await;
    // Posting 1 loses its title: it is still in the feed, only unusable.
    let broken = String::from_utf8(feed(0..3, "")).unwrap().replace("<title>Engineer 1</title>", "");
    f.feed.set(broken.into_bytes());
    let r = f.sync().await;
    assert_eq!((r.run.summary.closed, r.run.summary.skipped), (0, 1), "{:?}", r.run);
    assert!(r.run.warnings.iter().any(|w| w.contains("p-1") && w.contains("kept")), "{:?}", r.run.warnings);
    assert_eq!(f.board.active().len(), 3, "its XOR job stays open");
    assert!(f.mapped().await.iter().all(|m| m.2 == MappingStatus::Active));
}

#[tokio::test]
async fn a_feed_that_degrades_over_several_runs_cannot_empty_xor() {
    let f = fixture(feed(0..100, "")).await;
    f.sync().await;
    // Each run the feed loses 40% of what is left: each run alone is under the 50% limit.
    f.feed.set(feed(0..60, ""));
    let second = f.sync().await;
    assert_eq!(second.run.summary.closed, 40);
    f.feed.set(feed(0..36, ""));
    let third = f.sync().await;
    assert_eq!((third.run.summary.closed, third.run.summary.held_closes), (0, 24), "{:?}", third.run);
    assert!(
        third.run.guard.as_deref().unwrap_or_default().contains("100"),
        "measured from the day's high: {:?}",
        third.run.guard
    );
    assert_eq!(f.board.active().len(), 60);
}

#[tokio::test]
async fn a_small_connection_can_close_its_last_jobs() {
    let f = fixture(feed(0..1, "")).await;
    f.sync().await;
    f.feed.set(feed(0..0, ""));
    let r = f.sync().await;
    assert_eq!((r.run.summary.closed, r.run.guard.clone()), (1, None), "one job closes without --force");
    assert!(f.board.active().is_empty());

    // Above the floor, an empty feed still looks like an outage.
    let big = fixture(feed(0..10, "")).await;
    big.sync().await;
    big.feed.set(feed(0..0, ""));
    let r = big.sync().await;
    assert_eq!((r.run.summary.closed, r.run.summary.held_closes), (0, 10));
}
