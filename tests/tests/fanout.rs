//! The sync's fan-out (usecases::turns) on moto's DynamoDB and SQS through the real SDK, with the
//! XOR sandbox over HTTP: the dispatcher's one pass over thousands of connections, the worker's
//! handler on real SQS event JSON, a sync continued across invocations, and duplicate turns.
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::stream::{self, StreamExt};
use xor_lever_sandbox::feeds::feed;
use xor_lever_sandbox::harness::{App, StoreKind, spawn_app};
use xor_lever_sandbox::moto;
use xor_lever_shared::adapters::sqs::SqsQueue;
use xor_lever_shared::domain::queue::{SyncTurn, TurnReason};
use xor_lever_shared::domain::{Connection, ConnectionId, ConnectionStatus, ConnectionStore, RunOutcome};
use xor_lever_shared::usecases::turns::{TurnDeps, TurnOutcome, dispatch, take_turn};
use xor_lever_shared::usecases::{SyncOptions, now_ms};

/// Counts the SQS calls the adapter makes (an SDK interceptor: what went over the wire).
#[derive(Debug, Clone, Default)]
struct Calls(Arc<AtomicUsize>);

impl aws_sdk_sqs::config::Intercept for Calls {
    fn name(&self) -> &'static str {
        "count-calls"
    }
    fn read_before_execution(
        &self,
        _: &aws_sdk_sqs::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_sqs::config::ConfigBag,
    ) -> Result<(), aws_sdk_sqs::error::BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn counted_queue(url: &str) -> (SqsQueue, Calls) {
    queue_with(url, None).await
}

/// The SQS adapter on `url`, its calls counted, and with `refuse` refusing entries when given.
async fn queue_with(url: &str, refuse: Option<RefuseEntry>) -> (SqsQueue, Calls) {
    let calls = Calls::default();
    let sdk = xor_lever_shared::config::aws_sdk_config().await;
    let mut conf = aws_sdk_sqs::config::Builder::from(&sdk).interceptor(calls.clone());
    if let Some(refuse) = refuse {
        conf = conf.interceptor(refuse);
    }
    (SqsQueue::new(aws_sdk_sqs::Client::from_conf(conf.build()), url), calls)
}

async fn turn_deps(app: &App, queue: SqsQueue) -> TurnDeps {
    app.turn_deps(Arc::new(queue)).await
}

fn turns_of(messages: &[(String, String)]) -> Vec<SyncTurn> {
    messages.iter().map(|(_, b)| serde_json::from_str(b).unwrap()).collect()
}

/// The dispatcher's one pass over 2,500 connections (and 20 revoked) in moto's DynamoDB: the
/// index is read page by page (two pages here), every connection gets one turn, none twice. The turns go to the in-process queue: moto's SQS slows down with every
/// message it holds (measured: 2,500 sends take 110 s, each receive of 10 then 2.6 s), so SQS's
/// side (batches of 10, every turn received once) is proven below with 95 turns.
#[tokio::test(flavor = "multi_thread")]
async fn the_dispatcher_sends_each_of_2500_connections_once() {
    // The SDK's own timeouts, not the functions' 4 s per call: moto reads a 1 MB page of the
    // index in about a second where DynamoDB takes milliseconds, more so beside the other tests.
    let sdk = xor_lever_shared::config::aws_sdk_config().await;
    let table = xor_lever_shared::adapters::dynamodb::DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        format!("xor-lever-fanout-{:016x}", fastrand::u64(..)),
    );
    table.create_table().await.unwrap();
    let connected: BTreeSet<String> = (0..2500).map(|i| format!("c{i:04}")).collect();
    let revoked: Vec<String> = (0..20).map(|i| format!("r{i:02}")).collect();
    let all: Vec<(String, ConnectionStatus)> = connected
        .iter()
        .map(|id| (id.clone(), ConnectionStatus::Connected))
        .chain(revoked.iter().map(|id| (id.clone(), ConnectionStatus::Revoked)))
        .collect();
    let table = &table;
    stream::iter(all)
        .for_each_concurrent(16, |(id, status)| async move {
            let mut c =
                Connection::new(ConnectionId::parse(&id).unwrap(), "http://feed".into(), "http://xor".into(), 0);
            c.status = status;
            table.create_connection(&c).await.unwrap();
        })
        .await;
    let queue = xor_lever_shared::adapters::local_queue::LocalQueue::new();

    let r = dispatch(table, &*queue).await.unwrap();
    // Every connection gets a turn; the revoked ones are reported as skipped (their turn only
    // looks after their waiting deliveries).
    assert_eq!((r.sent, r.skipped.len()), (2520, 20));
    assert!(r.skipped.iter().all(|s| s.status == ConnectionStatus::Revoked));
    let mut got = Vec::new();
    while let Some(t) = queue.next().await {
        got.push(t);
        queue.finished();
    }
    let sent: BTreeSet<String> = got.iter().map(|t| t.connection.to_string()).collect();
    let mut every = connected.clone();
    every.extend(revoked.iter().cloned());
    assert_eq!(got.len(), 2520, "no connection sent twice");
    assert_eq!(sent, every, "no connection missed");
    assert!(got.iter().all(|t| t.reason == TurnReason::Schedule && t.invocation == 1 && !t.force));
}

