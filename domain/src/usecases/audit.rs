//! Auditors' reads of the event history: every event of a batch, an
//! invite, a conversation or a user, in commit order, optionally with the
//! patient each delivery and invite is about, joined from the batch's list
//! artifact. Every export is itself recorded (`HistoryExported`).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use events::AuditEvent;
use serde::Serialize;

use super::{Batchbook, BatchbookError, Caller, Role};
use crate::aggregates::{conversation_message_id, AuditExportCommand};
use crate::jobs::parse_delivery_id;
use crate::lists::artifact_rows;
use crate::ports::{
    recipient_fingerprint, BatchQuery, EventHistory, HistoryEvent, HistorySelection, HistoryStream,
    HistorySubject, Mention, PortError, StreamId,
};
use crate::values::NhsNumber;
use cqrs_es::persist::PersistedEventRepository;

/// What an auditor asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRequest {
    pub subject: HistorySubject,
    /// Events at or after this time only.
    pub from: Option<DateTime<Utc>>,
    /// Events before this time only.
    pub to: Option<DateTime<Utc>>,
    /// Join each delivery's and invite's patient from the list artifact.
    pub patient_details: bool,
}

/// The patient a delivery or invite is about, as their list row gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatientDetails {
    pub nhs_number: Option<String>,
    pub given_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
}

/// One event of an exported history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub event: HistoryEvent,
    /// Present only when asked for, and only for deliveries and invites.
    pub patient: Option<PatientDetails>,
}

/// Something that happened, as a subject access document lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Happening {
    pub at: DateTime<Utc>,
    /// The event, as `events/README.md` explains it.
    pub event_type: String,
    /// `user:<id>`, or `system:<component>` for Batchbook itself.
    pub by: String,
    /// The event's own fields.
    pub detail: serde_json::Value,
}

/// One batch message to the patient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchRecord {
    pub batch_id: String,
    pub name: String,
    pub kind: Option<String>,
    /// The words as the patient got them (their link shown as
    /// `[your link]`).
    pub message: String,
    /// The batch's own events and the patient's delivery and invite, in order.
    pub happened: Vec<Happening>,
}

/// Everything held about one patient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubjectAccess {
    /// The export this was recorded as.
    pub export_id: String,
    pub nhs_number: String,
    pub generated_at: DateTime<Utc>,
    /// Who the lists that named them said they were, each different
    /// record once.
    pub held: Vec<PatientDetails>,
    pub batches: Vec<BatchRecord>,
    pub conversations: Vec<super::conversations::ConversationView>,
    /// Each time staff looked them up.
    pub searches: Vec<Happening>,
}

