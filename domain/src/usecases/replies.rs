//! A patient's one reply to a conversation's message, through its reply
//! link: the same date-of-birth check (and lockout) as every patient link,
//! then one reply of text, within the organisation's length limit and
//! before the link's expiry. The reply page shows the message replied to
//! and nothing of the staff who wrote it.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use cqrs_es::persist::PersistedEventRepository;
use serde::Serialize;

use super::conversations::ReplyContent;
use super::links::{AttachmentOffer, LinkError, LinkPage, LinkState, VerifiedLink};
use super::store::CommandError;
use super::AttachmentFile;
use super::Batchbook;
use crate::aggregates::{
    conversation_message_id, ConversationCommand, ConversationMessage, ConversationMessageCommand,
    ConversationMessageError,
};
use crate::links::{LinkRecord, MAX_IDENTITY_ATTEMPTS, SESSION_MINUTES};

/// What is wrong with a reply as written: the page says so beside it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyProblem {
    #[error("write your reply")]
    Empty,
    #[error("your reply must be {max} characters or fewer; it is {given}")]
    TooLong { max: u32, given: u32 },
}

/// The reply page: the message replied to, and what a reply may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyForm {
    /// The words of the message the patient is replying to.
    pub message: String,
    pub max_chars: u32,
    /// When a reply is no longer taken.
    pub reply_until: DateTime<Utc>,
    /// Replied already: the page says so instead of asking again.
    pub replied_at: Option<DateTime<Utc>>,
    /// The message's attachment, offered beside the reply.
    pub attachment: Option<AttachmentOffer>,
}

/// A reply link, found and loaded.
struct OpenedReply {
    record: LinkRecord,
    message: ConversationMessage,
}

impl OpenedReply {
    fn message_number(&self) -> u32 {
        u32::try_from(self.record.row).unwrap_or(u32::MAX)
    }

    fn id(&self) -> String {
        conversation_message_id(&self.record.batch_id, self.message_number())
    }

    fn offer(&self) -> Option<AttachmentOffer> {
        let attachment = self.message.attachment()?;
        Some(AttachmentOffer {
            file_name: attachment.file_name.clone(),
            content_type: attachment.content_type.clone(),
            size: attachment.size,
            expires_at: self.message.attachment_until()?,
        })
    }

    fn state(&self, now: DateTime<Utc>) -> LinkState {
        match self.message.link_refusal(now) {
            None => LinkState::Open,
            Some(ConversationMessageError::ReplyExpired)
            | Some(ConversationMessageError::LinkExpired) => LinkState::Expired,
            Some(ConversationMessageError::Locked) => LinkState::Locked,
            Some(_) => LinkState::Withdrawn,
        }
    }
}

/// A reply's words as kept: trimmed, with Windows line ends made plain.
fn tidy(text: &str) -> String {
    text.replace("\r\n", "\n").trim().to_owned()
}

impl<R: PersistedEventRepository> Batchbook<R> {
    async fn open_reply(&self, record: LinkRecord) -> Result<OpenedReply, LinkError> {
        let message = u32::try_from(record.row).map_err(|_| LinkError::NotFound)?;
        let loaded = self
            .load_conversation_message(&record.batch_id, message)
            .await?;
        if !loaded.written() {
            return Err(LinkError::NotFound);
        }
        let conversation = self.conversations.load(&record.batch_id).await?;
        if conversation.organisation_id() != record.organisation_id {
            return Err(LinkError::NotFound);
        }
        Ok(OpenedReply {
            record,
            message: loaded,
        })
    }

    async fn usable_reply(&self, opened: &OpenedReply) -> Result<(), LinkError> {
        match opened.state(self.ports.clock.now()) {
            LinkState::Open => Ok(()),
            state => Err(LinkError::Unusable(
                self.state_page(&opened.record.organisation_id, state)
                    .await?,
            )),
        }
    }

    /// What a reply link may show before the date-of-birth check.
    pub(super) async fn reply_link_page(&self, record: &LinkRecord) -> Result<LinkPage, LinkError> {
        let opened = self.open_reply(record.clone()).await?;
        let state = opened.state(self.ports.clock.now());
        self.state_page(&record.organisation_id, state).await
    }

