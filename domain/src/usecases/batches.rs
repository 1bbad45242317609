//! Create, preview, send and cancel batches.

use cqrs_es::persist::PersistedEventRepository;

use crate::usecases::Role;
use events::{BatchKind, ListAttached, StaggerDay};
use serde::Serialize;

use super::{keys, Batchbook, BatchbookError, Caller, CommandError, IdempotencyKey};
use crate::aggregates::{BatchCommand, BatchError, NewBatch};
use crate::content::BatchContent;
use crate::lists::ListSummary;
use crate::policies::{stagger, SendPlan, SendStart};
use crate::selfbook;
use crate::template::{SmsLength, Template};
use crate::values::{one_line, text, SnomedCode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateBatch {
    pub name: String,
    pub list_id: String,
    /// The message; empty when it is copied from `template_id`.
    pub template: String,
    /// A template (the caller's own, or shared) to copy the message and
    /// its email subject from, instead of `template`.
    pub template_id: Option<String>,
    /// Needed when any patient on the list is sent an email.
    pub email_subject: Option<String>,
    /// The SNOMED CT concept saved to each patient's record.
    pub snomed_code: Option<String>,
    /// What it sends, with an attachment named by the id
    /// `upload_attachment` gave. A message with a link carries `((link))`.
    pub content: BatchContent<String>,
    /// A workspace of the caller's, whose inbox the patients' questionnaire
    /// answers come back to as conversations.
    pub workspace_id: Option<String>,
}

/// A message as staff write it, and what kind of batch carries it.
#[derive(Debug, PartialEq, Eq)]
pub struct Content<'a, A = String> {
    pub template: &'a str,
    pub email_subject: Option<&'a str>,
    /// Whether the message carries a link, goes by SMS only, or must fit in
    /// [`selfbook::MAX_FRAGMENTS`] fragments (Self-Book).
    pub kind: &'a BatchContent<A>,
}

impl<A> Clone for Content<'_, A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for Content<'_, A> {}

/// What staff see before they send: how long the message is, who gets it
/// by which channel, and how a stagger would split them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchPreview {
    /// The longest the text message can be once filled in, for this list.
    pub sms: SmsLength,
    pub email_recipients: u64,
    pub nhs_app_recipients: u64,
    pub sms_recipients: u64,
    /// Empty unless a stagger was asked for.
    pub stagger: Vec<StaggerDay>,
}

fn invalid(e: impl ToString) -> BatchbookError {
    BatchbookError::InvalidRequest(e.to_string())
}

/// What a message's checks need to know of the list it goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Audience {
    /// In characters.
    pub longest_given_name: usize,
    /// Patients who would get the message by email.
    pub emails: u64,
}

impl From<&ListSummary> for Audience {
    fn from(list: &ListSummary) -> Self {
        Self {
            longest_given_name: list.longest_given_name as usize,
            emails: list.email_only_count,
        }
    }
}

