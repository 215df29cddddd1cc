//! One contract, three stores: in-memory, embedded SQLite, and DynamoDB + Secrets Manager through
//! the real AWS SDK against moto's server.
use xor_lever_sandbox::moto;
use xor_lever_shared::adapters::{memory::MemoryStore, sqlite::SqliteStore};
use xor_lever_shared::domain::*;

fn conn_id(s: &str) -> ConnectionId {
    ConnectionId::parse(s).unwrap()
}

fn mapping(c: &str, p: &str) -> JobMapping {
    JobMapping {
        connection: conn_id(c),
        posting_id: PostingId::parse(p).unwrap(),
        xor_job_id: format!("xj_{p}"),
        chatbot_url: Some(format!("https://jobs.xor.ai/c/{p}")),
        webchat_url: None,
        location: None,
        title: format!("Job {p}"),
        content_hash: "h1".into(),
        status: MappingStatus::Active,
        generation: 0,
        version: 0,
        updated_at: 1_700_000_000,
    }
}

fn run(c: &str, at: i64) -> SyncRun {
    SyncRun {
        run_id: format!("{at}-r"),
        connection: conn_id(c),
        started_at_ms: at,
        finished_at_ms: at + 5,
        outcome: RunOutcome::Completed,
        summary: SyncSummary { connection: c.into(), created: 3, ..Default::default() },
        guard: None,
        failures: vec![JobFailure { posting_id: "p".into(), op: "create".into(), error: "boom".into() }],
        warnings: vec!["w".into()],
    }
}

async fn contract<S: MappingStore + ConnectionStore + RunStore>(s: &S) {
    // Connections: create once, read back, status and feed state written apart.
    let c = Connection::new(conn_id("acme"), "http://feed".into(), "http://xor".into(), 1);
    s.create_connection(&c).await.unwrap();
    assert!(matches!(s.create_connection(&c).await, Err(StoreError::AlreadyExists { .. })));
    s.create_connection(&Connection::new(conn_id("beta"), "http://f2".into(), "http://x2".into(), 2)).await.unwrap();
    assert_eq!(s.connection(&conn_id("acme")).await.unwrap().unwrap(), c);
    assert!(s.connection(&conn_id("nobody")).await.unwrap().is_none());
    let mut ids: Vec<String> = s.connections().await.unwrap().into_iter().map(|c| c.id.to_string()).collect();
    ids.sort();
    assert_eq!(ids, ["acme", "beta"]);
    s.set_status(&conn_id("acme"), ConnectionStatus::Disabled).await.unwrap();
    let fs = FeedState {
        etag: Some("\"e1\"".into()),
        last_modified: None,
        last_run_clean: true,
        confirmed_at_ms: Some(1_700_000_000_000),
        active_peaks: vec![(1_699_999_200_000, 12)],
        filter_version: 3,
    };
    s.set_feed_state(&conn_id("acme"), &fs).await.unwrap();
    let back = s.connection(&conn_id("acme")).await.unwrap().unwrap();
    assert_eq!((back.status, back.feed.clone()), (ConnectionStatus::Disabled, fs));
    assert!(matches!(
        s.set_status(&conn_id("nobody"), ConnectionStatus::Connected).await,
        Err(StoreError::NotFound { .. })
    ));
    let mut lever = back.lever.clone();
    lever.perform_as = Some("usr_1".into());
    lever.api_base_url = Some("http://127.0.0.1:1/v1".into());
    s.set_lever(&conn_id("acme"), &lever).await.unwrap();
    let back = s.connection(&conn_id("acme")).await.unwrap().unwrap();
    assert_eq!(
        (back.lever, back.status),
        (lever.clone(), ConnectionStatus::Disabled),
        "set_lever writes only the Lever settings"
    );
    // A moved feed: the new URL, its validators forgotten (they were the old URL's), the rest kept.
    s.set_feed_url(&conn_id("acme"), "https://jobs.example/new.xml").await.unwrap();
    let moved = s.connection(&conn_id("acme")).await.unwrap().unwrap();
    assert_eq!(moved.feed_url, "https://jobs.example/new.xml");
    assert_eq!((moved.feed.etag.as_deref(), moved.feed.last_modified.as_deref()), (None, None));
    assert_eq!((moved.feed.active_peaks.clone(), moved.lever.clone()), (vec![(1_699_999_200_000, 12)], lever));
    assert!(matches!(
        s.set_feed_url(&conn_id("nobody"), "https://x.example/f").await,
        Err(StoreError::NotFound { .. })
    ));

    // Mappings: insert-only when no version is expected, then optimistic versions.
    let m = s.upsert_mapping(mapping("acme", "p1"), None).await.unwrap();
    assert_eq!(m.version, 1);
    assert!(matches!(s.upsert_mapping(mapping("acme", "p1"), None).await, Err(StoreError::Conflict { .. })));
    let mut changed = m.clone();
    changed.status = MappingStatus::Closed;
    let m2 = s.upsert_mapping(changed, Some(1)).await.unwrap();
    assert_eq!(m2.version, 2);
    assert!(
        matches!(s.upsert_mapping(m.clone(), Some(1)).await, Err(StoreError::Conflict { .. })),
        "a stale version loses"
    );
    assert_eq!(s.mapping(&conn_id("acme"), &m.posting_id).await.unwrap().unwrap(), m2);
    for i in 0..30 {
        s.upsert_mapping(mapping("acme", &format!("q{i:02}")), None).await.unwrap();
    }
    s.upsert_mapping(mapping("beta", "p1"), None).await.unwrap();
    assert_eq!(s.mappings(&conn_id("acme")).await.unwrap().len(), 31);
    assert_eq!(s.mappings(&conn_id("beta")).await.unwrap().len(), 1, "connections never see each other's jobs");

    // Runs: newest first, limited, round-trip intact.
    for at in [1_000, 3_000, 2_000] {
        s.record_run(&run("acme", at)).await.unwrap();
    }
    let runs = s.runs(&conn_id("acme"), 2).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.started_at_ms).collect::<Vec<_>>(), [3_000, 2_000]);
    assert_eq!(runs[0], run("acme", 3_000));
    assert!(s.runs(&conn_id("beta"), 5).await.unwrap().is_empty());
}

