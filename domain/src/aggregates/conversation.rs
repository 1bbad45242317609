//! The Conversation aggregate: one per conversation between a workspace's
//! staff and one patient. It holds who the conversation is about, who it is
//! assigned to, whether it is open, and how many messages and replies it
//! has: one small event per message or reply, so assigning or closing a
//! long conversation replays a few events a message, never the messages'
//! sending. Each message's own life (sending, receipts, the reply link and
//! the reply) is its own [`ConversationMessage`](super::ConversationMessage).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use events::{Assignee, Channel, ConversationEvent};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Conversation {
    conversation_id: String,
    organisation_id: String,
    workspace_id: String,
    /// The patient's fingerprint (organisation and NHS number).
    patient: String,
    patient_key: String,
    started_at: Option<DateTime<Utc>>,
    /// Messages written so far; the next is `messages + 1`.
    messages: u32,
    /// The messages the patient has replied to.
    replied: BTreeSet<u32>,
    /// Each message's number by the id of the request that wrote it.
    requests: BTreeMap<String, u32>,
    /// How many of the patient's replies each member has read.
    reads: BTreeMap<String, u32>,
    /// The replies (by message) whose assignee was emailed.
    notified: BTreeSet<u32>,
    assignee: Option<Assignee>,
    done: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConversationCommand {
    Start {
        conversation_id: String,
        organisation_id: String,
        workspace_id: String,
        patient: String,
        patient_key: String,
        patient_sha256: String,
        now: DateTime<Utc>,
    },
    /// Adds message `message`. The one after the last is recorded; one
    /// already added records nothing, so a retried request adds it once.
    AddMessage {
        organisation_id: String,
        request: String,
        message: u32,
        channel: Channel,
        reply_allowed: bool,
        now: DateTime<Utc>,
    },
    /// The patient replied to `message`; repeats record nothing.
    RecordReply { message: u32, now: DateTime<Utc> },
    /// Assigns to a member or the team; the same assignee again records
    /// nothing.
    Assign {
        organisation_id: String,
        assignee: Assignee,
        now: DateTime<Utc>,
    },
    /// Marks it done; done already records nothing.
    MarkDone {
        organisation_id: String,
        now: DateTime<Utc>,
    },
    /// Reopens it; open already records nothing.
    Reopen {
        organisation_id: String,
        now: DateTime<Utc>,
    },
    /// Emails the assignee `user_id` that the patient replied to
    /// `message`, once: a repeat, a reply not yet recorded, or an assignee
    /// who has changed sends nothing.
    NotifyAssignee {
        message: u32,
        user_id: String,
        email: Box<crate::ports::EmailRequest>,
        now: DateTime<Utc>,
    },
    /// A member read it: every reply so far is read for them. Nothing new
    /// to read records nothing.
    MarkRead {
        organisation_id: String,
        user_id: String,
        now: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversationError {
    #[error("there is no such conversation in your workspaces")]
    NotFound,
    #[error("this conversation already exists")]
    AlreadyStarted,
    #[error(
        "message {given} cannot follow message {last}; another was written at the same moment"
    )]
    OutOfTurn { given: u32, last: u32 },
    /// Worth retrying later.
    #[error("the email provider could not take the notification now: {0}")]
    ProviderUnavailable(String),
}

impl Conversation {
    pub fn exists(&self) -> bool {
        !self.conversation_id.is_empty()
    }

    pub fn conversation_id(&self) -> &str {
        &self.conversation_id
    }

    pub fn organisation_id(&self) -> &str {
        &self.organisation_id
    }

    pub fn workspace_id(&self) -> &str {
        &self.workspace_id
    }

    /// The patient's fingerprint: see `ConversationStarted`.
    pub fn patient(&self) -> &str {
        &self.patient
    }