/// Checks a template against the list it goes to: placeholders Batchbook
/// fills (`((link))` exactly when the batch has links), a length the SMS
/// networks take with the longest name and the link filled in, a subject if
/// anyone gets an email.
pub(super) fn check_content<A>(
    content: Content<'_, A>,
    list: Audience,
    link_base_url: &str,
) -> Result<(Template, SmsLength), BatchbookError> {
    let Content {
        template,
        email_subject,
        kind,
    } = content;
    let questionnaire = kind.questionnaire();
    let self_book = kind.self_book().is_some();
    if let Some(subject) = email_subject {
        one_line(subject, text::EMAIL_SUBJECT_CHARS)
            .map_err(|e| invalid(format!("email_subject: {e}")))?;
    }
    let template = Template::parse(template).map_err(invalid)?;
    let link_length = match (kind.has_link(), template.has_link()) {
        (false, true) => return Err(invalid(crate::template::TemplateError::NothingToLinkTo)),
        (true, false) => return Err(invalid(crate::template::TemplateError::LinkMissing)),
        (false, false) => 0,
        (true, true) => crate::links::url(link_base_url, &"x".repeat(crate::links::TOKEN_LENGTH))
            .chars()
            .count(),
    };
    let longest_name = list.longest_given_name;
    let sms = template
        .worst_case(longest_name, link_length)
        .check(self_book.then_some(selfbook::MAX_FRAGMENTS))
        .map_err(invalid)?;
    if questionnaire.is_some() {
        template
            .check_reminder(longest_name, link_length)
            .map_err(invalid)?;
    }
    let emails = if kind.sms_only() { 0 } else { list.emails };
    if emails > 0 && email_subject.is_none_or(|s| s.trim().is_empty()) {
        return Err(invalid(format!(
            "{emails} patients on this list will get this message by email, so it needs an email subject"
        )));
    }
    Ok((template, sms))
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Creates a batch from a checked list. With a key, a retry gets the
    /// same batch.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn create_batch(
        &self,
        caller: &Caller,
        request: CreateBatch,
        key: Option<&IdempotencyKey>,
    ) -> Result<String, BatchbookError> {
        caller.require(Role::Staff)?;
        let fingerprint = format!(
            "create-batch\n{}\n{}\n{}{}\n{:?}\n{:?}\n{:?}",
            request.name,
            request.list_id,
            request.template,
            request
                .template_id
                .as_deref()
                .map(|id| format!("\ntemplate {id}"))
                .unwrap_or_default(),
            request.email_subject,
            request.snomed_code,
            request.content.questionnaire()
        ) + &request
            .workspace_id
            .as_deref()
            .map(|w| format!("\nworkspace {w}"))
            .unwrap_or_default()
            + &match &request.content {
                BatchContent::InhalerSeries => "\ninhaler-series".to_owned(),
                BatchContent::Attachment(id) => format!("\nattachment {id}"),
                BatchContent::SelfBook(s) => format!("\nself-book {}", serde_json::json!(s)),
                BatchContent::Message | BatchContent::Questionnaire(_) => String::new(),
            };
        let batch_id = self
            .idempotent(caller, key, fingerprint.as_bytes(), || {
                self.create_batch_once(caller, request, key)
            })
            .await?;
        // Outside the idempotent step, so a retry's read sees the batch too.
        self.refresh_views(&self.batches, &batch_id).await?;
        Ok(batch_id)
    }

    async fn create_batch_once(
        &self,
        caller: &Caller,
        request: CreateBatch,
        key: Option<&IdempotencyKey>,
    ) -> Result<String, BatchbookError> {
        let name =
            one_line(&request.name, text::NAME_CHARS).map_err(|e| invalid(format!("name: {e}")))?;
        if let Some(workspace_id) = request.workspace_id.as_deref() {
            if request.content.questionnaire().is_none() {
                return Err(invalid(
                    "workspace_id: only a questionnaire batch's answers come back to a workspace's inbox",
                ));
            }
            self.member_workspace(caller, workspace_id).await?;
        }
        if name.is_empty() {
            return Err(invalid("give the batch a name"));
        }
        let (template, email_subject, from_template) = match request.template_id.as_deref() {
            Some(_) if !request.template.is_empty() => {
                return Err(invalid(
                    "message and template_id: give one of them, not both",
                ))
            }
            Some(id) => {
                let (text, used) = self.template_for_batch(caller, id).await?;
                let subject = request.email_subject.or(text.email_subject);
                (text.body, subject, Some(used))
            }
            None if request.template.trim().is_empty() => {
                return Err(invalid(
                    "message: give the message, or a template_id to copy it from",
                ))
            }
            None => (request.template, request.email_subject, None),
        };
        let email_subject = email_subject
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let snomed_code = request
            .snomed_code
            .as_deref()
            .map(SnomedCode::parse)
            .transpose()
            .map_err(invalid)?;
        let org = &caller.organisation_id;
        let content = request
            .content
            .with_attachment(async |id| self.attachment_for_batch(org, &id).await)
            .await?;
        if let Some(config) = content.self_book() {
            selfbook::check(config).map_err(invalid)?;
        }
        let list = self.list_summary(caller, &request.list_id).await?;
        if content.sms_only() && list.mobile_count.is_none() {
            return Err(invalid(
                "this list was checked before mobiles were counted for SMS-only batches; upload it again",
            ));
        }
        let message = Content {
            template: &template,
            email_subject: email_subject.as_deref(),
            kind: &content,
        };
        check_content(message, (&list).into(), &self.ports.links.base_url)?;
        if let Some(config) = content.self_book() {
            self.bookable_now(&caller.organisation_id, config).await?;
            self.keep_upload(&caller.organisation_id, &list.list_id)
                .await?;
        }
        let batch_id = match key {
            Some(key) => key.derived_id(caller, "batch"),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let command = BatchCommand::Create(Box::new(NewBatch {
            batch_id: batch_id.clone(),
            organisation_id: caller.organisation_id.to_string(),
            name: name.to_owned(),
            template,
            email_subject,
            snomed_code: snomed_code.map(String::from),
            workspace_id: request.workspace_id,
            content,
            list: ListAttached {
                artifact_key: keys::checked(&caller.organisation_id, &list.list_id),
                list_id: list.list_id,
                artifact_sha256: list.artifact_sha256,
                patient_count: list.patient_count,
                contactable_count: list.contactable_count,
                without_valid_mobile_count: list.without_valid_mobile_count,
                not_contactable_count: list.not_contactable_count,
                mobile_count: list.mobile_count,
            },
            from_template,
        }));
        match self
            .batches
            .execute(&batch_id, command, self.metadata(caller))
            .await
        {
            Ok(()) => tracing::info!(batch_id, "batch created"),
            // A keyed request re-run after its first run died: same batch.
            Err(CommandError::Refused(BatchError::AlreadyExists)) if key.is_some() => {}
            Err(e) => return Err(e.into()),
        }
        Ok(batch_id)
    }

    /// Keeps a copy of the list's upload with the list: Self-Book's booked
    /// and not-booked reports are in its columns for as long as the links
    /// last, past the upload's own expiry.
    async fn keep_upload(
        &self,
        org: &crate::values::OrganisationId,
        list_id: &str,
    ) -> Result<(), BatchbookError> {
        let kept = keys::kept_upload(org, list_id);
        if self.ports.blobs.exists(&kept).await? {
            return Ok(());
        }
        let upload = self
            .ports
            .blobs
            .get(&keys::upload(org, list_id))
            .await?
            .ok_or_else(|| {
                BatchbookError::InvalidRequest(
                    "this list's upload has expired; upload the list again".into(),
                )
            })?;
        self.ports.blobs.put(&kept, upload).await?;
        Ok(())
    }

    /// The length and routing of a message to a list, and the days of a
    /// stagger starting at `send_at` (or now), before anything is created.
    pub async fn preview_batch(
        &self,
        caller: &Caller,
        list_id: &str,
        content: Content<'_>,
        stagger_plan: Option<SendPlan>,
    ) -> Result<BatchPreview, BatchbookError> {
        let list = self.list_summary(caller, list_id).await?;
        let (_, sms) = check_content(content, (&list).into(), &self.ports.links.base_url)?;
        let (email, nhs_app, texts) = match list.mobile_count {
            Some(with_mobile) if content.kind.sms_only() => (0, 0, with_mobile),
            _ => (
                list.email_only_count,
                list.nhs_app_count,
                list.contactable_count
                    .saturating_sub(list.email_only_count + list.nhs_app_count),
            ),
        };
        let recipients = email + nhs_app + texts;
        let plan = match stagger_plan {
            Some(SendPlan {
                start,
                stagger_days: Some(days),
            }) => {
                let window = self
                    .settings_of(&caller.organisation_id)
                    .await?
                    .sending_window;
                let now = self.ports.clock.now();
                let start = SendPlan {
                    start,
                    stagger_days: Some(days),
                }
                .scheduled_for(now)
                .map_err(invalid)?
                .unwrap_or(now);
                stagger(recipients, days, start, &window).map_err(invalid)?
            }
            _ => vec![],
        };
        Ok(BatchPreview {
            sms,
            email_recipients: email,
            nhs_app_recipients: nhs_app,
            sms_recipients: texts,
            stagger: plan,
        })
    }

    /// Sends now, or schedules the send; all at once, or staggered, as
    /// `plan` says. With a key, a retry gets the first answer instead of
    /// "already sent".
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id, batch_id))]
    pub async fn send_batch(
        &self,
        caller: &Caller,
        batch_id: &str,
        plan: SendPlan,
        key: Option<&IdempotencyKey>,
    ) -> Result<(), BatchbookError> {
        caller.require(Role::Staff)?;
        let fingerprint = match plan.start {
            // The fingerprint of the plan as it was before "now" was named.
            SendStart::Now => format!("send-batch\n{batch_id}\nNone\n{:?}", plan.stagger_days),
            SendStart::At(at) => format!(
                "send-batch\n{batch_id}\n{:?}\n{:?}",
                Some(at),
                plan.stagger_days
            ),
        };
        self.idempotent(caller, key, fingerprint.as_bytes(), || {
            self.send_batch_once(caller, batch_id, plan)
        })
        .await?;
        self.refresh_views(&self.batches, batch_id).await
    }

    async fn send_batch_once(
        &self,
        caller: &Caller,
        batch_id: &str,
        plan: SendPlan,
    ) -> Result<(), BatchbookError> {
        let window = self
            .settings_of(&caller.organisation_id)
            .await?
            .sending_window;
        let batch = self.batches.load(batch_id).await?;
        if batch.kind() == BatchKind::SelfBook
            && batch.organisation_id() == caller.organisation_id.as_ref()
        {
            if let Some(config) = batch.self_book() {
                self.bookable_now(&caller.organisation_id, config).await?;
            }
        }
        let command = BatchCommand::Send {
            organisation_id: caller.organisation_id.to_string(),
            now: self.ports.clock.now(),
            plan,
            window,
        };
        self.batches
            .execute(batch_id, command, self.metadata(caller))
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id, batch_id))]
    pub async fn cancel_batch(
        &self,
        caller: &Caller,
        batch_id: &str,
    ) -> Result<(), BatchbookError> {
        caller.require(Role::Staff)?;
        let command = BatchCommand::Cancel {
            organisation_id: caller.organisation_id.to_string(),
            now: self.ports.clock.now(),
        };
        self.batches
            .execute(batch_id, command, self.metadata(caller))
            .await?;
        self.refresh_views(&self.batches, batch_id).await
    }
}
