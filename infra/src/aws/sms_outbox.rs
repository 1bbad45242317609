//! The simulated SMS provider for AWS sandbox stacks and tests: the same
//! behaviour as the local simulator, with its outbox in a DynamoDB table
//! keyed by idempotency key. The real provider clients replace it behind the
//! same port.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use domain::ports::{PortError, ProviderError, SmsProvider, SmsRequest};

use super::dynamo::{get_n, get_s, n, s, scan_all, sdk_error};
use crate::simulators::{refusal_for, OutboxMessage};

/// How long a sandbox stack keeps simulated messages (the table's TTL).
const OUTBOX_RETENTION: chrono::Duration = chrono::Duration::days(30);

pub struct DynamoSmsOutbox {
    client: Client,
    table: String,
}

impl DynamoSmsOutbox {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Every accepted message.
    pub async fn outbox(&self) -> Result<Vec<OutboxMessage>, PortError> {
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true);
        let items = scan_all(scan, "sms outbox").await?;
        let mut messages = items
            .iter()
            .map(|item| {
                Ok(OutboxMessage {
                    reference: get_s(item, "reference")?.to_owned(),
                    idempotency_key: get_s(item, "idempotency_key")?.to_owned(),
                    to: get_s(item, "to_number")?.to_owned(),
                    body: get_s(item, "body")?.to_owned(),
                    accepted_at: DateTime::from_timestamp_millis(get_n(item, "accepted_at")?)
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        messages.sort_by(|a, b| (a.accepted_at, &a.reference).cmp(&(b.accepted_at, &b.reference)));
        Ok(messages)
    }
}

#[async_trait::async_trait]
impl SmsProvider for DynamoSmsOutbox {
    async fn send_sms(&self, request: &SmsRequest) -> Result<String, ProviderError> {
        if let Some(refusal) = refusal_for(&request.to) {
            return Err(refusal);
        }
        let unavailable = |e: PortError| ProviderError::Unavailable(e.0);
        let reference = uuid::Uuid::new_v4().to_string();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("idempotency_key", s(&request.idempotency_key))
            .item("reference", s(&reference))
            .item("to_number", s(&request.to))
            .item("body", s(&request.body))
            .item("accepted_at", n(Utc::now().timestamp_millis()))
            .item("expires_at", n((Utc::now() + OUTBOX_RETENTION).timestamp()))
            .condition_expression("attribute_not_exists(idempotency_key)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(reference),
            Err(e) => match e.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => {
                    // A repeat: answer with the first reference.
                    let item = self
                        .client
                        .get_item()
                        .table_name(&self.table)
                        .consistent_read(true)
                        .key("idempotency_key", s(&request.idempotency_key))
                        .send()
                        .await
                        .map_err(sdk_error("sms outbox"))
                        .map_err(unavailable)?
                        .item
                        .ok_or_else(|| {
                            ProviderError::Unavailable("outbox entry vanished".into())
                        })?;
                    Ok(get_s(&item, "reference").map_err(unavailable)?.to_owned())
                }
                other => Err(unavailable(sdk_error("sms outbox")(other))),
            },
        }
    }
}
