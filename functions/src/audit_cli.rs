//! `batchbook audit`: what auditors run against a data directory.
//!
//! `audit verify` checks the event chain against its checkpoints and
//! replays every event into fresh read models to compare with the live
//! ones (`infra/src/embedded/audit.rs`). It prints one line per finding
//! (or the whole report as JSON) and answers whether everything held.

use std::io::Write;
use std::path::Path;

use infra::embedded::audit::{verify as verify_dir, VerifyReport};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// Verifies `data` and writes the report to `out`. `Ok(true)` when nothing
/// differs.
pub async fn verify(
    data: &Path,
    format: ReportFormat,
    out: &mut impl Write,
) -> Result<bool, Box<dyn std::error::Error>> {
    let report = verify_dir(data).await?;
    match format {
        ReportFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        ReportFormat::Text => write_text(&report, out)?,
    }
    Ok(report.is_clean())
}

fn write_text(report: &VerifyReport, out: &mut impl Write) -> std::io::Result<()> {
    let chain = &report.chain;
    writeln!(
        out,
        "Event chain: {} events, {} stored before the chain existed, {} checkpoints compared",
        chain.events, chain.before_chain, chain.checkpoints
    )?;
    for finding in &chain.findings {
        writeln!(out, "  TAMPERED  {finding}")?;
    }
    writeln!(
        out,
        "Read models: {} events replayed into fresh read models",
        report.replayed
    )?;
    if let Some(stopped) = &report.replay_stopped {
        writeln!(
            out,
            "  UNREAD    {stopped}; the read models were not compared"
        )?;
    }
    for drift in &report.drift {
        writeln!(out, "  DRIFT     {drift}")?;
    }
    if report.is_clean() {
        writeln!(
            out,
            "Verified: no event was changed, deleted, inserted or reordered, and every read model follows from the events."
        )?;
    } else {
        writeln!(
            out,
            "NOT VERIFIED: {} chain findings, {} read-model differences.",
            chain.findings.len(),
            report.drift.len()
        )?;
    }
    Ok(())
}
