//! Row checks: each patient row gets exactly one outcome. Rows are checked
//! as they are read, so a caller that streams them onwards holds one row at a
//! time (and the NHS numbers seen, to find duplicates).

use std::collections::HashSet;
use std::io::Read;

use chrono::NaiveDate;
use events::Channel;
use serde::{Deserialize, Serialize};

use super::columns::Layout;
use super::reader::{ListReader, PatientRecord};
use super::{ClinicalSystem, Column, ListError, NotContactableReason};
use crate::values::{DateOfBirth, EmailAddress, NhsNumber, UkMobile};

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
    /// The column the reason is about, as the export names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Ten digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nhs_number: Option<String>,
    /// E.164.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// ISO 8601.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
}

/// The rows of a checked-list artifact (`checked.jsonl`: one JSON row per
/// line, as `check_and_store` writes it), in list order.
pub fn artifact_rows(
    artifact: &[u8],
) -> impl Iterator<Item = Result<CheckedRow, serde_json::Error>> + '_ {
    artifact
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(serde_json::from_slice)
}

/// One row of an artifact, found by binary search over its lines (rows are
/// written in ascending order), so a look-up parses a few lines, not all.
pub fn artifact_row(artifact: &[u8], row: u64) -> Result<Option<CheckedRow>, serde_json::Error> {
    // The line starting at or after `at`, and where it ends.
    let line_from = |at: usize| -> Option<(usize, usize)> {
        let start = if at == 0 {
            0
        } else {
            at + artifact[at..].iter().position(|&b| b == b'\n')? + 1
        };
        let end = start
            + artifact[start..]
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(artifact.len() - start);
        (start < end).then_some((start, end))
    };
    let (mut low, mut high) = (0usize, artifact.len());
    while low < high {
        let middle = low + (high - low) / 2;
        let Some((start, end)) = line_from(middle) else {
            high = middle;
            continue;
        };
        let found: CheckedRow = serde_json::from_slice(&artifact[start..end])?;
        match found.row.cmp(&row) {
            std::cmp::Ordering::Equal => return Ok(Some(found)),
            std::cmp::Ordering::Less => low = end,
            std::cmp::Ordering::Greater => high = middle,
        }
    }
    Ok(None)
}

impl CheckedRow {
    /// Makes the row not contactable for `reason`, keeping what was read.
    pub fn refuse(&mut self, reason: NotContactableReason, column: Option<&str>) {
        self.outcome = Outcome::NotContactable;
        self.reason = Some(reason);
        self.column = column.map(str::to_owned);
        self.channel = None;
    }

    /// Makes the row contactable on `channel`.
    pub fn contact_by(&mut self, channel: Channel) {
        self.outcome = Outcome::Contactable;
        self.reason = None;
        self.column = None;
        self.channel = Some(channel);
    }
}

/// Counts kept while a list is checked, for its summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListCounts {
    pub patients: u64,
    pub contactable: u64,
    pub without_valid_mobile: u64,
    /// Contactable only by email, or only by NHS App (no mobile to fall
    /// back on).
    pub email_only: u64,
    pub nhs_app_only: u64,
    /// Sent by NHS App, with or without a mobile to fall back to.
    pub nhs_app: u64,
    /// Contactable with a valid mobile: who an SMS-only batch reaches.
    pub with_mobile: u64,
    /// In characters: how long `((name))` can make a message.
    pub longest_given_name: u64,
}

impl ListCounts {
    pub fn add(&mut self, row: &CheckedRow) {
        self.patients += 1;
        if row.outcome == Outcome::Contactable {
            self.contactable += 1;
            match row.channel {
                Some(Channel::Email) => self.email_only += 1,
                Some(Channel::NhsApp) if row.mobile.is_none() => self.nhs_app_only += 1,
                _ => {}
            }
            if row.channel == Some(Channel::NhsApp) {
                self.nhs_app += 1;
            }
            if row.mobile.is_some() {
                self.with_mobile += 1;
            }
            let name = row.given_name.as_deref().map_or(0, |n| n.chars().count());
            self.longest_given_name = self.longest_given_name.max(name as u64);
        }
        if row
            .reason
            .is_some_and(NotContactableReason::is_without_valid_mobile)
        {
            self.without_valid_mobile += 1;
        }
    }

    pub fn not_contactable(&self) -> u64 {
        self.patients - self.contactable
    }
}

/// A whole list checked in memory: for tests and small files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedList {
    pub system: ClinicalSystem,
    pub rows: Vec<CheckedRow>,
}

