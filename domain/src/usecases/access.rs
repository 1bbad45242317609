//! Who may do what. A caller is a user inside one organisation, with one
//! role from their sign-in: staff send and manage their own templates;
//! admins also change the settings and the shared templates and revoke a
//! whole batch's links; auditors only read. The runtime acts as the
//! system, for work an organisation started.

use serde::{Deserialize, Serialize};

use super::BatchbookError;
use crate::values::OrganisationId;

/// A caller's role, as their sign-in names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Staff,
    Admin,
    Auditor,
    /// The runtime itself (workers, timers); never given by a sign-in.
    #[serde(skip)]
    System,
}

impl Role {
    /// A role as a sign-in writes it: `staff`, `admin` or `auditor`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "staff" => Some(Self::Staff),
            "admin" => Some(Self::Admin),
            "auditor" => Some(Self::Auditor),
            _ => None,
        }
    }

    /// Whether this role may do what `needed` may.
    fn covers(self, needed: Role) -> bool {
        match (self, needed) {
            (Self::System, _) => true,
            (Self::Admin, Self::Staff | Self::Admin) => true,
            (role, needed) => role == needed,
        }
    }
}

/// Who is asking: the organisation comes from the caller's authenticated
/// identity, never from a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub organisation_id: OrganisationId,
    /// What events record as the actor: `user:<id>` for a person,
    /// `system:<component>` for the runtime.
    pub actor: String,
    /// The person's name as their sign-in gives it, for lists staff read.
    pub name: String,
    pub role: Role,
    pub correlation_id: String,
}

impl Caller {
    /// A person, signed in.
    pub fn user(
        organisation_id: OrganisationId,
        user_id: &str,
        name: &str,
        role: Role,
        correlation_id: &str,
    ) -> Self {
        Self {
            organisation_id,
            actor: format!("user:{user_id}"),
            name: name.to_owned(),
            role,
            correlation_id: correlation_id.to_owned(),
        }
    }

    /// The runtime's own identity, acting for an organisation on work that
    /// organisation started.
    pub fn system(organisation_id: OrganisationId, component: &str, correlation_id: &str) -> Self {
        Self {
            organisation_id,
            actor: format!("system:{component}"),
            name: String::new(),
            role: Role::System,
            correlation_id: correlation_id.to_owned(),
        }
    }

    /// The person's id, for a person.
    pub fn user_id(&self) -> Option<&str> {
        self.actor.strip_prefix("user:")
    }

    /// Refuses a caller whose role does not allow what `needed` allows.
    pub fn require(&self, needed: Role) -> Result<(), BatchbookError> {
        if self.role.covers(needed) {
            Ok(())
        } else {
            Err(BatchbookError::RoleNeeded(needed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role) -> Caller {
        Caller::user(
            OrganisationId::parse("A12345").unwrap(),
            "jo",
            "Jo",
            role,
            "c",
        )
    }

    #[test]
    fn admins_do_what_staff_do_and_auditors_only_read() {
        assert!(caller(Role::Staff).require(Role::Staff).is_ok());
        assert!(caller(Role::Admin).require(Role::Staff).is_ok());
        assert!(caller(Role::Admin).require(Role::Admin).is_ok());
        let refused = |role, needed| caller(role).require(needed).unwrap_err().to_string();
        assert_eq!(
            refused(Role::Staff, Role::Admin),
            "this needs the admin role; ask an admin of your organisation"
        );
        assert_eq!(
            refused(Role::Auditor, Role::Staff),
            "this needs the staff or admin role; an auditor can only read"
        );
        assert_eq!(Role::parse(" Admin "), Some(Role::Admin));
        assert_eq!(Role::parse("system"), None);
        assert_eq!(caller(Role::Staff).user_id(), Some("jo"));
    }
}