fn delivery(c: &str, id: &str, at: i64, status: DeliveryStatus) -> Delivery {
    Delivery {
        connection: conn_id(c),
        webhook_id: id.into(),
        received_at_ms: at,
        status,
        event_type: Some("candidate.screening_passed".into()),
        natural_key: Some("cand#job".into()),
        body: br#"{"type":"candidate.screening_passed"}"#.to_vec(),
        opportunity_id: None,
        opportunity_url: None,
        reason: None,
        attempts: 0,
        updated_at_ms: at,
        expires_at: None,
    }
}

async fn webhook_contract<S: WebhookStore + LeaseStore + MappingStore>(s: &S) {
    let c = conn_id("acme");
    // Deliveries: inserted once; a second insert returns the first.
    let d1 = delivery("acme", "msg_1", 1_000, DeliveryStatus::Received);
    assert_eq!(s.insert_delivery(&d1).await.unwrap(), None);
    let again = delivery("acme", "msg_1", 9_999, DeliveryStatus::Received);
    assert_eq!(s.insert_delivery(&again).await.unwrap(), Some(d1.clone()));
    s.insert_delivery(&delivery("acme", "msg_2", 2_000, DeliveryStatus::Rejected)).await.unwrap();
    s.insert_delivery(&delivery("beta", "msg_3", 3_000, DeliveryStatus::Received)).await.unwrap();
    let mut done = d1.clone();
    done.status = DeliveryStatus::Completed;
    done.opportunity_id = Some("opp_1".into());
    s.update_delivery(&done).await.unwrap();
    assert_eq!(s.delivery(&c, "msg_1").await.unwrap().unwrap(), done);
    let ids = |v: DeliveryPage| v.items.into_iter().map(|d| d.webhook_id).collect::<Vec<_>>();
    assert_eq!(ids(s.deliveries(&c, DeliveryStatus::Completed, 10, None).await.unwrap()), ["msg_1"]);
    assert_eq!(ids(s.deliveries(&c, DeliveryStatus::Rejected, 10, None).await.unwrap()), ["msg_2"]);
    assert_eq!(ids(s.deliveries(&c, DeliveryStatus::Received, 10, None).await.unwrap()), Vec::<String>::new());
    assert_eq!(ids(s.deliveries(&conn_id("beta"), DeliveryStatus::Received, 10, None).await.unwrap()), ["msg_3"]);

    // Paginated at the store: pages of 10, newest first, each delivery once, nothing of another
    // connection or status, and a cursor that resumes exactly.
    for i in 0..25 {
        s.insert_delivery(&delivery("paged", &format!("p{i:02}"), 10_000 + i / 2, DeliveryStatus::Pending))
            .await
            .unwrap();
    }
    s.insert_delivery(&delivery("paged", "other", 20_000, DeliveryStatus::Failed)).await.unwrap();
    s.insert_delivery(&delivery("paged-2", "p99", 20_000, DeliveryStatus::Pending)).await.unwrap();
    let (mut seen, mut after, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = s.deliveries(&conn_id("paged"), DeliveryStatus::Pending, 10, after.as_ref()).await.unwrap();
        assert!(page.items.len() <= 10);
        pages += 1;
        seen.extend(page.items.iter().map(|d| (d.received_at_ms, d.webhook_id.clone())));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
        assert!(pages < 10, "the listing ends");
    }
    let mut want: Vec<(i64, String)> = (0..25).map(|i| (10_000 + i / 2, format!("p{i:02}"))).collect();
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, want, "newest first, each once");
    assert!((3..=4).contains(&pages), "{pages} pages");
    assert!(matches!(
        s.update_delivery(&delivery("acme", "nope", 1, DeliveryStatus::Failed)).await,
        Err(StoreError::NotFound { .. })
    ));

    // Claims: one live owner; expired leases are taken over with a higher attempt; done is final.
    assert_eq!(s.claim_screening(&c, "c1#j1", "a", 100, 200).await.unwrap(), Claim::Acquired { attempt: 1 });
    assert_eq!(s.claim_screening(&c, "c1#j1", "b", 150, 250).await.unwrap(), Claim::Busy { until_ms: 200 });
    assert_eq!(s.claim_screening(&c, "c1#j1", "b", 201, 300).await.unwrap(), Claim::Acquired { attempt: 2 });
    s.end_claim(&c, "c1#j1", "a", ClaimEnd::Done { opportunity_id: "stale".into() }).await.unwrap();
    assert_eq!(
        s.claim_screening(&c, "c1#j1", "c", 250, 400).await.unwrap(),
        Claim::Busy { until_ms: 300 },
        "a lost owner's end is ignored"
    );
    s.end_claim(&c, "c1#j1", "b", ClaimEnd::Release).await.unwrap();
    assert_eq!(
        s.claim_screening(&c, "c1#j1", "c", 250, 400).await.unwrap(),
        Claim::Acquired { attempt: 3 },
        "released: free again"
    );
    s.end_claim(&c, "c1#j1", "c", ClaimEnd::Done { opportunity_id: "opp_9".into() }).await.unwrap();
    assert_eq!(
        s.claim_screening(&c, "c1#j1", "d", 999, 2000).await.unwrap(),
        Claim::Done { opportunity_id: "opp_9".into() }
    );
    assert_eq!(
        s.claim_screening(&conn_id("beta"), "c1#j1", "e", 0, 10).await.unwrap(),
        Claim::Acquired { attempt: 1 },
        "per connection"
    );

    // Leases.
    assert!(s.try_lease(&c, "refresh", "x", 0, 100).await.unwrap());
    assert!(!s.try_lease(&c, "refresh", "y", 50, 150).await.unwrap());
    assert!(s.try_lease(&c, "refresh", "x", 60, 160).await.unwrap(), "the holder may extend");
    s.release_lease(&c, "refresh", "y").await.unwrap();
    assert!(!s.try_lease(&c, "refresh", "y", 70, 170).await.unwrap(), "only the holder releases");
    s.release_lease(&c, "refresh", "x").await.unwrap();
    assert!(s.try_lease(&c, "refresh", "y", 70, 170).await.unwrap());
    assert!(s.try_lease(&c, "refresh", "z", 171, 300).await.unwrap(), "an expired lease is free");

    // Mappings are found by XOR's job id.
    s.upsert_mapping(mapping("acme", "post-7"), None).await.unwrap();
    let m = s.mapping_by_xor_job(&c, "xj_post-7").await.unwrap().unwrap();
    assert_eq!(m.posting_id.as_str(), "post-7");
    assert!(s.mapping_by_xor_job(&conn_id("beta"), "xj_post-7").await.unwrap().is_none());
}

