//! Isolation by construction (issue 16): every operation in the OpenAPI
//! document that takes an id is tried, as another organisation, on a
//! resource the first one made. Each answer is 404 and nothing changes, so
//! a route added later is covered without anyone remembering to add it.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{clean_list, id_operations, nhs_numbers, spawn_app, TestApp, ORG};

const OTHER: &str = "B67890";

#[tokio::test]
async fn no_operation_lets_one_organisation_reach_anothers_resource_by_its_id() {
    let app = spawn_app().await;
    let csv = clean_list(2);
    let list_id = app.list_as(ORG, &csv).await;
    let batch_id = app.send_list(&csv).await;
    app.run_pending_work().await;
    let (status, template) = TestApp::reply(
        app.request(Method::POST, "/v1/templates")
            .json(&json!({"name": "Flu", "body": "Dear ((name))"})),
    )
    .await;
    assert_eq!(status, 201, "{template}");
    let (status, attachment) = TestApp::reply(
        app.request(Method::POST, "/v1/attachments?file_name=leaflet.pdf")
            .header("content-type", "application/pdf")
            .body(b"%PDF-1.4\n%%EOF\n".to_vec()),
    )
    .await;
    assert_eq!(status, 201, "{attachment}");
    let (status, workspace) = TestApp::reply(
        app.request(Method::POST, "/v1/workspaces")
            .json(&json!({"name": "Dermatology"})),
    )
    .await;
    assert_eq!(status, 201, "{workspace}");
    let workspace_id = workspace["workspace_id"].as_str().unwrap().to_owned();
    let (status, _) = TestApp::reply(
        app.request(
            Method::PUT,
            &format!("/v1/workspaces/{workspace_id}/members/sam"),
        )
        .json(&json!({"name": "Sam"})),
    )
    .await;
    assert_eq!(status, 200);
    let conversation_id = app.conversation_in(&workspace_id).await;
    let ids = [
        ("batch_id", batch_id.clone()),
        ("list_id", list_id),
        (
            "template_id",
            template["template_id"].as_str().unwrap().to_owned(),
        ),
        (
            "attachment_id",
            attachment["attachment_id"].as_str().unwrap().to_owned(),
        ),
        ("workspace_id", workspace_id),
        ("user_id", "sam".to_owned()),
        ("conversation_id", conversation_id),
    ];
    let patient = nhs_numbers(&csv)[0].clone();
    let doc = app.get_json("/openapi.json").await;
    let before = app.snapshot().await;
    let mut tried = Vec::new();
    for op in id_operations(&doc, &ids, &patient) {
        let method: Method = op.method.parse().unwrap();
        let mut request = app.request_as(OTHER, method, &op.path);
        if let Some(body) = &op.body {
            request = request.json(body);
        }
        let (status, body) = TestApp::reply(request).await;
        let what = format!("{} {}", op.method, op.documented);
        assert_eq!(status, 404, "{what}: {body}");
        assert!(
            body["code"].as_str().unwrap().ends_with("_not_found"),
            "{what}: {body}"
        );
        tried.push(what);
    }
    assert_eq!(app.snapshot().await, before);
    // The loop tried each of these; a route added later is tried too, and
    // named here, so one that drops out of the document is noticed.
    tried.sort();
    assert_eq!(
        tried,
        [
            "DELETE /v1/templates/{template_id}",
            "DELETE /v1/workspaces/{workspace_id}/members/{user_id}",
            "GET /v1/attachments/{attachment_id}",
            "GET /v1/batches/{batch_id}",
            "GET /v1/batches/{batch_id}/booked.csv",
            "GET /v1/batches/{batch_id}/failed-to-deliver.csv",
            "GET /v1/batches/{batch_id}/not-booked.csv",
            "GET /v1/batches/{batch_id}/responses.csv",
            "GET /v1/conversations/{conversation_id}",
            "GET /v1/lists/{list_id}",
            "GET /v1/lists/{list_id}/not-contactable.csv",
            "GET /v1/lists/{list_id}/progress",
            "GET /v1/templates/{template_id}",
            "GET /v1/workspaces/{workspace_id}",
            "GET /v1/workspaces/{workspace_id}/unread",
            "POST /v1/batches/{batch_id}/cancel",
            "POST /v1/batches/{batch_id}/links/revoke",
            "POST /v1/batches/{batch_id}/send",
            "POST /v1/batches/{batch_id}/series/stop",
            "POST /v1/conversations/{conversation_id}/done",
            "POST /v1/conversations/{conversation_id}/messages",
            "POST /v1/conversations/{conversation_id}/read",
            "POST /v1/conversations/{conversation_id}/reopen",
            "POST /v1/workspaces/{workspace_id}/inbox",
            "PUT /v1/conversations/{conversation_id}/assignee",
            "PUT /v1/templates/{template_id}",
            "PUT /v1/workspaces/{workspace_id}/members/{user_id}",
        ]
    );
    // And the owner still reaches each one.
    assert_eq!(app.batch(&batch_id).await["batch_id"], batch_id);
}
