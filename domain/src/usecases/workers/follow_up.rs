//! The follow-up sweep, one timer per batch: the SMS fallbacks of NHS App
//! messages left unread (`fallback_is_due` on the Delivery decides each),
//! and the 72-hour rule for messages never confirmed.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::PersistedEventRepository;
use events::Channel;
use futures::future::join_all;

use super::*;
use crate::aggregates::batch::BatchStatus;
use crate::aggregates::{Batch, DeliveryCommand};
use crate::jobs::{SendMessage, Step};
use crate::lists::artifact_rows;
use crate::policies::RECEIPT_DEADLINE;
use crate::projection::DeliveryRow;
use crate::template::{self};
use crate::usecases::{Batchbook, Caller};

/// Follow-ups never come closer together than this.
pub(in crate::usecases) const FOLLOW_UP_GAP: Duration = Duration::minutes(5);

/// While a batch still has patients to send to (a stagger, a held window),
/// it is followed up at least this often.
pub(in crate::usecases) const FOLLOW_UP_IDLE: Duration = Duration::hours(1);

/// How many deliveries one follow-up changes at once.
pub(in crate::usecases) const FOLLOW_UP_CONCURRENCY: usize = 32;

/// When a delivery row next needs following up: its fallback, or its
/// 72-hour deadline.
pub(in crate::usecases) fn follow_up_due(row: &DeliveryRow) -> Option<DateTime<Utc>> {
    match (row.channel, row.fallback_due_at) {
        (Channel::NhsApp, Some(due)) => Some(due),
        _ => row.sent_at.map(|sent| sent + RECEIPT_DEADLINE),
    }
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Sends the SMS fallbacks that are due and fails messages still only
    /// "sent" after 72 hours, then books the next follow-up while the batch
    /// has messages in flight or patients still to send to.
    #[tracing::instrument(skip_all, fields(batch_id))]
    pub(in crate::usecases) async fn follow_up(
        &self,
        organisation_id: &str,
        batch_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), JobError> {
        let batch = self.load_batch(batch_id).await?;
        let open = self.ports.views.open_deliveries(batch_id).await?;
        let cancelled = batch.status() == BatchStatus::Cancelled;
        let (due, waiting): (Vec<DeliveryRow>, Vec<DeliveryRow>) = open
            .into_iter()
            .partition(|row| follow_up_due(row).is_some_and(|at| at <= now));
        let (fallbacks, expiries): (Vec<DeliveryRow>, Vec<DeliveryRow>) = due
            .into_iter()
            .partition(|row| row.channel == Channel::NhsApp && row.fallback_due_at.is_some());
        // A cancelled batch sends nothing more, fallbacks included.
        if !fallbacks.is_empty() && !cancelled {
            self.queue_fallbacks(organisation_id, &batch, &fallbacks)
                .await?;
        }
        let caller = Caller::system(organisation(organisation_id)?, "follow-up", batch_id);
        for chunk in expiries.chunks(FOLLOW_UP_CONCURRENCY) {
            let ids: Vec<String> = chunk
                .iter()
                .map(|row| crate::jobs::delivery_id(&row.batch_id, row.row))
                .collect();
            let expired = join_all(ids.iter().map(|id| {
                self.deliveries.execute(
                    id,
                    DeliveryCommand::ExpireUnconfirmed { now },
                    self.metadata(&caller),
                )
            }))
            .await;
            if let Some(Err(e)) = expired.into_iter().find(Result::is_err) {
                return Err(JobError::Retry(e.to_string()));
            }
        }
        // The next row to fall due (always after now); soon again if
        // fallbacks were just queued; and while patients are still to be
        // sent to (a stagger, a held window), at least hourly.
        let still_sending = batch.status() == BatchStatus::Sending;
        let next = [
            waiting.iter().filter_map(follow_up_due).min(),
            (!fallbacks.is_empty() && !cancelled).then(|| now + FOLLOW_UP_GAP),
            still_sending.then(|| now + FOLLOW_UP_IDLE),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(at) = next {
            self.book(Recurring::FollowUp, organisation_id, batch_id, at)
                .await?;
        }
        tracing::info!(
            fallbacks = fallbacks.len(),
            expired = expiries.len(),
            "batch followed up"
        );
        Ok(())
    }

    /// Queues the SMS fallback of each row, reading the list once for their
    /// mobiles and names.
    pub(in crate::usecases) async fn queue_fallbacks(
        &self,
        organisation_id: &str,
        batch: &Batch,
        rows: &[DeliveryRow],
    ) -> Result<(), JobError> {
        let org = organisation(organisation_id)?;
        let window = self.settings_of(&org).await?.sending_window;
        let template = template::Template::parse(batch.template())
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        let wanted: HashMap<u64, &DeliveryRow> = rows.iter().map(|r| (r.row, r)).collect();
        let artifact = self.list_rows(batch).await?;
        let mut messages = Vec::with_capacity(rows.len());
        for row in artifact_rows(&artifact) {
            let row = row.map_err(|e| unreadable("a list artifact line", &e))?;
            let (Some(delivery), Some(mobile)) = (wanted.get(&row.row), row.mobile.clone()) else {
                continue;
            };
            messages.push(to_json(&SendMessage {
                organisation_id: organisation_id.to_owned(),
                batch_id: delivery.batch_id.clone(),
                row: row.row,
                channel: Channel::Sms,
                to: mobile,
                body: self.message_for(&template, batch, &delivery.batch_id, &row),
                correlation_id: format!("fallback:{}", delivery.batch_id),
                subject: None,
                fallback_to: None,
                step: Step::Fallback,
                window: Some(window),
            }));
        }
        self.queue_sends(messages).await
    }
}