async fn secret_contract<S: SecretStore>(s: &S) {
    assert!(s.app_secret("lever-app").await.unwrap().is_none());
    s.put_app_secret("lever-app", &SecretString::new("{}")).await.unwrap();
    assert_eq!(s.app_secret("lever-app").await.unwrap().unwrap().expose(), "{}");
    let c = conn_id("acme");
    assert!(s.secret(&c, "xor-api-key").await.unwrap().is_none());
    // Writing a value never creates a secret (the functions may only write): the operator creates.
    let missing = s.put_secret(&c, "xor-api-key", &SecretString::new("k0")).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");
    s.create_secret(&c, "xor-api-key", Some(&SecretString::new("k1"))).await.unwrap();
    s.put_secret(&c, "xor-api-key", &SecretString::new("k2")).await.unwrap();
    assert_eq!(s.secret(&c, "xor-api-key").await.unwrap().unwrap().expose(), "k2");
    assert!(s.secret(&conn_id("beta"), "xor-api-key").await.unwrap().is_none());
    // Created without a value (the Lever token pair before any authorization): no value yet.
    s.create_secret(&c, "lever-oauth", None).await.unwrap();
    assert!(s.secret(&c, "lever-oauth").await.unwrap().is_none());
    s.put_secret(&c, "lever-oauth", &SecretString::new("{}")).await.unwrap();
    assert_eq!(s.secret(&c, "lever-oauth").await.unwrap().unwrap().expose(), "{}");
    s.create_secret(&c, "lever-oauth", None).await.unwrap();
    assert_eq!(s.secret(&c, "lever-oauth").await.unwrap().unwrap().expose(), "{}", "re-creating keeps the value");
}

