//! Self-Book: what staff configure for an invite, the Invite aggregate's
//! events (one invite per Self-Book link: one patient, one appointment
//! type) and the SlotClaim aggregate's (one per slot in the book, so two
//! patients can never book the same slot).

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

/// How the patient and clinician meet: the appointment type staff choose.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentChannel {
    InPerson,
    Telephone,
    Video,
}

impl AppointmentChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InPerson => "in_person",
            Self::Telephone => "telephone",
            Self::Video => "video",
        }
    }
}

/// What the patient is offered: each slot's exact time, or a part of the
/// day (for telephone appointments, where the clinician calls within it).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    #[default]
    ExactTime,
    /// 08:00–13:00 or 13:00–18:30, practice time.
    TimeWindow,
}

/// How long an invite's link can be used, from the first message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum LinkExpiry {
    #[serde(rename = "24h")]
    Hours24,
    #[serde(rename = "48h")]
    Hours48,
    #[serde(rename = "7d")]
    Days7,
    #[default]
    #[serde(rename = "14d")]
    Days14,
    #[serde(rename = "30d")]
    Days30,
    #[serde(rename = "never")]
    Never,
}

impl LinkExpiry {
    /// How long the link lasts; `None` for never.
    pub fn duration(self) -> Option<chrono::Duration> {
        use chrono::Duration;
        match self {
            Self::Hours24 => Some(Duration::hours(24)),
            Self::Hours48 => Some(Duration::hours(48)),
            Self::Days7 => Some(Duration::days(7)),
            Self::Days14 => Some(Duration::days(14)),
            Self::Days30 => Some(Duration::days(30)),
            Self::Never => None,
        }
    }
}

/// "I don't want this", when staff allow it: the code saved to the record
/// and the words the patient is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeclineOption {
    pub snomed_code: String,
    pub wording: String,
}

/// A Self-Book invite's configuration, as staff chose it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SelfBook {
    pub appointment_type: AppointmentChannel,
    pub slot_type: String,
    #[serde(default)]
    pub timing: Timing,
    /// Empty for any clinician.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clinicians: Vec<String>,
    /// Only slots at this site (its id in the book). An individual invite
    /// names the site the patient is to go to; another organisation's
    /// site only where the practice's settings allow it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Offer only slots within this many days of when the patient looks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_days: Option<u32>,
    /// `None` when the patient may only book.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline: Option<DeclineOption>,
    #[serde(default)]
    pub expiry: LinkExpiry,
}

/// A slot as an invite holds it: enough to book it, confirm it to the
/// patient and report it, without asking the book again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChosenSlot {
    pub slot_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub slot_type: String,
    pub clinician: String,
    pub clinician_name: String,
    pub location: String,
    /// Where the patient goes, as they are told it.
    pub location_name: String,
    /// The ODS code of the organisation the site belongs to, when it is not
    /// the inviting practice's own (a shared hub). Absent from events
    /// recorded before sites were shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_organisation: Option<String>,
    pub channel: AppointmentChannel,
    /// The patient chose a part of the day, not this exact time: the
    /// confirmation gives the window.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub as_window: bool,
}

/// Events of one invite: one patient's link to book one appointment type.
/// The patient is named only by batch and row, as on deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum InviteEvent {
    /// The patient chose a slot and it was claimed for them: Pending until
    /// the appointment book confirms. `attempt` counts booking attempts (a
    /// failed booking may be followed by another).
    BookingRequested {
        batch_id: String,
        row: u64,
        attempt: u32,
        slot: ChosenSlot,
        requested_at: DateTime<Utc>,
    },
    /// The appointment book holds the appointment: Booked.
    BookingConfirmed {
        batch_id: String,
        row: u64,
        attempt: u32,
        appointment_id: String,
        confirmed_at: DateTime<Utc>,
    },
    /// The appointment book refused or kept failing: Failed, and the slot
    /// is released. `reason` names no patient.
    BookingFailed {
        batch_id: String,
        row: u64,
        attempt: u32,
        reason: String,
        failed_at: DateTime<Utc>,
    },
    /// The patient said they do not want the appointment. Final.
    InviteDeclined {
        batch_id: String,
        row: u64,
        snomed_code: String,
        declined_at: DateTime<Utc>,
    },
    /// The decline and its SNOMED CT code are in the patient's record in
    /// the clinical system (`saved`), or the clinical system will never
    /// take it (the patient is not registered there).
    DeclineRecorded {
        batch_id: String,
        row: u64,
        saved: bool,
        at: DateTime<Utc>,
    },
    /// The patient cancelled a booked appointment through their link. Final:
    /// the slot is freed in the book.
    BookingCancelled {
        batch_id: String,
        row: u64,
        attempt: u32,
        appointment_id: String,
        cancelled_at: DateTime<Utc>,
    },
    /// A day before the booked appointment: the patient is reminded, with
    /// the link to cancel it.
    AppointmentReminderDue {
        batch_id: String,
        row: u64,
        attempt: u32,
        due_at: DateTime<Utc>,
    },
    /// The link expired with nothing booked. Final.
    InviteTimedOut {
        batch_id: String,
        row: u64,
        timed_out_at: DateTime<Utc>,
    },
}

impl InviteEvent {
    pub fn recipient(&self) -> (&str, u64) {
        match self {
            Self::BookingRequested { batch_id, row, .. }
            | Self::BookingConfirmed { batch_id, row, .. }
            | Self::BookingFailed { batch_id, row, .. }
            | Self::InviteDeclined { batch_id, row, .. }
            | Self::DeclineRecorded { batch_id, row, .. }
            | Self::BookingCancelled { batch_id, row, .. }
            | Self::AppointmentReminderDue { batch_id, row, .. }
            | Self::InviteTimedOut { batch_id, row, .. } => (batch_id, *row),
        }
    }
}

impl DomainEvent for InviteEvent {
    fn event_type(&self) -> String {
        match self {
            Self::BookingRequested { .. } => "BookingRequested",
            Self::BookingConfirmed { .. } => "BookingConfirmed",
            Self::BookingFailed { .. } => "BookingFailed",
            Self::InviteDeclined { .. } => "InviteDeclined",
            Self::DeclineRecorded { .. } => "DeclineRecorded",
            Self::BookingCancelled { .. } => "BookingCancelled",
            Self::AppointmentReminderDue { .. } => "AppointmentReminderDue",
            Self::InviteTimedOut { .. } => "InviteTimedOut",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

/// Events of one slot's claim. The aggregate's optimistic lock decides
/// between two patients choosing the same slot at the same moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum SlotClaimEvent {
    /// The slot is held for this invite (`<batch>:<row>`).
    SlotClaimed {
        slot_id: String,
        invite_id: String,
        claimed_at: DateTime<Utc>,
    },
    /// The invite gave the slot up: its booking failed or was cancelled.
    SlotReleased {
        slot_id: String,
        invite_id: String,
        released_at: DateTime<Utc>,
    },
}

impl DomainEvent for SlotClaimEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SlotClaimed { .. } => "SlotClaimed",
            Self::SlotReleased { .. } => "SlotReleased",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}
