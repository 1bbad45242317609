//! The bodies of work-queue messages and timer jobs. They are JSON so that
//! a message written by one release can be read by the next.

use events::Channel;
use serde::{Deserialize, Serialize};

use crate::policies::SendingWindow;

/// Read a batch's list and enqueue one [`SendMessage`] per contactable
/// patient: all of them, or one day's share of a staggered send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanOut {
    pub organisation_id: String,
    pub batch_id: String,
    pub correlation_id: String,
    /// The day of a staggered send; `None` for everyone at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<u32>,
    /// The emails went already; this fan-out, held to the sending window,
    /// sends the SMS and NHS App messages.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_email: bool,
    /// Instead of sending: enqueue one [`SaveToRecord`] per patient the
    /// batch sent a message to.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub records: bool,
}

impl FanOut {
    /// A batch's sends: everyone's, or one staggered day's.
    pub fn sends(
        organisation_id: &str,
        batch_id: &str,
        correlation_id: &str,
        day: Option<u32>,
        skip_email: bool,
    ) -> Self {
        Self {
            organisation_id: organisation_id.to_owned(),
            batch_id: batch_id.to_owned(),
            correlation_id: correlation_id.to_owned(),
            day,
            skip_email,
            records: false,
        }
    }

    /// A batch's records: one for each patient it sent a message to.
    pub fn records(organisation_id: &str, batch_id: &str, correlation_id: &str) -> Self {
        Self {
            records: true,
            ..Self::sends(organisation_id, batch_id, correlation_id, None, false)
        }
    }
}

/// Save one sent message, with the batch's SNOMED CT code, to the patient's
/// record in the clinical system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveToRecord {
    pub organisation_id: String,
    pub batch_id: String,
    pub row: u64,
    pub nhs_number: String,
    pub channel: Channel,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snomed_code: Option<String>,
    pub sent_at: chrono::DateTime<chrono::Utc>,
    pub correlation_id: String,
    /// A Self-Book patient's decline (with the decline's code), not the
    /// message: its own entry in the record.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub decline: bool,
}

impl SaveToRecord {
    /// The clinical system's idempotency key for this entry.
    pub fn idempotency_key(&self) -> String {
        let entry = if self.decline {
            "record-decline"
        } else {
            "record"
        };
        format!(
            "{}:{}:{}:{entry}",
            self.organisation_id, self.batch_id, self.row
        )
    }
}

/// Which step of a patient's delivery a message is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    #[default]
    First,
    /// The SMS sent when an NHS App message was not read in time.
    Fallback,
    /// A reminder to answer the questionnaire, or a text of a series.
    FollowOn(FollowOn),
}

/// A message after the first that leaves the delivery's status alone: a
/// questionnaire reminder, the next text of the inhaler series, or a
/// Self-Book notice. Each is numbered and sent once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowOn {
    Reminder(u32),
    Series(u32),
    /// A Self-Book notice: the invite event (by sequence) it tells of.
    Notice(u64),
}

impl FollowOn {
    /// As it ends an idempotency key: `reminder-2`, `series-14`.
    pub fn key(self) -> String {
        match self {
            Self::Reminder(n) => format!("reminder-{n}"),
            Self::Series(n) => format!("series-{n}"),
            Self::Notice(n) => format!("notice-{n}"),
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        if let Some(n) = raw.strip_prefix("reminder-") {
            return Some(Self::Reminder(n.parse().ok()?));
        }
        if let Some(n) = raw.strip_prefix("notice-") {
            return Some(Self::Notice(n.parse().ok()?));
        }
        Some(Self::Series(raw.strip_prefix("series-")?.parse().ok()?))
    }
}

/// Send one patient's message. The message is transient (deleted once
/// handled) and holds the destination, so no worker has to reread the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    pub organisation_id: String,
    pub batch_id: String,
    pub row: u64,
    pub channel: Channel,
    /// A mobile (E.164), an email address or an NHS number, by channel.
    pub to: String,
    pub body: String,
    pub correlation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// For an NHS App message: the mobile its SMS fallback goes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_to: Option<String>,
    #[serde(default)]
    pub step: Step,
    /// When SMS and NHS App messages may leave; `None` for email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<SendingWindow>,
}

/// What a booking job does with an invite's appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingAction {
    /// Book the slot the invite claimed (booking attempt `attempt`).
    Book,
    /// Cancel the appointment in the book and free the slot.
    Cancel,
}

/// Work for the appointment book on one invite, queued from the invite's
/// own events so a crash after the patient's choice loses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingJob {
    pub organisation_id: String,
    pub batch_id: String,
    pub row: u64,
    pub attempt: u32,
    pub action: BookingAction,
    pub correlation_id: String,
}

impl BookingJob {
    /// The key every try of one booking attempt is made with, so the book
    /// gives a retried request the first appointment back.
    pub fn idempotency_key(&self) -> String {
        format!(
            "{}:{}:{}:booking-{}",
            self.organisation_id, self.batch_id, self.row, self.attempt
        )
    }
}

impl SendMessage {
    /// One Delivery aggregate per patient per batch, so a redelivered or
    /// duplicated message lands on the same aggregate.
    pub fn delivery_id(&self) -> String {
        delivery_id(&self.batch_id, self.row)
    }
}

pub fn delivery_id(batch_id: &str, row: u64) -> String {
    format!("{batch_id}:{row}")
}

/// The batch and row a delivery id names.
pub fn parse_delivery_id(id: &str) -> Option<(&str, u64)> {
    let (batch_id, row) = id.rsplit_once(':')?;
    Some((batch_id, row.parse().ok()?))
}

