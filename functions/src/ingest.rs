//! The ingest function's glue: SQS messages carrying S3 notifications for
//! uploaded lists. S3's first notification to a new queue is an
//! `s3:TestEvent` with no records; keys arrive URL-encoded, spaces as `+`.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use cqrs_es::persist::PersistedEventRepository;
use domain::usecases::Ingested;
use domain::Batchbook;
use serde::Deserialize;

/// The part of an S3 event notification ingest reads: each record's object
/// key. `aws_lambda_events::s3::S3Event` would also insist on fields (user
/// identity, request parameters, a zoned event time) that S3-compatible
/// stores such as moto leave out, and ingest needs none of them.
#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "Records", default)]
    records: Vec<NotificationRecord>,
}

#[derive(Deserialize)]
struct NotificationRecord {
    s3: NotificationEntity,
}

#[derive(Deserialize)]
struct NotificationEntity {
    object: NotificationObject,
}

#[derive(Deserialize)]
struct NotificationObject {
    key: String,
}

/// The object keys an SQS message body names; none for a test event.
pub fn keys_in(body: &str) -> Result<Vec<String>, String> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    if value.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
        return Ok(vec![]);
    }
    let event: Notification =
        serde_json::from_value(value).map_err(|e| format!("not an S3 notification: {e}"))?;
    event
        .records
        .iter()
        .map(|record| decode_key(&record.s3.object.key))
        .collect()
}

/// S3 notification keys are form-encoded: `+` is a space, `%xx` a byte.
pub fn decode_key(key: &str) -> Result<String, String> {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| "an S3 key that is not UTF-8".to_owned())
}

pub async fn handle_ingest_event<R: PersistedEventRepository>(
    app: &Batchbook<R>,
    event: SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.unwrap_or_default();
        let outcome = match keys_in(record.body.as_deref().unwrap_or_default()) {
            Ok(keys) => {
                let mut outcome = Ok(());
                for key in keys {
                    match app.ingest_upload(&key).await {
                        Ok(Ingested::Checked(summary)) => {
                            tracing::info!(list_id = %summary.list_id, "upload ingested")
                        }
                        Ok(Ingested::Refused(_)) => {}
                        Ok(Ingested::NoSuchUpload) => {
                            tracing::warn!("notification for an object that is gone")
                        }
                        Err(e) => {
                            outcome = Err(e.to_string());
                            break;
                        }
                    }
                }
                outcome
            }
            Err(e) => Err(e),
        };
        if let Err(reason) = outcome {
            tracing::warn!(message_id = %id, reason, "ingest record failed");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(
            decode_key("uploads/A12345/my+list%281%29.csv").unwrap(),
            "uploads/A12345/my list(1).csv"
        );
        assert_eq!(
            decode_key("uploads/A12345/x%2By.csv").unwrap(),
            "uploads/A12345/x+y.csv"
        );
    }

    #[test]
    fn a_test_event_names_no_keys() {
        let body = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-22T10:00:00.000Z","Bucket":"b","RequestId":"r","HostId":"h"}"#;
        assert_eq!(keys_in(body).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_notification_names_its_decoded_keys() {
        let body = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "uploads%2FA1%2Fx+y%2Bz.csv", "size": 1}}}]}"#;
        assert_eq!(keys_in(body).unwrap(), ["uploads/A1/x y+z.csv"]);
    }

    #[test]
    fn a_body_that_is_not_a_notification_is_an_error() {
        assert_eq!(
            keys_in("hello").unwrap_err(),
            "not JSON: expected value at line 1 column 1"
        );
    }
}
