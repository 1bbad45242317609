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
use domain::Caller;
use lambda_http::request::RequestContext;

#[derive(Debug, Clone)]
pub enum IdentitySource {
    Development {
        default_organisation: OrganisationId,
    },
    ApiGatewayJwt {
        organisation_claim: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("sign in to use Batchbook")]
    Unauthenticated,
    #[error("your sign-in does not name a valid organisation")]
    BadOrganisation,
}

const CORRELATION_HEADER: &str = "x-correlation-id";

impl IdentitySource {
    pub fn caller(&self, parts: &Parts) -> Result<Caller, IdentityError> {
        let correlation_id = parts
            .headers
            .get(CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let (organisation, actor) = match self {
            Self::Development {
                default_organisation,
            } => match parts.headers.get(axum::http::header::AUTHORIZATION) {
                None => (default_organisation.clone(), "dev-user".to_owned()),
                Some(value) => {
                    let ods = value
                        .to_str()
                        .ok()
                        .and_then(|v| v.strip_prefix("Bearer dev:"))
                        .ok_or(IdentityError::Unauthenticated)?;
                    let org =
                        OrganisationId::parse(ods).map_err(|_| IdentityError::BadOrganisation)?;
                    (org, format!("dev-user@{ods}"))
                }
            },
            Self::ApiGatewayJwt { organisation_claim } => {
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
                    .get(organisation_claim)
                    .ok_or(IdentityError::BadOrganisation)
                    .and_then(|ods| {
                        OrganisationId::parse(ods).map_err(|_| IdentityError::BadOrganisation)
                    })?;
                let actor = claims
                    .get("sub")
                    .cloned()
                    .unwrap_or_else(|| "unknown".into());
                (org, format!("user:{actor}"))
            }
        };
        Ok(Caller {
            organisation_id: organisation,
            actor,
            correlation_id,
        })
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
            default_organisation: OrganisationId::parse("A12345").unwrap(),
        }
    }

    #[test]
    fn a_development_token_names_the_organisation() {
        let caller = dev().caller(&parts(Some("Bearer dev:b99999"))).unwrap();
        assert_eq!(caller.organisation_id.as_ref(), "B99999");
        let caller = dev().caller(&parts(None)).unwrap();
        assert_eq!(caller.organisation_id.as_ref(), "A12345");
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
        let source = IdentitySource::ApiGatewayJwt {
            organisation_claim: "ods".into(),
        };
        assert_eq!(
            source.caller(&parts(Some("Bearer x"))),
            Err(IdentityError::Unauthenticated)
        );
    }
}
