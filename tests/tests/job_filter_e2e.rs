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
    change_filter(app.deps.connections.as_ref(), &app.id, "grace@acme.example", 1, None, change).await.unwrap()
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

/// On the Lever section, over real HTTP: the postings of the last feed with why each goes to
/// XOR or not; a rule previewed ("3 jobs would be published, 1 closed in XOR"), applied (kept
/// with the session's identity), and the next sync closes exactly that job in the XOR sandbox;
/// a per-row switch brings it back; a stale Apply (someone changed the filter since) is refused.
async fn the_section_previews_and_applies_a_rule(kind: StoreKind) {
    use xor_lever_sandbox::visitor::Visitor;
    let app = xor_lever_sandbox::harness::spawn_webhook_app(kind).await;
    let feed = xor_lever_sandbox::FeedServer::spawn(SAMPLE.to_vec()).await;
    app.setup.connections.set_feed_url(&app.id, &feed.url).await.unwrap();
    let sync = app.sync_deps();
    let opts = xor_lever_shared::usecases::SyncOptions { force: true, ..Default::default() };
    xor_lever_shared::usecases::sync_connection(&sync, &app.id, &opts).await;
    let active = |app: &xor_lever_sandbox::harness::WebhookApp| {
        app.xor
            .jobs()
            .iter()
            .filter(|j| j["status"] == "active")
            .map(|j| j["title"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(active(&app).len(), 4);

    let link = xor_lever_shared::usecases::section::access::page_link(&app.setup, &app.url, &app.id, 7).await.unwrap();
    let v = Visitor::new();
    let page = v.follow(&link).await.unwrap();
    assert!(page.body.contains("4 of 4 postings of your job feed are published to XOR"), "{}", page.body);
    assert!(page.body.contains("<option value=\"Finance\">"), "the values present in the feed");

    let path = format!("/connections/{}/filter", app.id);
    // A preview answers 200 in place (the page with what the rule would do).
    let answer = v
        .post(
            &format!("{}{path}", app.url),
            &app.url,
            &[("csrf", &page.csrf().unwrap()), ("action", "preview"), ("exclude_team", "Finance")],
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("3 jobs would be published, 1 closed in XOR"), "{}", answer.body);
    assert_eq!(
        app.setup.connections.connection(&app.id).await.unwrap().unwrap().job_filter.version,
        0,
        "a preview changes nothing"
    );

    let apply = [
        ("csrf", page.csrf().unwrap()),
        ("action", "apply".into()),
        ("version", "0".into()),
        ("exclude_team", "Finance".into()),
    ];
    let apply: Vec<(&str, &str)> = apply.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = v.post(&format!("{}{path}", app.url), &app.url, &apply).await.unwrap();
    assert_eq!(done.status, 303, "{}", done.body);
    let f = app.setup.connections.connection(&app.id).await.unwrap().unwrap().job_filter;
    assert_eq!(f.version, 1);
    assert!(f.history[0].by.starts_with("the Lever section (session "), "{:?}", f.history);
    let stale = v.post(&format!("{}{path}", app.url), &app.url, &apply).await.unwrap();
    assert_eq!(stale.status, 409, "an Apply made from version 0 after version 1: {}", stale.body);

    let r = xor_lever_shared::usecases::sync_connection(&sync, &app.id, &Default::default()).await;
    assert_eq!((r.run.summary.closed, r.run.summary.filtered), (1, 1), "{:?}", r.run);
    assert_eq!(active(&app).len(), 3, "exactly the Finance job closed");
    let page = v.get(&format!("{}/connections/{}", app.url, app.id)).await.unwrap();
    assert!(
        page.body.contains("(filtered: team \"Finance\" excluded)")
            || page.body.contains("(filtered: team &quot;Finance&quot; excluded)"),
        "{}",
        page.body
    );

    // The Finance posting's own switch brings it back.
    let maps = app.setup.mappings.mappings(&app.id).await.unwrap();
    let finance = maps.into_iter().find(|m| !m.is_active() && m.posting_id.as_str() != app.posting).unwrap().posting_id;
    let sw = v
        .post(
            &format!("{}/connections/{}/switch", app.url, app.id),
            &app.url,
            &[("csrf", &page.csrf().unwrap()), ("posting", finance.as_str()), ("state", "on")],
        )
        .await
        .unwrap();
    assert_eq!(sw.status, 303, "{}", sw.body);
    xor_lever_shared::usecases::sync_connection(&sync, &app.id, &Default::default()).await;
    assert_eq!(active(&app).len(), 4, "switched on beats the rule");
    // Without the session's CSRF field: refused.
    let forged = v
        .post(
            &format!("{}/connections/{}/switch", app.url, app.id),
            &app.url,
            &[("posting", finance.as_str()), ("state", "off")],
        )
        .await
        .unwrap();
    assert_eq!(forged.status, 403);
}

#[tokio::test]
async fn the_section_previews_and_applies_a_rule_on_sqlite() {
    the_section_previews_and_applies_a_rule(StoreKind::Sqlite).await;
}

#[tokio::test]
async fn the_section_previews_and_applies_a_rule_on_dynamodb() {
    the_section_previews_and_applies_a_rule(StoreKind::Aws).await;
}
