//! The simulated message providers for AWS sandbox stacks and tests: the
//! same behaviour as the local simulator (SMS, email and NHS App, with
//! receipts), with its outbox in a DynamoDB table keyed by idempotency key.
//! The real provider clients replace it behind the same ports.

use std::sync::Arc;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use domain::ports::{Clock, PortError, ProviderError, Receipt, RecordEntry};
use events::Channel;

use super::booking_rows::BOOKING;
use super::dynamo::{get_n, get_s, n, s, scan_all, sdk_error, Item};
use crate::simulators::{outcome_for, OutboxMessage, ReceiptSource, RecordStore, SavedEntry};

/// How long a sandbox stack keeps simulated messages (the table's TTL).
const OUTBOX_RETENTION: chrono::Duration = chrono::Duration::days(30);
/// Marks an entry whose receipt has not been handed over yet.
const PENDING: &str = "PENDING";
/// The `channel` of the simulated clinical system's record entries.
const RECORD: &str = "record";

pub struct DynamoSmsOutbox {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoSmsOutbox {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    /// Every item of the table that `filter` (over `:record` and
    /// `:booking`) keeps.
    async fn scan_where(&self, filter: &str, what: &'static str) -> Result<Vec<Item>, PortError> {
        let mut scan = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .filter_expression(filter);
        // DynamoDB refuses values the expression does not use.
        for (name, value) in [(":record", RECORD), (":booking", BOOKING)] {
            if filter.contains(name) {
                scan = scan.expression_attribute_values(name, s(value));
            }
        }
        scan_all(scan, what).await
    }

