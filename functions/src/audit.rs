//! `batchbook audit` and the auditor's API routes: what auditors run.
//!
//! `audit history` writes one subject's events, in commit order, as JSON
//! Lines or CSV ([`write_history`]); the API's `POST /v1/audit/history`
//! writes the same bytes. `audit verify` checks the event chain against its checkpoints and
//! replays every event into fresh read models to compare with the live
//! ones (`infra/src/embedded/audit.rs`). It prints one line per finding
//! (or the whole report as JSON) and answers whether everything held.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use domain::usecases::audit::{
    Happening, HistoryEntry, HistoryRequest, PatientDetails, SubjectAccess,
};
use domain::values::{NhsNumber, OrganisationId};
use domain::{Caller, Role};
use infra::embedded::audit::{verify as verify_dir, VerifyReport};
use infra::embedded::{EmbeddedConfig, EmbeddedStack};

use crate::api::conversations::ConversationResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How an exported history is written.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HistoryFormat {
    /// One JSON object a line, each with the event's payload.
    #[default]
    Jsonl,
    /// One row an event; the payload as JSON text in the last column.
    Csv,
}

impl HistoryFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jsonl => "application/x-ndjson",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// One event as an export writes it. The CSV has these columns, in this
/// order; the patient's five only when patient details were asked for.
#[derive(Serialize)]
struct HistoryLine<'a> {
    position: i64,
    occurred_at: DateTime<Utc>,
    event_type: &'a str,
    event_version: &'a str,
    actor: &'a str,
    actor_name: Option<&'a str>,
    correlation_id: &'a str,
    aggregate_type: &'a str,
    aggregate_id: &'a str,
    sequence: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    patient: Option<&'a PatientDetails>,
    payload: &'a Value,
}

const CSV_HEADER: [&str; 10] = [
    "position",
    "occurred_at",
    "event_type",
    "event_version",
    "actor",
    "actor_name",
    "correlation_id",
    "aggregate_type",
    "aggregate_id",
    "sequence",
];
const CSV_PATIENT: [&str; 5] = [
    "nhs_number",
    "given_name",
    "date_of_birth",
    "mobile",
    "email",
];

fn line(entry: &HistoryEntry) -> HistoryLine<'_> {
    let e = &entry.event;
    HistoryLine {
        position: e.position,
        occurred_at: e.metadata.occurred_at,
        event_type: &e.event_type,
        event_version: &e.event_version,
        actor: &e.metadata.actor,
        actor_name: e.metadata.actor_name.as_deref(),
        correlation_id: &e.metadata.correlation_id,
        aggregate_type: &e.aggregate_type,
        aggregate_id: &e.aggregate_id,
        sequence: e.sequence,
        patient: entry.patient.as_ref(),
        payload: &e.payload,
    }
}

