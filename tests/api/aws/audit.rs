//! The auditor's history export on the AWS adapters (issue 19), through the
//! API function on moto: a batch's events read from DynamoDB, its patients
//! joined from the list artifact in S3, and the export recorded in
//! DynamoDB with the auditor who made it.

use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Body;
use domain::audit::{ChainFinding, StreamFinding};
use domain::ports::Clock;
use serde_json::{json, Value};

use super::env::AwsTestEnv;
use super::flow::{exchange_as, Signer};
use super::links::Sent;
use crate::helpers::{clean_list, nhs_numbers};

const IDA: Signer = Signer {
    org: "A12345",
    user: "ida",
    name: "Ida Price",
    role: "auditor",
};

async fn export(env: &AwsTestEnv, who: &Signer<'_>, body: Value) -> (u16, Vec<Value>) {
    let response = exchange_as(
        env,
        who,
        "POST",
        "/v1/audit/history",
        &[("content-type", "application/json")],
        Body::from(body.to_string()),
    )
    .await;
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    if status != 200 {
        return (status, vec![serde_json::from_str(&text).unwrap()]);
    }
    (
        status,
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

#[tokio::test]
async fn an_auditor_exports_a_batch_from_dynamodb_with_its_patients_and_the_export_is_recorded() {
    let run = Sent::batch(json!({"name": "Smoking", "questionnaire": "smoking_status",
                                 "message": "Please answer: ((link))"}))
    .await;
    let (status, events) = export(
        &run.env,
        &IDA,
        json!({"batch_id": run.batch_id, "patient_details": true}),
    )
    .await;
    assert_eq!(status, 200, "{events:?}");
    assert_eq!(events[0]["event_type"], "BatchDrafted");
    let positions: Vec<i64> = events
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, (1..=events.len() as i64).collect::<Vec<_>>());
    let mut sent: Vec<String> = events
        .iter()
        .filter(|e| e["event_type"] == "MessageSent")
        .map(|e| e["patient"]["nhs_number"].as_str().unwrap().to_owned())
        .collect();
    sent.sort();
    assert_eq!(sent, nhs_numbers(&clean_list(2)));

    // Staff cannot, and the export is in the auditor's own history.
    let sam = Signer {
        org: "A12345",
        user: "sam",
        name: "Sam Jones",
        role: "staff",
    };
    let (status, refused) = export(&run.env, &sam, json!({"batch_id": run.batch_id})).await;
    assert_eq!(status, 403);
    assert_eq!(refused[0]["detail"], "this needs the auditor role");
    let (status, own) = export(&run.env, &IDA, json!({"user_id": "ida"})).await;
    assert_eq!(status, 200);
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0]["event_type"], "HistoryExported");
    assert_eq!(
        own[0]["payload"]["HistoryExported"]["subject"],
        format!("batch:{}", run.batch_id)
    );
    assert_eq!(own[0]["payload"]["HistoryExported"]["events"], events.len());

    // A subject access request for the first patient, from DynamoDB and S3.
    let first = &nhs_numbers(&clean_list(2))[0];
    let response = exchange_as(
        &run.env,
        &IDA,
        "POST",
        "/v1/audit/subject-access",
        &[("content-type", "application/json")],
        Body::from(json!({"nhs_number": first, "format": "json"}).to_string()),
    )
    .await;
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let access: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(access["held"][0]["nhs_number"], first.as_str());
    assert_eq!(access["batches"].as_array().unwrap().len(), 1);
    assert_eq!(access["batches"][0]["batch_id"], run.batch_id);
    assert_eq!(
        access["batches"][0]["message"],
        "Please answer: [your link]"
    );
    assert_eq!(access["conversations"], json!([]));
}

/// Every event item of the stack's events table.
async fn event_items(env: &AwsTestEnv) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    env.dynamo
        .scan()
        .table_name(&env.settings.events_table)
        .send()
        .await
        .unwrap()
        .items()
        .to_vec()
}

