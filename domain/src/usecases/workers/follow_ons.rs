//! Follow-ons: questionnaire reminders (days 3 and 6) and the inhaler
//! series' texts, looked at by one recurring timer per batch.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistedEventRepository;
use events::{BatchKind, Channel};

use super::*;
use crate::aggregates::batch::BatchStatus;
use crate::aggregates::delivery::DeliveryStatus;
use crate::aggregates::Batch;
use crate::florey;
use crate::jobs::{FollowOn, SendMessage, Step};
use crate::lists::artifact_rows;
use crate::projection::DeliveryRow;
use crate::series;
use crate::template::{self, REMINDER_PREFIX};
use crate::usecases::Batchbook;

/// While a batch with reminders or a series is still sending (a stagger, a
/// held window), its follow-ons are looked at least this often.
pub(in crate::usecases) const FOLLOW_ONS_IDLE: Duration = Duration::hours(6);

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Sends the follow-on messages that are due: questionnaire reminders
    /// (days 3 and 6 after each patient's first message, while the link is
    /// valid, not revoked and the questionnaire unanswered) or the inhaler
    /// series' texts (until stopped for the patient). One missed while the
    /// sweeper was down gives way to the next rather than both going. Then
    /// books the next look.
    #[tracing::instrument(skip_all, fields(batch_id, ?recurring))]
    pub(in crate::usecases) async fn send_follow_ons(
        &self,
        recurring: Recurring,
        organisation_id: &str,
        batch_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let batch = self.load_batch(batch_id).await?;
        if batch.status() == BatchStatus::Cancelled || batch.organisation_id() != organisation_id {
            return Ok(());
        }
        let (schedule, valid_for) = match (recurring, batch.questionnaire()) {
            (Recurring::Reminders, Some(q)) if !batch.links_revoked() => {
                (florey::reminders_after(q), Some(florey::valid_for(q)))
            }
            (Recurring::Series, _) if batch.kind() == BatchKind::InhalerSeries => {
                (series::schedule(), None)
            }
            _ => return Ok(()),
        };
        let mut due: HashMap<u64, (FollowOn, DeliveryRow)> = HashMap::new();
        let mut next = (batch.status() == BatchStatus::Sending).then(|| now + FOLLOW_ONS_IDLE);
        for row in self.ports.views.deliveries(batch_id).await? {
            let Some(first) = row.first_sent_at else {
                continue;
            };
            let (done, sent) = match recurring {
                Recurring::Reminders => (
                    row.answered_at.is_some() || row.link_revoked,
                    &row.reminders,
                ),
                _ => (row.series_stopped, &row.series),
            };
            if done || row.status == DeliveryStatus::Failed {
                continue;
            }
            let latest_sent = sent.iter().max().copied().unwrap_or(0);
            for (number, after) in (1u32..).zip(&schedule) {
                let at = first + *after;
                if number <= latest_sent || valid_for.is_some_and(|v| at >= first + v) {
                    continue;
                }
                if at <= now {
                    let follow_on = match recurring {
                        Recurring::Reminders => FollowOn::Reminder(number),
                        _ => FollowOn::Series(number),
                    };
                    due.insert(row.row, (follow_on, row.clone()));
                } else {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        }
        if !due.is_empty() {
            self.queue_follow_ons(organisation_id, &batch, batch_id, &due)
                .await?;
        }
        if let Some(at) = next {
            self.book(recurring, organisation_id, batch_id, at).await?;
        }
        tracing::info!(queued = due.len(), "follow-on messages queued");
        Ok(())
    }

    /// Queues one follow-on per row, on the channel its message reached the
    /// patient by, reading the list once for addresses and names.
    pub(in crate::usecases) async fn queue_follow_ons(
        &self,
        organisation_id: &str,
        batch: &Batch,
        batch_id: &str,
        due: &HashMap<u64, (FollowOn, DeliveryRow)>,
    ) -> Result<(), JobError> {
        let org = organisation(organisation_id)?;
        let window = self.settings_of(&org).await?.sending_window;
        let template = template::Template::parse(batch.template())
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let artifact = self.list_rows(batch).await?;
        let mut messages = Vec::with_capacity(due.len());
        for row in artifact_rows(&artifact) {
            let row = row.map_err(|e| unreadable("a list artifact line", &e))?;
            let Some((follow_on, delivery)) = due.get(&row.row) else {
                continue;
            };
            let to = match delivery.channel {
                Channel::Email => row.email.clone(),
                Channel::NhsApp => row.nhs_number.clone(),
                Channel::Sms => row.mobile.clone(),
            };
            let Some(to) = to else {
                continue;
            };
            let is_email = delivery.channel == Channel::Email;
            let (body, subject) = match follow_on {
                FollowOn::Reminder(_) => (
                    format!(
                        "{REMINDER_PREFIX}{}",
                        self.message_for(&template, batch, batch_id, &row)
                    ),
                    batch
                        .email_subject()
                        .filter(|_| is_email)
                        .map(|s| format!("{REMINDER_PREFIX}{s}")),
                ),
                FollowOn::Notice(_) => continue,
                FollowOn::Series(step) => {
                    let text = series::text(*step).ok_or_else(|| {
                        JobError::Malformed(format!("the series has no step {step}"))
                    })?;
                    (
                        template::render(text, row.given_name.as_deref(), None),
                        None,
                    )
                }
            };
            messages.push(to_json(&SendMessage {
                organisation_id: organisation_id.to_owned(),
                batch_id: batch_id.to_owned(),
                row: row.row,
                channel: delivery.channel,
                to,
                body,
                correlation_id: format!("{}:{batch_id}", follow_on.key()),
                subject,
                fallback_to: None,
                step: Step::FollowOn(*follow_on),
                window: (!is_email).then_some(window),
            }));
        }
        self.queue_sends(messages).await
    }
}
