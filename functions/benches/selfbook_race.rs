//! The Self-Book race benchmark (issue 6): 1,000 patients, each holding a
//! verified session on their own link, race through the HTTP API for 50
//! slots. Each looks at the times offered and books one (patient i the
//! i-th time, modulo 50), all at once. Exactly 50 must be booked, no slot
//! twice, and every other patient told the time was just taken.
//!
//! ```sh
//! cargo bench -p functions --bench selfbook_race                    # 1,000 patients, 3 runs
//! BATCHBOOK_BENCH_PATIENTS=200 BATCHBOOK_BENCH_RUNS=1 cargo bench -p functions --bench selfbook_race
//! ```
//!
//! Prints, per run, the booking requests' p50 and p99 latency and the
//! outcome counts, then the medians. The embedded stack, an axum server on
//! loopback, and the simulated appointment book (one session of 50
//! five-minute slots).

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use infra::simulators::BookConfig;
use serde_json::{json, Value};

const SLOTS: usize = 50;

/// One session on Tuesday 09:00 to 13:10: 50 five-minute flu slots, none
/// blocked or embargoed.
const BOOK: &str = r#"
weeks = 1
[[slot_types]]
id = "flu"
name = "Flu vaccination"
minutes = 5
[[clinicians]]
id = "nurse-patel"
name = "Nurse Patel"
[[locations]]
id = "riverside"
name = "Riverside Surgery"
[[sessions]]
weekday = "tuesday"
start = "09:00"
end = "13:10"
slot_type = "flu"
clinician = "nurse-patel"
location = "riverside"
channel = "in_person"
"#;

struct Run {
    p50: Duration,
    p99: Duration,
    booked: usize,
    taken: usize,
}

async fn one_run(patients: usize) -> Result<Run, Box<dyn std::error::Error>> {
    let data = tempfile::tempdir()?;
    let stack = common::open_stack(data.path(), Some(BookConfig::parse(BOOK)?)).await?;
    let (address, server) = common::serve(&stack).await?;
    let tokens = common::invite_everyone(&stack, &address, patients).await?;
    let client = reqwest::Client::new();
    let sessions = futures::future::join_all(tokens.iter().map(|token| {
        let client = client.clone();
        let url = format!("{address}/v1/links/{token}/verify");
        async move {
            let verified: Value = client
                .post(url)
                .json(&json!({"date_of_birth": "1950-02-01"}))
                .send()
                .await?
                .json()
                .await?;
            Ok::<_, reqwest::Error>(verified["session"].as_str().unwrap_or_default().to_owned())
        }
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;

    // The race: everyone looks at the times and books one, all at once.
    let start = Arc::new(tokio::sync::Barrier::new(patients));
    let raced = futures::future::join_all(tokens.iter().zip(&sessions).enumerate().map(
        |(i, (token, session))| {
            let (client, start) = (client.clone(), start.clone());
            let base = format!("{address}/v1/links/{token}");
            async move {
                start.wait().await;
                let offers: Value = client
                    .get(format!("{base}/slots"))
                    .header("link-session", session)
                    .send()
                    .await?
                    .json()
                    .await?;
                let offers = offers["offers"].as_array().cloned().unwrap_or_default();
                let offer = offers[i % offers.len()]["offer_id"].clone();
                let asked = Instant::now();
                let response = client
                    .post(format!("{base}/booking"))
                    .header("link-session", session)
                    .json(&json!({ "offer_id": offer }))
                    .send()
                    .await?;
                let took = asked.elapsed();
                let status = response.status().as_u16();
                let body: Value = response.json().await?;
                Ok::<_, reqwest::Error>((took, status, body))
            }
        },
    ))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;

    let mut latencies: Vec<Duration> = raced.iter().map(|(took, _, _)| *took).collect();
    latencies.sort();
    let booked = raced.iter().filter(|(_, status, _)| *status == 202).count();
    let taken = raced
        .iter()
        .filter(|(_, status, body)| {
            *status == 409
                && body["code"] == "slot_taken"
                && body["detail"] == "that time was just taken; please choose another"
        })
        .count();
    assert_eq!(booked, SLOTS.min(patients), "exactly one patient per slot");
    assert_eq!(
        booked + taken,
        patients,
        "every other patient is told it was taken"
    );

    // The booking worker books each claimed slot once.
    stack.run_pending_work().await?;
    let in_book = stack.appointments.bookings().await?;
    let distinct: HashSet<&String> = in_book.iter().map(|(slot, _)| slot).collect();
    assert_eq!(
        (in_book.len(), distinct.len()),
        (booked, booked),
        "no slot is booked twice"
    );
    server.abort();
    Ok(Run {
        p50: common::percentile(&latencies, 0.50),
        p99: common::percentile(&latencies, 0.99),
        booked,
        taken,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let patients = common::env_number("BATCHBOOK_BENCH_PATIENTS", 1_000);
    let runs = common::env_number("BATCHBOOK_BENCH_RUNS", 3).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!("Self-Book race, embedded stack over HTTP: {patients} patients, {SLOTS} slots, {runs} run(s)");
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let result = runtime.block_on(one_run(patients))?;
        println!(
            "  run {run}: {} booked, {} told \"taken\", booking p50 {:.1} ms, p99 {:.1} ms",
            result.booked,
            result.taken,
            result.p50.as_secs_f64() * 1e3,
            result.p99.as_secs_f64() * 1e3
        );
        p50s.push(result.p50);
        p99s.push(result.p99);
    }
    p50s.sort();
    p99s.sort();
    println!(
        "  median of runs: booking p50 {:.1} ms, p99 {:.1} ms",
        p50s[p50s.len() / 2].as_secs_f64() * 1e3,
        p99s[p99s.len() / 2].as_secs_f64() * 1e3
    );
    Ok(())
}
