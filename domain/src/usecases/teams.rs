//! Workspaces: teams inside an organisation ("Dermatology" at a trust)
//! whose approved members share one inbox. Admins create them and add and
//! remove members; everyone in the organisation sees which there are and
//! who is in each, and switches between those they belong to by naming
//! one. Each change is a command on the workspace's own aggregate, recorded
//! with the admin who made it.

use cqrs_es::persist::PersistedEventRepository;

use super::{Batchbook, BatchbookError, Caller, CommandError, Role};
use crate::aggregates::{Workspace, WorkspaceCommand, WorkspaceError};
use crate::projection::ItemKind;
use crate::values::{one_line, text};

/// A workspace as staff are shown it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceView {
    pub workspace_id: String,
    pub name: String,
    /// Members' user ids and names, by user id.
    pub members: Vec<(String, String)>,
    /// Members' email addresses, for those who gave one, by user id.
    pub emails: std::collections::BTreeMap<String, String>,
    /// Whether the caller is one of them.
    pub is_member: bool,
}

impl From<CommandError<WorkspaceError>> for BatchbookError {
    fn from(e: CommandError<WorkspaceError>) -> Self {
        match e {
            CommandError::Refused(WorkspaceError::NotFound) => Self::WorkspaceNotFound,
            CommandError::Refused(WorkspaceError::NotAMember(user)) => Self::NotAMember(user),
            // A new id each time: never two creations of one workspace.
            CommandError::Refused(WorkspaceError::AlreadyExists) | CommandError::Conflict => {
                Self::Conflict
            }
            CommandError::Stopped(never) => match never {},
            CommandError::Unavailable(cause) => Self::Unavailable(cause),
        }
    }
}

/// A user id as sign-ins give them: 1 to 64 letters, digits, `.`, `_`,
/// `@` or `-`.
fn checked_user_id(user_id: &str) -> Result<&str, BatchbookError> {
    let ok = !user_id.is_empty()
        && user_id.len() <= 64
        && user_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if ok {
        Ok(user_id)
    } else {
        Err(BatchbookError::InvalidRequest(
            "user_id: must be 1 to 64 letters, digits, `.`, `_`, `@` or `-`, as the user's sign-in gives it"
                .into(),
        ))
    }
}

fn checked_name<'a>(field: &str, name: &'a str) -> Result<&'a str, BatchbookError> {
    let name = one_line(name, text::NAME_CHARS)
        .map_err(|e| BatchbookError::InvalidRequest(format!("{field}: {e}")))?;
    if name.is_empty() {
        return Err(BatchbookError::InvalidRequest(format!(
            "{field}: must not be blank"
        )));
    }
    Ok(name)
}

impl WorkspaceView {
    fn of(workspace: &Workspace, caller: &Caller) -> Self {
        Self {
            workspace_id: workspace.workspace_id().to_owned(),
            name: workspace.name().to_owned(),
            members: workspace
                .members()
                .iter()
                .map(|(id, name)| (id.clone(), name.clone()))
                .collect(),
            emails: workspace
                .members()
                .keys()
                .filter_map(|id| Some((id.clone(), workspace.email_of(id)?.to_owned())))
                .collect(),
            is_member: caller.user_id().is_some_and(|u| workspace.is_member(u)),
        }
    }
}

