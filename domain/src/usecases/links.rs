//! Patient links: opening one, the date-of-birth check, answering the
//! questionnaire behind it, and staff revoking links.
//!
//! Before the date-of-birth check a link says only whether it can be used
//! (open, or expired, withdrawn or locked, with how to contact the
//! practice): nothing about the patient or the batch.

use std::collections::BTreeMap;

use super::CommandError;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use cqrs_es::persist::PersistedEventRepository;
use events::Questionnaire;
use serde::Serialize;

use super::{AttachmentFile, Batchbook, BatchbookError, Caller, PracticeContact, Role};
use crate::aggregates::invite::InviteStatus;
use crate::aggregates::{
    Batch, BatchCommand, Delivery, DeliveryCommand, DeliveryError, Invite, InviteError,
};
use crate::florey::{self, AnswersRefused, Question};
use crate::jobs::delivery_id;
use crate::links::{is_token_shaped, token_sha256, LinkPurpose, LinkRecord, SESSION_MINUTES};
use crate::links::{ATTACHMENT_LINK_DAYS, MAX_IDENTITY_ATTEMPTS};
use crate::lists::artifact_rows;
use crate::ports::PortError;
use crate::values::{NhsNumber, OrganisationId};

/// Whose links a revoke withdraws. Every link is named as such, never
/// implied by a missing NHS number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeScope {
    EveryLink,
    Patient(NhsNumber),
}

/// Whether a link can be used, as far as anyone holding it may be told.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Open,
    Expired,
    Withdrawn,
    Locked,
}

/// What the link page shows before the date-of-birth check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkPage {
    pub state: LinkState,
    /// Shown when the link cannot be used.
    pub contact: Option<PracticeContact>,
}

/// A questionnaire as the page asks it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionnaireForm {
    pub questionnaire: Questionnaire,
    pub title: &'static str,
    pub questions: Vec<Question>,
    /// Already answered: the page thanks the patient instead.
    pub answered: bool,
    /// When the link expires.
    pub expires_at: DateTime<Utc>,
}

/// The attachment behind a link, as the page offers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentOffer {
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    /// When the link expires.
    pub expires_at: DateTime<Utc>,
}

/// A passed date-of-birth check: the session the page acts with, and what
/// the link opens (a questionnaire or an attachment).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifiedLink {
    pub session: String,
    pub session_expires_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub questionnaire: Option<QuestionnaireForm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentOffer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite: Option<super::InviteView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<super::replies::ReplyForm>,
}

