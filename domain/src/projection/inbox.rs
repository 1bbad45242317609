//! The shared inbox's read model: one row per conversation, listed in each
//! list it belongs to (the workspace's, its assignee's, each sender's, its
//! patient's, and its patient's by each sender), newest activity first. A
//! row also keeps how many replies each member has read, so each member's
//! unread state and counts come from the same row.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use events::{Assignee, ConversationEvent, EventMetadata};
use serde::{Deserialize, Serialize};

use super::rows::listed_key;

/// One conversation in the inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxRow {
    pub conversation_id: String,
    pub organisation_id: String,
    pub workspace_id: String,
    /// The patient's fingerprint (organisation and NHS number).
    pub patient: String,
    /// The blob holding who the patient is, for the lists staff read.
    pub patient_key: String,
    pub assignee: Option<Assignee>,
    /// Who has written to the patient in it, by user id.
    pub senders: BTreeSet<String>,
    pub done: bool,
    pub messages: u32,
    pub replies: u32,
    /// How many replies each member has read, by user id.
    pub reads: BTreeMap<String, u32>,
    pub started_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub last_sequence: u64,
}

/// Which list of a workspace's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxList {
    /// Every conversation of the workspace.
    All,
    /// Assigned to this member.
    AssignedTo(String),
    /// Assigned to the workspace's team as a whole.
    Team,
    /// This member wrote to the patient in it.
    SentBy(String),
    /// About this patient (by fingerprint).
    Patient(String),
    /// About this patient, and this member wrote in it.
    PatientSentBy(String, String),
}

impl InboxList {
    fn name(&self) -> String {
        match self {
            Self::All => "all".into(),
            Self::AssignedTo(user) => format!("assignee:user:{user}"),
            Self::Team => "assignee:team".into(),
            Self::SentBy(user) => format!("sender:{user}"),
            Self::Patient(patient) => format!("patient:{patient}"),
            Self::PatientSentBy(patient, user) => format!("patient:{patient}:sender:{user}"),
        }
    }

    /// Where the list's entries live: one partition per workspace and list.
    pub fn partition(&self, organisation_id: &str, workspace_id: &str) -> String {
        format!("{organisation_id}#{workspace_id}#{}", self.name())
    }
}

impl InboxRow {
    /// The lists the conversation is in now.
    pub fn lists(&self) -> Vec<InboxList> {
        let mut lists = vec![InboxList::All, InboxList::Patient(self.patient.clone())];
        match &self.assignee {
            Some(Assignee::User { user_id }) => lists.push(InboxList::AssignedTo(user_id.clone())),
            Some(Assignee::Team { .. }) => lists.push(InboxList::Team),
            None => {}
        }
        for sender in &self.senders {
            lists.push(InboxList::SentBy(sender.clone()));
            lists.push(InboxList::PatientSentBy(
                self.patient.clone(),
                sender.clone(),
            ));
        }
        lists
    }

    /// Each list's partition and where the row sorts in it.
    pub fn entries(&self) -> Vec<(String, String)> {
        let sort = self.sort_key();
        self.lists()
            .iter()
            .map(|l| {
                (
                    l.partition(&self.organisation_id, &self.workspace_id),
                    sort.clone(),
                )
            })
            .collect()
    }

    /// Newest activity first: lists read the key descending.
    pub fn sort_key(&self) -> String {
        listed_key(self.last_activity_at, &self.conversation_id)
    }

    /// Whether the patient replied since `user_id` last read it.
    pub fn unread_for(&self, user_id: &str) -> bool {
        self.replies > self.reads.get(user_id).copied().unwrap_or(0)
    }
}

/// The row after one of the conversation's events; `None` for an event of
/// a conversation whose start is not yet applied.
pub(super) fn inbox_row(
    previous: Option<InboxRow>,
    event: ConversationEvent,
    metadata: &EventMetadata,
    sequence: u64,
) -> Option<InboxRow> {
    let mut row = match (previous, event) {
        (
            None,
            ConversationEvent::ConversationStarted {
                conversation_id,
                organisation_id,
                workspace_id,
                patient,
                patient_key,
                started_at,
                ..
            },
        ) => InboxRow {
            conversation_id,
            organisation_id,
            workspace_id,
            patient,
            patient_key,
            assignee: None,
            senders: BTreeSet::new(),
            done: false,
            messages: 0,
            replies: 0,
            reads: BTreeMap::new(),
            started_at,
            last_activity_at: started_at,
            last_sequence: sequence,
        },
        (None, _) => return None,
        (Some(mut row), event) => {
            match event {
                ConversationEvent::ConversationStarted { .. } => {}
                ConversationEvent::ConversationMessageAdded {
                    message, added_at, ..
                } => {
                    row.messages = row.messages.max(message);
                    if let Some(user) = metadata.actor.strip_prefix("user:") {
                        row.senders.insert(user.to_owned());
                    }
                    row.last_activity_at = added_at;
                }
                ConversationEvent::ConversationReplied { replied_at, .. } => {
                    row.replies += 1;
                    row.done = false;
                    row.last_activity_at = replied_at;
                }
                ConversationEvent::ConversationAssigned { assignee, .. } => {
                    row.assignee = Some(assignee)
                }
                ConversationEvent::ConversationDone { .. } => row.done = true,
                ConversationEvent::ConversationReopened { .. } => row.done = false,
                ConversationEvent::ConversationRead {
                    user_id, replies, ..
                } => {
                    row.reads.insert(user_id, replies);
                }
                ConversationEvent::AssigneeNotified { .. } => {}
            }
            row
        }
    };
    row.last_sequence = sequence;
    Some(row)
}
