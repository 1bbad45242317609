//! The Invite aggregate: one per Self-Book link (one patient, one
//! appointment type), from Open through Pending to Booked, or to one of the
//! other not-booked statuses. The link itself (sent, expired, withdrawn,
//! locked after wrong dates of birth) is the patient's Delivery; every
//! command here says how the link stands, and the invite refuses to act on
//! a link that cannot be used.

use chrono::{DateTime, Duration, Utc};
use events::{ChosenSlot, InviteEvent};
use serde::{Deserialize, Serialize};

/// How long before an appointment the patient can still cancel it online.
pub const CANCEL_CUT_OFF: Duration = Duration::hours(1);

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum InviteStatus {
    /// Sent; nothing chosen yet.
    #[default]
    Open,
    /// A slot is claimed and the appointment book is being asked.
    Pending,
    Booked,
    /// The book refused; the slot was released and the patient may choose
    /// another while the link lasts.
    Failed,
    Declined,
    Cancelled,
    TimedOut,
}

impl InviteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Booked => "booked",
            Self::Failed => "failed",
            Self::Declined => "declined",
            Self::Cancelled => "cancelled",
            Self::TimedOut => "timed_out",
        }
    }

    /// As reports show it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::Pending => "Pending",
            Self::Booked => "Booked",
            Self::Failed => "Failed",
            Self::Declined => "Declined",
            Self::Cancelled => "Cancelled",
            Self::TimedOut => "Timed Out",
        }
    }

    pub const ALL: [Self; 7] = [
        Self::Open,
        Self::Pending,
        Self::Booked,
        Self::Failed,
        Self::Declined,
        Self::Cancelled,
        Self::TimedOut,
    ];
}

