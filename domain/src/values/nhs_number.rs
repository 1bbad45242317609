//! The NHS number: ten digits, the last a modulus 11 check digit.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NhsNumber(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    #[error("no NHS number was given")]
    Missing,
    #[error("an NHS number has 10 digits")]
    WrongLength,
    #[error("an NHS number may contain only digits, with spaces or hyphens between groups")]
    NotDigits,
    #[error("the NHS number's check digit is wrong")]
    BadCheckDigit,
}

impl NhsNumber {
    /// Accepts `9434765919`, `943 476 5919` and `943-476-5919`: single spaces
    /// or hyphens between digits, nothing else.
    pub fn parse(raw: &str) -> Result<Self, NhsNumberError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(NhsNumberError::Missing);
        }
        let bytes = raw.as_bytes();
        let mut digits = String::with_capacity(10);
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'0'..=b'9' => digits.push(b as char),
                b' ' | b'-'
                    if i > 0
                        && bytes[i - 1].is_ascii_digit()
                        && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {}
                _ => return Err(NhsNumberError::NotDigits),
            }
        }
        if digits.len() != 10 {
            return Err(NhsNumberError::WrongLength);
        }
        let d = digits.as_bytes();
        if check_digit(d[..9].try_into().expect("ten digits")) != Some(d[9] - b'0') {
            return Err(NhsNumberError::BadCheckDigit);
        }
        Ok(Self(digits))
    }

    /// Builds a valid number from nine digits by computing the check digit,
    /// or `None` where no check digit exists (the modulus gives 10).
    pub fn from_first_nine(first_nine: u32) -> Option<Self> {
        let s = format!("{first_nine:09}");
        if s.len() != 9 {
            return None;
        }
        let d: [u8; 9] = s.as_bytes().try_into().ok()?;
        let check = check_digit(&d)?;
        Some(Self(format!("{s}{check}")))
    }
}

/// The modulus 11 check digit of the first nine digits (ASCII), or `None`
/// when the remainder makes the number unusable.
fn check_digit(first_nine: &[u8; 9]) -> Option<u8> {
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10).rev())
        .map(|(&b, weight)| u32::from(b - b'0') * weight)
        .sum();
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

impl AsRef<str> for NhsNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_number_parses_with_or_without_separators() {
        for raw in ["9434765919", "943 476 5919", "943-476-5919", " 9434765919 "] {
            assert_eq!(
                NhsNumber::parse(raw).unwrap().as_ref(),
                "9434765919",
                "{raw}"
            );
        }
    }

    #[test]
    fn each_bad_number_gets_its_reason() {
        assert_eq!(NhsNumber::parse(""), Err(NhsNumberError::Missing));
        assert_eq!(NhsNumber::parse("   "), Err(NhsNumberError::Missing));
        assert_eq!(
            NhsNumber::parse("943476591"),
            Err(NhsNumberError::WrongLength)
        );
        assert_eq!(
            NhsNumber::parse("94347659190"),
            Err(NhsNumberError::WrongLength)
        );
        assert_eq!(
            NhsNumber::parse("943476591X"),
            Err(NhsNumberError::NotDigits)
        );
        assert_eq!(
            NhsNumber::parse("943  476 5919"),
            Err(NhsNumberError::NotDigits)
        );
        assert_eq!(
            NhsNumber::parse("-9434765919"),
            Err(NhsNumberError::NotDigits)
        );
        assert_eq!(
            NhsNumber::parse("9434765918"),
            Err(NhsNumberError::BadCheckDigit)
        );
    }

    #[test]
    fn a_remainder_of_ten_has_no_valid_check_digit() {
        // 123456789: weighted sum 210, 11 - (210 % 11) = 10.
        assert_eq!(NhsNumber::from_first_nine(123_456_789), None);
        for last in 0..=9 {
            assert_eq!(
                NhsNumber::parse(&format!("123456789{last}")),
                Err(NhsNumberError::BadCheckDigit)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn nine_digits_and_their_check_digit_are_valid_and_no_other_check_digit_is(first_nine in 0u32..1_000_000_000) {
            let body = format!("{first_nine:09}");
            let weighted: u32 = body.bytes().zip((2..=10).rev()).map(|(b, w)| u32::from(b - b'0') * w).sum();
            let expected = match 11 - weighted % 11 {
                11 => Some(0u32),
                10 => None,
                c => Some(c),
            };
            for check in 0..=9u32 {
                let parsed = NhsNumber::parse(&format!("{body}{check}"));
                if Some(check) == expected {
                    proptest::prop_assert_eq!(parsed.unwrap().to_string(), format!("{body}{check}"));
                } else {
                    proptest::prop_assert_eq!(parsed, Err(NhsNumberError::BadCheckDigit));
                }
            }
        }
    }

    #[test]
    fn from_first_nine_makes_numbers_that_parse() {
        let n = NhsNumber::from_first_nine(943_476_591).unwrap();
        assert_eq!(n.as_ref(), "9434765919");
        assert_eq!(NhsNumber::parse(n.as_ref()), Ok(n));
    }
}
