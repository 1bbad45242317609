//! The patient's flow through an invite link, after the date-of-birth
//! check: the times offered, booking one (`claim` decides between two
//! patients, through the slot's SlotClaim), declining, cancelling.

use crate::usecases::CommandError;
use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use events::{ChosenSlot, SelfBook};

use super::*;
use crate::aggregates::invite::InviteStatus;
use crate::aggregates::{
    slot_claim_id, Invite, InviteCommand, InviteError, LinkStanding, SlotClaim, SlotClaimCommand,
    SlotClaimError,
};
use crate::appointments::{Slot, SlotSearch};
use crate::jobs::delivery_id;
use crate::links::LinkPurpose;
use crate::ports::PortError;
use crate::selfbook::{self, Offer};
use crate::usecases::links::{LinkError, LinkState, Opened};
use crate::usecases::{Batchbook, Caller};
use crate::values::OrganisationId;

impl<R: PersistedEventRepository> Batchbook<R> {
    pub(in crate::usecases) fn org_of(opened: &Opened) -> Result<OrganisationId, LinkError> {
        OrganisationId::parse(&opened.record.organisation_id).map_err(|_| LinkError::NotFound)
    }

    /// The Self-Book configuration behind an opened link.
    pub(in crate::usecases) fn config_of(opened: &Opened) -> Result<&SelfBook, LinkError> {
        opened.batch.self_book().ok_or(LinkError::NotFound)
    }

