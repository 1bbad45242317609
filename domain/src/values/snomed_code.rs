//! A SNOMED CT concept identifier: what a batch saves to each patient's
//! record. An SCTID is 6 to 18 digits with no leading zero; its last digit is
//! a Verhoeff check digit and the two before it are the partition
//! identifier, which for a concept is `00` (short format) or `10` (long
//! format, as UK extension codes are).

use std::fmt;

use verhoeff::Verhoeff;

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SnomedCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnomedCodeError {
    #[error("no SNOMED CT code was given")]
    Missing,
    #[error("a SNOMED CT code is digits only")]
    NotDigits,
    #[error("a SNOMED CT code has 6 to 18 digits; this one has {0}")]
    WrongLength(usize),
    #[error("a SNOMED CT code never starts with 0")]
    LeadingZero,
    #[error(
        "this SNOMED CT identifier is not a concept: its partition identifier is {0}, and a concept's is 00 or 10"
    )]
    NotAConcept(String),
    #[error("this SNOMED CT code's check digit is wrong; check that it was copied correctly")]
    BadCheckDigit,
}

impl SnomedCode {
    pub fn parse(raw: &str) -> Result<Self, SnomedCodeError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(SnomedCodeError::Missing);
        }
        if !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SnomedCodeError::NotDigits);
        }
        if !(6..=18).contains(&raw.len()) {
            return Err(SnomedCodeError::WrongLength(raw.len()));
        }
        if raw.starts_with('0') {
            return Err(SnomedCodeError::LeadingZero);
        }
        let partition = &raw[raw.len() - 3..raw.len() - 1];
        if partition != "00" && partition != "10" {
            return Err(SnomedCodeError::NotAConcept(partition.to_owned()));
        }
        if !raw.validate_verhoeff_check_digit() {
            return Err(SnomedCodeError::BadCheckDigit);
        }
        Ok(Self(raw.to_owned()))
    }
}

impl TryFrom<String> for SnomedCode {
    type Error = SnomedCodeError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<SnomedCode> for String {
    fn from(code: SnomedCode) -> Self {
        code.0
    }
}

impl AsRef<str> for SnomedCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SnomedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_concepts_parse() {
        // Diabetes mellitus; asthma; a UK extension (long format) concept.
        for code in ["73211009", "195967001", "1239511000000100"] {
            assert_eq!(SnomedCode::parse(code).unwrap().as_ref(), code);
        }
        assert_eq!(
            SnomedCode::parse(" 73211009 ").unwrap().as_ref(),
            "73211009"
        );
    }

    #[test]
    fn each_bad_code_has_its_own_reason() {
        use SnomedCodeError::*;
        let cases = [
            ("", Missing, "no SNOMED CT code was given"),
            ("7321100X", NotDigits, "a SNOMED CT code is digits only"),
            ("732-11009", NotDigits, "a SNOMED CT code is digits only"),
            ("10009", WrongLength(5), "a SNOMED CT code has 6 to 18 digits; this one has 5"),
            (
                "1234567890123450009",
                WrongLength(19),
                "a SNOMED CT code has 6 to 18 digits; this one has 19",
            ),
            ("073211009", LeadingZero, "a SNOMED CT code never starts with 0"),
            (
                // A description identifier (partition 01), not a concept.
                "41398015",
                NotAConcept("01".into()),
                "this SNOMED CT identifier is not a concept: its partition identifier is 01, and a concept's is 00 or 10",
            ),
            (
                "73211008",
                BadCheckDigit,
                "this SNOMED CT code's check digit is wrong; check that it was copied correctly",
            ),
        ];
        for (raw, error, message) in cases {
            let got = SnomedCode::parse(raw).unwrap_err();
            assert_eq!(got, error, "{raw}");
            assert_eq!(got.to_string(), message, "{raw}");
        }
    }

    #[test]
    fn serde_parses_on_the_way_in() {
        let code: SnomedCode = serde_json::from_str("\"73211009\"").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"73211009\"");
        assert!(serde_json::from_str::<SnomedCode>("\"73211008\"")
            .unwrap_err()
            .to_string()
            .contains("check digit is wrong"));
    }
}
