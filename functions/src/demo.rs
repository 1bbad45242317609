//! `batchbook demo`: a synthetic SystmOne export sent end to end on the
//! embedded stack, so anyone can watch a batch go from CSV to Done.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use domain::usecases::CreateBatch;
use domain::values::{NhsNumber, OrganisationId};
use domain::Caller;
use infra::embedded::{EmbeddedConfig, EmbeddedStack};

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

pub struct DemoReport {
    pub batch_id: String,
    pub status: String,
    pub patient_list: u64,
    pub recipients: u64,
    pub sent: u64,
    pub without_valid_mobile: u64,
    pub failed_to_deliver: u64,
    pub outbox_messages: u64,
    pub elapsed: Duration,
}

pub async fn run(
    data_dir: &Path,
    patients: usize,
) -> Result<DemoReport, Box<dyn std::error::Error>> {
    let stack = EmbeddedStack::open(EmbeddedConfig::new(data_dir)).await?;
    let caller = Caller {
        organisation_id: OrganisationId::parse("A12345")?,
        actor: "demo".into(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
    };
    let csv = synthetic_systmone_csv(patients);
    tokio::fs::create_dir_all(data_dir.join("reports")).await?;
    tokio::fs::write(data_dir.join("reports/demo-list.csv"), &csv).await?;

    let started = Instant::now();
    let list = stack
        .app
        .upload_list(&caller, csv.into_bytes(), None, None)
        .await?;
    let batch_id = stack
        .app
        .create_batch(
            &caller,
            CreateBatch {
                name: "Demo: flu clinic invitation".into(),
                list_id: list.list_id.clone(),
                template: "Dear ((name)), your GP practice is running flu clinics this month. Reply or call us to book.".into(),
            },
            None,
        )
        .await?;
    stack.app.send_batch(&caller, &batch_id, None, None).await?;
    stack.run_pending_work().await?;
    let elapsed = started.elapsed();

    let summary = stack.app.batch(&caller, &batch_id).await?;
    let failed = stack.app.failed_to_deliver_csv(&caller, &batch_id).await?;
    let failed_path = data_dir.join(format!("reports/failed-to-deliver-{batch_id}.csv"));
    tokio::fs::write(&failed_path, failed).await?;
    Ok(DemoReport {
        status: summary.status.label().to_owned(),
        patient_list: summary.patient_count,
        recipients: summary.contactable_count,
        sent: summary.sent_count,
        without_valid_mobile: summary.without_valid_mobile_count,
        failed_to_deliver: summary.failed_count,
        outbox_messages: stack.sms.outbox_count().await?,
        batch_id,
        elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::lists::{check_list, NotContactableReason};

    #[test]
    fn the_synthetic_list_has_the_advertised_mix() {
        let csv = synthetic_systmone_csv(200);
        let list = check_list(csv.as_bytes(), None).unwrap();
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
        assert_eq!(list.contactable_count(), 190);
    }
}