/// The SQS adapter on moto's SQS: 95 turns in 10 `SendMessageBatch` calls (SQS takes 10 at
/// most), each turn received once, the body a turn; a queue that does not exist refuses every
/// turn, and the error names them all.
#[tokio::test(flavor = "multi_thread")]
async fn turns_go_to_sqs_in_batches_of_ten_each_once() {
    let url = moto::plain_sync_queue().await;
    let (queue, calls) = counted_queue(&url).await;
    let turns: Vec<SyncTurn> = (0..95)
        .map(|i| SyncTurn::new(ConnectionId::parse(&format!("q{i:02}")).unwrap(), TurnReason::Schedule))
        .collect();
    xor_lever_shared::domain::queue::SyncQueue::send(&queue, &turns, 0).await.unwrap();
    assert_eq!(calls.0.load(Ordering::SeqCst), 10, "9 batches of 10 and one of 5");
    let got = turns_of(&moto::drain(&moto::sqs_client().await, &url).await);
    assert_eq!(got.len(), 95);
    assert_eq!(got.iter().map(|t| t.connection.to_string()).collect::<BTreeSet<_>>().len(), 95);

    let (gone, _) = counted_queue(&format!("{url}-deleted")).await;
    let err = xor_lever_shared::domain::queue::SyncQueue::send(&gone, &turns[..12], 0).await.unwrap_err();
    assert_eq!(err.connections.len(), 12, "{err}");
}

/// SQS refusing one connection's entry in a batch it otherwise took (`Failed` in a 200 answer):
/// an SDK interceptor replaces the entry's body with `REFUSED` before it is sent (so no turn of
/// it reaches the queue, and the request is never empty, which SQS refuses as a whole), and
/// answers for it as SQS does (`InternalError`, not the sender's fault). The first `refusals`
/// calls that carry it are treated so; later calls go through untouched.
#[derive(Debug, Clone)]
struct RefuseEntry {
    connection: &'static str,
    refusals: Arc<AtomicUsize>,
    /// SQS's `SenderFault`: true for a body SQS will never take.
    sender_fault: bool,
    /// The entry id refused in the call under way.
    refused_now: Arc<std::sync::Mutex<Option<String>>>,
}

impl RefuseEntry {
    fn new(connection: &'static str, refusals: usize) -> Self {
        Self {
            connection,
            refusals: Arc::new(AtomicUsize::new(refusals)),
            sender_fault: false,
            refused_now: Default::default(),
        }
    }
    fn senders_fault(self) -> Self {
        Self { sender_fault: true, ..self }
    }
}

