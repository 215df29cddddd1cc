//! template.yaml read as data: what the functions may do, and to what.
//!
//! moto enforces a policy's ACTIONS (the IAM-enforced tests run each function's code with
//! exactly its template actions) but not its RESOURCES: resource scoping is checked here, on
//! the template itself. Every statement names the table and its index, the secret prefix, or
//! the sync queue — never `*` — and only the Lever token secrets are writable.
use serde_yaml_ng::Value;

const FUNCTIONS: [&str; 3] = ["FeedSyncFunction", "SyncWorkerFunction", "WebhookFunction"];

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
                || r == "GetAtt SyncQueue.Arn"
                || r.starts_with(
                    "Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${AWS::StackName}/",
                );
            assert!(
                scoped,
                "{f}/{sid}: resource {r:?} is not the table, its index, the secret prefix or the sync queue"
            );
        }
    }
}

/// Each function reads the secrets its code reads, by name: the webhook its connections' XOR API
/// keys only to ask XOR about an unmapped job (issue 23), the worker never a webhook secret or
/// the signing keys, the dispatcher none.
#[test]
fn each_function_reads_only_the_secrets_it_uses() {
    use xor_lever_shared::domain::ports::{LEVER_TOKENS, WEBHOOK_SECRET, XOR_API_KEY};
    let per_connection = |kind: &str| {
        format!(
            "Sub arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:${{AWS::StackName}}/*/{kind}-??????"
        )
    };
    // The app secrets, by the names the code reads (`<prefix>_app/<kind>`).
    let app = |kind: &str| {
        format!(
            "Sub arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:${{AWS::StackName}}/_app/{kind}-??????"
        )
    };
    let reads = |f: &str| -> Vec<String> {
        let mut r: Vec<String> = statements()
            .into_iter()
            .filter(|(g, _, actions, _)| g == f && actions.iter().any(|a| a == "secretsmanager:GetSecretValue"))
            .flat_map(|(_, _, _, resources)| resources)
            .collect();
        r.sort();
        r
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        reads("WebhookFunction"),
        sorted(vec![
            per_connection(WEBHOOK_SECRET),
            per_connection(LEVER_TOKENS),
            // To ask XOR about a job a screening names and no mapping does yet (issue 23).
            per_connection(XOR_API_KEY),
            // Lever's webhooks' signature tokens (issue 25).
            per_connection(xor_lever_shared::domain::ports::LEVER_WEBHOOKS),
            app(xor_lever_shared::domain::ports::LEVER_APP),
            app(xor_lever_shared::domain::signing::SIGNING_KEYS),
        ])
    );
    assert_eq!(
        reads("SyncWorkerFunction"),
        sorted(vec![
            per_connection(XOR_API_KEY),
            per_connection(LEVER_TOKENS),
            app(xor_lever_shared::domain::ports::LEVER_APP)
        ])
    );
    assert!(reads("FeedSyncFunction").is_empty());
}

