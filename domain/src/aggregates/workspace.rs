//! The Workspace aggregate: one per team inside an organisation, whose
//! members share one inbox. It holds the team's name and its approved
//! members, nothing that grows with its conversations, so loading it to
//! check a member costs the same whatever the team has sent.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use events::WorkspaceEvent;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Workspace {
    workspace_id: String,
    organisation_id: String,
    name: String,
    /// Members' names by user id.
    members: BTreeMap<String, String>,
    /// Members' email addresses, for those who gave one.
    #[serde(default)]
    emails: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WorkspaceCommand {
    Create {
        workspace_id: String,
        organisation_id: String,
        name: String,
        now: DateTime<Utc>,
    },
    /// Approves a member; one already approved under that name records
    /// nothing, so a retried request adds them once.
    AddMember {
        organisation_id: String,
        user_id: String,
        name: String,
        email: Option<String>,
        now: DateTime<Utc>,
    },
    RemoveMember {
        organisation_id: String,
        user_id: String,
        now: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspaceError {
    #[error("there is no such workspace in your organisation")]
    NotFound,
    #[error("this workspace already exists")]
    AlreadyExists,
    #[error("{0} is not a member of this workspace")]
    NotAMember(String),
}

impl Workspace {
    pub fn exists(&self) -> bool {
        !self.workspace_id.is_empty()
    }

    pub fn workspace_id(&self) -> &str {
        &self.workspace_id
    }

    pub fn organisation_id(&self) -> &str {
        &self.organisation_id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Members' names by user id.
    pub fn members(&self) -> &BTreeMap<String, String> {
        &self.members
    }

    /// A member's email address, if they gave one.
    pub fn email_of(&self, user_id: &str) -> Option<&str> {
        self.emails.get(user_id).map(String::as_str)
    }

    pub fn is_member(&self, user_id: &str) -> bool {
        self.members.contains_key(user_id)
    }

    /// Refuses a workspace that does not exist, or is another
    /// organisation's (which looks the same).
    fn ours(&self, organisation_id: &str) -> Result<(), WorkspaceError> {
        if self.exists() && self.organisation_id == organisation_id {
            Ok(())
        } else {
            Err(WorkspaceError::NotFound)
        }
    }

    async fn decide(
        &mut self,
        command: WorkspaceCommand,
        _services: &(),
    ) -> Result<Vec<WorkspaceEvent>, WorkspaceError> {
        Ok(match command {
            WorkspaceCommand::Create {
                workspace_id,
                organisation_id,
                name,
                now,
            } => {
                if self.exists() {
                    return Err(WorkspaceError::AlreadyExists);
                }
                vec![WorkspaceEvent::WorkspaceCreated {
                    workspace_id,
                    organisation_id,
                    name,
                    created_at: now,
                }]
            }
            WorkspaceCommand::AddMember {
                organisation_id,
                user_id,
                name,
                email,
                now,
            } => {
                self.ours(&organisation_id)?;
                if self.members.get(&user_id) == Some(&name)
                    && self.emails.get(&user_id) == email.as_ref()
                {
                    vec![]
                } else {
                    vec![WorkspaceEvent::MemberAdded {
                        user_id,
                        name,
                        email,
                        added_at: now,
                    }]
                }
            }
            WorkspaceCommand::RemoveMember {
                organisation_id,
                user_id,
                now,
            } => {
                self.ours(&organisation_id)?;
                if !self.is_member(&user_id) {
                    return Err(WorkspaceError::NotAMember(user_id));
                }
                vec![WorkspaceEvent::MemberRemoved {
                    user_id,
                    removed_at: now,
                }]
            }
        })
    }

    fn apply_event(&mut self, event: WorkspaceEvent) {
        match event {
            WorkspaceEvent::WorkspaceCreated {
                workspace_id,
                organisation_id,
                name,
                ..
            } => {
                self.workspace_id = workspace_id;
                self.organisation_id = organisation_id;
                self.name = name;
            }
            WorkspaceEvent::MemberAdded {
                user_id,
                name,
                email,
                ..
            } => {
                match email {
                    Some(email) => self.emails.insert(user_id.clone(), email),
                    None => self.emails.remove(&user_id),
                };
                self.members.insert(user_id, name);
            }
            WorkspaceEvent::MemberRemoved { user_id, .. } => {
                self.members.remove(&user_id);
                self.emails.remove(&user_id);
            }
        }
    }
}

aggregate!(
    Workspace,
    "Workspace",
    WorkspaceCommand,
    WorkspaceEvent,
    WorkspaceError,
    ()
);

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: DateTime<Utc> = DateTime::UNIX_EPOCH;

    async fn run(ws: &mut Workspace, command: WorkspaceCommand) -> Result<usize, WorkspaceError> {
        let events = ws.decide(command, &()).await?;
        let n = events.len();
        events.into_iter().for_each(|e| ws.apply_event(e));
        Ok(n)
    }

    fn add(org: &str, user: &str, name: &str) -> WorkspaceCommand {
        WorkspaceCommand::AddMember {
            organisation_id: org.into(),
            user_id: user.into(),
            name: name.into(),
            email: None,
            now: NOW,
        }
    }

    #[tokio::test]
    async fn members_are_added_once_removed_by_name_and_only_in_their_organisation() {
        let mut ws = Workspace::default();
        assert_eq!(
            run(&mut ws, add("A12345", "sam", "Sam")).await,
            Err(WorkspaceError::NotFound)
        );
        let create = WorkspaceCommand::Create {
            workspace_id: "w1".into(),
            organisation_id: "A12345".into(),
            name: "Dermatology".into(),
            now: NOW,
        };
        assert_eq!(run(&mut ws, create.clone()).await, Ok(1));
        assert_eq!(
            run(&mut ws, create).await,
            Err(WorkspaceError::AlreadyExists)
        );
        assert_eq!(run(&mut ws, add("A12345", "sam", "Sam")).await, Ok(1));
        // The same member again records nothing; a new name is recorded.
        assert_eq!(run(&mut ws, add("A12345", "sam", "Sam")).await, Ok(0));
        assert_eq!(run(&mut ws, add("A12345", "sam", "Sam Jones")).await, Ok(1));
        assert_eq!(ws.members()["sam"], "Sam Jones");
        // Another organisation's admin finds no such workspace.
        assert_eq!(
            run(&mut ws, add("B81001", "bo", "Bo")).await,
            Err(WorkspaceError::NotFound)
        );
        let remove = |user: &str| WorkspaceCommand::RemoveMember {
            organisation_id: "A12345".into(),
            user_id: user.into(),
            now: NOW,
        };
        assert_eq!(
            run(&mut ws, remove("jo")).await,
            Err(WorkspaceError::NotAMember("jo".into()))
        );
        assert_eq!(run(&mut ws, remove("sam")).await, Ok(1));
        assert!(!ws.is_member("sam"));
    }
}
