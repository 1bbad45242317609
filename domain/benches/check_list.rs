//! How fast a patient list is checked. Issue 4's goal: a 100,000-row
//! SystmOne export (about 5 MB, the synthetic mix of good and bad rows)
//! parsed, checked and classified in at most 0.25 s on one thread, with a
//! peak RSS of at most 64 MiB. The floor beside it is the csv crate reading
//! the same bytes and doing nothing else.
//!
//! Run on a release build: `cargo bench -p domain --bench check_list`.
//! Figures are medians over several runs: this machine is shared and noisy.

use std::hint::black_box;
use std::time::{Duration, Instant};

use domain::lists::{synthetic_systmone_csv, ListChecker, ListCounts};

const ROWS: usize = 100_000;
const RUNS: usize = 7;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The csv crate alone: every record read, nothing checked.
fn csv_floor(bytes: &[u8]) -> usize {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    while reader
        .read_byte_record(&mut record)
        .expect("the synthetic file reads")
    {
        rows += 1;
    }
    rows
}

/// Parse, check and classify every row, streaming: each checked row is
/// counted and dropped, as the ingest function writes each one out.
fn check(bytes: &[u8]) -> ListCounts {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).expect("a date");
    let mut checker = ListChecker::open(bytes, None, today).expect("the synthetic file is usable");
    let mut counts = ListCounts::default();
    while let Some(row) = checker.next_row().expect("the synthetic file reads") {
        counts.add(&row);
    }
    counts
}

/// The process's peak resident set so far (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let csv = synthetic_systmone_csv(ROWS);
    let bytes = csv.as_bytes();
    println!(
        "check_list: {ROWS} SystmOne rows, {:.1} MB, {RUNS} runs, one thread",
        bytes.len() as f64 / 1e6
    );
    let mut floor = Vec::new();
    let mut checked = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        black_box(csv_floor(black_box(bytes)));
        floor.push(started.elapsed());
        let started = Instant::now();
        let counts = check(black_box(bytes));
        checked.push(started.elapsed());
        assert_eq!(counts.patients, ROWS as u64);
        black_box(counts);
    }
    let (floor, checked) = (median(floor), median(checked));
    println!(
        "  csv crate floor   median {:>8.1} ms",
        floor.as_secs_f64() * 1e3
    );
    println!(
        "  parse+check+class median {:>8.1} ms  ({:.1}x the floor; goal 250 ms)",
        checked.as_secs_f64() * 1e3,
        checked.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "  rows per second   {:>8.0}",
        ROWS as f64 / checked.as_secs_f64()
    );
    match peak_rss_mib() {
        Some(mib) => println!(
            "  peak RSS          {mib:>8.1} MiB (whole process, file included; goal 64 MiB)"
        ),
        None => println!("  peak RSS          unknown on this platform"),
    }
}
