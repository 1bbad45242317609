//! The AWS family: DynamoDB event store, read models and timer table, S3
//! blobs, SQS work queues. Every adapter talks to AWS through the AWS SDK,
//! so the tests run them against moto over the same wire protocol.

pub mod audit;
mod blobs;
mod booking_rows;
mod dynamo;
mod event_store;
mod idempotency;
mod patient_index;
mod queue;
mod sms_outbox;
mod stack;
mod timers;
mod views;

pub use blobs::S3BlobStore;
pub use booking_rows::DynamoBookingRows;
pub use event_store::{DynamoEventRepository, MAX_EVENTS_PER_COMMIT};
pub use idempotency::DynamoIdempotency;
pub use patient_index::DynamoPatientIndex;
pub use queue::SqsWorkQueue;
pub use sms_outbox::DynamoSmsOutbox;
pub use stack::{AwsSettings, AwsStack};
pub use timers::DynamoTimers;
pub use views::DynamoViews;
