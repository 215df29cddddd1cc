use std::process::ExitCode;

use clap::Subcommand;
use xor_lever_shared::domain::{ConnectionId, Delivery, DeliveryStatus};
use xor_lever_shared::usecases::now_ms;
use xor_lever_shared::usecases::webhook::{list_deliveries, replay, retry_waiting};

use super::print_table;
use crate::store::{Ctx, Result};

/// A delivery as `webhooks list --json` shows it: everything but the raw body, which carries
/// candidate PII (`webhooks show` is the one place that prints it).
#[derive(serde::Serialize)]
struct DeliveryView<'a> {
    connection: &'a str,
    webhook_id: &'a str,
    status: DeliveryStatus,
    received_at_ms: i64,
    updated_at_ms: i64,
    event_type: Option<&'a str>,
    natural_key: Option<&'a str>,
    opportunity_id: Option<&'a str>,
    reason: Option<&'a str>,
    attempts: u32,
    expires_at: Option<i64>,
}

impl<'a> From<&'a Delivery> for DeliveryView<'a> {
    fn from(d: &'a Delivery) -> Self {
        Self {
            connection: d.connection.as_str(),
            webhook_id: &d.webhook_id,
            status: d.status,
            received_at_ms: d.received_at_ms,
            updated_at_ms: d.updated_at_ms,
            event_type: d.event_type.as_deref(),
            natural_key: d.natural_key.as_deref(),
            opportunity_id: d.opportunity_id.as_deref(),
            reason: d.reason.as_deref(),
            attempts: d.attempts,
            expires_at: d.expires_at,
        }
    }
}

/// A delivery status, as `--status` takes it (clap lists and checks the values).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "snake_case")]
pub enum StatusArg {
    Received,
    Completed,
    Failed,
    Rejected,
    Pending,
    PendingReauth,
}

impl From<StatusArg> for DeliveryStatus {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::Received => Self::Received,
            StatusArg::Completed => Self::Completed,
            StatusArg::Failed => Self::Failed,
            StatusArg::Rejected => Self::Rejected,
            StatusArg::Pending => Self::Pending,
            StatusArg::PendingReauth => Self::PendingReauth,
        }
    }
}

#[derive(Subcommand)]
pub enum WebhooksCommand {
    /// Deliveries, newest first.
    List {
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        #[arg(long)]
        connection: Option<ConnectionId>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// One delivery with its raw body.
    Show {
        id: String,
        #[arg(long)]
        connection: Option<ConnectionId>,
    },
    /// Process a delivery again (or every waiting one).
    Replay {
        id: Option<String>,
        #[arg(long)]
        connection: Option<ConnectionId>,
        #[arg(long, conflicts_with = "id")]
        all_pending: bool,
    },
}

/// A delivery by its webhook id: a key lookup in the named connection, or in each connection.
async fn find(ctx: &Ctx, id: &str, connection: Option<&ConnectionId>) -> Result<Delivery> {
    let w = ctx.lever_context().await?;
    let connections = match connection {
        Some(c) => vec![c.clone()],
        None => w.connections.connections().await?.into_iter().map(|c| c.id).collect(),
    };
    let mut found = Vec::new();
    for c in &connections {
        found.extend(w.webhooks.delivery(c, id).await?);
    }
    match found.len() {
        0 => Err(format!("no delivery {id}").into()),
        1 => Ok(found.remove(0)),
        _ => Err(format!("delivery {id} exists for several connections: name one with --connection").into()),
    }
}

pub async fn run(ctx: &Ctx, cmd: WebhooksCommand) -> Result<ExitCode> {
    let w = ctx.lever_context().await?;
    match cmd {
        WebhooksCommand::List { status, connection, limit, json } => {
            let status = status.map(DeliveryStatus::from);
            let list = list_deliveries(&w, connection.as_ref(), status, limit).await?;
            if json {
                for d in &list {
                    println!("{}", serde_json::to_string(&DeliveryView::from(d))?);
                }
            } else {
                print_table(
                    ["WEBHOOK ID", "CONNECTION", "STATUS", "OPPORTUNITY", "REASON"],
                    list.iter().map(|d| {
                        [
                            d.webhook_id.clone(),
                            d.connection.to_string(),
                            d.status.as_str().into(),
                            d.opportunity_id.clone().unwrap_or_else(|| "-".into()),
                            d.reason.clone().unwrap_or_default(),
                        ]
                    }),
                );
            }
        }
        WebhooksCommand::Show { id, connection } => {
            let d = find(ctx, &id, connection.as_ref()).await?;
            println!("{}", serde_json::to_string_pretty(&d)?);
        }
        WebhooksCommand::Replay { id: Some(id), connection, .. } => {
            let d = find(ctx, &id, connection.as_ref()).await?;
            let a = replay(&w, &d.connection, &d.webhook_id, now_ms() + 60_000).await?;
            println!("{}: {}", d.webhook_id, a.body);
            if a.reply != xor_lever_shared::usecases::webhook::Reply::Accepted {
                return Ok(ExitCode::FAILURE);
            }
        }
        WebhooksCommand::Replay { id: None, all_pending: true, .. } => {
            let s = retry_waiting(&w, now_ms() + 10 * 60_000, 10_000).await?;
            println!(
                "replayed {}: {} completed, {} failed, {} still waiting, {} held for a new authorization",
                s.replayed, s.completed, s.failed, s.still_waiting, s.held
            );
        }
        WebhooksCommand::Replay { .. } => return Err("name a delivery id, or --all-pending".into()),
    }
    Ok(ExitCode::SUCCESS)
}
