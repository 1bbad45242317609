//! Reading an export one patient row at a time, so that memory does not grow
//! with the list. The same reader numbers the rows for checking and for the
//! reports that give staff their uploaded columns back, so the two always
//! agree on which row is which.

use std::borrow::Cow;
use std::io::Read;

use super::{ListError, MAX_CELL_CHARS, MAX_FILE_BYTES, MAX_PATIENT_ROWS};

/// Reads patient rows from an export: UTF-8 or Windows-1252, with or without
/// a byte-order mark, CRLF or LF, quoted cells with commas, quotes and line
/// breaks. Blank and comma-only rows at the end are ignored; a blank row
/// between patients is a patient row with nothing in it.
pub struct ListReader<R: Read> {
    csv: csv::Reader<R>,
    headers: Vec<String>,
    record: csv::ByteRecord,
    /// Blank rows read but not yet given out: they only count as patient
    /// rows if a patient row follows them.
    blank_run: u64,
    /// Blank rows to give out before `record`.
    pending_blank: u64,
    /// `record` holds a patient row not yet given out.
    held: bool,
    rows: u64,
}

/// One patient row: its 1-based number and its cells.
pub struct PatientRecord<'a> {
    pub row: u64,
    cells: Option<&'a csv::ByteRecord>,
}

