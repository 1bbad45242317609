//! The shared inbox benchmark (issue 18): a workspace holding 100,000
//! conversations, and its 50 members at once reading "Assigned to me" and a
//! patient's "All conversations" (`POST /v1/workspaces/{id}/inbox`), over
//! HTTP on the embedded stack. Goal: p99 30 ms for each list.
//!
//! ```sh
//! cargo bench -p functions --bench inbox                         # 100,000 conversations, 3 runs
//! BATCHBOOK_BENCH_CONVERSATIONS=20000 BATCHBOOK_BENCH_RUNS=1 cargo bench -p functions --bench inbox
//! ```
//!
//! The workspace and one real conversation are made through the API. The
//! other conversations are written as their Conversation events and
//! applied by the real projector into the real read model, as the event
//! log's would be: making 100,000 through the API (PDS, blobs, the event
//! store) would take longer than the measurement, and the lists read only
//! the read model and each shown conversation's patient. They share the
//! real conversation's patient blob.
//!
//! 100,000 conversations: each assigned to one of the 50 members (2,000
//! each), written by another, about one of 20,000 patients (5 each); one
//! in five has a reply, so each member has unread conversations. Each
//! member asks 20 times, in turn: "Assigned to me" (a page of 25 and the
//! unread count over its 2,000) and one patient's "All conversations".
//! Prints, per run, the p50 and p99 of each list, then the medians.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use cqrs_es::persist::SerializedEvent;
use domain::ports::recipient_fingerprint;
use domain::usecases::BatchViews;
use domain::values::NhsNumber;
use events::{Assignee, Channel, ConversationEvent, EventMetadata};
use serde_json::{json, Value};

/// Members, and callers at once (`BATCHBOOK_BENCH_CALLERS` changes the
/// callers, to see one request's own time).
const CALLERS: usize = 50;
const ASKS: usize = 20;
const PATIENTS: usize = 20_000;
const ORG: &str = "A12345";

fn member(n: usize) -> String {
    format!("staff-{}", n % CALLERS)
}

fn nhs_number(n: usize) -> String {
    (600_000_001u32..)
        .filter_map(NhsNumber::from_first_nine)
        .nth(n)
        .map(|n| n.to_string())
        .unwrap_or_default()
}

fn event(id: &str, sequence: usize, actor: &str, event: ConversationEvent) -> SerializedEvent {
    let metadata = EventMetadata {
        organisation_id: ORG.into(),
        actor: actor.into(),
        actor_name: None,
        correlation_id: "bench".into(),
        occurred_at: Utc::now(),
    };
    SerializedEvent {
        aggregate_id: id.to_owned(),
        sequence,
        aggregate_type: "Conversation".into(),
        event_type: cqrs_es::DomainEvent::event_type(&event),
        event_version: "1.0".into(),
        payload: serde_json::to_value(&event).expect("events serialise"),
        metadata: serde_json::to_value(metadata.to_map()).expect("metadata serialises"),
    }
}

/// The workspace with its 50 members, one real conversation, and
/// `conversations` more applied to the read model. Answers the server's
/// address, the workspace and the NHS numbers of the patients.
async fn workspace(
    conversations: usize,
    data: &std::path::Path,
) -> Result<(String, tokio::task::JoinHandle<()>, String, Vec<String>), Box<dyn std::error::Error>>
{
    let stack = common::open_stack(data, None).await?;
    let (address, server) = common::serve(&stack).await?;
    let client = reqwest::Client::new();
    let admin = "Bearer dev:A12345:ann:admin";
    let made: Value = client
        .post(format!("{address}/v1/workspaces"))
        .header("authorization", admin)
        .json(&json!({"name": "Outpatients"}))
        .send()
        .await?
        .json()
        .await?;
    let workspace_id = made["workspace_id"]
        .as_str()
        .ok_or("a workspace")?
        .to_owned();
    for n in 0..CALLERS {
        let response = client
            .put(format!(
                "{address}/v1/workspaces/{workspace_id}/members/{}",
                member(n)
            ))
            .header("authorization", admin)
            .json(&json!({"name": format!("Staff {n}")}))
            .send()
            .await?;
        if response.status() != 200 {
            return Err(format!("member {n}: {}", response.text().await?).into());
        }
    }
    let real: Value = client
        .post(format!("{address}/v1/conversations"))
        .header("authorization", "Bearer dev:A12345:staff-0")
        .json(
            &json!({"workspace_id": workspace_id, "nhs_number": "9990000018",
                      "date_of_birth": "1950-02-01", "channel": "sms", "body": "Hello"}),
        )
        .send()
        .await?
        .json()
        .await?;
    let real_id = real["conversation_id"].as_str().ok_or("a conversation")?;
    let patient_key = format!("conversations/{ORG}/{real_id}/patient.json");

    let patients: Vec<String> = (0..PATIENTS).map(nhs_number).collect();
    let seeded = Instant::now();
    let start = Utc.with_ymd_and_hms(2025, 11, 23, 9, 0, 0).unwrap();
    let mut events = Vec::with_capacity(8_000);
    for n in 0..conversations {
        let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("bench-{n}").as_bytes())
            .to_string();
        let at = start + chrono::Duration::minutes(5 * n as i64);
        let (writer, assignee) = (member(n + 1), member(n));
        events.push(event(
            &id,
            1,
            &format!("user:{writer}"),
            ConversationEvent::ConversationStarted {
                conversation_id: id.clone(),
                organisation_id: ORG.into(),
                workspace_id: workspace_id.clone(),
                patient: recipient_fingerprint(ORG, &patients[n % PATIENTS]),
                patient_key: patient_key.clone(),
                patient_sha256: String::new(),
                started_at: at,
            },
        ));
        events.push(event(
            &id,
            2,
            &format!("user:{writer}"),
            ConversationEvent::ConversationMessageAdded {
                conversation_id: id.clone(),
                message: 1,
                request: id.clone(),
                channel: Channel::Sms,
                reply_allowed: true,
                added_at: at,
            },
        ));
        events.push(event(
            &id,
            3,
            &format!("user:{writer}"),
            ConversationEvent::ConversationAssigned {
                conversation_id: id.clone(),
                assignee: Assignee::User { user_id: assignee },
                assigned_at: at,
            },
        ));
        if n % 5 == 0 {
            events.push(event(
                &id,
                4,
                "system:patient-link",
                ConversationEvent::ConversationReplied {
                    conversation_id: id.clone(),
                    message: 1,
                    replied_at: at + chrono::Duration::minutes(1),
                },
            ));
        }
        if events.len() >= 8_000 {
            stack.views.apply_now(std::mem::take(&mut events)).await?;
        }
    }
    stack.views.apply_now(events).await?;
    println!(
        "  applied {conversations} conversations to the read model in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    Ok((address, server, workspace_id, patients))
}

