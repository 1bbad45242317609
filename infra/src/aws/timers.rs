//! The timer table on DynamoDB. A pending timer carries `pending_shard`
//! (one of a few values, spread by id), the partition key of the sparse
//! `due` index whose sort key is `due_at`: the sweeper finds due timers
//! with one query per shard, never a scan. Completing a timer removes the
//! attribute, and with it the index entry.

use std::hash::{Hash, Hasher};

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use domain::ports::{PortError, Timer, Timers};

use super::dynamo::{get_n, get_s, n, s, sdk_error, Item};

pub const DUE_INDEX: &str = "due";
const SHARDS: u64 = 4;

pub struct DynamoTimers {
    client: Client,
    table: String,
}

fn shard(id: &str) -> String {
    // A stable hash: FNV-1a, so a timer keeps its shard across releases.
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
    id.hash(&mut hasher);
    format!("P{}", hasher.finish() % SHARDS)
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
}

impl DynamoTimers {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait::async_trait]
impl Timers for DynamoTimers {
    async fn schedule(&self, timer: Timer) -> Result<(), PortError> {
        let job = serde_json::to_string(&timer.job).map_err(|e| PortError::new("timer", e))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", s(&timer.id))
            .item("due_at", n(timer.due_at.timestamp_millis()))
            .item("job", s(job))
            .item("pending_shard", s(shard(&timer.id)))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.into_service_error() {
                // Scheduled before: keep the first.
                PutItemError::ConditionalCheckFailedException(_) => Ok(()),
                other => Err(sdk_error("timer schedule")(other)),
            },
        }
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Timer>, PortError> {
        let mut due = Vec::new();
        for shard in 0..SHARDS {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(DUE_INDEX)
                .key_condition_expression("pending_shard = :shard AND due_at <= :now")
                .expression_attribute_values(":shard", s(format!("P{shard}")))
                .expression_attribute_values(":now", n(now.timestamp_millis()))
                .limit(limit as i32)
                .send()
                .await
                .map_err(sdk_error("timers due"))?;
            for item in page.items() {
                due.push(decode(item)?);
            }
        }
        due.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
        due.truncate(limit);
        Ok(due)
    }

    async fn complete(&self, timer_id: &str) -> Result<(), PortError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("id", s(timer_id))
            .update_expression("REMOVE pending_shard SET #state = :done")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":done", s("done"))
            .send()
            .await
            .map_err(sdk_error("timer complete"))?;
        Ok(())
    }
}

fn decode(item: &Item) -> Result<Timer, PortError> {
    Ok(Timer {
        id: get_s(item, "id")?.to_owned(),
        due_at: DateTime::from_timestamp_millis(get_n(item, "due_at")?).unwrap_or_default(),
        job: serde_json::from_str(get_s(item, "job")?)
            .map_err(|e| PortError::new("timer job", e))?,
    })
}