async fn invitation_contract<S: InvitationStore>(s: &S) {
    let c = conn_id("acme");
    let inv = Invitation::new(c.clone(), "tok-1", 1_000, 7);
    s.put_invitation(&inv).await.unwrap();
    assert_eq!(s.invitation(&c, &inv.token_hash).await.unwrap().as_ref(), Some(&inv));
    assert!(s.invitation(&conn_id("beta"), &inv.token_hash).await.unwrap().is_none(), "bound to its connection");
    assert!(!s.use_invitation(&conn_id("beta"), &inv.token_hash, 2_000).await.unwrap());
    let late = inv.expires_at_ms;
    assert!(!s.use_invitation(&c, &inv.token_hash, late).await.unwrap(), "an expired one cannot be used");
    assert!(s.use_invitation(&c, &inv.token_hash, 2_000).await.unwrap());
    assert!(!s.use_invitation(&c, &inv.token_hash, 2_001).await.unwrap(), "single use");
    let used = s.invitation(&c, &inv.token_hash).await.unwrap().unwrap();
    assert_eq!((used.used_at_ms, used.state(2_002)), (Some(2_000), InvitationState::Used));
    // Revoking voids every live one of the connection, and nothing of another.
    let (a, b) = (Invitation::new(c.clone(), "tok-a", 3_000, 7), Invitation::new(c.clone(), "tok-b", 3_000, 7));
    let other = Invitation::new(conn_id("beta"), "tok-c", 3_000, 7);
    for i in [&a, &b, &other] {
        s.put_invitation(i).await.unwrap();
    }
    assert_eq!(s.revoke_invitations(&c, 4_000).await.unwrap(), 2, "the used one is not counted");
    assert!(!s.use_invitation(&c, &a.token_hash, 4_001).await.unwrap());
    assert!(s.use_invitation(&conn_id("beta"), &other.token_hash, 4_001).await.unwrap());
}

fn link(c: &str, opp: &str) -> CandidateLink {
    CandidateLink {
        connection: conn_id(c),
        opportunity_id: opp.into(),
        candidate_id: "cand_1".into(),
        job_id: "job_1".into(),
        webhook_id: "msg_1".into(),
        created_at_ms: 1_000,
        outcome: None,
        outcome_at_ms: None,
        erased_at_ms: None,
    }
}

