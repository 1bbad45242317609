//! Fan-out: one send job per contactable patient of a batch (or of one
//! staggered day), with each patient's link registered before the message
//! carrying it goes; outside the sending window only the emails go.

use cqrs_es::persist::PersistedEventRepository;
use events::Channel;

use super::*;
use crate::aggregates::batch::BatchStatus;
use crate::jobs::{FanOut, SendMessage, Step};
use crate::lists::{artifact_rows, Outcome};
use crate::policies::stagger_day_of;
use crate::ports::{QueueName, Timer, TimerJob};
use crate::template::{self};
use crate::usecases::Batchbook;

impl<R: PersistedEventRepository> Batchbook<R> {
    #[tracing::instrument(skip_all, fields(batch_id = %job.batch_id, day = ?job.day))]
    pub(in crate::usecases) async fn fan_out(&self, job: FanOut) -> Result<JobOutcome, JobError> {
        let batch = self.load_batch(&job.batch_id).await?;
        if job.records {
            return self.fan_out_records(job, batch).await;
        }
        if batch.status() != BatchStatus::Sending || batch.organisation_id() != job.organisation_id
        {
            return Ok(JobOutcome::Skipped);
        }
        let org = organisation(&job.organisation_id)?;
        let window = self.settings_of(&org).await?.sending_window;
        let now = self.ports.clock.now();
        // Outside the window only the emails go now; the rest wait for it.
        let held = !window.is_open(now);
        if held {
            let opens = window.next_open(now);
            let day = job.day.map_or("all".to_owned(), |d| d.to_string());
            let timer = Timer {
                id: format!("batch:{}:held:{day}:{}", job.batch_id, opens.timestamp()),
                due_at: opens,
                job: TimerJob::FanOut {
                    organisation_id: job.organisation_id.clone(),
                    batch_id: job.batch_id.clone(),
                    day: job.day,
                    skip_email: true,
                },
            };
            self.ports.timers.schedule(timer).await?;
            if job.skip_email {
                return Ok(JobOutcome::Skipped);
            }
        }
        let template = template::Template::parse(batch.template())
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let artifact = self.list_rows(&batch).await?;
        let mut chunk = Vec::with_capacity(FAN_OUT_CHUNK);
        let mut link_chunk = Vec::new();
        let mut queued = 0usize;
        let mut index = 0u64;
        for row in artifact_rows(&artifact) {
            let row = row.map_err(|e| unreadable("a list artifact line", &e))?;
            let Some(channel) = row.channel.filter(|_| row.outcome == Outcome::Contactable) else {
                continue;
            };
            // An SMS-only batch reaches the patients with a mobile, by SMS.
            let channel = match (batch.sms_only(), &row.mobile) {
                (false, _) => channel,
                (true, Some(_)) => Channel::Sms,
                (true, None) => continue,
            };
            let this = index;
            index += 1;
            if let Some(day) = job.day {
                if stagger_day_of(batch.stagger(), this) != Some(day) {
                    continue;
                }
            }
            let is_email = channel == Channel::Email;
            if (is_email && job.skip_email) || (!is_email && held) {
                continue;
            }
            let to = match channel {
                Channel::Email => row.email.clone(),
                Channel::NhsApp => row.nhs_number.clone(),
                Channel::Sms => row.mobile.clone(),
            };
            let Some(to) = to else {
                return Err(JobError::Malformed(format!(
                    "row {} of the list artifact has no address for its channel",
                    row.row
                )));
            };
            let link = self.patient_link(&batch, &job.batch_id, &row);
            let url = link.as_ref().map(|(url, _)| url.as_str());
            let body = template.render(row.given_name.as_deref(), url);
            link_chunk.extend(link.map(|(_, record)| record));
            let message = SendMessage {
                organisation_id: job.organisation_id.clone(),
                batch_id: job.batch_id.clone(),
                row: row.row,
                channel,
                to,
                body,
                correlation_id: job.correlation_id.clone(),
                subject: batch
                    .email_subject()
                    .filter(|_| is_email)
                    .map(str::to_owned),
                fallback_to: row.mobile.clone().filter(|_| channel == Channel::NhsApp),
                step: Step::First,
                window: (!is_email).then_some(window),
            };
            chunk.push(to_json(&message));
            if chunk.len() == FAN_OUT_CHUNK {
                queued += chunk.len();
                // Links are registered before the messages carrying them go.
                self.ports
                    .links
                    .directory
                    .register(std::mem::take(&mut link_chunk))
                    .await?;
                self.ports
                    .queue
                    .send(QueueName::Send, std::mem::take(&mut chunk))
                    .await?;
            }
        }
        queued += chunk.len();
        if !link_chunk.is_empty() {
            self.ports.links.directory.register(link_chunk).await?;
        }
        if !chunk.is_empty() {
            self.ports.queue.send(QueueName::Send, chunk).await?;
        }
        tracing::info!(queued, held, "batch fanned out");
        Ok(JobOutcome::Done)
    }
}
