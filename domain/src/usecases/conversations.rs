//! Conversations: staff in a workspace message one patient, by SMS or
//! email, optionally allowing one reply through a patient page; assign the
//! conversation to a colleague or the team; mark it done or reopen it.
//!
//! Writing a message records it (its words kept in the blob store); the
//! reactor then queues it, and the send worker sends it once under a fixed
//! idempotency key, within the sending window, as a batch's messages go.
//! Only members of the conversation's workspace see or change it; to
//! anyone else it does not exist.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistedEventRepository;
use events::{Assignee, Channel};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::idempotency::IdempotencyKey;
use super::links::link_record;
use super::store::CommandError;
use super::{keys, Batchbook, BatchbookError, Caller, Role};
use crate::aggregates::delivery::DeliveryStatus;
use crate::aggregates::{
    conversation_message_id, Conversation, ConversationCommand, ConversationError,
    ConversationMessage, ConversationMessageCommand, ConversationMessageError, Workspace,
};
use crate::links::{self, LinkPurpose};
use crate::ports::{
    recipient_fingerprint, DemographicsError, DemographicsRecord, Mention, PortError,
};
use crate::template::SmsLength;
use crate::values::{text, DateOfBirth, NhsNumber};

/// The longest email a conversation sends, in characters.
pub const MAX_EMAIL_BODY_CHARS: usize = 10_000;

/// A message staff write to the patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub channel: Channel,
    /// For an email.
    pub subject: Option<String>,
    pub body: String,
    /// Lets the patient reply once, through a link in the message.
    pub allow_reply: bool,
    /// An uploaded attachment of the organisation's, which the patient
    /// opens through the message's link.
    pub attachment_id: Option<String>,
}

/// A message checked and its attachment found, ready to write.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CheckedMessage {
    channel: Channel,
    subject: Option<String>,
    body: String,
    allow_reply: bool,
    attachment: Option<events::Attachment>,
}

/// A new conversation: the patient, by NHS number and date of birth, and
/// the first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConversation {
    pub workspace_id: String,
    pub nhs_number: String,
    pub date_of_birth: String,
    pub message: NewMessage,
}

/// Who staff assign a conversation to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignTo {
    /// A member of the conversation's workspace, by user id.
    User(String),
    /// The workspace's team as a whole.
    Team,
}

/// Who a conversation is about, as kept in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationPatient {
    pub nhs_number: String,
    pub date_of_birth: chrono::NaiveDate,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

/// One message's words and destination, as kept in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(in crate::usecases) struct MessageContent {
    /// The mobile (E.164) or email address it goes to.
    pub(in crate::usecases) to: String,
    pub(in crate::usecases) subject: Option<String>,
    pub(in crate::usecases) body: String,
}

/// A patient's reply, as kept in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(in crate::usecases) struct ReplyContent {
    pub(in crate::usecases) text: String,
}

/// Whether a conversation needs anyone's attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    Open,
    Done,
}

/// The patient's reply to one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyView {
    pub text: String,
    pub replied_at: DateTime<Utc>,
}

/// One message of a conversation, as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    pub message: u32,
    pub channel: Channel,
    pub subject: Option<String>,
    /// The words staff wrote (the patient's message also carries the reply
    /// link, when a reply is allowed).
    pub body: String,
    pub status: DeliveryStatus,
    pub written_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub reply_allowed: bool,
    /// When a reply is no longer taken.
    pub reply_until: Option<DateTime<Utc>>,
    pub reply: Option<ReplyView>,
    /// The attached file's name, if the message has one.
    pub attachment: Option<String>,
    /// The questionnaire batch that sent it, when it is that batch's
    /// message (the reply is the patient's answers).
    pub from_batch: Option<String>,
    /// When the patient first opened it.
    pub attachment_opened_at: Option<DateTime<Utc>>,
}

