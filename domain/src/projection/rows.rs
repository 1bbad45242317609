//! The read models' rows: a batch's summary (status and counts) and one
//! row per delivery, with the invite's state on a Self-Book delivery.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use events::{Attachment, BatchKind, Channel, Questionnaire};
use serde::{Deserialize, Serialize};

use crate::aggregates::batch::BatchStatus;
use crate::aggregates::delivery::DeliveryStatus;
use crate::aggregates::invite::InviteStatus;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchSummary {
    pub batch_id: String,
    pub organisation_id: String,
    pub name: String,
    pub kind: Option<BatchKind>,
    pub status: BatchStatus,
    pub list_id: String,
    pub artifact_key: String,
    pub patient_count: u64,
    pub contactable_count: u64,
    pub without_valid_mobile_count: u64,
    pub not_contactable_count: u64,
    pub recipient_count: u64,
    /// Sent, with no final outcome yet (no receipt; an NHS App message
    /// that may still fall back).
    pub awaiting_receipt_count: u64,
    /// Delivered or read by SMS or NHS App. Email never counts here.
    pub delivered_count: u64,
    pub email_delivered_count: u64,
    pub failed_count: u64,
    pub email_subject: Option<String>,
    pub snomed_code: Option<String>,
    /// The days of a staggered send.
    pub stagger: Vec<events::StaggerDay>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub send_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// How many patients' records saving writes to: those sent a message.
    pub records_to_save: u64,
    pub saved_to_record_count: u64,
    /// Records the clinical system refused for good.
    pub not_saved_to_record_count: u64,
    pub saved_at: Option<DateTime<Utc>>,
    /// The questionnaire a Florey batch links to.
    pub questionnaire: Option<Questionnaire>,
    /// Patients who answered the questionnaire.
    pub answered_count: u64,
    /// The file a batch's links open.
    #[serde(default)]
    pub attachment: Option<Attachment>,
    /// Patients who opened the attachment.
    #[serde(default)]
    pub attachment_opened_count: u64,
    /// When staff withdrew every link the batch sent.
    pub links_revoked_at: Option<DateTime<Utc>>,
    /// Patients whose first message went (whose links can be used).
    #[serde(default)]
    pub first_sent_count: u64,
    /// Self-Book invites by status, every status but Open (see
    /// [`BatchSummary::invite_counts`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub invites: BTreeMap<InviteStatus, u64>,
    /// Who created it: their user id and name (`created_by` is `None` for
    /// batches the runtime made, and for those made before users were).
    pub created_by: Option<String>,
    pub created_by_name: Option<String>,
    /// The message, as staff wrote it (with its placeholders).
    pub message: String,
    /// What a Self-Book batch's links book.
    pub self_book: Option<events::SelfBook>,
    /// The template the message was copied from.
    pub from_template: Option<events::TemplateUsed>,
    /// The last Batch aggregate sequence applied.
    pub last_sequence: u64,
}

impl BatchSummary {
    /// The batch's current stage has finished, so it is ready for the next:
    /// Sending with every recipient's outcome known (on to Done), or Saving
    /// with every record written (on to Saved).
    pub fn is_settled(&self) -> bool {
        match self.status {
            BatchStatus::Sending => self.settled_count() >= self.recipient_count,
            BatchStatus::Saving => self.records_written() >= self.records_to_save,
            _ => false,
        }
    }

    /// Self-Book invites by status: Open is every patient sent a link who
    /// has done nothing with it yet.
    pub fn invite_counts(&self) -> BTreeMap<InviteStatus, u64> {
        let mut counts = self.invites.clone();
        let acted: u64 = counts.values().sum();
        counts.insert(
            InviteStatus::Open,
            self.first_sent_count.saturating_sub(acted),
        );
        for status in InviteStatus::ALL {
            counts.entry(status).or_default();
        }
        counts
    }

    /// Records saved, or refused for good.
    pub fn records_written(&self) -> u64 {
        self.saved_to_record_count + self.not_saved_to_record_count
    }

    /// Recipients with a final outcome.
    pub fn settled_count(&self) -> u64 {
        self.delivered_count + self.email_delivered_count + self.failed_count
    }

    pub(super) fn count(&mut self, row: &DeliveryRow, by: i64) {
        let counter = match row.tally() {
            Some(Tally::Awaiting) => &mut self.awaiting_receipt_count,
            Some(Tally::Delivered) => &mut self.delivered_count,
            Some(Tally::EmailDelivered) => &mut self.email_delivered_count,
            Some(Tally::Failed) => &mut self.failed_count,
            None => return,
        };
        *counter = counter.saturating_add_signed(by);
    }
}