impl<'a> PatientRecord<'a> {
    /// The cell at `index`, trimmed, decoded from Windows-1252 when it is
    /// not UTF-8; empty when the row is shorter.
    pub fn cell(&self, index: Option<usize>) -> Cow<'a, str> {
        let Some(bytes) = index.and_then(|i| self.cells.and_then(|c| c.get(i))) else {
            return Cow::Borrowed("");
        };
        match decode(bytes) {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
            Cow::Owned(s) => Cow::Owned(s.trim().to_owned()),
        }
    }

    /// Every cell as uploaded (decoded, untrimmed), padded or cut to `width`.
    pub fn cells(&self, width: usize) -> Vec<String> {
        (0..width)
            .map(|i| {
                self.cells
                    .and_then(|c| c.get(i))
                    .map(|b| decode(b).into_owned())
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// Exports are UTF-8, or Windows-1252 from older systems and from Excel's
/// "CSV" on Windows. Bytes that are not UTF-8 are read as Windows-1252, in
/// which every byte is a character, so decoding never fails.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

fn is_blank(record: &csv::ByteRecord) -> bool {
    record
        .iter()
        .all(|cell| cell.iter().all(u8::is_ascii_whitespace) || cell == b"\xef\xbb\xbf")
}

impl<R: Read> ListReader<R> {
    /// Reads the header row. A file that cannot be a list is refused here.
    pub fn open(input: R) -> Result<Self, ListError> {
        let csv = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(input);
        let mut reader = Self {
            csv,
            headers: Vec::new(),
            record: csv::ByteRecord::new(),
            blank_run: 0,
            pending_blank: 0,
            held: false,
            rows: 0,
        };
        // The header is the first row with anything in it.
        loop {
            if !reader.read()? {
                return Err(ListError::Empty);
            }
            if !is_blank(&reader.record) {
                break;
            }
        }
        if let Some(at) = overlong_cell(&reader.record) {
            return Err(ListError::HeaderTooLong {
                column: at + 1,
                limit: MAX_CELL_CHARS,
            });
        }
        reader.headers = reader
            .record
            .iter()
            .map(|cell| decode(cell).into_owned())
            .collect();
        if let [only] = &reader.headers[..] {
            if let Some(separator) = other_separator(only) {
                return Err(ListError::NotCsv {
                    reason: format!(
                        "its columns are separated by {separator}, not commas; save it as CSV (comma delimited)"
                    ),
                });
            }
        }
        Ok(reader)
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Bytes read so far, for progress.
    pub fn bytes_read(&self) -> u64 {
        self.csv.position().byte()
    }

    /// The next patient row; `None` at the end. A file with no patient rows,
    /// too many, or too many bytes is refused.
    pub fn next_record(&mut self) -> Result<Option<PatientRecord<'_>>, ListError> {
        if self.pending_blank == 0 && !self.held {
            loop {
                if !self.read()? {
                    if self.rows == 0 {
                        return Err(ListError::NoPatientRows);
                    }
                    return Ok(None);
                }
                if is_blank(&self.record) {
                    self.blank_run += 1;
                    continue;
                }
                self.pending_blank = std::mem::take(&mut self.blank_run);
                self.held = true;
                break;
            }
        }
        self.rows += 1;
        if self.rows > MAX_PATIENT_ROWS as u64 {
            return Err(ListError::TooManyRows {
                limit: MAX_PATIENT_ROWS,
            });
        }
        if self.pending_blank > 0 {
            self.pending_blank -= 1;
            return Ok(Some(PatientRecord {
                row: self.rows,
                cells: None,
            }));
        }
        self.held = false;
        if let Some(at) = overlong_cell(&self.record) {
            let column = self
                .headers
                .get(at)
                .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| format!("{}", at + 1));
            return Err(ListError::CellTooLong {
                row: self.rows,
                column,
                limit: MAX_CELL_CHARS,
            });
        }
        Ok(Some(PatientRecord {
            row: self.rows,
            cells: Some(&self.record),
        }))
    }

    fn read(&mut self) -> Result<bool, ListError> {
        let more = self
            .csv
            .read_byte_record(&mut self.record)
            .map_err(|_| ListError::NotCsv {
                reason: "it could not be read as comma-separated values".to_owned(),
            })?;
        if self.csv.position().byte() > MAX_FILE_BYTES as u64 {
            return Err(ListError::TooLarge {
                limit_mb: MAX_FILE_BYTES / (1024 * 1024),
            });
        }
        if self.record.as_slice().contains(&0) {
            return Err(ListError::NotCsv {
                reason: "it contains binary data".into(),
            });
        }
        Ok(more)
    }
}

/// The first cell of a row longer than [`MAX_CELL_CHARS`]: counted in
/// characters only when its bytes could be that many.
fn overlong_cell(record: &csv::ByteRecord) -> Option<usize> {
    record.iter().position(|cell| {
        cell.len() > MAX_CELL_CHARS && decode(cell).chars().count() > MAX_CELL_CHARS
    })
}

/// A header that is one column holding another separator: a spreadsheet
/// saved with the wrong delimiter.
fn other_separator(header: &str) -> Option<&'static str> {
    [(';', "semicolons"), ('\t', "tabs"), ('|', "vertical bars")]
        .into_iter()
        .find(|(c, _)| header.contains(*c))
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(file: &str) -> Result<Vec<(u64, Vec<String>)>, ListError> {
        let mut reader = ListReader::open(file.as_bytes())?;
        let width = reader.headers().len();
        let mut out = Vec::new();
        while let Some(record) = reader.next_record()? {
            out.push((record.row, record.cells(width)));
        }
        Ok(out)
    }

    #[test]
    fn blank_rows_between_patients_count_and_trailing_ones_do_not() {
        let got = rows("A,B\r\n1,2\r\n,\r\n\r\n3,4\r\n , \r\n,,\r\n").unwrap();
        let numbered: Vec<(u64, &str)> = got.iter().map(|(r, c)| (*r, c[0].as_str())).collect();
        // The empty line is skipped by the csv crate; the comma-only row counts.
        assert_eq!(numbered, vec![(1, "1"), (2, ""), (3, "3")]);
    }

    #[test]
    fn leading_blank_lines_before_the_header_are_skipped() {
        let reader = ListReader::open(&b"\r\n,\r\nNHS Number\r\n1\r\n"[..]).unwrap();
        assert_eq!(reader.headers(), ["NHS Number"]);
    }

    #[test]
    fn a_file_past_the_byte_limit_is_refused_while_streaming() {
        let mut file = b"NHS Number\n".to_vec();
        while file.len() <= MAX_FILE_BYTES {
            file.extend_from_slice(b"9434765919\n");
        }
        let mut reader = ListReader::open(&file[..]).unwrap();
        let refusal = loop {
            match reader.next_record() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the whole file was read"),
                Err(e) => break e,
            }
        };
        // The row limit is met first at 11 bytes a row.
        assert_eq!(refusal, ListError::TooManyRows { limit: 100_000 });

        let wide = format!("NHS Number,Note\n1,{}\n", "x".repeat(MAX_FILE_BYTES));
        let mut reader = ListReader::open(wide.as_bytes()).unwrap();
        assert_eq!(
            reader.next_record().err(),
            Some(ListError::TooLarge { limit_mb: 10 })
        );
    }

    #[test]
    fn a_cell_longer_than_the_limit_refuses_the_file_naming_row_and_column() {
        let long_name = "é".repeat(MAX_CELL_CHARS + 1);
        let file = format!("NHS Number,Given Name\n9434765919,Ann\n9434765870,{long_name}\n");
        let mut reader = ListReader::open(file.as_bytes()).unwrap();
        assert_eq!(reader.next_record().unwrap().unwrap().row, 1);
        let refusal = reader.next_record().err().unwrap();
        assert_eq!(
            refusal.to_string(),
            "row 2, column \"Given Name\": the cell is longer than 1000 characters; check the export"
        );
        assert_eq!(refusal.code(), "cell_too_long");
        // Exactly at the limit, counted in characters, not bytes.
        let at_limit = format!(
            "NHS Number,Given Name\n9434765919,{}\n",
            "é".repeat(MAX_CELL_CHARS)
        );
        let mut reader = ListReader::open(at_limit.as_bytes()).unwrap();
        assert!(reader.next_record().unwrap().is_some());
        let header = format!("NHS Number,{}\n1\n", "x".repeat(MAX_CELL_CHARS + 1));
        assert_eq!(
            ListReader::open(header.as_bytes())
                .err()
                .unwrap()
                .to_string(),
            "the header row's column 2 is longer than 1000 characters; check the export"
        );
    }
}
