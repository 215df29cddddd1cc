use std::process::ExitCode;

use clap::Subcommand;
use xor_lever_shared::adapters::lever::TokenSet;
use xor_lever_shared::domain::invitation::DEFAULT_INVITATION_DAYS;
use xor_lever_shared::domain::ports::{LEVER_TOKENS, LEVER_WEBHOOKS, WEBHOOK_SECRET, XOR_API_KEY};
use xor_lever_shared::domain::webhook::WebhookSecret;
use xor_lever_shared::domain::{Connection, ConnectionId, ConnectionStatus, DeliveryStatus, LeverEnv, SecretString};
use xor_lever_shared::usecases::connect::{ConnectError, invite, reset_lever};
use xor_lever_shared::usecases::context::LeverContext;
use xor_lever_shared::usecases::now_ms;
use xor_lever_shared::usecases::section::access;
use xor_lever_shared::usecases::tokens::TokenProvider;

use super::print_table;
use crate::store::{Ctx, Result};

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum EnvArg {
    /// Lever's global data centre (hire.lever.co).
    Production,
    /// Lever's developer sandbox.
    Sandbox,
    /// An account in Lever's EU data centre (hire.eu.lever.co, jobs.eu.lever.co).
    Eu,
}

impl From<EnvArg> for LeverEnv {
    fn from(e: EnvArg) -> Self {
        match e {
            EnvArg::Production => LeverEnv::Production,
            EnvArg::Sandbox => LeverEnv::Sandbox,
            EnvArg::Eu => LeverEnv::Eu,
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct AddArgs {
    pub id: ConnectionId,
    #[arg(long)]
    pub feed_url: String,
    #[arg(long, default_value = "https://api.xor.ai")]
    pub xor_base_url: String,
    /// Stored in the secret store (Secrets Manager with --store dynamodb), never in the table.
    #[arg(long, env = "XOR_API_KEY", hide_env_values = true)]
    pub xor_api_key: SecretString,
    #[arg(long, default_value_t = xor_lever_shared::domain::connection::XOR_ASSUMED_MAX_RPS)]
    pub xor_max_rps: f64,
    /// Share of active jobs one run may close before the mass-close guard holds them.
    #[arg(long, default_value_t = 0.5)]
    pub max_close_share: f64,
    /// A standing override of the mass-close guard (the setting form of `sync --force`).
    #[arg(long)]
    pub allow_mass_close: bool,
    /// The `whsec_…` secret XOR signs this connection's webhooks with (generated when absent).
    #[arg(long, env = "XOR_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<SecretString>,
    #[arg(long, value_enum, default_value = "production")]
    pub lever_env: EnvArg,
    /// Overrides the Lever Data API base (`…/v1`), e.g. the local sandbox.
    #[arg(long)]
    pub lever_base_url: Option<String>,
    /// Overrides the Lever OAuth host, e.g. the local sandbox.
    #[arg(long)]
    pub lever_auth_url: Option<String>,
    /// A Lever refresh token to start from (until OAuth authorization does it).
    #[arg(long, env = "LEVER_REFRESH_TOKEN", hide_env_values = true)]
    pub lever_refresh_token: Option<SecretString>,
    /// The Lever user id opportunities are created as (`perform_as`).
    #[arg(long)]
    pub perform_as: Option<String>,
    /// The opportunity's origin in Lever.
    #[arg(long, default_value = "sourced")]
    pub origin: String,
    /// The stage new candidates start in (a Lever stage id); Lever's default stage when absent.
    #[arg(long)]
    pub stage: Option<String>,
    /// Make the acting Super Admin the owner of XOR's candidates (by default the posting's
    /// owner owns them).
    #[arg(long)]
    pub admin_owns_candidates: bool,
    /// The API's public base URL (the stack's ApiUrl), to print XOR's webhook URL and a connect link.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// How many days the printed connect link stays valid.
    #[arg(long, default_value_t = DEFAULT_INVITATION_DAYS, value_parser = clap::value_parser!(u32).range(1..=90))]
    pub valid_days: u32,
}

#[derive(Subcommand)]
pub enum ConnectionsCommand {
    /// Register a customer: its Lever feed, its XOR account, its Lever settings. Prints the
    /// webhook secret to give XOR.
    Add(Box<AddArgs>),
    List {
        #[arg(long)]
        json: bool,
    },
    /// A new connect link for the customer's Lever Super Admin: the integration's Lever section,
    /// with a fresh invitation (unguessable, single use, expiring; only its hash is stored) that
    /// lets them connect. Shown once.
    ConnectUrl {
        id: ConnectionId,
        /// The API's public base URL (the stack's ApiUrl output, or a custom domain).
        #[arg(long, env = "PUBLIC_URL")]
        public_url: String,
        /// How many days the link stays valid.
        #[arg(long, default_value_t = DEFAULT_INVITATION_DAYS, value_parser = clap::value_parser!(u32).range(1..=90))]
        valid_days: u32,
    },
    /// A link to the connection's Lever section once connected (jobs and their chatbot links,
    /// recent candidates, replay, disable): signed, expiring, for this connection only.
    PageUrl {
        id: ConnectionId,
        /// The API's public base URL (the stack's ApiUrl output, or a custom domain).
        #[arg(long, env = "PUBLIC_URL")]
        public_url: String,
        /// How many days the link stays valid.
        #[arg(long, default_value_t = access::DEFAULT_LINK_DAYS, value_parser = clap::value_parser!(u32).range(1..=90))]
        valid_days: u32,
    },
    /// Unbind the connection from its Lever account (tokens, account, acting user) so that a
    /// different Lever account can authorize it: the one way to move a connection between
    /// Lever accounts. The connection waits as `pending` until then.
    ResetLever {
        id: ConnectionId,
        /// Move the connection to another Lever region too (its tokens are of the old one).
        #[arg(long, value_enum)]
        lever_env: Option<EnvArg>,
        /// Move it to another Lever Data API base (`…/v1`): where Lever pointed a refused redirect.
        #[arg(long)]
        lever_base_url: Option<String>,
        /// Move it to another Lever OAuth host.
        #[arg(long)]
        lever_auth_url: Option<String>,
    },
    /// Void every page link and section session of the connection issued until now (a link
    /// sent to the wrong person, a customer's admin who left). Connect links are voided too.
    RevokeLinks { id: ConnectionId },
    /// Status, last sync, token expiry (never the token), waiting and failed webhooks.
    Show {
        id: ConnectionId,
        #[arg(long)]
        json: bool,
    },
    /// Which postings become XOR jobs: rules per team, department, city, country, workplace,
    /// commitment, title words (show, set, clear).
    Filter {
        #[command(subcommand)]
        command: super::filter::FilterCommand,
    },
    /// Stop syncing and hold XOR's webhooks (as pending_reauth) until enabled; Lever's webhooks
    /// are deleted in Lever and their tokens forgotten (Lever stops sending outcomes).
    Disable { id: ConnectionId },
    /// Sync again, replay what XOR sent meanwhile, and (with the public URL) register Lever's
    /// webhooks again.
    Enable {
        id: ConnectionId,
        /// The API's public base URL (the stack's ApiUrl output), where Lever posts its events.
        #[arg(long, env = "PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// The customer's Lever feed moved (a new URL for the same Lever account): the next sync
    /// reads it. Jobs, mappings, secrets and the Lever authorization stay; postings no longer in
    /// the new feed are closed, held by the mass-close guard when many would be.
    SetFeedUrl {
        id: ConnectionId,
        #[arg(long)]
        feed_url: String,
    },
    /// Replace the connection's XOR API key (XOR issued a new one): the next sync uses it.
    SetXorKey {
        id: ConnectionId,
        /// Stored in the secret store, never in the table.
        #[arg(long, env = "XOR_API_KEY", hide_env_values = true)]
        xor_api_key: SecretString,
    },
    /// A new webhook secret for XOR; the old one keeps working for the grace period.
    RotateWebhookSecret {
        id: ConnectionId,
        #[arg(long, default_value_t = 24)]
        grace_hours: i64,
    },
}

fn http_url(name: &str, url: &str) -> Result<()> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(format!("{name} must be an http(s) URL, got {url:?}").into())
    }
}

/// Creates the connection and its secrets; returns the webhook secret XOR is to use.
pub async fn add(deps: &xor_lever_shared::usecases::SyncDeps, tokens: &TokenProvider, a: AddArgs) -> Result<String> {
    check_add(deps, tokens, &a).await?;
    let secret =
        a.webhook_secret.as_ref().map_or_else(xor_lever_shared::random::webhook_secret, |s| s.expose().to_owned());
    if WebhookSecret::parse(&secret).is_none() {
        return Err("--webhook-secret must be a whsec_<base64> secret".into());
    }
    // Secrets first: a connection that exists is always usable. The operator creates all three;
    // the functions only write new values of the Lever token pair (their IAM policy says so).
    deps.secrets.create_secret(&a.id, XOR_API_KEY, Some(&a.xor_api_key)).await?;
    deps.secrets.create_secret(&a.id, WEBHOOK_SECRET, Some(&SecretString::new(secret.clone()))).await?;
    deps.secrets.create_secret(&a.id, LEVER_TOKENS, None).await?;
    deps.secrets.create_secret(&a.id, LEVER_WEBHOOKS, None).await?;
    if let Some(rt) = &a.lever_refresh_token {
        // Expired on purpose: the first use refreshes (and so proves the token works).
        let pair = TokenSet { access_token: String::new(), refresh_token: rt.expose().to_owned(), expires_at: 0 };
        tokens.store(&a.id, &pair).await?;
    }
    deps.connections.create_connection(&new_connection(a)).await?;
    Ok(secret)
}

/// What `add` refuses before writing anything.
async fn check_add(deps: &xor_lever_shared::usecases::SyncDeps, tokens: &TokenProvider, a: &AddArgs) -> Result<()> {
    http_url("--feed-url", &a.feed_url)?;
    http_url("--xor-base-url", &a.xor_base_url)?;
    for (n, u) in [("--lever-base-url", &a.lever_base_url), ("--lever-auth-url", &a.lever_auth_url)] {
        if let Some(u) = u {
            http_url(n, u)?;
        }
    }
    if !(a.xor_max_rps.is_finite() && a.xor_max_rps > 0.0 && a.xor_max_rps <= 1000.0)
        || !(0.0..=1.0).contains(&a.max_close_share)
    {
        return Err("--xor-max-rps must be in (0, 1000] and --max-close-share in [0, 1]".into());
    }
    // An id that exists is refused before anything is written: an `add` must never replace a
    // live connection's XOR key or webhook secret (XOR's signatures would then fail).
    if deps.connections.connection(&a.id).await?.is_some() {
        return Err(format!(
            "connection {} already exists: nothing was changed. To replace its XOR API key: \
             xor-lever connections set-xor-key {0}; its webhook secret: xor-lever connections \
             rotate-webhook-secret {0}; its Lever account or region: xor-lever connections reset-lever {0}",
            a.id
        )
        .into());
    }
    let env = LeverEnv::from(a.lever_env);
    // One deployment, one Lever app, one environment: an account the app cannot authorize is
    // refused now, not at Lever's authorize page (an app not set yet is checked at the link).
    if let Ok(app) = tokens.app_credentials().await
        && let Some(why) = app.refuses(env)
    {
        return Err(format!("--lever-env {}: {why}; nothing was changed", env.as_str()).into());
    }
    // The job site and the postings API follow the account's region.
    if let Some(instead) = xor_lever_shared::adapters::lever::feed_in_other_region(env, &a.feed_url) {
        let env = env.as_str();
        return Err(format!(
            "--feed-url is Lever's postings API of another region than --lever-env {env:?}: use {instead}"
        )
        .into());
    }
    Ok(())
}

/// The connection `add` records: connected when given a refresh token, else pending until a
/// Super Admin authorizes through a connect link.
fn new_connection(a: AddArgs) -> Connection {
    let mut c = Connection::new(a.id, a.feed_url, a.xor_base_url, now_ms() / 1000);
    c.xor_max_rps = a.xor_max_rps;
    c.max_close_share = a.max_close_share;
    c.allow_mass_close = a.allow_mass_close;
    c.lever.env = a.lever_env.into();
    c.lever.api_base_url = a.lever_base_url;
    c.lever.auth_base_url = a.lever_auth_url;
    c.lever.perform_as = a.perform_as;
    c.lever.origin = a.origin;
    c.lever.stage = a.stage;
    c.lever.admin_owns_candidates = a.admin_owns_candidates;
    c.status = if a.lever_refresh_token.is_some() { ConnectionStatus::Connected } else { ConnectionStatus::Pending };
    c
}

pub async fn run(ctx: &Ctx, cmd: ConnectionsCommand) -> Result<ExitCode> {
    let deps = ctx.deps().await?;
    match cmd {
        ConnectionsCommand::Add(a) => add_and_tell(ctx, &deps, *a).await?,
        ConnectionsCommand::List { json } => list(&deps, json).await?,
        ConnectionsCommand::ConnectUrl { id, public_url, valid_days } => {
            connect_url(ctx, &deps, &id, &public_url, valid_days).await?
        }
        ConnectionsCommand::PageUrl { id, public_url, valid_days } => {
            let public_url =
                xor_lever_shared::url::public_base(&public_url).map_err(|e| format!("--public-url: {e}"))?;
            let link = access::page_link(&ctx.lever_context().await?, &public_url, &id, valid_days).await?;
            println!("the Lever section of {id} (valid {valid_days} days; whoever has the link can see it):");
            println!("{link}");
        }
        ConnectionsCommand::ResetLever { id, lever_env, lever_base_url, lever_auth_url } => {
            let to = xor_lever_shared::usecases::connect::Relocation {
                env: lever_env.map(LeverEnv::from),
                api_base_url: lever_base_url,
                auth_base_url: lever_auth_url,
            };
            reset(ctx, &id, &to).await?
        }
        ConnectionsCommand::RevokeLinks { id } => {
            let (_, invitations) = access::revoke_links(&ctx.lever_context().await?, &id).await?;
            println!(
                "connection {id}: every page link and section session issued until now is void ({invitations} connect link(s) too); send new ones with page-url or connect-url"
            );
        }
        ConnectionsCommand::Show { id, json } => show(ctx, &deps, &id, json).await?,
        ConnectionsCommand::Filter { command } => return super::filter::filter(ctx, command).await,
        ConnectionsCommand::Disable { id } => disable(ctx, &id).await?,
        ConnectionsCommand::Enable { id, public_url } => enable(ctx, &deps, &id, public_url.as_deref()).await?,
        ConnectionsCommand::SetFeedUrl { id, feed_url } => set_feed_url(&deps, &id, &feed_url).await?,
        ConnectionsCommand::SetXorKey { id, xor_api_key } => {
            if deps.connections.connection(&id).await?.is_none() {
                return Err(format!("no connection {id}").into());
            }
            deps.secrets.put_secret(&id, XOR_API_KEY, &xor_api_key).await?;
            println!("connection {id}: XOR API key replaced; the next sync uses it");
        }
        ConnectionsCommand::RotateWebhookSecret { id, grace_hours } => {
            rotate_webhook_secret(&deps, &id, grace_hours).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `add`, then what the operator hands on: XOR's webhook URL and secret, the connect link.
async fn add_and_tell(ctx: &Ctx, deps: &xor_lever_shared::usecases::SyncDeps, a: AddArgs) -> Result<()> {
    let given = a.webhook_secret.is_some();
    let id = a.id.clone();
    let base = a.public_url.clone().map(|u| u.trim_end_matches('/').to_owned());
    let w = ctx.lever_context().await?;
    let valid_days = a.valid_days;
    let secret = add(deps, &w.tokens, a).await?;
    println!("connection {id} added");
    println!("XOR webhook URL: {}/webhooks/xor/{id}", base.as_deref().unwrap_or("<ApiUrl>"));
    if !given {
        println!("XOR webhook secret (give it to XOR; shown once): {secret}");
    }
    let Some(base) = base else {
        println!("connect link: run `xor-lever connections connect-url {id} --public-url <ApiUrl>`");
        return Ok(());
    };
    // The connection is added either way; the link waits for the app.
    match print_connect_link(&w, &id, &base, valid_days).await {
        Err(e) if matches!(e.downcast_ref::<ConnectError>(), Some(ConnectError::AppNotSet)) => {
            println!("connect link: {e}");
            Ok(())
        }
        other => other,
    }
}

async fn list(deps: &xor_lever_shared::usecases::SyncDeps, json: bool) -> Result<()> {
    let all = deps.connections.connections().await?;
    if json {
        for c in all {
            println!("{}", serde_json::to_string(&c)?);
        }
    } else {
        print_table(
            ["ID", "STATUS", "FEED", "XOR"],
            all.into_iter().map(|c| [c.id.to_string(), c.status.as_str().into(), c.feed_url, c.xor_base_url]),
        );
    }
    Ok(())
}

async fn connect_url(
    ctx: &Ctx,
    deps: &xor_lever_shared::usecases::SyncDeps,
    id: &ConnectionId,
    public_url: &str,
    valid_days: u32,
) -> Result<()> {
    if deps.connections.connection(id).await?.is_none() {
        return Err(format!("no connection {id}").into());
    }
    let public_url = xor_lever_shared::url::public_base(public_url).map_err(|e| format!("--public-url: {e}"))?;
    // The secrets the callback writes to (connections added before they existed lack them).
    deps.secrets.create_secret(id, LEVER_TOKENS, None).await?;
    deps.secrets.create_secret(id, LEVER_WEBHOOKS, None).await?;
    print_connect_link(&ctx.lever_context().await?, id, &public_url, valid_days).await
}

async fn reset(ctx: &Ctx, id: &ConnectionId, to: &xor_lever_shared::usecases::connect::Relocation) -> Result<()> {
    let w = ctx.lever_context().await?;
    let by = std::env::var("USER").unwrap_or_else(|_| "an operator".into());
    let previous = reset_lever(&w, id, &by, to).await?;
    eprintln!(
        "connection {id}: Lever binding reset by {by} (was account {}); tokens forgotten, earlier connect links, page links and section sessions void; now pending",
        previous.as_deref().unwrap_or("unknown")
    );
    println!("send a new connect link: xor-lever connections connect-url {id} --public-url <ApiUrl>");
    Ok(())
}

async fn show(ctx: &Ctx, deps: &xor_lever_shared::usecases::SyncDeps, id: &ConnectionId, json: bool) -> Result<()> {
    let v = describe(ctx, deps, id).await?;
    if json {
        println!("{v}");
        return Ok(());
    }
    for (k, val) in v.as_object().into_iter().flatten() {
        let text = if val.is_string() { val.as_str().unwrap_or_default().to_owned() } else { val.to_string() };
        println!("{k:>18}: {text}");
    }
    Ok(())
}

/// Disables `id`, then removes its Lever webhooks (best effort: Lever drops them anyway once
/// the authorization ends; the tokens are forgotten either way).
async fn disable(ctx: &Ctx, id: &ConnectionId) -> Result<()> {
    let w = ctx.lever_context().await?;
    let conn = w.connections.connection(id).await?.ok_or_else(|| format!("no connection {id}"))?;
    w.connections.set_status(id, ConnectionStatus::Disabled).await?;
    let removed = xor_lever_shared::usecases::connect::subscribe::unsubscribe(&w, &conn, now_ms() + 10_000).await?;
    println!(
        "connection {id} disabled: no syncs; XOR's webhooks wait as pending_reauth; {removed} Lever webhook(s) removed (Lever stops sending outcomes)"
    );
    Ok(())
}

/// Back from disabled: connected when Lever's tokens are there, else pending; what waited is
/// replayed; Lever's webhooks registered again when the public URL is known.
async fn enable(
    ctx: &Ctx,
    deps: &xor_lever_shared::usecases::SyncDeps,
    id: &ConnectionId,
    public_url: Option<&str>,
) -> Result<()> {
    let w = ctx.lever_context().await?;
    let authorized = w.tokens.stored(id).await?.is_some();
    let status = if authorized { ConnectionStatus::Connected } else { ConnectionStatus::Pending };
    deps.connections.set_status(id, status).await?;
    let replayed = xor_lever_shared::usecases::connect::replay_waiting(&w, id, now_ms() + 5 * 60_000).await;
    println!("connection {id} is {}; {replayed} waiting webhook(s) replayed", status.as_str());
    if status == ConnectionStatus::Connected {
        println!("{}", resubscribe(&w, id, public_url).await);
    }
    Ok(())
}

/// Registers the connection's Lever webhooks again (after an `enable`): what happened, in words.
async fn resubscribe(w: &LeverContext, id: &ConnectionId, public_url: Option<&str>) -> String {
    let Some(base) = public_url else {
        return "Lever webhooks not registered: pass --public-url (or PUBLIC_URL), or authorize again".into();
    };
    let Ok(Some(conn)) = w.connections.connection(id).await else { return "no connection".into() };
    let lever = w.lever_for(&conn);
    let subscribed = match w.tokens.access_token(&conn, &*lever, now_ms() + 10_000).await {
        Ok(access) => {
            xor_lever_shared::usecases::connect::subscribe::subscribe(w, &conn, &access, base).await.map(|h| h.len())
        }
        Err(e) => return format!("Lever webhooks not registered: {e}"),
    };
    match subscribed {
        Ok(n) => format!("{n} Lever webhook(s) registered at {base}/webhooks/lever/{id}"),
        Err(e) => format!("Lever webhooks not registered: {e}"),
    }
}

async fn set_feed_url(deps: &xor_lever_shared::usecases::SyncDeps, id: &ConnectionId, feed_url: &str) -> Result<()> {
    let Some(c) = deps.connections.connection(id).await? else {
        return Err(format!("no connection {id}").into());
    };
    http_url("--feed-url", feed_url)?;
    if let Some(instead) = xor_lever_shared::adapters::lever::feed_in_other_region(c.lever.env, feed_url) {
        return Err(format!(
            "--feed-url is Lever's postings API of another region than the connection's ({}): use {instead}",
            c.lever.env.as_str()
        )
        .into());
    }
    deps.connections.set_feed_url(id, feed_url).await?;
    println!("connection {id}: feed URL is now {feed_url} (was {}); the next sync reads it", c.feed_url);
    println!("postings not in the new feed are closed in XOR; more than the guard's share is held for `sync --force`");
    Ok(())
}

/// A new webhook secret first, the current ones (still valid only) kept until the grace ends.
async fn rotate_webhook_secret(
    deps: &xor_lever_shared::usecases::SyncDeps,
    id: &ConnectionId,
    grace_hours: i64,
) -> Result<()> {
    let now = now_ms() / 1000;
    let current = deps
        .secrets
        .secret(id, WEBHOOK_SECRET)
        .await?
        .ok_or_else(|| format!("connection {id} has no webhook secret"))?;
    let until = now + grace_hours.max(0) * 3600;
    let mut entries = vec![xor_lever_shared::random::webhook_secret()];
    for e in current.expose().split_whitespace() {
        let (secret, old_until) = match e.split_once(";until=") {
            Some((s, u)) => (s, u.parse::<i64>().unwrap_or(0)),
            None => (e, i64::MAX),
        };
        if old_until > now {
            entries.push(format!("{secret};until={}", old_until.min(until)));
        }
    }
    deps.secrets.put_secret(id, WEBHOOK_SECRET, &SecretString::new(entries.join(" "))).await?;
    println!("new XOR webhook secret for {id} (give it to XOR; shown once): {}", entries[0]);
    println!("the previous secret keeps working for {grace_hours} h");
    Ok(())
}

/// Mints an invitation and prints the connect link (the token is shown this once).
async fn print_connect_link(w: &LeverContext, id: &ConnectionId, base: &str, valid_days: u32) -> Result<()> {
    let (token, inv) = invite(w, id, valid_days).await?;
    let until = time::OffsetDateTime::from_unix_timestamp(inv.expires_at_ms / 1000)
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default();
    println!(
        "connect link for the customer's Lever Super Admin (single use, valid until {until}, replaces earlier links; shown once):"
    );
    println!("{}", access::invitation_link(base, id, &token));
    Ok(())
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|d| d.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// What an operator sees of a connection (never a token or a secret).
pub async fn describe(
    ctx: &Ctx,
    deps: &xor_lever_shared::usecases::SyncDeps,
    id: &ConnectionId,
) -> Result<serde_json::Value> {
    let c = deps.connections.connection(id).await?.ok_or_else(|| format!("no connection {id}"))?;
    let w = ctx.lever_context().await?;
    let tokens = w.tokens.stored(id).await?;
    let last = deps.runs.runs(id, 1).await?.into_iter().next();
    let jobs_in_xor = deps.mappings.mappings(id).await?.iter().filter(|m| m.is_active()).count();
    let hooks = lever_webhooks(&w, &c).await;
    let count = |st| {
        let w = w.clone();
        let id = id.clone();
        async move { xor_lever_shared::usecases::webhook::count_deliveries(&w, &id, st, 10_000).await }
    };
    let expiry = tokens.as_ref().map(|t| rfc3339(t.expires_at * 1000));
    Ok(serde_json::json!({
        "connection": c.id,
        "status": c.status.as_str(),
        "feed_url": c.feed_url,
        "xor_base_url": c.xor_base_url,
        "lever_env": c.lever.env.as_str(),
        "lever_region": c.lever.env.region(),
        "perform_as": c.lever.perform_as,
        "perform_as_is": c.lever.perform_as_source,
        "candidates_owned_by": if c.lever.admin_owns_candidates { "the acting Super Admin" } else { "the posting's owner" },
        "stage": c.lever.stage.as_deref().unwrap_or("Lever's default"),
        "lever_account": c.lever.account_id,
        "authorized_by": c.lever.authorized_by,
        "lever_reset": c.lever.reset,
        "links_revoked_at": c.lever.links_revoked_at_ms.map(rfc3339),
        "lever_authorized": tokens.is_some(),
        "token_expires_at": expiry,
        "token_expires_at_unix": tokens.as_ref().map(|t| t.expires_at),
        // Lever ends an authorization after a year: renew before then (runbook:
        // authorizations-expiring).
        "authorization_ends_at": c.lever.authorization_ends_at().map(|t| rfc3339(t * 1000)),
        "authorization_ends_at_unix": c.lever.authorization_ends_at(),
        "authorization_renewal_due": c.status == ConnectionStatus::Connected
            && c.lever.renewal_due(xor_lever_shared::usecases::now_ms() / 1000),
        "jobs_in_xor": jobs_in_xor,
        // Postings of the last read feed the job filter holds back (issue 26), under the filter
        // as it is now (a 304 run read nothing, so its own count says nothing).
        "jobs_held_back": held_back(deps, &c).await?,
        "job_filter": super::filter::words(&c.job_filter.rules),
        "job_switches": c.job_filter.switches.len(),
        "last_sync": last.as_ref().map(|r| serde_json::json!({"finished_at_ms": r.finished_at_ms, "outcome": r.outcome, "summary": r.summary})),
        "webhooks_pending": count(DeliveryStatus::Pending).await?,
        "webhooks_pending_reauth": count(DeliveryStatus::PendingReauth).await?,
        "webhooks_failed": count(DeliveryStatus::Failed).await?,
        // The third flow (docs/outcomes.md): Lever's webhooks registered, or why not.
        "lever_webhooks": hooks.0,
        "lever_webhooks_registered": hooks.1,
    }))
}

/// The postings of the last feed read that the connection's job filter holds back.
async fn held_back(deps: &xor_lever_shared::usecases::SyncDeps, c: &Connection) -> Result<usize> {
    let judge = c.job_filter.judge();
    Ok(deps.catalogs.catalog(&c.id).await?.iter().filter(|e| !judge.verdict_of(e).publishes()).count())
}

/// How many of Lever's webhooks the connection holds tokens for, in words an operator acts on,
/// and the number.
async fn lever_webhooks(w: &LeverContext, c: &Connection) -> (String, usize) {
    let n = xor_lever_shared::usecases::connect::subscribe::stored(w, &c.id).await.map_or(0, |h| h.len());
    let words = match (n, c.status) {
        (0, ConnectionStatus::Connected) => "none: outcomes need \"Authorize again\" (a connect link)".into(),
        (0, _) => "none".into(),
        (n, _) => format!("{n} registered (outcomes reach XOR once the Super Admin switches them on in Lever)"),
    };
    (words, n)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        add: super::AddArgs,
    }

    #[test]
    fn parsed_arguments_never_print_their_secrets() {
        let cli = Cli::parse_from([
            "x",
            "acme",
            "--feed-url=https://jobs.lever.co/acme.xml",
            "--xor-api-key=xor_live_s3cr3t",
            "--webhook-secret=whsec_czNjcjN0czNjcjN0",
            "--lever-refresh-token=lrt_s3cr3t",
        ]);
        let printed = format!("{:?}", cli.add);
        assert!(!printed.contains("s3cr3t") && !printed.contains("czNjcjN0"), "{printed}");
        assert_eq!(cli.add.xor_api_key.expose(), "xor_live_s3cr3t");
    }
}
