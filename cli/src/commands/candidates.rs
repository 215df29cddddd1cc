//! `xor-lever candidates erase`: an operator erases what the product holds about one person on
//! request (a data-subject request that reached the team rather than Lever), by email or by XOR
//! candidate id, in one connection or all; the same erasure Lever's `candidateDeleted` runs
//! (docs/data-protection.md).
use std::process::ExitCode;

use clap::Subcommand;
use xor_lever_shared::domain::ConnectionId;
use xor_lever_shared::usecases::webhook::{Erased, erase_by_email, erase_candidate};

use crate::store::{Ctx, Result};

#[derive(Subcommand)]
pub enum CandidatesCommand {
    /// Erase one person: their screenings' raw bodies (name, email, phone, links, answers) go;
    /// a tombstone keeps XOR's retry of their screening from creating them again. Prints what
    /// was erased.
    Erase {
        #[arg(long, required_unless_present = "candidate", conflicts_with = "candidate")]
        email: Option<String>,
        /// XOR's candidate id.
        #[arg(long)]
        candidate: Option<String>,
        /// Only this connection (default: every connection).
        #[arg(long)]
        connection: Option<ConnectionId>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: CandidatesCommand) -> Result<ExitCode> {
    let CandidatesCommand::Erase { email, candidate, connection, json } = cmd;
    let w = ctx.lever_context().await?;
    let connections = match connection {
        Some(c) => vec![c],
        None => w.connections.connections().await?.into_iter().map(|c| c.id).collect(),
    };
    let mut all: Vec<Erased> = Vec::new();
    for c in &connections {
        let done = match (&email, &candidate) {
            (Some(e), _) => erase_by_email(&w, c, e, "operator").await?,
            (None, Some(id)) => erase_candidate(&w, c, id, "operator").await?,
            (None, None) => unreachable!("clap requires one"),
        };
        if !done.candidates.is_empty() {
            all.push(done);
        }
    }
    if json {
        println!("{}", serde_json::to_string(&all)?);
    } else if all.is_empty() {
        println!("nobody found: nothing erased");
    } else {
        for e in &all {
            println!(
                "{}: erased candidate(s) {}: {} screening bod{} removed; Lever opportunities {} (delete them in Lever too, if asked)",
                e.connection,
                e.candidates.join(", "),
                e.bodies,
                if e.bodies == 1 { "y" } else { "ies" },
                if e.opportunities.is_empty() { "-".to_owned() } else { e.opportunities.join(", ") },
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
