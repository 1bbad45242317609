//! Events of the staff workspace: an organisation's settings, its message
//! templates, and the patient lists and attachments its staff upload. Each
//! records what staff did; the event's metadata says who, and when.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

/// When texts and NHS App messages may leave, in local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SendingWindowRecord {
    /// `HH:MM`.
    pub opens: String,
    /// `HH:MM`; `00:00` is midnight at the end of the day.
    pub closes: String,
    /// An IANA time zone name.
    pub time_zone: String,
}

/// How patients reach the practice, as withdrawn or expired links show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContactRecord {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

/// An organisation's settings, whole, as an admin saved them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SettingsRecord {
    pub flag_mobiles_likely_to_fail: bool,
    pub sending_window: SendingWindowRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_sites: Vec<String>,
    /// How patients may reply to conversations; `None` in settings saved
    /// before replies existed, which take the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<ReplySettingsRecord>,
}

/// How patients may reply to a conversation's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplySettingsRecord {
    /// The longest reply, in characters.
    pub max_chars: u32,
    /// How many days after the message a reply is taken.
    pub valid_for_days: u32,
}

/// Events of an organisation (one aggregate per organisation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum OrganisationEvent {
    /// An admin saved the settings; they replace the ones before.
    SettingsChanged {
        organisation_id: String,
        settings: SettingsRecord,
        changed_at: DateTime<Utc>,
    },
}

impl DomainEvent for OrganisationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SettingsChanged { .. } => "SettingsChanged",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

/// A message template's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TemplateText {
    /// What staff call it in the template list.
    pub name: String,
    /// The message, with `((name))` and `((link))` where they go.
    pub body: String,
    /// For emails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_subject: Option<String>,
}

/// Events of one message template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum TemplateEvent {
    /// A member of staff wrote a template: theirs alone, or shared with
    /// their organisation (an admin's to change).
    TemplateCreated {
        template_id: String,
        organisation_id: String,
        /// The user who wrote it (`user:<id>`'s id) and their name.
        owner: String,
        owner_name: String,
        shared: bool,
        text: TemplateText,
        created_at: DateTime<Utc>,
    },
    /// Its words changed; batches made before keep the words they copied.
    TemplateEdited {
        template_id: String,
        /// 2 for the first edit, and so on.
        version: u32,
        text: TemplateText,
        edited_at: DateTime<Utc>,
    },
    /// Its writer, an admin, shared a personal template with the
    /// organisation: from now on any admin may change it.
    TemplateShared {
        template_id: String,
        shared_at: DateTime<Utc>,
    },
    TemplateDeleted {
        template_id: String,
        deleted_at: DateTime<Utc>,
    },
}

impl DomainEvent for TemplateEvent {
    fn event_type(&self) -> String {
        match self {
            Self::TemplateCreated { .. } => "TemplateCreated",
            Self::TemplateEdited { .. } => "TemplateEdited",
            Self::TemplateShared { .. } => "TemplateShared",
            Self::TemplateDeleted { .. } => "TemplateDeleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

/// The template a batch's message was copied from, and which version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TemplateUsed {
    pub template_id: String,
    pub version: u32,
    /// Its name then.
    pub name: String,
}

/// Events of an upload: a patient list, or an attachment. Recorded once
/// the file is checked and kept; the file itself stays in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum UploadEvent {
    /// A patient list was checked and kept. `system` is `emis`,
    /// `systmone` or `vision`.
    ListChecked {
        list_id: String,
        organisation_id: String,
        system: String,
        patient_count: u64,
        contactable_count: u64,
        not_contactable_count: u64,
        /// Hex SHA-256 of the checked-list artifact.
        artifact_sha256: String,
        checked_at: DateTime<Utc>,
    },
    /// A file for a batch's patients to open was kept.
    AttachmentUploaded {
        attachment_id: String,
        organisation_id: String,
        file_name: String,
        content_type: String,
        size: u64,
        /// Hex SHA-256 of the file.
        sha256: String,
        uploaded_at: DateTime<Utc>,
    },
}

impl DomainEvent for UploadEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ListChecked { .. } => "ListChecked",
            Self::AttachmentUploaded { .. } => "AttachmentUploaded",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}