/// An exported history: its events, and the id it was recorded under.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub export_id: String,
    pub entries: Vec<HistoryEntry>,
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// The history of `request.subject` in the caller's organisation, for
    /// an auditor, recorded as an export.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn audit_history(
        &self,
        caller: &Caller,
        request: &HistoryRequest,
    ) -> Result<History, BatchbookError> {
        let events = self.subject_events(caller, request).await?;
        let patients = if request.patient_details {
            self.patients_of(caller, &events).await?
        } else {
            BTreeMap::new()
        };
        let entries: Vec<HistoryEntry> = events
            .into_iter()
            .map(|event| {
                let patient = patient_row(&event)
                    .and_then(|(batch, row)| patients.get(&(batch.to_owned(), row)).cloned());
                HistoryEntry { event, patient }
            })
            .collect();
        let export_id = self
            .record_export(caller, request, entries.len() as u64)
            .await?;
        tracing::info!(
            events = entries.len(),
            patient_details = request.patient_details,
            "an event history was exported"
        );
        Ok(History { export_id, entries })
    }

    /// The events of `request.subject` in the caller's organisation and
    /// time window, in commit order, for an auditor only.
    async fn subject_events(
        &self,
        caller: &Caller,
        request: &HistoryRequest,
    ) -> Result<Vec<HistoryEvent>, BatchbookError> {
        caller.require(Role::Auditor)?;
        if let (Some(from), Some(to)) = (request.from, request.to) {
            if to <= from {
                return Err(BatchbookError::InvalidRequest(
                    "to: must be later than from".into(),
                ));
            }
        }
        let history = self.ports.history.as_ref().ok_or_else(|| {
            BatchbookError::Unavailable("this stack has no event history reader".into())
        })?;
        let events = match (&request.subject, request.subject.selection()) {
            (_, Some(selection)) => history.events(&selection).await?,
            (HistorySubject::Patient(nhs_number), None) => {
                self.patient_events(caller, history.as_ref(), nhs_number)
                    .await?
            }
            (_, None) => Vec::new(),
        };
        let organisation = caller.organisation_id.as_ref();
        Ok(events
            .into_iter()
            .filter(|e| e.metadata.organisation_id == organisation)
            .filter(|e| {
                request
                    .from
                    .is_none_or(|from| e.metadata.occurred_at >= from)
            })
            .filter(|e| request.to.is_none_or(|to| e.metadata.occurred_at < to))
            .collect())
    }

    /// Records an export with the auditor who made it; answers its id.
    async fn record_export(
        &self,
        caller: &Caller,
        request: &HistoryRequest,
        events: u64,
    ) -> Result<String, BatchbookError> {
        let organisation = caller.organisation_id.as_ref();
        let export_id = uuid::Uuid::new_v4().to_string();
        self.audit_exports
            .execute(
                &export_id,
                AuditExportCommand::Record(AuditEvent::HistoryExported {
                    export_id: export_id.clone(),
                    organisation_id: organisation.to_owned(),
                    subject: request.subject.label(organisation),
                    from: request.from,
                    to: request.to,
                    events,
                    patient_details: request.patient_details,
                    exported_at: self.ports.clock.now(),
                }),
                self.metadata(caller),
            )
            .await
            .map_err(|e| BatchbookError::Unavailable(e.to_string()))?;
        Ok(export_id)
    }

    /// Everything held about one patient, for a subject access request:
    /// who the lists said they were, each batch message (its words as the
    /// patient got them, its channel, and what happened: delivery, links
    /// opened, answers, bookings, declines), each conversation (every
    /// message, its status and the patient's reply) and each search for
    /// them. Recorded as an export of the patient's history.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn subject_access(
        &self,
        caller: &Caller,
        nhs_number: &NhsNumber,
    ) -> Result<SubjectAccess, BatchbookError> {
        let request = HistoryRequest {
            subject: HistorySubject::Patient(nhs_number.clone()),
            from: None,
            to: None,
            patient_details: true,
        };
        let events = self.subject_events(caller, &request).await?;
        let patients = self.patients_of(caller, &events).await?;
        let mut held: Vec<PatientDetails> = patients.values().cloned().collect();
        held.sort_by(|a, b| {
            (&a.given_name, &a.date_of_birth).cmp(&(&b.given_name, &b.date_of_birth))
        });
        held.dedup();

        let mut batches: BTreeMap<String, BatchRecord> = BTreeMap::new();
        let mut conversations = Vec::new();
        let mut searches = Vec::new();
        for event in &events {
            let happened = Happening {
                at: event.metadata.occurred_at,
                event_type: event.event_type.clone(),
                by: event.metadata.actor.clone(),
                detail: event.payload[event.event_type.as_str()].clone(),
            };
            match event.aggregate_type.as_str() {
                "Batch" | "Delivery" | "Invite" => {
                    let batch_id = match patient_row(event) {
                        Some((batch, _)) => batch.to_owned(),
                        None => event.aggregate_id.clone(),
                    };
                    if !batches.contains_key(&batch_id) {
                        let record = self.batch_record(caller, &batch_id, &patients).await?;
                        batches.insert(batch_id.clone(), record);
                    }
                    if let Some(record) = batches.get_mut(&batch_id) {
                        record.happened.push(happened);
                    }
                }
                "Conversation" if event.event_type == "ConversationStarted" => {
                    let conversation = self.conversations.load(&event.aggregate_id).await?;
                    conversations.push(self.conversation_view(&conversation).await?);
                }
                "PatientSearch" => searches.push(happened),
                _ => {}
            }
        }
        let export_id = self
            .record_export(caller, &request, events.len() as u64)
            .await?;
        tracing::info!(
            events = events.len(),
            batches = batches.len(),
            conversations = conversations.len(),
            "a subject access request was answered"
        );
        Ok(SubjectAccess {
            export_id,
            nhs_number: nhs_number.to_string(),
            generated_at: self.ports.clock.now(),
            held,
            batches: batches.into_values().collect(),
            conversations,
            searches,
        })
    }

    /// One batch as the patient saw it: its name and the words they got.
    async fn batch_record(
        &self,
        caller: &Caller,
        batch_id: &str,
        patients: &BTreeMap<(String, u64), PatientDetails>,
    ) -> Result<BatchRecord, BatchbookError> {
        let summary = self.batch(caller, batch_id).await?;
        let batch = self.batches.load(batch_id).await?;
        let given_name = patients
            .iter()
            .find(|((batch, _), _)| batch == batch_id)
            .and_then(|(_, p)| p.given_name.clone());
        Ok(BatchRecord {
            batch_id: batch_id.to_owned(),
            name: summary.name,
            kind: summary
                .kind
                .and_then(|k| serde_json::to_value(k).ok())
                .and_then(|k| k.as_str().map(str::to_owned)),
            // The link itself is the patient's key: shown as where it was.
            message: crate::template::render(
                batch.template(),
                given_name.as_deref(),
                Some("[your link]"),
            ),
            happened: Vec::new(),
        })
    }

    /// Every event about one patient, in commit order: each of the
    /// organisation's batches whose list holds their NHS number (the
    /// batch's own events, and their delivery and invite), each
    /// conversation about them and each search for them. Found in the
    /// patient index (`ports::PatientIndex`); a batch whose list was
    /// checked before the index existed is found by reading its list, and
    /// until the index is complete the conversations and searches are found
    /// by reading them all.
    async fn patient_events(
        &self,
        caller: &Caller,
        history: &dyn EventHistory,
        nhs_number: &NhsNumber,
    ) -> Result<Vec<HistoryEvent>, BatchbookError> {
        let organisation = caller.organisation_id.as_ref();
        let fingerprint = recipient_fingerprint(organisation, nhs_number.as_ref());
        let index = &self.ports.patients;
        let mentions = match index.is_complete().await? {
            true => Some(index.mentions(organisation, &fingerprint).await?),
            false => None,
        };
        let indexed = index.indexed_lists(organisation).await?;
        let mut rows_by_list: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        if let Some(mentions) = &mentions {
            for mention in mentions {
                if let Mention::ListRow { list_id, row } = mention {
                    rows_by_list.entry(list_id).or_default().push(*row);
                }
            }
        }
        let mut streams = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .ports
                .views
                .list_batches(&BatchQuery {
                    organisation_id: organisation.to_owned(),
                    status: None,
                    kind: None,
                    created_by: None,
                    from: None,
                    to: None,
                    after: after.take(),
                    limit: 100,
                })
                .await?;
            for summary in &page.items {
                let rows = match (&mentions, indexed.contains(&summary.list_id)) {
                    (Some(_), true) => rows_by_list
                        .get(summary.list_id.as_str())
                        .cloned()
                        .unwrap_or_default(),
                    _ => self.rows_in_list(&summary.artifact_key, nhs_number).await?,
                };
                for row in &rows {
                    let id = crate::jobs::delivery_id(&summary.batch_id, *row);
                    for aggregate_type in ["Delivery", "Invite"] {
                        streams.push(HistoryStream {
                            aggregate_type,
                            id: StreamId::Exact(id.clone()),
                        });
                    }
                }
                if !rows.is_empty() {
                    streams.push(HistoryStream {
                        aggregate_type: "Batch",
                        id: StreamId::Exact(summary.batch_id.clone()),
                    });
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let (searches, conversations) = match mentions {
            Some(mentions) => {
                let (mut searches, mut conversations) = (Vec::new(), Vec::new());
                for mention in mentions {
                    match mention {
                        Mention::Search(id) => searches.push(id),
                        Mention::Conversation(id) => conversations.push(id),
                        Mention::ListRow { .. } => {}
                    }
                }
                (searches, conversations)
            }
            None => {
                let named = |events: Vec<HistoryEvent>, kind: &str| -> Vec<String> {
                    events
                        .into_iter()
                        .filter(|e| e.payload[kind]["patient"].as_str() == Some(&fingerprint))
                        .map(|e| e.aggregate_id)
                        .collect()
                };
                (
                    named(every(history, "PatientSearch").await?, "PatientSearched"),
                    named(every(history, "Conversation").await?, "ConversationStarted"),
                )
            }
        };
        for id in searches {
            streams.push(HistoryStream {
                aggregate_type: "PatientSearch",
                id: StreamId::Exact(id),
            });
        }
        // Each conversation names its messages as it adds them, so the
        // messages are read by id (on DynamoDB a query each, not a scan).
        let conversation_streams: Vec<HistoryStream> = conversations
            .into_iter()
            .map(|id| HistoryStream {
                aggregate_type: "Conversation",
                id: StreamId::Exact(id),
            })
            .collect();
        if !conversation_streams.is_empty() {
            for event in history
                .events(&HistorySelection::Streams(conversation_streams.clone()))
                .await?
            {
                let added = &event.payload["ConversationMessageAdded"];
                if let Some(message) = added["message"].as_u64() {
                    streams.push(HistoryStream {
                        aggregate_type: "ConversationMessage",
                        id: StreamId::Exact(conversation_message_id(
                            &event.aggregate_id,
                            message as u32,
                        )),
                    });
                }
            }
        }
        streams.extend(conversation_streams);
        // One read of every stream found, so the events come in one order.
        Ok(if streams.is_empty() {
            Vec::new()
        } else {
            history.events(&HistorySelection::Streams(streams)).await?
        })
    }

    /// The rows of a list artifact that hold `nhs_number`, read whole: for
    /// lists checked before the patient index existed.
    async fn rows_in_list(
        &self,
        artifact_key: &str,
        nhs_number: &NhsNumber,
    ) -> Result<Vec<u64>, BatchbookError> {
        let Some(artifact) = self.ports.blobs.get(artifact_key).await? else {
            return Ok(Vec::new());
        };
        let mut rows = Vec::new();
        for row in artifact_rows(&artifact) {
            let row = row.map_err(|e| PortError::new("list artifact", e))?;
            if row.nhs_number.as_deref() == Some(nhs_number.as_ref()) {
                rows.push(row.row);
            }
        }
        Ok(rows)
    }

    /// Adds to the patient index everything stored before it existed:
    /// every batch's list (read from its artifact), every search and every
    /// conversation, of every organisation. Then marks the index complete,
    /// so patient histories stop reading everything. Safe to run again, or
    /// after a crash midway: each list is marked once all its rows are in.
    pub async fn index_patients(&self) -> Result<IndexedPatients, BatchbookError> {
        let index = &self.ports.patients;
        let mut done = IndexedPatients::default();
        if index.is_complete().await? {
            return Ok(done);
        }
        let history = self.ports.history.as_ref().ok_or_else(|| {
            BatchbookError::Unavailable("this stack keeps no event history".into())
        })?;
        let mut indexed: BTreeMap<String, HashSet<String>> = BTreeMap::new();
        for event in every(history.as_ref(), "Batch").await? {
            let attached = &event.payload["PatientListAttached"];
            let (Some(list_id), Some(artifact_key)) = (
                attached["list_id"].as_str(),
                attached["artifact_key"].as_str(),
            ) else {
                continue;
            };
            let organisation = event.metadata.organisation_id.as_str();
            if !indexed.contains_key(organisation) {
                indexed.insert(
                    organisation.to_owned(),
                    index.indexed_lists(organisation).await?,
                );
            }
            let lists = indexed.get_mut(organisation).expect("just read");
            if lists.contains(list_id) {
                continue;
            }
            if let Some(artifact) = self.ports.blobs.get(artifact_key).await? {
                let mut mentions = Vec::new();
                for row in artifact_rows(&artifact) {
                    let row = row.map_err(|e| PortError::new("list artifact", e))?;
                    if let Some(nhs_number) = row.nhs_number.as_deref() {
                        mentions.push((
                            recipient_fingerprint(organisation, nhs_number),
                            Mention::ListRow {
                                list_id: list_id.to_owned(),
                                row: row.row,
                            },
                        ));
                    }
                }
                index.add(organisation, &mentions).await?;
            }
            index.list_indexed(organisation, list_id).await?;
            lists.insert(list_id.to_owned());
            done.lists += 1;
        }
        for (aggregate_type, event_type) in [
            ("PatientSearch", "PatientSearched"),
            ("Conversation", "ConversationStarted"),
        ] {
            for event in every(history.as_ref(), aggregate_type).await? {
                let Some(patient) = event.payload[event_type]["patient"].as_str() else {
                    continue;
                };
                let mention = match aggregate_type {
                    "PatientSearch" => {
                        done.searches += 1;
                        Mention::Search(event.aggregate_id.clone())
                    }
                    _ => {
                        done.conversations += 1;
                        Mention::Conversation(event.aggregate_id.clone())
                    }
                };
                index
                    .add(
                        &event.metadata.organisation_id,
                        &[(patient.to_owned(), mention)],
                    )
                    .await?;
            }
        }
        index.mark_complete().await?;
        tracing::info!(
            lists = done.lists,
            searches = done.searches,
            conversations = done.conversations,
            "patient index complete"
        );
        Ok(done)
    }

    /// The list row of every delivery and invite among `events`, read from
    /// each batch's list artifact once.
    async fn patients_of(
        &self,
        caller: &Caller,
        events: &[HistoryEvent],
    ) -> Result<BTreeMap<(String, u64), PatientDetails>, BatchbookError> {
        let mut wanted: BTreeMap<&str, HashSet<u64>> = BTreeMap::new();
        for (batch, row) in events.iter().filter_map(patient_row) {
            wanted.entry(batch).or_default().insert(row);
        }
        let mut patients = BTreeMap::new();
        for (batch_id, rows) in wanted {
            let summary = match self.batch(caller, batch_id).await {
                Ok(summary) => summary,
                Err(BatchbookError::BatchNotFound) => continue,
                Err(e) => return Err(e),
            };
            for (row, checked) in self.patients_by_row(&summary, rows).await? {
                patients.insert(
                    (batch_id.to_owned(), row),
                    PatientDetails {
                        nhs_number: checked.nhs_number,
                        given_name: checked.given_name,
                        date_of_birth: checked.date_of_birth,
                        mobile: checked.mobile,
                        email: checked.email,
                    },
                );
            }
        }
        Ok(patients)
    }
}

/// Every event of one aggregate type.
async fn every(
    history: &dyn EventHistory,
    aggregate_type: &'static str,
) -> Result<Vec<HistoryEvent>, PortError> {
    history
        .events(&HistorySelection::Streams(vec![HistoryStream {
            aggregate_type,
            id: StreamId::Prefix(String::new()),
        }]))
        .await
}

/// What [`Batchbook::index_patients`] added.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct IndexedPatients {
    pub lists: u64,
    pub searches: u64,
    pub conversations: u64,
}

/// The batch and list row a delivery's or invite's event is about.
fn patient_row(event: &HistoryEvent) -> Option<(&str, u64)> {
    matches!(event.aggregate_type.as_str(), "Delivery" | "Invite")
        .then(|| parse_delivery_id(&event.aggregate_id))
        .flatten()
}