impl CheckedList {
    pub fn counts(&self) -> ListCounts {
        let mut counts = ListCounts::default();
        self.rows.iter().for_each(|r| counts.add(r));
        counts
    }
}

/// Checks a whole file held in memory. File-level problems refuse the file;
/// row-level problems become not-contactable rows.
pub fn check_list(
    bytes: &[u8],
    system: Option<ClinicalSystem>,
    today: NaiveDate,
) -> Result<CheckedList, ListError> {
    let mut checker = ListChecker::open(bytes, system, today)?;
    let mut rows = Vec::new();
    while let Some(row) = checker.next_row()? {
        rows.push(row);
    }
    Ok(CheckedList {
        system: checker.system(),
        rows,
    })
}

/// Checks a list as it is read.
pub struct ListChecker<R: Read> {
    reader: ListReader<R>,
    layout: Layout,
    today: NaiveDate,
    seen: HashSet<u64>,
}

impl<R: Read> ListChecker<R> {
    /// Reads the header and finds the columns. `today` is the practice's
    /// date, for dates of birth in the future.
    pub fn open(
        input: R,
        system: Option<ClinicalSystem>,
        today: NaiveDate,
    ) -> Result<Self, ListError> {
        let reader = ListReader::open(input)?;
        let layout = Layout::detect(reader.headers(), system)?;
        Ok(Self {
            reader,
            layout,
            today,
            seen: HashSet::new(),
        })
    }

    pub fn system(&self) -> ClinicalSystem {
        self.layout.system
    }

    pub fn headers(&self) -> &[String] {
        self.reader.headers()
    }

    pub fn bytes_read(&self) -> u64 {
        self.reader.bytes_read()
    }

    /// The next row checked; `None` at the end of the list.
    pub fn next_row(&mut self) -> Result<Option<CheckedRow>, ListError> {
        let Some(record) = self.reader.next_record()? else {
            return Ok(None);
        };
        Ok(Some(check_row(
            &record,
            &self.layout,
            self.today,
            &mut self.seen,
        )))
    }
}

fn check_row(
    record: &PatientRecord<'_>,
    layout: &Layout,
    today: NaiveDate,
    seen: &mut HashSet<u64>,
) -> CheckedRow {
    let label = |c: Column| Some(c.label(layout.system));
    let mut checked = CheckedRow {
        row: record.row,
        outcome: Outcome::NotContactable,
        reason: None,
        column: None,
        channel: None,
        nhs_number: None,
        mobile: None,
        email: None,
        date_of_birth: None,
        given_name: given_name(&record.cell(layout.given_name)),
    };
    let Ok(nhs) = NhsNumber::parse(&record.cell(Some(layout.nhs_number))) else {
        checked.refuse(
            NotContactableReason::InvalidNhsNumber,
            label(Column::NhsNumber),
        );
        return checked;
    };
    let digits: u64 = nhs.as_ref().parse().expect("ten digits");
    checked.nhs_number = Some(nhs.to_string());
    if !seen.insert(digits) {
        checked.refuse(
            NotContactableReason::DuplicateNhsNumber,
            label(Column::NhsNumber),
        );
        return checked;
    }
    if layout.date_of_birth.is_some() {
        match DateOfBirth::parse(&record.cell(layout.date_of_birth), today) {
            Ok(dob) => checked.date_of_birth = Some(dob.to_string()),
            Err(_) => {
                checked.refuse(
                    NotContactableReason::InvalidDateOfBirth,
                    label(Column::DateOfBirth),
                );
                return checked;
            }
        }
    }
    let mobile = record.cell(layout.mobile);
    if !mobile.is_empty() {
        checked.mobile = UkMobile::parse(&mobile).ok().map(|m| m.to_string());
    }
    // An email given is the channel; a bad one is never quietly swapped for
    // a text message.
    let email = record.cell(layout.email);
    if !email.is_empty() {
        match EmailAddress::parse(&email) {
            Ok(email) => {
                checked.email = Some(email.to_string());
                checked.contact_by(Channel::Email);
            }
            Err(_) => checked.refuse(NotContactableReason::InvalidEmail, label(Column::Email)),
        }
        return checked;
    }
    if mobile.is_empty() {
        checked.refuse(
            NotContactableReason::ContactDetailsNotProvided,
            label(Column::Mobile),
        );
    } else if checked.mobile.is_none() {
        checked.refuse(NotContactableReason::NotUkMobile, label(Column::Mobile));
    } else {
        checked.contact_by(Channel::Sms);
    }
    checked
}