/// Writes an exported history. `patient_details` decides the CSV's
/// columns, so an export's header does not depend on which events it holds.
pub fn write_history(
    entries: &[HistoryEntry],
    format: HistoryFormat,
    patient_details: bool,
    out: &mut impl Write,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match format {
        HistoryFormat::Jsonl => {
            for entry in entries {
                serde_json::to_writer(&mut *out, &line(entry))?;
                out.write_all(b"\n")?;
            }
        }
        HistoryFormat::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            let mut header: Vec<&str> = CSV_HEADER.to_vec();
            if patient_details {
                header.extend(CSV_PATIENT);
            }
            header.push("payload");
            csv.write_record(&header)?;
            for entry in entries {
                let l = line(entry);
                let mut record = vec![
                    l.position.to_string(),
                    l.occurred_at.to_rfc3339(),
                    l.event_type.to_owned(),
                    l.event_version.to_owned(),
                    l.actor.to_owned(),
                    l.actor_name.unwrap_or_default().to_owned(),
                    l.correlation_id.to_owned(),
                    l.aggregate_type.to_owned(),
                    l.aggregate_id.to_owned(),
                    l.sequence.to_string(),
                ];
                if patient_details {
                    let p = l.patient;
                    let field = |f: fn(&PatientDetails) -> &Option<String>| {
                        p.and_then(|p| f(p).clone()).unwrap_or_default()
                    };
                    record.extend([
                        field(|p| &p.nhs_number),
                        field(|p| &p.given_name),
                        field(|p| &p.date_of_birth),
                        field(|p| &p.mobile),
                        field(|p| &p.email),
                    ]);
                }
                record.push(l.payload.to_string());
                csv.write_record(&record)?;
            }
            csv.flush()?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// Where `batchbook audit` reads: a data directory, or (`--aws`) a
/// deployed stack's tables and buckets.
#[derive(Clone, Copy)]
pub enum Store<'a> {
    Data(&'a Path),
    #[cfg(feature = "aws")]
    Aws(&'a infra::aws::AwsStack),
}

/// The auditor `auditor` of `organisation`, as the caller.
fn auditor(organisation: &str, auditor: &str) -> Result<Caller, Box<dyn std::error::Error>> {
    Ok(Caller::user(
        OrganisationId::parse(organisation).map_err(|e| format!("--org: {e}"))?,
        auditor,
        auditor,
        Role::Auditor,
        &uuid::Uuid::new_v4().to_string(),
    ))
}

/// The embedded stack over an existing data directory.
async fn open(data: &Path) -> Result<EmbeddedStack, Box<dyn std::error::Error>> {
    if !tokio::fs::try_exists(data.join("events.sqlite")).await? {
        return Err(format!("--data: {} holds no Batchbook data", data.display()).into());
    }
    Ok(EmbeddedStack::open(EmbeddedConfig::new(data)).await?)
}

/// Exports one subject's history for the auditor `auditor` of
/// `organisation`, and records the export. Answers the export's id and
/// how many events it held.
pub async fn history(
    store: Store<'_>,
    organisation: &str,
    auditor_id: &str,
    request: &HistoryRequest,
    format: HistoryFormat,
    out: &mut impl Write,
) -> Result<(String, usize), Box<dyn std::error::Error>> {
    let caller = auditor(organisation, auditor_id)?;
    let history = match store {
        Store::Data(data) => {
            let stack = open(data).await?;
            let history = stack.app.audit_history(&caller, request).await?;
            // The export's own event is covered by the next checkpoint
            // now, not when `serve` next runs. On AWS, the scheduled
            // checkpoint covers it.
            stack.checkpoint_chain().await?;
            history
        }
        #[cfg(feature = "aws")]
        Store::Aws(stack) => stack.app.audit_history(&caller, request).await?,
    };
    write_history(&history.entries, format, request.patient_details, out)
        .map_err(|e| e.to_string())?;
    Ok((history.export_id, history.entries.len()))
}

/// A subject access request as the API and `--format json` give it, and
/// as the readable document is written from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubjectAccessResponse {
    /// The export this request was recorded as.
    pub export_id: String,
    /// The patient's NHS number, ten digits.
    pub nhs_number: String,
    /// When it was made.
    pub generated_at: DateTime<Utc>,
    /// Who the patient lists that named them said they were, each
    /// different record once.
    pub held: Vec<HeldPatient>,
    /// Each batch message sent to them.
    pub batches: Vec<BatchMessage>,
    /// Each conversation with them.
    pub conversations: Vec<ConversationResponse>,
    /// Each time staff looked them up.
    pub searches: Vec<Happened>,
}

/// The patient as one list named them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeldPatient {
    /// Ten digits.
    pub nhs_number: Option<String>,
    /// As the list gave it.
    pub given_name: Option<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// E.164, as the message went to it.
    pub mobile: Option<String>,
    /// As the message went to it.
    pub email: Option<String>,
}

/// One batch message to the patient, and what happened to it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchMessage {
    /// The batch.
    pub batch_id: String,
    /// The batch's name, as staff gave it.
    pub name: String,
    /// `simple_message`, `questionnaire`, `self_book` or `inhaler_series`.
    pub kind: Option<String>,
    /// The words as the patient got them; their link shown as `[your link]`.
    pub message: String,
    /// The batch's own events and the patient's delivery and invite, in order.
    pub happened: Vec<Happened>,
}

/// One event about the patient, as the document lists it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Happened {
    /// When.
    pub at: DateTime<Utc>,
    /// The event, as `events/README.md` explains it.
    pub event_type: String,
    /// `user:<id>`, or `system:<component>` for Batchbook itself.
    pub by: String,
    /// The event's own fields, as its schema in `events/schema/` gives them.
    #[schema(value_type = Object)]
    pub detail: Value,
}

impl From<Happening> for Happened {
    fn from(h: Happening) -> Self {
        Self {
            at: h.at,
            event_type: h.event_type,
            by: h.by,
            detail: h.detail,
        }
    }
}

impl From<SubjectAccess> for SubjectAccessResponse {
    fn from(a: SubjectAccess) -> Self {
        Self {
            export_id: a.export_id,
            nhs_number: a.nhs_number,
            generated_at: a.generated_at,
            held: a
                .held
                .into_iter()
                .map(|p| HeldPatient {
                    nhs_number: p.nhs_number,
                    given_name: p.given_name,
                    date_of_birth: p.date_of_birth,
                    mobile: p.mobile,
                    email: p.email,
                })
                .collect(),
            batches: a
                .batches
                .into_iter()
                .map(|b| BatchMessage {
                    batch_id: b.batch_id,
                    name: b.name,
                    kind: b.kind,
                    message: b.message,
                    happened: b.happened.into_iter().map(Into::into).collect(),
                })
                .collect(),
            conversations: a.conversations.into_iter().map(Into::into).collect(),
            searches: a.searches.into_iter().map(Into::into).collect(),
        }
    }
}