    pub fn patient_key(&self) -> &str {
        &self.patient_key
    }

    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.started_at
    }

    pub fn messages(&self) -> u32 {
        self.messages
    }

    /// The number of the message `request` wrote, or the next one if it
    /// wrote none yet.
    pub fn message_for(&self, request: &str) -> u32 {
        self.requests
            .get(request)
            .copied()
            .unwrap_or(self.messages + 1)
    }

    pub fn replied(&self, message: u32) -> bool {
        self.replied.contains(&message)
    }

    pub fn assignee(&self) -> Option<&Assignee> {
        self.assignee.as_ref()
    }

    pub fn done(&self) -> bool {
        self.done
    }

    /// Replies from the patient so far.
    pub fn replies(&self) -> u32 {
        u32::try_from(self.replied.len()).unwrap_or(u32::MAX)
    }

    /// Whether the patient replied since `user_id` last read it.
    pub fn unread_for(&self, user_id: &str) -> bool {
        self.replies() > self.reads.get(user_id).copied().unwrap_or(0)
    }

    fn ours(&self, organisation_id: &str) -> Result<(), ConversationError> {
        if self.exists() && self.organisation_id == organisation_id {
            Ok(())
        } else {
            Err(ConversationError::NotFound)
        }
    }

    async fn decide(
        &mut self,
        command: ConversationCommand,
        services: &crate::aggregates::DeliveryServices,
    ) -> Result<Vec<ConversationEvent>, ConversationError> {
        let id = self.conversation_id.clone();
        Ok(match command {
            ConversationCommand::Start {
                conversation_id,
                organisation_id,
                workspace_id,
                patient,
                patient_key,
                patient_sha256,
                now,
            } => {
                if self.exists() {
                    return Err(ConversationError::AlreadyStarted);
                }
                vec![ConversationEvent::ConversationStarted {
                    conversation_id,
                    organisation_id,
                    workspace_id,
                    patient,
                    patient_key,
                    patient_sha256,
                    started_at: now,
                }]
            }
            ConversationCommand::AddMessage {
                organisation_id,
                request,
                message,
                channel,
                reply_allowed,
                now,
            } => {
                self.ours(&organisation_id)?;
                if self.requests.contains_key(&request) {
                    return Ok(vec![]);
                }
                if message != self.messages + 1 {
                    return Err(ConversationError::OutOfTurn {
                        given: message,
                        last: self.messages,
                    });
                }
                vec![ConversationEvent::ConversationMessageAdded {
                    conversation_id: id,
                    message,
                    request,
                    channel,
                    reply_allowed,
                    added_at: now,
                }]
            }
            ConversationCommand::RecordReply { message, now } => {
                if !self.exists() || message > self.messages || self.replied(message) {
                    return Ok(vec![]);
                }
                vec![ConversationEvent::ConversationReplied {
                    conversation_id: id,
                    message,
                    replied_at: now,
                }]
            }
            ConversationCommand::Assign {
                organisation_id,
                assignee,
                now,
            } => {
                self.ours(&organisation_id)?;
                if self.assignee.as_ref() == Some(&assignee) {
                    return Ok(vec![]);
                }
                vec![ConversationEvent::ConversationAssigned {
                    conversation_id: id,
                    assignee,
                    assigned_at: now,
                }]
            }
            ConversationCommand::MarkDone {
                organisation_id,
                now,
            } => {
                self.ours(&organisation_id)?;
                if self.done {
                    return Ok(vec![]);
                }
                vec![ConversationEvent::ConversationDone {
                    conversation_id: id,
                    done_at: now,
                }]
            }
            ConversationCommand::Reopen {
                organisation_id,
                now,
            } => {
                self.ours(&organisation_id)?;
                if !self.done {
                    return Ok(vec![]);
                }
                vec![ConversationEvent::ConversationReopened {
                    conversation_id: id,
                    reopened_at: now,
                }]
            }
            ConversationCommand::NotifyAssignee {
                message,
                user_id,
                email,
                now,
            } => {
                let assigned =
                    matches!(&self.assignee, Some(Assignee::User { user_id: u }) if *u == user_id);
                if !assigned || !self.replied(message) || self.notified.contains(&message) {
                    return Ok(vec![]);
                }
                let provider_reference = match services.email.send_email(&email).await {
                    Ok(reference) => reference,
                    // An address the provider will never take: in-app only.
                    Err(crate::ports::ProviderError::PermanentFailure)
                    | Err(crate::ports::ProviderError::Rejected) => String::new(),
                    Err(other) => {
                        return Err(ConversationError::ProviderUnavailable(other.to_string()))
                    }
                };
                vec![ConversationEvent::AssigneeNotified {
                    conversation_id: id,
                    message,
                    user_id,
                    provider_reference,
                    notified_at: now,
                }]
            }
            ConversationCommand::MarkRead {
                organisation_id,
                user_id,
                now,
            } => {
                self.ours(&organisation_id)?;
                if !self.unread_for(&user_id) {
                    return Ok(vec![]);
                }
                vec![ConversationEvent::ConversationRead {
                    conversation_id: id,
                    replies: self.replies(),
                    user_id,
                    read_at: now,
                }]
            }
        })
    }

    fn apply_event(&mut self, event: ConversationEvent) {
        match event {
            ConversationEvent::ConversationStarted {
                conversation_id,
                organisation_id,
                workspace_id,
                patient,
                patient_key,
                started_at,
                ..
            } => {
                self.conversation_id = conversation_id;
                self.organisation_id = organisation_id;
                self.workspace_id = workspace_id;
                self.patient = patient;
                self.patient_key = patient_key;
                self.started_at = Some(started_at);
            }
            ConversationEvent::ConversationMessageAdded {
                message, request, ..
            } => {
                self.messages = self.messages.max(message);
                self.requests.insert(request, message);
            }
            ConversationEvent::ConversationReplied { message, .. } => {
                self.replied.insert(message);
                self.done = false;
            }
            ConversationEvent::ConversationAssigned { assignee, .. } => {
                self.assignee = Some(assignee)
            }
            ConversationEvent::ConversationDone { .. } => self.done = true,
            ConversationEvent::ConversationReopened { .. } => self.done = false,
            ConversationEvent::ConversationRead {
                user_id, replies, ..
            } => {
                self.reads.insert(user_id, replies);
            }
            ConversationEvent::AssigneeNotified { message, .. } => {
                self.notified.insert(message);
            }
        }
    }
}

