//! The CloudWatch EMF lines a function writes, collected and read.
use std::sync::Arc;
use std::time::Duration;

use super::KillOnDrop;

impl KillOnDrop {
    /// The JSON lines the process writes to stdout (its log lines and its CloudWatch EMF lines,
    /// those with `_aws`), collected as they come by a reader thread.
    pub fn emf_lines(&mut self) -> EmfLines {
        use std::io::BufRead;
        let lines = EmfLines::default();
        let out = self.0.stdout.take().expect("stdout is piped once");
        let sink = lines.0.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        lines
    }
}

#[derive(Clone, Default)]
pub struct EmfLines(Arc<std::sync::Mutex<Vec<serde_json::Value>>>);

impl EmfLines {
    /// Every line so far.
    pub fn all(&self) -> Vec<serde_json::Value> {
        self.0.lock().unwrap().clone()
    }

    /// The first line (waiting up to 10 s) that `pick` accepts.
    pub async fn wait_for(&self, pick: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        for _ in 0..200 {
            if let Some(v) = self.0.lock().unwrap().iter().find(|v| pick(v)) {
                return v.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no such EMF line among {:#?}", self.0.lock().unwrap());
    }
}

/// An EMF line's metric definitions as (name, unit) (its first directive: every metric, under
/// `Stack`), and the dimension sets of each of its directives.
pub fn emf_shape(v: &serde_json::Value) -> (Vec<(String, String)>, serde_json::Value) {
    let directives = v["_aws"]["CloudWatchMetrics"].as_array().unwrap();
    for d in directives {
        assert_eq!(d["Namespace"], "XorLever", "{v}");
    }
    let m = &directives[0];
    let defs = m["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["Name"].as_str().unwrap().to_owned(), d["Unit"].as_str().unwrap().to_owned()))
        .collect();
    (defs, directives.iter().map(|d| d["Dimensions"].clone()).collect())
}
