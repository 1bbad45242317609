//! Patient lists: a CSV exported from a clinical system is checked row by
//! row into contactable patients (with their channel) and not-contactable
//! ones (with one reason each).
//!
//! A file that cannot be used at all is refused whole with a [`ListError`]
//! and nothing is stored. A usable file always gives one [`CheckedRow`] per
//! patient row, in input order.

mod check;
mod columns;
mod reader;
mod synthetic;

pub use check::{
    artifact_row, artifact_rows, check_list, CheckedList, CheckedRow, ListChecker, ListCounts,
    Outcome,
};
pub use columns::{ClinicalSystem, Column};
pub use reader::{ListReader, PatientRecord};
pub use synthetic::synthetic_systmone_csv;

use serde::{Deserialize, Serialize};

/// At most this many patient rows in one list.
pub const MAX_PATIENT_ROWS: usize = 100_000;
/// At most this many bytes in one uploaded file.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// At most this many characters in one cell. No column a clinical system
/// exports (a name, an address, a coded entry) comes near it; a longer cell
/// is a broken or hostile file, and would be stored and echoed in reports.
pub const MAX_CELL_CHARS: usize = 1_000;

/// Why a patient on the list cannot be contacted. The serialised names are
/// the codes staff see in reports and the CLI prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotContactableReason {
    InvalidNhsNumber,
    DuplicateNhsNumber,
    InvalidDateOfBirth,
    ContactDetailsNotProvided,
    NotUkMobile,
    InvalidEmail,
    Deceased,
    UnableToRetrieveContactDetails,
    MobileLikelyToFail,
}

impl NotContactableReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidNhsNumber => "invalid_nhs_number",
            Self::DuplicateNhsNumber => "duplicate_nhs_number",
            Self::InvalidDateOfBirth => "invalid_date_of_birth",
            Self::ContactDetailsNotProvided => "contact_details_not_provided",
            Self::NotUkMobile => "not_uk_mobile",
            Self::InvalidEmail => "invalid_email",
            Self::Deceased => "deceased",
            Self::UnableToRetrieveContactDetails => "unable_to_retrieve_contact_details",
            Self::MobileLikelyToFail => "mobile_likely_to_fail",
        }
    }

    /// Counted as "without a valid mobile" in a batch's counts.
    pub fn is_without_valid_mobile(self) -> bool {
        matches!(
            self,
            Self::ContactDetailsNotProvided
                | Self::NotUkMobile
                | Self::UnableToRetrieveContactDetails
        )
    }
}

/// A file that cannot be used at all. Each message names the cause so that
/// staff can fix the export. Serialisable, so that a refusal found by the
/// ingest function can be shown to staff later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ListError {
    #[error("the file is empty")]
    Empty,
    #[error("the file has a header row but no patient rows")]
    NoPatientRows,
    #[error("the file is not a CSV file: {reason}")]
    NotCsv { reason: String },
    #[error("the required column \"{missing}\" is missing; the columns found were: {}", found.join(", "))]
    MissingColumn { missing: String, found: Vec<String> },
    #[error("the file has no header row: its first row looks like a patient's details; export it again with column names")]
    NoHeaderRow,
    #[error("the column \"{column}\" appears more than once")]
    DuplicateColumn { column: String },
    #[error("the file has more than {limit} patient rows; split it into smaller lists")]
    TooManyRows { limit: usize },
    #[error("the file is larger than {limit_mb} MB")]
    TooLarge { limit_mb: usize },
    #[error("row {row}, column \"{column}\": the cell is longer than {limit} characters; check the export")]
    CellTooLong {
        /// The patient row: 1 for the first after the header.
        row: u64,
        column: String,
        limit: usize,
    },
    #[error(
        "the header row's column {column} is longer than {limit} characters; check the export"
    )]
    HeaderTooLong { column: usize, limit: usize },
}

impl ListError {
    /// A stable code for logs and the frontend; unlike the message, it never
    /// quotes the file.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty_file",
            Self::NoPatientRows => "no_patient_rows",
            Self::NotCsv { .. } => "not_csv",
            Self::MissingColumn { .. } => "missing_column",
            Self::NoHeaderRow => "no_header_row",
            Self::DuplicateColumn { .. } => "duplicate_column",
            Self::TooManyRows { .. } => "too_many_rows",
            Self::TooLarge { .. } => "file_too_large",
            Self::CellTooLong { .. } | Self::HeaderTooLong { .. } => "cell_too_long",
        }
    }
}

/// What a checked list looks like from outside: its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSummary {
    pub list_id: String,
    pub system: ClinicalSystem,
    pub patient_count: u64,
    pub contactable_count: u64,
    pub not_contactable_count: u64,
    pub without_valid_mobile_count: u64,
    /// Contactable by email only, or by NHS App with no mobile to fall back
    /// on. Absent from summaries written before these were counted.
    #[serde(default)]
    pub email_only_count: u64,
    #[serde(default)]
    pub nhs_app_only_count: u64,
    /// Everyone sent an NHS App message, with a mobile or without.
    #[serde(default)]
    pub nhs_app_count: u64,
    /// Contactable patients with a valid mobile: who an SMS-only batch
    /// (the inhaler series) reaches. Absent from older summaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_count: Option<u64>,
    /// The longest given name, in characters, for the worst-case length of
    /// a message that greets patients by name.
    #[serde(default)]
    pub longest_given_name: u64,
    /// Hex SHA-256 of the stored checked-list artifact.
    pub artifact_sha256: String,
}