aggregate!(
    Conversation,
    "Conversation",
    ConversationCommand,
    ConversationEvent,
    ConversationError,
    crate::aggregates::DeliveryServices
);

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: DateTime<Utc> = DateTime::UNIX_EPOCH;

    async fn run(
        c: &mut Conversation,
        command: ConversationCommand,
    ) -> Result<usize, ConversationError> {
        let (services, _) = crate::aggregates::delivery::tests::sms_ok();
        let events = c.decide(command, &services).await?;
        let n = events.len();
        events.into_iter().for_each(|e| c.apply_event(e));
        Ok(n)
    }

    fn start() -> ConversationCommand {
        ConversationCommand::Start {
            conversation_id: "c1".into(),
            organisation_id: "A12345".into(),
            workspace_id: "w1".into(),
            patient: "fp".into(),
            patient_key: "k".into(),
            patient_sha256: "d".into(),
            now: NOW,
        }
    }

    fn add(message: u32) -> ConversationCommand {
        ConversationCommand::AddMessage {
            organisation_id: "A12345".into(),
            request: format!("r{message}"),
            message,
            channel: Channel::Sms,
            reply_allowed: true,
            now: NOW,
        }
    }

    #[tokio::test]
    async fn messages_follow_in_turn_and_a_retried_one_is_added_once() {
        let mut c = Conversation::default();
        assert_eq!(run(&mut c, add(1)).await, Err(ConversationError::NotFound));
        assert_eq!(run(&mut c, start()).await, Ok(1));
        assert_eq!(
            run(&mut c, start()).await,
            Err(ConversationError::AlreadyStarted)
        );
        assert_eq!(run(&mut c, add(1)).await, Ok(1));
        // The same request again records nothing, and finds its number.
        assert_eq!(run(&mut c, add(1)).await, Ok(0));
        assert_eq!(c.message_for("r1"), 1);
        assert_eq!(c.message_for("r9"), 2);
        assert_eq!(
            run(&mut c, add(3)).await,
            Err(ConversationError::OutOfTurn { given: 3, last: 1 })
        );
        assert_eq!(run(&mut c, add(2)).await, Ok(1));
        assert_eq!(c.messages(), 2);
    }

    #[tokio::test]
    async fn a_reply_reopens_a_done_conversation_once_and_staff_commands_repeat_harmlessly() {
        let mut c = Conversation::default();
        run(&mut c, start()).await.unwrap();
        run(&mut c, add(1)).await.unwrap();
        let done = ConversationCommand::MarkDone {
            organisation_id: "A12345".into(),
            now: NOW,
        };
        assert_eq!(run(&mut c, done.clone()).await, Ok(1));
        assert_eq!(run(&mut c, done.clone()).await, Ok(0));
        assert!(c.done());
        let reply = |message| ConversationCommand::RecordReply { message, now: NOW };
        // A reply to a message never written records nothing.
        assert_eq!(run(&mut c, reply(2)).await, Ok(0));
        assert_eq!(run(&mut c, reply(1)).await, Ok(1));
        assert!(!c.done());
        assert_eq!(run(&mut c, reply(1)).await, Ok(0));
        let assign = ConversationCommand::Assign {
            organisation_id: "A12345".into(),
            assignee: Assignee::User {
                user_id: "ann".into(),
            },
            now: NOW,
        };
        assert_eq!(run(&mut c, assign.clone()).await, Ok(1));
        assert_eq!(run(&mut c, assign).await, Ok(0));
        let read = |user: &str| ConversationCommand::MarkRead {
            organisation_id: "A12345".into(),
            user_id: user.into(),
            now: NOW,
        };
        assert!(c.unread_for("ann"));
        assert_eq!(run(&mut c, read("ann")).await, Ok(1));
        assert_eq!(run(&mut c, read("ann")).await, Ok(0), "nothing new to read");
        assert!(!c.unread_for("ann"));
        assert!(c.unread_for("bea"), "read for one member, not for another");
        let other = ConversationCommand::Reopen {
            organisation_id: "B81001".into(),
            now: NOW,
        };
        assert_eq!(run(&mut c, other).await, Err(ConversationError::NotFound));
    }
}
