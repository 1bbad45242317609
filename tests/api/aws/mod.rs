//! The AWS adapters and Lambda handlers, tested against moto over the AWS
//! SDK's wire protocol. One moto server per test binary; every test makes
//! its own tables, queues and bucket, so tests run in parallel.

mod audit;
mod contracts;
mod conversations;
mod env;
mod event_store;
mod flow;
mod ingest;
mod isolation;
mod links;
mod pages;
mod patients;
mod queues;
mod scheduling;
mod selfbook;
mod streams;
mod strict;
mod teams;
mod workspace;
