//! Finding one patient: staff search the demographics service (PDS) by NHS
//! number and date of birth, to message that patient. Every search PDS
//! answers is recorded (a `PatientSearch` aggregate each) with the user
//! who made it, before its answer is shown.

use cqrs_es::persist::PersistedEventRepository;
use events::{PatientSearchEvent, SearchOutcome};

use super::{Batchbook, BatchbookError, Caller, Role};
use crate::aggregates::PatientSearchCommand;
use crate::ports::{recipient_fingerprint, DemographicsError, Mention};
use crate::values::{DateOfBirth, NhsNumber};

/// The patient a search found, as staff are shown them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPatient {
    /// The recorded search this answers.
    pub search_id: String,
    pub nhs_number: NhsNumber,
    pub date_of_birth: chrono::NaiveDate,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The current mobile, as PDS writes it; none for a restricted record
    /// or a patient who has died.
    pub mobile: Option<String>,
    /// The current email address; none as for `mobile`.
    pub email: Option<String>,
    pub deceased: bool,
    /// A restricted (sensitive) record: PDS gives out no contact details.
    pub restricted: bool,
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Looks one patient up by NHS number and date of birth. A number PDS
    /// does not hold, and one it holds with another date of birth, are both
    /// "not found", so a search never confirms an NHS number to someone who
    /// does not know the patient's date of birth; the record says which.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn find_patient(
        &self,
        caller: &Caller,
        nhs_number: &str,
        date_of_birth: &str,
    ) -> Result<FoundPatient, BatchbookError> {
        caller.require(Role::Staff)?;
        let nhs_number = NhsNumber::parse(nhs_number)
            .map_err(|e| BatchbookError::InvalidRequest(format!("nhs_number: {e}")))?;
        let date_of_birth = DateOfBirth::parse(date_of_birth, self.ports.clock.now().date_naive())
            .map_err(|e| BatchbookError::InvalidRequest(format!("date_of_birth: {e}")))?
            .date();
        let demographics = self
            .ports
            .demographics
            .as_ref()
            .ok_or(BatchbookError::NoDemographics)?;
        let (outcome, record) = match demographics.lookup(&nhs_number).await {
            Ok(record) if record.birth_date == Some(date_of_birth) => {
                (SearchOutcome::Found, Some(record))
            }
            Ok(_) => (SearchOutcome::DateOfBirthDiffers, None),
            Err(DemographicsError::NotFound) => (SearchOutcome::NotFound, None),
            Err(DemographicsError::Unavailable(cause)) => {
                return Err(BatchbookError::Unavailable(cause))
            }
        };
        let search_id = uuid::Uuid::new_v4().to_string();
        let organisation_id = caller.organisation_id.to_string();
        let patient = recipient_fingerprint(&organisation_id, nhs_number.as_ref());
        self.ports
            .patients
            .add(
                &organisation_id,
                &[(patient.clone(), Mention::Search(search_id.clone()))],
            )
            .await?;
        let event = PatientSearchEvent::PatientSearched {
            search_id: search_id.clone(),
            patient,
            organisation_id,
            outcome,
            searched_at: self.ports.clock.now(),
        };
        self.patient_searches
            .execute(
                &search_id,
                PatientSearchCommand::Record(event),
                self.metadata(caller),
            )
            .await?;
        tracing::info!(outcome = ?outcome, "a patient search was recorded");
        let record = record.ok_or(BatchbookError::PatientNotFound)?;
        let contactable = !record.deceased && !record.restricted;
        Ok(FoundPatient {
            search_id,
            nhs_number,
            date_of_birth,
            given_name: record.given_name,
            family_name: record.family_name,
            mobile: record.mobile.filter(|_| contactable),
            email: record.email.filter(|_| contactable),
            deceased: record.deceased,
            restricted: record.restricted,
        })
    }
}
