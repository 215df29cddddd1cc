use std::io::{BufReader, IsTerminal, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;

use clap::Subcommand;
use xor_lever_shared::adapters::feed_http::{FeedFetcher, Fetched};
use xor_lever_shared::domain::FeedSource;
use xor_lever_shared::domain::Posting;
use xor_lever_shared::feed::{Limits, parse};

use super::cell;
use crate::store::Result;

#[derive(Subcommand)]
pub enum FeedCommand {
    /// Parse a feed (a file or an http(s) URL). Warnings go to stderr; exit 1 when unusable.
    Inspect {
        /// A file path or an http(s) URL.
        source: String,
        /// One JSON object per posting per line: the XOR job body plus `extra`.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cmd: FeedCommand) -> Result<ExitCode> {
    let FeedCommand::Inspect { source, json } = cmd;
    let file = open_source(&source).await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut header = !json;
    let report = tokio::task::block_in_place(|| {
        parse(BufReader::new(file), Limits::default(), |p: Posting| {
            if std::mem::take(&mut header) {
                let _ = write_header(&mut out);
            }
            let written = if json { write_json(&mut out, &p) } else { write_row(&mut out, &p) };
            // A closed pipe (`| head`): stop quietly.
            if written.is_ok() { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
        })
    });
    let _ = out.flush();
    let report = report?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if report.warnings_total > report.warnings.len() {
        eprintln!("warning: … and {} more", report.warnings_total - report.warnings.len());
    }
    if !json || std::io::stderr().is_terminal() {
        eprintln!("{} jobs, {} skipped, read as {}", report.jobs, report.skipped, report.encoding);
    }
    Ok(ExitCode::SUCCESS)
}

/// The feed as a file: fetched (a URL) or opened (a path).
async fn open_source(source: &str) -> Result<std::fs::File> {
    if !(source.starts_with("http://") || source.starts_with("https://")) {
        return Ok(std::fs::File::open(source).map_err(|e| format!("cannot open {source}: {e}"))?);
    }
    match FeedFetcher::new(xor_lever_shared::config::feed_client()).fetch(source, None).await? {
        Fetched::Body { file, .. } => Ok(file),
        Fetched::NotModified => Err("the server answered 304 to an unconditional request".into()),
    }
}

fn write_header(out: &mut impl Write) -> std::io::Result<()> {
    let (posting, title, location, kind) =
        (cell("POSTING", 36), cell("TITLE", 36), cell("LOCATION", 22), cell("TYPE", 10));
    writeln!(out, "{posting}  {title}  {location}  {kind}  POSTED")
}

fn write_json(out: &mut impl Write, p: &Posting) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, p)?;
    writeln!(out)
}

fn write_row(out: &mut impl Write, p: &Posting) -> std::io::Result<()> {
    let loc = [p.location.city.as_deref(), p.location.country.as_deref(), p.location.remote.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    writeln!(
        out,
        "{}  {}  {}  {}  {}",
        cell(p.external_id.as_str(), 36),
        cell(&p.title, 36),
        cell(&loc, 22),
        cell(p.employment_type.as_deref().unwrap_or("-"), 10),
        p.posted_at.as_deref().unwrap_or("-")
    )
}