/// A subject access request, as the readable document the information
/// governance lead sends.
#[derive(askama::Template)]
#[template(path = "audit/subject_access.html")]
struct SubjectAccessPage<'a> {
    access: &'a SubjectAccessResponse,
}

/// How a subject access request is written.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AccessFormat {
    /// A readable HTML document.
    #[default]
    Html,
    /// The same, as JSON.
    Json,
}

impl AccessFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Html => "text/html; charset=utf-8",
            Self::Json => "application/json",
        }
    }
}

/// Writes a subject access request as HTML or JSON.
pub fn write_subject_access(
    access: &SubjectAccessResponse,
    format: AccessFormat,
) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    Ok(match format {
        AccessFormat::Html => askama::Template::render(&SubjectAccessPage { access })?.into_bytes(),
        AccessFormat::Json => serde_json::to_vec_pretty(access)?,
    })
}

/// Answers a subject access request.
pub async fn subject_access(
    store: Store<'_>,
    organisation: &str,
    auditor_id: &str,
    nhs_number: &NhsNumber,
    format: AccessFormat,
    out: &mut impl Write,
) -> Result<String, Box<dyn std::error::Error>> {
    let caller = auditor(organisation, auditor_id)?;
    let access = match store {
        Store::Data(data) => {
            let stack = open(data).await?;
            let access = stack.app.subject_access(&caller, nhs_number).await?;
            // Its record is covered by the next checkpoint now.
            stack.checkpoint_chain().await?;
            access
        }
        #[cfg(feature = "aws")]
        Store::Aws(stack) => stack.app.subject_access(&caller, nhs_number).await?,
    };
    let access = SubjectAccessResponse::from(access);
    out.write_all(&write_subject_access(&access, format).map_err(|e| e.to_string())?)?;
    Ok(access.export_id)
}

/// Verifies the store and writes the report to `out`. `Ok(true)` when
/// nothing differs.
pub async fn verify(
    store: Store<'_>,
    format: ReportFormat,
    out: &mut impl Write,
) -> Result<bool, Box<dyn std::error::Error>> {
    match store {
        Store::Data(data) => {
            let report = verify_dir(data).await?;
            match format {
                ReportFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
                ReportFormat::Text => write_text(&report, out)?,
            }
            Ok(report.is_clean())
        }
        #[cfg(feature = "aws")]
        Store::Aws(stack) => {
            let audit = stack.audit.as_ref().ok_or(
                "the stack has no checkpoint bucket: set CHAIN_CHECKPOINT_BUCKET to the stack's ChainCheckpointBucketName output",
            )?;
            let report = audit.verify().await?;
            match format {
                ReportFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
                ReportFormat::Text => write_aws_text(&report, out)?,
            }
            Ok(report.is_clean())
        }
    }
}

/// The report of `audit verify --aws`: the chain of each aggregate, since
/// DynamoDB keeps no order across them, then the read models.
#[cfg(feature = "aws")]
fn write_aws_text(
    report: &infra::aws::audit::AwsVerifyReport,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let chain = &report.chain;
    writeln!(
        out,
        "Event chains: {} events in {} aggregates, {} stored before the chain existed, {} checkpoints compared",
        chain.events, chain.aggregates, chain.before_chain, chain.checkpoints
    )?;
    for finding in &chain.findings {
        writeln!(out, "  TAMPERED  {finding}")?;
    }
    writeln!(
        out,
        "Read models: {} events replayed into fresh read models, {} rows compared",
        report.replayed, report.views.rows
    )?;
    for row in &report.views.behind {
        writeln!(
            out,
            "  BEHIND    {row}: the live row is missing or older than the events"
        )?;
    }
    if !report.views.behind.is_empty() {
        writeln!(
            out,
            "  NOTE      {} rows of the live read models are behind the events: still being projected, written while this ran, or deleted; run again on a quiet stack, and a row still behind was changed",
            report.views.behind.len()
        )?;
    }
    if let Some(stopped) = &report.replay_stopped {
        writeln!(
            out,
            "  UNREAD    {stopped}; the read models were not compared"
        )?;
    }
    for drift in &report.views.drift {
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
            "NOT VERIFIED: {} chain findings, {} read-model differences, {} rows behind.",
            chain.findings.len(),
            report.views.drift.len(),
            report.views.behind.len()
        )?;
    }
    Ok(())
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
    if report.projector_behind > 0 {
        writeln!(
            out,
            "  NOTE      the live projector had {} of them still to apply: run again once the server has caught up before reading a difference as drift",
            report.projector_behind
        )?;
    }
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
