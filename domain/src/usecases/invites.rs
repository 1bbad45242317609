//! Self-Book: checking availability, the patient's side of an invite link
//! (the offered times, booking, declining, cancelling) and the booking
//! worker that talks to the appointment book.
//!
//! A booking goes: the patient chooses an offer → a slot behind it is
//! claimed through its SlotClaim aggregate (the optimistic lock decides
//! between two patients) → the invite records `BookingRequested` (Pending)
//! → the reactor queues a booking job from that stored event → the worker
//! books the slot in the appointment book under a key fixed per attempt →
//! `BookingConfirmed` (Booked), or `BookingFailed` and the claim released.
//! Each outcome queues a text to the patient from its own stored event.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistedEventRepository;
use cqrs_es::AggregateError;
use events::{AppointmentChannel, ChosenSlot, InviteEvent, SelfBook, Timing};
use serde::Serialize;

use super::links::{LinkError, LinkState, Opened};
use super::workers::{to_json, JobError, JobOutcome, Recurring, FOLLOW_ONS_IDLE};
use super::{current, Batchbook, BatchbookError, Caller};
use crate::aggregates::batch::BatchStatus;
use crate::aggregates::invite::InviteStatus;
use crate::aggregates::{
    slot_claim_id, Invite, InviteCommand, InviteError, LinkStanding, SlotClaim, SlotClaimCommand,
    SlotClaimError,
};
use crate::appointments::{availability, AppointmentBook, Availability, BookError, BookingRequest};
use crate::appointments::{Slot, SlotSearch};
use crate::jobs::{delivery_id, BookingAction, BookingJob, FollowOn, SendMessage, Step};
use crate::links::{self, LinkPurpose};
use crate::lists::artifact_row;
use crate::ports::{PortError, QueueName, Timer, TimerJob};
use crate::selfbook::{self, Offer};
use crate::values::{one_line, text, OrganisationId};

/// How often a claim or an invite command is retried when another request
/// changed the same aggregate at the same moment.
const CONFLICT_RETRIES: usize = 5;
/// A booking the appointment book has not answered by this long after the
/// patient chose is given up as Failed, so nobody is left unsure for long.
pub const BOOKING_DEADLINE: Duration = Duration::minutes(10);
/// How long before a booked appointment the patient is reminded of it.
pub const REMINDER_BEFORE: Duration = Duration::hours(24);

/// One patient invited to book on their own (an individual invite):
/// through a one-patient list, so it is checked, sent, counted, reported
/// and audited as any Self-Book batch is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientInvite {
    /// What staff call it; "Invite: <slot type>" when not given.
    pub name: Option<String>,
    pub nhs_number: String,
    /// A UK mobile, in any usual form.
    pub mobile: String,
    /// `YYYY-MM-DD`: the patient proves who they are with it.
    pub date_of_birth: String,
    pub given_name: Option<String>,
    /// The text, with `((link))`.
    pub message: String,
    pub self_book: SelfBook,
}

/// What an individual invite made: its batch (status, counts, reports) and
/// its one-patient list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PatientInvited {
    pub batch_id: String,
    pub list_id: String,
}

/// Why the one patient of an individual invite cannot be invited.
fn not_invitable(reason: crate::lists::NotContactableReason) -> BatchbookError {
    use crate::lists::NotContactableReason as R;
    let why = match reason {
        R::Deceased => "the demographics service records this patient as deceased",
        R::MobileLikelyToFail => "texts to this mobile failed for good in the last 3 months",
        R::UnableToRetrieveContactDetails => {
            "the demographics service could not give this patient's contact details"
        }
        other => other.as_str(),
    };
    BatchbookError::InvalidRequest(format!("patient: this patient cannot be invited: {why}"))
}

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

