//! The patient index in the views table (the stream projector never
//! touches these partitions): `PATIENT#<org>#<fingerprint>` holds one item
//! per mention at sort key `<kind>#<id>`, so one patient's mentions are one
//! query; `PATIENTLISTS#<org>` one item per indexed list; `PATIENTINDEX`
//! the mark that the index is complete.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use domain::ports::{Mention, PatientIndex, PortError};
use futures::{StreamExt, TryStreamExt};

use super::dynamo::{batch_write, get_s, query_all, s, sdk_error, Item};

pub struct DynamoPatientIndex {
    client: Client,
    table: String,
}

impl DynamoPatientIndex {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Writes items 25 to a request (BatchWriteItem's most), eight
    /// requests at a time, sending again what DynamoDB left unprocessed.
    /// Each item is fixed by its key, so writing one twice is harmless.
    async fn put_all(&self, items: Vec<Item>) -> Result<(), PortError> {
        let chunks: Vec<Vec<Item>> = items.chunks(WRITE_BATCH).map(<[Item]>::to_vec).collect();
        futures::stream::iter(chunks)
            .map(|chunk| self.put_chunk(chunk))
            .buffer_unordered(CONCURRENT_WRITES)
            .try_collect::<()>()
            .await
    }

    async fn put_chunk(&self, chunk: Vec<Item>) -> Result<(), PortError> {
        let requests = chunk
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| PortError::new("patient index", e))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        batch_write(&self.client, &self.table, requests, "patient index").await
    }

    async fn query(&self, pk: String) -> Result<Vec<Item>, PortError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk));
        query_all(query, "patient index").await
    }
}

const WRITE_BATCH: usize = 25;
const CONCURRENT_WRITES: usize = 8;
const COMPLETE_PK: &str = "PATIENTINDEX";
const COMPLETE_SK: &str = "#COMPLETE";

fn mentions_pk(organisation_id: &str, fingerprint: &str) -> String {
    format!("PATIENT#{organisation_id}#{fingerprint}")
}

fn lists_pk(organisation_id: &str) -> String {
    format!("PATIENTLISTS#{organisation_id}")
}

#[async_trait::async_trait]
impl PatientIndex for DynamoPatientIndex {
    async fn add(
        &self,
        organisation_id: &str,
        mentions: &[(String, Mention)],
    ) -> Result<(), PortError> {
        let items = mentions
            .iter()
            .map(|(fingerprint, mention)| {
                let (kind, id) = mention.key();
                Item::from([
                    ("pk".into(), s(mentions_pk(organisation_id, fingerprint))),
                    ("sk".into(), s(format!("{kind}#{id}"))),
                ])
            })
            .collect();
        self.put_all(items).await
    }

    async fn mentions(
        &self,
        organisation_id: &str,
        fingerprint: &str,
    ) -> Result<Vec<Mention>, PortError> {
        self.query(mentions_pk(organisation_id, fingerprint))
            .await?
            .iter()
            .map(|item| {
                let sk = get_s(item, "sk")?;
                let (kind, id) = sk
                    .split_once('#')
                    .ok_or_else(|| PortError(format!("patient index: {sk} names no kind")))?;
                Mention::from_key(kind, id)
            })
            .collect()
    }

    async fn list_indexed(&self, organisation_id: &str, list_id: &str) -> Result<(), PortError> {
        self.put_all(vec![Item::from([
            ("pk".into(), s(lists_pk(organisation_id))),
            ("sk".into(), s(list_id)),
        ])])
        .await
    }

    async fn indexed_lists(&self, organisation_id: &str) -> Result<HashSet<String>, PortError> {
        self.query(lists_pk(organisation_id))
            .await?
            .iter()
            .map(|item| get_s(item, "sk").map(str::to_owned))
            .collect()
    }

    async fn mark_complete(&self) -> Result<(), PortError> {
        self.put_all(vec![Item::from([
            ("pk".into(), s(COMPLETE_PK)),
            ("sk".into(), s(COMPLETE_SK)),
        ])])
        .await
    }

    async fn is_complete(&self) -> Result<bool, PortError> {
        let found = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key("pk", s(COMPLETE_PK))
            .key("sk", s(COMPLETE_SK))
            .send()
            .await
            .map_err(sdk_error("patient index"))?;
        Ok(found.item().is_some())
    }
}