/// Which count of the batch summary a delivery row is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tally {
    Awaiting,
    Delivered,
    EmailDelivered,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub batch_id: String,
    pub row: u64,
    pub channel: Channel,
    pub status: DeliveryStatus,
    pub reason: Option<String>,
    pub provider_reference: Option<String>,
    /// When the current step was sent.
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
    /// For an NHS App step with a mobile behind it: when the SMS fallback
    /// is due if the message is not read.
    #[serde(default)]
    pub fallback_due_at: Option<DateTime<Utc>>,
    /// Whether the message is in the patient's record yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordState>,
    /// When the first message went (a link's validity runs from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
    /// When the patient first opened the batch's attachment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_opened_at: Option<DateTime<Utc>>,
    /// The questionnaire answers, by question id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, String>,
    /// Reminders sent, or refused for good, by number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders: Vec<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub link_revoked: bool,
    /// Series texts sent, or refused for good, by step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub series_stopped: bool,
    /// A Self-Book invite's state, once the patient has acted on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<InviteRow>,
    /// The last Delivery aggregate sequence applied.
    pub last_sequence: u64,
}

/// A Self-Book invite as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRow {
    pub status: InviteStatus,
    /// The appointment's start while pending or booked (and once cancelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment_at: Option<DateTime<Utc>>,
    /// The decline's SNOMED CT code, once declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declined_code: Option<String>,
    /// The last Invite aggregate sequence applied.
    pub last_sequence: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    Saved,
    /// The clinical system refused it for good.
    NotSaved,
}

impl DeliveryRow {
    /// Still waiting for something: a receipt, a read, or a fallback.
    pub fn is_open(&self) -> bool {
        let may_fall_back = self.channel == Channel::NhsApp && self.fallback_due_at.is_some();
        match self.status {
            DeliveryStatus::NotSent | DeliveryStatus::Read => false,
            DeliveryStatus::Sent => true,
            DeliveryStatus::Delivered | DeliveryStatus::Failed => may_fall_back,
        }
    }

    /// The status adapters index rows by: `open` while `is_open`, else the
    /// final status (`failed`, `delivered`, `read`).
    pub fn view_status(&self) -> &'static str {
        if self.is_open() {
            return "open";
        }
        match self.status {
            DeliveryStatus::NotSent => "not_sent",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn tally(&self) -> Option<Tally> {
        Some(match self.status {
            DeliveryStatus::NotSent => return None,
            _ if self.is_open() => Tally::Awaiting,
            DeliveryStatus::Failed => Tally::Failed,
            _ if self.channel == Channel::Email => Tally::EmailDelivered,
            _ => Tally::Delivered,
        })
    }
}

impl DeliveryRow {
    /// The row of a patient nothing has happened to yet.
    pub(super) fn empty(batch_id: &str, row: u64) -> Self {
        Self {
            batch_id: batch_id.to_owned(),
            row,
            channel: Channel::Sms,
            status: DeliveryStatus::NotSent,
            reason: None,
            provider_reference: None,
            sent_at: None,
            fallback_due_at: None,
            record: None,
            first_sent_at: None,
            answered_at: None,
            attachment_opened_at: None,
            answers: BTreeMap::new(),
            reminders: Vec::new(),
            link_revoked: false,
            series: Vec::new(),
            series_stopped: false,
            invite: None,
            last_sequence: 0,
        }
    }
}

/// Something staff keep in their workspace besides batches: a checked
/// patient list, an attachment, or a message template; one row each,
/// listed newest first per organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceItem {
    pub id: String,
    pub organisation_id: String,
    pub created_at: DateTime<Utc>,
    /// The user who made it (`None` for the runtime).
    pub created_by: Option<String>,
    pub created_by_name: Option<String>,
    pub deleted: bool,
    pub item: ItemBody,
    /// The last sequence of its aggregate applied.
    pub last_sequence: u64,
}

/// What kind of workspace item, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ItemBody {
    List(ListItem),
    Attachment(AttachmentItem),
    Template(TemplateItem),
    Workspace(WorkspaceEntry),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    List,
    Attachment,
    Template,
    /// A team's workspace: its name and members.
    Workspace,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Attachment => "attachment",
            Self::Template => "template",
            Self::Workspace => "workspace",
        }
    }
}

impl ItemBody {
    pub fn kind(&self) -> ItemKind {
        match self {
            Self::List(_) => ItemKind::List,
            Self::Attachment(_) => ItemKind::Attachment,
            Self::Template(_) => ItemKind::Template,
            Self::Workspace(_) => ItemKind::Workspace,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListItem {
    pub system: String,
    pub patient_count: u64,
    pub contactable_count: u64,
    pub not_contactable_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentItem {
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateItem {
    pub owner: String,
    pub owner_name: String,
    pub shared: bool,
    pub version: u32,
    pub text: events::TemplateText,
    pub updated_at: DateTime<Utc>,
}

/// A team's workspace as its list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceEntry {
    pub name: String,
    /// Members' names by user id.
    pub members: std::collections::BTreeMap<String, String>,
    /// Members' email addresses, for those who gave one.
    #[serde(default)]
    pub emails: std::collections::BTreeMap<String, String>,
}

impl WorkspaceItem {
    /// How lists sort it: newest first, then by id (`<ms since 1970,
    /// 13 digits>#<id>`); also a page's cursor.
    pub fn listed(&self) -> String {
        listed_key(self.created_at, &self.id)
    }
}

/// The sort key of a listed row.
pub fn listed_key(created_at: DateTime<Utc>, id: &str) -> String {
    format!("{:013}#{id}", created_at.timestamp_millis().max(0))
}