/// One run: every caller asks its 20 times. Answers the latencies of
/// "Assigned to me" and of a patient's "All conversations".
async fn one_run(
    address: &str,
    workspace_id: &str,
    patients: &[String],
    callers: usize,
) -> Result<(Vec<Duration>, Vec<Duration>), Box<dyn std::error::Error>> {
    let client = reqwest::Client::new();
    let start = Arc::new(tokio::sync::Barrier::new(callers));
    let url = format!("{address}/v1/workspaces/{workspace_id}/inbox");
    let asked = futures::future::join_all((0..callers).map(|caller| {
        let (client, start, url) = (client.clone(), start.clone(), url.clone());
        async move {
            start.wait().await;
            let (mut mine, mut patient) = (Vec::new(), Vec::new());
            for ask in 0..ASKS {
                let assigned = (caller + ask) % 2 == 0;
                let body = if assigned {
                    json!({"list": "assigned_to_me"})
                } else {
                    let nhs = &patients[(caller * ASKS + ask * 7919) % patients.len()];
                    json!({"list": "all", "nhs_number": nhs})
                };
                let at = Instant::now();
                let response = client
                    .post(&url)
                    .header(
                        "authorization",
                        format!("Bearer dev:A12345:{}", member(caller)),
                    )
                    .json(&body)
                    .send()
                    .await?;
                let status = response.status();
                let page: Value = response.json().await?;
                let took = at.elapsed();
                let shown = page["conversations"].as_array().map_or(0, Vec::len);
                let expected = if assigned { 25 } else { 1 };
                if status != 200 || shown < expected {
                    return Err(format!("{body}: {status}, {shown} conversations").into());
                }
                if assigned {
                    mine.push(took);
                } else {
                    patient.push(took);
                }
            }
            Ok::<_, Box<dyn std::error::Error>>((mine, patient))
        }
    }))
    .await;
    let (mut mine, mut patient) = (Vec::new(), Vec::new());
    for one in asked {
        let (m, p) = one?;
        mine.extend(m);
        patient.extend(p);
    }
    mine.sort();
    patient.sort();
    Ok((mine, patient))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conversations = common::env_number("BATCHBOOK_BENCH_CONVERSATIONS", 100_000);
    let runs = common::env_number("BATCHBOOK_BENCH_RUNS", 3).max(1);
    let callers = common::env_number("BATCHBOOK_BENCH_CALLERS", CALLERS).clamp(1, CALLERS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "The shared inbox, embedded stack over HTTP: {conversations} conversations, {callers} of {CALLERS} members at once x {ASKS} requests, {runs} run(s)"
    );
    runtime.block_on(async {
        let data = tempfile::tempdir()?;
        let (address, server, workspace_id, patients) =
            workspace(conversations, data.path()).await?;
        let (mut mine99, mut patient99) = (Vec::new(), Vec::new());
        for run in 1..=runs {
            let (mine, patient) = one_run(&address, &workspace_id, &patients, callers).await?;
            let (m50, m99) = (
                common::percentile(&mine, 0.50),
                common::percentile(&mine, 0.99),
            );
            let (p50, p99) = (
                common::percentile(&patient, 0.50),
                common::percentile(&patient, 0.99),
            );
            println!(
                "run {run}: Assigned to me p50 {:.2} ms, p99 {:.2} ms; a patient's All p50 {:.2} ms, p99 {:.2} ms",
                ms(m50),
                ms(m99),
                ms(p50),
                ms(p99)
            );
            mine99.push(m99);
            patient99.push(p99);
        }
        mine99.sort();
        patient99.sort();
        println!(
            "median over {runs} run(s): Assigned to me p99 {:.2} ms, a patient's All p99 {:.2} ms (goal: p99 30 ms each)",
            ms(mine99[runs / 2]),
            ms(patient99[runs / 2])
        );
        server.abort();
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