fn appointment_view(slot: &ChosenSlot, status: InviteStatus) -> AppointmentView {
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

fn standing(state: LinkState) -> LinkStanding {
    match state {
        LinkState::Open => LinkStanding::Usable,
        LinkState::Expired => LinkStanding::Expired,
        LinkState::Withdrawn => LinkStanding::Withdrawn,
        LinkState::Locked => LinkStanding::Locked,
    }
}

/// A failed look-up, as the patient's page is told it (the cause is logged).
fn link_unavailable(e: BatchbookError) -> LinkError {
    match e {
        BatchbookError::Unavailable(cause) => LinkError::Unavailable(cause),
        other => LinkError::Unavailable(other.to_string()),
    }
}

impl<R: PersistedEventRepository> Batchbook<R> {
    fn appointment_book(&self) -> Result<&std::sync::Arc<dyn AppointmentBook>, BatchbookError> {
        self.ports
            .appointments
            .as_ref()
            .ok_or(BatchbookError::NoAppointmentBook)
    }

    /// "Check availability": how many slots an invite configured like this
    /// would offer now, in all and per clinician.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn check_availability(
        &self,
        caller: &Caller,
        config: &SelfBook,
    ) -> Result<Availability, BatchbookError> {
        selfbook::check(config).map_err(BatchbookError::InvalidRequest)?;
        let (search, slots) = self.slots_for(&caller.organisation_id, config).await?;
        Ok(availability(&slots, &search))
    }

    /// What an invite of `org` configured like this finds in the book now:
    /// the search it makes and the book's answer.
    async fn slots_for(
        &self,
        org: &OrganisationId,
        config: &SelfBook,
    ) -> Result<(SlotSearch, Vec<Slot>), BatchbookError> {
        let search = self.search_for(org, config).await?;
        let slots = self
            .appointment_book()?
            .search(&search)
            .await
            .map_err(|e| BatchbookError::Unavailable(e.to_string()))?;
        Ok((search, slots))
    }

    /// The search an invite of `org` makes now: with the other
    /// organisations' sites its settings allow.
    async fn search_for(
        &self,
        org: &OrganisationId,
        config: &SelfBook,
    ) -> Result<SlotSearch, PortError> {
        let other_sites = self.settings_of(org).await?.other_sites;
        Ok(selfbook::search(
            config,
            self.ports.clock.now(),
            &other_sites,
        ))
    }

    /// Refuses an invite that would offer nothing now, or that names
    /// another organisation's site the settings do not allow.
    pub(super) async fn bookable_now(
        &self,
        org: &OrganisationId,
        config: &SelfBook,
    ) -> Result<(), BatchbookError> {
        let (search, slots) = self.slots_for(org, config).await?;
        if let Some(site) = &config.location {
            let theirs = slots
                .iter()
                .find(|s| &s.location == site)
                .and_then(|s| s.location_organisation.as_deref());
            if let Some(owner) = theirs.filter(|_| !search.other_sites.contains(site)) {
                return Err(BatchbookError::InvalidRequest(format!(
                    "self_book.location: \"{site}\" is a site of another organisation ({owner}); add it to other_sites in the settings to book there"
                )));
            }
        }
        if availability(&slots, &search).bookable == 0 {
            return Err(BatchbookError::InvalidRequest(format!(
                "there are no bookable \"{}\" slots for this invite in the next {} days; check availability, or change the invite",
                config.slot_type,
                config.within_days.unwrap_or(selfbook::DEFAULT_WITHIN_DAYS)
            )));
        }
        Ok(())
    }

    pub(super) async fn load_invite(&self, batch_id: &str, row: u64) -> Result<Invite, PortError> {
        current(&self.invite_store, &delivery_id(batch_id, row)).await
    }

    fn org_of(opened: &Opened) -> Result<OrganisationId, LinkError> {
        OrganisationId::parse(&opened.record.organisation_id).map_err(|_| LinkError::NotFound)
    }

    /// The Self-Book configuration behind an opened link.
    fn config_of(opened: &Opened) -> Result<&SelfBook, LinkError> {
        opened.batch.self_book().ok_or(LinkError::NotFound)
    }

    pub(super) fn invite_view(&self, opened: &Opened) -> Result<InviteView, LinkError> {
        let config = Self::config_of(opened)?;
        let invite = opened.invite.clone().unwrap_or_default();
        let status = invite.status();
        let failure = (status == InviteStatus::Failed)
            .then(|| "we could not book the time you chose; please choose another".to_owned());
        Ok(InviteView {
            status,
            appointment_type: config.appointment_type,
            slot_type: config.slot_type.clone(),
            timing: config.timing,
            decline: config
                .decline
                .as_ref()
                .filter(|_| matches!(status, InviteStatus::Open | InviteStatus::Failed))
                .map(|d| d.wording.clone()),
            appointment: invite
                .slot()
                .filter(|_| {
                    matches!(
                        status,
                        InviteStatus::Pending | InviteStatus::Booked | InviteStatus::Cancelled
                    )
                })
                .map(|slot| appointment_view(slot, status)),
            failure,
            expires_at: opened.expires_at(),
        })
    }

    /// Opens an invite link for a page holding a session.
    async fn open_invite(&self, token: &str, session: &str) -> Result<Opened, LinkError> {
        let opened = self.open_with_session(token, session).await?;
        if opened.record.purpose != LinkPurpose::Invite {
            return Err(LinkError::NotFound);
        }
        Ok(opened)
    }

    /// The invite, for a page holding a session.
    pub async fn link_invite(&self, token: &str, session: &str) -> Result<InviteView, LinkError> {
        let opened = self.open_invite(token, session).await?;
        self.invite_view(&opened)
    }

    /// The times the patient may choose from now.
    pub async fn link_offers(&self, token: &str, session: &str) -> Result<Vec<Offer>, LinkError> {
        let opened = self.open_invite(token, session).await?;
        let config = Self::config_of(&opened)?;
        let (search, slots) = self
            .slots_for(&Self::org_of(&opened)?, config)
            .await
            .map_err(link_unavailable)?;
        Ok(selfbook::offers(config, &slots, &search))
    }

    /// The patient chooses an offer: a slot behind it is claimed and the
    /// invite is Pending until the booking worker hears from the book.
    #[tracing::instrument(skip_all)]
    pub async fn book_offer(
        &self,
        token: &str,
        session: &str,
        offer_id: &str,
    ) -> Result<InviteView, LinkError> {
        let mut opened = self.open_invite(token, session).await?;
        let config = Self::config_of(&opened)?.clone();
        let invite = opened.invite.clone().unwrap_or_default();
        if !matches!(invite.status(), InviteStatus::Open | InviteStatus::Failed) {
            // Refuse before claiming anything: the invite would refuse anyway.
            return Err(self.invite_refusal(&opened, None).await?);
        }
        let (batch_id, row) = (opened.record.batch_id.clone(), opened.record.row);
        let invite_id = delivery_id(&batch_id, row);
        let (search, slots) = self
            .slots_for(&Self::org_of(&opened)?, &config)
            .await
            .map_err(link_unavailable)?;
        let candidates = selfbook::candidates(&config, &slots, &search, offer_id);
        if candidates.is_empty() {
            return Err(Self::gone_or_unknown(&config, &slots, &search, offer_id));
        }
        let org = opened.record.organisation_id.clone();
        let mut claimed = None;
        for slot in candidates {
            if self.claim(&org, slot, &invite_id, &opened).await? {
                claimed = Some(slot);
                break;
            }
        }
        let Some(slot) = claimed else {
            tracing::info!("a patient's chosen time was just taken");
            return Err(LinkError::SlotTaken);
        };
        let chosen = selfbook::chosen(slot, config.timing);
        let caller = self.link_caller(&opened.record)?;
        for _ in 0..CONFLICT_RETRIES {
            let command = InviteCommand::RequestBooking {
                batch_id: batch_id.clone(),
                row,
                slot: chosen.clone(),
                link: standing(opened.state(self.ports.clock.now())),
                now: self.ports.clock.now(),
            };
            match self
                .invites
                .execute_with_metadata(&invite_id, command, self.metadata(&caller))
                .await
            {
                Ok(()) => {
                    tracing::info!("booking requested");
                    opened.invite = Some(self.load_invite(&batch_id, row).await?);
                    return self.invite_view(&opened);
                }
                Err(AggregateError::AggregateConflict) => {
                    opened.invite = Some(self.load_invite(&batch_id, row).await?);
                }
                Err(AggregateError::UserError(e)) => {
                    self.release(&org, &chosen, &invite_id, &caller).await?;
                    return Err(self.invite_refusal(&opened, Some(e)).await?);
                }
                Err(e) => return Err(LinkError::Unavailable(e.to_string())),
            }
        }
        self.release(&org, &chosen, &invite_id, &caller).await?;
        Err(LinkError::Unavailable(
            "the invite kept changing while it was booked".into(),
        ))
    }

    /// An offer with nothing free behind it: taken if it is still in the
    /// book (someone booked it since the page loaded), else unknown.
    fn gone_or_unknown(
        config: &SelfBook,
        slots: &[Slot],
        search: &SlotSearch,
        offer_id: &str,
    ) -> LinkError {
        let all: Vec<Slot> = slots
            .iter()
            .map(|s| Slot {
                busy: false,
                ..s.clone()
            })
            .collect();
        if selfbook::candidates(config, &all, search, offer_id).is_empty() {
            LinkError::NoSuchOffer
        } else {
            LinkError::SlotTaken
        }
    }

    /// Claims `slot` for `invite_id`; `false` when someone else holds it.
    async fn claim(
        &self,
        org: &str,
        slot: &Slot,
        invite_id: &str,
        opened: &Opened,
    ) -> Result<bool, LinkError> {
        let id = slot_claim_id(org, slot.location_organisation.as_deref(), &slot.slot_id);
        let caller = self.link_caller(&opened.record)?;
        let mut stale_holder = None;
        let mut asked_stale = false;
        for _ in 0..CONFLICT_RETRIES {
            let command = SlotClaimCommand::Claim {
                slot_id: slot.slot_id.clone(),
                invite_id: invite_id.to_owned(),
                stale_holder: stale_holder.take(),
                now: self.ports.clock.now(),
            };
            match self
                .slot_claims
                .execute_with_metadata(&id, command, self.metadata(&caller))
                .await
            {
                Ok(()) => return Ok(true),
                // Another patient claimed it at the same moment: look again.
                Err(AggregateError::AggregateConflict) => {}
                Err(AggregateError::UserError(SlotClaimError::Taken)) => {
                    let claim: SlotClaim = current(&self.slot_claim_store, &id).await?;
                    let Some(holder) = claim.holder().map(str::to_owned) else {
                        continue;
                    };
                    // Ask once whether the holder abandoned it; if the
                    // claim is too young to take over, it is taken.
                    if !asked_stale && self.abandoned(&holder, &slot.slot_id).await? {
                        asked_stale = true;
                        stale_holder = Some(holder);
                        continue;
                    }
                    return Ok(false);
                }
                Err(e) => return Err(LinkError::Unavailable(e.to_string())),
            }
        }
        Ok(false)
    }

    /// Whether the invite holding a claim on `slot_id` never went on to
    /// book it (its process died between the claim and the request).
    async fn abandoned(&self, holder: &str, slot_id: &str) -> Result<bool, PortError> {
        let Some((batch_id, row)) = crate::jobs::parse_delivery_id(holder) else {
            return Ok(false);
        };
        let invite = self.load_invite(batch_id, row).await?;
        let holds = matches!(
            invite.status(),
            InviteStatus::Pending | InviteStatus::Booked
        ) && invite.slot().is_some_and(|s| s.slot_id == slot_id);
        Ok(!holds)
    }

    async fn release(
        &self,
        org: &str,
        slot: &ChosenSlot,
        invite_id: &str,
        caller: &Caller,
    ) -> Result<(), PortError> {
        let id = slot_claim_id(org, slot.location_organisation.as_deref(), &slot.slot_id);
        for _ in 0..CONFLICT_RETRIES {
            let command = SlotClaimCommand::Release {
                invite_id: invite_id.to_owned(),
                now: self.ports.clock.now(),
            };
            match self
                .slot_claims
                .execute_with_metadata(&id, command, self.metadata(caller))
                .await
            {
                Ok(()) => return Ok(()),
                Err(AggregateError::AggregateConflict) => continue,
                Err(e) => return Err(PortError(e.to_string())),
            }
        }
        Err(PortError("the slot's claim kept changing".into()))
    }

    /// Why the invite refused: an unusable link says so as for any link;
    /// anything else is the invite's own reason.
    async fn invite_refusal(
        &self,
        opened: &Opened,
        error: Option<InviteError>,
    ) -> Result<LinkError, LinkError> {
        let state = opened.state(self.ports.clock.now());
        if state != LinkState::Open
            || matches!(
                error,
                Some(
                    InviteError::LinkExpired | InviteError::LinkWithdrawn | InviteError::LinkLocked
                )
            )
        {
            return Ok(LinkError::Unusable(self.page(opened, state).await?));
        }
        let error = match error {
            Some(e) => e,
            None => match opened.invite.as_ref().map(Invite::status) {
                Some(InviteStatus::Pending) => InviteError::BookingPending,
                Some(InviteStatus::Booked) => InviteError::AlreadyBooked,
                Some(InviteStatus::Declined) => InviteError::Declined,
                Some(InviteStatus::Cancelled) => InviteError::Cancelled,
                Some(InviteStatus::TimedOut) => InviteError::TimedOut,
                _ => InviteError::NotBooked,
            },
        };
        Ok(LinkError::Invite(error))
    }

    /// Runs a patient's command on their invite, retrying conflicts.
    async fn on_invite(
        &self,
        opened: &mut Opened,
        command: impl Fn(LinkStanding, DateTime<Utc>) -> InviteCommand,
    ) -> Result<InviteView, LinkError> {
        let (batch_id, row) = (opened.record.batch_id.clone(), opened.record.row);
        let caller = self.link_caller(&opened.record)?;
        for _ in 0..CONFLICT_RETRIES {
            let now = self.ports.clock.now();
            let link = standing(opened.state(now));
            match self
                .invites
                .execute_with_metadata(
                    &delivery_id(&batch_id, row),
                    command(link, now),
                    self.metadata(&caller),
                )
                .await
            {
                Ok(()) => {
                    opened.invite = Some(self.load_invite(&batch_id, row).await?);
                    return self.invite_view(opened);
                }
                Err(AggregateError::AggregateConflict) => {
                    opened.invite = Some(self.load_invite(&batch_id, row).await?);
                }
                Err(AggregateError::UserError(e)) => {
                    return Err(self.invite_refusal(opened, Some(e)).await?)
                }
                Err(e) => return Err(LinkError::Unavailable(e.to_string())),
            }
        }
        Err(LinkError::Unavailable(
            "the invite kept changing under the request".into(),
        ))
    }

    /// "I don't want this": the invite is Declined, with the decline's code.
    #[tracing::instrument(skip_all)]
    pub async fn decline_invite(
        &self,
        token: &str,
        session: &str,
    ) -> Result<InviteView, LinkError> {
        let mut opened = self.open_invite(token, session).await?;
        let Some(decline) = Self::config_of(&opened)?.decline.clone() else {
            return Err(LinkError::DeclineNotOffered);
        };
        let (batch_id, row) = (opened.record.batch_id.clone(), opened.record.row);
        let view = self
            .on_invite(&mut opened, |link, now| InviteCommand::Decline {
                batch_id: batch_id.clone(),
                row,
                snomed_code: decline.snomed_code.clone(),
                link,
                now,
            })
            .await?;
        tracing::info!("invite declined");
        Ok(view)
    }

    /// Cancels the patient's booked appointment, up to an hour before it.
    /// The booking worker frees the slot in the book.
    #[tracing::instrument(skip_all)]
    pub async fn cancel_booking(
        &self,
        token: &str,
        session: &str,
    ) -> Result<InviteView, LinkError> {
        let mut opened = self.open_invite(token, session).await?;
        let view = self
            .on_invite(&mut opened, |link, now| InviteCommand::Cancel { link, now })
            .await?;
        tracing::info!("booking cancelled");
        Ok(view)
    }

    /// Reacts to a stored invite event: book or cancel in the appointment
    /// book, or tell the patient the outcome.
    pub(super) async fn react_to_invite(
        &self,
        event: InviteEvent,
        sequence: u64,
        organisation_id: &str,
        correlation_id: &str,
    ) -> Result<bool, JobError> {
        let (batch_id, row) = event.recipient();
        let (batch_id, row) = (batch_id.to_owned(), row);
        let booking = |attempt, action| BookingJob {
            organisation_id: organisation_id.to_owned(),
            batch_id: batch_id.clone(),
            row,
            attempt,
            action,
            correlation_id: correlation_id.to_owned(),
        };
        let job = match &event {
            InviteEvent::BookingRequested { attempt, .. } => booking(*attempt, BookingAction::Book),
            InviteEvent::BookingCancelled { attempt, .. } => {
                booking(*attempt, BookingAction::Cancel)
            }
            InviteEvent::BookingConfirmed {
                attempt,
                confirmed_at,
                ..
            } => {
                self.schedule_reminder(organisation_id, &batch_id, row, *attempt, *confirmed_at)
                    .await?;
                return self
                    .queue_notice(&event, sequence, organisation_id, correlation_id)
                    .await;
            }
            InviteEvent::BookingFailed { .. } | InviteEvent::AppointmentReminderDue { .. } => {
                return self
                    .queue_notice(&event, sequence, organisation_id, correlation_id)
                    .await
            }
            InviteEvent::InviteDeclined {
                snomed_code,
                declined_at,
                ..
            } => {
                return self
                    .queue_decline_record(
                        organisation_id,
                        &batch_id,
                        row,
                        snomed_code,
                        *declined_at,
                        correlation_id,
                    )
                    .await
            }
            InviteEvent::InviteTimedOut { .. } | InviteEvent::DeclineRecorded { .. } => {
                return Ok(false)
            }
        };
        self.ports
            .queue
            .send(QueueName::Booking, vec![to_json(&job)])
            .await?;
        Ok(true)
    }

    /// Queues the text telling the patient a booking's outcome: sent once
    /// per invite event, keyed by its sequence.
    async fn queue_notice(
        &self,
        event: &InviteEvent,
        sequence: u64,
        organisation_id: &str,
        correlation_id: &str,
    ) -> Result<bool, JobError> {
        let (batch_id, row) = event.recipient();
        let batch = self.load_batch(batch_id).await?;
        let invite = self.load_invite(batch_id, row).await?;
        let token = self
            .ports
            .links
            .key
            .token(organisation_id, batch_id, row, LinkPurpose::Invite);
        let link = links::url(&self.ports.links.base_url, &token);
        let body = match (event, invite.slot()) {
            (InviteEvent::BookingConfirmed { .. }, Some(slot)) => {
                selfbook::confirmation(slot, &link)
            }
            (InviteEvent::AppointmentReminderDue { .. }, Some(slot)) => {
                selfbook::reminder(slot, &link)
            }
            _ => selfbook::failure(&link),
        };
        let Some(mobile) = self.mobile_of(&batch, row).await? else {
            return Ok(false);
        };
        let job = SendMessage {
            organisation_id: organisation_id.to_owned(),
            batch_id: batch_id.to_owned(),
            row,
            channel: events::Channel::Sms,
            to: mobile,
            body,
            correlation_id: correlation_id.to_owned(),
            subject: None,
            fallback_to: None,
            step: Step::FollowOn(FollowOn::Notice(sequence)),
            window: None,
        };
        self.ports
            .queue
            .send(QueueName::Send, vec![to_json(&job)])
            .await?;
        Ok(true)
    }

    /// Queues the decline, with its SNOMED CT code, for the patient's record
    /// in the clinical system, as the record writer saves sent messages.
    async fn queue_decline_record(
        &self,
        organisation_id: &str,
        batch_id: &str,
        row: u64,
        snomed_code: &str,
        declined_at: DateTime<Utc>,
        correlation_id: &str,
    ) -> Result<bool, JobError> {
        let batch = self.load_batch(batch_id).await?;
        let Some(nhs_number) = self
            .patient_row(&batch, row)
            .await?
            .and_then(|r| r.nhs_number)
        else {
            return Ok(false);
        };
        let wording = batch
            .self_book()
            .and_then(|s| s.decline.as_ref())
            .map_or("declined", |d| d.wording.as_str());
        let job = crate::jobs::SaveToRecord {
            organisation_id: organisation_id.to_owned(),
            batch_id: batch_id.to_owned(),
            row,
            nhs_number,
            channel: events::Channel::Sms,
            text: format!("Self-Book invitation declined: {wording}"),
            snomed_code: Some(snomed_code.to_owned()),
            sent_at: declined_at,
            correlation_id: correlation_id.to_owned(),
            decline: true,
        };
        self.ports
            .queue
            .send(QueueName::Record, vec![to_json(&job)])
            .await?;
        Ok(true)
    }

    /// Writes a decline to the patient's record (the key makes a retry the
    /// same entry), then records on the invite that it is there.
    pub(super) async fn record_decline(
        &self,
        caller: &Caller,
        batch_id: &str,
        row: u64,
        entry: crate::ports::RecordEntry,
    ) -> Result<JobOutcome, JobError> {
        let saved = match self.ports.record.save(&entry).await {
            Ok(()) => true,
            Err(crate::ports::RecordError::NotRegistered) => false,
            Err(e) => return Err(JobError::Retry(e.to_string())),
        };
        let command = InviteCommand::RecordDecline {
            saved,
            now: self.ports.clock.now(),
        };
        self.invites
            .execute_with_metadata(&delivery_id(batch_id, row), command, self.metadata(caller))
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        Ok(JobOutcome::Done)
    }

    /// Books the reminder a day before a confirmed appointment, unless the
    /// booking came later than that.
    async fn schedule_reminder(
        &self,
        organisation_id: &str,
        batch_id: &str,
        row: u64,
        attempt: u32,
        confirmed_at: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let invite = self.load_invite(batch_id, row).await?;
        let Some(slot) = invite.slot().filter(|_| invite.attempt() == attempt) else {
            return Ok(());
        };
        let due_at = selfbook::expected_start(slot) - REMINDER_BEFORE;
        if due_at <= confirmed_at {
            return Ok(());
        }
        let timer = Timer {
            id: format!("invite:{batch_id}:{row}:reminder:{attempt}"),
            due_at,
            job: TimerJob::AppointmentReminder {
                organisation_id: organisation_id.to_owned(),
                batch_id: batch_id.to_owned(),
                row,
                attempt,
            },
        };
        Ok(self.ports.timers.schedule(timer).await?)
    }

    /// The reminder timer fired: the invite records it (once, and only for
    /// an appointment still booked), and the reactor sends the text.
    pub(super) async fn remind_of_appointment(
        &self,
        organisation_id: &str,
        batch_id: &str,
        row: u64,
        attempt: u32,
        now: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let org = OrganisationId::parse(organisation_id)
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let caller = Caller::system(org, "timer", batch_id);
        self.invites
            .execute_with_metadata(
                &delivery_id(batch_id, row),
                InviteCommand::RemindOfAppointment { attempt, now },
                self.metadata(&caller),
            )
            .await
            .map_err(|e| JobError::Retry(e.to_string()))
    }

    /// Times out the batch's invites whose links expired with nothing
    /// booked, then books the next look: at the next expiry due, or while
    /// the batch is still sending, within `FOLLOW_ONS_IDLE`.
    #[tracing::instrument(skip_all, fields(batch_id))]
    pub(super) async fn expire_invites(
        &self,
        organisation_id: &str,
        batch_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let batch = self.load_batch(batch_id).await?;
        let Some(expiry) = batch.self_book().and_then(|s| s.expiry.duration()) else {
            return Ok(());
        };
        if batch.organisation_id() != organisation_id {
            return Ok(());
        }
        let org = OrganisationId::parse(organisation_id)
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let caller = Caller::system(org, "timer", batch_id);
        let mut next = (batch.status() == BatchStatus::Sending).then(|| now + FOLLOW_ONS_IDLE);
        let mut timed_out = 0;
        for row in self.ports.views.deliveries(batch_id).await? {
            let Some(first) = row.first_sent_at else {
                continue;
            };
            let status = row.invite.as_ref().map_or(InviteStatus::Open, |i| i.status);
            if row.link_revoked || !matches!(status, InviteStatus::Open | InviteStatus::Failed) {
                continue;
            }
            let at = first + expiry;
            if at > now {
                next = Some(next.map_or(at, |n| n.min(at)));
                continue;
            }
            let command = InviteCommand::TimeOut {
                batch_id: batch_id.to_owned(),
                row: row.row,
                now,
            };
            // The invite decides: one booked since the read model was
            // written is left alone.
            self.invites
                .execute_with_metadata(
                    &delivery_id(batch_id, row.row),
                    command,
                    self.metadata(&caller),
                )
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?;
            timed_out += 1;
        }
        if let Some(at) = next {
            self.book(Recurring::InviteExpiry, organisation_id, batch_id, at)
                .await?;
        }
        tracing::info!(timed_out, "expired invites timed out");
        Ok(())
    }

    /// Invites one patient: checks them as a one-row list would be, then
    /// creates and sends a Self-Book batch to them alone. With a key, a
    /// retry gets the same invite.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn invite_patient(
        &self,
        caller: &Caller,
        request: PatientInvite,
        key: Option<&super::IdempotencyKey>,
    ) -> Result<PatientInvited, BatchbookError> {
        let fingerprint = format!(
            "invite-patient\n{:?}\n{}\n{}\n{}\n{:?}\n{}\n{}",
            request.name,
            request.nhs_number,
            request.mobile,
            request.date_of_birth,
            request.given_name,
            request.message,
            serde_json::json!(request.self_book)
        );
        self.idempotent(caller, key, fingerprint.as_bytes(), || {
            self.invite_patient_once(caller, request, key)
        })
        .await
    }

    /// Each step is keyed from the request's key, so a retry after a crash
    /// between steps lands on the same list and batch and sends nothing
    /// twice.
    async fn invite_patient_once(
        &self,
        caller: &Caller,
        request: PatientInvite,
        key: Option<&super::IdempotencyKey>,
    ) -> Result<PatientInvited, BatchbookError> {
        let step = |name: &str| key.map(|k| k.derived(name));
        let invalid = |field: &str, e: &dyn std::fmt::Display| {
            BatchbookError::InvalidRequest(format!("patient.{field}: {e}"))
        };
        let nhs_number = crate::values::NhsNumber::parse(&request.nhs_number)
            .map_err(|e| invalid("nhs_number", &e))?;
        let mobile =
            crate::values::UkMobile::parse(&request.mobile).map_err(|e| invalid("mobile", &e))?;
        let today = self
            .ports
            .clock
            .now()
            .with_timezone(&chrono_tz::Europe::London)
            .date_naive();
        let date_of_birth =
            chrono::NaiveDate::parse_from_str(request.date_of_birth.trim(), "%Y-%m-%d")
                .ok()
                .filter(|d| *d <= today)
                .ok_or_else(|| {
                    invalid(
                        "date_of_birth",
                        &"write the date of birth as YYYY-MM-DD, not in the future",
                    )
                })?;
        let given_name = one_line(
            request.given_name.as_deref().unwrap_or_default(),
            text::GIVEN_NAME_CHARS,
        )
        .map_err(|e| invalid("given_name", &e))?
        .to_owned();
        let name = one_line(
            request.name.as_deref().unwrap_or_default(),
            text::NAME_CHARS,
        )
        .map_err(|e| BatchbookError::InvalidRequest(format!("name: {e}")))?;
        let name = match name {
            "" => format!("Invite: {}", request.self_book.slot_type),
            name => name.to_owned(),
        };
        // Everything that can refuse the invite is asked before anything
        // is stored: a refused invite leaves no list behind.
        selfbook::check(&request.self_book).map_err(BatchbookError::InvalidRequest)?;
        super::batches::check_content(
            super::Content {
                template: &request.message,
                email_subject: None,
                questionnaire: None,
                attachment: false,
                sms_only: true,
                self_book: true,
            },
            super::batches::Audience {
                longest_given_name: given_name.chars().count(),
                emails: 0,
            },
            &self.ports.links.base_url,
        )?;
        self.bookable_now(&caller.organisation_id, &request.self_book)
            .await?;
        let mut csv = csv::Writer::from_writer(Vec::new());
        let rows = [
            [
                "NHS Number",
                "Given Name",
                "Telecom Number",
                "Date of Birth",
            ]
            .map(str::to_owned),
            [
                nhs_number.to_string(),
                given_name,
                mobile.national(),
                date_of_birth.format("%d/%m/%Y").to_string(),
            ],
        ];
        for row in rows {
            csv.write_record(row)
                .map_err(|e| PortError::new("individual invite", e))?;
        }
        let csv = csv
            .into_inner()
            .map_err(|e| PortError::new("individual invite", e.error()))?;
        let list = self
            .upload_list(
                caller,
                csv,
                Some(crate::lists::ClinicalSystem::SystmOne),
                step("invite-list").as_ref(),
            )
            .await?;
        if list.mobile_count == Some(0) || list.contactable_count == 0 {
            let artifact = self
                .ports
                .blobs
                .get(&super::keys::checked(
                    &caller.organisation_id,
                    &list.list_id,
                ))
                .await?
                .unwrap_or_default();
            let reason = artifact_row(&artifact, 1)
                .ok()
                .flatten()
                .and_then(|row| row.reason)
                .unwrap_or(crate::lists::NotContactableReason::ContactDetailsNotProvided);
            return Err(not_invitable(reason));
        }
        let batch_id = self
            .create_batch(
                caller,
                super::CreateBatch {
                    name,
                    list_id: list.list_id.clone(),
                    template: request.message,
                    email_subject: None,
                    snomed_code: None,
                    questionnaire: None,
                    inhaler_series: false,
                    attachment_id: None,
                    self_book: Some(request.self_book),
                },
                step("invite-batch").as_ref(),
            )
            .await?;
        self.send_batch(
            caller,
            &batch_id,
            crate::policies::SendPlan::now(),
            step("invite-send").as_ref(),
        )
        .await?;
        tracing::info!(batch_id, "individual invite sent");
        Ok(PatientInvited {
            batch_id,
            list_id: list.list_id,
        })
    }

    /// The booked patients (`booked`) or the patients invited who have not
    /// booked, in the columns of the uploaded list plus Status (and, for
    /// the booked, Appointment, in practice time): a file that can be
    /// uploaded again, unchanged, as a new list.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id, batch_id))]
    pub async fn invites_csv(
        &self,
        caller: &Caller,
        batch_id: &str,
        booked: bool,
    ) -> Result<Vec<u8>, BatchbookError> {
        let summary = self.batch(caller, batch_id).await?;
        if summary.kind != Some(events::BatchKind::SelfBook) {
            return Err(BatchbookError::InvalidRequest(
                "this batch sent no Self-Book invites".into(),
            ));
        }
        let rows: std::collections::HashMap<u64, crate::projection::DeliveryRow> = self
            .ports
            .views
            .deliveries(batch_id)
            .await?
            .into_iter()
            .filter(|d| d.first_sent_at.is_some())
            .map(|d| (d.row, d))
            .collect();
        let extra: &[&str] = if booked {
            &["Status", "Appointment"]
        } else {
            &["Status"]
        };
        self.upload_report(
            &caller.organisation_id,
            &summary.list_id,
            extra,
            |checked| {
                let invite = rows.get(&checked.row)?.invite.as_ref();
                let status = invite.map_or(InviteStatus::Open, |i| i.status);
                if (status == InviteStatus::Booked) != booked {
                    return None;
                }
                let appointment = invite
                    .and_then(|i| i.appointment_at)
                    .map(|at| {
                        at.with_timezone(&chrono_tz::Europe::London)
                            .format("%Y-%m-%d %H:%M")
                            .to_string()
                    })
                    .unwrap_or_default();
                Some(vec![status.label().to_owned(), appointment])
            },
        )
        .await
    }

    /// The booked or not-booked report, as a link or inline.
    pub async fn invites_download(
        &self,
        caller: &Caller,
        batch_id: &str,
        booked: bool,
    ) -> Result<super::Download, BatchbookError> {
        let csv = self.invites_csv(caller, batch_id, booked).await?;
        let name = if booked { "booked" } else { "not-booked" };
        self.offer(caller, &format!("{batch_id}/{name}"), csv).await
    }

    /// One patient's mobile, from the batch's list.
    async fn mobile_of(
        &self,
        batch: &crate::aggregates::Batch,
        row: u64,
    ) -> Result<Option<String>, JobError> {
        Ok(self.patient_row(batch, row).await?.and_then(|r| r.mobile))
    }

    async fn patient_row(
        &self,
        batch: &crate::aggregates::Batch,
        row: u64,
    ) -> Result<Option<crate::lists::CheckedRow>, JobError> {
        let artifact = self.list_rows(batch).await?;
        artifact_row(&artifact, row).map_err(|e| JobError::Malformed(e.to_string()))
    }

    /// The booking worker: books a claimed slot in the appointment book,
    /// or cancels a cancelled appointment there and frees its slot.
    #[tracing::instrument(skip_all, fields(batch_id = %job.batch_id, row = job.row, attempt = job.attempt))]
    pub(super) async fn handle_booking(&self, job: BookingJob) -> Result<JobOutcome, JobError> {
        let org = OrganisationId::parse(&job.organisation_id)
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let caller = Caller::system(org, "booking-worker", &job.correlation_id);
        let invite_id = delivery_id(&job.batch_id, job.row);
        let invite = self.load_invite(&job.batch_id, job.row).await?;
        let Some(slot) = invite.slot().cloned() else {
            return Err(JobError::Malformed("the invite has no slot".into()));
        };
        let book = self
            .appointment_book()
            .map_err(|e| JobError::Retry(e.to_string()))?
            .clone();
        if job.action == BookingAction::Cancel {
            let Some(appointment_id) = invite.appointment_id() else {
                return Ok(JobOutcome::Skipped);
            };
            book.cancel(appointment_id)
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?;
            self.release(&job.organisation_id, &slot, &invite_id, &caller)
                .await?;
            tracing::info!("appointment cancelled in the book");
            return Ok(JobOutcome::Done);
        }
        if invite.attempt() != job.attempt {
            return Ok(JobOutcome::Skipped);
        }
        match invite.status() {
            InviteStatus::Pending => {}
            // Failed before a crash: make sure the slot went back.
            InviteStatus::Failed => {
                self.release(&job.organisation_id, &slot, &invite_id, &caller)
                    .await?;
                return Ok(JobOutcome::Skipped);
            }
            _ => return Ok(JobOutcome::Skipped),
        }
        let batch = self.load_batch(&job.batch_id).await?;
        let nhs_number = self
            .patient_row(&batch, job.row)
            .await?
            .and_then(|r| r.nhs_number)
            .ok_or_else(|| JobError::Malformed("the patient's row has no NHS number".into()))?;
        let request = BookingRequest {
            slot: selfbook::slot_of(&slot),
            nhs_number,
            idempotency_key: job.idempotency_key(),
        };
        let now = self.ports.clock.now();
        let command = match book.book(&request).await {
            Ok(booked) => InviteCommand::ConfirmBooking {
                attempt: job.attempt,
                appointment_id: booked.appointment_id,
                now,
            },
            Err(BookError::Unavailable(reason))
                if invite
                    .requested_at()
                    .is_none_or(|at| now < at + BOOKING_DEADLINE) =>
            {
                return Err(JobError::Retry(reason));
            }
            Err(e) => InviteCommand::FailBooking {
                attempt: job.attempt,
                reason: e.to_string(),
                now,
            },
        };
        let failed = matches!(command, InviteCommand::FailBooking { .. });
        self.invites
            .execute_with_metadata(&invite_id, command, self.metadata(&caller))
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        if failed {
            self.release(&job.organisation_id, &slot, &invite_id, &caller)
                .await?;
            tracing::warn!("booking failed; the slot was released");
        } else {
            tracing::info!("booking confirmed");
        }
        Ok(JobOutcome::Done)
    }
}