/// Refuses an id no workspace could have: every one is a UUID.
fn workspace_id_shaped(workspace_id: &str) -> Result<(), BatchbookError> {
    uuid::Uuid::parse_str(workspace_id)
        .map(drop)
        .map_err(|_| BatchbookError::WorkspaceNotFound)
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// A workspace of the caller's organisation, from its events (so a read
    /// straight after a change sees it); another organisation's, or an id
    /// that was never one, is not found.
    pub(in crate::usecases) async fn workspace_of(
        &self,
        caller: &Caller,
        workspace_id: &str,
    ) -> Result<Workspace, BatchbookError> {
        workspace_id_shaped(workspace_id)?;
        let workspace = self.workspaces.load_kept(workspace_id).await?;
        if !workspace.exists() || workspace.organisation_id() != caller.organisation_id.as_ref() {
            return Err(BatchbookError::WorkspaceNotFound);
        }
        Ok(workspace)
    }

    /// Creates a workspace (admins only). Its creator is not a member
    /// until added: an admin may run a team they do not work in.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn create_workspace(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<WorkspaceView, BatchbookError> {
        caller.require(Role::Admin)?;
        let name = checked_name("name", name)?;
        let workspace_id = uuid::Uuid::new_v4().to_string();
        let workspace = self
            .workspaces
            .execute_retrying(
                &workspace_id,
                || self.metadata(caller),
                |_| WorkspaceCommand::Create {
                    workspace_id: workspace_id.clone(),
                    organisation_id: caller.organisation_id.to_string(),
                    name: name.to_owned(),
                    now: self.ports.clock.now(),
                },
            )
            .await?;
        self.refresh_views(&self.workspaces, &workspace_id).await?;
        Ok(WorkspaceView::of(&workspace, caller))
    }

    /// One workspace of the caller's organisation, with its members.
    pub async fn workspace(
        &self,
        caller: &Caller,
        workspace_id: &str,
    ) -> Result<WorkspaceView, BatchbookError> {
        Ok(WorkspaceView::of(
            &self.workspace_of(caller, workspace_id).await?,
            caller,
        ))
    }

    /// The caller's organisation's workspaces, newest first, a page at a
    /// time.
    pub async fn workspaces(
        &self,
        caller: &Caller,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<crate::ports::Page<WorkspaceView>, BatchbookError> {
        let page = self
            .workspace_items(caller, ItemKind::Workspace, cursor, limit)
            .await?;
        Ok(crate::ports::Page {
            next: page.next,
            items: page
                .items
                .into_iter()
                .filter_map(|item| match item.item {
                    crate::projection::ItemBody::Workspace(entry) => Some(WorkspaceView {
                        is_member: caller
                            .user_id()
                            .is_some_and(|u| entry.members.contains_key(u)),
                        workspace_id: item.id,
                        name: entry.name,
                        members: entry.members.into_iter().collect(),
                        emails: entry.emails,
                    }),
                    _ => None,
                })
                .collect(),
        })
    }

    /// Approves a member of a workspace (admins only); one already a
    /// member under that name is left as they are.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn add_member(
        &self,
        caller: &Caller,
        workspace_id: &str,
        user_id: &str,
        name: &str,
        email: Option<&str>,
    ) -> Result<WorkspaceView, BatchbookError> {
        caller.require(Role::Admin)?;
        let user_id = checked_user_id(user_id)?;
        let name = checked_name("name", name)?;
        let email = email
            .map(|e| {
                crate::values::EmailAddress::parse(e)
                    .map(|e| e.to_string())
                    .map_err(|e| BatchbookError::InvalidRequest(format!("email: {e}")))
            })
            .transpose()?;
        self.change_members(caller, workspace_id, |org| WorkspaceCommand::AddMember {
            organisation_id: org,
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            email: email.clone(),
            now: self.ports.clock.now(),
        })
        .await
    }

    /// Removes a member of a workspace (admins only); someone who is not
    /// one is refused by name.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn remove_member(
        &self,
        caller: &Caller,
        workspace_id: &str,
        user_id: &str,
    ) -> Result<WorkspaceView, BatchbookError> {
        caller.require(Role::Admin)?;
        let user_id = checked_user_id(user_id)?;
        self.change_members(caller, workspace_id, |org| WorkspaceCommand::RemoveMember {
            organisation_id: org,
            user_id: user_id.to_owned(),
            now: self.ports.clock.now(),
        })
        .await
    }

    async fn change_members(
        &self,
        caller: &Caller,
        workspace_id: &str,
        command: impl Fn(String) -> WorkspaceCommand,
    ) -> Result<WorkspaceView, BatchbookError> {
        // The aggregate itself refuses a workspace that does not exist or
        // is another organisation's (`Workspace::ours`).
        workspace_id_shaped(workspace_id)?;
        let workspace = self
            .workspaces
            .execute_retrying(
                workspace_id,
                || self.metadata(caller),
                |_| command(caller.organisation_id.to_string()),
            )
            .await?;
        self.refresh_views(&self.workspaces, workspace_id).await?;
        Ok(WorkspaceView::of(&workspace, caller))
    }
}
