//! template.yaml read as data: what the functions may do, and to what.
//!
//! moto enforces a policy's ACTIONS (the IAM-enforced tests run each function's code with
//! exactly its template actions) but not its RESOURCES: resource scoping is checked here, on
//! the template itself. Every statement names the table and its index, the secret prefix, or
//! the sync function — never `*` — and only the Lever token secrets are writable.
use serde_yaml_ng::Value;

const FUNCTIONS: [&str; 2] = ["FeedSyncFunction", "WebhookFunction"];

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A resource as written: `!GetAtt Table.Arn` → "GetAtt Table.Arn", a plain string as is.
fn written(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Tagged(t) => format!("{} {}", t.tag.to_string().trim_start_matches('!'), written(&t.value)),
        Value::Sequence(items) => items.iter().map(written).collect::<Vec<_>>().join(" "),
        other => format!("{other:?}"),
    }
}

fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Sequence(items) => items.iter().collect(),
        one => vec![one],
    }
}

/// (function, sid, actions, resources) of every statement of every function's policies.
fn statements() -> Vec<(String, String, Vec<String>, Vec<String>)> {
    let t = template();
    let mut out = Vec::new();
    for f in FUNCTIONS {
        let policies = &t["Resources"][f]["Properties"]["Policies"];
        for policy in list(policies) {
            for st in list(&policy["Statement"]) {
                assert_eq!(st["Effect"].as_str(), Some("Allow"), "{f}");
                let actions = list(&st["Action"]).into_iter().map(written).collect();
                let resources = list(&st["Resource"]).into_iter().map(written).collect();
                out.push((f.to_owned(), written(&st["Sid"]), actions, resources));
            }
        }
    }
    out
}

#[test]
fn every_statement_names_its_resources_never_a_wildcard() {
    let all = statements();
    assert!(all.len() >= 6, "{all:?}");
    for (f, sid, actions, resources) in &all {
        for a in actions {
            assert!(!a.contains('*'), "{f}/{sid}: action {a}");
        }
        assert!(!resources.is_empty(), "{f}/{sid}");
        for r in resources {
            let scoped = r == "GetAtt Table.Arn"
                || r == "Sub ${Table.Arn}/index/gsi1"
                || r == "GetAtt FeedSyncFunction.Arn"
                || r.starts_with(
                    "Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretPrefix}",
                );
            assert!(scoped, "{f}/{sid}: resource {r:?} is not the table, its index, the secret prefix or the function");
        }
    }
}

#[test]
fn the_functions_write_only_the_lever_token_secrets_and_create_none() {
    for (f, sid, actions, resources) in statements() {
        for a in actions.iter().filter(|a| a.starts_with("secretsmanager:")) {
            assert!(
                ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"].contains(&a.as_str()),
                "{f}/{sid}: {a} (secrets are created by the operator's CLI)"
            );
            if a == "secretsmanager:PutSecretValue" {
                for r in &resources {
                    assert!(r.ends_with("${SecretPrefix}*/lever-oauth-??????"), "{f}/{sid}: writes {r}");
                }
            }
        }
    }
}

#[test]
fn a_failed_scheduled_run_is_not_retried_by_lambda() {
    let t = template();
    let config = &t["Resources"]["FeedSyncFunction"]["Properties"]["EventInvokeConfig"];
    assert_eq!(config["MaximumRetryAttempts"].as_u64(), Some(0), "the next scheduled run is the retry");
}

/// The IAM-enforcing moto's users hold what the template says (the bootstrap read it).
#[test]
fn the_enforced_tests_run_with_the_template_actions() {
    for (f, var) in [("FeedSyncFunction", "IAM_FEED_SYNC_ACTIONS"), ("WebhookFunction", "IAM_WEBHOOK_ACTIONS")] {
        let Ok(granted) = std::env::var(var) else {
            panic!("{var} is not set: run the tests with infra/scripts/test (it starts the IAM-enforcing moto)")
        };
        let mut want: Vec<String> = statements().into_iter().filter(|s| s.0 == f).flat_map(|s| s.2).collect();
        want.sort();
        want.dedup();
        // moto's own name for lambda:InvokeFunction rides along (see infra/scripts/moto-iam-start).
        let granted: Vec<&str> = granted.split(',').filter(|a| *a != "lambda:Invoke").collect();
        assert_eq!(granted, want, "{f}");
    }
}

#[test]
fn every_route_of_the_router_reaches_the_webhook_function() {
    let t = template();
    let events = &t["Resources"]["WebhookFunction"]["Properties"]["Events"];
    let routed: Vec<(String, String)> = events
        .as_mapping()
        .unwrap()
        .values()
        .map(|e| (written(&e["Properties"]["Method"]), written(&e["Properties"]["Path"])))
        .collect();
    // The router's routes, with API Gateway's path parameters for axum's.
    for (method, path) in [
        ("POST", "/webhooks/xor/{connection_id}"),
        ("GET", "/oauth/lever/start"),
        ("GET", "/oauth/lever/callback"),
        ("GET", "/connections/{connection_id}"),
        ("POST", "/connections/{connection_id}/{action}"),
        ("GET", "/assets/{file}"),
    ] {
        assert!(routed.contains(&(method.to_owned(), path.to_owned())), "{method} {path} is not routed: {routed:?}");
    }
}
