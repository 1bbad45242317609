//! What the HTTP benchmarks share: their settings from the environment,
//! percentiles, a synthetic list, and the embedded stack served on
//! loopback with development sign-ins.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use domain::values::OrganisationId;
use functions::api::{router, ApiState, CallbackTokens};
use functions::identity::IdentitySource;
use infra::embedded::EmbeddedStack;

/// A setting from the environment, else `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The CPU time this process has used so far, user and system (Linux's
/// `/proc/self/stat`, in clock ticks of 10 ms); zero elsewhere.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in brackets.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |at: usize| {
        fields
            .get(at)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15, so 11 and 12 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The `p` percentile (0 to 1) of `sorted`.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

/// Patients with distinct mobiles, none of which the simulated SMS
/// provider fails (it fails numbers ending in 99), all born 1 February 1950.
pub fn list(patients: usize) -> String {
    let mut csv = String::from("NHS Number,Given Name,Telecom Number,Date of Birth\n");
    let numbers = (600_000_001u32..).filter_map(domain::values::NhsNumber::from_first_nine);
    let mobiles = (100_001u32..).filter(|m| m % 100 != 99);
    for (nhs, mobile) in numbers.zip(mobiles).take(patients) {
        csv.push_str(&format!("{nhs},Pat,07700 {mobile:06},01/02/1950\n"));
    }
    csv
}

fn app_router(stack: &Arc<EmbeddedStack>) -> Result<axum::Router, Box<dyn std::error::Error>> {
    Ok(router(ApiState {
        app: stack.app.clone(),
        identity: IdentitySource::Development {
            default_organisation: Some(OrganisationId::parse("A12345")?),
        },
        outbox: Some(stack.providers.clone()),
        callbacks: CallbackTokens {
            govuk_notify: None,
            nhs_notify: None,
        },
    }))
}

async fn listen(
    app: axum::Router,
) -> Result<(String, tokio::task::JoinHandle<()>), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move {
        // As `batchbook serve` listens.
        let _ = axum::serve(functions::api::without_delay(listener), app).await;
    });
    Ok((address, server))
}

/// `stack` served on a loopback port, a request with no token acting for
/// A12345's development admin: its address and the server's task.
pub async fn serve(
    stack: &Arc<EmbeddedStack>,
) -> Result<(String, tokio::task::JoinHandle<()>), Box<dyn std::error::Error>> {
    listen(app_router(stack)?).await
}

/// How long the server took over each request, from the router's receiving
/// it to its answer being ready: the request's method and path, and the time.
#[derive(Clone, Default)]
pub struct ServerTimes(Arc<std::sync::Mutex<Vec<(String, Duration)>>>);

impl ServerTimes {
    /// Every time taken so far, each with its request.
    pub fn taken(&self) -> Vec<(String, Duration)> {
        self.0.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// As `serve`, timing every request on the server's side.
pub async fn serve_timed(
    stack: &Arc<EmbeddedStack>,
) -> Result<(String, tokio::task::JoinHandle<()>, ServerTimes), Box<dyn std::error::Error>> {
    let times = ServerTimes::default();
    let kept = times.clone();
    let app = app_router(stack)?.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let kept = kept.clone();
            async move {
                let what = format!("{} {}", request.method(), request.uri().path());
                let at = std::time::Instant::now();
                let response = next.run(request).await;
                if let Ok(mut times) = kept.0.lock() {
                    times.push((what, at.elapsed()));
                }
                response
            }
        },
    ));
    let (address, server) = listen(app).await?;
    Ok((address, server, times))
}

/// The embedded stack in `data` on a fake clock at a Monday 09:00, with the
/// clinical system answering at once and A12345's sending window always
/// open; `book` in place of the bundled appointment book when given.
pub async fn open_stack(
    data: &std::path::Path,
    book: Option<infra::simulators::BookConfig>,
) -> Result<Arc<EmbeddedStack>, Box<dyn std::error::Error>> {
    use chrono::TimeZone;
    use domain::ports::{Clock, FakeClock};
    let clock = Arc::new(FakeClock::at(
        chrono::Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
    ));
    let mut config = infra::embedded::EmbeddedConfig::new(data);
    config.clock = clock as Arc<dyn Clock>;
    config.clinical_system = infra::simulators::ClinicalSystemPace::instant();
    if let Some(book) = book {
        config.appointment_book = book;
    }
    let stack = Arc::new(EmbeddedStack::open(config).await?);
    let settings = domain::usecases::OrganisationSettings {
        sending_window: domain::policies::SendingWindow::always(),
        ..Default::default()
    };
    let caller = domain::Caller::system(OrganisationId::parse("A12345")?, "bench", "bench");
    stack.app.update_settings(&caller, settings).await?;
    Ok(stack)
}

/// Sends `patients` patients a Self-Book flu invite through the API served
/// at `address`, and answers each one's link token.
pub async fn invite_everyone(
    stack: &EmbeddedStack,
    address: &str,
    patients: usize,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    use serde_json::{json, Value};
    let client = reqwest::Client::new();
    let uploaded: Value = client
        .post(format!("{address}/v1/lists"))
        .header("content-type", "text/csv")
        .body(list(patients))
        .send()
        .await?
        .json()
        .await?;
    let created: Value = client
        .post(format!("{address}/v1/batches"))
        .json(&json!({"name": "Flu", "list_id": uploaded["list_id"],
            "message": "Book your flu jab: ((link))",
            "self_book": {"appointment_type": "in_person", "slot_type": "flu"}}))
        .send()
        .await?
        .json()
        .await?;
    let batch_id = created["batch_id"].as_str().ok_or("no batch")?;
    client
        .post(format!("{address}/v1/batches/{batch_id}/send"))
        .json(&json!({"now": true}))
        .send()
        .await?;
    stack.run_pending_work().await?;
    let prefix = format!("{}/", infra::embedded::DEFAULT_LINK_BASE_URL);
    let tokens: Vec<String> = stack
        .providers
        .outbox()
        .await?
        .into_iter()
        .filter_map(|m| m.body.split(&prefix).nth(1).map(str::to_owned))
        .collect();
    assert_eq!(tokens.len(), patients, "every patient is invited");
    Ok(tokens)
}
