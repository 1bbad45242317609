//! `batchbook lists check`: an exported list checked offline, for operators
//! and for practices fixing a file before they upload it. One JSON object
//! (or table line) per patient row on stdout, in input order; a summary on
//! stderr.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use domain::lists::{check_list, CheckedList, ClinicalSystem, Outcome, MAX_FILE_BYTES};
use serde::Serialize;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum System {
    Emis,
    Systmone,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Table,
}

/// One patient row as the CLI prints it: every key present, null when empty.
#[derive(Serialize)]
struct RowOut<'a> {
    row: u64,
    outcome: Outcome,
    reason: Option<&'static str>,
    column: Option<&'a str>,
    channel: Option<&'static str>,
    nhs_number: Option<&'a str>,
    mobile: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{file}: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file}: the list cannot be used: {reason}")]
    Refused { file: String, reason: String },
    #[error("writing the results: {0}")]
    Output(#[from] std::io::Error),
}

pub fn check(file: &Path, system: Option<System>, format: Format) -> Result<(), CheckError> {
    let name = file.display().to_string();
    let size = std::fs::metadata(file)
        .map_err(|e| CheckError::Unreadable {
            file: name.clone(),
            reason: e.to_string(),
        })?
        .len();
    // Refused before reading, so a huge file is never loaded.
    if size > MAX_FILE_BYTES as u64 {
        let reason = domain::lists::ListError::TooLarge {
            limit_mb: MAX_FILE_BYTES / (1024 * 1024),
        };
        return Err(CheckError::Refused {
            file: name,
            reason: reason.to_string(),
        });
    }
    let bytes = std::fs::read(file).map_err(|e| CheckError::Unreadable {
        file: name.clone(),
        reason: e.to_string(),
    })?;
    let system = system.map(|s| match s {
        System::Emis => ClinicalSystem::Emis,
        System::Systmone => ClinicalSystem::SystmOne,
    });
    let list = check_list(&bytes, system).map_err(|e| CheckError::Refused {
        file: name,
        reason: e.to_string(),
    })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    write_rows(&list, format, &mut out)?;
    out.flush()?;
    eprintln!("{}", summary(&list));
    Ok(())
}

/// One line of the table: the header and every row share these widths.
fn table_line(out: &mut impl Write, cells: [&str; 6]) -> std::io::Result<()> {
    let [row, outcome, reason, channel, nhs_number, mobile] = cells;
    writeln!(
        out,
        "{row:>6}  {outcome:<15}  {reason:<28}  {channel:<7}  {nhs_number:<10}  {mobile}"
    )
}

fn write_rows(list: &CheckedList, format: Format, out: &mut impl Write) -> std::io::Result<()> {
    if let Format::Table = format {
        table_line(
            out,
            [
                "row",
                "outcome",
                "reason",
                "channel",
                "nhs_number",
                "mobile",
            ],
        )?;
    }
    for row in &list.rows {
        let shown = RowOut {
            row: row.row,
            outcome: row.outcome,
            reason: row.reason.map(|r| r.as_str()),
            column: row.column.as_deref(),
            channel: row.channel.map(|c| c.as_str()),
            nhs_number: row.nhs_number.as_deref(),
            mobile: row.mobile.as_deref(),
        };
        match format {
            Format::Jsonl => {
                serde_json::to_writer(&mut *out, &shown)?;
                writeln!(out)?;
            }
            Format::Table => table_line(
                out,
                [
                    &shown.row.to_string(),
                    match shown.outcome {
                        Outcome::Contactable => "contactable",
                        Outcome::NotContactable => "not_contactable",
                    },
                    shown.reason.unwrap_or("-"),
                    shown.channel.unwrap_or("-"),
                    shown.nhs_number.unwrap_or("-"),
                    shown.mobile.unwrap_or("-"),
                ],
            )?,
        }
    }
    Ok(())
}

/// `1000 patient rows: 950 contactable, 50 not contactable (20 invalid_nhs_number, …)`.
fn summary(list: &CheckedList) -> String {
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for reason in list.rows.iter().filter_map(|r| r.reason) {
        *reasons.entry(reason.as_str()).or_default() += 1;
    }
    let contactable = list.contactable_count();
    let not = list.rows.len() as u64 - contactable;
    let mut line = format!(
        "{} patient rows: {contactable} contactable, {not} not contactable",
        list.rows.len()
    );
    if !reasons.is_empty() {
        let parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
        line.push_str(&format!(" ({})", parts.join(", ")));
    }
    line
}
