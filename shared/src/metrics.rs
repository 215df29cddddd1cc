//! Metrics as CloudWatch Embedded Metric Format (EMF) lines on stdout: CloudWatch Logs turns
//! each line into metrics, so the functions need no `cloudwatch:PutMetricData` and a metric is
//! never lost to a throttled API call. Both functions use this one type.
//!
//! Every line carries the `Stack` dimension (the stack's name, `STACK_NAME`): two stacks in one
//! account never mix their figures. Lines about one connection are published twice: under
//! `Stack` (the totals the alarms and the dashboard read) and under `Stack` + `Connection`
//! (cardinality: the number of customers, which is bounded).
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde_json::{Map, Value, json};

/// The namespace of every xor-lever metric.
pub const NAMESPACE: &str = "XorLever";

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
}

impl MetricLine {
    /// A line with the `Stack` dimension, and `Connection` when given.
    pub fn new(connection: Option<&str>) -> Self {
        let mut dimensions = vec![("Stack", stack_name())];
        if let Some(c) = connection {
            dimensions.push(("Connection", c.to_owned()));
        }
        Self { dimensions, metrics: BTreeMap::new(), properties: Map::new() }
    }

    pub fn count(mut self, name: &'static str, value: usize) -> Self {
        self.metrics.insert(name, (value as f64, Unit::Count));
        self
    }

    pub fn millis(mut self, name: &'static str, ms: u128) -> Self {
        self.metrics.insert(name, (ms as f64, Unit::Milliseconds));
        self
    }

    pub fn bytes(mut self, name: &'static str, bytes: u64) -> Self {
        self.metrics.insert(name, (bytes as f64, Unit::Bytes));
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
            self.count("ColdStart", 1).millis("InitMs", init)
        } else {
            self.count("ColdStart", 0)
        }
    }

    /// The line as EMF JSON at `timestamp_ms`.
    pub fn to_json(&self, timestamp_ms: i64) -> Value {
        // Every metric under `Stack` alone (what the alarms and the dashboard read) and, for a
        // connection's line, also under `Stack` + `Connection` (one customer's figures).
        let names: Vec<&str> = self.dimensions.iter().map(|(n, _)| *n).collect();
        let sets: Vec<Vec<&str>> = (1..=names.len()).map(|n| names[..n].to_vec()).collect();
        let metrics: Vec<Value> =
            self.metrics.iter().map(|(name, (_, unit))| json!({"Name": name, "Unit": unit.as_str()})).collect();
        let mut line = self.properties.clone();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": sets, "Metrics": metrics}]
            }),
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
    fn a_line_is_emf_with_its_dimensions_units_and_values() {
        let v = MetricLine::new(Some("acme"))
            .count("JobsCreated", 3)
            .millis("DurationMs", 1250)
            .property("run_id", "r1")
            .to_json(1_700_000_000_000);
        let m = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(m["Namespace"], "XorLever");
        assert_eq!(
            m["Dimensions"],
            json!([["Stack"], ["Stack", "Connection"]]),
            "the stack's total and the connection's"
        );
        assert_eq!(
            m["Metrics"],
            json!([{"Name": "DurationMs", "Unit": "Milliseconds"}, {"Name": "JobsCreated", "Unit": "Count"}])
        );
        assert_eq!(
            (v["Connection"].as_str(), v["JobsCreated"].as_f64(), v["run_id"].as_str()),
            (Some("acme"), Some(3.0), Some("r1"))
        );
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
    }
}