    /// The date-of-birth check on a reply link: as for every patient link,
    /// five wrong answers lock it for good.
    pub(super) async fn verify_reply_link(
        &self,
        record: LinkRecord,
        given: NaiveDate,
    ) -> Result<VerifiedLink, LinkError> {
        let mut opened = self.open_reply(record).await?;
        self.usable_reply(&opened).await?;
        let key = &self.ports.links.key;
        let matches = opened
            .record
            .date_of_birth_check
            .as_deref()
            .is_some_and(|check| {
                key.date_of_birth_matches(&opened.record.token_sha256, given, check)
            });
        let caller = self.link_caller(&opened.record)?;
        let mut now = self.ports.clock.now();
        let checked = self
            .conversation_messages
            .execute_retrying(
                &opened.id(),
                || self.metadata(&caller),
                |_| {
                    now = self.ports.clock.now();
                    ConversationMessageCommand::CheckIdentity { matches, now }
                },
            )
            .await;
        opened.message = match checked {
            Ok(message) => message,
            Err(CommandError::Refused(_)) => {
                opened.message = self
                    .load_conversation_message(&opened.record.batch_id, opened.message_number())
                    .await?;
                let state = opened.state(self.ports.clock.now());
                return Err(LinkError::Unusable(
                    self.state_page(&opened.record.organisation_id, state)
                        .await?,
                ));
            }
            Err(CommandError::Conflict) => {
                return Err(LinkError::Unavailable(
                    "the link kept changing under the check".into(),
                ))
            }
            Err(e) => return Err(LinkError::Unavailable(e.to_string())),
        };
        if !matches {
            tracing::info!("a wrong date of birth was given for a reply link");
            if opened.message.locked() {
                return Err(LinkError::Unusable(
                    self.state_page(&opened.record.organisation_id, LinkState::Locked)
                        .await?,
                ));
            }
            return Err(LinkError::WrongDateOfBirth {
                attempts_left: MAX_IDENTITY_ATTEMPTS.saturating_sub(opened.message.failed_checks()),
            });
        }
        let session_expires_at = now + Duration::minutes(SESSION_MINUTES);
        Ok(VerifiedLink {
            session: key.session(&opened.record.token_sha256, session_expires_at),
            session_expires_at,
            questionnaire: None,
            invite: None,
            attachment: opened.offer(),
            reply: match opened.message.reply_until() {
                Some(_) => Some(self.reply_form(&opened).await?),
                None => None,
            },
        })
    }

    async fn reply_form(&self, opened: &OpenedReply) -> Result<ReplyForm, LinkError> {
        let content = self.message_content(&opened.message).await?;
        Ok(ReplyForm {
            message: content.body,
            max_chars: opened.message.reply_max_chars().unwrap_or_default(),
            reply_until: opened.message.reply_until().ok_or(LinkError::NotFound)?,
            replied_at: opened.message.replied_at(),
            attachment: opened.offer(),
        })
    }

    /// What the message's attachment is, for a patient holding a session.
    pub(super) async fn message_attachment_offer(
        &self,
        token: &str,
        session: &str,
    ) -> Result<AttachmentOffer, LinkError> {
        self.open_reply_with_session(token, session)
            .await?
            .offer()
            .ok_or(LinkError::NotFound)
    }

    /// The message's attachment, for a patient holding a session; its
    /// first opening is recorded on the message.
    #[tracing::instrument(skip_all)]
    pub(super) async fn message_attachment(
        &self,
        token: &str,
        session: &str,
    ) -> Result<AttachmentFile, LinkError> {
        let opened = self.open_reply_with_session(token, session).await?;
        let attachment = opened
            .message
            .attachment()
            .ok_or(LinkError::NotFound)?
            .clone();
        let caller = self.link_caller(&opened.record)?;
        let opening = self
            .conversation_messages
            .execute_retrying(
                &opened.id(),
                || self.metadata(&caller),
                |_| ConversationMessageCommand::OpenAttachment {
                    now: self.ports.clock.now(),
                },
            )
            .await;
        match opening {
            Ok(_) => {}
            Err(CommandError::Refused(refused)) => {
                return Err(self.reply_refusal(&opened, refused).await)
            }
            Err(e) => return Err(LinkError::Unavailable(e.to_string())),
        }
        let bytes = self
            .ports
            .blobs
            .get(&attachment.blob_key)
            .await?
            .ok_or_else(|| LinkError::Unavailable("the message's attachment is missing".into()))?;
        Ok(AttachmentFile {
            file_name: attachment.file_name,
            content_type: attachment.content_type,
            bytes,
        })
    }

