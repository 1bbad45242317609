//! The shared inbox: a workspace's conversations as lists its members read
//! ("Assigned to me", "Sent by me", each colleague's and the team's, all of
//! them, and a patient's, all or mine), each filtered by open or done and
//! by unread, with the caller's unread count, a page at a time; and
//! marking a conversation read.

use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;
use events::Assignee;
use serde::{Deserialize, Serialize};

use super::conversations::{ConversationPatient, ConversationState};
use super::workspace::{check_cursor, check_limit};
use super::{Batchbook, BatchbookError, Caller, Role};
use crate::aggregates::ConversationCommand;
use crate::ports::{recipient_fingerprint, InboxQuery, Page, PortError};
use crate::projection::{InboxList, InboxRow};
use crate::values::NhsNumber;

/// Which list of the inbox staff ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxView {
    AssignedToMe,
    SentByMe,
    /// Assigned to this colleague.
    AssignedTo(String),
    /// Assigned to the workspace's team.
    Team,
    All,
}

/// An inbox request: the list, optionally narrowed to one patient (only
/// `All` and `SentByMe`: a patient's "All" and "My" conversations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRequest {
    pub view: InboxView,
    pub nhs_number: Option<String>,
    pub state: Option<ConversationState>,
    pub unread: bool,
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// One conversation as an inbox list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxEntry {
    pub conversation_id: String,
    pub patient: ConversationPatient,
    pub state: ConversationState,
    pub assignee: Option<Assignee>,
    /// Whether the patient replied since the caller last read it.
    pub unread: bool,
    pub messages: u32,
    pub replies: u32,
    pub started_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
}

/// A page of an inbox list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxPage {
    pub conversations: Vec<InboxEntry>,
    /// How many of the whole list (any state) are unread for the caller.
    pub unread: u64,
    pub next: Option<String>,
}

/// A member's unread conversations, by list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnreadCounts {
    pub assigned_to_me: u64,
    pub sent_by_me: u64,
    pub team: u64,
}

fn invalid(detail: impl Into<String>) -> BatchbookError {
    BatchbookError::InvalidRequest(detail.into())
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// One page of an inbox list of a workspace the caller is a member of.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn inbox(
        &self,
        caller: &Caller,
        workspace_id: &str,
        request: InboxRequest,
    ) -> Result<InboxPage, BatchbookError> {
        let limit = check_limit(request.limit)?;
        let after = check_cursor(request.cursor.as_deref())?;
        let workspace = self.member_workspace(caller, workspace_id).await?;
        let me = caller
            .user_id()
            .ok_or(BatchbookError::NotInWorkspace)?
            .to_owned();
        let org = caller.organisation_id.to_string();
        let patient = request
            .nhs_number
            .as_deref()
            .map(|raw| {
                NhsNumber::parse(raw)
                    .map(|n| recipient_fingerprint(&org, n.as_ref()))
                    .map_err(|e| invalid(format!("nhs_number: {e}")))
            })
            .transpose()?;
        let list = match (request.view, patient) {
            (InboxView::All, None) => InboxList::All,
            (InboxView::All, Some(patient)) => InboxList::Patient(patient),
            (InboxView::SentByMe, None) => InboxList::SentBy(me.clone()),
            (InboxView::SentByMe, Some(patient)) => InboxList::PatientSentBy(patient, me.clone()),
            (_, Some(_)) => {
                return Err(invalid(
                    "nhs_number: a patient's conversations are listed with `all` or `sent_by_me`",
                ))
            }
            (InboxView::AssignedToMe, None) => InboxList::AssignedTo(me.clone()),
            (InboxView::Team, None) => InboxList::Team,
            (InboxView::AssignedTo(user), None) => {
                if !workspace.is_member(&user) {
                    return Err(invalid(format!(
                        "user_id: {user} is not a member of this workspace"
                    )));
                }
                InboxList::AssignedTo(user)
            }
        };
        let partition = list.partition(&org, workspace_id);
        let query = InboxQuery {
            partition: partition.clone(),
            done: request.state.map(|s| s == ConversationState::Done),
            unread_for: request.unread.then(|| me.clone()),
            after,
            limit,
        };
        let (page, unread) = futures::try_join!(
            self.ports.views.inbox(&query),
            self.ports.views.inbox_unread(&partition, &me),
        )?;
        let Page { items, next } = page;
        let conversations =
            futures::future::try_join_all(items.iter().map(|row| self.inbox_entry(row, &me)))
                .await?;
        Ok(InboxPage {
            conversations,
            unread,
            next,
        })
    }

    async fn inbox_entry(&self, row: &InboxRow, me: &str) -> Result<InboxEntry, PortError> {
        let patient = self.patient_at(&row.patient_key).await?;
        Ok(InboxEntry {
            conversation_id: row.conversation_id.clone(),
            patient,
            state: if row.done {
                ConversationState::Done
            } else {
                ConversationState::Open
            },
            assignee: row.assignee.clone(),
            unread: row.unread_for(me),
            messages: row.messages,
            replies: row.replies,
            started_at: row.started_at,
            last_activity_at: row.last_activity_at,
        })
    }

    /// The caller's unread counts, for the app to poll: conversations
    /// assigned to them, those they wrote in, and the team's, each with a
    /// reply they have not read.
    pub async fn unread_counts(
        &self,
        caller: &Caller,
        workspace_id: &str,
    ) -> Result<UnreadCounts, BatchbookError> {
        self.member_workspace(caller, workspace_id).await?;
        let me = caller.user_id().ok_or(BatchbookError::NotInWorkspace)?;
        let org = caller.organisation_id.as_ref();
        let count = |list: InboxList| {
            let partition = list.partition(org, workspace_id);
            async move { self.ports.views.inbox_unread(&partition, me).await }
        };
        let (assigned_to_me, sent_by_me, team) = futures::try_join!(
            count(InboxList::AssignedTo(me.to_owned())),
            count(InboxList::SentBy(me.to_owned())),
            count(InboxList::Team),
        )?;
        Ok(UnreadCounts {
            assigned_to_me,
            sent_by_me,
            team,
        })
    }

    /// Marks the conversation read for the caller: every reply so far.
    pub async fn mark_conversation_read(
        &self,
        caller: &Caller,
        conversation_id: &str,
    ) -> Result<super::conversations::ConversationView, BatchbookError> {
        let (_, _) = self.conversation_of(caller, conversation_id).await?;
        let user_id = caller
            .user_id()
            .ok_or(BatchbookError::ConversationNotFound)?
            .to_owned();
        caller.require(Role::Staff)?;
        self.on_conversation(caller, conversation_id, |org, now| {
            ConversationCommand::MarkRead {
                organisation_id: org,
                user_id: user_id.clone(),
                now,
            }
        })
        .await
    }
}