/// A conversation, whole, as its workspace's members see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationView {
    pub conversation_id: String,
    pub workspace_id: String,
    pub patient: ConversationPatient,
    pub state: ConversationState,
    pub assignee: Option<Assignee>,
    pub started_at: DateTime<Utc>,
    pub messages: Vec<MessageView>,
}

impl From<CommandError<ConversationError>> for BatchbookError {
    fn from(e: CommandError<ConversationError>) -> Self {
        match e {
            CommandError::Refused(ConversationError::NotFound) => Self::ConversationNotFound,
            CommandError::Refused(ConversationError::AlreadyStarted)
            | CommandError::Refused(ConversationError::OutOfTurn { .. })
            | CommandError::Conflict => Self::Conflict,
            CommandError::Stopped(never) => match never {},
            CommandError::Refused(ConversationError::ProviderUnavailable(cause))
            | CommandError::Unavailable(cause) => Self::Unavailable(cause),
        }
    }
}

impl From<CommandError<ConversationMessageError>> for BatchbookError {
    fn from(e: CommandError<ConversationMessageError>) -> Self {
        match e {
            CommandError::Conflict => Self::Conflict,
            CommandError::Stopped(never) => match never {},
            CommandError::Unavailable(cause) => Self::Unavailable(cause),
            CommandError::Refused(e) => Self::Unavailable(e.to_string()),
        }
    }
}

fn invalid(field: &str, reason: impl std::fmt::Display) -> BatchbookError {
    BatchbookError::InvalidRequest(format!("{field}: {reason}"))
}

/// Hex SHA-256 of `bytes`, as events name a blob's contents.
pub(in crate::usecases) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The message as the patient receives it: the staff's words, then the
/// sentence that carries the message's link (`url`), when it has one, for
/// a reply allowed until `reply_until`, an attachment, or both.
pub(in crate::usecases) fn with_link(
    body: &str,
    url: Option<&str>,
    reply_until: Option<DateTime<Utc>>,
    attachment: bool,
) -> String {
    let Some(url) = url else {
        return body.to_owned();
    };
    let until = |at: DateTime<Utc>| {
        at.with_timezone(&chrono_tz::Europe::London)
            .format("%-d %B %Y")
            .to_string()
    };
    match (reply_until, attachment) {
        (Some(at), false) => format!("{body}\n\nYou can reply once, until {}: {url}", until(at)),
        (Some(at), true) => format!(
            "{body}\n\nOpen the document we sent you, and reply once until {}: {url}",
            until(at)
        ),
        (None, true) => format!("{body}\n\nOpen the document we sent you: {url}"),
        (None, false) => body.to_owned(),
    }
}

/// The sample link a message is measured with before its token exists: as
/// long as every real one.
fn sample_link(base_url: &str) -> String {
    links::url(base_url, &"x".repeat(links::TOKEN_LENGTH))
}

