//! A date of birth, as clinical system exports write it: UK day-first
//! (`08/04/1947`, `8-4-1947`, `08.04.1947`), ISO (`1947-04-08`) or with the
//! month's name (`08-Apr-1947`, `8 April 1947`). Never an impossible date,
//! never in the future, never more than 130 years ago.

use std::fmt;

use chrono::{Datelike, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateOfBirth(NaiveDate);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateOfBirthError {
    #[error("no date of birth was given")]
    Missing,
    #[error("the date of birth is not written as a date (for example 08/04/1947)")]
    NotADate,
    #[error("the date of birth does not exist in the calendar")]
    Impossible,
    #[error("the date of birth is in the future")]
    InTheFuture,
    #[error("the date of birth is more than 130 years ago")]
    TooLongAgo,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

impl DateOfBirth {
    /// `today` is the practice's date, from the clock port.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Self, DateOfBirthError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(DateOfBirthError::Missing);
        }
        // Some exports add a midnight time: `08/04/1947 00:00`.
        let raw = raw
            .split_once(' ')
            .filter(|(_, t)| t.contains(':'))
            .map_or(raw, |(d, _)| d);
        let parts: Vec<&str> = raw
            .split(['/', '-', '.', ' '])
            .filter(|p| !p.is_empty())
            .collect();
        let [a, b, c] = parts[..] else {
            return Err(DateOfBirthError::NotADate);
        };
        let number = |s: &str| -> Result<u32, DateOfBirthError> {
            if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DateOfBirthError::NotADate);
            }
            s.parse().map_err(|_| DateOfBirthError::NotADate)
        };
        let month_name = |s: &str| -> Result<u32, DateOfBirthError> {
            let s = s.to_ascii_lowercase();
            MONTHS
                .iter()
                .position(|m| s.len() >= 3 && m.starts_with(&s[..3]) && is_month_spelling(&s, m))
                .map(|i| i as u32 + 1)
                .ok_or(DateOfBirthError::NotADate)
        };
        let (year, month, day) = if a.len() == 4 {
            // ISO: year first.
            (number(a)?, number(b)?, number(c)?)
        } else {
            let month = if b.bytes().all(|x| x.is_ascii_digit()) {
                number(b)?
            } else {
                month_name(b)?
            };
            if c.len() != 4 {
                // Two-digit years are ambiguous for dates of birth.
                return Err(DateOfBirthError::NotADate);
            }
            (number(c)?, month, number(a)?)
        };
        let date =
            NaiveDate::from_ymd_opt(year as i32, month, day).ok_or(DateOfBirthError::Impossible)?;
        if date > today {
            return Err(DateOfBirthError::InTheFuture);
        }
        if today.year() - date.year() > 130 {
            return Err(DateOfBirthError::TooLongAgo);
        }
        Ok(Self(date))
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }
}

/// `apr`, `april` and `Apr.`-less spellings of a month; not `aprxyz`.
fn is_month_spelling(given: &str, short: &str) -> bool {
    const FULL: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let full = FULL[MONTHS.iter().position(|m| *m == short).expect("a month")];
    given == short || given == full || (short == "sep" && given == "sept")
}

/// ISO 8601, the way out.
impl fmt::Display for DateOfBirth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn parse(raw: &str) -> Result<String, DateOfBirthError> {
        DateOfBirth::parse(raw, today()).map(|d| d.to_string())
    }

    #[test]
    fn the_writings_exports_use_are_read_day_first() {
        for raw in [
            "08/04/1947",
            "8/4/1947",
            "08-04-1947",
            "08.04.1947",
            "1947-04-08",
            "08-Apr-1947",
            "8 April 1947",
            "08-APR-1947",
            "08/04/1947 00:00",
        ] {
            assert_eq!(parse(raw), Ok("1947-04-08".into()), "{raw}");
        }
        assert_eq!(parse("01-Sept-2000"), Ok("2000-09-01".into()));
    }

    #[test]
    fn each_bad_date_gets_its_reason() {
        assert_eq!(parse(""), Err(DateOfBirthError::Missing));
        assert_eq!(parse("yesterday"), Err(DateOfBirthError::NotADate));
        assert_eq!(parse("08/04/47"), Err(DateOfBirthError::NotADate));
        assert_eq!(parse("08-Aprx-1947"), Err(DateOfBirthError::NotADate));
        assert_eq!(parse("1947-04"), Err(DateOfBirthError::NotADate));
        assert_eq!(parse("31/02/1990"), Err(DateOfBirthError::Impossible));
        assert_eq!(parse("29/02/2023"), Err(DateOfBirthError::Impossible));
        assert_eq!(parse("00/01/1990"), Err(DateOfBirthError::Impossible));
        assert_eq!(parse("24/11/2026"), Err(DateOfBirthError::InTheFuture));
        assert_eq!(parse("01/01/1890"), Err(DateOfBirthError::TooLongAgo));
    }

    #[test]
    fn today_and_leap_days_are_fine() {
        assert_eq!(parse("23/11/2026"), Ok("2026-11-23".into()));
        assert_eq!(parse("29/02/2024"), Ok("2024-02-29".into()));
    }
}