/// How the invite's link stands, as its Delivery and batch say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStanding {
    Usable,
    Expired,
    /// Revoked by staff, alone or with the whole batch.
    Withdrawn,
    /// Too many wrong dates of birth.
    Locked,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InviteCommand {
    /// The patient chose `slot`, already claimed for this invite.
    RequestBooking {
        batch_id: String,
        row: u64,
        slot: ChosenSlot,
        link: LinkStanding,
        now: DateTime<Utc>,
    },
    /// The book took booking `attempt`. Repeats are harmless.
    ConfirmBooking {
        attempt: u32,
        appointment_id: String,
        now: DateTime<Utc>,
    },
    /// The book refused booking `attempt`. Repeats are harmless.
    FailBooking {
        attempt: u32,
        reason: String,
        now: DateTime<Utc>,
    },
    /// "I don't want this", with the decline's SNOMED CT code.
    Decline {
        batch_id: String,
        row: u64,
        snomed_code: String,
        link: LinkStanding,
        now: DateTime<Utc>,
    },
    /// The decline was written to the patient's record (`saved`), or the
    /// clinical system refused it for good. Once; repeats are harmless.
    RecordDecline { saved: bool, now: DateTime<Utc> },
    /// The patient cancels their booked appointment. An expired link may
    /// still cancel: the appointment can be long after the link's expiry.
    Cancel {
        link: LinkStanding,
        now: DateTime<Utc>,
    },
    /// A day before booking `attempt`'s appointment. Only a booked,
    /// uncancelled appointment still to come is reminded of, once.
    RemindOfAppointment { attempt: u32, now: DateTime<Utc> },
    /// The link's expiry passed. Only an invite with nothing booked or
    /// pending times out; repeats are harmless.
    TimeOut {
        batch_id: String,
        row: u64,
        now: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    #[error("this link has expired")]
    LinkExpired,
    #[error("this link has been withdrawn")]
    LinkWithdrawn,
    #[error("this link is locked after too many wrong dates of birth")]
    LinkLocked,
    #[error("your appointment is already booked")]
    AlreadyBooked,
    #[error("your booking is still being made")]
    BookingPending,
    #[error("you said you did not want this appointment")]
    Declined,
    #[error("this appointment was cancelled")]
    Cancelled,
    #[error("this invitation has expired")]
    TimedOut,
    #[error("there is no booked appointment to cancel")]
    NotBooked,
    #[error("appointments can be cancelled online until 1 hour before they start; please contact the practice")]
    TooLateToCancel,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    batch_id: String,
    row: u64,
    status: InviteStatus,
    /// Booking attempts so far; the current one while Pending or Booked.
    attempts: u32,
    /// The slot of the current attempt.
    slot: Option<ChosenSlot>,
    appointment_id: Option<String>,
    /// When the current attempt was requested.
    requested_at: Option<DateTime<Utc>>,
    /// The booking attempt whose appointment was reminded of.
    reminded: Option<u32>,
    /// The decline is in the clinical record (or refused there for good).
    decline_recorded: bool,
    /// When it was Booked, Failed, Declined, Cancelled or Timed Out.
    settled_at: Option<DateTime<Utc>>,
}

impl Invite {
    pub fn status(&self) -> InviteStatus {
        self.status
    }

    pub fn attempt(&self) -> u32 {
        self.attempts
    }

    pub fn slot(&self) -> Option<&ChosenSlot> {
        self.slot.as_ref()
    }

    pub fn appointment_id(&self) -> Option<&str> {
        self.appointment_id.as_deref()
    }

    /// When the current booking attempt was requested.
    pub fn requested_at(&self) -> Option<DateTime<Utc>> {
        self.requested_at
    }

    /// Whether the patient can still cancel online at `now`.
    pub fn cancellable(&self, now: DateTime<Utc>) -> bool {
        self.status == InviteStatus::Booked
            && self
                .slot
                .as_ref()
                .is_some_and(|s| now <= crate::selfbook::expected_start(s) - CANCEL_CUT_OFF)
    }

    /// Refuses to act on a link that cannot be used.
    fn usable(link: LinkStanding) -> Result<(), InviteError> {
        match link {
            LinkStanding::Usable => Ok(()),
            LinkStanding::Expired => Err(InviteError::LinkExpired),
            LinkStanding::Withdrawn => Err(InviteError::LinkWithdrawn),
            LinkStanding::Locked => Err(InviteError::LinkLocked),
        }
    }

    /// Why nothing new can be chosen in the current status, if so.
    fn settled(&self) -> Result<(), InviteError> {
        match self.status {
            InviteStatus::Open | InviteStatus::Failed => Ok(()),
            InviteStatus::Pending => Err(InviteError::BookingPending),
            InviteStatus::Booked => Err(InviteError::AlreadyBooked),
            InviteStatus::Declined => Err(InviteError::Declined),
            InviteStatus::Cancelled => Err(InviteError::Cancelled),
            InviteStatus::TimedOut => Err(InviteError::TimedOut),
        }
    }
}

aggregate!(
    Invite,
    "Invite",
    InviteCommand,
    InviteEvent,
    InviteError,
    ()
);

impl Invite {
    async fn decide(
        &mut self,
        command: InviteCommand,
        _services: &(),
    ) -> Result<Vec<InviteEvent>, InviteError> {
        let event = match command {
            InviteCommand::RequestBooking {
                batch_id,
                row,
                slot,
                link,
                now,
            } => {
                self.settled()?;
                Self::usable(link)?;
                InviteEvent::BookingRequested {
                    batch_id,
                    row,
                    attempt: self.attempts + 1,
                    slot,
                    requested_at: now,
                }
            }
            InviteCommand::ConfirmBooking {
                attempt,
                appointment_id,
                now,
            } => {
                if self.status != InviteStatus::Pending || attempt != self.attempts {
                    return Ok(vec![]);
                }
                InviteEvent::BookingConfirmed {
                    batch_id: self.batch_id.clone(),
                    row: self.row,
                    attempt,
                    appointment_id,
                    confirmed_at: now,
                }
            }
            InviteCommand::FailBooking {
                attempt,
                reason,
                now,
            } => {
                if self.status != InviteStatus::Pending || attempt != self.attempts {
                    return Ok(vec![]);
                }
                InviteEvent::BookingFailed {
                    batch_id: self.batch_id.clone(),
                    row: self.row,
                    attempt,
                    reason,
                    failed_at: now,
                }
            }
            InviteCommand::Decline {
                batch_id,
                row,
                snomed_code,
                link,
                now,
            } => {
                if self.status == InviteStatus::Declined {
                    return Ok(vec![]);
                }
                self.settled()?;
                Self::usable(link)?;
                InviteEvent::InviteDeclined {
                    batch_id,
                    row,
                    snomed_code,
                    declined_at: now,
                }
            }
            InviteCommand::RecordDecline { saved, now } => {
                if self.status != InviteStatus::Declined || self.decline_recorded {
                    return Ok(vec![]);
                }
                InviteEvent::DeclineRecorded {
                    batch_id: self.batch_id.clone(),
                    row: self.row,
                    saved,
                    at: now,
                }
            }
            InviteCommand::Cancel { link, now } => {
                match self.status {
                    InviteStatus::Booked => {}
                    InviteStatus::Cancelled => return Ok(vec![]),
                    _ => return Err(InviteError::NotBooked),
                }
                if link != LinkStanding::Expired {
                    Self::usable(link)?;
                }
                if !self.cancellable(now) {
                    return Err(InviteError::TooLateToCancel);
                }
                InviteEvent::BookingCancelled {
                    batch_id: self.batch_id.clone(),
                    row: self.row,
                    attempt: self.attempts,
                    appointment_id: self.appointment_id.clone().unwrap_or_default(),
                    cancelled_at: now,
                }
            }
            InviteCommand::RemindOfAppointment { attempt, now } => {
                let to_come = self
                    .slot
                    .as_ref()
                    .is_some_and(|s| now < crate::selfbook::expected_start(s));
                if self.status != InviteStatus::Booked
                    || attempt != self.attempts
                    || self.reminded == Some(attempt)
                    || !to_come
                {
                    return Ok(vec![]);
                }
                InviteEvent::AppointmentReminderDue {
                    batch_id: self.batch_id.clone(),
                    row: self.row,
                    attempt,
                    due_at: now,
                }
            }
            InviteCommand::TimeOut { batch_id, row, now } => {
                if !matches!(self.status, InviteStatus::Open | InviteStatus::Failed) {
                    return Ok(vec![]);
                }
                InviteEvent::InviteTimedOut {
                    batch_id,
                    row,
                    timed_out_at: now,
                }
            }
        };
        Ok(vec![event])
    }

    fn apply_event(&mut self, event: InviteEvent) {
        let (batch_id, row) = event.recipient();
        self.batch_id = batch_id.to_owned();
        self.row = row;
        match event {
            InviteEvent::BookingRequested {
                attempt,
                slot,
                requested_at,
                ..
            } => {
                self.requested_at = Some(requested_at);
                self.status = InviteStatus::Pending;
                self.attempts = attempt;
                self.slot = Some(slot);
                self.appointment_id = None;
            }
            InviteEvent::BookingConfirmed {
                appointment_id,
                confirmed_at,
                ..
            } => {
                self.status = InviteStatus::Booked;
                self.appointment_id = Some(appointment_id);
                self.settled_at = Some(confirmed_at);
            }
            InviteEvent::BookingFailed { failed_at, .. } => {
                self.status = InviteStatus::Failed;
                self.settled_at = Some(failed_at);
            }
            InviteEvent::InviteDeclined { declined_at, .. } => {
                self.status = InviteStatus::Declined;
                self.settled_at = Some(declined_at);
            }
            InviteEvent::BookingCancelled { cancelled_at, .. } => {
                self.status = InviteStatus::Cancelled;
                self.settled_at = Some(cancelled_at);
            }
            InviteEvent::AppointmentReminderDue { attempt, .. } => self.reminded = Some(attempt),
            InviteEvent::DeclineRecorded { .. } => self.decline_recorded = true,
            InviteEvent::InviteTimedOut { timed_out_at, .. } => {
                self.status = InviteStatus::TimedOut;
                self.settled_at = Some(timed_out_at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;
    use events::AppointmentChannel;

    type InviteTest = TestFramework<Invite>;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    }

    fn slot(id: &str) -> ChosenSlot {
        ChosenSlot {
            slot_id: id.into(),
            start: now() + Duration::days(2),
            end: now() + Duration::days(2) + Duration::minutes(10),
            slot_type: "flu".into(),
            clinician: "nurse-a".into(),
            clinician_name: "Nurse A".into(),
            location: "main".into(),
            location_name: "Main Surgery".into(),
            location_organisation: None,
            channel: AppointmentChannel::InPerson,
            as_window: false,
        }
    }

    fn request(id: &str, link: LinkStanding) -> InviteCommand {
        InviteCommand::RequestBooking {
            batch_id: "b-1".into(),
            row: 4,
            slot: slot(id),
            link,
            now: now(),
        }
    }

    fn requested(attempt: u32, id: &str) -> InviteEvent {
        InviteEvent::BookingRequested {
            batch_id: "b-1".into(),
            row: 4,
            attempt,
            slot: slot(id),
            requested_at: now(),
        }
    }

    fn confirmed(attempt: u32) -> InviteEvent {
        InviteEvent::BookingConfirmed {
            batch_id: "b-1".into(),
            row: 4,
            attempt,
            appointment_id: "appt-1".into(),
            confirmed_at: now(),
        }
    }

    fn failed(attempt: u32) -> InviteEvent {
        InviteEvent::BookingFailed {
            batch_id: "b-1".into(),
            row: 4,
            attempt,
            reason: "that slot was just taken".into(),
            failed_at: now(),
        }
    }

    fn declined() -> InviteEvent {
        InviteEvent::InviteDeclined {
            batch_id: "b-1".into(),
            row: 4,
            snomed_code: "1324681000000101".into(),
            declined_at: now(),
        }
    }

    fn decline(link: LinkStanding) -> InviteCommand {
        InviteCommand::Decline {
            batch_id: "b-1".into(),
            row: 4,
            snomed_code: "1324681000000101".into(),
            link,
            now: now(),
        }
    }

    fn cancelled() -> InviteEvent {
        InviteEvent::BookingCancelled {
            batch_id: "b-1".into(),
            row: 4,
            attempt: 1,
            appointment_id: "appt-1".into(),
            cancelled_at: now(),
        }
    }

    fn cancel_at(at: DateTime<Utc>, link: LinkStanding) -> InviteCommand {
        InviteCommand::Cancel { link, now: at }
    }

    fn timed_out() -> InviteEvent {
        InviteEvent::InviteTimedOut {
            batch_id: "b-1".into(),
            row: 4,
            timed_out_at: now(),
        }
    }

    fn time_out() -> InviteCommand {
        InviteCommand::TimeOut {
            batch_id: "b-1".into(),
            row: 4,
            now: now(),
        }
    }

    fn confirm(attempt: u32) -> InviteCommand {
        InviteCommand::ConfirmBooking {
            attempt,
            appointment_id: "appt-1".into(),
            now: now(),
        }
    }

    fn fail(attempt: u32) -> InviteCommand {
        InviteCommand::FailBooking {
            attempt,
            reason: "that slot was just taken".into(),
            now: now(),
        }
    }

    #[test]
    fn open_to_pending_to_booked() {
        InviteTest::with(())
            .given_no_previous_events()
            .when(request("s-1", LinkStanding::Usable))
            .then_expect_events(vec![requested(1, "s-1")]);
        InviteTest::with(())
            .given(vec![requested(1, "s-1")])
            .when(confirm(1))
            .then_expect_events(vec![confirmed(1)]);
        // A repeated confirmation, or one for another attempt, changes nothing.
        InviteTest::with(())
            .given(vec![requested(1, "s-1"), confirmed(1)])
            .when(confirm(1))
            .then_expect_events(vec![]);
        InviteTest::with(())
            .given(vec![requested(1, "s-1"), failed(1), requested(2, "s-2")])
            .when(confirm(1))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_failed_booking_may_be_followed_by_another_choice() {
        InviteTest::with(())
            .given(vec![requested(1, "s-1")])
            .when(fail(1))
            .then_expect_events(vec![failed(1)]);
        InviteTest::with(())
            .given(vec![requested(1, "s-1"), failed(1)])
            .when(request("s-2", LinkStanding::Usable))
            .then_expect_events(vec![requested(2, "s-2")]);
        InviteTest::with(())
            .given(vec![requested(1, "s-1"), failed(1)])
            .when(fail(1))
            .then_expect_events(vec![]);
        InviteTest::with(())
            .given(vec![requested(1, "s-1"), confirmed(1)])
            .when(fail(1))
            .then_expect_events(vec![]);
    }

    #[test]
    fn nothing_new_is_chosen_once_pending_booked_declined_cancelled_or_timed_out() {
        let cases = [
            (vec![requested(1, "s-1")], InviteError::BookingPending),
            (
                vec![requested(1, "s-1"), confirmed(1)],
                InviteError::AlreadyBooked,
            ),
            (vec![declined()], InviteError::Declined),
            (
                vec![requested(1, "s-1"), confirmed(1), cancelled()],
                InviteError::Cancelled,
            ),
            (vec![timed_out()], InviteError::TimedOut),
        ];
        for (given, error) in cases {
            InviteTest::with(())
                .given(given.clone())
                .when(request("s-2", LinkStanding::Usable))
                .then_expect_error(error.clone());
            if error != InviteError::Declined {
                InviteTest::with(())
                    .given(given)
                    .when(decline(LinkStanding::Usable))
                    .then_expect_error(error);
            }
        }
        // Declining twice is one decline.
        InviteTest::with(())
            .given(vec![declined()])
            .when(decline(LinkStanding::Usable))
            .then_expect_events(vec![]);
        // The decline goes to the record once, and only a decline does.
        let recorded = InviteEvent::DeclineRecorded {
            batch_id: "b-1".into(),
            row: 4,
            saved: true,
            at: now(),
        };
        let record = InviteCommand::RecordDecline {
            saved: true,
            now: now(),
        };
        InviteTest::with(())
            .given(vec![declined()])
            .when(record.clone())
            .then_expect_events(vec![recorded.clone()]);
        for given in [
            vec![declined(), recorded],
            vec![],
            vec![requested(1, "s-1")],
        ] {
            InviteTest::with(())
                .given(given)
                .when(record.clone())
                .then_expect_events(vec![]);
        }
    }

    #[test]
    fn an_expired_withdrawn_or_locked_link_books_and_declines_nothing() {
        for (link, error) in [
            (LinkStanding::Expired, InviteError::LinkExpired),
            (LinkStanding::Withdrawn, InviteError::LinkWithdrawn),
            (LinkStanding::Locked, InviteError::LinkLocked),
        ] {
            InviteTest::with(())
                .given_no_previous_events()
                .when(request("s-1", link))
                .then_expect_error(error.clone());
            InviteTest::with(())
                .given(vec![requested(1, "s-1"), failed(1)])
                .when(decline(link))
                .then_expect_error(error);
        }
        InviteTest::with(())
            .given_no_previous_events()
            .when(decline(LinkStanding::Usable))
            .then_expect_events(vec![declined()]);
    }

    #[test]
    fn a_booking_can_be_cancelled_until_an_hour_before_it_starts() {
        let booked = vec![requested(1, "s-1"), confirmed(1)];
        let start = slot("s-1").start;
        InviteTest::with(())
            .given(booked.clone())
            .when(cancel_at(start - CANCEL_CUT_OFF, LinkStanding::Usable))
            .then_expect_events(vec![InviteEvent::BookingCancelled {
                batch_id: "b-1".into(),
                row: 4,
                attempt: 1,
                appointment_id: "appt-1".into(),
                cancelled_at: start - CANCEL_CUT_OFF,
            }]);
        InviteTest::with(())
            .given(booked.clone())
            .when(cancel_at(
                start - CANCEL_CUT_OFF + Duration::seconds(1),
                LinkStanding::Usable,
            ))
            .then_expect_error(InviteError::TooLateToCancel);
        // The link's own expiry does not stop a cancel; a withdrawn link does.
        InviteTest::with(())
            .given(booked.clone())
            .when(cancel_at(now(), LinkStanding::Expired))
            .then_expect_events(vec![cancelled()]);
        InviteTest::with(())
            .given(booked)
            .when(cancel_at(now(), LinkStanding::Withdrawn))
            .then_expect_error(InviteError::LinkWithdrawn);
        for given in [vec![], vec![requested(1, "s-1")], vec![declined()]] {
            InviteTest::with(())
                .given(given)
                .when(cancel_at(now(), LinkStanding::Usable))
                .then_expect_error(InviteError::NotBooked);
        }
        InviteTest::with(())
            .given(vec![requested(1, "s-1"), confirmed(1), cancelled()])
            .when(cancel_at(now(), LinkStanding::Usable))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_booked_appointment_still_to_come_is_reminded_of_once() {
        let remind = |at| InviteCommand::RemindOfAppointment {
            attempt: 1,
            now: at,
        };
        let reminded = InviteEvent::AppointmentReminderDue {
            batch_id: "b-1".into(),
            row: 4,
            attempt: 1,
            due_at: now() + Duration::days(1),
        };
        let booked = vec![requested(1, "s-1"), confirmed(1)];
        InviteTest::with(())
            .given(booked.clone())
            .when(remind(now() + Duration::days(1)))
            .then_expect_events(vec![reminded.clone()]);
        let start = slot("s-1").start;
        for (given, at) in [
            ([booked.clone(), vec![reminded]].concat(), now()),
            ([booked.clone(), vec![cancelled()]].concat(), now()),
            (vec![requested(1, "s-1")], now()),
            (booked, start),
        ] {
            InviteTest::with(())
                .given(given)
                .when(remind(at))
                .then_expect_events(vec![]);
        }
        InviteTest::with(())
            .given(vec![
                requested(1, "s-1"),
                failed(1),
                requested(2, "s-2"),
                confirmed(2),
            ])
            .when(remind(now()))
            .then_expect_events(vec![]);
    }

    #[test]
    fn only_an_invite_with_nothing_booked_or_pending_times_out() {
        InviteTest::with(())
            .given_no_previous_events()
            .when(time_out())
            .then_expect_events(vec![timed_out()]);
        InviteTest::with(())
            .given(vec![requested(1, "s-1"), failed(1)])
            .when(time_out())
            .then_expect_events(vec![timed_out()]);
        for given in [
            vec![requested(1, "s-1")],
            vec![requested(1, "s-1"), confirmed(1)],
            vec![declined()],
            vec![timed_out()],
        ] {
            InviteTest::with(())
                .given(given)
                .when(time_out())
                .then_expect_events(vec![]);
        }
    }
}