impl aws_sdk_sqs::config::Intercept for RefuseEntry {
    fn name(&self) -> &'static str {
        "refuse-entry"
    }
    fn modify_before_serialization(
        &self,
        ctx: &mut aws_sdk_sqs::config::interceptors::BeforeSerializationInterceptorContextMut<'_>,
        _: &aws_sdk_sqs::config::RuntimeComponents,
        _: &mut aws_sdk_sqs::config::ConfigBag,
    ) -> Result<(), aws_sdk_sqs::error::BoxError> {
        use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchInput;
        let mut refused = self.refused_now.lock().unwrap();
        *refused = None;
        if self.refusals.load(Ordering::SeqCst) == 0 {
            return Ok(());
        }
        if let Some(input) = ctx.input_mut().downcast_mut::<SendMessageBatchInput>()
            && let Some(entries) = input.entries.as_mut()
        {
            let turn = |e: &aws_sdk_sqs::types::SendMessageBatchRequestEntry| {
                serde_json::from_str::<SyncTurn>(e.message_body()).unwrap().connection.to_string()
            };
            if let Some(e) = entries.iter_mut().find(|e| turn(e) == self.connection) {
                *refused = Some(e.id().to_owned());
                *e = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(e.id())
                    .message_body(REFUSED)
                    .build()
                    .unwrap();
                self.refusals.fetch_sub(1, Ordering::SeqCst);
            }
        }
        Ok(())
    }
    fn modify_before_attempt_completion(
        &self,
        ctx: &mut aws_sdk_sqs::config::interceptors::FinalizerInterceptorContextMut<'_>,
        _: &aws_sdk_sqs::config::RuntimeComponents,
        _: &mut aws_sdk_sqs::config::ConfigBag,
    ) -> Result<(), aws_sdk_sqs::error::BoxError> {
        use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput;
        let Some(id) = self.refused_now.lock().unwrap().clone() else { return Ok(()) };
        if let Some(Ok(out)) = ctx.output_or_error_mut()
            && let Some(out) = out.downcast_mut::<SendMessageBatchOutput>()
        {
            out.successful.retain(|ok| ok.id() != id);
            out.failed.push(
                aws_sdk_sqs::types::BatchResultErrorEntry::builder()
                    .id(id)
                    .code(if self.sender_fault { "InvalidMessageContents" } else { "InternalError" })
                    .sender_fault(self.sender_fault)
                    .message("refused by the test")
                    .build()
                    .unwrap(),
            );
        }
        Ok(())
    }
}

const REFUSED: &str = "REFUSED";

/// The turns in the queue, without the bodies the interceptor put in place of refused entries.
async fn turns_taken(url: &str) -> Vec<SyncTurn> {
    let got = moto::drain(&moto::sqs_client().await, url).await;
    turns_of(&got.into_iter().filter(|(_, body)| body != REFUSED).collect::<Vec<_>>())
}

