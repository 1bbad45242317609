//! The replay-and-verify benchmark (issue 19): `audit verify` over a demo
//! data directory on the embedded stack: the event chain checked against
//! its checkpoint, then every event replayed into fresh read models and
//! compared with the live ones. Goal: at least 200,000 events a second.
//!
//! ```sh
//! cargo bench -p functions --bench audit_verify                       # 50,000 patients (~150,000 events), 3 runs
//! BATCHBOOK_BENCH_PATIENTS=5000 BATCHBOOK_BENCH_RUNS=1 cargo bench -p functions --bench audit_verify
//! ```
//!
//! The data directory is made once by `batchbook demo`'s own code (an SMS
//! batch sent, delivered and saved: about three events a patient). Each
//! run prints the chain check alone and the whole verification, as events
//! a second; then the medians.

mod common;

use std::time::{Duration, Instant};

use infra::embedded::audit::{read_checkpoints, verify, verify_chain};

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn per_second(events: u64, took: Duration) -> f64 {
    events as f64 / took.as_secs_f64()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let patients = common::env_number("BATCHBOOK_BENCH_PATIENTS", 50_000);
    let runs = common::env_number("BATCHBOOK_BENCH_RUNS", 3).max(1);
    let dir = tempfile::tempdir()?;
    let made = Instant::now();
    let demo = functions::demo::run(dir.path(), patients).await?;
    println!(
        "demo data: {patients} patients, batch {} ({}), made in {:.1} s",
        demo.batch_id,
        demo.status,
        made.elapsed().as_secs_f64()
    );
    let mut chains = Vec::new();
    let mut wholes = Vec::new();
    let mut events = 0;
    for run in 1..=runs {
        let checkpoints = read_checkpoints(dir.path()).await?;
        let started = Instant::now();
        let chain = verify_chain(dir.path(), &checkpoints).await?;
        let chain_took = started.elapsed();
        assert!(chain.findings.is_empty(), "{:?}", chain.findings);

        let started = Instant::now();
        let report = verify(dir.path()).await?;
        let whole_took = started.elapsed();
        assert!(report.is_clean(), "{:?}", report.drift);
        events = report.chain.events;
        println!(
            "run {run}: {events} events; chain {:.0} events/s ({:.2} s); chain, replay and compare {:.0} events/s ({:.2} s)",
            per_second(events, chain_took),
            chain_took.as_secs_f64(),
            per_second(events, whole_took),
            whole_took.as_secs_f64()
        );
        chains.push(chain_took);
        wholes.push(whole_took);
    }
    let (chain, whole) = (median(chains), median(wholes));
    println!(
        "median of {runs}: chain {:.0} events/s; verify {:.0} events/s (goal 200,000)",
        per_second(events, chain),
        per_second(events, whole)
    );
    Ok(())
}