/// A flood of forged deliveries is throttled by API Gateway on the webhook route, by parameters.
#[test]
fn the_webhook_route_has_its_own_throttling() {
    let t = template();
    let route = &t["Resources"]["Api"]["Properties"]["RouteSettings"]["POST /webhooks/xor/{connection_id}"];
    assert_eq!(written(&route["ThrottlingRateLimit"]), "Ref WebhookRateLimit");
    assert_eq!(written(&route["ThrottlingBurstLimit"]), "Ref WebhookBurstLimit");
    for p in ["WebhookRateLimit", "WebhookBurstLimit", "ResumeHosts"] {
        assert!(t["Parameters"][p]["Default"].as_u64().is_some() || t["Parameters"][p]["Default"].is_string(), "{p}");
    }
    assert_eq!(
        written(&t["Globals"]["Function"]["Environment"]["Variables"]["XOR_LEVER_RESUME_HOSTS"]),
        "Ref ResumeHosts"
    );
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
                    // The token pairs; the webhook function also the webhooks' signature tokens.
                    let lever_webhooks =
                        f == "WebhookFunction" && r.ends_with("${AWS::StackName}/*/lever-webhooks-??????");
                    assert!(
                        r.ends_with("${AWS::StackName}/*/lever-oauth-??????") || lever_webhooks,
                        "{f}/{sid}: writes {r}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_failed_scheduled_run_is_not_retried_by_lambda_but_kept_and_alarmed() {
    let t = template();
    let config = &t["Resources"]["FeedSyncFunction"]["Properties"]["EventInvokeConfig"];
    assert_eq!(config["MaximumRetryAttempts"].as_u64(), Some(0), "the next scheduled run is the retry");
    let dest = &config["DestinationConfig"]["OnFailure"];
    assert_eq!(
        (dest["Type"].as_str(), written(&dest["Destination"]).as_str()),
        (Some("SQS"), "GetAtt FailedRunsQueue.Arn")
    );
    let alarm = &t["Resources"]["FailedRunsAlarm"]["Properties"];
    assert_eq!(written(&alarm["Dimensions"][0]["Value"]), "GetAtt FailedRunsQueue.QueueName");
}

/// The dispatcher and the worker are one binary, and `sam build` builds a CodeUri once only when
/// everything SAM compares is the same (its FunctionBuildDefinition: CodeUri, Metadata, Handler,
/// runtime, architecture): a word changed in one's checkov comment builds it twice in CI.
#[test]
fn the_dispatcher_and_the_worker_are_built_once() {
    let t = template();
    let (d, w) = (&t["Resources"]["FeedSyncFunction"], &t["Resources"]["SyncWorkerFunction"]);
    for key in ["CodeUri", "Handler", "Runtime", "Architectures"] {
        assert_eq!(d["Properties"][key], w["Properties"][key], "{key}");
    }
    assert_eq!(d["Metadata"], w["Metadata"], "the same Metadata, word for word");
}

/// For every schedule: the sync's timeout is below the interval (runs never overlap), and the
/// sync's alarms count in intervals.
#[test]
fn the_timeout_and_the_alarm_periods_follow_the_schedule() {
    let t = template();
    let schedules = t["Mappings"]["Schedule"].as_mapping().unwrap();
    assert!(schedules.len() >= 3);
    for (minutes, v) in schedules {
        let minutes: u64 = minutes.as_str().unwrap().parse().unwrap();
        assert_eq!(v["Expression"].as_str().unwrap(), format!("rate({minutes} minutes)"));
        assert_eq!(v["Period"].as_u64(), Some(minutes * 60));
        let timeout = v["Timeout"].as_u64().unwrap();
        assert!(timeout < minutes * 60 && timeout <= 900, "{minutes} min: timeout {timeout}");
    }
    let f = &t["Resources"]["FeedSyncFunction"]["Properties"];
    assert_eq!(written(&f["Timeout"]), "FindInMap Schedule Ref ScheduleMinutes Timeout");
    for a in ["SyncHeartbeatAlarm", "SyncFailuresAlarm", "FeedSyncErrorsAlarm", "DeliveriesWaitingAlarm"] {
        assert_eq!(
            written(&t["Resources"][a]["Properties"]["Period"]),
            "FindInMap Schedule Ref ScheduleMinutes Period",
            "{a}"
        );
    }
}

/// Every alarm is named after the stack and notifies the stack's topic; no run at all alarms.
#[test]
fn every_alarm_names_the_stack_and_notifies_and_a_missing_heartbeat_alarms() {
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    let alarms: Vec<_> =
        resources.iter().filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm")).collect();
    assert!(alarms.len() >= 14, "{}", alarms.len());
    let runbook = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/runbook.md")).unwrap();
    for (name, a) in alarms {
        let p = &a["Properties"];
        assert!(written(&p["AlarmName"]).starts_with("Sub ${AWS::StackName}-"), "{name:?}");
        assert_eq!(written(&p["AlarmActions"]), "Ref AlarmTopic", "{name:?}");
        let entry = p["AlarmDescription"].as_str().unwrap().split("runbook: ").nth(1).expect("names its runbook entry");
        assert!(runbook.contains(&format!("\n### {entry}\n")), "{name:?}: docs/runbook.md has no entry {entry}");
        // The entry is the name the operator receives (`<stack>-<entry>`), word for word.
        assert_eq!(written(&p["AlarmName"]), format!("Sub ${{AWS::StackName}}-{entry}"), "{name:?}");
        if p["Namespace"].as_str() == Some("XorLever") {
            assert_eq!(p["Dimensions"][0]["Name"].as_str(), Some("Stack"), "{name:?}: our metrics carry the stack");
        }
    }
    let hb = &t["Resources"]["SyncHeartbeatAlarm"]["Properties"];
    assert_eq!((hb["MetricName"].as_str(), hb["TreatMissingData"].as_str()), (Some("SyncRuns"), Some("breaching")));
}

/// Two stacks side by side: no resource has a fixed name.
#[test]
fn every_name_is_derived_from_the_stack() {
    let t = template();
    let mut named = 0;
    for (id, r) in t["Resources"].as_mapping().unwrap() {
        let p = &r["Properties"];
        for key in ["Name", "AlarmName", "FunctionName", "TableName", "QueueName", "TopicName", "DashboardName"] {
            // A reference (an event source mapping's function) names nothing.
            if !p[key].is_null() && !written(&p[key]).starts_with("Ref ") {
                named += 1;
                assert!(written(&p[key]).contains("${AWS::StackName}"), "{id:?}.{key} = {}", written(&p[key]));
            }
        }
        let schedule = &p["Events"]["Schedule"]["Properties"]["Name"];
        if !schedule.is_null() {
            named += 1;
            assert!(written(schedule).contains("${AWS::StackName}"), "{id:?}: the schedule's name");
        }
    }
    assert!(named >= 13, "{named}");
    let env = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(written(&env["SECRET_PREFIX"]), "Sub ${AWS::StackName}/");
}

/// The IAM-enforcing moto's users hold what the functions' roles hold as deployed (the bootstrap
/// read them from SAM's transform): the template's statements, SAM's additions, and the logs
/// actions of AWS's basic execution role.
#[test]
fn the_enforced_tests_run_with_the_template_actions() {
    let deployed = deployed();
    for (f, var) in [
        ("FeedSyncFunction", "IAM_FEED_SYNC_ACTIONS"),
        ("SyncWorkerFunction", "IAM_SYNC_WORKER_ACTIONS"),
        ("WebhookFunction", "IAM_WEBHOOK_ACTIONS"),
    ] {
        let Ok(granted) = std::env::var(var) else {
            panic!("{var} is not set: run the tests with infra/scripts/test (it starts the IAM-enforcing moto)")
        };
        let role = &deployed["Resources"][format!("{f}Role")]["Properties"];
        let mut want: Vec<String> = statements().into_iter().filter(|s| s.0 == f).flat_map(|s| s.2).collect();
        for p in role["Policies"].as_array().into_iter().flatten() {
            for st in p["PolicyDocument"]["Statement"].as_array().unwrap() {
                match &st["Action"] {
                    serde_json::Value::Array(a) => want.extend(a.iter().map(|a| a.as_str().unwrap().to_owned())),
                    a => want.push(a.as_str().unwrap().to_owned()),
                }
            }
        }
        if role["ManagedPolicyArns"].to_string().contains("AWSLambdaBasicExecutionRole") {
            want.extend(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"].map(String::from));
        }
        want.sort();
        want.dedup();
        // moto's own name for a batch rides along (see infra/scripts/moto-iam-start).
        let granted: Vec<&str> = granted.split(',').filter(|a| *a != "sqs:SendMessageBatch").collect();
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
        // `xor-lever doctor` reads it through the public URL.
        ("GET", "/healthz"),
    ] {
        assert!(routed.contains(&(method.to_owned(), path.to_owned())), "{method} {path} is not routed: {routed:?}");
    }
}

/// The text of every `.rs` file under `dir` but tests and fakes (a name only a test writes must
/// not count as emitted).
fn sources(dir: &std::path::Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.components().any(|c| c.as_os_str().to_string_lossy().contains("test"))
            && !path.ends_with("fakes.rs")
        {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_metric_the_dashboard_and_alarms_read_is_one_the_functions_emit() {
    // A series on a metric nobody emits is an empty graph, and an alarm on one never fires (or,
    // treating missing data as breaching, always does): each name must be written by the code.
    let root = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
    let mut code = String::new();
    sources(&root.join("shared/src"), &mut code);
    sources(&root.join("functions"), &mut code);
    let t = template();
    let mut read = std::collections::BTreeSet::new();
    let body = written(&t["Resources"]["Dashboard"]["Properties"]["DashboardBody"]);
    let dashboard: serde_json::Value = serde_json::from_str(body.trim_start_matches("Sub ")).unwrap();
    for w in dashboard["widgets"].as_array().unwrap() {
        for m in w["properties"]["metrics"].as_array().into_iter().flatten() {
            if m[0] == "XorLever" {
                read.insert(m[1].as_str().unwrap().to_owned());
                assert!(!m.to_string().contains("\"Connection\""), "per-connection series are off by default: {m}");
            }
            // A search over the per-connection dimension would be empty with PerConnectionMetrics off.
            if let Some(expr) = m[0]["expression"].as_str() {
                assert!(!expr.contains("Connection"), "a search over Connection: {expr}");
            }
        }
    }
    for (_, r) in t["Resources"].as_mapping().unwrap() {
        if r["Type"].as_str() == Some("AWS::CloudWatch::Alarm") && r["Properties"]["Namespace"] == "XorLever" {
            read.insert(r["Properties"]["MetricName"].as_str().unwrap().to_owned());
        }
    }
    assert!(read.len() >= 15, "{read:?}");
    // Each name is a `Metric` (shared/src/metrics.rs, the one module that knows them) and some
    // line emits it (`Metric::Name` outside the enum's own definition).
    let metrics = std::fs::read_to_string(root.join("shared/src/metrics.rs")).unwrap();
    let list = metrics.split("\nmetric_names! {").nth(1).and_then(|rest| rest.split('}').next()).unwrap();
    let named: Vec<&str> = list.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
    let missing: Vec<_> = read
        .iter()
        .filter(|name| !named.contains(&name.as_str()) || !code.contains(&format!("Metric::{name}")))
        .collect();
    assert!(missing.is_empty(), "read by the dashboard or an alarm, emitted by no function: {missing:?}");
}

/// Deploy, tear down, deploy again under the same stack name: nothing a teardown keeps has a
/// fixed name a redeploy would collide with ("already exists"). The table is kept (`Retain`,
/// deletion protection) under a generated name; the stack owns no secret (the CLI makes them,
/// and a redeploy finds them).
#[test]
fn a_redeploy_after_a_teardown_collides_with_nothing_kept() {
    let t = template();
    let mut retained = 0;
    for (name, r) in t["Resources"].as_mapping().unwrap() {
        assert_ne!(r["Type"].as_str(), Some("AWS::SecretsManager::Secret"), "{name:?}: the CLI makes the secrets");
        if r["DeletionPolicy"].as_str().is_some_and(|p| p.starts_with("Retain")) {
            retained += 1;
            for key in ["Name", "TableName", "QueueName", "TopicName", "LogGroupName"] {
                assert!(r["Properties"][key].is_null(), "{name:?} is kept under a fixed {key}");
            }
        }
    }
    assert!(retained >= 1, "the table is kept");
}

/// Every parameter `sam deploy --guided` asks for is in README's guided-deploy table, and the
/// table names no parameter the template lacks.
#[test]
fn the_guided_deploy_table_has_every_parameter() {
    let t = template();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let params: Vec<String> =
        t["Parameters"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap().to_owned()).collect();
    for p in &params {
        assert!(readme.contains(&format!("| Parameter `{p}`")), "README's guided-deploy table lacks {p}");
    }
    for line in readme.lines().filter(|l| l.starts_with("| Parameter `")) {
        let named = line.trim_start_matches("| Parameter `").split('`').next().unwrap();
        assert!(params.iter().any(|p| p == named), "README names a parameter the template lacks: {named}");
    }
}

/// `PublicUrl` is written in the code's one form (`xor_lever_shared::url::public_base`): what the
/// template accepts is exactly a URL the code keeps as it is, so the `OAuthRedirectUri` output
/// (`${PublicUrl}/oauth/lever/callback`) is the redirect URI the code sends; `ApiUrl`, the base
/// the README passes to `--public-url`, is the public URL when one is set.
#[test]
fn the_public_url_is_one_form_in_the_template_and_the_code() {
    let t = template();
    let pattern = t["Parameters"]["PublicUrl"]["AllowedPattern"].as_str().expect("PublicUrl has an AllowedPattern");
    let re = regex_lite::Regex::new(pattern).unwrap();
    for url in [
        "https://api.example.com",
        "https://api.example.com/",
        "https://API.example.com",
        "https://api.example.com:8443",
        "https://api.example.com/Lever",
        "https://api.example.com:443",
        "https://api.example.com/lever",
        "https://api.example.com/lever/",
        "https://api.example.com/",
        "https://api.example.com/a/b",
        "https://api.example.com?x=1",
        "http://api.example.com",
        "https://u@api.example.com",
    ] {
        // What the template takes, the code keeps as written (the template may be stricter).
        let kept = xor_lever_shared::url::public_base(url).is_ok_and(|v| v == url);
        assert!(!re.is_match(url) || kept, "{url}: the template takes it, the code changes or refuses it");
    }
    assert!(re.is_match("https://api.example.com"));
    for refused in [
        "https://api.example.com/",
        "https://API.example.com",
        "https://api.example.com:443",
        "https://api.example.com/lever",
    ] {
        assert!(!re.is_match(refused), "{refused}: written so, the redirect URI would differ");
    }
    assert!(re.is_match(""), "empty: the execute-api URL");
    let outputs = &t["Outputs"];
    assert!(written(&outputs["OAuthRedirectUri"]["Value"]).contains("${PublicUrl}/oauth/lever/callback"));
    assert!(written(&outputs["ApiUrl"]["Value"]).contains("If HasPublicUrl Ref PublicUrl"), "{:?}", outputs["ApiUrl"]);
}

/// A deploy's answers stay out of git: the tracked samconfig.toml has no deploy section, the
/// README deploys with the ignored samconfig.deploy.toml (one environment per stack).
#[test]
fn a_deploy_s_answers_are_not_tracked() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let read = |f: &str| std::fs::read_to_string(format!("{root}/{f}")).unwrap();
    let tracked = read("samconfig.toml");
    assert!(!tracked.contains("deploy.parameters"), "samconfig.toml holds build defaults only");
    assert!(tracked.contains("[default.build.parameters]") && tracked.contains("beta_features = true"));
    assert!(read(".gitignore").lines().any(|l| l.trim() == "samconfig.deploy.toml"));
    let readme = read("README.md");
    let deploys: Vec<&str> = readme.lines().filter(|l| l.trim_start().starts_with("sam deploy")).collect();
    assert!(!deploys.is_empty());
    for l in deploys {
        assert!(l.contains("--config-file samconfig.deploy.toml --config-env"), "{l}");
    }
}

/// The sync queue's oldest turn alarms after one schedule interval (the workers do not keep
/// up), and the worker's default concurrency leaves room in an account still at Lambda's
/// starting limit of 10 concurrent executions: the dispatcher's one and at least half for the
/// webhook.
#[test]
fn a_slow_sync_queue_alarms_and_the_default_concurrency_fits_a_new_account() {
    let t = template();
    let age = t["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .find(|r| {
            r["Type"].as_str() == Some("AWS::CloudWatch::Alarm")
                && r["Properties"]["MetricName"].as_str() == Some("ApproximateAgeOfOldestMessage")
                && written(&r["Properties"]["Dimensions"][0]["Value"]) == "GetAtt SyncQueue.QueueName"
        })
        .expect("an alarm on the sync queue's oldest turn");
    assert_eq!(written(&age["Properties"]["Threshold"]), "FindInMap Schedule Ref ScheduleMinutes QueueAge");
    // Past an interval, and past the time a failing turn stays in the queue before its third
    // receive moves it to the dead-letter queue (two visibility timeouts).
    let visibility = t["Resources"]["SyncQueue"]["Properties"]["VisibilityTimeout"].as_u64().unwrap();
    for (minutes, row) in t["Mappings"]["Schedule"].as_mapping().unwrap() {
        let (age, period) = (row["QueueAge"].as_u64().unwrap(), row["Period"].as_u64().unwrap());
        assert!(age > period && age > 2 * visibility, "{minutes:?}: QueueAge {age}");
    }
    assert!(written(&age["Properties"]["AlarmName"]).ends_with("-sync-queue-age"));
    let workers = t["Parameters"]["WorkerConcurrency"]["Default"].as_u64().unwrap();
    assert!(workers + 1 <= 10 / 2 + 1, "{workers} workers leave too little of 10 for the webhook");
}

/// The docs name only what the stack has: every resource-like name (a log group, queue, secret,
/// function, topic, URL, ARN, …) the README and the runbook mention is in the template, every
/// `<Name>` the operator is told to fill in and everything the runbook sends them to is a stack
/// output (what `sam list stack-outputs` shows), and the README counts the alarms right.
#[test]
fn the_docs_name_only_outputs_and_resources_the_stack_has() {
    let t = template();
    let keys = |section: &str| -> std::collections::BTreeSet<String> {
        t[section].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap().to_owned()).collect()
    };
    let (resources, outputs, parameters) = (keys("Resources"), keys("Outputs"), keys("Parameters"));
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let name = regex_lite::Regex::new(
        r"\b([A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*(?:LogGroup|Queue|QueueUrl|QueueArn|Secret|Function|FunctionName|Topic|TopicArn|Alarm|Table|TableName|Url|Uri|Arn|Prefix|Dashboard|DashboardName))\b",
    )
    .unwrap();
    let quoted = regex_lite::Regex::new(r"`([^`\n]+)`|<([A-Z][A-Za-z0-9]+)>").unwrap();
    // AWS API actions named in the IAM paragraphs, not things of the stack.
    let action = |w: &str| {
        ["Create", "Get", "Put", "Delete", "Describe", "List", "Send", "Update", "Invoke", "Receive"]
            .iter()
            .any(|v| w.starts_with(v))
    };
    let mut missing = Vec::new();
    for (doc, must_be_output) in [("README.md", false), ("docs/runbook.md", true)] {
        let text = std::fs::read_to_string(format!("{root}/{doc}")).unwrap();
        for m in quoted.captures_iter(&text) {
            let (inner, placeholder) = match (m.get(1), m.get(2)) {
                (Some(q), _) => (q.as_str(), false),
                (_, Some(p)) => (p.as_str(), true),
                _ => continue,
            };
            for w in name.captures_iter(inner).map(|c| c.get(1).unwrap().as_str()) {
                if action(w) || parameters.contains(w) {
                    continue;
                }
                let ok = if placeholder || must_be_output {
                    outputs.contains(w)
                } else {
                    resources.contains(w) || outputs.contains(w)
                };
                if !ok {
                    missing.push(format!("{doc}: {w}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "named in the docs, not in the stack's outputs/resources: {missing:?}");
    let alarms = t["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .count();
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    assert!(readme.contains(&format!("| {alarms} alarms, each `<stack>-<name>`")), "README counts {alarms} alarms");
}

/// The template as CloudFormation receives it (SAM's transform, run offline by
/// infra/scripts/sam-transform).
fn deployed() -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/scripts/sam-transform");
    let out = std::process::Command::new("python3").arg(script).output().expect("python3 runs sam-transform");
    assert!(out.status.success(), "sam-transform: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The roles as deployed, SAM's additions included: no statement on `*` and no managed policy
/// but AWS's basic execution role (the function's own logs); the worker's queue is read by an
/// event source mapping of our own, whose policy names the sync queue (SAM's SQS event would
/// attach AWSLambdaSQSQueueExecutionRole: receive and delete on every queue of the account).
/// The README's IAM paragraph names what is attached.
#[test]
fn the_roles_as_deployed_name_their_resources_and_attach_only_the_logs_policy() {
    const BASIC: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
    let t = deployed();
    let mut roles = 0;
    let mut attached = std::collections::BTreeSet::new();
    for (name, r) in t["Resources"].as_object().unwrap() {
        if r["Type"] != "AWS::IAM::Role" {
            continue;
        }
        roles += 1;
        for arn in r["Properties"]["ManagedPolicyArns"].as_array().into_iter().flatten() {
            assert_eq!(arn.as_str(), Some(BASIC), "{name} attaches {arn}");
            attached.insert(arn.as_str().unwrap().rsplit('/').next().unwrap().to_owned());
        }
        for p in r["Properties"]["Policies"].as_array().into_iter().flatten() {
            for st in p["PolicyDocument"]["Statement"].as_array().unwrap() {
                let resources = match &st["Resource"] {
                    serde_json::Value::Array(v) => v.clone(),
                    one => vec![one.clone()],
                };
                for res in resources {
                    assert_ne!(res, "*", "{name} / {}: {st}", p["PolicyName"]);
                }
            }
        }
    }
    assert!(roles >= 4, "the three functions' roles and the scheduler's");
    let esm: Vec<_> = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::EventSourceMapping")
        .collect();
    assert_eq!(esm.len(), 1, "the worker's queue");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    for a in &attached {
        assert!(readme.contains(a.as_str()), "README's IAM paragraph names {a}");
    }
}

/// The operator's and the deployer's policies (infra/iam/): no `*` action, and every resource
/// named after the stack (placeholders the operator fills in), but the one statement of actions
/// IAM cannot scope.
#[test]
fn the_people_s_policies_name_their_resources() {
    for file in ["deployer.json", "operator.json"] {
        let path = format!("{}/../infra/iam/{file}", env!("CARGO_MANIFEST_DIR"));
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for st in doc["Statement"].as_array().unwrap() {
            let all = |v: &serde_json::Value| match v {
                serde_json::Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect::<Vec<_>>(),
                one => vec![one.as_str().unwrap().to_owned()],
            };
            for a in all(&st["Action"]) {
                assert!(!a.contains('*'), "{file}: {a}");
            }
            for r in all(&st["Resource"]) {
                if r == "*" {
                    assert_eq!(st["Sid"], "NoResourceLevel", "{file}: {st}");
                    continue;
                }
                assert!(
                    r.contains("<stack>")
                        || r.contains("<TableName>")
                        || r.contains("aws-sam-cli-managed-default")
                        || r.contains("transform/Serverless")
                        || r.contains("::/apis")
                        || r.contains("::/tags")
                        || r.contains("event-source-mapping"),
                    "{file}: {r} is not scoped to the stack"
                );
            }
        }
    }
}
