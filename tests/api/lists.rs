//! Patient list upload over HTTP: counts for a usable file, an exact problem
//! for an unusable one, and nothing stored for it.

use serde_json::{json, Value};

use crate::helpers::*;

async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_usable_list_is_counted() {
    let app = spawn_app().await;
    let response = app
        .upload_list("NHS Number,Telecom Number\r\n9434765919,07700 100123\r\n4010232137,\r\n")
        .await;
    assert_eq!(response.status(), 201);
    let list: Value = response.json().await.unwrap();
    assert_eq!(list["system"], "systmone");
    assert_eq!(
        (
            &list["patient_count"],
            &list["contactable_count"],
            &list["without_valid_mobile_count"]
        ),
        (&json!(2), &json!(1), &json!(1))
    );
    let again = app
        .client
        .get(format!(
            "{}/v1/lists/{}",
            app.address,
            list["list_id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(again.json::<Value>().await.unwrap(), list);
}

#[tokio::test]
async fn a_missing_column_is_named_with_the_columns_found_and_nothing_is_stored() {
    let app = spawn_app().await;
    let (status, body) = problem(
        app.upload_list("Name,Telecom Number\nJoe,07700 100123\n")
            .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "missing_column");
    assert_eq!(
        body["detail"],
        "the required column \"NHS Number\" is missing; the columns found were: Name, Telecom Number"
    );
    assert!(
        !app.data.path().join("blobs").exists(),
        "a refused file must store nothing"
    );
}

#[tokio::test]
async fn an_empty_file_and_a_header_only_file_are_refused() {
    let app = spawn_app().await;
    let (status, body) = problem(app.upload_list("").await).await;
    assert_eq!(
        (status, body["code"].as_str(), body["detail"].as_str()),
        (422, Some("empty_file"), Some("the file is empty"))
    );
    let (status, body) = problem(app.upload_list("NHS Number,Telecom Number\n").await).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (422, Some("the file has a header row but no patient rows"))
    );
}

#[tokio::test]
async fn a_file_over_10_mb_is_refused_with_413() {
    let app = spawn_app().await;
    let big = "x".repeat(10 * 1024 * 1024 + 10);
    let (status, body) = problem(app.upload_list(&big).await).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (413, Some("the file is larger than 10 MB"))
    );
}

#[tokio::test]
async fn a_batch_from_a_list_with_nobody_to_contact_is_refused() {
    let app = spawn_app().await;
    let list: Value = app
        .upload_list("NHS Number,Telecom Number\n9434765919,020 7946 0123\n")
        .await
        .json()
        .await
        .unwrap();
    let (status, body) = problem(
        app.create_batch_as(ORG, list["list_id"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (
            422,
            Some("the list has no contactable patients, so there is nothing to send")
        )
    );
}

#[tokio::test]
async fn the_local_runtime_offers_no_direct_upload_and_says_where_to_upload() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/v1/lists/uploads", app.address))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (422, Some("upload the list to POST /v1/lists instead"))
    );
}

#[tokio::test]
async fn an_unknown_list_is_a_404_problem() {
    let app = spawn_app().await;
    for list_id in ["not-a-uuid", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"] {
        let response = app
            .client
            .get(format!("{}/v1/lists/{list_id}", app.address))
            .send()
            .await
            .unwrap();
        let (status, body) = problem(response).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("list_not_found")),
            "{list_id}"
        );
    }
}
