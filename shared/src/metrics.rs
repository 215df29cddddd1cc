//! Metrics as CloudWatch Embedded Metric Format (EMF) lines on stdout: CloudWatch Logs turns
//! each line into metrics, so the functions need no `cloudwatch:PutMetricData` and a metric is
//! never lost to a throttled API call. Both functions use this one type.
//!
//! Every line carries the `Stack` dimension (the stack's name, `STACK_NAME`): two stacks in one
//! account never mix their figures. A line about one connection is published under `Stack`
//! (the totals the alarms and the dashboard read) and its counters also under `Stack` +
//! `Connection` (cardinality: the number of customers, which is bounded).
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde_json::{Map, Value, json};

/// The namespace of every xor-lever metric.
pub const NAMESPACE: &str = "XorLever";

/// The enum and each variant's name, written once.
macro_rules! metric_names {
    ($($name:ident),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum Metric {
            $($name,)*
        }

        impl Metric {
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }
        }
    };
}

// Every metric xor-lever emits, by name: the one place that knows them (the dashboard, the
// alarms and docs/runbook.md read these; tests/tests/template.rs checks each one they read is
// here and emitted).
metric_names! {
    AuthorizationsExpiring,
    CandidatesErased,
    ColdStart,
    ConnectionsDispatched,
    ConnectionsSkipped,
    ConnectionsSynced,
    CreatesRepaired,
    CreatesUnanswered,
    DeliveriesCompleted,
    DeliveriesDuplicate,
    DeliveriesFailed,
    DeliveriesPending,
    DeliveriesPendingReauth,
    DeliveriesRejected,
    DurationMs,
    FeedBytes,
    FeedNotModified,
    FeedPostings,
    GuardTrips,
    InitMs,
    JobsClosed,
    JobsCreated,
    JobsDeferred,
    JobsFailed,
    JobsUpdated,
    LeverCalls,
    LeverCheckFailures,
    LeverEventsDropped,
    LeverEventsDuplicate,
    LeverEventsReceived,
    LeverEventsRecorded,
    LeverEventsRefused,
    LeverMs,
    LeverThrottled,
    ManualRuns,
    MappingsRepaired,
    OutcomesFailed,
    OutcomesForwarded,
    OutcomesWaiting,
    PostingsSkipped,
    ReportRenderMs,
    ResumeDownloadFailures,
    RevokedConnections,
    RunErrors,
    SyncFailed,
    SyncFailures,
    SyncRuns,
    TokenRefreshWaits,
    TokenRefreshes,
    TurnsBusy,
    TurnsContinued,
    TurnsFailed,
    TurnsSkipped,
    TurnsTaken,
    WebhookMs,
    WebhooksBusy,
    WebhooksHeld,
    WebhooksReceived,
    WebhooksReplayed,
    WebhooksUnsigned,
    WebhooksWaiting,
}

/// What one invocation counts as it goes (the Lever calls it made and their time, Lever's
/// 429s, token refreshes made and waited for, the report's render time, resumes that could not
/// be fetched, mappings repaired): task-local, so nothing is threaded through every call and
/// concurrent invocations never mix. Outside [`counted`], counting is a no-op.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub lever_calls: u32,
    pub lever_ms: u64,
    /// Time spent waiting on Lever, rate-limit waits included (benchmarks subtract it).
    pub lever_nanos: u64,
    pub lever_throttled: u32,
    pub token_refreshes: u32,
    pub refresh_waits: u32,
    pub report_ms: u64,
    pub resume_failures: u32,
    /// A screening's XOR job had no mapping, and XOR's word repaired it.
    pub mappings_repaired: u32,
    /// Candidates erased (Lever deleted them, or an operator asked).
    pub candidates_erased: u32,
    /// Lever events the sweep finished (sent to XOR, or nothing to send), failed for good, or
    /// left waiting (XOR or Lever unavailable).
    pub outcomes_forwarded: u32,
    pub outcomes_failed: u32,
    pub outcomes_waiting: u32,
}

tokio::task_local! {
    static COUNTERS: std::cell::RefCell<Counters>;
}

/// Runs `f` (one invocation) and returns what it counted.
pub async fn counted<F: std::future::Future>(f: F) -> (F::Output, Counters) {
    COUNTERS
        .scope(std::cell::RefCell::new(Counters::default()), async {
            let out = f.await;
            (out, COUNTERS.with(|c| *c.borrow()))
        })
        .await
}