impl NewMessage {
    /// The message as it is kept: the subject and body trimmed, or the
    /// field at fault named with the reason. An SMS is measured with its
    /// reply link, as the patient will receive it.
    fn checked(
        mut self,
        base_url: &str,
        reply_days: u32,
        now: DateTime<Utc>,
    ) -> Result<Self, BatchbookError> {
        let body = self.body.trim().to_owned();
        if body.is_empty() {
            return Err(invalid("body", "must not be blank"));
        }
        match self.channel {
            Channel::Sms => {
                if self.subject.is_some() {
                    return Err(invalid("subject", "a text message has no subject"));
                }
                let until = now + Duration::days(reply_days.into());
                let attached = self.attachment_id.is_some();
                let link = (self.allow_reply || attached).then(|| sample_link(base_url));
                let sent = with_link(
                    &body,
                    link.as_deref(),
                    self.allow_reply.then_some(until),
                    attached,
                );
                SmsLength::of(&sent)
                    .check(None)
                    .map_err(|e| invalid("body", e))?;
            }
            Channel::Email => {
                let subject = self
                    .subject
                    .as_deref()
                    .map(|s| text::one_line(s, text::EMAIL_SUBJECT_CHARS))
                    .transpose()
                    .map_err(|e| invalid("subject", e))?
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| invalid("subject", "an email needs a subject"))?;
                self.subject = Some(subject.to_owned());
                if body.chars().count() > MAX_EMAIL_BODY_CHARS {
                    return Err(invalid(
                        "body",
                        format!("an email is at most {MAX_EMAIL_BODY_CHARS} characters"),
                    ));
                }
            }
            Channel::NhsApp => {
                return Err(invalid(
                    "channel",
                    "a conversation's message goes by sms or email",
                ))
            }
        }
        self.body = body;
        Ok(self)
    }
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// The workspace, if the caller is one of its members; to anyone else
    /// (another organisation's staff, or a colleague outside the team) it
    /// is not there to use.
    pub(in crate::usecases) async fn member_workspace(
        &self,
        caller: &Caller,
        workspace_id: &str,
    ) -> Result<Workspace, BatchbookError> {
        let workspace = self.workspace_of(caller, workspace_id).await?;
        match caller.user_id() {
            Some(user) if workspace.is_member(user) => Ok(workspace),
            _ => Err(BatchbookError::NotInWorkspace),
        }
    }

    /// The conversation, if the caller is a member of its workspace;
    /// otherwise it is not found, whatever the reason.
    pub(in crate::usecases) async fn conversation_of(
        &self,
        caller: &Caller,
        conversation_id: &str,
    ) -> Result<(Conversation, Workspace), BatchbookError> {
        uuid::Uuid::parse_str(conversation_id).map_err(|_| BatchbookError::ConversationNotFound)?;
        let conversation = self.conversations.load(conversation_id).await?;
        if !conversation.exists()
            || conversation.organisation_id() != caller.organisation_id.as_ref()
        {
            return Err(BatchbookError::ConversationNotFound);
        }
        let workspace = self
            .workspace_of(caller, conversation.workspace_id())
            .await
            .map_err(|_| BatchbookError::ConversationNotFound)?;
        match caller.user_id() {
            Some(user) if workspace.is_member(user) => Ok((conversation, workspace)),
            _ => Err(BatchbookError::ConversationNotFound),
        }
    }

    /// The patient PDS holds under this NHS number, if it holds this date
    /// of birth for them; anything else is "not found", as for a search.
    pub(in crate::usecases) async fn demographics_of(
        &self,
        nhs_number: &NhsNumber,
        date_of_birth: chrono::NaiveDate,
    ) -> Result<Option<DemographicsRecord>, BatchbookError> {
        let demographics = self
            .ports
            .demographics
            .as_ref()
            .ok_or(BatchbookError::NoDemographics)?;
        match demographics.lookup(nhs_number).await {
            Ok(record) if record.birth_date == Some(date_of_birth) => Ok(Some(record)),
            Ok(_) | Err(DemographicsError::NotFound) => Ok(None),
            Err(DemographicsError::Unavailable(cause)) => Err(BatchbookError::Unavailable(cause)),
        }
    }

    /// Starts a conversation with one patient, in a workspace the caller
    /// is a member of, with its first message.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn start_conversation(
        &self,
        caller: &Caller,
        new: NewConversation,
        key: Option<&IdempotencyKey>,
        request: &[u8],
    ) -> Result<ConversationView, BatchbookError> {
        caller.require(Role::Staff)?;
        let nhs_number = NhsNumber::parse(&new.nhs_number).map_err(|e| invalid("nhs_number", e))?;
        let date_of_birth =
            DateOfBirth::parse(&new.date_of_birth, self.ports.clock.now().date_naive())
                .map_err(|e| invalid("date_of_birth", e))?
                .date();
        let settings = self.settings_of(&caller.organisation_id).await?;
        let message = new.message.checked(
            &self.ports.links.base_url,
            settings.replies.valid_for_days,
            self.ports.clock.now(),
        )?;
        self.member_workspace(caller, &new.workspace_id).await?;
        let message = self.with_attachment(caller, message).await?;
        self.idempotent(caller, key, request, || async {
            let record = self
                .demographics_of(&nhs_number, date_of_birth)
                .await?
                .ok_or(BatchbookError::PatientNotFound)?;
            let to = destination(&record, message.channel)?;
            let conversation_id = match key {
                Some(key) => key.derived_id(caller, "conversation"),
                None => uuid::Uuid::new_v4().to_string(),
            };
            let org = caller.organisation_id.to_string();
            let patient = ConversationPatient {
                nhs_number: nhs_number.to_string(),
                date_of_birth,
                given_name: record.given_name.clone(),
                family_name: record.family_name.clone(),
            };
            let existing = self.conversations.load(&conversation_id).await?;
            if !existing.exists() {
                // Written only while the conversation does not exist, so a
                // retried request never changes who a started one is about
                // (the digest its start recorded stays true, and a kept
                // copy, `patient_at`'s, is never stale).
                let (patient_key, patient_sha256) = self
                    .keep_json(
                        keys::conversation_patient(&caller.organisation_id, &conversation_id),
                        &patient,
                    )
                    .await?;
                let patient = recipient_fingerprint(&org, nhs_number.as_ref());
                self.ports
                    .patients
                    .add(
                        &org,
                        &[(patient, Mention::Conversation(conversation_id.clone()))],
                    )
                    .await?;
                self.conversations
                    .execute(
                        &conversation_id,
                        ConversationCommand::Start {
                            conversation_id: conversation_id.clone(),
                            organisation_id: org.clone(),
                            workspace_id: new.workspace_id.clone(),
                            patient: recipient_fingerprint(&org, nhs_number.as_ref()),
                            patient_key,
                            patient_sha256,
                            now: self.ports.clock.now(),
                        },
                        self.metadata(caller),
                    )
                    .await?;
            }
            let request_id = key
                .map(|k| k.derived_id(caller, "conversation-message"))
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            self.write_message(
                caller,
                &conversation_id,
                &request_id,
                &patient,
                message,
                to,
                &settings.replies,
            )
            .await?;
            tracing::info!("a conversation was started");
            self.refresh_views(&self.conversations, &conversation_id)
                .await?;
            self.conversation_view(&self.conversations.load(&conversation_id).await?)
                .await
        })
        .await
    }

    /// Adds a message to a conversation of the caller's workspace. The
    /// patient's current contact details come from PDS again.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn continue_conversation(
        &self,
        caller: &Caller,
        conversation_id: &str,
        message: NewMessage,
        key: Option<&IdempotencyKey>,
        request: &[u8],
    ) -> Result<ConversationView, BatchbookError> {
        caller.require(Role::Staff)?;
        let settings = self.settings_of(&caller.organisation_id).await?;
        let message = message.checked(
            &self.ports.links.base_url,
            settings.replies.valid_for_days,
            self.ports.clock.now(),
        )?;
        let (conversation, _) = self.conversation_of(caller, conversation_id).await?;
        let message = self.with_attachment(caller, message).await?;
        self.idempotent(caller, key, request, || async {
            let patient = self.patient_of(&conversation).await?;
            let nhs_number = NhsNumber::parse(&patient.nhs_number)
                .map_err(|e| PortError::new("conversation patient", e))?;
            let record = self
                .demographics_of(&nhs_number, patient.date_of_birth)
                .await?
                .ok_or_else(|| {
                    invalid(
                        "conversation_id",
                        "PDS no longer holds this patient with the NHS number and date of birth the conversation started with",
                    )
                })?;
            let to = destination(&record, message.channel)?;
            let request_id = match key {
                Some(key) => key.derived_id(caller, &format!("conversation-message\n{conversation_id}")),
                None => uuid::Uuid::new_v4().to_string(),
            };
            self.write_message(caller, conversation_id, &request_id, &patient, message, to, &settings.replies)
                .await?;
            self.refresh_views(&self.conversations, conversation_id)
                .await?;
            self.conversation_view(&self.conversations.load(conversation_id).await?)
                .await
        })
        .await
    }

    /// Records one message: its words kept under its request's id (so two
    /// messages written at once never overwrite each other's), its number
    /// taken on the conversation, its reply link registered, and the
    /// message itself written, which the reactor then queues for sending.
    #[allow(clippy::too_many_arguments)]
    async fn write_message(
        &self,
        caller: &Caller,
        conversation_id: &str,
        request_id: &str,
        patient: &ConversationPatient,
        message: CheckedMessage,
        to: String,
        replies: &super::ReplySettings,
    ) -> Result<u32, BatchbookError> {
        let org = caller.organisation_id.to_string();
        let content = MessageContent {
            to,
            subject: message.subject.clone(),
            body: message.body.clone(),
        };
        let (content_key, content_sha256) = self
            .keep_json(
                keys::conversation_message(&caller.organisation_id, conversation_id, request_id),
                &content,
            )
            .await?;
        let now = self.ports.clock.now();
        let conversation = self
            .conversations
            .execute_retrying(
                conversation_id,
                || self.metadata(caller),
                |current| ConversationCommand::AddMessage {
                    organisation_id: org.clone(),
                    request: request_id.to_owned(),
                    message: current.message_for(request_id),
                    channel: message.channel,
                    reply_allowed: message.allow_reply,
                    now,
                },
            )
            .await?;
        let number = conversation.message_for(request_id);
        let reply_until = message
            .allow_reply
            .then(|| now + Duration::days(replies.valid_for_days.into()));
        let attachment = message.attachment.clone();
        if message.allow_reply || attachment.is_some() {
            let (_, record) = link_record(
                &self.ports.links.key,
                &org,
                conversation_id,
                number.into(),
                LinkPurpose::Message,
                Some(&patient.date_of_birth.to_string()),
            );
            self.ports.links.directory.register(vec![record]).await?;
        }
        self.conversation_messages
            .execute(
                &conversation_message_id(conversation_id, number),
                ConversationMessageCommand::Write {
                    conversation_id: conversation_id.to_owned(),
                    message: number,
                    channel: message.channel,
                    content_key,
                    content_sha256,
                    reply_until,
                    reply_max_chars: message.allow_reply.then_some(replies.max_chars),
                    attachment,
                    now,
                },
                self.metadata(caller),
            )
            .await?;
        Ok(number)
    }

    /// The message with its attachment found: the caller's organisation's,
    /// or refused by name before anything is written.
    async fn with_attachment(
        &self,
        caller: &Caller,
        message: NewMessage,
    ) -> Result<CheckedMessage, BatchbookError> {
        let attachment = match &message.attachment_id {
            Some(id) => Some(
                self.attachment_for_batch(&caller.organisation_id, id)
                    .await?,
            ),
            None => None,
        };
        Ok(CheckedMessage {
            channel: message.channel,
            subject: message.subject,
            body: message.body,
            allow_reply: message.allow_reply,
            attachment,
        })
    }

    /// Keeps `value` as JSON at `key`; answers the key and the SHA-256 of
    /// what was kept, as events hold them.
    pub(in crate::usecases) async fn keep_json<T: Serialize>(
        &self,
        key: String,
        value: &T,
    ) -> Result<(String, String), PortError> {
        let bytes = serde_json::to_vec(value).expect("blobs serialise");
        let digest = sha256_hex(&bytes);
        self.ports.blobs.put(&key, bytes).await?;
        Ok((key, digest))
    }

    /// Who the conversation is about, from the blob store.
    pub(in crate::usecases) async fn patient_of(
        &self,
        conversation: &Conversation,
    ) -> Result<ConversationPatient, BatchbookError> {
        Ok(self.patient_at(conversation.patient_key()).await?)
    }

    /// The patient kept at `key` (a conversation's, or its inbox row's).
    pub(in crate::usecases) async fn patient_at(
        &self,
        key: &str,
    ) -> Result<ConversationPatient, PortError> {
        let kept = self
            .kept_patients
            .lock()
            .ok()
            .and_then(|mut k| k.get(key).cloned());
        if let Some(patient) = kept {
            return Ok(patient);
        }
        let bytes = self
            .ports
            .blobs
            .get(key)
            .await?
            .ok_or_else(|| PortError("a conversation's patient is missing".into()))?;
        let patient: ConversationPatient = serde_json::from_slice(&bytes)
            .map_err(|e| PortError::new("conversation patient", e))?;
        if let Ok(mut kept) = self.kept_patients.lock() {
            kept.put(key.to_owned(), patient.clone());
        }
        Ok(patient)
    }

    pub(in crate::usecases) async fn message_content(
        &self,
        message: &ConversationMessage,
    ) -> Result<MessageContent, PortError> {
        let bytes = self
            .ports
            .blobs
            .get(message.content_key())
            .await?
            .ok_or_else(|| PortError("a conversation's message is missing".into()))?;
        serde_json::from_slice(&bytes).map_err(|e| PortError::new("conversation message", e))
    }

    pub(in crate::usecases) async fn load_conversation_message(
        &self,
        conversation_id: &str,
        message: u32,
    ) -> Result<ConversationMessage, PortError> {
        self.conversation_messages
            .load(&conversation_message_id(conversation_id, message))
            .await
    }

    /// The conversation with every message and reply.
    pub(in crate::usecases) async fn conversation_view(
        &self,
        conversation: &Conversation,
    ) -> Result<ConversationView, BatchbookError> {
        let id = conversation.conversation_id();
        let loaded = futures::future::try_join_all(
            (1..=conversation.messages()).map(|n| self.message_view(id, n)),
        )
        .await?;
        Ok(ConversationView {
            conversation_id: id.to_owned(),
            workspace_id: conversation.workspace_id().to_owned(),
            patient: self.patient_of(conversation).await?,
            state: if conversation.done() {
                ConversationState::Done
            } else {
                ConversationState::Open
            },
            assignee: conversation.assignee().cloned(),
            started_at: conversation.started_at().unwrap_or_default(),
            messages: loaded.into_iter().flatten().collect(),
        })
    }

    /// One message, or `None` for a number taken by a request that died
    /// before writing it.
    async fn message_view(
        &self,
        conversation_id: &str,
        n: u32,
    ) -> Result<Option<MessageView>, BatchbookError> {
        let message = self.load_conversation_message(conversation_id, n).await?;
        let Some(written_at) = message.written_at() else {
            return Ok(None);
        };
        let content = self.message_content(&message).await?;
        let reply = match (message.reply_key(), message.replied_at()) {
            (Some(key), Some(replied_at)) => {
                let bytes = self
                    .ports
                    .blobs
                    .get(key)
                    .await?
                    .ok_or_else(|| PortError("a patient's reply is missing".into()))?;
                let reply: ReplyContent = serde_json::from_slice(&bytes)
                    .map_err(|e| PortError::new("patient reply", e))?;
                Some(ReplyView {
                    text: reply.text,
                    replied_at,
                })
            }
            _ => None,
        };
        Ok(Some(MessageView {
            message: n,
            channel: message.channel().unwrap_or(Channel::Sms),
            subject: content.subject,
            body: content.body,
            // A batch's message was answered through its link, so it
            // reached the patient; its sending is the batch's delivery.
            status: match message.from_batch() {
                Some(_) => DeliveryStatus::Delivered,
                None => message.status(),
            },
            from_batch: message.from_batch().map(str::to_owned),
            written_at,
            sent_at: message.sent_at(),
            reply_allowed: message.reply_until().is_some(),
            reply_until: message.reply_until(),
            reply,
            attachment: message.attachment().map(|a| a.file_name.clone()),
            attachment_opened_at: message.attachment_opened_at(),
        }))
    }

    /// One conversation of the caller's workspaces.
    pub async fn conversation(
        &self,
        caller: &Caller,
        conversation_id: &str,
    ) -> Result<ConversationView, BatchbookError> {
        let (conversation, _) = self.conversation_of(caller, conversation_id).await?;
        self.conversation_view(&conversation).await
    }

    /// Assigns the conversation to a member of its workspace, or to the
    /// workspace's team as a whole.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn assign_conversation(
        &self,
        caller: &Caller,
        conversation_id: &str,
        assign_to: AssignTo,
    ) -> Result<ConversationView, BatchbookError> {
        caller.require(Role::Staff)?;
        let (_, workspace) = self.conversation_of(caller, conversation_id).await?;
        let assignee = match assign_to {
            AssignTo::User(user_id) if !workspace.is_member(&user_id) => {
                return Err(invalid(
                    "user_id",
                    format!("{user_id} is not a member of this conversation's workspace"),
                ))
            }
            AssignTo::User(user_id) => Assignee::User { user_id },
            AssignTo::Team => Assignee::Team {
                workspace_id: workspace.workspace_id().to_owned(),
            },
        };
        self.on_conversation(caller, conversation_id, |org, now| {
            ConversationCommand::Assign {
                organisation_id: org,
                assignee: assignee.clone(),
                now,
            }
        })
        .await
    }

    /// Marks the conversation done (`done`), or reopens one that was.
    pub async fn set_conversation_done(
        &self,
        caller: &Caller,
        conversation_id: &str,
        done: bool,
    ) -> Result<ConversationView, BatchbookError> {
        caller.require(Role::Staff)?;
        self.conversation_of(caller, conversation_id).await?;
        self.on_conversation(caller, conversation_id, |organisation_id, now| {
            if done {
                ConversationCommand::MarkDone {
                    organisation_id,
                    now,
                }
            } else {
                ConversationCommand::Reopen {
                    organisation_id,
                    now,
                }
            }
        })
        .await
    }

    pub(in crate::usecases) async fn on_conversation(
        &self,
        caller: &Caller,
        conversation_id: &str,
        command: impl Fn(String, DateTime<Utc>) -> ConversationCommand,
    ) -> Result<ConversationView, BatchbookError> {
        let conversation = self
            .conversations
            .execute_retrying(
                conversation_id,
                || self.metadata(caller),
                |_| command(caller.organisation_id.to_string(), self.ports.clock.now()),
            )
            .await?;
        self.refresh_views(&self.conversations, conversation_id)
            .await?;
        self.conversation_view(&conversation).await
    }
}

/// Where a message on `channel` goes: the patient's current mobile or
/// email, as PDS gives them. A patient who has died, or whose record is
/// restricted, is not messaged.
fn destination(record: &DemographicsRecord, channel: Channel) -> Result<String, BatchbookError> {
    if record.deceased {
        return Err(invalid(
            "nhs_number",
            "PDS records this patient as having died",
        ));
    }
    if record.restricted {
        return Err(invalid(
            "nhs_number",
            "this patient's record is restricted, so PDS gives out no contact details",
        ));
    }
    let found = match channel {
        Channel::Sms => record
            .mobile
            .as_deref()
            .and_then(|m| crate::values::UkMobile::parse(m).ok())
            .map(|m| m.to_string()),
        Channel::Email => record.email.clone(),
        Channel::NhsApp => None,
    };
    found.ok_or_else(|| {
        invalid(
            "channel",
            match channel {
                Channel::Email => "PDS holds no email address for this patient",
                _ => "PDS holds no UK mobile number for this patient",
            },
        )
    })
}
