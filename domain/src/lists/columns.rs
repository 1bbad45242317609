//! Which columns a clinical system's export has, and how a header cell is
//! matched to them: case, spaces, underscores and hyphens do not matter.
//!
//! - **SystmOne** (and EMIS Wales, which exports the same columns): NHS
//!   Number, Telecom Number (the mobile) and Date of Birth; a name and an
//!   Email Address are optional.
//! - **EMIS**: NHS Number only (the rest comes from demographics), or the
//!   search export's Given Name, Family Name, Date of Birth, NHS Number,
//!   Mobile Telephone and E-mail Address.
//! - **Vision**: its search export's NHS No, Date of Birth and Mobile Phone;
//!   Forename, Surname and Email optional.
//!
//! Without `--system`, the system is detected from the headers: a Telecom
//! Number column is SystmOne's, an `NHS No` or `Mobile Phone` column is
//! Vision's, and anything else is EMIS.

use serde::{Deserialize, Serialize};

use super::ListError;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClinicalSystem {
    Emis,
    #[serde(rename = "systmone")]
    SystmOne,
    Vision,
}

impl ClinicalSystem {
    /// A system by the name `as_str` gives it.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Emis, Self::SystmOne, Self::Vision]
            .into_iter()
            .find(|system| system.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Emis => "emis",
            Self::SystmOne => "systmone",
            Self::Vision => "vision",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    NhsNumber,
    Mobile,
    Email,
    DateOfBirth,
    GivenName,
    FamilyName,
}

impl Column {
    /// The name reasons are given against: the system's own header text.
    pub fn label(self, system: ClinicalSystem) -> &'static str {
        match (self, system) {
            (Self::NhsNumber, ClinicalSystem::Vision) => "NHS No",
            (Self::NhsNumber, _) => "NHS Number",
            (Self::Mobile, ClinicalSystem::SystmOne) => "Telecom Number",
            (Self::Mobile, ClinicalSystem::Emis) => "Mobile Telephone",
            (Self::Mobile, ClinicalSystem::Vision) => "Mobile Phone",
            (Self::Email, ClinicalSystem::Emis) => "E-mail Address",
            (Self::Email, _) => "Email Address",
            (Self::DateOfBirth, _) => "Date of Birth",
            (Self::GivenName, ClinicalSystem::Vision) => "Forename",
            (Self::GivenName, _) => "Given Name",
            (Self::FamilyName, ClinicalSystem::Vision) => "Surname",
            (Self::FamilyName, _) => "Family Name",
        }
    }

    /// Header spellings, normalised (see [`normalise`]).
    fn names(self) -> &'static [&'static str] {
        match self {
            Self::NhsNumber => &["nhsnumber", "nhsno", "nhsnum"],
            Self::Mobile => &[
                "telecomnumber",
                "mobiletelephone",
                "mobilenumber",
                "mobilephone",
                "mobileno",
                "mobiletelno",
                "mobile",
            ],
            Self::Email => &["emailaddress", "email"],
            Self::DateOfBirth => &["dateofbirth", "dob", "birthdate"],
            Self::GivenName => &[
                "givenname",
                "firstname",
                "forename",
                "forenames",
                "patientname",
                "name",
            ],
            Self::FamilyName => &["familyname", "surname", "lastname"],
        }
    }

    fn required(self, system: ClinicalSystem) -> bool {
        match system {
            ClinicalSystem::Emis => self == Self::NhsNumber,
            ClinicalSystem::SystmOne | ClinicalSystem::Vision => {
                matches!(self, Self::NhsNumber | Self::Mobile | Self::DateOfBirth)
            }
        }
    }
}

/// Where each known column sits in a file's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub system: ClinicalSystem,
    pub nhs_number: usize,
    pub mobile: Option<usize>,
    pub email: Option<usize>,
    pub date_of_birth: Option<usize>,
    pub given_name: Option<usize>,
    pub family_name: Option<usize>,
}

