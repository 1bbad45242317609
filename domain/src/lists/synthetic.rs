//! Synthetic SystmOne exports, for the demo, the benchmarks and tests: no
//! real patient is in them (NHS numbers from a fixed range, mobiles from
//! `07700 1xxxxx`).

use std::fmt::Write as _;

use crate::values::NhsNumber;

const GIVEN_NAMES: &[&str] = &[
    "Joe", "Aisha", "Rhys", "Mary", "Sanjay", "Olivia", "Tomasz", "Grace", "Kwame", "Siân",
];
const FAMILY_NAMES: &[&str] = &[
    "Smith", "Khan", "Jones", "Williams", "Patel", "Evans", "Nowak", "Brown", "Mensah", "Davies",
];

/// A SystmOne-style export of `patients` synthetic patients, with a realistic
/// share of bad rows: every 50th NHS number has a wrong check digit, every
/// 40th mobile is a landline, every 97th has no number. Mobiles are
/// `07700 1xxxxx`; the simulated provider fails those ending in 99.
pub fn synthetic_systmone_csv(patients: usize) -> String {
    let mut csv = String::with_capacity(patients * 80 + 64);
    csv.push_str("NHS Number,Given Name,Family Name,Date of Birth,Telecom Number\r\n");
    let mut first_nine = 400_000_000u32;
    for i in 1..=patients {
        let nhs = loop {
            first_nine += 1;
            if let Some(n) = NhsNumber::from_first_nine(first_nine) {
                break n.to_string();
            }
        };
        let nhs = if i % 50 == 0 {
            // Break the check digit.
            let (body, check) = nhs.split_at(9);
            let wrong = (check.as_bytes()[0] - b'0' + 1) % 10;
            format!("{body}{wrong}")
        } else {
            format!("{} {} {}", &nhs[..3], &nhs[3..6], &nhs[6..])
        };
        let mobile = if i % 97 == 0 {
            String::new()
        } else if i % 40 == 0 {
            format!("020 7946 {:04}", i % 10_000)
        } else {
            format!("07700 1{:05}", i % 100_000)
        };
        let given = GIVEN_NAMES[i % GIVEN_NAMES.len()];
        let family = FAMILY_NAMES[(i / GIVEN_NAMES.len()) % FAMILY_NAMES.len()];
        let dob = format!("{:02}/{:02}/{}", 1 + i % 28, 1 + i % 12, 1940 + i % 60);
        let _ = write!(csv, "{nhs},{given},{family},{dob},{mobile}\r\n");
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lists::{check_list, NotContactableReason};

    #[test]
    fn the_synthetic_list_has_the_advertised_mix() {
        let csv = synthetic_systmone_csv(200);
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let list = check_list(csv.as_bytes(), None, today).unwrap();
        let count = |reason| {
            list.rows
                .iter()
                .filter(|r| r.reason == Some(reason))
                .count()
        };
        assert_eq!(list.rows.len(), 200);
        assert_eq!(count(NotContactableReason::InvalidNhsNumber), 4); // 50,100,150,200
                                                                      // 40, 80, 120, 160; row 200 is refused for its NHS number first.
        assert_eq!(count(NotContactableReason::NotUkMobile), 4);
        assert_eq!(count(NotContactableReason::ContactDetailsNotProvided), 2); // 97,194
        assert_eq!(list.counts().contactable, 190);
    }
}
