//! "Check availability", and the checks that an invite offers something:
//! what an invite configured like this finds in the appointment book now.

use cqrs_es::persist::PersistedEventRepository;
use events::SelfBook;

use crate::appointments::{availability, catalogue, AppointmentBook, Availability, Catalogue};
use crate::appointments::{Slot, SlotSearch};
use crate::ports::PortError;
use crate::selfbook::{self};
use crate::usecases::{Batchbook, BatchbookError, Caller};
use crate::values::OrganisationId;

/// The catalogue, and the window of the search it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueView {
    pub catalogue: Catalogue,
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    /// When the book was asked; a later call within the cache time gets
    /// this same answer.
    pub read_at: chrono::DateTime<chrono::Utc>,
}

impl<R: PersistedEventRepository> Batchbook<R> {
    pub(in crate::usecases) fn appointment_book(
        &self,
    ) -> Result<&std::sync::Arc<dyn AppointmentBook>, BatchbookError> {
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

    /// The appointment book's slot types, clinicians and locations over
    /// the next [`selfbook::CATALOGUE_DAYS`] days, with the other
    /// organisations' sites the settings allow. Read from a slot search,
    /// kept for [`selfbook::CATALOGUE_FOR`] per organisation.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn catalogue(&self, caller: &Caller) -> Result<CatalogueView, BatchbookError> {
        let book = self.appointment_book()?;
        let org = caller.organisation_id.to_string();
        let now = self.ports.clock.now();
        let cached = self
            .catalogues
            .lock()
            .expect("the catalogue cache is never poisoned")
            .get(&org)
            .filter(|view| now < view.read_at + selfbook::CATALOGUE_FOR)
            .cloned();
        if let Some(view) = cached {
            return Ok(view);
        }
        let to = now + selfbook::CATALOGUE_DAYS;
        let other_sites = self.settings_of(&caller.organisation_id).await?.other_sites;
        let slots = book
            .slots_between(now, to)
            .await
            .map_err(|e| BatchbookError::Unavailable(e.to_string()))?;
        let view = CatalogueView {
            catalogue: catalogue(&slots, &other_sites),
            from: now,
            to,
            read_at: now,
        };
        let mut cache = self
            .catalogues
            .lock()
            .expect("the catalogue cache is never poisoned");
        cache.retain(|_, v| now < v.read_at + selfbook::CATALOGUE_FOR);
        cache.insert(org, view.clone());
        Ok(view)
    }

    /// What an invite of `org` configured like this finds in the book now:
    /// the search it makes and the book's answer.
    pub(in crate::usecases) async fn slots_for(
        &self,
        org: &OrganisationId,
        config: &SelfBook,
    ) -> Result<(SlotSearch, Vec<Slot>), BatchbookError> {
        let search = self.search_for(org, config).await?;
        let slots = self.book_search(&search).await?;
        Ok((search, slots))
    }

    /// The book's answer to `search`.
    pub(in crate::usecases) async fn book_search(
        &self,
        search: &SlotSearch,
    ) -> Result<Vec<Slot>, BatchbookError> {
        self.appointment_book()?
            .search(search)
            .await
            .map_err(|e| BatchbookError::Unavailable(e.to_string()))
    }

    /// The search an invite of `org` makes now: with the other
    /// organisations' sites its settings allow.
    pub(in crate::usecases) async fn search_for(
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
    pub(in crate::usecases) async fn bookable_now(
        &self,
        org: &OrganisationId,
        config: &SelfBook,
    ) -> Result<(), BatchbookError> {
        let (search, slots) = self.slots_for(org, config).await?;
        if let Some(site) = &config.location {
            let theirs = slots
                .iter()
                .find(|s| *s.location == **site)
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
}