async fn candidate_contract<S: CandidateStore + WebhookStore>(s: &S) {
    let (c, beta) = (conn_id("acme"), conn_id("beta"));
    // Links: read back as written, a second write replaces the first, one connection's only.
    let l = link("acme", "opp_1");
    s.put_link(&l).await.unwrap();
    assert_eq!(s.link(&c, "opp_1").await.unwrap(), Some(l.clone()));
    assert!(s.link(&c, "opp_unknown").await.unwrap().is_none());
    let hired = CandidateLink { outcome: Some("hired".into()), outcome_at_ms: Some(2_000), ..l.clone() };
    s.put_link(&hired).await.unwrap();
    assert_eq!(s.link(&c, "opp_1").await.unwrap(), Some(hired), "a whole-item write");
    assert!(s.link(&beta, "opp_1").await.unwrap().is_none(), "per connection");

    // Tombstones, found by the hashed candidate id, per connection.
    let key = tombstone_key(&c, "cand_1");
    assert!(s.tombstone(&c, &key).await.unwrap().is_none());
    let t = Tombstone { connection: c.clone(), key: key.clone(), erased_at_ms: 3_000, by: "operator".into() };
    s.put_tombstone(&t).await.unwrap();
    assert_eq!(s.tombstone(&c, &key).await.unwrap(), Some(t));
    assert!(s.tombstone(&beta, &key).await.unwrap().is_none(), "per connection");

    // Erasing a body keeps the record (status, ids, outcome), body empty.
    let mut d = delivery("acme", "msg_1", 1_000, DeliveryStatus::Completed);
    d.opportunity_id = Some("opp_1".into());
    assert!(!d.body.is_empty());
    s.insert_delivery(&d).await.unwrap();
    assert!(s.erase_body(&c, "msg_1").await.unwrap());
    let erased = s.delivery(&c, "msg_1").await.unwrap().unwrap();
    assert_eq!(erased, Delivery { body: Vec::new(), ..d.clone() });
    assert!(s.erase_body(&c, "msg_1").await.unwrap(), "erasing again is harmless");
    assert!(!s.erase_body(&c, "msg_unknown").await.unwrap());
    assert!(!s.erase_body(&beta, "msg_1").await.unwrap(), "per connection");
    assert!(s.delivery(&beta, "msg_1").await.unwrap().is_none(), "nothing created");

    // A processor that read the delivery before the erasure writes its outcome after it: the
    // outcome lands, the body does not come back.
    let mut late = d.clone();
    late.set_status(DeliveryStatus::Failed, 5_000, 90);
    late.reason = Some("late".into());
    s.update_delivery(&late).await.unwrap();
    let after = s.delivery(&c, "msg_1").await.unwrap().unwrap();
    assert_eq!(after, Delivery { body: Vec::new(), ..late.clone() }, "the erasure holds");
    // And a delivery never erased keeps its body through an update.
    let mut kept = delivery("acme", "msg_2", 2_000, DeliveryStatus::Pending);
    s.insert_delivery(&kept).await.unwrap();
    kept.set_status(DeliveryStatus::Completed, 6_000, 90);
    s.update_delivery(&kept).await.unwrap();
    assert_eq!(s.delivery(&c, "msg_2").await.unwrap().unwrap(), kept);
    // A listing from a position that is no delivery's (the body retention's cutoff): older only.
    let cut = DeliveryCursor { received_at_ms: 1_500, webhook_id: String::new() };
    let older = s.deliveries(&c, DeliveryStatus::Failed, 10, Some(&cut)).await.unwrap();
    assert_eq!(older.items.iter().map(|d| d.webhook_id.as_str()).collect::<Vec<_>>(), ["msg_1"]);
    let none = s.deliveries(&c, DeliveryStatus::Completed, 10, Some(&cut)).await.unwrap();
    assert!(none.items.is_empty(), "msg_2 is newer than the cutoff");
}

async fn filter_of<S: ConnectionStore>(s: &S, id: &ConnectionId) -> JobFilter {
    s.connection(id).await.unwrap().unwrap().job_filter
}

