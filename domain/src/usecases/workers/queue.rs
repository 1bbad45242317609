//! The queue round: receive a round of messages from one queue, hand each
//! to its step, and acknowledge the ones handled. A message that fails is
//! left for redelivery (or, malformed, for the dead-letter queue).

use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::persist::PersistedEventRepository;
use futures::future::join_all;

use super::*;
use crate::aggregates::Batch;
use crate::jobs::{ConversationMessageJob, SendMessage};
use crate::ports::{PortError, QueueName};
use crate::usecases::Batchbook;

/// What the jobs of one queue round share: each batch, loaded once. A round
/// is a moment's work, so a batch cancelled during it stops the sends of
/// the next round (as a cancel landing just after a send would).
#[derive(Default)]
pub(in crate::usecases) struct Round {
    batches: std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Batch>>>>,
}

impl Round {
    pub(in crate::usecases) async fn batch<R: PersistedEventRepository>(
        &self,
        app: &Batchbook<R>,
        batch_id: &str,
    ) -> Result<Batch, JobError> {
        let cell = self
            .batches
            .lock()
            .expect("the round's batch cache is never poisoned")
            .entry(batch_id.to_owned())
            .or_default()
            .clone();
        Ok(cell
            .get_or_try_init(|| app.load_batch(batch_id))
            .await?
            .clone())
    }
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Receives up to `max` messages from `queue`, handles them concurrently
    /// and acknowledges each one handled. Returns how many were received.
    pub async fn process_queue(&self, queue: QueueName, max: usize) -> Result<usize, PortError> {
        let messages = self.ports.queue.receive(queue, max).await?;
        let received = messages.len();
        let round = Round::default();
        let handled = join_all(messages.into_iter().map(|message| {
            let round = &round;
            async move {
                let result = self.handle_job_in(queue, &message.body, round).await;
                (message, result)
            }
        }))
        .await;
        let mut done = Vec::with_capacity(handled.len());
        for (message, result) in handled {
            match result {
                Ok(_) => done.push(message.receipt),
                Err(JobError::Malformed(reason)) => {
                    tracing::error!(
                        queue = queue.as_str(),
                        reason,
                        "malformed job left for the dead-letter queue"
                    );
                }
                Err(JobError::Retry(reason)) => {
                    tracing::warn!(
                        queue = queue.as_str(),
                        receive_count = message.receive_count,
                        reason,
                        "job will be retried"
                    );
                }
            }
        }
        self.ports.queue.ack_many(queue, &done).await?;
        Ok(received)
    }

    /// Handles one queue message body: the entry point of the queue Lambdas.
    pub async fn handle_job(&self, queue: QueueName, body: &str) -> Result<JobOutcome, JobError> {
        self.handle_job_in(queue, body, &Round::default()).await
    }

    pub(in crate::usecases) async fn handle_job_in(
        &self,
        queue: QueueName,
        body: &str,
        round: &Round,
    ) -> Result<JobOutcome, JobError> {
        let malformed = |e: serde_json::Error| unreadable("the job", &e);
        match queue {
            QueueName::FanOut => {
                self.fan_out(serde_json::from_str(body).map_err(malformed)?)
                    .await
            }
            QueueName::Send => {
                // A conversation's message names its conversation and no
                // batch; its strict fields refuse a batch's job.
                if let Ok(job) = serde_json::from_str::<ConversationMessageJob>(body) {
                    return self.send_conversation_message(job).await;
                }
                let job: SendMessage = serde_json::from_str(body).map_err(malformed)?;
                let batch = round.batch(self, &job.batch_id).await?;
                self.send_one(job, &batch).await
            }
            QueueName::Record => {
                if let Ok(job) = serde_json::from_str::<ConversationMessageJob>(body) {
                    return self.save_conversation_message(job).await;
                }
                self.save_one(serde_json::from_str(body).map_err(malformed)?)
                    .await
            }
            QueueName::Booking => {
                self.handle_booking(serde_json::from_str(body).map_err(malformed)?)
                    .await
            }
        }
    }
}