/// One channel step of one patient's delivery, as written in the
/// idempotency key Batchbook gives the provider. Providers quote it back in
/// their receipts, so a receipt leads straight to its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageReference {
    pub organisation_id: String,
    pub batch_id: String,
    pub row: u64,
    pub channel: Channel,
    /// A reminder or series text; `None` for the message itself.
    pub follow_on: Option<FollowOn>,
}

impl MessageReference {
    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.split(':');
        let (org, batch, row, channel) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let follow_on = match parts.next() {
            None => None,
            Some(step) => Some(FollowOn::parse(step)?),
        };
        if parts.next().is_some() || org.is_empty() || batch.is_empty() {
            return None;
        }
        let channel = [Channel::Sms, Channel::Email, Channel::NhsApp]
            .into_iter()
            .find(|c| c.as_str() == channel)?;
        Some(Self {
            organisation_id: org.to_owned(),
            batch_id: batch.to_owned(),
            row: row.parse().ok()?,
            channel,
            follow_on,
        })
    }

    pub fn delivery_id(&self) -> String {
        delivery_id(&self.batch_id, self.row)
    }
}

impl std::fmt::Display for MessageReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.organisation_id,
            self.batch_id,
            self.row,
            self.channel.as_str()
        )?;
        match self.follow_on {
            Some(follow_on) => write!(f, ":{}", follow_on.key()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_round_trips_and_nonsense_is_not_one() {
        let reference = MessageReference {
            organisation_id: "A12345".into(),
            batch_id: "6f1c-22".into(),
            row: 17,
            channel: Channel::NhsApp,
            follow_on: None,
        };
        assert_eq!(reference.to_string(), "A12345:6f1c-22:17:nhs_app");
        assert_eq!(
            MessageReference::parse("A12345:6f1c-22:17:nhs_app"),
            Some(reference.clone())
        );
        let reminder = MessageReference {
            follow_on: Some(FollowOn::Reminder(2)),
            ..reference.clone()
        };
        assert_eq!(reminder.to_string(), "A12345:6f1c-22:17:nhs_app:reminder-2");
        assert_eq!(
            MessageReference::parse("A12345:6f1c-22:17:nhs_app:reminder-2"),
            Some(reminder)
        );
        let series = MessageReference {
            follow_on: Some(FollowOn::Series(14)),
            ..reference
        };
        assert_eq!(series.to_string(), "A12345:6f1c-22:17:nhs_app:series-14");
        assert_eq!(
            MessageReference::parse("A12345:6f1c-22:17:nhs_app:series-14"),
            Some(series)
        );
        for bad in [
            "",
            "A12345:b:1",
            "A12345:b:x:sms",
            "A12345:b:1:fax",
            "A12345:b:1:sms:extra",
            "A12345:b:1:sms:reminder-x",
            "A12345:b:1:sms:reminder-1:x",
            "A12345:b:1:sms:series-",
            "A12345:b:1:sms:other-1",
            ":b:1:sms",
        ] {
            assert_eq!(MessageReference::parse(bad), None, "{bad}");
        }
    }
}

/// One message of a conversation to work on: on the send queue, to send
/// it (queued when staff write it); on the record queue, to save it to the
/// patient's record (queued when it is sent). The worker reads the message
/// and its destination, so the job holds no patient data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationMessageJob {
    pub organisation_id: String,
    pub conversation_id: String,
    pub message: u32,
    pub correlation_id: String,
}

impl ConversationMessageJob {
    /// The clinical system's idempotency key for the message's entry.
    pub fn record_key(&self) -> String {
        format!(
            "{}:conversation:{}:{}:record",
            self.organisation_id, self.conversation_id, self.message
        )
    }

    /// The provider's idempotency key for this message, which its receipts
    /// quote back: see [`ConversationReference`].
    pub fn reference(&self, channel: Channel) -> String {
        ConversationReference {
            organisation_id: self.organisation_id.clone(),
            conversation_id: self.conversation_id.clone(),
            message: self.message,
            channel,
        }
        .to_string()
    }
}

/// One conversation message as written in its provider idempotency key:
/// `<organisation>:conversation:<conversation>:<message>:<channel>`. Five
/// parts, so it is never read as a batch's [`MessageReference`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationReference {
    pub organisation_id: String,
    pub conversation_id: String,
    pub message: u32,
    pub channel: Channel,
}

impl ConversationReference {
    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.split(':');
        let (org, kind, conversation, message, channel) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if parts.next().is_some() || kind != "conversation" || org.is_empty() {
            return None;
        }
        let channel = [Channel::Sms, Channel::Email]
            .into_iter()
            .find(|c| c.as_str() == channel)?;
        Some(Self {
            organisation_id: org.to_owned(),
            conversation_id: uuid::Uuid::parse_str(conversation).ok()?.to_string(),
            message: message.parse().ok()?,
            channel,
        })
    }
}

/// The idempotency key of the email telling a conversation's assignee of
/// the patient's reply to message `message`. Six parts: never read as a
/// message's reference.
pub fn notice_reference(organisation_id: &str, conversation_id: &str, message: u32) -> String {
    format!("{organisation_id}:conversation:{conversation_id}:{message}:email:notice")
}

/// Whether `raw` is such a notice's key: its receipts change nothing.
pub fn is_notice_reference(raw: &str) -> bool {
    let parts: Vec<&str> = raw.split(':').collect();
    parts.len() == 6 && parts[1] == "conversation" && parts[4] == "email" && parts[5] == "notice"
}

impl std::fmt::Display for ConversationReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:conversation:{}:{}:{}",
            self.organisation_id,
            self.conversation_id,
            self.message,
            self.channel.as_str()
        )
    }
}