/// An entry SQS refuses inside a batch it took is sent once more, alone: refused once, every turn
/// arrives exactly once; refused twice, the send fails naming that connection only, and the
/// batch's other turns and the next batches are sent all the same. An entry refused as the
/// sender's fault is not sent again (SQS would refuse it again).
#[tokio::test(flavor = "multi_thread")]
async fn an_entry_sqs_refuses_is_sent_again_once() {
    let turns: Vec<SyncTurn> = (0..15)
        .map(|i| SyncTurn::new(ConnectionId::parse(&format!("e{i:02}")).unwrap(), TurnReason::Schedule))
        .collect();

    // Refused once: sent again, alone.
    let url = moto::plain_sync_queue().await;
    let (queue, calls) = queue_with(&url, Some(RefuseEntry::new("e03", 1))).await;
    xor_lever_shared::domain::queue::SyncQueue::send(&queue, &turns, 0).await.unwrap();
    assert_eq!(calls.0.load(Ordering::SeqCst), 3, "the batch of 10, the refused entry again, the batch of 5");
    let got = turns_taken(&url).await;
    let ids: Vec<String> = got.iter().map(|t| t.connection.to_string()).collect();
    assert_eq!(ids.len(), 15, "{ids:?}");
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 15, "each turn once: {ids:?}");

    // Refused on both tries: the error names e03 alone; the 14 others are in the queue.
    let url = moto::plain_sync_queue().await;
    let (queue, calls) = queue_with(&url, Some(RefuseEntry::new("e03", 2))).await;
    let err = xor_lever_shared::domain::queue::SyncQueue::send(&queue, &turns, 0).await.unwrap_err();
    assert_eq!(err.connections.iter().map(|c| c.to_string()).collect::<Vec<_>>(), ["e03"], "{err}");
    assert!(err.to_string().contains("InternalError"), "{err}");
    assert_eq!(calls.0.load(Ordering::SeqCst), 3);
    let got = turns_taken(&url).await;
    assert_eq!(got.len(), 14);
    assert!(got.iter().all(|t| t.connection.to_string() != "e03"));

    // The sender's fault: no second try (2 calls), the error names e03, the 14 others are sent.
    let url = moto::plain_sync_queue().await;
    let (queue, calls) = queue_with(&url, Some(RefuseEntry::new("e03", 2).senders_fault())).await;
    let err = xor_lever_shared::domain::queue::SyncQueue::send(&queue, &turns, 0).await.unwrap_err();
    assert_eq!(err.connections.iter().map(|c| c.to_string()).collect::<Vec<_>>(), ["e03"], "{err}");
    assert!(err.to_string().contains("InvalidMessageContents"), "{err}");
    assert_eq!(calls.0.load(Ordering::SeqCst), 2, "the batch of 10 and the batch of 5, no retry");
    assert_eq!(turns_taken(&url).await.len(), 14);
}

/// A sync that runs out of time sends its continuation (delayed, invocation 2), and the
/// continuation finishes it: every posting in XOR once, the run record says 2 invocations.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_out_of_time_continues_in_the_next_turn() {
    let app = spawn_app(StoreKind::Aws, feed(0..40, "")).await;
    // XOR slow: each call answered after 200 ms, so 40 jobs take longer than the first turn's
    // second (the sync writes a few at a time).
    app.xor.set_config(xor_lever_sandbox::xor::Config { rate_limit_rps: 0.0, latency_ms: 200 });
    let url = moto::plain_sync_queue().await;
    let (queue, _) = counted_queue(&url).await;
    let deps = turn_deps(&app, queue).await;
    let first = SyncTurn::new(app.id.clone(), TurnReason::Schedule);
    let opts = SyncOptions {
        deadline: Some(tokio::time::Instant::now() + Duration::from_millis(1200)),
        call_reserve: Duration::from_millis(200),
        ..Default::default()
    };
    let out = take_turn(&deps, &first, &opts, now_ms() + 1200).await.unwrap();
    let TurnOutcome::Taken { report, continued, .. } = out else { panic!("{out:?}") };
    assert_eq!(report.run.outcome, RunOutcome::Partial, "{:?}", report.run);
    assert!(report.run.summary.deferred > 0 && continued, "{:?}", report.run.summary);
    let done_first = report.run.summary.created;

    // Delayed: not there at once, there after CONTINUE_DELAY_SECS.
    let sqs = moto::sqs_client().await;
    assert!(moto::drain(&sqs, &url).await.is_empty(), "the continuation is delayed");
    tokio::time::sleep(
        Duration::from_secs(xor_lever_shared::domain::queue::CONTINUE_DELAY_SECS.into()) + Duration::from_millis(500),
    )
    .await;
    let next = turns_of(&moto::drain(&sqs, &url).await);
    assert_eq!(next.len(), 1);
    assert_eq!((next[0].reason, next[0].invocation), (TurnReason::Continue, 2));

    app.xor.set_config(xor_lever_sandbox::xor::Config { rate_limit_rps: 0.0, latency_ms: 0 });
    let out = take_turn(&deps, &next[0], &SyncOptions::default(), now_ms() + 60_000).await.unwrap();
    let TurnOutcome::Taken { report, continued, .. } = out else { panic!("{out:?}") };
    assert_eq!((report.run.outcome.clone(), continued), (RunOutcome::Completed, false), "{:?}", report.run);
    assert_eq!(done_first + report.run.summary.created, 40);
    assert_eq!(app.active_xor_jobs().len(), 40);
    assert_eq!(app.xor.stats().writes, 40, "no job written twice");
    let runs = app.deps.runs.runs(&app.id, 2).await.unwrap();
    assert_eq!(runs[0].summary.invocation, 2, "the record says how many invocations it took");
    assert!(moto::drain(&sqs, &url).await.is_empty(), "nothing more to continue");
}