    async fn open_reply_with_session(
        &self,
        token: &str,
        session: &str,
    ) -> Result<OpenedReply, LinkError> {
        let record = self.find_link(token).await?;
        if record.purpose != crate::links::LinkPurpose::Message {
            return Err(LinkError::NotFound);
        }
        let opened = self.open_reply(record).await?;
        let now = self.ports.clock.now();
        if !self
            .ports
            .links
            .key
            .session_is_valid(&opened.record.token_sha256, session, now)
        {
            return Err(LinkError::SessionExpired);
        }
        self.usable_reply(&opened).await?;
        Ok(opened)
    }

    /// The reply page, for a patient holding a session.
    pub async fn link_reply(&self, token: &str, session: &str) -> Result<ReplyForm, LinkError> {
        let opened = self.open_reply_with_session(token, session).await?;
        self.reply_form(&opened).await
    }

    /// Takes the patient's reply, once. Its words are kept in the blob
    /// store only once the message would take them, so a refused reply
    /// leaves nothing behind.
    #[tracing::instrument(skip_all)]
    pub async fn reply_to_message(
        &self,
        token: &str,
        session: &str,
        text: &str,
    ) -> Result<ReplyForm, LinkError> {
        let mut opened = self.open_reply_with_session(token, session).await?;
        let text = tidy(text);
        let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
        let now = self.ports.clock.now();
        if let Err(refused) = opened.message.would_take_reply(chars, now) {
            return Err(self.reply_refusal(&opened, refused).await);
        }
        let bytes = serde_json::to_vec(&ReplyContent { text }).expect("replies serialise");
        let digest = super::conversations::sha256_hex(&bytes);
        let caller = self.link_caller(&opened.record)?;
        let reply_key = super::keys::conversation_reply(
            &caller.organisation_id,
            &opened.record.batch_id,
            opened.message_number(),
            &digest,
        );
        self.ports.blobs.put(&reply_key, bytes).await?;
        let replied = self
            .conversation_messages
            .execute(
                &opened.id(),
                ConversationMessageCommand::Reply {
                    reply_key,
                    reply_sha256: digest,
                    chars,
                    now,
                },
                self.metadata(&caller),
            )
            .await;
        match replied {
            Ok(()) => {}
            Err(CommandError::Refused(refused)) => {
                return Err(self.reply_refusal(&opened, refused).await)
            }
            Err(CommandError::Conflict) => {
                return Err(LinkError::Unavailable(
                    "the link changed while the reply was taken".into(),
                ))
            }
            Err(e) => return Err(LinkError::Unavailable(e.to_string())),
        }
        // The reactor records the reply on the conversation too (reopening
        // it); doing it now means staff see it at once.
        let message = opened.message_number();
        self.conversations
            .execute_retrying(
                &opened.record.batch_id,
                || self.metadata(&caller),
                |_| ConversationCommand::RecordReply { message, now },
            )
            .await
            .map_err(|e| LinkError::Unavailable(e.to_string()))?;
        self.refresh_views(&self.conversations, &opened.record.batch_id)
            .await
            .map_err(|e| LinkError::Unavailable(e.to_string()))?;
        tracing::info!("a patient replied to a conversation");
        opened.message = self
            .load_conversation_message(&opened.record.batch_id, message)
            .await?;
        self.reply_form(&opened).await
    }

    async fn reply_refusal(
        &self,
        opened: &OpenedReply,
        refused: ConversationMessageError,
    ) -> LinkError {
        match refused {
            ConversationMessageError::AlreadyReplied => LinkError::AlreadyReplied,
            // An attachment's link, whose message takes no reply.
            ConversationMessageError::NoReplyAllowed | ConversationMessageError::NoAttachment => {
                LinkError::NotFound
            }
            ConversationMessageError::EmptyReply => ReplyProblem::Empty.into(),
            ConversationMessageError::TooLong { max, given } => {
                ReplyProblem::TooLong { max, given }.into()
            }
            _ => {
                let state = match opened.state(self.ports.clock.now()) {
                    // Refused for a reason the state does not show (the
                    // message changed since it was loaded): say it expired
                    // only if it did.
                    LinkState::Open => LinkState::Withdrawn,
                    state => state,
                };
                match self.state_page(&opened.record.organisation_id, state).await {
                    Ok(page) => LinkError::Unusable(page),
                    Err(e) => e,
                }
            }
        }
    }
}
