//! Self-Book: patients booking their own appointment, or declining it,
//! through their link. One file per step: checking availability, the
//! patient's flow through the link, what the stored events set going, the
//! timers (expiry, reminders), individual invites and the booking worker.
//! The rules themselves (configuration, offers, texts) are pure, in
//! `crate::selfbook`.
//!
//! A booking goes: the patient chooses an offer → a slot behind it is
//! claimed through its SlotClaim aggregate (the optimistic lock decides
//! between two patients) → the invite records `BookingRequested` (Pending)
//! → the reactor queues a booking job from that stored event → the worker
//! books the slot in the appointment book under a key fixed per attempt →
//! `BookingConfirmed` (Booked), or `BookingFailed` and the claim released.
//! Each outcome queues a text to the patient from its own stored event.

mod availability;
mod booking_worker;
mod individual;
mod patient;
mod reactions;
mod timers;

pub use availability::CatalogueView;
pub use individual::{PatientInvite, PatientInvited};

use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistedEventRepository;
use events::{AppointmentChannel, ChosenSlot, Timing};
use serde::Serialize;

use crate::aggregates::invite::InviteStatus;
use crate::aggregates::{Invite, LinkStanding};
use crate::jobs::delivery_id;
use crate::ports::PortError;
use crate::selfbook::{self};
use crate::usecases::links::{LinkError, LinkState};
use crate::usecases::{Batchbook, BatchbookError};

/// A booking the appointment book has not answered by this long after the
/// patient chose is given up as Failed, so nobody is left unsure for long.
pub const BOOKING_DEADLINE: Duration = Duration::minutes(10);

/// How long before a booked appointment the patient is reminded of it.
pub const REMINDER_BEFORE: Duration = Duration::hours(24);

/// An appointment as the patient's page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppointmentView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Set when the patient chose a part of the day, not a time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<selfbook::DayWindow>,
    /// "Tuesday 1 December 2026 at 9:05am", in practice time.
    pub when: String,
    pub appointment_type: AppointmentChannel,
    pub clinician: String,
    pub location: String,
    /// Until when it can be cancelled online, while booked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellable_until: Option<DateTime<Utc>>,
}

/// An invite as the patient's page shows it, after the date-of-birth check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InviteView {
    pub status: InviteStatus,
    pub appointment_type: AppointmentChannel,
    pub slot_type: String,
    pub timing: Timing,
    /// The words of "I don't want this", when the patient may decline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline: Option<String>,
    /// The slot chosen, while pending or booked (and once cancelled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appointment: Option<AppointmentView>,
    /// Why the last booking failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// When the link stops working; `None` for never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

pub(in crate::usecases) fn appointment_view(
    slot: &ChosenSlot,
    status: InviteStatus,
) -> AppointmentView {
    let window = selfbook::DayWindow::of(slot.start)
        .filter(|_| slot.as_window)
        .map(|(_, w)| w);
    let (start, end) = match selfbook::DayWindow::of(slot.start) {
        Some((date, w)) if slot.as_window => w.on(date),
        _ => (slot.start, slot.end),
    };
    AppointmentView {
        start,
        end,
        window,
        when: selfbook::when(slot),
        appointment_type: slot.channel,
        clinician: slot.clinician_name.clone(),
        location: slot.location_name.clone(),
        cancellable_until: (status == InviteStatus::Booked)
            .then(|| selfbook::expected_start(slot) - crate::aggregates::invite::CANCEL_CUT_OFF),
    }
}

pub(in crate::usecases) fn standing(state: LinkState) -> LinkStanding {
    match state {
        LinkState::Open => LinkStanding::Usable,
        LinkState::Expired => LinkStanding::Expired,
        LinkState::Withdrawn => LinkStanding::Withdrawn,
        LinkState::Locked => LinkStanding::Locked,
    }
}

/// A failed look-up, as the patient's page is told it (the cause is logged).
pub(in crate::usecases) fn link_unavailable(e: BatchbookError) -> LinkError {
    match e {
        BatchbookError::Unavailable(cause) => LinkError::Unavailable(cause),
        other => LinkError::Unavailable(other.to_string()),
    }
}

impl<R: PersistedEventRepository> Batchbook<R> {
    pub(in crate::usecases) async fn load_invite(
        &self,
        batch_id: &str,
        row: u64,
    ) -> Result<Invite, PortError> {
        self.invites.load(&delivery_id(batch_id, row)).await
    }
}
