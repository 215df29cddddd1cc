//! `xor-lever doctor`: a deployment's smoke test before any customer exists, and each
//! customer's state after. Every check says what it found and, when it fails, what to run.
use std::process::ExitCode;

use xor_lever_shared::domain::ConnectionStatus;
use xor_lever_shared::domain::ats::APP_PLACEHOLDER_CLIENT_ID;

use crate::store::{Ctx, Result, StoreKind};

#[derive(clap::Args)]
pub struct DoctorArgs {
    /// The API's public base URL (the stack's ApiUrl output; PUBLIC_URL by default): its
    /// /healthz must answer.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// One line of the report.
struct Check {
    ok: bool,
    what: &'static str,
    says: String,
}

fn pass(what: &'static str, says: impl Into<String>) -> Check {
    Check { ok: true, what, says: says.into() }
}

fn fail(what: &'static str, says: impl Into<String>) -> Check {
    Check { ok: false, what, says: says.into() }
}

pub async fn run(ctx: &Ctx, args: DoctorArgs) -> Result<ExitCode> {
    let mut checks = Vec::new();
    let deps = match ctx.deps().await {
        Ok(d) => d,
        // Settings missing (TABLE_NAME, SECRET_PREFIX): nothing else can be checked.
        Err(e) => {
            checks.push(fail("settings", e.to_string()));
            return Ok(report(&checks));
        }
    };
    let connections = match deps.connections.connections().await {
        Ok(all) => {
            checks.push(pass("store", format!("reachable, {} connection(s)", all.len())));
            Some(all)
        }
        Err(e) => {
            checks.push(fail("store", format!("{e} (TABLE_NAME is the stack's TableName output)")));
            None
        }
    };
    checks.push(app_check(ctx).await);
    checks.push(match xor_lever_shared::usecases::signed::stored_keys(deps.secrets.as_ref()).await {
        Ok(k) if !k.keys.is_empty() => {
            pass("signing key", format!("{} key(s), current {}", k.keys.len(), k.keys[0].id))
        }
        Ok(_) => fail("signing key", "none yet: run `xor-lever keys init`"),
        Err(e) => fail("signing key", format!("{e}: run `xor-lever keys init`")),
    });
    if let StoreKind::Dynamodb = ctx.kind {
        checks.push(queue_check().await);
    }
    checks.push(public_url_check(args.public_url.as_deref()).await);
    if let Some(all) = connections {
        for c in all {
            let says = match c.status {
                ConnectionStatus::Connected => "connected".to_owned(),
                ConnectionStatus::Pending => format!("pending: send `connections connect-url {}`", c.id),
                ConnectionStatus::Revoked => format!("revoked in Lever: send `connections connect-url {}`", c.id),
                ConnectionStatus::Disabled => format!("disabled (`connections enable {}`)", c.id),
            };
            let ok = c.status == ConnectionStatus::Connected || c.status == ConnectionStatus::Disabled;
            checks.push(Check { ok, what: "connection", says: format!("{}: {says}", c.id) });
        }
    }
    Ok(report(&checks))
}

async fn app_check(ctx: &Ctx) -> Check {
    let w = match ctx.lever_context().await {
        Ok(w) => w,
        Err(e) => return fail("Lever app", e.to_string()),
    };
    match w.tokens.app_credentials().await {
        Ok(app) if app.client_id == APP_PLACEHOLDER_CLIENT_ID => fail(
            "Lever app",
            "a placeholder (a stack from before 2026-12-07): run `xor-lever lever-app set --client-id … --client-secret …`",
        ),
        Ok(app) => pass("Lever app", format!("client id {} (Lever {})", app.client_id, app.env.as_str())),
        Err(e) => fail("Lever app", format!("{e}: run `xor-lever lever-app set --client-id … --client-secret …`")),
    }
}

async fn queue_check() -> Check {
    let Some(url) = xor_lever_shared::config::Settings::from_env().ok().and_then(|s| s.sync_queue_url) else {
        return fail("sync queue", "SYNC_QUEUE_URL is not set (the stack's SyncQueueUrl output)");
    };
    let queue = xor_lever_shared::config::sqs_queue(&xor_lever_shared::config::aws_sdk_config().await, &url);
    match queue.waiting().await {
        Ok(n) => pass("sync queue", format!("reachable, {n} turn(s) waiting")),
        Err(e) => fail("sync queue", format!("{url}: {e}")),
    }
}

async fn public_url_check(public_url: Option<&str>) -> Check {
    let Some(url) = public_url else {
        return fail("public URL", "PUBLIC_URL is not set (the stack's ApiUrl output)");
    };
    let base = match xor_lever_shared::url::public_base(url) {
        Ok(b) => b,
        Err(e) => return fail("public URL", e.to_string()),
    };
    let health = format!("{base}/healthz");
    let answer =
        xor_lever_shared::config::http_client().get(&health).timeout(std::time::Duration::from_secs(10)).send().await;
    match answer {
        Ok(r) if r.status().is_success() => {
            pass("public URL", format!("{health} answers; register {base}/oauth/lever/callback in the Lever app"))
        }
        Ok(r) => fail("public URL", format!("{health} answered HTTP {}", r.status().as_u16())),
        Err(e) => fail("public URL", format!("{health}: {e}")),
    }
}

/// Prints the checks; exit 1 when any failed.
fn report(checks: &[Check]) -> ExitCode {
    for c in checks {
        println!("{} {:<12} {}", if c.ok { "ok  " } else { "FAIL" }, c.what, c.says);
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed == 0 {
        println!("all {} checks passed", checks.len());
        ExitCode::SUCCESS
    } else {
        println!("{failed} of {} checks failed", checks.len());
        ExitCode::FAILURE
    }
}