/// Duplicate turns for one connection (SQS delivers at least once; a continuation may meet the
/// schedule's turn): taken at once, one syncs and the other stands down; XOR sees one set of
/// writes, and a duplicate that comes after finds nothing to write.
#[tokio::test(flavor = "multi_thread")]
async fn duplicate_turns_make_one_set_of_xor_writes() {
    let app = spawn_app(StoreKind::Aws, feed(0..10, "")).await;
    let url = moto::plain_sync_queue().await;
    let (queue, _) = counted_queue(&url).await;
    let deps = turn_deps(&app, queue).await;
    let turn = SyncTurn::new(app.id.clone(), TurnReason::Schedule);
    let opts = SyncOptions::default();
    let (x, y) = tokio::join!(
        take_turn(&deps, &turn, &opts, now_ms() + 60_000),
        take_turn(&deps, &turn, &opts, now_ms() + 60_000)
    );
    let outcomes = [x.unwrap(), y.unwrap()];
    let taken = outcomes.iter().filter(|o| matches!(o, TurnOutcome::Taken { .. })).count();
    let busy = outcomes.iter().filter(|o| matches!(o, TurnOutcome::Busy { .. })).count();
    assert_eq!((taken, busy), (1, 1), "{outcomes:?}");
    assert_eq!(app.xor.stats().writes, 10);

    let again = take_turn(&deps, &turn, &opts, now_ms() + 60_000).await.unwrap();
    let TurnOutcome::Taken { report, .. } = again else { panic!("{again:?}") };
    assert_eq!(report.run.summary.created + report.run.summary.updated, 0, "{:?}", report.run);
    assert_eq!(app.xor.stats().writes, 10);
    assert_eq!(app.active_xor_jobs().len(), 10);
}