/// Adds to the current invocation's counters.
pub fn count(f: impl FnOnce(&mut Counters)) {
    let _ = COUNTERS.try_with(|c| f(&mut c.borrow_mut()));
}

/// A CloudWatch unit (the subset used here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// One EMF line: a few metrics under one set of dimensions, and properties (searchable in Logs
/// Insights, not metrics: a run id, a webhook id).
#[derive(Debug, Clone)]
pub struct MetricLine {
    dimensions: Vec<(&'static str, String)>,
    metrics: BTreeMap<&'static str, (f64, Unit)>,
    properties: Map<String, Value>,
    /// When the figures were taken (default: when the line is emitted).
    at_ms: Option<i64>,
}

impl MetricLine {
    /// A line with the `Stack` dimension, and `Connection` when given.
    pub fn new(connection: Option<&str>) -> Self {
        let mut dimensions = vec![("Stack", stack_name())];
        if let Some(c) = connection {
            dimensions.push(("Connection", c.to_owned()));
        }
        Self { dimensions, metrics: BTreeMap::new(), properties: Map::new(), at_ms: None }
    }

    pub fn count(mut self, name: Metric, value: usize) -> Self {
        self.metrics.insert(name.as_str(), (value as f64, Unit::Count));
        self
    }

    pub fn millis(mut self, name: Metric, ms: u128) -> Self {
        self.metrics.insert(name.as_str(), (ms as f64, Unit::Milliseconds));
        self
    }

    pub fn bytes(mut self, name: Metric, bytes: u64) -> Self {
        self.metrics.insert(name.as_str(), (bytes as f64, Unit::Bytes));
        self
    }

    /// Stamps the line with `ms` (a run's start: its figures fall in the period it began).
    pub fn at(mut self, ms: i64) -> Self {
        self.at_ms = Some(ms);
        self
    }

    pub fn property(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties.insert(name.to_owned(), value.into());
        self
    }

    /// The first line of a process says so (`ColdStart` 1, and `InitMs` since `process_started`).
    pub fn with_cold_start(self) -> Self {
        if COLD.swap(false, Ordering::SeqCst) {
            let init = PROCESS_START.get().map_or(0, |t| t.elapsed().as_millis());
            self.count(Metric::ColdStart, 1).millis(Metric::InitMs, init)
        } else {
            self.count(Metric::ColdStart, 0)
        }
    }

    /// What the invocation counted ([`counted`]): Lever token refreshes made and waited for
    /// (`TokenRefreshes`, `TokenRefreshWaits`) and Lever's 429s (`LeverThrottled`).
    pub fn with_counters(self, c: &Counters) -> Self {
        self.count(Metric::TokenRefreshes, c.token_refreshes as usize)
            .count(Metric::TokenRefreshWaits, c.refresh_waits as usize)
            .count(Metric::LeverThrottled, c.lever_throttled as usize)
            .count(Metric::OutcomesForwarded, c.outcomes_forwarded as usize)
            .count(Metric::OutcomesFailed, c.outcomes_failed as usize)
            .count(Metric::OutcomesWaiting, c.outcomes_waiting as usize)
            .count(Metric::CandidatesErased, c.candidates_erased as usize)
    }

    /// The line as EMF JSON at `timestamp_ms` (unless stamped with [`at`](Self::at)).
    ///
    /// Every metric is published under `Stack` (the totals the alarms and the dashboard read).
    /// A connection's counts are also published under `Stack` + `Connection`: one customer's
    /// figures, at a cost per connection kept to the counters (timings, cold starts and bytes
    /// stay on `Stack`: a custom metric is billed per dimension combination).
    pub fn to_json(&self, timestamp_ms: i64) -> Value {
        self.to_json_with(timestamp_ms, per_connection())
    }

