//! Which jobs go to XOR (issue 26) end to end: the sample feed over loopback HTTP, the XOR
//! sandbox, each store. A rule change closes exactly the filtered jobs on the next sync (even
//! with the feed unchanged: a 304 does not hide it) and lets the others back; a switch beats the
//! rules; the mass-close guard holds a change that would close too many.
use xor_lever_sandbox::feeds::{feed, posting_id};
use xor_lever_sandbox::harness::{App, StoreKind, spawn_app};
use xor_lever_shared::domain::{Dimension, JobFilter, RunOutcome, Switch};
use xor_lever_shared::usecases::job_filter::change_filter;

const SAMPLE: &[u8] = include_bytes!("../../fixtures/lever-feed-sample.xml");

async fn set(app: &App, change: impl FnOnce(&mut JobFilter) -> String) -> JobFilter {
    change_filter(app.deps.connections.as_ref(), &app.id, "grace@acme.example", 1, change).await.unwrap()
}

fn titles(app: &App) -> Vec<String> {
    let mut t: Vec<String> = app
        .xor
        .jobs()
        .into_iter()
        .filter(|j| j["status"] == "active")
        .map(|j| j["title"].as_str().unwrap().to_owned())
        .collect();
    t.sort();
    t
}

async fn a_rule_change_closes_the_filtered_jobs_and_lets_others_back(kind: StoreKind) {
    let app = spawn_app(kind, SAMPLE.to_vec()).await;
    app.sync().await;
    let all = titles(&app);
    assert_eq!(all.len(), 4, "{all:?}");

    // Exclude the Finance team (written in capitals: case does not matter).
    set(&app, |f| {
        f.rules.exclude.insert(Dimension::Team, ["FINANCE".to_owned()].into());
        "exclude team FINANCE".into()
    })
    .await;
    let r = app.sync().await;
    assert_eq!(r.run.outcome, RunOutcome::Completed, "the unchanged feed is read in full: {:?}", r.run);
    assert_eq!((r.run.summary.closed, r.run.summary.filtered), (1, 1), "{:?}", r.run.summary);
    let plan = r.plan.unwrap();
    assert_eq!(plan.filtered.len(), 1);
    assert_eq!(plan.filtered[0].1, "filtered: team \"FINANCE\" excluded");
    let now = titles(&app);
    assert_eq!(now.len(), 3, "{now:?}");
    let gone: Vec<&String> = all.iter().filter(|t| !now.contains(t)).collect();
    assert_eq!(gone.len(), 1);

    // Only Munich, accents ignored — but the Finance job switched on by a person comes back.
    let finance = app.mappings().await.into_iter().find(|m| !m.is_active()).unwrap().posting_id;
    set(&app, |f| {
        f.rules.include.insert(Dimension::City, ["munchen".to_owned()].into());
        f.switches.insert(finance.to_string(), Switch { on: true, by: "grace@acme.example".into(), at_ms: 1 });
        "include city munchen; switch on the Finance job".into()
    })
    .await;
    let r = app.sync().await;
    let s = &r.run.summary;
    assert_eq!((s.created, s.closed, s.filtered), (1, 2, 2), "{s:?}");
    assert_eq!(titles(&app).len(), 2, "München's job and the switched-on one: {:?}", titles(&app));
}

#[tokio::test]
async fn a_rule_change_closes_the_filtered_jobs_and_lets_others_back_on_sqlite() {
    a_rule_change_closes_the_filtered_jobs_and_lets_others_back(StoreKind::Sqlite).await;
}

#[tokio::test]
async fn a_rule_change_closes_the_filtered_jobs_and_lets_others_back_on_dynamodb() {
    a_rule_change_closes_the_filtered_jobs_and_lets_others_back(StoreKind::Aws).await;
}

/// Switching off 6 of 10 jobs would close more than the guard's share: held, shown, nothing closed.
#[tokio::test]
async fn the_guard_holds_a_change_that_would_close_too_many() {
    let app = spawn_app(StoreKind::Sqlite, feed(0..10, "")).await;
    app.sync().await;
    set(&app, |f| {
        for i in 0..6 {
            f.switches.insert(posting_id(i).to_string(), Switch { on: false, by: "grace".into(), at_ms: 1 });
        }
        "six switched off".into()
    })
    .await;
    let r = app.sync().await;
    assert_eq!((r.run.summary.closed, r.run.summary.held_closes), (0, 6), "{:?}", r.run.summary);
    assert!(r.run.guard.as_deref().is_some_and(|g| g.contains("6 of 10")), "{:?}", r.run.guard);
    assert_eq!(titles(&app).len(), 10, "nothing closed");
}

/// A concurrent change is refused: nothing is written over someone else's.
#[tokio::test]
async fn a_concurrent_change_is_refused() {
    let app = spawn_app(StoreKind::Sqlite, SAMPLE.to_vec()).await;
    let conn = app.deps.connections.connection(&app.id).await.unwrap().unwrap();
    set(&app, |_| "first".into()).await;
    let mut stale = conn.job_filter.clone();
    stale.changed("someone", 2, "stale");
    let e = app.deps.connections.set_job_filter(&app.id, &stale).await.unwrap_err();
    assert!(matches!(e, xor_lever_shared::domain::StoreError::Conflict { .. }), "{e}");
}