/// A turn that finds its connection busy: the schedule's stands down (the running sync does its
/// work), an operator's comes back later (its `--force` must not be lost), counted as a wait.
#[tokio::test(flavor = "multi_thread")]
async fn a_busy_connection_sends_an_operators_turn_back_and_drops_the_schedules() {
    let app = spawn_app(StoreKind::Aws, feed(0..2, "")).await;
    let url = moto::plain_sync_queue().await;
    let (queue, _) = counted_queue(&url).await;
    let deps = turn_deps(&app, queue).await;
    // Another worker is syncing this connection.
    let held = deps.leases.try_lease(
        &app.id,
        xor_lever_shared::usecases::turns::SYNC_LEASE,
        "other",
        now_ms(),
        now_ms() + 60_000,
    );
    assert!(held.await.unwrap());
    let schedule = SyncTurn::new(app.id.clone(), TurnReason::Schedule);
    let operator = SyncTurn { force: true, ..SyncTurn::new(app.id.clone(), TurnReason::Operator) };
    let opts = SyncOptions::default();
    let a = take_turn(&deps, &schedule, &opts, now_ms() + 60_000).await.unwrap();
    let b = take_turn(&deps, &operator, &opts, now_ms() + 60_000).await.unwrap();
    assert!(matches!(a, TurnOutcome::Busy { requeued: false, .. }), "{a:?}");
    assert!(matches!(b, TurnOutcome::Busy { requeued: true, .. }), "{b:?}");
    assert_eq!(app.xor.stats().writes, 0, "nothing synced under another's lease");
    // Sent again, delayed (BUSY_DELAY_SECS): one message, not yet visible.
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let attrs = moto::sqs_client()
        .await
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(A::ApproximateNumberOfMessagesDelayed)
        .attribute_names(A::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let n = |k: A| attrs.attributes().unwrap()[&k].parse::<u32>().unwrap();
    assert_eq!((n(A::ApproximateNumberOfMessagesDelayed), n(A::ApproximateNumberOfMessages)), (1, 0));
}

/// A revoked customer's turn syncs nothing but counts what waits for its Super Admin (the
/// deliveries-waiting alarm reads it), and the dispatcher sends it like any other.
#[tokio::test]
async fn a_revoked_connections_turn_counts_its_waiting_deliveries() {
    let app = xor_lever_sandbox::harness::spawn_webhook_app(StoreKind::Sqlite).await;
    app.lever.revoke();
    for i in 1..=2 {
        let body = serde_json::to_vec(&app.screening(&format!("cand_{i}"))).unwrap();
        let (st, v, _) = app.deliver(&format!("msg_{i}"), &body).await;
        assert_eq!((st, v["status"].as_str()), (503, Some("pending_reauth")), "{v}");
    }
    let queue = xor_lever_shared::adapters::local_queue::LocalQueue::new();
    let deps = TurnDeps {
        sync: app.sync_deps(),
        lever: Some(app.deps.clone()),
        leases: Arc::new(xor_lever_shared::adapters::memory::MemoryStore::new()),
        queue: queue.clone(),
    };
    let r = dispatch(&*deps.sync.connections, &*queue).await.unwrap();
    assert_eq!((r.sent, r.skipped.len()), (1, 1));
    let turn = queue.next().await.unwrap();
    let out = take_turn(&deps, &turn, &SyncOptions::default(), now_ms() + 60_000).await.unwrap();
    queue.finished();
    let TurnOutcome::Skipped { skipped, webhooks: Some(w) } = out else { panic!("{out:?}") };
    // Held for a person (the Super Admin's new authorization), not waiting on Lever: counted apart,
    // so one churned customer never keeps the deliveries-waiting alarm on.
    assert_eq!((skipped.status, w.held, w.still_waiting, w.replayed), (ConnectionStatus::Revoked, 2, 0, 0));
}

/// Lever ends an authorization a year after it was given: the dispatch names every connected
/// connection within 30 days of that (the `AuthorizationsExpiring` metric and its alarm), and no
/// other (a fresh authorization, one never given through the app, a revoked one).
#[tokio::test]
async fn the_dispatch_names_the_authorizations_that_end_within_30_days() {
    let app = xor_lever_sandbox::harness::spawn_webhook_app(StoreKind::Sqlite).await;
    let now_s = now_ms() / 1000;
    let mut c = app.setup.connections.connection(&app.id).await.unwrap().unwrap();
    for (id, authorized_days_ago, status) in [
        ("renew-soon", Some(340), ConnectionStatus::Connected),
        ("fresh", Some(10), ConnectionStatus::Connected),
        ("never", None, ConnectionStatus::Connected),
        ("gone", Some(360), ConnectionStatus::Revoked),
    ] {
        c.id = xor_lever_shared::domain::ConnectionId::parse(id).unwrap();
        c.status = status;
        c.lever.authorized_at = authorized_days_ago.map(|d: i64| now_s - d * 86_400);
        app.setup.connections.create_connection(&c).await.unwrap();
    }
    let queue = xor_lever_shared::adapters::local_queue::LocalQueue::new();
    let r = dispatch(&*app.setup.connections, &*queue).await.unwrap();
    assert_eq!(r.renewals_due, ["renew-soon"]);
}