    /// The same, publishing the connection's counters under `Stack` + `Connection` or not (the
    /// line keeps `Connection` either way: Logs Insights still answers per customer).
    pub fn to_json_with(&self, timestamp_ms: i64, per_connection: bool) -> Value {
        let all: Vec<Value> =
            self.metrics.iter().map(|(name, (_, unit))| json!({"Name": name, "Unit": unit.as_str()})).collect();
        let mut directives = vec![json!({"Namespace": NAMESPACE, "Dimensions": [["Stack"]], "Metrics": all})];
        if self.dimensions.len() > 1 && per_connection {
            let names: Vec<&str> = self.dimensions.iter().map(|(n, _)| *n).collect();
            let counts: Vec<Value> = self
                .metrics
                .iter()
                .filter(|(name, (_, unit))| *unit == Unit::Count && !STACK_ONLY.contains(name))
                .map(|(name, (_, unit))| json!({"Name": name, "Unit": unit.as_str()}))
                .collect();
            directives.push(json!({"Namespace": NAMESPACE, "Dimensions": [names], "Metrics": counts}));
        }
        let mut line = self.properties.clone();
        line.insert(
            "_aws".into(),
            json!({"Timestamp": self.at_ms.unwrap_or(timestamp_ms), "CloudWatchMetrics": directives}),
        );
        for (n, v) in &self.dimensions {
            line.insert((*n).into(), Value::String(v.clone()));
        }
        for (name, (v, _)) in &self.metrics {
            line.insert((*name).into(), json!(v));
        }
        Value::Object(line)
    }

    /// Writes the line to stdout when running in Lambda (or when `XOR_LEVER_EMF=1`); elsewhere
    /// (the CLI, the tests of the router) it is dropped.
    pub fn emit(&self) {
        if enabled() {
            println!("{}", self.to_json(crate::usecases::now_ms()));
        }
    }
}

/// `METRICS_PER_CONNECTION=false` (the template's `PerConnectionMetrics` parameter) keeps every
/// metric under `Stack` alone. Each metric under `Stack` + `Connection` is a custom metric of its
/// own, billed monthly: about a dozen per connection, which at thousands of customers costs more
/// than the rest of the deployment (docs/scaling.md, Cost).
fn per_connection() -> bool {
    std::env::var("METRICS_PER_CONNECTION").as_deref() != Ok("false")
}

/// Counts that describe the process, not the customer: never per connection.
const STACK_ONLY: [&str; 5] = [
    Metric::ColdStart.as_str(),
    Metric::TokenRefreshes.as_str(),
    Metric::TokenRefreshWaits.as_str(),
    Metric::LeverCalls.as_str(),
    Metric::LeverThrottled.as_str(),
];

static COLD: AtomicBool = AtomicBool::new(true);
static PROCESS_START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Called first thing in a function's `main`: the cold start's `InitMs` counts from here.
pub fn process_started() {
    let _ = PROCESS_START.set(Instant::now());
}

fn enabled() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() || std::env::var("XOR_LEVER_EMF").as_deref() == Ok("1")
}

fn stack_name() -> String {
    std::env::var("STACK_NAME").unwrap_or_else(|_| "local".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_per_connection_metrics_a_line_publishes_under_the_stack_only_and_keeps_the_connection() {
        let line = MetricLine::new(Some("acme")).count(Metric::JobsCreated, 2);
        let off = line.to_json_with(1, false);
        assert_eq!(off["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(), 1);
        assert_eq!(off["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Stack"]]));
        assert_eq!((off["Connection"].as_str(), off["JobsCreated"].as_f64()), (Some("acme"), Some(2.0)));
        assert_eq!(line.to_json_with(1, true)["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_line_is_emf_with_its_dimensions_units_and_values() {
        let v = MetricLine::new(Some("acme"))
            .count(Metric::JobsCreated, 3)
            .millis(Metric::DurationMs, 1250)
            .property("run_id", "r1")
            .to_json(1_700_000_000_000);
        let m = &v["_aws"]["CloudWatchMetrics"];
        assert_eq!(m[0]["Namespace"], "XorLever");
        assert_eq!(m[0]["Dimensions"], json!([["Stack"]]), "every metric in the stack's totals");
        assert_eq!(
            m[0]["Metrics"],
            json!([{"Name": "DurationMs", "Unit": "Milliseconds"}, {"Name": "JobsCreated", "Unit": "Count"}])
        );
        assert_eq!(m[1]["Dimensions"], json!([["Stack", "Connection"]]));
        assert_eq!(m[1]["Metrics"], json!([{"Name": "JobsCreated", "Unit": "Count"}]), "per connection: counts only");
        assert_eq!(
            (v["Connection"].as_str(), v["JobsCreated"].as_f64(), v["run_id"].as_str()),
            (Some("acme"), Some(3.0), Some("r1"))
        );
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
        let stamped = MetricLine::new(None).count(Metric::SyncRuns, 1).at(42).to_json(1_700_000_000_000);
        assert_eq!(stamped["_aws"]["Timestamp"], 42, "a run's line is stamped with its start");
        assert_eq!(stamped["_aws"]["CloudWatchMetrics"].as_array().unwrap().len(), 1, "no connection, one directive");
    }
}