fn text(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> String {
    match &item[name] {
        AttributeValue::S(s) => s.clone(),
        AttributeValue::N(n) => n.clone(),
        other => panic!("{name} is {other:?}"),
    }
}

async fn verify_text(env: &AwsTestEnv) -> (bool, String) {
    let mut out = Vec::new();
    let clean = functions::audit::verify(
        functions::audit::Store::Aws(&env.stack),
        functions::audit::ReportFormat::Text,
        &mut out,
    )
    .await
    .unwrap();
    (clean, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn audit_verify_on_aws_names_an_edited_byte_a_deleted_event_and_a_deleted_aggregate_against_the_locked_checkpoint(
) {
    let run = Sent::batch(json!({"name": "Flu", "message": "Book your flu jab"})).await;
    let env = &run.env;
    let chain = env
        .stack
        .audit
        .as_ref()
        .expect("the test stack has a checkpoint bucket");
    let taken = chain.checkpoint(run.clock.now()).await.unwrap();
    let items = event_items(env).await;
    assert_eq!(taken.events, items.len() as u64);
    // Every event was chained as it was written, each aggregate from the
    // genesis.
    assert!(items.iter().all(|i| i.contains_key("hash")));
    let batch = format!("Batch#{}", run.batch_id);
    let batch_events = items
        .iter()
        .filter(|i| text(i, "aggregate") == batch)
        .count();
    assert!(batch_events >= 3, "{batch_events} batch events");
    let (clean, report) = verify_text(env).await;
    assert!(clean, "{report}");
    assert!(
        report.contains(&format!(
            "Event chains: {} events in {} aggregates, 0 stored before the chain existed, 1 checkpoints compared",
            items.len(),
            taken.heads.len()
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "Read models: {} events replayed into fresh read models, ",
            items.len()
        )),
        "{report}"
    );
    assert!(
        report.contains("Verified: no event was changed"),
        "{report}"
    );

    // The checkpoint is locked: not even the stack's own roles can delete
    // it, and a delete marker does not hide it from verify.
    let versions = env
        .s3
        .list_object_versions()
        .bucket(env.settings.chain_checkpoint_bucket.as_ref().unwrap())
        .send()
        .await
        .unwrap();
    let locked = &versions.versions()[0];
    let refused = env
        .s3
        .delete_object()
        .bucket(env.settings.chain_checkpoint_bucket.as_ref().unwrap())
        .key(locked.key().unwrap())
        .version_id(locked.version_id().unwrap())
        .send()
        .await;
    assert!(
        format!("{:?}", refused.unwrap_err()).contains("AccessDenied"),
        "a locked checkpoint was deleted"
    );
    env.s3
        .delete_object()
        .bucket(env.settings.chain_checkpoint_bucket.as_ref().unwrap())
        .key(locked.key().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        chain.checkpoints().await.unwrap(),
        std::slice::from_ref(&taken)
    );

    // One byte of the batch's second event is edited; the first event of
    // another aggregate is deleted; a third aggregate is deleted whole.
    let key = |aggregate: &str, sequence: u64| {
        std::collections::HashMap::from([
            (
                "aggregate".to_owned(),
                AttributeValue::S(aggregate.to_owned()),
            ),
            (
                "sequence".to_owned(),
                AttributeValue::N(sequence.to_string()),
            ),
        ])
    };
    let second = items
        .iter()
        .find(|i| text(i, "aggregate") == batch && text(i, "sequence") == "2")
        .unwrap();
    let payload = text(second, "payload");
    let at = payload.find(|c: char| c.is_ascii_lowercase()).unwrap();
    let mut bytes = payload.clone().into_bytes();
    bytes[at] = bytes[at].to_ascii_uppercase();
    env.dynamo
        .update_item()
        .table_name(&env.settings.events_table)
        .set_key(Some(key(&batch, 2)))
        .update_expression("SET payload = :p")
        .expression_attribute_values(":p", AttributeValue::S(String::from_utf8(bytes).unwrap()))
        .send()
        .await
        .unwrap();
    let mut others: Vec<(String, usize)> = taken
        .heads
        .iter()
        .filter(|h| h.aggregate != batch)
        .map(|h| (h.aggregate.clone(), h.sequence as usize))
        .collect();
    others.sort_by_key(|(aggregate, events)| (std::cmp::Reverse(*events), aggregate.clone()));
    let (cut, cut_events) = others[0].clone();
    assert!(cut_events >= 2, "{others:?}");
    let (gone, gone_events) = others[1].clone();
    env.dynamo
        .delete_item()
        .table_name(&env.settings.events_table)
        .set_key(Some(key(&cut, 1)))
        .send()
        .await
        .unwrap();
    for sequence in 1..=gone_events as u64 {
        env.dynamo
            .delete_item()
            .table_name(&env.settings.events_table)
            .set_key(Some(key(&gone, sequence)))
            .send()
            .await
            .unwrap();
    }

    let report = chain.verify_chain().await.unwrap();
    let gone_head = taken.heads.iter().find(|h| h.aggregate == gone).unwrap();
    let mut expected = vec![
        StreamFinding {
            aggregate: batch.clone(),
            finding: ChainFinding::Changed { position: 2 },
        },
        StreamFinding {
            aggregate: cut.clone(),
            finding: ChainFinding::Missing { before: 2 },
        },
        StreamFinding {
            aggregate: gone.clone(),
            finding: ChainFinding::Checkpoint {
                position: gone_head.sequence as i64,
                expected: gone_head.hash.clone(),
                found: None,
            },
        },
    ];
    expected.sort_by(|a, b| a.aggregate.cmp(&b.aggregate));
    assert_eq!(report.findings, expected);
    let (clean, text_report) = verify_text(env).await;
    assert!(!clean);
    assert!(
        text_report.contains(&format!(
            "  TAMPERED  {batch} (positions are its sequence numbers): the event at position 2 was changed"
        )),
        "{text_report}"
    );
    // The edited byte is in the event's name, so the replay cannot read
    // it, and says so rather than comparing.
    assert!(
        text_report.contains(
            "  UNREAD    the replay stopped after 1 events: stored event Batch/2 cannot be read: unknown variant `PAtientListAttached`"
        ),
        "{text_report}"
    );
    assert!(
        text_report
            .contains("NOT VERIFIED: 3 chain findings, 0 read-model differences, 0 rows behind."),
        "{text_report}"
    );
}

#[tokio::test]
async fn the_cli_exports_a_history_and_answers_subject_access_from_a_deployed_stack() {
    let run = Sent::batch(json!({"name": "Flu", "message": "Book your flu jab"})).await;
    let store = functions::audit::Store::Aws(&run.env.stack);
    let first = domain::values::NhsNumber::parse(&nhs_numbers(&clean_list(2))[0]).unwrap();
    let history = |store| {
        let first = first.clone();
        async move {
            let mut out = Vec::new();
            let (export_id, events) = functions::audit::history(
                store,
                "A12345",
                "ida",
                &domain::usecases::audit::HistoryRequest {
                    subject: domain::ports::HistorySubject::Patient(first),
                    from: None,
                    to: None,
                    patient_details: true,
                },
                functions::audit::HistoryFormat::Jsonl,
                &mut out,
            )
            .await
            .unwrap();
            let lines: Vec<Value> = String::from_utf8(out)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            (export_id, events, lines)
        }
    };
    // A stack from before the patient index reads the long way; the
    // checkpoint function completes the index (the list was indexed as it
    // was checked), and the history read from it is the same.
    let complete = || async {
        run.env
            .dynamo
            .get_item()
            .table_name(&run.env.settings.views_table)
            .key("pk", AttributeValue::S("PATIENTINDEX".into()))
            .key("sk", AttributeValue::S("#COMPLETE".into()))
            .send()
            .await
            .unwrap()
            .item
            .is_some()
    };
    assert!(!complete().await);
    let (first_export, _, long_way) = history(store).await;
    assert_eq!(
        run.env.stack.app.index_patients().await.unwrap(),
        domain::usecases::audit::IndexedPatients::default()
    );
    assert!(complete().await);
    let (export_id, events, lines) = history(store).await;
    assert_eq!(lines, long_way);
    assert_eq!(lines.len(), events);
    let sent: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event_type"] == "MessageSent")
        .collect();
    assert_eq!(sent.len(), 1, "{lines:?}");
    assert_eq!(sent[0]["patient"]["nhs_number"], first.as_ref());

    let mut out = Vec::new();
    let answered = functions::audit::subject_access(
        store,
        "A12345",
        "ida",
        &first,
        functions::audit::AccessFormat::Json,
        &mut out,
    )
    .await
    .unwrap();
    let access: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(access["export_id"], answered.as_str());
    assert_eq!(access["batches"][0]["message"], "Book your flu jab");

    // Both exports are recorded in DynamoDB, with the auditor, and chained.
    let exports: Vec<_> = event_items(&run.env)
        .await
        .into_iter()
        .filter(|i| text(i, "aggregate_type") == "AuditExport")
        .collect();
    let mut ids: Vec<String> = exports.iter().map(|i| text(i, "aggregate_id")).collect();
    ids.sort();
    let mut expected = vec![first_export, export_id, answered];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(exports
        .iter()
        .all(|i| text(i, "metadata").contains(r#""actor":"user:ida""#) && i.contains_key("hash")));
}

#[tokio::test]
async fn audit_verify_on_aws_reports_a_hand_edited_read_model_with_the_figure_that_differs() {
    let run = Sent::batch(json!({"name": "Flu", "message": "Book your flu jab"})).await;
    let env = &run.env;
    let audit = env.stack.audit.as_ref().unwrap();
    let clean = audit.verify().await.unwrap();
    assert!(clean.is_clean(), "{clean:?}");
    assert!(clean.views.behind.is_empty(), "{:?}", clean.views.behind);
    assert!(clean.views.rows >= 3, "{}", clean.views.rows);

    // Someone edits the batch's delivered count in the views table.
    let key = std::collections::HashMap::from([
        (
            "pk".to_owned(),
            AttributeValue::S(format!("BATCH#{}", run.batch_id)),
        ),
        ("sk".to_owned(), AttributeValue::S("#SUMMARY".into())),
    ]);
    let item = env
        .dynamo
        .get_item()
        .table_name(&env.settings.views_table)
        .set_key(Some(key.clone()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let mut body: Value = serde_json::from_str(&text(&item, "body")).unwrap();
    let delivered = body["delivered_count"].as_u64().unwrap();
    body["delivered_count"] = json!(delivered + 7);
    env.dynamo
        .update_item()
        .table_name(&env.settings.views_table)
        .set_key(Some(key))
        .update_expression("SET body = :b")
        .expression_attribute_values(":b", AttributeValue::S(body.to_string()))
        .send()
        .await
        .unwrap();

    let report = audit.verify().await.unwrap();
    assert!(report.chain.is_clean());
    assert_eq!(
        report.views.drift,
        [domain::audit::Drift {
            view: "batch_summaries".into(),
            row: format!("batch_id={}", run.batch_id),
            field: "body.delivered_count".into(),
            live: Some(json!(delivered + 7)),
            replayed: Some(json!(delivered)),
        }]
    );
    let (clean, text_report) = verify_text(env).await;
    assert!(!clean);
    assert!(
        text_report.contains(&format!(
            "  DRIFT     batch_summaries batch_id={}: body.delivered_count is {} in the live read model, {delivered} replayed from the events",
            run.batch_id,
            delivered + 7
        )),
        "{text_report}"
    );

    // A delivery row deleted from the live read models is behind, and a
    // quiet stack is not verified with it missing.
    env.dynamo
        .delete_item()
        .table_name(&env.settings.views_table)
        .key("pk", AttributeValue::S(format!("BATCH#{}", run.batch_id)))
        .key("sk", AttributeValue::S("ROW#0000000001".into()))
        .send()
        .await
        .unwrap();
    let report = audit.verify().await.unwrap();
    assert_eq!(
        report.views.behind,
        [format!("deliveries batch_id={},row=1", run.batch_id)]
    );
    assert!(!report.is_clean());
    let (_, text_report) = verify_text(env).await;
    assert!(
        text_report.contains(&format!(
            "  BEHIND    deliveries batch_id={},row=1: the live row is missing or older than the events",
            run.batch_id
        )),
        "{text_report}"
    );
    assert!(
        text_report
            .contains("NOT VERIFIED: 0 chain findings, 1 read-model differences, 1 rows behind."),
        "{text_report}"
    );
}

/// After a whole flow on moto, the read models the functions built follow
/// from the events, every row: what the flow tests end with.
pub(super) async fn assert_verified(env: &AwsTestEnv) {
    let report = env.stack.audit.as_ref().unwrap().verify().await.unwrap();
    assert!(report.is_clean(), "{report:#?}");
    assert_eq!(report.views.behind, Vec::<String>::new());
    assert_eq!(report.replayed, report.chain.events);
}
