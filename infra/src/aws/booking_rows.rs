//! The simulated appointment book's bookings on AWS sandbox stacks: items
//! of the simulator outbox table (`idempotency_key` = `booking#<slot id>`,
//! `channel` = `booking`), put only if the slot has none, so a slot is
//! booked once however many workers race for it.

use std::collections::HashSet;
use std::sync::Arc;

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use domain::appointments::BookError;

use super::dynamo::{get_s, n, s, scan_all, sdk_error, Item};
use crate::simulators::BookingRows;

/// The `channel` of booking items, which the outbox's scans leave out.
pub(super) const BOOKING: &str = "booking";
/// How long a sandbox keeps a simulated booking (the table's TTL).
const RETENTION: chrono::Duration = chrono::Duration::days(120);

pub struct DynamoBookingRows {
    client: Client,
    table: String,
}

impl DynamoBookingRows {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn items(&self) -> Result<Vec<Item>, BookError> {
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .filter_expression("channel = :booking")
            .expression_attribute_values(":booking", s(BOOKING));
        scan_all(scan, "simulated bookings")
            .await
            .map_err(|e| BookError::Unavailable(e.0))
    }
}

fn key_of(slot_id: &str) -> String {
    format!("{BOOKING}#{slot_id}")
}

fn unavailable(e: impl std::fmt::Display) -> BookError {
    BookError::Unavailable(format!("simulated book: {e}"))
}

#[async_trait::async_trait]
impl BookingRows for DynamoBookingRows {
    async fn booked(&self) -> Result<Arc<HashSet<String>>, BookError> {
        self.items()
            .await?
            .iter()
            .map(|item| {
                get_s(item, "slot_id")
                    .map(str::to_owned)
                    .map_err(unavailable)
            })
            .collect::<Result<HashSet<_>, _>>()
            .map(Arc::new)
    }

    async fn take(
        &self,
        slot_id: &str,
        appointment_id: &str,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<(String, String), BookError> {
        let item = Item::from([
            ("idempotency_key".into(), s(key_of(slot_id))),
            ("channel".into(), s(BOOKING)),
            ("slot_id".into(), s(slot_id)),
            ("appointment_id".into(), s(appointment_id)),
            ("booking_key".into(), s(key)),
            ("booked_at".into(), n(at.timestamp_millis())),
            ("expires_at".into(), n((at + RETENTION).timestamp())),
        ]);
        // A slot already booked keeps its booking: the read below says whose.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(idempotency_key)")
            .send()
            .await;
        if let Err(e) = put {
            match e.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => {}
                other => return Err(unavailable(sdk_error("simulated book")(other))),
            }
        }
        let held = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key("idempotency_key", s(key_of(slot_id)))
            .send()
            .await
            .map_err(sdk_error("simulated book"))
            .map_err(unavailable)?
            .item
            .ok_or_else(|| unavailable("the booking could not be written"))?;
        Ok((
            get_s(&held, "appointment_id")
                .map_err(unavailable)?
                .to_owned(),
            get_s(&held, "booking_key").map_err(unavailable)?.to_owned(),
        ))
    }

    async fn free(&self, appointment_id: &str) -> Result<(), BookError> {
        for item in self.items().await? {
            if get_s(&item, "appointment_id").ok() != Some(appointment_id) {
                continue;
            }
            let key = get_s(&item, "idempotency_key").map_err(unavailable)?;
            // Only this booking: the slot may have been booked again since,
            // and then its condition fails, which is not an error.
            let deleted = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("idempotency_key", s(key))
                .condition_expression("appointment_id = :id")
                .expression_attribute_values(":id", s(appointment_id))
                .send()
                .await;
            if let Err(e) = deleted {
                match e.into_service_error() {
                    DeleteItemError::ConditionalCheckFailedException(_) => {}
                    other => return Err(unavailable(sdk_error("simulated book")(other))),
                }
            }
        }
        Ok(())
    }

    async fn all(&self) -> Result<Vec<(String, String)>, BookError> {
        let mut all = self
            .items()
            .await?
            .iter()
            .map(|item| {
                Ok((
                    get_s(item, "slot_id").map_err(unavailable)?.to_owned(),
                    get_s(item, "booking_key").map_err(unavailable)?.to_owned(),
                ))
            })
            .collect::<Result<Vec<_>, BookError>>()?;
        all.sort();
        Ok(all)
    }
}