/// The job filter is written on its own and optimistically (two people editing the section at
/// once: the later save must not silently undo the earlier), and the connection's other
/// writers never touch it.
async fn job_filter_contract<S: ConnectionStore>(s: &S) {
    let id = conn_id("acme");
    s.create_connection(&Connection::new(id.clone(), "http://feed".into(), "http://xor".into(), 1)).await.unwrap();
    assert_eq!(filter_of(s, &id).await, JobFilter::default(), "never set: the default, version 0");

    let mut f = JobFilter::default();
    f.rules.include.insert(Dimension::Team, ["Field Ops".to_owned()].into());
    f.switches.insert("p1".into(), Switch { on: false, by: "grace@acme.example".into(), at_ms: 1 });
    f.changed("grace@acme.example", 1, "team Field Ops included");
    assert_eq!(f.version, 1);
    s.set_job_filter(&id, &f).await.unwrap();
    assert_eq!(filter_of(s, &id).await, f);
    let listed = s.connections().await.unwrap().into_iter().find(|c| c.id == id).unwrap();
    assert_eq!(listed.job_filter, f, "connections() reads the filter written too");

    // The stored version is 1: only version 2 may follow it.
    let again = s.set_job_filter(&id, &f).await;
    assert!(
        matches!(&again, Err(StoreError::Conflict { what }) if what == "job filter of connection acme"),
        "the same version again is a stale write: {again:?}"
    );
    let skipped = JobFilter { version: 3, ..f.clone() };
    assert!(matches!(s.set_job_filter(&id, &skipped).await, Err(StoreError::Conflict { .. })), "a skipped version");
    let mut f2 = f.clone();
    f2.rules.exclude.insert(Dimension::Title, ["VP".to_owned()].into());
    f2.changed("ada@acme.example", 2, "title VP excluded");
    s.set_job_filter(&id, &f2).await.unwrap();
    assert_eq!(filter_of(s, &id).await, f2);
    let unknown = s.set_job_filter(&conn_id("nobody"), &f).await;
    assert!(
        matches!(&unknown, Err(StoreError::NotFound { what }) if what == "connection nobody"),
        "an unknown connection: {unknown:?}"
    );
    assert!(s.connection(&conn_id("nobody")).await.unwrap().is_none(), "nothing created");

    // The connection's other writes keep the filter.
    s.set_status(&id, ConnectionStatus::Disabled).await.unwrap();
    let lever = LeverSettings { perform_as: Some("usr_1".into()), ..LeverSettings::default() };
    s.set_lever(&id, &lever).await.unwrap();
    s.set_feed_state(&id, &FeedState { last_run_clean: true, ..FeedState::default() }).await.unwrap();
    s.set_feed_url(&id, "https://jobs.example/new.xml").await.unwrap();
    let back = s.connection(&id).await.unwrap().unwrap();
    assert_eq!((back.job_filter, back.status, back.lever), (f2, ConnectionStatus::Disabled, lever));
}

/// A catalog entry as a feed of many postings has them: a ~100-character title, some optional
/// fields set and some not (an absent one must read back absent, not empty).
fn catalog_entry(i: usize) -> CatalogEntry {
    let every_tenth = |v: &str| (i % 10 == 0).then(|| v.to_owned());
    CatalogEntry {
        id: format!("p-{i}"),
        title: format!("Senior field service technician, heavy equipment and hydraulics, night rotation #{i:05}"),
        team: Some(format!("Field Ops {}", i % 7)),
        department: every_tenth("Operations"),
        city: Some(if i % 2 == 0 { "São Paulo" } else { "Berlin" }.to_owned()),
        country: every_tenth("BR"),
        workplace: every_tenth("hybrid"),
        commitment: every_tenth("Full-time"),
    }
}

/// A catalog is replaced whole, read back in order, per connection. 2,500 entries: more than
/// one DynamoDB item holds, so the chunked write and read (three chunks) are exercised.
async fn catalog_contract<S: CatalogStore>(s: &S) {
    let (c, beta) = (conn_id("acme"), conn_id("beta"));
    assert!(s.catalog(&c).await.unwrap().is_empty(), "never written: empty");

    let big: Vec<CatalogEntry> = (0..2_500).map(catalog_entry).collect();
    s.put_catalog(&c, &big).await.unwrap();
    let back = s.catalog(&c).await.unwrap();
    assert_eq!(back.len(), big.len());
    let first_difference = back.iter().zip(&big).position(|(a, b)| a != b);
    assert!(first_difference.is_none(), "read back equal and in order: entry {first_difference:?} differs");
    assert!(s.catalog(&beta).await.unwrap().is_empty(), "per connection");

    // A smaller catalog replaces the larger one: nothing of the old one is read any more.
    let small = vec![catalog_entry(7), catalog_entry(3), CatalogEntry { id: "p-x".into(), ..CatalogEntry::default() }];
    s.put_catalog(&c, &small).await.unwrap();
    assert_eq!(s.catalog(&c).await.unwrap(), small);

    let other = vec![catalog_entry(42)];
    s.put_catalog(&beta, &other).await.unwrap();
    assert_eq!(s.catalog(&beta).await.unwrap(), other);
    assert_eq!(s.catalog(&c).await.unwrap(), small, "another connection's write leaves this one alone");

    // An empty feed read is a catalog too: it replaces the last one.
    s.put_catalog(&beta, &[]).await.unwrap();
    assert!(s.catalog(&beta).await.unwrap().is_empty());
}

