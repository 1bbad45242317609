//! Adapters for every Batchbook port.
//!
//! - [`embedded`]: SQLite event store, queue, timers and read models, files
//!   on disk for blobs; `batchbook` runs on these with no AWS account.
//! - `aws` (feature `aws`): DynamoDB event store, read models and timer
//!   table, S3 blobs, SQS queues; what the Lambda functions run on.
//! - [`simulators`]: stand-ins for the outside services we cannot reach here
//!   (SMS provider, PDS, NHS App reachability), behind the same ports as
//!   the real clients.
//! - [`pds`]: the real PDS FHIR R4 client; [`notify`]: the real GOV.UK
//!   Notify client (SMS and email); [`nhs_notify`]: the real NHS Notify
//!   client (NHS App), signed in through [`nhs_auth`]; [`http`]: their
//!   shared retries.

#[cfg(feature = "aws")]
pub mod aws;
pub mod embedded;
pub mod event_row;
pub mod gp_connect;
pub mod http;
pub mod nhs_auth;
pub mod nhs_notify;
pub mod notify;
pub mod pds;
pub mod simulators;
