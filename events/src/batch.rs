//! Events of the Batch aggregate: one per batch message, from draft to Done.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

/// What kind of batch message this is. Later kinds (inhaler series,
/// Self-Book) extend this enum.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchKind {
    SimpleMessage,
    /// A link to a Florey questionnaire (which one is on `BatchDrafted`).
    FloreyQuestionnaire,
    /// The inhaler-adherence series: the batch's message, then 22 more
    /// texts over 26 weeks, by SMS only.
    InhalerSeries,
    /// Self-Book: each patient's link books one appointment (what kind is
    /// on `BatchDrafted`). SMS only.
    SelfBook,
}

/// The Florey questionnaires a batch can send. Their questions live in
/// `domain::florey`; the event names only which one.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Questionnaire {
    /// Home blood-pressure readings over 4 days.
    #[serde(rename = "blood_pressure_4_day")]
    BloodPressure4Day,
    /// Home blood-pressure readings over 7 days.
    #[serde(rename = "blood_pressure_7_day")]
    BloodPressure7Day,
    SmokingStatus,
    HeightAndWeight,
}

/// A file sent with a batch, kept in the blob store. Every patient opens the
/// same file through their own link, after a date-of-birth check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attachment {
    pub attachment_id: String,
    pub blob_key: String,
    /// The name staff gave it, offered to the patient's browser.
    pub file_name: String,
    /// `application/pdf`, `image/png` or `image/jpeg`, from the file's bytes.
    pub content_type: String,
    pub size: u64,
    /// Hex SHA-256 of the file, so an auditor can prove what was sent.
    pub sha256: String,
}

/// The checked patient list a batch sends to. The list itself stays in the
/// blob store; the event holds where it is, its digest and its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListAttached {
    pub list_id: String,
    pub artifact_key: String,
    /// Hex SHA-256 of the artifact, so an auditor can prove which list was sent.
    pub artifact_sha256: String,
    pub patient_count: u64,
    pub contactable_count: u64,
    pub without_valid_mobile_count: u64,
    pub not_contactable_count: u64,
    /// Contactable patients with a valid mobile: the recipients of an
    /// SMS-only batch. Absent from events written before it was counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_count: Option<u64>,
}

/// One day of a staggered send: when it starts and how many patients it
/// sends to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StaggerDay {
    /// 0 for the first day.
    pub day: u32,
    pub starts_at: DateTime<Utc>,
    pub recipients: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum BatchEvent {
    /// v2.0: `message` (v1.0) became `template`, and `kind` was added.
    /// `email_subject` and `snomed_code` were added later, optional, so
    /// events without them read as batches without them.
    BatchDrafted {
        batch_id: String,
        organisation_id: String,
        name: String,
        kind: BatchKind,
        template: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email_subject: Option<String>,
        /// The SNOMED CT concept saved to each patient's record.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snomed_code: Option<String>,
        /// For a Florey questionnaire batch: which questionnaire.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        questionnaire: Option<Questionnaire>,
        /// The file every patient opens through their own link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attachment: Option<Attachment>,
        /// For a Self-Book batch: what each patient's link books.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        self_book: Option<Box<crate::SelfBook>>,
        /// The template the message was copied from, when it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_template: Option<Box<crate::TemplateUsed>>,
        /// The workspace whose inbox the patients' questionnaire answers
        /// come back to, as conversations; `None` for none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workspace_id: Option<String>,
    },
    PatientListAttached(ListAttached),
    SendScheduled {
        send_at: DateTime<Utc>,
        /// The days a staggered send will take, planned when staff chose it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        stagger: Vec<StaggerDay>,
    },
    SendingStarted {
        recipient_count: u64,
        started_at: DateTime<Utc>,
        /// Empty when every patient is sent to at once.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        stagger: Vec<StaggerDay>,
    },
    BatchCompleted {
        completed_at: DateTime<Utc>,
    },
    BatchCancelled {
        cancelled_at: DateTime<Utc>,
    },
    /// Every recipient has an outcome; each patient sent a message now gets
    /// it (and the batch's SNOMED CT code) saved to their record.
    SavingStarted {
        /// How many patients were sent a message, so how many records.
        records: u64,
        started_at: DateTime<Utc>,
    },
    /// Every record the batch writes has been written, or refused for good.
    RecordsSaved {
        saved_at: DateTime<Utc>,
    },
    /// Staff withdrew every link the batch sent. Final: nothing re-activates
    /// them.
    LinksRevoked {
        revoked_at: DateTime<Utc>,
    },
}

impl DomainEvent for BatchEvent {
    fn event_type(&self) -> String {
        match self {
            Self::BatchDrafted { .. } => "BatchDrafted",
            Self::PatientListAttached(_) => "PatientListAttached",
            Self::SendScheduled { .. } => "SendScheduled",
            Self::SendingStarted { .. } => "SendingStarted",
            Self::BatchCompleted { .. } => "BatchCompleted",
            Self::BatchCancelled { .. } => "BatchCancelled",
            Self::SavingStarted { .. } => "SavingStarted",
            Self::RecordsSaved { .. } => "RecordsSaved",
            Self::LinksRevoked { .. } => "LinksRevoked",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::BatchDrafted { .. } => "2.0",
            _ => "1.0",
        }
        .to_owned()
    }
}
