//! Which columns a clinical system's export has, and how a header cell is
//! matched to them: case, spaces, underscores and hyphens do not matter.

use serde::{Deserialize, Serialize};

use super::ListError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClinicalSystem {
    Emis,
    #[serde(rename = "systmone")]
    SystmOne,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    NhsNumber,
    Mobile,
    GivenName,
}

impl Column {
    pub fn label(self) -> &'static str {
        match self {
            Self::NhsNumber => "NHS Number",
            Self::Mobile => "Mobile",
            Self::GivenName => "Given Name",
        }
    }
}

/// Where each known column sits in a file's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub system: ClinicalSystem,
    pub nhs_number: usize,
    pub mobile: Option<usize>,
    pub given_name: Option<usize>,
}

fn normalise(header: &str) -> String {
    header
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A header cell with six or more digits is a number, a date or a phone
/// number: a patient's row, not a column name.
fn looks_like_patient_data(cell: &str) -> bool {
    cell.chars().filter(char::is_ascii_digit).count() >= 6 || cell.contains('@')
}

const NHS_NUMBER: &[&str] = &["nhsnumber"];
const SYSTMONE_MOBILE: &[&str] = &["telecomnumber"];
const EMIS_MOBILE: &[&str] = &["mobiletelephone", "mobilenumber", "mobile"];
const GIVEN_NAME: &[&str] = &["givenname", "firstname", "forename", "patientname"];

impl Layout {
    /// Finds the columns, detecting the system from the headers when it is
    /// not given.
    pub fn detect(headers: &[String], system: Option<ClinicalSystem>) -> Result<Self, ListError> {
        let normalised: Vec<String> = headers.iter().map(|h| normalise(h)).collect();
        let find = |names: &[&str]| -> Result<Option<usize>, ListError> {
            let mut hits = normalised
                .iter()
                .enumerate()
                .filter(|(_, h)| names.contains(&h.as_str()));
            let first = hits.next().map(|(i, _)| i);
            if let Some((i, _)) = hits.next() {
                return Err(ListError::DuplicateColumn {
                    column: headers[i].trim().to_owned(),
                });
            }
            Ok(first)
        };
        let Some(nhs_number) = find(NHS_NUMBER)? else {
            // Naming the "columns" of a file without a header row would
            // quote a patient's details back.
            if headers.iter().any(|h| looks_like_patient_data(h)) {
                return Err(ListError::NoHeaderRow);
            }
            return Err(ListError::MissingColumn {
                missing: Column::NhsNumber.label().to_owned(),
                found: headers.iter().map(|h| h.trim().to_owned()).collect(),
            });
        };
        let systmone_mobile = find(SYSTMONE_MOBILE)?;
        let emis_mobile = find(EMIS_MOBILE)?;
        let system = system.unwrap_or(if systmone_mobile.is_some() {
            ClinicalSystem::SystmOne
        } else {
            ClinicalSystem::Emis
        });
        let mobile = match system {
            ClinicalSystem::SystmOne => {
                Some(systmone_mobile.ok_or_else(|| ListError::MissingColumn {
                    missing: "Telecom Number".to_owned(),
                    found: headers.iter().map(|h| h.trim().to_owned()).collect(),
                })?)
            }
            ClinicalSystem::Emis => emis_mobile,
        };
        Ok(Self {
            system,
            nhs_number,
            mobile,
            given_name: find(GIVEN_NAME)?,
        })
    }
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
            &headers(&["\u{feff}nhs_number", "TELECOM-NUMBER", "Given Name"]),
            None,
        )
        .unwrap();
        assert_eq!(
            layout,
            Layout {
                system: ClinicalSystem::SystmOne,
                nhs_number: 0,
                mobile: Some(1),
                given_name: Some(2)
            }
        );
    }

    #[test]
    fn a_missing_nhs_number_column_names_the_columns_found() {
        let err = Layout::detect(&headers(&["Name", "Telecom Number"]), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the required column \"NHS Number\" is missing; the columns found were: Name, Telecom Number"
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
    }
}