/// Twenty attempts at one screening's claim at once: exactly one holds it.
async fn concurrent_claim_contract<S: WebhookStore + 'static>(s: std::sync::Arc<S>) {
    let c = conn_id("race");
    let tries = (0..20).map(|i| {
        let (s, c) = (s.clone(), c.clone());
        tokio::spawn(async move { s.claim_screening(&c, "cand#job", &format!("owner-{i}"), 1_000, 60_000).await })
    });
    let claims: Vec<Claim> = futures::future::join_all(tries).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    let acquired = claims.iter().filter(|c| matches!(c, Claim::Acquired { .. })).count();
    assert_eq!(acquired, 1, "{claims:?}");
    assert!(claims.iter().all(|c| matches!(c, Claim::Acquired { attempt: 1 } | Claim::Busy { until_ms: 60_000 })));
}

/// One test per (store, contract case): a failure names both, and the other cases still run.
macro_rules! store_contract {
    ($store:ident, $make:expr) => {
        mod $store {
            use super::*;

            #[tokio::test]
            async fn mappings_connections_and_runs() {
                contract(&$make).await;
            }
            #[tokio::test]
            async fn deliveries_claims_leases_and_pages() {
                webhook_contract(&$make).await;
            }
            #[tokio::test]
            async fn invitations() {
                invitation_contract(&$make).await;
            }
            #[tokio::test]
            async fn candidate_links_tombstones_and_erasure() {
                candidate_contract(&$make).await;
            }
            #[tokio::test]
            async fn job_filters() {
                job_filter_contract(&$make).await;
            }
            #[tokio::test]
            async fn catalogs() {
                catalog_contract(&$make).await;
            }
        }
    };
}

store_contract!(memory, MemoryStore::new());
store_contract!(sqlite, SqliteStore::in_memory().unwrap());
store_contract!(dynamodb, moto::dynamo_store().await);

// The race itself. DynamoDB states the claim rule as one conditional write, which DynamoDB
// serializes per item; moto's threaded server does not (seen: two of twenty simultaneous
// conditional updates of a new item both succeeded), so the suite serves moto one request at a
// time (`infra/scripts/moto-server`), which keeps DynamoDB's guarantee.
#[tokio::test]
async fn dynamodb_concurrent_claims() {
    concurrent_claim_contract(std::sync::Arc::new(moto::dynamo_store().await)).await;
}
#[tokio::test]
async fn memory_concurrent_claims() {
    concurrent_claim_contract(std::sync::Arc::new(MemoryStore::new())).await;
}
#[tokio::test]
async fn sqlite_concurrent_claims() {
    concurrent_claim_contract(std::sync::Arc::new(SqliteStore::in_memory().unwrap())).await;
}

macro_rules! secret_store_contract {
    ($store:ident, $make:expr) => {
        mod $store {
            use super::*;

            #[tokio::test]
            async fn secrets() {
                secret_contract(&$make).await;
            }
        }
    };
}

secret_store_contract!(memory_secrets, MemoryStore::new());
secret_store_contract!(sqlite_secrets, SqliteStore::in_memory().unwrap());
secret_store_contract!(secrets_manager, moto::secrets_store().await);

#[tokio::test]
async fn sqlite_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = SqliteStore::open_dir(dir.path()).unwrap();
        contract(&s).await;
    }
    let reopened = SqliteStore::open_dir(dir.path()).unwrap();
    assert_eq!(reopened.mappings(&conn_id("acme")).await.unwrap().len(), 31, "state survives a restart");
}

#[tokio::test]
async fn dynamodb_reads_more_than_one_page_of_mappings() {
    let s = moto::dynamo_store_patient().await;
    // ~1 KB items: a connection's mappings past DynamoDB's 1 MB page come back whole.
    let mut m = mapping("big", "x");
    m.title = "t".repeat(1000);
    for i in 0..1200 {
        let mut mi = m.clone();
        mi.posting_id = PostingId::parse(&format!("p{i:05}")).unwrap();
        s.upsert_mapping(mi, None).await.unwrap();
    }
    assert_eq!(s.mappings(&conn_id("big")).await.unwrap().len(), 1200);
}

#[tokio::test]
async fn secrets_manager_names_secrets_under_the_prefix() {
    let s = moto::secrets_store().await;
    assert!(s.name(&conn_id("acme"), "xor-api-key").ends_with("acme/xor-api-key"));
}