    pub(in crate::usecases) fn invite_view(
        &self,
        opened: &Opened,
    ) -> Result<InviteView, LinkError> {
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
    pub(in crate::usecases) async fn open_invite(
        &self,
        token: &str,
        session: &str,
    ) -> Result<Opened, LinkError> {
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
        // The organisation's settings (the other sites it may offer) are
        // read beside the link's own aggregates, not after them: the
        // embedded store answers loads made together with one read, and
        // DynamoDB takes them side by side. The link's refusal, if any,
        // comes first; settings read for a link refused are only dropped.
        let record = self.find_link(token).await?;
        let org =
            OrganisationId::parse(&record.organisation_id).map_err(|_| LinkError::NotFound)?;
        let (opened, settings) =
            futures::join!(self.open_invite(token, session), self.settings_of(&org));
        let opened = opened?;
        let config = Self::config_of(&opened)?;
        let other_sites = settings
            .map_err(|e| link_unavailable(e.into()))?
            .other_sites;
        let search = selfbook::search(config, self.ports.clock.now(), &other_sites);
        let slots = self.book_search(&search).await.map_err(link_unavailable)?;
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
        let clock = &self.ports.clock;
        let requested = self
            .invites
            .execute_retrying(
                &invite_id,
                || self.metadata(&caller),
                |_| {
                    let now = clock.now();
                    InviteCommand::RequestBooking {
                        batch_id: batch_id.clone(),
                        row,
                        slot: chosen.clone(),
                        link: standing(opened.state(now)),
                        now,
                    }
                },
            )
            .await;
        let refusal = match requested {
            Ok(invite) => {
                tracing::info!("booking requested");
                opened.invite = Some(invite);
                return self.invite_view(&opened);
            }
            // Whether a failed store took the request is not known, so the
            // claim is kept: it is taken over once stale.
            Err(CommandError::Unavailable(cause)) => return Err(LinkError::Unavailable(cause)),
            Err(CommandError::Stopped(never)) => match never {},
            Err(CommandError::Refused(e)) => self.invite_refusal(&opened, Some(e)).await?,
            Err(CommandError::Conflict) => {
                LinkError::Unavailable("the invite kept changing while it was booked".into())
            }
        };
        self.release(&org, &chosen, &invite_id, &caller).await?;
        Err(refusal)
    }

    /// An offer with nothing free behind it: taken if it is still in the
    /// book (someone booked it since the page loaded), else unknown.
    pub(in crate::usecases) fn gone_or_unknown(
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
    /// A claim whose holder never went on to book (its process died) is
    /// taken over once it is stale.
    pub(in crate::usecases) async fn claim(
        &self,
        org: &str,
        slot: &Slot,
        invite_id: &str,
        opened: &Opened,
    ) -> Result<bool, LinkError> {
        let id = slot_claim_id(org, slot.location_organisation.as_deref(), &slot.slot_id);
        let caller = self.link_caller(&opened.record)?;
        let attempt = |stale_holder: Option<String>| {
            self.slot_claims.execute_retrying(
                &id,
                || self.metadata(&caller),
                move |_| SlotClaimCommand::Claim {
                    slot_id: slot.slot_id.to_string(),
                    invite_id: invite_id.to_owned(),
                    stale_holder: stale_holder.clone(),
                    now: self.ports.clock.now(),
                },
            )
        };
        let claimed = |result: Result<SlotClaim, CommandError<SlotClaimError>>| match result {
            Ok(_) => Ok(true),
            Err(CommandError::Refused(SlotClaimError::Taken) | CommandError::Conflict) => Ok(false),
            Err(e) => Err(LinkError::Unavailable(e.to_string())),
        };
        match attempt(None).await {
            Err(CommandError::Refused(SlotClaimError::Taken)) => {}
            other => return claimed(other),
        }
        // Taken: ask once whether the holder abandoned it; if the claim is
        // too young to take over, it is taken.
        let holder = self
            .slot_claims
            .load(&id)
            .await?
            .holder()
            .map(str::to_owned);
        match holder {
            // Released since: try again.
            None => claimed(attempt(None).await),
            Some(holder) if self.abandoned(&holder, &slot.slot_id).await? => {
                claimed(attempt(Some(holder)).await)
            }
            Some(_) => Ok(false),
        }
    }

    /// Whether the invite holding a claim on `slot_id` never went on to
    /// book it (its process died between the claim and the request).
    pub(in crate::usecases) async fn abandoned(
        &self,
        holder: &str,
        slot_id: &str,
    ) -> Result<bool, PortError> {
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

    pub(in crate::usecases) async fn release(
        &self,
        org: &str,
        slot: &ChosenSlot,
        invite_id: &str,
        caller: &Caller,
    ) -> Result<(), PortError> {
        let id = slot_claim_id(org, slot.location_organisation.as_deref(), &slot.slot_id);
        let released = self
            .slot_claims
            .execute_retrying(
                &id,
                || self.metadata(caller),
                |_| SlotClaimCommand::Release {
                    invite_id: invite_id.to_owned(),
                    now: self.ports.clock.now(),
                },
            )
            .await;
        match released {
            Ok(_) => Ok(()),
            Err(CommandError::Conflict) => Err(PortError("the slot's claim kept changing".into())),
            Err(e) => Err(PortError(e.to_string())),
        }
    }

    /// Why the invite refused: an unusable link says so as for any link;
    /// anything else is the invite's own reason.
    pub(in crate::usecases) async fn invite_refusal(
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
    pub(in crate::usecases) async fn on_invite(
        &self,
        opened: &mut Opened,
        command: impl Fn(LinkStanding, DateTime<Utc>) -> InviteCommand,
    ) -> Result<InviteView, LinkError> {
        let (batch_id, row) = (opened.record.batch_id.clone(), opened.record.row);
        let caller = self.link_caller(&opened.record)?;
        let clock = &self.ports.clock;
        let result = self
            .invites
            .execute_retrying(
                &delivery_id(&batch_id, row),
                || self.metadata(&caller),
                |_| {
                    let now = clock.now();
                    command(standing(opened.state(now)), now)
                },
            )
            .await;
        match result {
            Ok(invite) => {
                opened.invite = Some(invite);
                self.invite_view(opened)
            }
            Err(CommandError::Refused(e)) => Err(self.invite_refusal(opened, Some(e)).await?),
            Err(CommandError::Conflict) => Err(LinkError::Unavailable(
                "the invite kept changing under the request".into(),
            )),
            Err(CommandError::Unavailable(cause)) => Err(LinkError::Unavailable(cause)),
            Err(CommandError::Stopped(never)) => match never {},
        }
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
}
