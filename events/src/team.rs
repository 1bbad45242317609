//! Events of a workspace: a team inside an organisation ("Dermatology" at
//! a trust) whose members share one inbox. Admins create workspaces and
//! approve their members; the event's metadata says who, and when.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

/// Events of one workspace (one aggregate per workspace).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum WorkspaceEvent {
    /// An admin created the workspace.
    WorkspaceCreated {
        workspace_id: String,
        organisation_id: String,
        name: String,
        created_at: DateTime<Utc>,
    },
    /// An admin approved a member: they see the workspace's inbox.
    MemberAdded {
        /// Their id, as their sign-in gives it.
        user_id: String,
        /// Their name, as the admin wrote it.
        name: String,
        /// Where they are told of patients' replies to conversations
        /// assigned to them; `None` for in-app notice only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<String>,
        added_at: DateTime<Utc>,
    },
    /// An admin removed a member: they no longer see the inbox.
    MemberRemoved {
        user_id: String,
        removed_at: DateTime<Utc>,
    },
}

impl DomainEvent for WorkspaceEvent {
    fn event_type(&self) -> String {
        match self {
            Self::WorkspaceCreated { .. } => "WorkspaceCreated",
            Self::MemberAdded { .. } => "MemberAdded",
            Self::MemberRemoved { .. } => "MemberRemoved",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}
