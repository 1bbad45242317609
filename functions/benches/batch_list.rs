//! The batch-listing benchmark (issue 16): an organisation holding 10,000
//! batches, and 50 staff at once opening the "Batch Messages" page,
//! `GET /v1/batches`, over HTTP on the embedded stack. Goal: p99 20 ms.
//!
//! ```sh
//! cargo bench -p functions --bench batch_list                       # 10,000 batches, 3 runs
//! BATCHBOOK_BENCH_BATCHES=2000 BATCHBOOK_BENCH_RUNS=1 cargo bench -p functions --bench batch_list
//! ```
//!
//! Each of the 50 callers asks 20 times, in turn: the first page, the page
//! after it (through the `next` cursor), the drafts, and one colleague's
//! batches. Prints, per run, the p50 and p99 latency of those 1,000
//! requests, then the medians over the runs.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use domain::ports::{Clock, FakeClock};
use infra::embedded::{EmbeddedConfig, EmbeddedStack};
use infra::simulators::ClinicalSystemPace;
use serde_json::{json, Value};

const CALLERS: usize = 50;
const ASKS: usize = 20;
/// The batches are made by this many colleagues, in turn.
const COLLEAGUES: usize = 10;

/// The organisation's 10,000 batches, made through the API by ten
/// colleagues a minute apart; answers the server's address.
async fn workspace(
    batches: usize,
    data: &std::path::Path,
) -> Result<(String, tokio::task::JoinHandle<()>), Box<dyn std::error::Error>> {
    let clock = Arc::new(FakeClock::at(
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
    ));
    let mut config = EmbeddedConfig::new(data);
    config.clock = clock.clone() as Arc<dyn Clock>;
    config.clinical_system = ClinicalSystemPace::instant();
    let stack = Arc::new(EmbeddedStack::open(config).await?);
    let (address, server) = common::serve(&stack).await?;
    let client = reqwest::Client::new();
    let list: Value = client
        .post(format!("{address}/v1/lists"))
        .header("authorization", "Bearer dev:A12345")
        .header("content-type", "text/csv")
        .body("NHS Number,Given Name,Telecom Number,Date of Birth\n9434765919,Pat,07700 100001,01/02/1950\n")
        .send()
        .await?
        .json()
        .await?;
    let made = Instant::now();
    for n in 0..batches {
        let response = client
            .post(format!("{address}/v1/batches"))
            .header(
                "authorization",
                format!("Bearer dev:A12345:colleague-{}", n % COLLEAGUES),
            )
            .json(
                &json!({"name": format!("Batch {n}"), "list_id": list["list_id"],
                          "message": "Dear ((name)), book your flu jab."}),
            )
            .send()
            .await?;
        if response.status() != 201 {
            return Err(format!("batch {n}: {}", response.text().await?).into());
        }
        clock.advance(chrono::Duration::minutes(1));
    }
    println!(
        "  made {batches} batches in {:.1} s",
        made.elapsed().as_secs_f64()
    );
    Ok((address, server))
}

async fn one_run(batches: usize) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    let data = tempfile::tempdir()?;
    let (address, server) = workspace(batches, data.path()).await?;
    let client = reqwest::Client::new();
    let first: Value = client
        .get(format!("{address}/v1/batches"))
        .header("authorization", "Bearer dev:A12345:colleague-0")
        .send()
        .await?
        .json()
        .await?;
    let next = first["next"]
        .as_str()
        .ok_or("a first page names the next")?;
    let next = next.replace('#', "%23");
    let paths = [
        "/v1/batches".to_owned(),
        format!("/v1/batches?cursor={next}"),
        "/v1/batches?status=Draft".to_owned(),
        "/v1/batches?created_by=colleague-3".to_owned(),
    ];
    let start = Arc::new(tokio::sync::Barrier::new(CALLERS));
    let asked = futures::future::join_all((0..CALLERS).map(|caller| {
        let (client, start, paths) = (client.clone(), start.clone(), paths.clone());
        let address = address.clone();
        async move {
            start.wait().await;
            let mut took = Vec::with_capacity(ASKS);
            for ask in 0..ASKS {
                let path = &paths[(caller + ask) % paths.len()];
                let at = Instant::now();
                let response = client
                    .get(format!("{address}{path}"))
                    .header("authorization", format!("Bearer dev:A12345:staff-{caller}"))
                    .send()
                    .await?;
                let status = response.status();
                let page: Value = response.json().await?;
                took.push(at.elapsed());
                let shown = page["batches"].as_array().map_or(0, Vec::len);
                if status != 200 || shown != 25 {
                    return Err(format!("{path}: {status}, {shown} batches").into());
                }
            }
            Ok::<_, Box<dyn std::error::Error>>(took)
        }
    }))
    .await;
    let mut latencies = Vec::new();
    for one in asked {
        latencies.extend(one?);
    }
    latencies.sort();
    server.abort();
    Ok((
        common::percentile(&latencies, 0.50),
        common::percentile(&latencies, 0.99),
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let batches = common::env_number("BATCHBOOK_BENCH_BATCHES", 10_000);
    let runs = common::env_number("BATCHBOOK_BENCH_RUNS", 3).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "Listing batches, embedded stack over HTTP: {batches} batches, {CALLERS} callers x {ASKS} requests, {runs} run(s)"
    );
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let (p50, p99) = runtime.block_on(one_run(batches))?;
        println!(
            "run {run}: p50 {:.2} ms, p99 {:.2} ms",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
        p50s.push(p50);
        p99s.push(p99);
    }
    p50s.sort();
    p99s.sort();
    println!(
        "median over {runs} run(s): p50 {:.2} ms, p99 {:.2} ms (goal: p99 20 ms)",
        p50s[runs / 2].as_secs_f64() * 1e3,
        p99s[runs / 2].as_secs_f64() * 1e3
    );
    Ok(())
}
