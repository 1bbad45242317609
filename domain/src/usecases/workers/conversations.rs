//! A conversation's work: queueing a written message, sending it once
//! within the sending window, recording its provider's receipts, and
//! reopening the conversation when the patient replies. Driven from the
//! event log, so a crash after a commit loses none of it.

use cqrs_es::persist::PersistedEventRepository;
use events::{Assignee, Channel, ConversationEvent, ConversationMessageEvent};

use super::*;
use crate::aggregates::{
    conversation_message_id, ConversationCommand, ConversationMessageCommand,
    ConversationMessageError, Outgoing,
};
use crate::jobs::{notice_reference, ConversationMessageJob, ConversationReference};
use crate::ports::{recipient_fingerprint, EmailRequest, Receipt};
use crate::usecases::conversations::with_link;
use crate::usecases::store::CommandError;
use crate::usecases::{keys, Batchbook, Caller};

/// What the assignee's notification says. Nothing about the patient: it
/// leaves for a mailbox Batchbook does not control.
const NOTICE_SUBJECT: &str = "A patient has replied";

impl<R: PersistedEventRepository> Batchbook<R> {
    /// What a conversation's event calls for: a patient's reply to a
    /// conversation assigned to a member who gave an email address emails
    /// them, once (the Conversation records it).
    pub(in crate::usecases) async fn react_to_conversation(
        &self,
        event: ConversationEvent,
        organisation_id: &str,
        correlation_id: &str,
    ) -> Result<bool, JobError> {
        let ConversationEvent::ConversationReplied {
            conversation_id,
            message,
            ..
        } = event
        else {
            return Ok(false);
        };
        let conversation = self.conversations.load(&conversation_id).await?;
        let Some(Assignee::User { user_id }) = conversation.assignee().cloned() else {
            return Ok(false);
        };
        let workspace = self.workspaces.load(conversation.workspace_id()).await?;
        let Some(to) = workspace.email_of(&user_id).map(str::to_owned) else {
            // No address given: the unread count in the app tells them.
            return Ok(false);
        };
        let email = EmailRequest {
            idempotency_key: notice_reference(organisation_id, &conversation_id, message),
            to,
            subject: NOTICE_SUBJECT.to_owned(),
            body: format!(
                "A patient replied to a conversation assigned to you in {}. Sign in to Batchbook to read it (conversation {conversation_id}).",
                workspace.name()
            ),
        };
        let caller = Caller::system(
            organisation(organisation_id)?,
            "notifications",
            correlation_id,
        );
        self.conversations
            .execute_retrying(
                &conversation_id,
                || self.metadata(&caller),
                |_| ConversationCommand::NotifyAssignee {
                    message,
                    user_id: user_id.clone(),
                    email: Box::new(email.clone()),
                    now: self.ports.clock.now(),
                },
            )
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        Ok(true)
    }

