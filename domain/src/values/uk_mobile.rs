//! A UK mobile number, normalised to E.164 (`+447…`), checked with
//! libphonenumber's metadata (the `phonenumber` crate).

use std::fmt;

use phonenumber::{country, Type};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UkMobile(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UkMobileError {
    #[error("no mobile number was given")]
    Missing,
    #[error("the number contains letters")]
    HasLetters,
    #[error("this is not a phone number")]
    NotANumber,
    #[error("this is not a UK number")]
    NotUk,
    #[error("this is a UK number but not a mobile")]
    NotMobile,
}

impl UkMobile {
    /// Accepts the ways people write UK mobiles: `07700 100123`,
    /// `+44 (0)7700-100123`, `0044 7700 100123`.
    pub fn parse(raw: &str) -> Result<Self, UkMobileError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(UkMobileError::Missing);
        }
        // libphonenumber reads vanity letters as digits; a list never means that.
        if raw.chars().any(char::is_alphabetic) {
            return Err(UkMobileError::HasLetters);
        }
        let cleaned = raw.replace("(0)", "");
        let number = phonenumber::parse(Some(country::GB), &cleaned)
            .map_err(|_| UkMobileError::NotANumber)?;
        if number.code().value() != 44 {
            return Err(UkMobileError::NotUk);
        }
        if !number.is_valid() {
            return Err(UkMobileError::NotANumber);
        }
        if number.number_type(&phonenumber::metadata::DATABASE) != Type::Mobile {
            return Err(UkMobileError::NotMobile);
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }
}

impl UkMobile {
    /// The national writing, `07700100123`: what practices type, and what a
    /// report must hold to be uploaded again (a leading `+` would be
    /// neutralised as a spreadsheet formula).
    pub fn national(&self) -> String {
        format!("0{}", &self.0[3..])
    }
}

impl AsRef<str> for UkMobile {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UkMobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_writings_normalise_to_e164() {
        for raw in [
            "07700 100123",
            "07700100123",
            "+447700100123",
            "+44 (0)7700 100123",
            "0044 7700 100123",
            "07700-100-123",
        ] {
            assert_eq!(
                UkMobile::parse(raw).unwrap().as_ref(),
                "+447700100123",
                "{raw}"
            );
        }
        assert_eq!(
            UkMobile::parse("+447700100123").unwrap().national(),
            "07700100123"
        );
    }

    #[test]
    fn non_mobiles_are_refused_with_their_reason() {
        assert_eq!(UkMobile::parse(""), Err(UkMobileError::Missing));
        assert_eq!(
            UkMobile::parse("020 7946 0123"),
            Err(UkMobileError::NotMobile)
        );
        assert_eq!(
            UkMobile::parse("0800 123 4567"),
            Err(UkMobileError::NotMobile)
        );
        assert_eq!(
            UkMobile::parse("+33 6 12 34 56 78"),
            Err(UkMobileError::NotUk)
        );
        assert_eq!(
            UkMobile::parse("07700 1OO123"),
            Err(UkMobileError::HasLetters)
        );
        assert_eq!(UkMobile::parse("12"), Err(UkMobileError::NotANumber));
    }
}
