//! `batchbook demo`: a synthetic SystmOne export sent end to end on the
//! embedded stack, so anyone can watch a batch go from CSV to Saved.

use std::path::Path;
use std::time::{Duration, Instant};

use domain::lists::synthetic_systmone_csv;
use domain::policies::SendingWindow;
use domain::usecases::{CreateBatch, OrganisationSettings};
use domain::values::OrganisationId;
use domain::Caller;
use infra::embedded::{EmbeddedConfig, EmbeddedStack};

pub struct DemoReport {
    pub batch_id: String,
    pub status: String,
    pub patient_list: u64,
    pub recipients: u64,
    pub delivered: u64,
    pub without_valid_mobile: u64,
    pub failed_to_deliver: u64,
    pub outbox_messages: u64,
    pub elapsed: Duration,
}

pub async fn run(
    data_dir: &Path,
    patients: usize,
) -> Result<DemoReport, Box<dyn std::error::Error>> {
    let mut config = EmbeddedConfig::new(data_dir);
    // The demo's clinical system saves at once: at its realistic 2 s a
    // patient, a 1,000-patient demo would wait minutes for Saved.
    config.clinical_system = infra::simulators::ClinicalSystemPace::instant();
    let stack = EmbeddedStack::open(config).await?;
    let caller = Caller::user(
        OrganisationId::parse("A12345")?,
        "demo",
        "Demo",
        domain::Role::Admin,
        &uuid::Uuid::new_v4().to_string(),
    );
    let csv = synthetic_systmone_csv(patients);
    tokio::fs::create_dir_all(data_dir.join("reports")).await?;
    tokio::fs::write(data_dir.join("reports/demo-list.csv"), &csv).await?;

    // The demo runs whenever it is asked to, night included, so its
    // organisation's texts are not held to the usual 08:00 to 20:00.
    let settings = OrganisationSettings {
        sending_window: SendingWindow::always(),
        ..Default::default()
    };
    stack.app.update_settings(&caller, settings).await?;

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
                workspace_id: None,
                name: "Demo: flu clinic invitation".into(),
                list_id: list.list_id.clone(),
                template: "Dear ((name)), your GP practice is running flu clinics this month. Reply or call us to book.".into(),
                template_id: None,
                email_subject: Some("Flu clinics at your GP practice".into()),
                snomed_code: None,
                content: domain::content::BatchContent::Message,
            },
            None,
        )
        .await?;
    stack
        .app
        .send_batch(&caller, &batch_id, domain::policies::SendPlan::now(), None)
        .await?;
    stack.run_pending_work().await?;
    stack.checkpoint_chain().await?;
    let elapsed = started.elapsed();

    let summary = stack.app.batch(&caller, &batch_id).await?;
    let failed = stack.app.failed_to_deliver_csv(&caller, &batch_id).await?;
    let failed_path = data_dir.join(format!("reports/failed-to-deliver-{batch_id}.csv"));
    tokio::fs::write(&failed_path, failed).await?;
    Ok(DemoReport {
        status: summary.status.label().to_owned(),
        patient_list: summary.patient_count,
        recipients: summary.contactable_count,
        delivered: summary.delivered_count,
        without_valid_mobile: summary.without_valid_mobile_count,
        failed_to_deliver: summary.failed_count,
        outbox_messages: stack.providers.outbox_count().await?,
        batch_id,
        elapsed,
    })
}
