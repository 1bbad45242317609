//! A batch from upload to Done over HTTP, exactly once per patient.

use std::sync::Arc;

use domain::ports::WorkQueue;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn every_patient_gets_exactly_one_sms_and_the_batch_is_done() {
    let app = spawn_app().await;
    let batch_id = app.send_list(&clean_list(300)).await;
    app.run_pending_work().await;

    let batch = app.batch(&batch_id).await;
    assert_eq!(batch["status"], "Saved");
    assert_eq!(
        batch["counts"],
        json!({"patient_list": 300, "recipients": 300, "awaiting_receipt": 0,
               "delivered": 300, "emails_delivered": 0,
               "without_valid_mobile": 0, "failed_to_deliver": 0,
               "saved_to_record": 300, "not_saved_to_record": 0, "answered": 0, "opened_attachment": 0})
    );
    let outbox = app.outbox().await;
    assert_one_message_each(&outbox, 300);
    assert!(outbox
        .iter()
        .all(|m| m["body"] == "Dear Pat, book your flu jab."));
}

#[tokio::test]
async fn counts_and_the_failed_to_deliver_csv_match_the_list() {
    let app = spawn_app().await;
    let csv = "NHS Number,Given Name,Telecom Number,Date of Birth\n\
               9434765919,Joe,07700 100123,01/02/1950\n\
               4010232137,Ann,07700 100199,01/02/1950\n\
               9434765918,Bad,07700 100124,01/02/1950\n\
               5990128088,Lan,020 7946 0123,01/02/1950\n";
    let batch_id = app.send_list(csv).await;
    app.run_pending_work().await;

    let batch = app.batch(&batch_id).await;
    assert_eq!(batch["status"], "Saved");
    assert_eq!(
        batch["counts"],
        json!({"patient_list": 4, "recipients": 2, "awaiting_receipt": 0,
               "delivered": 1, "emails_delivered": 0,
               "without_valid_mobile": 1, "failed_to_deliver": 1,
               "saved_to_record": 1, "not_saved_to_record": 0, "answered": 0, "opened_attachment": 0})
    );
    let report = app
        .client
        .get(format!(
            "{}/v1/batches/{batch_id}/failed-to-deliver.csv",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(report.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        report.text().await.unwrap(),
        "NHS Number,Email Address,Mobile,Channel,Reason\n4010232137,,07700100199,sms,permanent_failure\n"
    );
}

#[tokio::test]
async fn every_queue_message_delivered_twice_still_sends_one_sms_per_patient() {
    let layer: infra::embedded::QueueLayer =
        Box::new(|queue| Arc::new(DuplicatingQueue(queue)) as Arc<dyn WorkQueue>);
    let app = spawn_app_with(Some(layer), tempfile::tempdir().unwrap()).await;
    let batch_id = app.send_list(&clean_list(250)).await;
    app.run_pending_work().await;

    let batch = app.batch(&batch_id).await;
    assert_eq!(batch["status"], "Saved");
    assert_eq!(batch["counts"]["delivered"], 250);
    assert_one_message_each(&app.outbox().await, 250);
    // Each record job came twice too: still one entry per patient.
    assert_eq!(batch["counts"]["saved_to_record"], 250);
    let entries = app.stack.records.entries().await.unwrap();
    let patients: std::collections::HashSet<&str> =
        entries.iter().map(|e| e.nhs_number.as_str()).collect();
    assert_eq!((entries.len(), patients.len()), (250, 250));
}

#[tokio::test]
async fn a_rebuilt_projection_equals_the_live_one() {
    let app = spawn_app().await;
    let csv = "NHS Number,Given Name,Telecom Number,Date of Birth\n\
               9434765919,Joe,07700 100123,01/02/1950\n\
               4010232137,Ann,07700 100199,01/02/1950\n";
    app.send_list(csv).await;
    app.send_list(&clean_list(40)).await;
    app.run_pending_work().await;

    let live = app.stack.views.dump().await.unwrap();
    assert_eq!((live.0.len(), live.1.len()), (2, 42));
    app.stack.rebuild_views().await.unwrap();
    assert_eq!(app.stack.views.dump().await.unwrap(), live);
}

#[tokio::test]
async fn a_batch_is_sent_only_once() {
    let app = spawn_app().await;
    let batch_id = app.send_list(&clean_list(3)).await;
    let again = app
        .send_batch_as(ORG, &batch_id, json!({"now": true}))
        .await;
    assert_eq!(again.status(), 409);
    let problem: Value = again.json().await.unwrap();
    assert_eq!(problem["code"], "already_sent");
    assert_eq!(problem["detail"], "this batch has already been sent");
}

#[tokio::test]
async fn another_organisation_can_neither_see_nor_send_nor_reuse_a_batch_or_list() {
    let app = spawn_app().await;
    let list: Value = app.upload_list(&clean_list(2)).await.json().await.unwrap();
    let list_id = list["list_id"].as_str().unwrap();

    let stolen_list = app.create_batch_as("B99999", list_id).await;
    assert_eq!(stolen_list.status(), 404);
    assert_eq!(
        stolen_list.json::<Value>().await.unwrap()["code"],
        "list_not_found"
    );

    let batch_id = app
        .create_batch_as(ORG, list_id)
        .await
        .json::<Value>()
        .await
        .unwrap()["batch_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.run_pending_work().await;
    let read = app.get_batch_as("B99999", &batch_id).await;
    assert_eq!(read.status(), 404);
    assert_eq!(
        read.json::<Value>().await.unwrap()["code"],
        "batch_not_found"
    );
    let send = app
        .send_batch_as("B99999", &batch_id, json!({"now": true}))
        .await;
    assert_eq!(send.status(), 404);
    app.run_pending_work().await;
    assert_eq!(app.batch(&batch_id).await["status"], "Draft");
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn an_unknown_batch_is_a_404_problem() {
    let app = spawn_app().await;
    let response = app.get_batch_as(ORG, "no-such-batch").await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem,
        json!({"type": "urn:batchbook:problem:batch_not_found", "title": "Batch not found",
               "status": 404, "detail": "there is no such batch", "code": "batch_not_found"})
    );
}

#[tokio::test]
async fn a_batch_request_without_a_message_is_refused_with_its_reason() {
    let app = spawn_app().await;
    let list: Value = app.upload_list(&clean_list(2)).await.json().await.unwrap();
    let response = app
        .client
        .post(format!("{}/v1/batches", app.address))
        .json(&json!({"name": "Flu", "list_id": list["list_id"], "message": "  "}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.json::<Value>().await.unwrap()["detail"],
        "message: give the message, or a template_id to copy it from"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let app = spawn_app().await;
    let doc = app.get_json("/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/v1/attachments",
            "/v1/attachments/{attachment_id}",
            "/v1/audit/history",
            "/v1/audit/subject-access",
            "/v1/batches",
            "/v1/batches/preview",
            "/v1/batches/{batch_id}",
            "/v1/batches/{batch_id}/booked.csv",
            "/v1/batches/{batch_id}/cancel",
            "/v1/batches/{batch_id}/failed-to-deliver.csv",
            "/v1/batches/{batch_id}/links/revoke",
            "/v1/batches/{batch_id}/not-booked.csv",
            "/v1/batches/{batch_id}/responses.csv",
            "/v1/batches/{batch_id}/send",
            "/v1/batches/{batch_id}/series/stop",
            "/v1/callbacks/govuk-notify",
            "/v1/callbacks/nhs-notify",
            "/v1/conversations",
            "/v1/conversations/{conversation_id}",
            "/v1/conversations/{conversation_id}/assignee",
            "/v1/conversations/{conversation_id}/done",
            "/v1/conversations/{conversation_id}/messages",
            "/v1/conversations/{conversation_id}/read",
            "/v1/conversations/{conversation_id}/reopen",
            "/v1/dev/sms-outbox",
            "/v1/invites",
            "/v1/links/{token}",
            "/v1/links/{token}/attachment",
            "/v1/links/{token}/booking",
            "/v1/links/{token}/booking/cancel",
            "/v1/links/{token}/decline",
            "/v1/links/{token}/invite",
            "/v1/links/{token}/questionnaire",
            "/v1/links/{token}/reply",
            "/v1/links/{token}/slots",
            "/v1/links/{token}/verify",
            "/v1/lists",
            "/v1/lists/uploads",
            "/v1/lists/{list_id}",
            "/v1/lists/{list_id}/not-contactable.csv",
            "/v1/lists/{list_id}/progress",
            "/v1/patients/search",
            "/v1/self-book/availability",
            "/v1/self-book/catalogue",
            "/v1/settings",
            "/v1/templates",
            "/v1/templates/{template_id}",
            "/v1/workspaces",
            "/v1/workspaces/{workspace_id}",
            "/v1/workspaces/{workspace_id}/inbox",
            "/v1/workspaces/{workspace_id}/members/{user_id}",
            "/v1/workspaces/{workspace_id}/unread",
        ]
    );
}

/// Every field of every schema, and every parameter, says what it is;
/// every enum lists its values; every operation names the security scheme
/// or is a patient's or a provider's route, which carry their own proof.
#[tokio::test]
async fn the_openapi_document_describes_every_field_and_lists_every_enum() {
    fn walk(at: &str, schema: &Value, missing: &mut Vec<String>) {
        if !schema.is_object() {
            return;
        }
        if let Some(properties) = schema["properties"].as_object() {
            for (name, property) in properties {
                let here = format!("{at}.{name}");
                if property.get("description").is_none() {
                    missing.push(here.clone());
                }
                walk(&here, property, missing);
            }
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for variant in schema[key].as_array().into_iter().flatten() {
                walk(at, variant, missing);
            }
        }
        walk(&format!("{at}[]"), &schema["items"], missing);
        if schema["type"] == "string" && schema.get("enum").is_some() {
            assert!(!schema["enum"].as_array().unwrap().is_empty(), "{at}");
        }
    }
    let app = spawn_app().await;
    let doc = app.get_json("/openapi.json").await;
    let mut missing = Vec::new();
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        walk(name, schema, &mut missing);
    }
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter.get("description").is_none() {
                    missing.push(format!("{method} {path} {}", parameter["name"]));
                }
            }
        }
    }
    assert_eq!(missing, Vec::<String>::new(), "these have no description");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    );
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    // Enums are listed: a batch's status names each of its values.
    assert_eq!(
        doc["components"]["schemas"]["BatchStatusName"]["enum"],
        json!([
            "Draft",
            "Scheduled",
            "Sending",
            "Done",
            "Cancelled",
            "Saving",
            "Saved"
        ])
    );
}