/// Why a link request was refused. Nothing here names the patient.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("there is no such link")]
    NotFound,
    /// The link cannot be used: expired, withdrawn or locked.
    #[error("this link cannot be used")]
    Unusable(LinkPage),
    #[error("the date of birth must be a date written as YYYY-MM-DD")]
    UnreadableDateOfBirth,
    #[error("that date of birth does not match; {attempts_left} attempt(s) left")]
    WrongDateOfBirth { attempts_left: u32 },
    #[error("confirm your date of birth again")]
    SessionExpired,
    #[error("this questionnaire has already been answered")]
    AlreadyAnswered,
    #[error("this message has already been replied to")]
    AlreadyReplied,
    #[error(transparent)]
    Reply(#[from] super::replies::ReplyProblem),
    #[error(transparent)]
    Answers(#[from] AnswersRefused),
    #[error("that time was just taken; please choose another")]
    SlotTaken,
    #[error("that time is not offered; please choose one of the times offered")]
    NoSuchOffer,
    #[error("this invitation cannot be declined online; contact the practice")]
    DeclineNotOffered,
    #[error(transparent)]
    Invite(#[from] InviteError),
    #[error("the service is busy; try again shortly")]
    Unavailable(String),
}

impl From<PortError> for LinkError {
    fn from(e: PortError) -> Self {
        Self::Unavailable(e.0)
    }
}

/// One link, found and loaded.
pub(super) struct Opened {
    pub(super) record: LinkRecord,
    pub(super) batch: Batch,
    delivery: Delivery,
    /// For a Self-Book link: its invite.
    pub(super) invite: Option<Invite>,
}

impl Opened {
    fn questionnaire(&self) -> Result<Questionnaire, LinkError> {
        self.batch.questionnaire().ok_or(LinkError::NotFound)
    }

    /// When the link stops working; `None` if never (or never sent). A
    /// Self-Book link with an appointment pending lasts until it is
    /// decided, and one with an appointment booked until it starts, so the
    /// patient can always see and cancel it.
    pub(super) fn expires_at(&self) -> Option<DateTime<Utc>> {
        let valid_for = match self.batch.link_purpose()? {
            LinkPurpose::Questionnaire => florey::valid_for(self.batch.questionnaire()?),
            LinkPurpose::Attachment => Duration::days(ATTACHMENT_LINK_DAYS),
            LinkPurpose::Message => return None,
            LinkPurpose::Invite => {
                let invite = self.invite.as_ref();
                match invite.map(Invite::status) {
                    Some(InviteStatus::Pending) => return None,
                    Some(InviteStatus::Booked) => {
                        return invite?.slot().map(crate::selfbook::expected_start)
                    }
                    _ => self.batch.self_book()?.expiry.duration()?,
                }
            }
        };
        Some(self.delivery.first_sent_at()? + valid_for)
    }

    fn attachment(&self) -> Result<AttachmentOffer, LinkError> {
        let attachment = self.batch.attachment().ok_or(LinkError::NotFound)?;
        Ok(AttachmentOffer {
            file_name: attachment.file_name.clone(),
            content_type: attachment.content_type.clone(),
            size: attachment.size,
            expires_at: self.expires_at().ok_or(LinkError::NotFound)?,
        })
    }

    /// The rules the Delivery aggregate enforces, plus a batch-wide revoke.
    pub(super) fn state(&self, now: DateTime<Utc>) -> LinkState {
        if self.batch.links_revoked() {
            return LinkState::Withdrawn;
        }
        match self.delivery.link_refusal(self.expires_at(), now) {
            Some(DeliveryError::LinkExpired) => LinkState::Expired,
            // Revoked, or never sent (so nobody holds it).
            Some(_) => LinkState::Withdrawn,
            None if self.delivery.locked() => LinkState::Locked,
            None => LinkState::Open,
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> LinkError {
    LinkError::Unavailable(e.to_string())
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// The link's record, for a token shaped like one and registered.
    pub(super) async fn find_link(&self, token: &str) -> Result<LinkRecord, LinkError> {
        if !is_token_shaped(token) {
            return Err(LinkError::NotFound);
        }
        self.ports
            .links
            .directory
            .find(&token_sha256(token))
            .await?
            .ok_or(LinkError::NotFound)
    }

    async fn open(&self, token: &str) -> Result<Opened, LinkError> {
        let record = self.find_link(token).await?;
        if record.purpose == LinkPurpose::Message {
            // A conversation's reply link opens only the reply pages.
            return Err(LinkError::NotFound);
        }
        // The three loads at once: the embedded store answers loads made
        // together with one read, and DynamoDB takes them side by side. Each
        // is the kept copy brought up to date (a revocation, a check or a
        // booking is seen at once), not replayed each time: the batch is
        // shared by every patient's link, and the patient's own delivery and
        // invite are read on every page they open.
        let id = delivery_id(&record.batch_id, record.row);
        let invite = async {
            match record.purpose {
                LinkPurpose::Invite => Ok(Some(self.invites.load_kept(&id).await?)),
                _ => Ok(None),
            }
        };
        let (batch, delivery, invite) = futures::try_join!(
            async { Ok::<_, LinkError>(self.batches.load_kept(&record.batch_id).await?) },
            async { Ok::<_, LinkError>(self.deliveries.load_kept(&id).await?) },
            invite,
        )?;
        if batch.organisation_id() != record.organisation_id {
            return Err(LinkError::NotFound);
        }
        Ok(Opened {
            record,
            batch,
            delivery,
            invite,
        })
    }

    async fn load_delivery(&self, batch_id: &str, row: u64) -> Result<Delivery, LinkError> {
        Ok(self.deliveries.load(&delivery_id(batch_id, row)).await?)
    }

    pub(super) async fn page(
        &self,
        opened: &Opened,
        state: LinkState,
    ) -> Result<LinkPage, LinkError> {
        self.state_page(&opened.record.organisation_id, state).await
    }

    /// What a link in `state` shows: for one that cannot be used, how to
    /// contact the organisation.
    pub(super) async fn state_page(
        &self,
        organisation_id: &str,
        state: LinkState,
    ) -> Result<LinkPage, LinkError> {
        let contact = match state {
            LinkState::Open => None,
            _ => {
                let org =
                    OrganisationId::parse(organisation_id).map_err(|_| LinkError::NotFound)?;
                // Settings kept before contacts were checked are checked
                // here too: a patient is never shown one that fails.
                self.settings_of(&org)
                    .await?
                    .contact
                    .and_then(|c| c.checked().ok())
            }
        };
        Ok(LinkPage { state, contact })
    }

    /// Refuses a link that cannot be used now, saying why.
    async fn usable(&self, opened: &Opened) -> Result<(), LinkError> {
        match opened.state(self.ports.clock.now()) {
            LinkState::Open => Ok(()),
            state => Err(LinkError::Unusable(self.page(opened, state).await?)),
        }
    }

    /// What the page may show before the date-of-birth check.
    pub async fn open_link(&self, token: &str) -> Result<LinkPage, LinkError> {
        let record = self.find_link(token).await?;
        if record.purpose == LinkPurpose::Message {
            return self.reply_link_page(&record).await;
        }
        let opened = self.open(token).await?;
        let state = opened.state(self.ports.clock.now());
        self.page(&opened, state).await
    }

    /// The date-of-birth check. A right answer opens a session; a wrong one
    /// counts, and the fifth locks the link for good. Both do the same work
    /// (a look-up, a keyed comparison, one event), so neither is quicker.
    #[tracing::instrument(skip_all)]
    pub async fn verify_link(
        &self,
        token: &str,
        date_of_birth: &str,
    ) -> Result<VerifiedLink, LinkError> {
        let given = NaiveDate::parse_from_str(date_of_birth.trim(), "%Y-%m-%d")
            .map_err(|_| LinkError::UnreadableDateOfBirth)?;
        let record = self.find_link(token).await?;
        if record.purpose == LinkPurpose::Message {
            return self.verify_reply_link(record, given).await;
        }
        let mut opened = self.open(token).await?;
        self.usable(&opened).await?;
        let key = &self.ports.links.key;
        let matches = opened
            .record
            .date_of_birth_check
            .as_deref()
            .is_some_and(|check| {
                key.date_of_birth_matches(&opened.record.token_sha256, given, check)
            });
        let caller = self.link_caller(&opened.record)?;
        let id = delivery_id(&opened.record.batch_id, opened.record.row);
        let mut now = self.ports.clock.now();
        let checked = self
            .deliveries
            .try_execute_retrying(
                &id,
                || self.metadata(&caller),
                |delivery| {
                    // Tried again after a conflict: the link as it is now.
                    opened.delivery = delivery.clone();
                    now = self.ports.clock.now();
                    match opened.state(now) {
                        LinkState::Open => Ok(DeliveryCommand::CheckIdentity { matches, now }),
                        state => Err(state),
                    }
                },
            )
            .await;
        let delivery = match checked {
            Ok(delivery) => delivery,
            Err(CommandError::Stopped(state)) => {
                return Err(LinkError::Unusable(self.page(&opened, state).await?))
            }
            Err(CommandError::Refused(DeliveryError::LinkLocked)) => {
                return Err(LinkError::Unusable(
                    self.page(&opened, LinkState::Locked).await?,
                ))
            }
            Err(CommandError::Conflict) => {
                return Err(LinkError::Unavailable(
                    "the link kept changing under the check".into(),
                ))
            }
            Err(e) => return Err(unavailable(e)),
        };
        opened.delivery = delivery;
        if !matches {
            tracing::info!("a wrong date of birth was given for a link");
            if opened.delivery.locked() {
                return Err(LinkError::Unusable(
                    self.page(&opened, LinkState::Locked).await?,
                ));
            }
            return Err(LinkError::WrongDateOfBirth {
                attempts_left: MAX_IDENTITY_ATTEMPTS
                    .saturating_sub(opened.delivery.failed_checks()),
            });
        }
        let session_expires_at = now + Duration::minutes(SESSION_MINUTES);
        let purpose = opened.batch.link_purpose();
        Ok(VerifiedLink {
            session: key.session(&opened.record.token_sha256, session_expires_at),
            session_expires_at,
            questionnaire: (purpose == Some(LinkPurpose::Questionnaire))
                .then(|| self.form(&opened))
                .transpose()?,
            attachment: (purpose == Some(LinkPurpose::Attachment))
                .then(|| opened.attachment())
                .transpose()?,
            invite: (purpose == Some(LinkPurpose::Invite))
                .then(|| self.invite_view(&opened))
                .transpose()?,
            reply: None,
        })
    }

    fn form(&self, opened: &Opened) -> Result<QuestionnaireForm, LinkError> {
        let questionnaire = opened.questionnaire()?;
        Ok(QuestionnaireForm {
            questionnaire,
            title: florey::title(questionnaire),
            questions: florey::questions(questionnaire),
            answered: opened.delivery.answered(),
            expires_at: opened.expires_at().ok_or(LinkError::NotFound)?,
        })
    }

    pub(super) fn link_caller(&self, record: &LinkRecord) -> Result<Caller, LinkError> {
        let org =
            OrganisationId::parse(&record.organisation_id).map_err(|_| LinkError::NotFound)?;
        Ok(Caller::system(org, "patient-link", &record.batch_id))
    }

    pub(super) async fn open_with_session(
        &self,
        token: &str,
        session: &str,
    ) -> Result<Opened, LinkError> {
        let opened = self.open(token).await?;
        let now = self.ports.clock.now();
        if !self
            .ports
            .links
            .key
            .session_is_valid(&opened.record.token_sha256, session, now)
        {
            return Err(LinkError::SessionExpired);
        }
        self.usable(&opened).await?;
        Ok(opened)
    }

    /// The questionnaire, for a page holding a session.
    pub async fn link_questionnaire(
        &self,
        token: &str,
        session: &str,
    ) -> Result<QuestionnaireForm, LinkError> {
        let opened = self.open_with_session(token, session).await?;
        self.form(&opened)
    }

    /// What the attachment is (name, type, size, expiry), for a page holding
    /// a session; reading this is not opening it.
    pub async fn link_attachment_offer(
        &self,
        token: &str,
        session: &str,
    ) -> Result<AttachmentOffer, LinkError> {
        if self.find_link(token).await?.purpose == LinkPurpose::Message {
            return self.message_attachment_offer(token, session).await;
        }
        self.open_with_session(token, session).await?.attachment()
    }

    /// The attachment, for a page holding a session. The first open is
    /// recorded on the patient's delivery.
    #[tracing::instrument(skip_all)]
    pub async fn link_attachment(
        &self,
        token: &str,
        session: &str,
    ) -> Result<AttachmentFile, LinkError> {
        if self.find_link(token).await?.purpose == LinkPurpose::Message {
            return self.message_attachment(token, session).await;
        }
        let mut opened = self.open_with_session(token, session).await?;
        let attachment = opened
            .batch
            .attachment()
            .ok_or(LinkError::NotFound)?
            .clone();
        let caller = self.link_caller(&opened.record)?;
        let id = delivery_id(&opened.record.batch_id, opened.record.row);
        let expires_at = opened.expires_at().ok_or(LinkError::NotFound)?;
        let opening = self
            .deliveries
            .execute_retrying(
                &id,
                || self.metadata(&caller),
                |_| DeliveryCommand::OpenAttachment {
                    expires_at,
                    now: self.ports.clock.now(),
                },
            )
            .await;
        match opening {
            Ok(_) => {}
            // Revoked, expired or locked since the session began.
            Err(CommandError::Refused(_)) => {
                opened.delivery = self
                    .load_delivery(&opened.record.batch_id, opened.record.row)
                    .await?;
                let state = opened.state(self.ports.clock.now());
                return Err(LinkError::Unusable(self.page(&opened, state).await?));
            }
            Err(CommandError::Conflict) => {
                return Err(LinkError::Unavailable(
                    "the link kept changing while it was opened".into(),
                ))
            }
            Err(e) => return Err(unavailable(e)),
        }
        let bytes = self
            .ports
            .blobs
            .get(&attachment.blob_key)
            .await?
            .ok_or_else(|| unavailable("the batch's attachment is missing"))?;
        Ok(AttachmentFile {
            file_name: attachment.file_name,
            content_type: attachment.content_type,
            bytes,
        })
    }

    /// Records the patient's answers, once.
    #[tracing::instrument(skip_all)]
    pub async fn answer_questionnaire(
        &self,
        token: &str,
        session: &str,
        answers: &BTreeMap<String, String>,
    ) -> Result<QuestionnaireForm, LinkError> {
        let mut opened = self.open_with_session(token, session).await?;
        let questionnaire = opened.questionnaire()?;
        let answers = florey::check_answers(questionnaire, answers)?;
        let caller = self.link_caller(&opened.record)?;
        let command = DeliveryCommand::AnswerQuestionnaire {
            questionnaire,
            answers,
            expires_at: opened.expires_at().ok_or(LinkError::NotFound)?,
            now: self.ports.clock.now(),
        };
        let id = delivery_id(&opened.record.batch_id, opened.record.row);
        match self
            .deliveries
            .execute(&id, command, self.metadata(&caller))
            .await
        {
            Ok(()) => {}
            Err(CommandError::Refused(DeliveryError::AlreadyAnswered)) => {
                return Err(LinkError::AlreadyAnswered)
            }
            // Revoked, expired or locked since the session began.
            Err(CommandError::Refused(_)) => {
                let state = opened.state(self.ports.clock.now());
                return Err(LinkError::Unusable(self.page(&opened, state).await?));
            }
            Err(e) => return Err(unavailable(e)),
        }
        opened.delivery = self
            .load_delivery(&opened.record.batch_id, opened.record.row)
            .await?;
        self.form(&opened)
    }

    /// Withdraws links for good: every link of the batch, or one patient's.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id, batch_id))]
    pub async fn revoke_links(
        &self,
        caller: &Caller,
        batch_id: &str,
        scope: RevokeScope,
    ) -> Result<(), BatchbookError> {
        caller.require(Role::Staff)?;
        let now = self.ports.clock.now();
        let org = caller.organisation_id.to_string();
        let nhs_number = match scope {
            RevokeScope::EveryLink => {
                caller.require(Role::Admin)?;
                // The batch's own work (sending, completing) may commit at
                // the same moment; the revoke is decided again on what it
                // then holds, rather than refused as a conflict.
                self.batches
                    .execute_retrying(
                        batch_id,
                        || self.metadata(caller),
                        |_| BatchCommand::RevokeLinks {
                            organisation_id: org.clone(),
                            now,
                        },
                    )
                    .await?;
                self.refresh_views(&self.batches, batch_id).await?;
                tracing::info!("every link of the batch revoked");
                return Ok(());
            }
            RevokeScope::Patient(nhs_number) => nhs_number,
        };
        let (batch, row) = self.patient_in(caller, batch_id, &nhs_number).await?;
        if batch.link_purpose().is_none() {
            return Err(BatchbookError::Batch(
                crate::aggregates::BatchError::NoLinks,
            ));
        }
        self.on_delivery(caller, batch_id, row, DeliveryCommand::RevokeLink { now })
            .await?;
        tracing::info!(row, "one patient's link revoked");
        Ok(())
    }

    /// The caller's batch, and the list row of the patient with this NHS
    /// number on it.
    pub(in crate::usecases) async fn patient_in(
        &self,
        caller: &Caller,
        batch_id: &str,
        nhs_number: &NhsNumber,
    ) -> Result<(Batch, u64), BatchbookError> {
        let batch = self.batches.load(batch_id).await?;
        if batch.organisation_id() != caller.organisation_id.as_ref() {
            return Err(BatchbookError::BatchNotFound);
        }
        let artifact = self
            .ports
            .blobs
            .get(batch.artifact_key())
            .await?
            .ok_or_else(|| PortError("the batch's list artifact is missing".into()))?;
        let wanted = nhs_number.to_string();
        for checked in artifact_rows(&artifact) {
            let checked = checked.map_err(|e| PortError::new("list artifact", e))?;
            if checked.nhs_number.as_deref() == Some(wanted.as_str()) {
                return Ok((batch, checked.row));
            }
        }
        Err(BatchbookError::InvalidRequest(
            "nhs_number: no patient with this NHS number is in this batch".into(),
        ))
    }
}

/// The link record for one row of a batch's list, as fan-out registers it.
pub(super) fn link_record(
    key: &crate::links::LinkKey,
    organisation_id: &str,
    batch_id: &str,
    row: u64,
    purpose: LinkPurpose,
    date_of_birth: Option<&str>,
) -> (String, LinkRecord) {
    let token = key.token(organisation_id, batch_id, row, purpose);
    let hash = token_sha256(&token);
    let date_of_birth_check = date_of_birth
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .map(|d| key.date_of_birth_check(&hash, d));
    let record = LinkRecord {
        token_sha256: hash,
        organisation_id: organisation_id.to_owned(),
        batch_id: batch_id.to_owned(),
        row,
        purpose,
        date_of_birth_check,
    };
    (token, record)
}
