//! moto, and the resources one test needs, shaped as template.yaml makes them.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use domain::ports::{Clock, SystemClock};
use infra::aws::{AwsSettings, AwsStack};
use infra::simulators::ClinicalSystemPace;

/// moto, started on a free loopback port by a shell that stops it when this
/// test binary's end of the pipe closes, so no server outlives the tests;
/// its DynamoDB calls are made atomic by `moto_atomic.py`.
struct Moto {
    endpoint: String,
    /// The shell and our end of its stdin; `None` when `MOTO_ENDPOINT` names
    /// a server someone else runs.
    _server: Option<(Child, Mutex<ChildStdin>)>,
}

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        if let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") {
            return Moto { endpoint, _server: None };
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new("sh")
            .arg("-c")
            // moto's server with its DynamoDB calls made atomic, as
            // DynamoDB's conditional writes are (see moto_atomic.py).
            .arg(format!("python3 '{}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; echo started; read _; kill $m", concat!(env!("CARGO_MANIFEST_DIR"), "/api/aws/moto_atomic.py")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("sh runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not start: install it with `pip install \"moto[server]\"` (bash tests/run.sh does)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let stdin = Mutex::new(child.stdin.take().unwrap());
        Moto { endpoint, _server: Some((child, stdin)) }
    })
}

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&moto().endpoint)
        .region(Region::new("eu-west-2"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

pub struct AwsTestEnv {
    pub sdk: SdkConfig,
    pub settings: AwsSettings,
    pub stack: Arc<AwsStack>,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub ingest_queue_url: String,
    pub stream_arn: String,
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .unwrap()
}

fn attribute(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .unwrap()
}

fn index(name: &str, hash: &str, range: Option<&str>) -> GlobalSecondaryIndex {
    let mut keys = vec![key(hash, KeyType::Hash)];
    if let Some(range) = range {
        keys.push(key(range, KeyType::Range));
    }
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .set_key_schema(Some(keys))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .unwrap()
}

impl AwsTestEnv {
    pub async fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock)).await
    }

    pub async fn with_clock(clock: Arc<dyn Clock>) -> Self {
        let sdk = sdk_config().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let name = |what: &str| format!("bb-{run}-{what}");

        let events = dynamo
            .create_table()
            .table_name(name("events"))
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("aggregate", KeyType::Hash))
            .key_schema(key("sequence", KeyType::Range))
            .attribute_definitions(attribute("aggregate", ScalarAttributeType::S))
            .attribute_definitions(attribute("sequence", ScalarAttributeType::N))
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewImage)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let stream_arn = events
            .table_description()
            .unwrap()
            .latest_stream_arn()
            .unwrap()
            .to_owned();
        dynamo
            .create_table()
            .table_name(name("views"))
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(attribute("pk", ScalarAttributeType::S))
            .attribute_definitions(attribute("sk", ScalarAttributeType::S))
            .attribute_definitions(attribute("settled", ScalarAttributeType::S))
            .global_secondary_indexes(index("settled", "settled", None))
            .send()
            .await
            .unwrap();
        dynamo
            .create_table()
            .table_name(name("timers"))
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("id", KeyType::Hash))
            .attribute_definitions(attribute("id", ScalarAttributeType::S))
            .attribute_definitions(attribute("pending_shard", ScalarAttributeType::S))
            .attribute_definitions(attribute("due_at", ScalarAttributeType::N))
            .global_secondary_indexes(index("due", "pending_shard", Some("due_at")))
            .send()
            .await
            .unwrap();
        dynamo
            .create_table()
            .table_name(name("idempotency"))
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("id", KeyType::Hash))
            .attribute_definitions(attribute("id", ScalarAttributeType::S))
            .send()
            .await
            .unwrap();
        dynamo
            .create_table()
            .table_name(name("sms-outbox"))
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("idempotency_key", KeyType::Hash))
            .attribute_definitions(attribute("idempotency_key", ScalarAttributeType::S))
            .send()
            .await
            .unwrap();

        let queue = |queue_name: String| {
            let sqs = sqs.clone();
            async move {
                sqs.create_queue()
                    .queue_name(queue_name)
                    .attributes(QueueAttributeName::VisibilityTimeout, "30")
                    .send()
                    .await
                    .unwrap()
                    .queue_url()
                    .unwrap()
                    .to_owned()
            }
        };
        let fan_out_queue_url = queue(name("fan-out")).await;
        let send_queue_url = queue(name("send")).await;
        let record_queue_url = queue(name("record")).await;
        let booking_queue_url = queue(name("booking")).await;
        let ingest_queue_url = queue(name("ingest")).await;
        let ingest_queue_arn = queue_arn(&sqs, &ingest_queue_url).await;

        let bucket = name("lists");
        s3.create_bucket()
            .bucket(&bucket)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest2)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        use aws_sdk_s3::types::{
            Event, FilterRule, FilterRuleName, NotificationConfiguration,
            NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
        };
        s3.put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(
                        QueueConfiguration::builder()
                            .queue_arn(ingest_queue_arn)
                            .events(Event::S3ObjectCreated)
                            .filter(
                                NotificationConfigurationFilter::builder()
                                    .key(
                                        S3KeyFilter::builder()
                                            .filter_rules(
                                                FilterRule::builder()
                                                    .name(FilterRuleName::Prefix)
                                                    .value("uploads/")
                                                    .build(),
                                            )
                                            .filter_rules(
                                                FilterRule::builder()
                                                    .name(FilterRuleName::Suffix)
                                                    .value(".csv")
                                                    .build(),
                                            )
                                            .build(),
                                    )
                                    .build(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();

        // The event chain's checkpoints, under Object Lock as the
        // template's ChainCheckpointBucket is.
        let checkpoint_bucket = name("chain");
        s3.create_bucket()
            .bucket(&checkpoint_bucket)
            .object_lock_enabled_for_bucket(true)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest2)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        {
            use aws_sdk_s3::types::{
                DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled,
                ObjectLockRetentionMode, ObjectLockRule,
            };
            s3.put_object_lock_configuration()
                .bucket(&checkpoint_bucket)
                .object_lock_configuration(
                    ObjectLockConfiguration::builder()
                        .object_lock_enabled(ObjectLockEnabled::Enabled)
                        .rule(
                            ObjectLockRule::builder()
                                .default_retention(
                                    DefaultRetention::builder()
                                        .mode(ObjectLockRetentionMode::Compliance)
                                        .days(30)
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }

        let settings = AwsSettings {
            events_table: name("events"),
            views_table: name("views"),
            timers_table: name("timers"),
            sms_outbox_table: name("sms-outbox"),
            idempotency_table: name("idempotency"),
            bucket,
            fan_out_queue_url,
            send_queue_url,
            record_queue_url,
            booking_queue_url,
            gp_connect: None,
            clinical_system: ClinicalSystemPace::instant(),
            notify: None,
            pds: None,
            nhs_notify: None,
            link_key: domain::links::LinkKey::from_secret(TEST_LINK_SECRET).unwrap(),
            link_base_url: "https://links.test/l".into(),
            chain_checkpoint_bucket: Some(checkpoint_bucket),
        };
        let stack = Arc::new(AwsStack::new(&sdk, &settings, clock));
        Self {
            sdk,
            settings,
            stack,
            dynamo,
            sqs,
            s3,
            ingest_queue_url,
            stream_arn,
        }
    }
}

/// The link key secret the moto-backed stack derives its key from, so
/// tests can work out a patient's link.
pub const TEST_LINK_SECRET: &str = "test-link-secret-of-at-least-32-characters";

pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone()
}

/// Receives what is waiting on a queue, up to ten messages, as the SQS event
/// Lambda would be invoked with, plus each message's receipt handle.
pub async fn receive_sqs_event(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> (aws_lambda_events::sqs::SqsEvent, Vec<(String, String)>) {
    let output = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let mut receipts = Vec::new();
    let records: Vec<serde_json::Value> = output
        .messages()
        .iter()
        .map(|m| {
            receipts.push((
                m.message_id().unwrap().to_owned(),
                m.receipt_handle().unwrap().to_owned(),
            ));
            serde_json::json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-2:123456789012:queue",
                "awsRegion": "eu-west-2",
            })
        })
        .collect();
    let event = serde_json::from_value(serde_json::json!({ "Records": records }))
        .expect("the Lambda event shape");
    (event, receipts)
}

/// Deletes the messages a handler did not report failed, as Lambda's event
/// source mapping does. Returns how many were handled.
pub async fn delete_handled(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    receipts: &[(String, String)],
    response: &aws_lambda_events::sqs::SqsBatchResponse,
) -> usize {
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    let mut handled = 0;
    for (id, receipt) in receipts {
        if !failed.contains(&id.as_str()) {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(receipt)
                .send()
                .await
                .unwrap();
            handled += 1;
        }
    }
    handled
}
