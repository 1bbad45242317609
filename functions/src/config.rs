//! What the HTTP API reads from its environment, read once into one typed
//! value: the identity token's organisation claim (on AWS) and the tokens
//! providers sign their callbacks with. The AWS adapters' own settings are
//! `infra::aws::AwsSettings`; a Lambda reads both at start
//! (`lambda_functions::LambdaConfig`).

use crate::api::{CallbackTokens, NhsNotifyCallbackKeys};
use crate::identity::JwtClaims;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The claims of the staff identity token that name the caller's
    /// organisation, user id, name and role (`ORGANISATION_CLAIM`,
    /// `USER_CLAIM`, `NAME_CLAIM`, `ROLE_CLAIM`; defaults `ods`, `sub`,
    /// `name`, `batchbook_role`).
    pub claims: JwtClaims,
    pub callbacks: CallbackTokens,
}

impl ApiConfig {
    /// The four claims; `GOVUK_NOTIFY_CALLBACK_TOKEN`;
    /// `NHS_NOTIFY_CALLBACK_API_KEY` with `NHS_NOTIFY_APPLICATION_ID`. An
    /// empty value is no value.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`Self::from_env`], from `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let defaults = JwtClaims::default();
        Self {
            claims: JwtClaims {
                organisation: var("ORGANISATION_CLAIM").unwrap_or(defaults.organisation),
                user: var("USER_CLAIM").unwrap_or(defaults.user),
                name: var("NAME_CLAIM").unwrap_or(defaults.name),
                role: var("ROLE_CLAIM").unwrap_or(defaults.role),
            },
            callbacks: CallbackTokens {
                govuk_notify: var("GOVUK_NOTIFY_CALLBACK_TOKEN"),
                nhs_notify: var("NHS_NOTIFY_CALLBACK_API_KEY")
                    .zip(var("NHS_NOTIFY_APPLICATION_ID"))
                    .map(|(api_key, application_id)| NhsNotifyCallbackKeys {
                        api_key,
                        application_id,
                    }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_need_their_keys_and_the_claim_defaults_to_ods() {
        let none = ApiConfig::from_vars(|_| None);
        assert_eq!(none.claims, JwtClaims::default());
        assert_eq!(none.callbacks.govuk_notify, None);
        assert!(none.callbacks.nhs_notify.is_none());
        let vars = |name: &str| {
            match name {
                "ORGANISATION_CLAIM" => Some("custom:ods"),
                "GOVUK_NOTIFY_CALLBACK_TOKEN" => Some("t"),
                "NHS_NOTIFY_CALLBACK_API_KEY" => Some("k"),
                // Without the application id, NHS Notify's callbacks are refused.
                "NHS_NOTIFY_APPLICATION_ID" => Some(""),
                _ => None,
            }
            .map(str::to_owned)
        };
        let some = ApiConfig::from_vars(vars);
        assert_eq!(some.claims.organisation, "custom:ods");
        assert_eq!(some.claims.role, "batchbook_role");
        assert_eq!(some.callbacks.govuk_notify.as_deref(), Some("t"));
        assert!(some.callbacks.nhs_notify.is_none());
    }
}
