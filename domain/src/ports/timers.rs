//! The timer table: work due later (scheduled sends, fallbacks,
//! reminders, expiry), found by the sweeper when it falls due.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PortError;

/// A job the timer sweeper runs when it falls due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum TimerJob {
    StartScheduledSend {
        organisation_id: String,
        batch_id: String,
    },
    /// Put a fan-out on the queue: one day of a staggered send, or the SMS
    /// and NHS App messages held to the sending window.
    FanOut {
        organisation_id: String,
        batch_id: String,
        #[serde(default)]
        day: Option<u32>,
        #[serde(default)]
        skip_email: bool,
    },
    /// NHS App fallbacks and the 72-hour rule for one batch's messages.
    FollowUp {
        organisation_id: String,
        batch_id: String,
    },
    /// The 72-hour rule for one conversation message: still only "sent",
    /// it becomes Failed.
    ConversationReceiptDeadline {
        organisation_id: String,
        conversation_id: String,
        message: u32,
    },
    /// A message that reached a worker outside the sending window goes back
    /// on the send queue when the window opens.
    ReleaseSend { body: String },
    /// Save to the record the messages a cancelled batch did send, once
    /// the sends in flight at the cancel have landed.
    SaveRecords {
        organisation_id: String,
        batch_id: String,
    },
    /// Questionnaire reminders due for one batch (days 3 and 6).
    Reminders {
        organisation_id: String,
        batch_id: String,
    },
    /// The inhaler series' texts due for one batch.
    Series {
        organisation_id: String,
        batch_id: String,
    },
    /// Self-Book invites of one batch whose links have expired with
    /// nothing booked: each is Timed Out.
    InviteExpiry {
        organisation_id: String,
        batch_id: String,
    },
    /// A day before a booked appointment: remind the patient.
    AppointmentReminder {
        organisation_id: String,
        batch_id: String,
        row: u64,
        attempt: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// Deterministic, so scheduling the same timer twice keeps one.
    pub id: String,
    pub due_at: DateTime<Utc>,
    pub job: TimerJob,
}

/// The timer table.
#[async_trait::async_trait]
pub trait Timers: Send + Sync {
    /// Idempotent by timer id.
    async fn schedule(&self, timer: Timer) -> Result<(), PortError>;
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Timer>, PortError>;
    async fn complete(&self, timer_id: &str) -> Result<(), PortError>;
}
