//! Who the caller is. The organisation always comes from here, never from a
//! request body.
//!
//! - Locally, a development identity: `Authorization: Bearer dev:<ODS code>`
//!   acts for that organisation, and a request without the header acts for
//!   the configured development organisation.
//! - On AWS, API Gateway's JWT authorizer has verified the token; the
//!   organisation is read from a claim of the verified token.

use axum::http::request::Parts;
use domain::values::OrganisationId;
use domain::{Caller, Role};
use lambda_http::request::RequestContext;

#[derive(Debug, Clone)]
pub enum IdentitySource {
    Development {
        /// The organisation a request without a token acts for, as its
        /// admin; `None` refuses such a request (401), as AWS does.
        default_organisation: Option<OrganisationId>,
    },
    ApiGatewayJwt(JwtClaims),
}

/// Which claims of the verified identity token say who the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtClaims {
    /// The caller's organisation's ODS code (default `ods`).
    pub organisation: String,
    /// A stable id for the user (default `sub`).
    pub user: String,
    /// The user's name as colleagues know it (default `name`).
    pub name: String,
    /// `staff`, `admin` or `auditor`; a list (such as Cognito's groups)
    /// gives the strongest it names (default `batchbook_role`).
    pub role: String,
}

impl Default for JwtClaims {
    fn default() -> Self {
        Self {
            organisation: "ods".into(),
            user: "sub".into(),
            name: "name".into(),
            role: "batchbook_role".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("sign in to use Batchbook")]
    Unauthenticated,
    #[error("your sign-in does not name a valid organisation")]
    BadOrganisation,
    #[error("your sign-in gives you no Batchbook role (staff, admin or auditor); ask an admin of your organisation")]
    NoRole,
}

const CORRELATION_HEADER: &str = "x-correlation-id";

/// The strongest role a claim names: one role, or a list of them (`[staff
/// admin]`, `staff,admin`).
fn strongest_role(claim: &str) -> Option<Role> {
    let named: Vec<Role> = claim
        .split([',', ' ', '[', ']'])
        .filter_map(Role::parse)
        .collect();
    [Role::Admin, Role::Staff, Role::Auditor]
        .into_iter()
        .find(|role| named.contains(role))
}

impl IdentitySource {
    pub fn caller(&self, parts: &Parts) -> Result<Caller, IdentityError> {
        let correlation_id = parts
            .headers
            .get(CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        match self {
            Self::Development {
                default_organisation,
            } => {
                let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
                    let org = default_organisation
                        .clone()
                        .ok_or(IdentityError::Unauthenticated)?;
                    return Ok(Caller::user(
                        org,
                        "dev-user",
                        "Development user",
                        Role::Admin,
                        &correlation_id,
                    ));
                };
                // `dev:<ODS>[:<user>[:<role>]]`; a user alone is staff, no
                // user the development admin.
                let token = value
                    .to_str()
                    .ok()
                    .and_then(|v| v.strip_prefix("Bearer dev:"))
                    .ok_or(IdentityError::Unauthenticated)?;
                let mut parts = token.split(':');
                let ods = parts.next().unwrap_or_default();
                let org = OrganisationId::parse(ods).map_err(|_| IdentityError::BadOrganisation)?;
                let (user, role) = match (parts.next(), parts.next(), parts.next()) {
                    (None, _, _) => ("dev-user", Role::Admin),
                    (Some(user), None, None) => (user, Role::Staff),
                    (Some(user), Some(role), None) => {
                        (user, Role::parse(role).ok_or(IdentityError::NoRole)?)
                    }
                    _ => return Err(IdentityError::Unauthenticated),
                };
                let valid = |u: &str| {
                    !u.is_empty()
                        && u.len() <= 64
                        && u.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
                };
                if !valid(user) {
                    return Err(IdentityError::Unauthenticated);
                }
                // The development admin is named as with no header at all.
                let name = if user == "dev-user" {
                    "Development user"
                } else {
                    user
                };
                Ok(Caller::user(org, user, name, role, &correlation_id))
            }
            Self::ApiGatewayJwt(names) => {
                let claims = match parts.extensions.get::<RequestContext>() {
                    Some(RequestContext::ApiGatewayV2(context)) => context
                        .authorizer
                        .as_ref()
                        .and_then(|a| a.jwt.as_ref())
                        .map(|jwt| &jwt.claims),
                    _ => None,
                }
                .ok_or(IdentityError::Unauthenticated)?;
                let org = claims
                    .get(&names.organisation)
                    .ok_or(IdentityError::BadOrganisation)
                    .and_then(|ods| {
                        OrganisationId::parse(ods).map_err(|_| IdentityError::BadOrganisation)
                    })?;
                let user = claims
                    .get(&names.user)
                    .filter(|u| !u.is_empty())
                    .ok_or(IdentityError::Unauthenticated)?;
                let name = claims.get(&names.name).unwrap_or(user);
                let role = claims
                    .get(&names.role)
                    .and_then(|r| strongest_role(r))
                    .ok_or(IdentityError::NoRole)?;
                Ok(Caller::user(org, user, name, role, &correlation_id))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(auth: Option<&str>) -> Parts {
        let mut request = Request::builder().uri("/v1/batches");
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.body(()).unwrap().into_parts().0
    }

    fn dev() -> IdentitySource {
        IdentitySource::Development {
            default_organisation: Some(OrganisationId::parse("A12345").unwrap()),
        }
    }

    #[test]
    fn a_development_token_names_the_organisation() {
        let caller = dev().caller(&parts(Some("Bearer dev:b99999"))).unwrap();
        assert_eq!(caller.organisation_id.as_ref(), "B99999");
        assert_eq!(
            (caller.actor.as_str(), caller.role),
            ("user:dev-user", Role::Admin)
        );
        let caller = dev().caller(&parts(None)).unwrap();
        assert_eq!(caller.organisation_id.as_ref(), "A12345");
    }

    #[test]
    fn a_development_token_names_the_user_and_role() {
        let caller = dev()
            .caller(&parts(Some("Bearer dev:A12345:jo:auditor")))
            .unwrap();
        assert_eq!(
            (caller.actor.as_str(), caller.name.as_str(), caller.role),
            ("user:jo", "jo", Role::Auditor)
        );
        let caller = dev().caller(&parts(Some("Bearer dev:A12345:sam"))).unwrap();
        assert_eq!(
            (caller.actor.as_str(), caller.role),
            ("user:sam", Role::Staff)
        );
        assert_eq!(
            dev().caller(&parts(Some("Bearer dev:A12345:jo:boss"))),
            Err(IdentityError::NoRole)
        );
        assert_eq!(
            dev().caller(&parts(Some("Bearer dev:A12345:j o:staff"))),
            Err(IdentityError::Unauthenticated)
        );
    }

    #[test]
    fn a_role_claim_may_list_roles_and_gives_the_strongest() {
        assert_eq!(strongest_role("admin"), Some(Role::Admin));
        assert_eq!(strongest_role("[staff admin]"), Some(Role::Admin));
        assert_eq!(strongest_role("auditor,staff"), Some(Role::Staff));
        assert_eq!(strongest_role("manager"), None);
    }

    #[test]
    fn other_tokens_are_refused_locally() {
        assert_eq!(
            dev().caller(&parts(Some("Bearer eyJ..."))),
            Err(IdentityError::Unauthenticated)
        );
        assert_eq!(
            dev().caller(&parts(Some("Bearer dev:../x"))),
            Err(IdentityError::BadOrganisation)
        );
    }

    #[test]
    fn without_an_authorizer_context_the_jwt_source_refuses() {
        let source = IdentitySource::ApiGatewayJwt(JwtClaims::default());
        assert_eq!(
            source.caller(&parts(Some("Bearer x"))),
            Err(IdentityError::Unauthenticated)
        );
    }
}
