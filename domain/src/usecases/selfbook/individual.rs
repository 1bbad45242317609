//! Individual invites: one patient invited to book, through a one-patient
//! list, so they are checked, sent, counted, reported and audited as any
//! Self-Book batch's patients are.

use crate::content::BatchContent;
use cqrs_es::persist::PersistedEventRepository;

use crate::usecases::Role;
use events::SelfBook;
use serde::Serialize;

use crate::lists::artifact_row;
use crate::ports::PortError;
use crate::selfbook::{self};
use crate::usecases::{Batchbook, BatchbookError, Caller};
use crate::values::{one_line, text};

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
pub(in crate::usecases) fn not_invitable(
    reason: crate::lists::NotContactableReason,
) -> BatchbookError {
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

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Invites one patient: checks them as a one-row list would be, then
    /// creates and sends a Self-Book batch to them alone. With a key, a
    /// retry gets the same invite.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn invite_patient(
        &self,
        caller: &Caller,
        request: PatientInvite,
        key: Option<&crate::usecases::IdempotencyKey>,
    ) -> Result<PatientInvited, BatchbookError> {
        caller.require(Role::Staff)?;
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
    pub(in crate::usecases) async fn invite_patient_once(
        &self,
        caller: &Caller,
        request: PatientInvite,
        key: Option<&crate::usecases::IdempotencyKey>,
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
        let content = BatchContent::SelfBook(Box::new(request.self_book.clone()));
        crate::usecases::batches::check_content(
            crate::usecases::Content {
                template: &request.message,
                email_subject: None,
                kind: &content,
            },
            crate::usecases::batches::Audience {
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
                .get(&crate::usecases::keys::checked(
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
                crate::usecases::CreateBatch {
                    workspace_id: None,
                    name,
                    list_id: list.list_id.clone(),
                    template: request.message,
                    template_id: None,
                    email_subject: None,
                    snomed_code: None,
                    content,
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
}
