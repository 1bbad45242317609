//! Row checks: each patient row gets exactly one outcome.

use std::collections::HashSet;

use events::Channel;
use serde::{Deserialize, Serialize};

use super::columns::Layout;
use super::{ClinicalSystem, Column, ListError, NotContactableReason};
use super::{MAX_FILE_BYTES, MAX_PATIENT_ROWS};
use crate::values::{NhsNumber, UkMobile};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Contactable,
    NotContactable,
}

/// One patient row after checking. This is also the line format of the
/// checked-list artifact in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedRow {
    /// The 1-based patient row (the header is not counted).
    pub row: u64,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<NotContactableReason>,
    /// The column the reason is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nhs_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedList {
    pub system: ClinicalSystem,
    pub rows: Vec<CheckedRow>,
}

impl CheckedList {
    pub fn contactable_count(&self) -> u64 {
        self.rows
            .iter()
            .filter(|r| r.outcome == Outcome::Contactable)
            .count() as u64
    }

    pub fn without_valid_mobile_count(&self) -> u64 {
        self.rows
            .iter()
            .filter(|r| {
                r.reason
                    .is_some_and(NotContactableReason::is_without_valid_mobile)
            })
            .count() as u64
    }
}

/// Checks a whole uploaded file. File-level problems refuse the file;
/// row-level problems become not-contactable rows.
pub fn check_list(bytes: &[u8], system: Option<ClinicalSystem>) -> Result<CheckedList, ListError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ListError::TooLarge {
            limit_mb: MAX_FILE_BYTES / (1024 * 1024),
        });
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ListError::Empty);
    }
    if bytes.contains(&0) {
        return Err(ListError::NotCsv {
            reason: "it contains binary data".into(),
        });
    }
    let text = decode(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_ref());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ListError::NotCsv {
            reason: csv_problem(&e),
        })?
        .iter()
        .map(str::to_owned)
        .collect();
    if let [only] = &headers[..] {
        if let Some(separator) = other_separator(only) {
            return Err(ListError::NotCsv {
                reason: format!(
                    "its columns are separated by {separator}, not commas; save it as CSV (comma delimited)"
                ),
            });
        }
    }
    let layout = Layout::detect(&headers, system)?;

    let mut rows = Vec::new();
    let mut blank_run = 0u64;
    let mut seen = HashSet::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(ListError::NotCsv {
                    reason: csv_problem(&e),
                })
            }
        }
        if record.iter().all(|cell| cell.trim().is_empty()) {
            blank_run += 1;
            continue;
        }
        // A blank row followed by a patient row is a patient row after all.
        for _ in 0..blank_run {
            let row = rows.len() as u64 + 1;
            rows.push(check_row(
                row,
                &csv::StringRecord::new(),
                &layout,
                &mut seen,
            ));
        }
        blank_run = 0;
        if rows.len() >= MAX_PATIENT_ROWS {
            return Err(ListError::TooManyRows {
                limit: MAX_PATIENT_ROWS,
            });
        }
        let row = rows.len() as u64 + 1;
        rows.push(check_row(row, &record, &layout, &mut seen));
    }
    if rows.is_empty() {
        return Err(ListError::NoPatientRows);
    }
    Ok(CheckedList {
        system: layout.system,
        rows,
    })
}

/// Exports are UTF-8, or Windows-1252 from older systems and from Excel's
/// "CSV" on Windows. Bytes that are not UTF-8 are read as Windows-1252, in
/// which every byte is a character, so decoding never fails.
fn decode(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match std::str::from_utf8(bytes) {
        Ok(_) => bytes.into(),
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            text.into_owned().into_bytes().into()
        }
    }
}

/// A header that is one column holding another separator: a spreadsheet
/// saved with the wrong delimiter.
fn other_separator(header: &str) -> Option<&'static str> {
    [(';', "semicolons"), ('\t', "tabs"), ('|', "vertical bars")]
        .into_iter()
        .find(|(c, _)| header.contains(*c))
        .map(|(_, name)| name)
}

fn csv_problem(_: &csv::Error) -> String {
    "it could not be read as comma-separated values".to_owned()
}