    /// Every accepted message.
    pub async fn outbox(&self) -> Result<Vec<OutboxMessage>, PortError> {
        let items = self
            .scan_where(
                "attribute_not_exists(channel) OR (channel <> :record AND channel <> :booking)",
                "outbox",
            )
            .await?;
        let mut messages = items
            .iter()
            .map(|item| {
                Ok(OutboxMessage {
                    reference: get_s(item, "reference")?.to_owned(),
                    idempotency_key: get_s(item, "idempotency_key")?.to_owned(),
                    channel: match item.get("channel").and_then(|c| c.as_s().ok()) {
                        Some(c) if c == "email" => Channel::Email,
                        Some(c) if c == "nhs_app" => Channel::NhsApp,
                        _ => Channel::Sms,
                    },
                    to: get_s(item, "to_number")?.to_owned(),
                    subject: item.get("subject").and_then(|v| v.as_s().ok()).cloned(),
                    body: get_s(item, "body")?.to_owned(),
                    accepted_at: DateTime::from_timestamp_millis(get_n(item, "accepted_at")?)
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        messages.sort_by(|a, b| (a.accepted_at, &a.reference).cmp(&(b.accepted_at, &b.reference)));
        Ok(messages)
    }

    async fn accept(
        &self,
        channel: Channel,
        idempotency_key: &str,
        to: &str,
        subject: Option<&str>,
        body: &str,
    ) -> Result<String, ProviderError> {
        let receipt = outcome_for(channel, to)?;
        let unavailable = |e: PortError| ProviderError::Unavailable(e.0);
        let reference = uuid::Uuid::new_v4().to_string();
        let now = self.clock.now();
        let mut item = Item::from([
            ("idempotency_key".into(), s(idempotency_key)),
            ("reference".into(), s(&reference)),
            ("channel".into(), s(channel.as_str())),
            ("to_number".into(), s(to)),
            ("body".into(), s(body)),
            ("accepted_at".into(), n(now.timestamp_millis())),
            ("expires_at".into(), n((now + OUTBOX_RETENTION).timestamp())),
        ]);
        if let Some(subject) = subject {
            item.insert("subject".into(), s(subject));
        }
        if let Some(receipt) = receipt {
            let outcome = serde_json::to_string(&receipt).expect("receipts serialise");
            item.insert("receipt".into(), s(outcome));
            item.insert("receipt_state".into(), s(PENDING));
            item.insert("receipt_due_at".into(), n(now.timestamp_millis()));
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
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
                        .key("idempotency_key", s(idempotency_key))
                        .send()
                        .await
                        .map_err(sdk_error("outbox"))
                        .map_err(unavailable)?
                        .item
                        .ok_or_else(|| {
                            ProviderError::Unavailable("outbox entry vanished".into())
                        })?;
                    Ok(get_s(&item, "reference").map_err(unavailable)?.to_owned())
                }
                other => Err(unavailable(sdk_error("outbox")(other))),
            },
        }
    }
}

#[async_trait::async_trait]
impl ReceiptSource for DynamoSmsOutbox {
    /// A scan: sandbox outboxes are small.
    async fn take_due_receipts(&self, limit: usize) -> Result<Vec<Receipt>, PortError> {
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .filter_expression("receipt_state = :pending AND receipt_due_at <= :now")
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":now", n(self.clock.now().timestamp_millis()));
        let items = scan_all(scan, "outbox receipts").await?;
        items
            .iter()
            .take(limit)
            .map(|item| {
                Ok(Receipt {
                    reference: get_s(item, "idempotency_key")?.to_owned(),
                    outcome: serde_json::from_str(get_s(item, "receipt")?)
                        .map_err(|e| PortError::new("outbox receipt", e))?,
                    at: DateTime::from_timestamp_millis(get_n(item, "receipt_due_at")?)
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn mark_reported(&self, references: &[String]) -> Result<(), PortError> {
        for reference in references {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("idempotency_key", s(reference))
                .update_expression("REMOVE receipt_state")
                .send()
                .await
                .map_err(sdk_error("outbox receipts"))?;
        }
        Ok(())
    }
}

crate::simulated_message_ports!(DynamoSmsOutbox);

/// The simulated clinical system's entries, beside the messages: one item
/// per idempotency key, `channel` "record".
#[async_trait::async_trait]
impl RecordStore for DynamoSmsOutbox {
    async fn put_once(
        &self,
        entry: &RecordEntry,
        saved_at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let mut item = Item::from([
            ("idempotency_key".into(), s(&entry.idempotency_key)),
            ("reference".into(), s(&entry.idempotency_key)),
            ("channel".into(), s(RECORD)),
            ("organisation_id".into(), s(&entry.organisation_id)),
            ("to_number".into(), s(&entry.nhs_number)),
            ("body".into(), s(&entry.text)),
            ("sent_on".into(), s(entry.channel.as_str())),
            ("accepted_at".into(), n(saved_at.timestamp_millis())),
            (
                "expires_at".into(),
                n((saved_at + OUTBOX_RETENTION).timestamp()),
            ),
        ]);
        if let Some(code) = &entry.snomed_code {
            item.insert("snomed_code".into(), s(code));
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(idempotency_key)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) => match e.into_service_error() {
                // Saved before: one entry per key.
                PutItemError::ConditionalCheckFailedException(_) => Ok(()),
                other => Err(sdk_error("record entries")(other)),
            },
        }
    }
}

impl DynamoSmsOutbox {
    /// Every entry the simulated clinical system saved.
    pub async fn record_entries(&self) -> Result<Vec<SavedEntry>, PortError> {
        let items = self
            .scan_where("channel = :record", "record entries")
            .await?;
        let mut entries = items
            .iter()
            .map(|item| {
                Ok(SavedEntry {
                    idempotency_key: get_s(item, "idempotency_key")?.to_owned(),
                    organisation_id: get_s(item, "organisation_id")?.to_owned(),
                    nhs_number: get_s(item, "to_number")?.to_owned(),
                    snomed_code: item.get("snomed_code").and_then(|v| v.as_s().ok()).cloned(),
                    channel: get_s(item, "sent_on")?.to_owned(),
                    text: get_s(item, "body")?.to_owned(),
                    saved_at: DateTime::from_timestamp_millis(get_n(item, "accepted_at")?)
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        entries.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
        Ok(entries)
    }
}
