//! `batchbook lists check`: an exported list checked offline, for operators
//! and for practices fixing a file before they upload it. One JSON object
//! (or table line) per patient row on stdout, in input order, written as
//! each row is checked; a summary on stderr, and a progress bar there when
//! it is a terminal and the file is large. Offline means no lookups: PDS,
//! NHS App reachability and failure history are the service's.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::path::Path;

use domain::lists::{
    CheckedRow, ClinicalSystem, ListChecker, ListCounts, ListError, Outcome, MAX_FILE_BYTES,
};
use serde::Serialize;

/// Files larger than this get a progress bar (on a terminal).
const PROGRESS_FROM_BYTES: u64 = 256 * 1024;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum System {
    Emis,
    Systmone,
    Vision,
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
    email: Option<&'a str>,
    date_of_birth: Option<&'a str>,
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
    let unreadable = |e: std::io::Error| CheckError::Unreadable {
        file: name.clone(),
        reason: e.to_string(),
    };
    let refused = |e: ListError| CheckError::Refused {
        file: name.clone(),
        reason: e.to_string(),
    };
    let size = std::fs::metadata(file).map_err(unreadable)?.len();
    // Refused before reading, so a huge file is never loaded.
    if size > MAX_FILE_BYTES as u64 {
        return Err(refused(ListError::TooLarge {
            limit_mb: MAX_FILE_BYTES / (1024 * 1024),
        }));
    }
    let input = BufReader::new(std::fs::File::open(file).map_err(unreadable)?);
    let system = system.map(|s| match s {
        System::Emis => ClinicalSystem::Emis,
        System::Systmone => ClinicalSystem::SystmOne,
        System::Vision => ClinicalSystem::Vision,
    });
    let today = chrono::Utc::now().date_naive();
    let mut checker = ListChecker::open(input, system, today).map_err(refused)?;
    let progress = if size > PROGRESS_FROM_BYTES {
        indicatif::ProgressBar::new(size)
    } else {
        indicatif::ProgressBar::hidden()
    };
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {percent:>3}% {msg} rows checked, {bytes}/{total_bytes}",
        )
        .expect("the template is valid"),
    );
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if let Format::Table = format {
        table_line(
            &mut out,
            [
                "row",
                "outcome",
                "reason",
                "channel",
                "nhs_number",
                "mobile",
                "email",
                "date_of_birth",
            ],
        )?;
    }
    let mut counts = ListCounts::default();
    let mut reasons: BTreeMap<&'static str, u64> = BTreeMap::new();
    while let Some(row) = checker.next_row().map_err(|e| {
        progress.finish_and_clear();
        refused(e)
    })? {
        counts.add(&row);
        if let Some(reason) = row.reason {
            *reasons.entry(reason.as_str()).or_default() += 1;
        }
        write_row(&row, format, &mut out)?;
        if counts.patients % 1_000 == 0 {
            progress.set_position(checker.bytes_read());
            progress.set_message(counts.patients.to_string());
        }
    }
    progress.finish_and_clear();
    out.flush()?;
    eprintln!("{}", summary(&counts, &reasons));
    Ok(())
}

/// One line of the table: the header and every row share these widths.
fn table_line(out: &mut impl Write, cells: [&str; 8]) -> std::io::Result<()> {
    let [row, outcome, reason, channel, nhs_number, mobile, email, dob] = cells;
    writeln!(
        out,
        "{row:>6}  {outcome:<15}  {reason:<34}  {channel:<7}  {nhs_number:<10}  {mobile:<13}  {dob:<13}  {email}"
    )
}

fn write_row(row: &CheckedRow, format: Format, out: &mut impl Write) -> std::io::Result<()> {
    let shown = RowOut {
        row: row.row,
        outcome: row.outcome,
        reason: row.reason.map(|r| r.as_str()),
        column: row.column.as_deref(),
        channel: row.channel.map(|c| c.as_str()),
        nhs_number: row.nhs_number.as_deref(),
        mobile: row.mobile.as_deref(),
        email: row.email.as_deref(),
        date_of_birth: row.date_of_birth.as_deref(),
    };
    match format {
        Format::Jsonl => {
            serde_json::to_writer(&mut *out, &shown)?;
            writeln!(out)
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
                shown.email.unwrap_or("-"),
                shown.date_of_birth.unwrap_or("-"),
            ],
        ),
    }
}

/// `1000 patient rows: 950 contactable, 50 not contactable (20 invalid_nhs_number, …)`.
fn summary(counts: &ListCounts, reasons: &BTreeMap<&str, u64>) -> String {
    let mut line = format!(
        "{} patient rows: {} contactable, {} not contactable",
        counts.patients,
        counts.contactable,
        counts.not_contactable()
    );
    if !reasons.is_empty() {
        let parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
        line.push_str(&format!(" ({})", parts.join(", ")));
    }
    line
}
