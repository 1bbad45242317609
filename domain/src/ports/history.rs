//! The event history auditors read: the stored events of some streams, or
//! of one actor, in commit order.

use events::EventMetadata;
use serde_json::Value;

use super::PortError;

/// What an auditor asks the history of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistorySubject {
    /// A batch: its own events and every recipient's delivery and invite.
    Batch(String),
    /// One Self-Book invite (`<batch id>:<row>`): its delivery and its
    /// booking.
    Invite(String),
    /// A conversation and each of its messages.
    Conversation(String),
    /// Everything one user did (`user:<id>` in the events' metadata).
    User(String),
    /// Everything about one patient, by NHS number: each batch that sent
    /// to them (its own events, and their delivery and invite), their
    /// conversations, and each search for them. Found by the use case
    /// ([`HistorySubject::selection`] is `None`): the events never name a
    /// patient.
    Patient(crate::values::NhsNumber),
}

/// One aggregate's events (`Exact`), or those of every aggregate of a type
/// whose id starts with a prefix (`Prefix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamId {
    Exact(String),
    Prefix(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryStream {
    pub aggregate_type: &'static str,
    pub id: StreamId,
}

/// Which events a history holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistorySelection {
    Streams(Vec<HistoryStream>),
    /// Every event whose metadata names this actor.
    Actor(String),
}

impl HistorySubject {
    /// How the subject is named in the record of an export:
    /// `batch:<id>`, `invite:<id>`, `conversation:<id>`, `user:<id>`, or
    /// `patient:<fingerprint>` (SHA-256 of the organisation and the NHS
    /// number, as patient searches name a patient: never the number).
    pub fn label(&self, organisation_id: &str) -> String {
        match self {
            Self::Batch(id) => format!("batch:{id}"),
            Self::Invite(id) => format!("invite:{id}"),
            Self::Conversation(id) => format!("conversation:{id}"),
            Self::User(id) => format!("user:{id}"),
            Self::Patient(nhs_number) => format!(
                "patient:{}",
                super::recipient_fingerprint(organisation_id, nhs_number.as_ref())
            ),
        }
    }

    /// The events the subject's history holds. Deliveries and invites are
    /// `<batch id>:<row>`; a conversation's messages `<conversation
    /// id>:<n>`.
    pub fn selection(&self) -> Option<HistorySelection> {
        let stream = |aggregate_type, id| HistoryStream { aggregate_type, id };
        Some(match self {
            Self::Batch(id) => HistorySelection::Streams(vec![
                stream("Batch", StreamId::Exact(id.clone())),
                stream("Delivery", StreamId::Prefix(format!("{id}:"))),
                stream("Invite", StreamId::Prefix(format!("{id}:"))),
            ]),
            Self::Invite(id) => HistorySelection::Streams(vec![
                stream("Delivery", StreamId::Exact(id.clone())),
                stream("Invite", StreamId::Exact(id.clone())),
            ]),
            Self::Conversation(id) => HistorySelection::Streams(vec![
                stream("Conversation", StreamId::Exact(id.clone())),
                stream("ConversationMessage", StreamId::Prefix(format!("{id}:"))),
            ]),
            Self::User(id) => HistorySelection::Actor(format!("user:{id}")),
            Self::Patient(_) => return None,
        })
    }
}

/// One stored event as the history shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    /// Where it stands in commit order (the embedded log's rowid; on
    /// DynamoDB, its place among the events read, by time).
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: u64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: EventMetadata,
}

impl HistoryEvent {
    /// A stored event as the history shows it, its metadata read.
    pub fn from_stored(
        position: i64,
        event: cqrs_es::persist::SerializedEvent,
    ) -> Result<Self, PortError> {
        let map: std::collections::HashMap<String, String> = serde_json::from_value(event.metadata)
            .map_err(|e| PortError::new("event history", e))?;
        Ok(Self {
            position,
            aggregate_type: event.aggregate_type,
            aggregate_id: event.aggregate_id,
            sequence: event.sequence as u64,
            event_type: event.event_type,
            event_version: event.event_version,
            payload: event.payload,
            metadata: EventMetadata::from_map(&map)
                .map_err(|e| PortError::new("event history", e))?,
        })
    }
}

#[async_trait::async_trait]
pub trait EventHistory: Send + Sync {
    /// The selected events, in commit order.
    async fn events(&self, selection: &HistorySelection) -> Result<Vec<HistoryEvent>, PortError>;
}
