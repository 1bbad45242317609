//! The work queues on SQS. Sends go in batches of ten (SQS's limit);
//! receiving is for local runs and tests, since on AWS the queues drive the
//! worker Lambdas through event source mappings.

use std::collections::HashMap;

use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};
use aws_sdk_sqs::Client;
use domain::ports::{PortError, QueueName, ReceivedMessage, WorkQueue};

const SQS_BATCH: usize = 10;

pub struct SqsWorkQueue {
    client: Client,
    urls: HashMap<QueueName, String>,
}

fn sqs_error<E: std::error::Error + 'static>(context: &'static str) -> impl Fn(E) -> PortError {
    move |e| {
        PortError(format!(
            "{context}: {}",
            aws_sdk_sqs::error::DisplayErrorContext(&e)
        ))
    }
}

impl SqsWorkQueue {
    pub fn new(client: Client, urls: HashMap<QueueName, String>) -> Self {
        Self { client, urls }
    }

    fn url(&self, queue: QueueName) -> Result<&str, PortError> {
        self.urls.get(&queue).map(String::as_str).ok_or_else(|| {
            PortError(format!(
                "no URL configured for the {} queue",
                queue.as_str()
            ))
        })
    }
}

#[async_trait::async_trait]
impl WorkQueue for SqsWorkQueue {
    async fn send(&self, queue: QueueName, bodies: Vec<String>) -> Result<(), PortError> {
        let url = self.url(queue)?;
        for chunk in bodies.chunks(SQS_BATCH) {
            let mut pending: Vec<(String, &String)> = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| (i.to_string(), body))
                .collect();
            // Entries SQS refuses for a passing reason are tried again once.
            for attempt in 0..2 {
                let entries = pending
                    .iter()
                    .map(|(id, body)| {
                        SendMessageBatchRequestEntry::builder()
                            .id(id)
                            .message_body(body.as_str())
                            .build()
                            .map_err(|e| PortError::new("queue send", e))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let output = self
                    .client
                    .send_message_batch()
                    .queue_url(url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(sqs_error("queue send"))?;
                let failed: Vec<&str> = output.failed().iter().map(|f| f.id()).collect();
                if failed.is_empty() {
                    break;
                }
                if attempt == 1 {
                    return Err(PortError(format!("SQS refused {} messages", failed.len())));
                }
                pending.retain(|(id, _)| failed.contains(&id.as_str()));
            }
        }
        Ok(())
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        let output = self
            .client
            .receive_message()
            .queue_url(self.url(queue)?)
            .max_number_of_messages(max.clamp(1, SQS_BATCH) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(sqs_error("queue receive"))?;
        Ok(output
            .messages()
            .iter()
            .map(|m| ReceivedMessage {
                body: m.body().unwrap_or_default().to_owned(),
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                receive_count: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1),
            })
            .collect())
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> Result<(), PortError> {
        self.client
            .delete_message()
            .queue_url(self.url(queue)?)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(sqs_error("queue ack"))?;
        Ok(())
    }
}