/// The name to greet a patient by: the first name in a name column (`Joe`,
/// `Joe Bloggs`, `BLOGGS, Joe`, `Mr Joe Bloggs`).
fn given_name(cell: &str) -> Option<String> {
    const TITLES: &[&str] = &["mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev"];
    let name = cell.split_once(',').map_or(cell, |(_, given)| given);
    name.split_whitespace()
        .find(|w| !TITLES.contains(&w.trim_end_matches('.').to_lowercase().as_str()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::{MAX_FILE_BYTES, MAX_PATIENT_ROWS};
    use NotContactableReason::*;

    const HEADER: &str = "NHS Number,Telecom Number,Given Name,Date of Birth\r\n";

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn check(body: &str) -> Result<CheckedList, ListError> {
        check_list(format!("{HEADER}{body}").as_bytes(), None, today())
    }

    fn outcome(row: &CheckedRow) -> (u64, Option<NotContactableReason>, Option<&str>) {
        (row.row, row.reason, row.column.as_deref())
    }

    #[test]
    fn a_row_is_found_in_the_artifact_by_its_number() {
        let mut body = String::new();
        for n in 0..500u32 {
            let nhs = crate::values::NhsNumber::from_first_nine(600_000_001 + n)
                .map_or_else(|| "bad".to_owned(), |n| n.to_string());
            body.push_str(&format!(
                "{nhs},07700 {:06},Jo{},08-Apr-1947\r\n",
                100_000 + n,
                "e".repeat((n % 7) as usize)
            ));
        }
        let list = check(&body).unwrap();
        let artifact: Vec<u8> = list
            .rows
            .iter()
            .flat_map(|r| {
                let mut line = serde_json::to_vec(r).unwrap();
                line.push(b'\n');
                line
            })
            .collect();
        for row in &list.rows {
            assert_eq!(
                artifact_row(&artifact, row.row).unwrap().as_ref(),
                Some(row)
            );
        }
        assert_eq!(artifact_row(&artifact, 0).unwrap(), None);
        assert_eq!(artifact_row(&artifact, 501).unwrap(), None);
        assert_eq!(artifact_row(b"", 1).unwrap(), None);
    }

    #[test]
    fn a_good_row_is_contactable_by_sms_with_normalised_values() {
        let list = check("943 476 5919,07700 100123,Joe,08-Apr-1947\r\n").unwrap();
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
                email: None,
                date_of_birth: Some("1947-04-08".into()),
                given_name: Some("Joe".into()),
            }]
        );
    }

    #[test]
    fn each_bad_row_gets_its_row_reason_and_column() {
        let list = check(concat!(
            "9434765918,07700100123,A,01/01/1950\r\n", // bad check digit
            "9434765919,07700100123,B,01/01/1950\r\n", // fine
            "9434765919,07700100124,C,01/01/1950\r\n", // the same patient again
            "4010232137,,D,01/01/1950\r\n",            // no mobile
            "4010232137x,07700100125,E,01/01/1950\r\n", // letters in the number
            "5990128088,020 7946 0123,F,01/01/1950\r\n", // a landline
            "6541726817,07700100126,G,31/02/1950\r\n", // no such date
            "7509195810,07700100127,H,01/01/2027\r\n", // born in the future
            ",07700100128,I,01/01/1950\r\n"            // no NHS number
        ))
        .unwrap();
        let outcomes: Vec<_> = list.rows.iter().map(outcome).collect();
        assert_eq!(
            outcomes,
            vec![
                (1, Some(InvalidNhsNumber), Some("NHS Number")),
                (2, None, None),
                (3, Some(DuplicateNhsNumber), Some("NHS Number")),
                (4, Some(ContactDetailsNotProvided), Some("Telecom Number")),
                (5, Some(InvalidNhsNumber), Some("NHS Number")),
                (6, Some(NotUkMobile), Some("Telecom Number")),
                (7, Some(InvalidDateOfBirth), Some("Date of Birth")),
                (8, Some(InvalidDateOfBirth), Some("Date of Birth")),
                (9, Some(InvalidNhsNumber), Some("NHS Number")),
            ]
        );
        // The duplicate keeps the number it repeats; the others keep nothing
        // they could not read.
        assert_eq!(list.rows[2].nhs_number.as_deref(), Some("9434765919"));
        assert_eq!(list.rows[0].nhs_number, None);
        let counts = list.counts();
        assert_eq!(
            (
                counts.patients,
                counts.contactable,
                counts.without_valid_mobile
            ),
            (9, 1, 2)
        );
    }

    #[test]
    fn mobiles_in_every_common_writing_normalise_and_the_rest_are_refused() {
        let numbers = [
            ("+44 7700 100123", Some("+447700100123")),
            ("0044 7700 100123", Some("+447700100123")),
            ("+44 (0)7700-100-123", Some("+447700100123")),
            ("(07700) 100123", Some("+447700100123")),
            ("020 7946 0123", None),     // landline
            ("09098 790123", None),      // premium rate
            ("0800 123 4567", None),     // freephone
            ("+33 6 12 34 56 78", None), // international
            ("07700 1OO123", None),      // letters
        ];
        let mut body = String::new();
        for (i, (raw, _)) in numbers.iter().enumerate() {
            let nhs = NhsNumber::from_first_nine(400_000_001 + i as u32 * 7)
                .or_else(|| NhsNumber::from_first_nine(400_000_002 + i as u32 * 7))
                .unwrap();
            body.push_str(&format!("{nhs},\"{raw}\",A,01/01/1950\r\n"));
        }
        let list = check(&body).unwrap();
        for (row, (raw, expected)) in list.rows.iter().zip(numbers) {
            match expected {
                Some(e164) => {
                    assert_eq!(row.mobile.as_deref(), Some(e164), "{raw}");
                    assert_eq!(row.channel, Some(Channel::Sms), "{raw}");
                }
                None => {
                    assert_eq!(row.reason, Some(NotUkMobile), "{raw}");
                    assert_eq!(row.mobile, None, "{raw}");
                }
            }
        }
    }

    #[test]
    fn an_email_is_the_channel_and_a_bad_one_never_falls_back_to_sms() {
        let file = "NHS Number,Telecom Number,Date of Birth,Email Address\r\n\
                    9434765919,07700 100123,1947-04-08, joe@example.com \r\n\
                    4010232137,07700 100124,1947-04-08,joe@example\r\n\
                    5990128088,,1947-04-08,mary@nhs.net\r\n";
        let list = check_list(file.as_bytes(), None, today()).unwrap();
        assert_eq!(list.rows[0].channel, Some(Channel::Email));
        assert_eq!(list.rows[0].email.as_deref(), Some("joe@example.com"));
        assert_eq!(list.rows[0].mobile.as_deref(), Some("+447700100123"));
        assert_eq!(
            outcome(&list.rows[1]),
            (2, Some(InvalidEmail), Some("Email Address"))
        );
        assert_eq!(list.rows[1].channel, None);
        assert_eq!(list.rows[2].channel, Some(Channel::Email));
    }

    #[test]
    fn an_emis_search_export_and_a_vision_export_are_checked_by_their_columns() {
        let emis =
            "Given Name,Family Name,Date of Birth,NHS Number,Mobile Telephone,E-mail Address\r\n\
                    Joe,Bloggs,08/04/1947,943 476 5919,07700 100123,\r\n\
                    Mary,Jones,08/04/1947,4010232137,07700 100124,mary@example\r\n";
        let list = check_list(emis.as_bytes(), None, today()).unwrap();
        assert_eq!(list.system, ClinicalSystem::Emis);
        assert_eq!(list.rows[0].channel, Some(Channel::Sms));
        assert_eq!(
            outcome(&list.rows[1]),
            (2, Some(InvalidEmail), Some("E-mail Address"))
        );

        let vision = "Forename,Surname,Date of Birth,NHS No,Mobile Phone\r\n\
                      Siân,Evans,8 April 1947,943-476-5919,07700 100123\r\n\
                      Rhys,Evans,1947-04-08,4010232137,01632 960123\r\n";
        let list = check_list(vision.as_bytes(), None, today()).unwrap();
        assert_eq!(list.system, ClinicalSystem::Vision);
        assert_eq!(list.rows[0].given_name.as_deref(), Some("Siân"));
        assert_eq!(list.rows[0].date_of_birth.as_deref(), Some("1947-04-08"));
        assert_eq!(
            outcome(&list.rows[1]),
            (2, Some(NotUkMobile), Some("Mobile Phone"))
        );
    }

    #[test]
    fn an_emis_list_of_nhs_numbers_only_needs_contact_details() {
        let list = check_list(b"NHS Number\r\n9434765919\r\n", None, today()).unwrap();
        assert_eq!(list.system, ClinicalSystem::Emis);
        assert_eq!(
            outcome(&list.rows[0]),
            (1, Some(ContactDetailsNotProvided), Some("Mobile Telephone"))
        );
        assert_eq!(list.rows[0].nhs_number.as_deref(), Some("9434765919"));
    }

    #[test]
    fn a_name_column_greets_by_the_first_name() {
        for (cell, expected) in [
            ("Joe", Some("Joe")),
            ("Joe Bloggs", Some("Joe")),
            ("BLOGGS, Joe", Some("Joe")),
            ("Mr. Joe Bloggs", Some("Joe")),
            ("", None),
        ] {
            assert_eq!(given_name(cell).as_deref(), expected, "{cell}");
        }
    }

    #[test]
    fn trailing_blank_and_comma_only_rows_are_ignored() {
        let list = check("9434765919,07700100123,A,01/01/1950\r\n,,,\r\n\r\n , , ,\r\n").unwrap();
        assert_eq!(list.rows.len(), 1);
    }

    #[test]
    fn a_blank_row_between_patients_is_a_row_without_an_nhs_number() {
        let list = check(
            "9434765919,07700100123,A,01/01/1950\r\n,,,\r\n4010232137,07700100124,B,01/01/1950\r\n",
        )
        .unwrap();
        let outcomes: Vec<_> = list.rows.iter().map(outcome).collect();
        assert_eq!(
            outcomes,
            vec![
                (1, None, None),
                (2, Some(InvalidNhsNumber), Some("NHS Number")),
                (3, None, None),
            ]
        );
    }

    #[test]
    fn file_level_refusals_name_their_cause() {
        let check_bytes = |b: &[u8]| check_list(b, None, today());
        assert_eq!(check_bytes(b""), Err(ListError::Empty));
        assert_eq!(check_bytes(b"\xef\xbb\xbf \r\n"), Err(ListError::Empty));
        assert_eq!(check(""), Err(ListError::NoPatientRows));
        assert_eq!(check(",,,\r\n"), Err(ListError::NoPatientRows));
        assert_eq!(
            check_bytes(b"PK\x03\x04\x00\x00"),
            Err(ListError::NotCsv {
                reason: "it contains binary data".into()
            })
        );
        let mut big = b"NHS Number,Note\n1,".to_vec();
        big.resize(MAX_FILE_BYTES + 1, b'a');
        assert_eq!(check_bytes(&big), Err(ListError::TooLarge { limit_mb: 10 }));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(2_000))]

        /// Whatever bytes arrive, the reader answers with rows or a refusal.
        #[test]
        fn arbitrary_bytes_never_panic_the_reader(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = check_list(&bytes, None, today());
        }

        /// The same, for text that looks like a list: a real header, then
        /// rows of arbitrary cells with quotes, commas and line breaks.
        #[test]
        fn arbitrary_rows_under_a_real_header_never_panic(body in "[0-9a-zA-Z +()\\-\",/@.\r\n\u{feff}é]{0,400}") {
            let list = check_list(format!("{HEADER}{body}").as_bytes(), None, today());
            if let Ok(list) = list {
                let numbered: Vec<u64> = list.rows.iter().map(|r| r.row).collect();
                proptest::prop_assert_eq!(numbered, (1..=list.rows.len() as u64).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn a_windows_1252_export_is_decoded() {
        let bytes = b"NHS Number,Given Name,Telecom Number,DOB\r\n9434765919,Si\xe2n,07700 100123,08/04/1947\r\n";
        let list = check_list(bytes, None, today()).unwrap();
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
                check_list(file.as_bytes(), None, today()),
                Err(ListError::NotCsv {
                    reason: format!("its columns are separated by {separator}, not commas; save it as CSV (comma delimited)")
                })
            );
        }
    }

    #[test]
    fn quoted_cells_keep_commas_quotes_and_line_breaks() {
        let list = check(
            "\"943 476 5919\",\"07700 100123\",\"Jo, \"\"JJ\"\"\nJunior\",\"08/04/1947\"\r\n",
        )
        .unwrap();
        assert_eq!(list.rows[0].outcome, Outcome::Contactable);
        assert_eq!(list.rows.len(), 1);
        let file = format!("{HEADER}\"943 476 5919\",\"07700 100123\",\"Jo, \"\"JJ\"\"\nJunior\",\"08/04/1947\"\r\n");
        let mut reader = ListReader::open(file.as_bytes()).unwrap();
        let record = reader.next_record().unwrap().unwrap();
        assert_eq!(record.cells(4)[2], "Jo, \"JJ\"\nJunior");
    }

    #[test]
    fn more_than_the_row_limit_is_refused() {
        let mut body = String::from(HEADER);
        for _ in 0..=MAX_PATIENT_ROWS {
            body.push_str("1,\n");
        }
        assert_eq!(
            check_list(body.as_bytes(), None, today()),
            Err(ListError::TooManyRows { limit: 100_000 })
        );
    }
}