fn normalise(header: &str) -> String {
    header
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A header cell with six or more digits is a number, a date or a phone
/// number: a patient's row, not a column name.
fn looks_like_patient_data(cell: &str) -> bool {
    cell.chars().filter(char::is_ascii_digit).count() >= 6 || cell.contains('@')
}

impl Layout {
    /// Finds the columns, detecting the system from the headers when it is
    /// not given.
    pub fn detect(headers: &[String], system: Option<ClinicalSystem>) -> Result<Self, ListError> {
        let normalised: Vec<String> = headers.iter().map(|h| normalise(h)).collect();
        let found = || headers.iter().map(|h| clean(h).to_owned()).collect();
        let find = |column: Column| -> Result<Option<usize>, ListError> {
            let mut hits = normalised
                .iter()
                .enumerate()
                .filter(|(_, h)| column.names().contains(&h.as_str()));
            let first = hits.next().map(|(i, _)| i);
            if let Some((i, _)) = hits.next() {
                return Err(ListError::DuplicateColumn {
                    column: clean(&headers[i]).to_owned(),
                });
            }
            Ok(first)
        };
        let Some(nhs_number) = find(Column::NhsNumber)? else {
            // Naming the "columns" of a file without a header row would
            // quote a patient's details back.
            if headers.iter().any(|h| looks_like_patient_data(h)) {
                return Err(ListError::NoHeaderRow);
            }
            return Err(ListError::MissingColumn {
                missing: Column::NhsNumber
                    .label(system.unwrap_or(ClinicalSystem::Emis))
                    .to_owned(),
                found: found(),
            });
        };
        let has = |name: &str| normalised.iter().any(|h| h == name);
        let system = system.unwrap_or(if has("telecomnumber") {
            ClinicalSystem::SystmOne
        } else if has("nhsno") || has("mobilephone") {
            ClinicalSystem::Vision
        } else {
            ClinicalSystem::Emis
        });
        let column = |c: Column| -> Result<Option<usize>, ListError> {
            let at = find(c)?;
            if at.is_none() && c.required(system) {
                return Err(ListError::MissingColumn {
                    missing: c.label(system).to_owned(),
                    found: found(),
                });
            }
            Ok(at)
        };
        Ok(Self {
            system,
            nhs_number,
            mobile: column(Column::Mobile)?,
            email: column(Column::Email)?,
            date_of_birth: column(Column::DateOfBirth)?,
            given_name: column(Column::GivenName)?,
            family_name: column(Column::FamilyName)?,
        })
    }
}

/// A header as staff wrote it, without the byte-order mark or padding.
fn clean(header: &str) -> &str {
    header.trim().trim_start_matches('\u{feff}').trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn headers_match_regardless_of_case_spaces_underscores_and_hyphens() {
        let layout = Layout::detect(
            &headers(&[
                "\u{feff}nhs_number",
                "TELECOM-NUMBER",
                "Given Name",
                "date of birth",
            ]),
            None,
        )
        .unwrap();
        assert_eq!(
            layout,
            Layout {
                system: ClinicalSystem::SystmOne,
                nhs_number: 0,
                mobile: Some(1),
                email: None,
                date_of_birth: Some(3),
                given_name: Some(2),
                family_name: None,
            }
        );
    }

    #[test]
    fn each_system_is_detected_from_its_headers() {
        let detect = |h: &[&str]| Layout::detect(&headers(h), None).map(|l| l.system);
        assert_eq!(detect(&["NHS Number"]), Ok(ClinicalSystem::Emis));
        assert_eq!(
            detect(&[
                "Given Name",
                "Family Name",
                "Date of Birth",
                "NHS Number",
                "Mobile Telephone",
                "E-mail Address"
            ]),
            Ok(ClinicalSystem::Emis)
        );
        assert_eq!(
            detect(&["NHS Number", "Telecom Number", "Date of Birth"]),
            Ok(ClinicalSystem::SystmOne)
        );
        assert_eq!(
            detect(&[
                "Forename",
                "Surname",
                "Date of Birth",
                "NHS No.",
                "Mobile Phone"
            ]),
            Ok(ClinicalSystem::Vision)
        );
    }

    #[test]
    fn the_emis_search_export_finds_every_column() {
        let layout = Layout::detect(
            &headers(&[
                "Given Name",
                "Family Name",
                "Date of Birth",
                "NHS Number",
                "Mobile Telephone",
                "E-mail Address",
            ]),
            None,
        )
        .unwrap();
        assert_eq!(
            layout,
            Layout {
                system: ClinicalSystem::Emis,
                nhs_number: 3,
                mobile: Some(4),
                email: Some(5),
                date_of_birth: Some(2),
                given_name: Some(0),
                family_name: Some(1),
            }
        );
    }

    #[test]
    fn a_missing_nhs_number_column_names_the_columns_found() {
        let err = Layout::detect(&headers(&["Forename", "Telecom Number"]), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the required column \"NHS Number\" is missing; the columns found were: Forename, Telecom Number"
        );
    }

    #[test]
    fn a_systmone_or_vision_list_needs_its_mobile_and_date_of_birth() {
        assert_eq!(
            Layout::detect(&headers(&["NHS Number", "Telecom Number"]), None),
            Err(ListError::MissingColumn {
                missing: "Date of Birth".into(),
                found: vec!["NHS Number".into(), "Telecom Number".into()]
            })
        );
        assert_eq!(
            Layout::detect(
                &headers(&["NHS No", "Date of Birth"]),
                Some(ClinicalSystem::Vision)
            ),
            Err(ListError::MissingColumn {
                missing: "Mobile Phone".into(),
                found: vec!["NHS No".into(), "Date of Birth".into()]
            })
        );
        assert_eq!(
            Layout::detect(
                &headers(&["NHS Number", "Date of Birth"]),
                Some(ClinicalSystem::SystmOne)
            ),
            Err(ListError::MissingColumn {
                missing: "Telecom Number".into(),
                found: vec!["NHS Number".into(), "Date of Birth".into()]
            })
        );
    }

    #[test]
    fn a_file_without_a_header_row_is_refused_without_quoting_it() {
        let err =
            Layout::detect(&headers(&["943 476 5919", "07700 100123", "Joe"]), None).unwrap_err();
        assert_eq!(err, ListError::NoHeaderRow);
        assert_eq!(
            err.to_string(),
            "the file has no header row: its first row looks like a patient's details; export it again with column names"
        );
        let err = Layout::detect(&headers(&["Name", "joe@example.com"]), None).unwrap_err();
        assert_eq!(err, ListError::NoHeaderRow);
    }

    #[test]
    fn a_column_given_twice_is_refused() {
        let err =
            Layout::detect(&headers(&["NHS Number", "nhs number", "Mobile"]), None).unwrap_err();
        assert_eq!(
            err,
            ListError::DuplicateColumn {
                column: "nhs number".into()
            }
        );
        let err =
            Layout::detect(&headers(&["NHS Number", "Email", "E-mail Address"]), None).unwrap_err();
        assert_eq!(
            err,
            ListError::DuplicateColumn {
                column: "E-mail Address".into()
            }
        );
    }
}
