//! The organisation a caller acts for, by its ODS code. Every command and
//! query is scoped to one; it comes from the caller's identity, never from a
//! request body.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrganisationId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OrganisationIdError {
    #[error("an organisation's ODS code is 3 to 10 letters and digits")]
    Invalid,
}

impl OrganisationId {
    pub fn parse(raw: &str) -> Result<Self, OrganisationIdError> {
        let raw = raw.trim();
        if (3..=10).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(raw.to_ascii_uppercase()))
        } else {
            Err(OrganisationIdError::Invalid)
        }
    }
}

impl AsRef<str> for OrganisationId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrganisationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ods_codes_parse_upper_case() {
        assert_eq!(OrganisationId::parse("a12345").unwrap().as_ref(), "A12345");
        assert_eq!(
            OrganisationId::parse("A1"),
            Err(OrganisationIdError::Invalid)
        );
        assert_eq!(
            OrganisationId::parse("A1/../B2"),
            Err(OrganisationIdError::Invalid)
        );
    }
}