fn check_row(
    row: u64,
    record: &csv::StringRecord,
    layout: &Layout,
    seen: &mut HashSet<NhsNumber>,
) -> CheckedRow {
    let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim();
    let refuse = |reason, column: Column, nhs: Option<&NhsNumber>| CheckedRow {
        row,
        outcome: Outcome::NotContactable,
        reason: Some(reason),
        column: Some(column.label().to_owned()),
        channel: None,
        nhs_number: nhs.map(|n| n.to_string()),
        mobile: None,
        given_name: None,
    };
    let nhs = match NhsNumber::parse(cell(Some(layout.nhs_number))) {
        Ok(n) => n,
        Err(_) => {
            return refuse(
                NotContactableReason::InvalidNhsNumber,
                Column::NhsNumber,
                None,
            )
        }
    };
    if !seen.insert(nhs.clone()) {
        return refuse(
            NotContactableReason::DuplicateNhsNumber,
            Column::NhsNumber,
            Some(&nhs),
        );
    }
    let raw_mobile = cell(layout.mobile);
    if raw_mobile.is_empty() {
        return refuse(
            NotContactableReason::ContactDetailsNotProvided,
            Column::Mobile,
            Some(&nhs),
        );
    }
    let mobile = match UkMobile::parse(raw_mobile) {
        Ok(m) => m,
        Err(_) => {
            return refuse(
                NotContactableReason::NotUkMobile,
                Column::Mobile,
                Some(&nhs),
            )
        }
    };
    let given_name = Some(cell(layout.given_name))
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    CheckedRow {
        row,
        outcome: Outcome::Contactable,
        reason: None,
        column: None,
        channel: Some(Channel::Sms),
        nhs_number: Some(nhs.to_string()),
        mobile: Some(mobile.to_string()),
        given_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "NHS Number,Telecom Number,Given Name\r\n";

    fn check(body: &str) -> Result<CheckedList, ListError> {
        check_list(format!("{HEADER}{body}").as_bytes(), None)
    }

    fn outcome(row: &CheckedRow) -> (u64, Option<NotContactableReason>, Option<&str>) {
        (row.row, row.reason, row.column.as_deref())
    }

    #[test]
    fn a_good_row_is_contactable_by_sms_with_normalised_values() {
        let list = check("943 476 5919,07700 100123,Joe\r\n").unwrap();
        assert_eq!(list.system, ClinicalSystem::SystmOne);
        assert_eq!(
            list.rows,
            vec![CheckedRow {
                row: 1,
                outcome: Outcome::Contactable,
                reason: None,
                column: None,
                channel: Some(Channel::Sms),
                nhs_number: Some("9434765919".into()),
                mobile: Some("+447700100123".into()),
                given_name: Some("Joe".into()),
            }]
        );
    }

    #[test]
    fn each_bad_row_gets_its_row_reason_and_column() {
        let list = check(concat!(
            "9434765918,07700100123,A\r\n",   // bad check digit
            "9434765919,07700100123,B\r\n",   // fine
            "9434765919,07700100124,C\r\n",   // the same patient again
            "4010232137,,D\r\n",              // no mobile
            "4010232137x,07700100125,E\r\n",  // letters in the number
            "5990128088,020 7946 0123,F\r\n"  // a landline
        ))
        .unwrap();
        let outcomes: Vec<_> = list.rows.iter().map(outcome).collect();
        use NotContactableReason::*;
        assert_eq!(
            outcomes,
            vec![
                (1, Some(InvalidNhsNumber), Some("NHS Number")),
                (2, None, None),
                (3, Some(DuplicateNhsNumber), Some("NHS Number")),
                (4, Some(ContactDetailsNotProvided), Some("Mobile")),
                (5, Some(InvalidNhsNumber), Some("NHS Number")),
                (6, Some(NotUkMobile), Some("Mobile")),
            ]
        );
        assert_eq!(list.contactable_count(), 1);
        assert_eq!(list.without_valid_mobile_count(), 2);
    }

    #[test]
    fn trailing_blank_and_comma_only_rows_are_ignored() {
        let list = check("9434765919,07700100123,A\r\n,,\r\n\r\n , ,\r\n").unwrap();
        assert_eq!(list.rows.len(), 1);
    }

    #[test]
    fn a_blank_row_between_patients_is_a_row_without_an_nhs_number() {
        let list = check("9434765919,07700100123,A\r\n,,\r\n4010232137,07700100124,B\r\n").unwrap();
        let outcomes: Vec<_> = list.rows.iter().map(outcome).collect();
        assert_eq!(
            outcomes,
            vec![
                (1, None, None),
                (
                    2,
                    Some(NotContactableReason::InvalidNhsNumber),
                    Some("NHS Number")
                ),
                (3, None, None),
            ]
        );
    }

    #[test]
    fn file_level_refusals_name_their_cause() {
        assert_eq!(check_list(b"", None), Err(ListError::Empty));
        assert_eq!(
            check_list(b"\xef\xbb\xbf \r\n", None),
            Err(ListError::Empty)
        );
        assert_eq!(check(""), Err(ListError::NoPatientRows));
        assert_eq!(check(",,\r\n"), Err(ListError::NoPatientRows));
        assert_eq!(
            check_list(b"PK\x03\x04\x00\x00", None),
            Err(ListError::NotCsv {
                reason: "it contains binary data".into()
            })
        );
        let big = vec![b'a'; MAX_FILE_BYTES + 1];
        assert_eq!(
            check_list(&big, None),
            Err(ListError::TooLarge { limit_mb: 10 })
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(2_000))]

        /// Whatever bytes arrive, the reader answers with rows or a refusal.
        #[test]
        fn arbitrary_bytes_never_panic_the_reader(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = check_list(&bytes, None);
        }

        /// The same, for text that looks like a list: a real header, then
        /// rows of arbitrary cells with quotes, commas and line breaks.
        #[test]
        fn arbitrary_rows_under_a_real_header_never_panic(body in "[0-9a-zA-Z +()\\-\",\r\n\u{feff}é]{0,400}") {
            let list = check_list(format!("{HEADER}{body}").as_bytes(), None);
            if let Ok(list) = list {
                let numbered: Vec<u64> = list.rows.iter().map(|r| r.row).collect();
                proptest::prop_assert_eq!(numbered, (1..=list.rows.len() as u64).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn a_windows_1252_export_is_decoded() {
        let bytes = b"NHS Number,Given Name,Telecom Number\r\n9434765919,Si\xe2n,07700 100123\r\n";
        let list = check_list(bytes, None).unwrap();
        assert_eq!(list.rows[0].given_name.as_deref(), Some("Si\u{e2}n"));
        assert_eq!(list.rows[0].outcome, Outcome::Contactable);
    }

    #[test]
    fn a_spreadsheet_saved_with_another_separator_is_refused_with_its_reason() {
        for (file, separator) in [
            (
                "NHS Number;Telecom Number\n9434765919;07700 100123\n",
                "semicolons",
            ),
            (
                "NHS Number\tTelecom Number\n9434765919\t07700 100123\n",
                "tabs",
            ),
            (
                "NHS Number|Telecom Number\n9434765919|07700 100123\n",
                "vertical bars",
            ),
        ] {
            assert_eq!(
                check_list(file.as_bytes(), None),
                Err(ListError::NotCsv {
                    reason: format!("its columns are separated by {separator}, not commas; save it as CSV (comma delimited)")
                })
            );
        }
    }

    #[test]
    fn quoted_cells_keep_commas_quotes_and_line_breaks() {
        let list =
            check("\"943 476 5919\",\"07700 100123\",\"Jo, \"\"JJ\"\"\nJunior\"\r\n").unwrap();
        assert_eq!(
            list.rows[0].given_name.as_deref(),
            Some("Jo, \"JJ\"\nJunior")
        );
        assert_eq!(list.rows.len(), 1);
    }

    #[test]
    fn more_than_the_row_limit_is_refused() {
        let mut body = String::from(HEADER);
        for _ in 0..=MAX_PATIENT_ROWS {
            body.push_str("1,\n");
        }
        assert_eq!(
            check_list(body.as_bytes(), None),
            Err(ListError::TooManyRows { limit: 100_000 })
        );
    }
}
