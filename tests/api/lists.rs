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
        .upload_list("NHS Number,Telecom Number,DOB\r\n9434765919,07700 100123,01/02/1950\r\n4010232137,,01/02/1950\r\n")
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
    let (status, body) = problem(app.upload_list("NHS Number,Telecom Number,DOB\n").await).await;
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
async fn a_list_far_larger_than_any_json_body_is_taken() {
    let app = spawn_app().await;
    let list = clean_list(10_000);
    assert!(list.len() > 4 * 64 * 1024);
    let response = app.upload_list(&list).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["patient_count"], 10_000);
}

#[tokio::test]
async fn a_batch_from_a_list_with_nobody_to_contact_is_refused() {
    let app = spawn_app().await;
    let list: Value = app
        .upload_list("NHS Number,Telecom Number,DOB\n9434765919,020 7946 0123,01/02/1950\n")
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

async fn get_as(app: &TestApp, org: &str, path: &str) -> reqwest::Response {
    app.as_org(app.client.get(format!("{}{path}", app.address)), org)
        .send()
        .await
        .unwrap()
}

async fn not_contactable_csv(app: &TestApp, org: &str, list_id: &str) -> String {
    let response = get_as(
        app,
        org,
        &format!("/v1/lists/{list_id}/not-contactable.csv"),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    response.text().await.unwrap()
}

#[tokio::test]
async fn an_emis_list_of_nhs_numbers_is_completed_from_pds_with_each_outcome_named() {
    let app = spawn_app().await;
    // The simulated PDS's synthetic patients (infra/fixtures), and one it
    // does not hold.
    let csv = "NHS Number\r\n\
               9990000018\r\n\
               9990000026\r\n\
               9990000034\r\n\
               9990000042\r\n\
               9990000050\r\n\
               9990000069\r\n\
               9990000077\r\n\
               9434765919\r\n";
    let response = app.upload_list(csv).await;
    assert_eq!(response.status(), 201);
    let list: Value = response.json().await.unwrap();
    assert_eq!(list["system"], "emis");
    assert_eq!(
        (
            &list["patient_count"],
            &list["contactable_count"],
            &list["not_contactable_count"],
            &list["without_valid_mobile_count"]
        ),
        (&json!(8), &json!(3), &json!(5), &json!(4))
    );
    let list_id = list["list_id"].as_str().unwrap();
    assert_eq!(
        not_contactable_csv(&app, ORG, list_id).await,
        "NHS Number,Reason\n\
         9990000042,deceased\n\
         9990000050,unable_to_retrieve_contact_details\n\
         9990000069,contact_details_not_provided\n\
         9990000077,not_uk_mobile\n\
         9434765919,unable_to_retrieve_contact_details\n"
    );
    // The contactable three: one by SMS to PDS's mobile, two by NHS App
    // (the first keeps its mobile for the SMS fallback).
    let artifact = std::fs::read_to_string(
        app.data
            .path()
            .join(format!("blobs/lists/{ORG}/{list_id}/checked.jsonl")),
    )
    .unwrap();
    let channels: Vec<(u64, String, String)> = artifact
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["outcome"] == "contactable")
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["channel"].as_str().unwrap().to_owned(),
                r["mobile"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        channels,
        vec![
            (1, "sms".into(), "+447700100901".into()),
            (2, "nhs_app".into(), "+447700100902".into()),
            (3, "nhs_app".into(), "".into()),
        ]
    );
    // A patient the NHS App alone can reach is sent to like anyone else.
    assert_eq!(app.create_batch_as(ORG, list_id).await.status(), 201);
}

#[tokio::test]
async fn a_list_of_nhs_numbers_alone_greets_each_patient_by_the_given_name_pds_holds() {
    let app = spawn_app().await;
    let list: Value = app
        .upload_list("NHS Number\r\n9990000018\r\n")
        .await
        .json()
        .await
        .unwrap();
    let created = app
        .post_json(
            "/v1/batches",
            &json!({"name": "Flu", "list_id": list["list_id"], "message": "Dear ((name)), book your flu jab."}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let batch: Value = created.json().await.unwrap();
    let batch_id = batch["batch_id"].as_str().unwrap();
    let sent = app
        .post_json(
            &format!("/v1/batches/{batch_id}/send"),
            &json!({"now": true}),
        )
        .await;
    assert_eq!(sent.status(), 202);
    app.run_pending_work().await;
    let bodies: Vec<(String, String)> = app
        .outbox()
        .await
        .iter()
        .map(|m| {
            (
                m["to"].as_str().unwrap().into(),
                m["body"].as_str().unwrap().into(),
            )
        })
        .collect();
    // PDS's given name for 9990000018 is Joe; not "patient".
    assert_eq!(
        bodies,
        [(
            "+447700100901".to_owned(),
            "Dear Joe, book your flu jab.".to_owned()
        )]
    );
}

#[tokio::test]
async fn nhs_app_patients_are_sent_an_nhs_app_message_and_others_an_sms() {
    let app = spawn_app().await;
    let batch_id = app
        .send_list(
            "NHS Number
9990000018
9990000026
",
        )
        .await;
    app.run_pending_work().await;
    let mut to: Vec<String> = app
        .outbox()
        .await
        .iter()
        .map(|m| m["to"].as_str().unwrap().to_owned())
        .collect();
    to.sort();
    assert_eq!(to, ["+447700100901", "9990000026"]);
    // Aisha never reads hers, so the batch waits for her fallback.
    assert_eq!(app.batch(&batch_id).await["status"], "Sending");
}

#[tokio::test]
async fn the_not_contactable_report_gives_back_the_uploaded_columns_with_formulas_neutralised() {
    let app = spawn_app().await;
    let csv = "NHS Number,Given Name,Telecom Number,Date of Birth,Note\r\n\
               9434765919,Joe,07700 100123,08/04/1947,fine\r\n\
               9434765918,\"=HYPERLINK(\"\"http://x\"\")\",07700 100124,08/04/1947,\"a, b\"\r\n\
               4010232137,Ann,+44 20 7946 0123,08/04/1947,\r\n\
               5990128088,Sam,07700 100125,31/02/1947,@risk\r\n";
    let list: Value = app.upload_list(csv).await.json().await.unwrap();
    assert_eq!(
        not_contactable_csv(&app, ORG, list["list_id"].as_str().unwrap()).await,
        "NHS Number,Given Name,Telecom Number,Date of Birth,Note,Reason\n\
         9434765918,\"'=HYPERLINK(\"\"http://x\"\")\",07700 100124,08/04/1947,\"a, b\",invalid_nhs_number\n\
         4010232137,Ann,'+44 20 7946 0123,08/04/1947,,not_uk_mobile\n\
         5990128088,Sam,07700 100125,31/02/1947,'@risk,invalid_date_of_birth\n"
    );
    // Another organisation cannot read it.
    let response = get_as(
        &app,
        "B67890",
        &format!(
            "/v1/lists/{}/not-contactable.csv",
            list["list_id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_checked_list_reports_its_progress_as_complete() {
    let app = spawn_app().await;
    let list: Value = app.upload_list(&clean_list(3)).await.json().await.unwrap();
    let list_id = list["list_id"].as_str().unwrap();
    let progress: Value = get_as(&app, ORG, &format!("/v1/lists/{list_id}/progress"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        progress,
        json!({"list_id": list_id, "state": "checked", "rows_checked": 3, "bytes_checked": 0, "total_bytes": 0})
    );
    let unknown = uuid::Uuid::new_v4();
    let response = get_as(&app, ORG, &format!("/v1/lists/{unknown}/progress")).await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_mobile_that_failed_in_the_last_3_months_is_flagged_when_the_organisation_asks() {
    let app = spawn_app().await;
    // 07700 100199 fails for good at the simulated provider.
    let csv = "NHS Number,Telecom Number,Date of Birth\n\
               9434765919,07700 100123,01/02/1950\n\
               4010232137,07700 100199,01/02/1950\n";
    app.send_list(csv).await;
    app.run_pending_work().await;

    let reasons = |list: Value| list["not_contactable_count"].as_u64().unwrap();
    // Off by default.
    assert_eq!(reasons(app.upload_list(csv).await.json().await.unwrap()), 0);

    let settings = app
        .as_org(app.client.put(format!("{}/v1/settings", app.address)), ORG)
        .json(&json!({"flag_mobiles_likely_to_fail": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        settings.json::<Value>().await.unwrap(),
        json!({"flag_mobiles_likely_to_fail": true,
               "sending_window": {"opens": "08:00", "closes": "20:00", "time_zone": "Europe/London"},
               "replies": {"max_chars": 1000, "valid_for_days": 14}})
    );
    let list: Value = app.upload_list(csv).await.json().await.unwrap();
    assert_eq!(
        not_contactable_csv(&app, ORG, list["list_id"].as_str().unwrap()).await,
        "NHS Number,Telecom Number,Date of Birth,Reason\n\
         4010232137,07700 100199,01/02/1950,mobile_likely_to_fail\n"
    );

    // Another organisation's history is its own.
    let other = app
        .as_org(
            app.client.put(format!("{}/v1/settings", app.address)),
            "B67890",
        )
        .json(&json!({"flag_mobiles_likely_to_fail": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    let list: Value = app
        .upload_list_as("B67890", csv)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reasons(list), 0);

    // Three months and a day later, the failure no longer counts.
    app.clock.advance(chrono::Duration::days(93));
    let list: Value = app.upload_list(csv).await.json().await.unwrap();
    assert_eq!(reasons(list), 0);
}

#[tokio::test]
async fn settings_with_an_unknown_field_are_refused_with_the_reason() {
    let app = spawn_app().await;
    let response = app
        .as_org(app.client.put(format!("{}/v1/settings", app.address)), ORG)
        .json(&json!({"flag_mobiles_likely_to_fail": true, "colour": "blue"}))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["detail"].as_str().unwrap(),
        "unknown field `colour`; the fields are `flag_mobiles_likely_to_fail`, `sending_window`, `contact`, `other_sites`, `replies`"
    );
}

#[tokio::test]
async fn the_ingest_function_records_its_progress_as_it_checks() {
    let app = spawn_app().await;
    let list_id = uuid::Uuid::new_v4().to_string();
    let key = format!("uploads/{ORG}/{list_id}.csv");
    let csv = clean_list(12_000);
    let path = app.data.path().join("blobs").join(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &csv).unwrap();

    // While it checks, the progress says how far it got; read it as the
    // frontend would once the check has passed 10,000 rows.
    app.stack.app.ingest_upload(&key).await.unwrap();
    let recorded: Value = serde_json::from_slice(
        &std::fs::read(
            app.data
                .path()
                .join(format!("blobs/lists/{ORG}/{list_id}/progress.json")),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(recorded["state"], "checking");
    assert_eq!(recorded["rows_checked"], 10_000);
    assert_eq!(recorded["total_bytes"], csv.len() as u64);
    let read = recorded["bytes_checked"].as_u64().unwrap();
    assert!(read > 0 && read < csv.len() as u64, "bytes checked {read}");

    let progress: Value = get_as(&app, ORG, &format!("/v1/lists/{list_id}/progress"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&progress["state"], &progress["rows_checked"]),
        (&json!("checked"), &json!(12_000))
    );
}
