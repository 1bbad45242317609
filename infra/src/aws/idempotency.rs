//! Idempotency records on DynamoDB, expired by the table's TTL on
//! `expires_at` (epoch seconds). TTL deletes lazily, so a claim also treats
//! an expired record as gone. A claim is one conditional put.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use domain::ports::{IdempotencyClaim, IdempotencyRecords, PortError, ProviderReferences};

use super::dynamo::{get_s, n, s, sdk_error};

pub struct DynamoIdempotency {
    client: Client,
    table: String,
}

fn id(scope: &str, key: &str) -> String {
    format!("{scope}#{key}")
}

impl DynamoIdempotency {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait::async_trait]
impl IdempotencyRecords for DynamoIdempotency {
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_after: chrono::Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<IdempotencyClaim, PortError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", s(id(scope, key)))
            .item("fingerprint", s(fingerprint))
            .item("state", s("claimed"))
            .item("claimed_at", n(now.timestamp_millis()))
            .item("expires_at", n(expires_at.timestamp()))
            .condition_expression(
                "attribute_not_exists(id) OR expires_at <= :now \
                 OR (#state = :claimed AND claimed_at <= :stale AND fingerprint = :fingerprint)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":stale", n((now - stale_after).timestamp_millis()))
            .expression_attribute_values(":fingerprint", s(fingerprint))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(IdempotencyClaim::Claimed),
            Err(e) => match e.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => {}
                other => return Err(sdk_error("idempotency claim")(other)),
            },
        }
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key("id", s(id(scope, key)))
            .send()
            .await
            .map_err(sdk_error("idempotency claim"))?
            .item
            .ok_or_else(|| PortError("idempotency record vanished during a claim".into()))?;
        Ok(if get_s(&item, "fingerprint")? != fingerprint {
            IdempotencyClaim::Mismatch
        } else if get_s(&item, "state")? == "done" {
            IdempotencyClaim::Done(get_s(&item, "result")?.to_owned())
        } else {
            IdempotencyClaim::InProgress
        })
    }

    async fn complete(&self, scope: &str, key: &str, result: &str) -> Result<(), PortError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id(scope, key)))
            .update_expression("SET #state = :done, #result = :result")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#result", "result")
            .expression_attribute_values(":done", s("done"))
            .expression_attribute_values(":result", s(result))
            .send()
            .await
            .map_err(sdk_error("idempotency complete"))?;
        Ok(())
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), PortError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("id", s(id(scope, key)))
            .condition_expression("#state = :claimed")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claimed", s("claimed"))
            .send()
            .await
            .map(|_| ())
            .or_else(|e| match e.into_service_error() {
                aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(_) => Ok(()),
                other => Err(sdk_error("idempotency release")(other)),
            })
    }
}

/// Provider references live in the idempotency table under their own
/// prefix, kept 90 days (receipts come within days).
const PROVIDER_REFERENCE_DAYS: i64 = 90;

#[async_trait::async_trait]
impl ProviderReferences for DynamoIdempotency {
    async fn remember(&self, provider_reference: &str, reference: &str) -> Result<(), PortError> {
        let expires_at = Utc::now() + chrono::Duration::days(PROVIDER_REFERENCE_DAYS);
        self.client
            .put_item()
            .table_name(&self.table)
            .item("id", s(id("provider-reference", provider_reference)))
            .item("reference", s(reference))
            .item("expires_at", n(expires_at.timestamp()))
            .send()
            .await
            .map_err(sdk_error("provider reference"))?;
        Ok(())
    }

    async fn recall(&self, provider_reference: &str) -> Result<Option<String>, PortError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id("provider-reference", provider_reference)))
            .send()
            .await
            .map_err(sdk_error("provider reference"))?
            .item;
        item.map(|item| get_s(&item, "reference").map(str::to_owned))
            .transpose()
    }
}