    /// A questionnaire batch's patient answered: when the batch names a
    /// workspace, the answers come back to its inbox as that patient's
    /// conversation (one per batch and patient, its id derived from both),
    /// the batch's message and the answers as its reply. Once, however
    /// often the event is reacted to.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::usecases) async fn answers_to_inbox(
        &self,
        batch_id: &str,
        row: u64,
        questionnaire: events::Questionnaire,
        answers: &std::collections::BTreeMap<String, String>,
        answered_at: chrono::DateTime<chrono::Utc>,
        organisation_id: &str,
        correlation_id: &str,
    ) -> Result<bool, JobError> {
        let batch = self.load_batch(batch_id).await?;
        let Some(workspace_id) = batch.workspace_id().map(str::to_owned) else {
            return Ok(false);
        };
        let artifact = self.list_rows(&batch).await?;
        let checked = crate::lists::artifact_row(&artifact, row)
            .map_err(|e| unreadable("a list artifact line", &e))?
            .ok_or_else(|| {
                JobError::Malformed("the answering patient is not on the list".into())
            })?;
        let (Some(nhs_number), Some(date_of_birth)) = (
            checked.nhs_number.clone(),
            checked
                .date_of_birth
                .as_deref()
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        ) else {
            return Err(JobError::Malformed(
                "the answering patient has no NHS number or date of birth".into(),
            ));
        };
        let conversation_id = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("questionnaire\n{batch_id}\n{row}").as_bytes(),
        )
        .to_string();
        let caller = Caller::system(
            organisation(organisation_id)?,
            "questionnaire-replies",
            correlation_id,
        );
        let org = organisation(organisation_id)?;
        if !self.conversations.load(&conversation_id).await?.exists() {
            let patient = crate::usecases::conversations::ConversationPatient {
                nhs_number: nhs_number.clone(),
                date_of_birth,
                given_name: checked.given_name.clone(),
                family_name: None,
            };
            let (patient_key, patient_sha256) = self
                .keep_json(keys::conversation_patient(&org, &conversation_id), &patient)
                .await?;
            self.ports
                .patients
                .add(
                    organisation_id,
                    &[(
                        recipient_fingerprint(organisation_id, &nhs_number),
                        crate::ports::Mention::Conversation(conversation_id.clone()),
                    )],
                )
                .await?;
            let started = self
                .conversations
                .execute(
                    &conversation_id,
                    ConversationCommand::Start {
                        conversation_id: conversation_id.clone(),
                        organisation_id: organisation_id.to_owned(),
                        workspace_id,
                        patient: recipient_fingerprint(organisation_id, &nhs_number),
                        patient_key,
                        patient_sha256,
                        now: answered_at,
                    },
                    self.metadata(&caller),
                )
                .await;
            match started {
                // Another reaction started it at the same moment.
                Ok(()) | Err(CommandError::Conflict) => {}
                Err(e) => return Err(JobError::Retry(e.to_string())),
            }
        }
        let channel = checked.channel.unwrap_or(Channel::Sms);
        let request = format!("batch:{batch_id}:{row}");
        let conversation = self
            .conversations
            .execute_retrying(
                &conversation_id,
                || self.metadata(&caller),
                |current| ConversationCommand::AddMessage {
                    organisation_id: organisation_id.to_owned(),
                    request: request.clone(),
                    message: current.message_for(&request),
                    channel,
                    reply_allowed: true,
                    now: answered_at,
                },
            )
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        let message = conversation.message_for(&request);
        let template = crate::template::Template::parse(batch.template())
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let content = crate::usecases::conversations::MessageContent {
            to: checked
                .mobile
                .clone()
                .or(checked.email.clone())
                .unwrap_or_default(),
            subject: batch.email_subject().map(str::to_owned),
            body: self.message_for(&template, &batch, batch_id, &checked),
        };
        let (content_key, content_sha256) = self
            .keep_json(
                keys::conversation_message(&org, &conversation_id, &format!("batch-{row}")),
                &content,
            )
            .await?;
        let text = crate::florey::answers_text(questionnaire, answers);
        let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
        let reply = crate::usecases::conversations::ReplyContent { text };
        let (reply_key, reply_sha256) = self
            .keep_json(
                keys::conversation_reply(&org, &conversation_id, message, "answers"),
                &reply,
            )
            .await?;
        self.conversation_messages
            .execute(
                &conversation_message_id(&conversation_id, message),
                ConversationMessageCommand::RecordAnswers {
                    conversation_id: conversation_id.clone(),
                    message,
                    channel,
                    content_key,
                    content_sha256,
                    batch_id: batch_id.to_owned(),
                    reply_key,
                    reply_sha256,
                    chars,
                    answered_at,
                },
                self.metadata(&caller),
            )
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        Ok(true)
    }

    /// What a conversation message's event calls for: a written message is
    /// queued for sending; a reply reopens the conversation.
    pub(in crate::usecases) async fn react_to_conversation_message(
        &self,
        event: ConversationMessageEvent,
        organisation_id: &str,
        correlation_id: &str,
    ) -> Result<bool, JobError> {
        match event {
            ConversationMessageEvent::ConversationMessageWritten {
                conversation_id,
                message,
                from_batch: None,
                ..
            } => {
                let job = ConversationMessageJob {
                    organisation_id: organisation_id.to_owned(),
                    conversation_id,
                    message,
                    correlation_id: correlation_id.to_owned(),
                };
                self.ports
                    .queue
                    .send(QueueName::Send, vec![to_json(&job)])
                    .await?;
                Ok(true)
            }
            ConversationMessageEvent::ConversationMessageSent {
                conversation_id,
                message,
                sent_at,
                ..
            } => {
                let timer = Timer {
                    id: format!(
                        "conversation:{}:receipt-deadline",
                        conversation_message_id(&conversation_id, message)
                    ),
                    due_at: sent_at + crate::policies::RECEIPT_DEADLINE,
                    job: TimerJob::ConversationReceiptDeadline {
                        organisation_id: organisation_id.to_owned(),
                        conversation_id: conversation_id.clone(),
                        message,
                    },
                };
                self.ports.timers.schedule(timer).await?;
                let job = ConversationMessageJob {
                    organisation_id: organisation_id.to_owned(),
                    conversation_id,
                    message,
                    correlation_id: correlation_id.to_owned(),
                };
                self.ports
                    .queue
                    .send(QueueName::Record, vec![to_json(&job)])
                    .await?;
                Ok(true)
            }
            ConversationMessageEvent::PatientReplied {
                conversation_id,
                message,
                replied_at,
                ..
            } => {
                let caller = Caller::system(
                    organisation(organisation_id)?,
                    "patient-reply",
                    correlation_id,
                );
                self.conversations
                    .execute_retrying(
                        &conversation_id,
                        || self.metadata(&caller),
                        |_| ConversationCommand::RecordReply {
                            message,
                            now: replied_at,
                        },
                    )
                    .await
                    .map_err(|e| JobError::Retry(e.to_string()))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Sends one conversation message, once: a redelivered job finds it
    /// sent and does nothing. An SMS outside the sending window waits on
    /// the timer table until the window opens.
    #[tracing::instrument(skip_all, fields(conversation_id = %job.conversation_id, message = job.message))]
    pub(in crate::usecases) async fn send_conversation_message(
        &self,
        job: ConversationMessageJob,
    ) -> Result<JobOutcome, JobError> {
        let org = organisation(&job.organisation_id)?;
        let caller = Caller::system(org.clone(), "send-worker", &job.correlation_id);
        let id = conversation_message_id(&job.conversation_id, job.message);
        let (conversation, message) = futures::try_join!(
            self.conversations.load(&job.conversation_id),
            self.conversation_messages.load(&id),
        )?;
        if conversation.organisation_id() != job.organisation_id || !message.written() {
            return Err(JobError::Malformed(
                "no such message of this organisation's conversations".into(),
            ));
        }
        if message.status() != crate::aggregates::DeliveryStatus::NotSent
            || message.from_batch().is_some()
        {
            return Ok(JobOutcome::Skipped);
        }
        let channel = message.channel().unwrap_or(Channel::Sms);
        let now = self.ports.clock.now();
        if channel != Channel::Email {
            let window = self.settings_of(&org).await?.sending_window;
            if !window.is_open(now) {
                let opens = window.next_open(now);
                let timer = Timer {
                    id: format!("conversation:{id}:send:{}", opens.timestamp()),
                    due_at: opens,
                    job: TimerJob::ReleaseSend {
                        body: to_json(&job),
                    },
                };
                self.ports.timers.schedule(timer).await?;
                tracing::info!(%opens, "conversation message held to the sending window");
                return Ok(JobOutcome::Skipped);
            }
        }
        let content = self.message_content(&message).await?;
        let body = self.as_sent(
            &job.organisation_id,
            &job.conversation_id,
            &message,
            &content.body,
        );
        let command = ConversationMessageCommand::Send {
            outgoing: Box::new(Outgoing {
                reference: job.reference(channel),
                recipient_fingerprint: recipient_fingerprint(&job.organisation_id, &content.to),
                to: content.to,
                subject: content.subject,
                body,
            }),
            now,
        };
        match self
            .conversation_messages
            .execute(&id, command, self.metadata(&caller))
            .await
        {
            Ok(()) => Ok(JobOutcome::Done),
            Err(CommandError::Refused(ConversationMessageError::ProviderUnavailable(reason))) => {
                Err(JobError::Retry(reason))
            }
            Err(CommandError::Refused(e)) => Err(JobError::Malformed(e.to_string())),
            Err(CommandError::Conflict) => {
                Err(JobError::Retry("message changed concurrently".into()))
            }
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }

    /// Saves one sent message, as the patient got it, to their record in
    /// the clinical system, once.
    #[tracing::instrument(skip_all, fields(conversation_id = %job.conversation_id, message = job.message))]
    pub(in crate::usecases) async fn save_conversation_message(
        &self,
        job: ConversationMessageJob,
    ) -> Result<JobOutcome, JobError> {
        let caller = Caller::system(
            organisation(&job.organisation_id)?,
            "record-writer",
            &job.correlation_id,
        );
        let id = conversation_message_id(&job.conversation_id, job.message);
        let (conversation, message) = futures::try_join!(
            self.conversations.load(&job.conversation_id),
            self.conversation_messages.load(&id),
        )?;
        if conversation.organisation_id() != job.organisation_id || !message.written() {
            return Err(JobError::Malformed(
                "no such message of this organisation's conversations".into(),
            ));
        }
        if message.record_written() {
            return Ok(JobOutcome::Skipped);
        }
        let (Some(sent_at), Some(channel)) = (message.sent_at(), message.channel()) else {
            return Ok(JobOutcome::Skipped);
        };
        let patient = self
            .patient_of(&conversation)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        let content = self.message_content(&message).await?;
        let entry = crate::ports::RecordEntry {
            idempotency_key: job.record_key(),
            organisation_id: job.organisation_id.clone(),
            nhs_number: patient.nhs_number,
            snomed_code: None,
            text: self.as_sent(
                &job.organisation_id,
                &job.conversation_id,
                &message,
                &content.body,
            ),
            channel,
            sent_at,
        };
        let command = ConversationMessageCommand::SaveToRecord {
            entry: Box::new(entry),
            now: self.ports.clock.now(),
        };
        match self
            .conversation_messages
            .execute(&id, command, self.metadata(&caller))
            .await
        {
            Ok(()) => Ok(JobOutcome::Done),
            Err(CommandError::Refused(ConversationMessageError::RecordUnavailable(reason))) => {
                Err(JobError::Retry(reason))
            }
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }

    /// The message as the patient got it: the staff's words and, when it
    /// has one, the sentence with its link.
    fn as_sent(
        &self,
        organisation_id: &str,
        conversation_id: &str,
        message: &crate::aggregates::ConversationMessage,
        body: &str,
    ) -> String {
        let attached = message.attachment().is_some();
        let url = (message.reply_until().is_some() || attached).then(|| {
            let token = self.ports.links.key.token(
                organisation_id,
                conversation_id,
                message.message().into(),
                crate::links::LinkPurpose::Message,
            );
            links::url(&self.ports.links.base_url, &token)
        });
        with_link(body, url.as_deref(), message.reply_until(), attached)
    }

    /// The 72-hour rule for one message: still only "sent", it failed.
    pub(in crate::usecases) async fn expire_conversation_message(
        &self,
        organisation_id: &str,
        conversation_id: &str,
        message: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), JobError> {
        let caller = Caller::system(organisation(organisation_id)?, "timer", conversation_id);
        self.conversation_messages
            .execute(
                &conversation_message_id(conversation_id, message),
                ConversationMessageCommand::ExpireUnconfirmed { now },
                self.metadata(&caller),
            )
            .await
            .map_err(|e| JobError::Retry(e.to_string()))
    }

    /// A provider's receipt for a conversation message; repeated and late
    /// ones change nothing.
    pub(in crate::usecases) async fn record_conversation_receipt(
        &self,
        reference: ConversationReference,
        receipt: &Receipt,
    ) -> Result<(), ReceiptError> {
        let org = crate::values::OrganisationId::parse(&reference.organisation_id)
            .map_err(|_| ReceiptError::UnknownReference)?;
        let caller = Caller::system(org, "receipts", &receipt.reference);
        let id = conversation_message_id(&reference.conversation_id, reference.message);
        let message = self
            .conversation_messages
            .load(&id)
            .await
            .map_err(JobError::from)?;
        if !message.written() || message.channel() != Some(reference.channel) {
            return Err(ReceiptError::UnknownReference);
        }
        self.conversation_messages
            .execute(
                &id,
                ConversationMessageCommand::RecordReceipt {
                    outcome: receipt.outcome,
                    at: receipt.at,
                },
                self.metadata(&caller),
            )
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        Ok(())
    }
}
