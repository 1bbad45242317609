//! Reading the events table's stream from moto (which triggers no Lambdas)
//! and handing the records to the projector handler in Lambda's event shape.

use std::collections::HashMap;

use aws_lambda_events::dynamodb::Event;
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use serde_json::{json, Value};

use super::env::AwsTestEnv;

/// Polls every shard of a stream from its start, remembering where it got to.
pub struct StreamPoller {
    client: aws_sdk_dynamodbstreams::Client,
    arn: String,
    iterators: HashMap<String, Option<String>>,
}

impl StreamPoller {
    pub fn new(env: &AwsTestEnv) -> Self {
        Self {
            client: aws_sdk_dynamodbstreams::Client::new(&env.sdk),
            arn: env.stream_arn.clone(),
            iterators: HashMap::new(),
        }
    }

    /// The records written since the last poll, as a Lambda stream event.
    pub async fn poll(&mut self) -> Event {
        let stream = self
            .client
            .describe_stream()
            .stream_arn(&self.arn)
            .send()
            .await
            .unwrap();
        for shard in stream.stream_description().unwrap().shards() {
            let id = shard.shard_id().unwrap().to_owned();
            if !self.iterators.contains_key(&id) {
                let iterator = self
                    .client
                    .get_shard_iterator()
                    .stream_arn(&self.arn)
                    .shard_id(&id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .unwrap()
                    .shard_iterator
                    .unwrap();
                self.iterators.insert(id, Some(iterator));
            }
        }
        let mut records = Vec::new();
        for iterator in self.iterators.values_mut() {
            let Some(current) = iterator.clone() else {
                continue;
            };
            let output = self
                .client
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .unwrap();
            *iterator = output.next_shard_iterator().map(str::to_owned);
            records.extend(
                output
                    .records()
                    .iter()
                    .map(|r| to_lambda_record(r, &self.arn)),
            );
        }
        serde_json::from_value(json!({ "Records": records })).expect("the Lambda event shape")
    }
}

fn attribute(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        other => panic!("unexpected attribute {other:?}"),
    }
}

fn image(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect(),
    )
}

/// A DynamoDB Streams record as Lambda delivers it.
fn to_lambda_record(record: &aws_sdk_dynamodbstreams::types::Record, arn: &str) -> Value {
    let change = record.dynamodb().unwrap();
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().unwrap().as_str(),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-2",
        "eventSourceARN": arn,
        "dynamodb": {
            "Keys": image(change.keys().unwrap()),
            "NewImage": image(change.new_image().unwrap()),
            "SequenceNumber": change.sequence_number(),
            "SizeBytes": change.size_bytes(),
            "StreamViewType": "NEW_IMAGE",
        }
    })
}

/// Feeds one polled event to the projector handler, as the projector Lambda
/// does, and asserts no record failed.
pub async fn project(env: &AwsTestEnv, event: Event) -> usize {
    let count = event.records.len();
    let stack = env.stack.clone();
    let response = functions::streams::handle_stream_event(event, |stored| {
        let stack = stack.clone();
        async move { stack.consume_stream_event(stored).await }
    })
    .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "a stream record failed"
    );
    env.stack.app.complete_settled_batches(100).await.unwrap();
    count
}
