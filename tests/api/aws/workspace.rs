//! The staff workspace on the AWS adapters (issue 16), through the API
//! function on moto: roles from the JWT's claims, templates, the listings
//! (indexed reads of DynamoDB, never scans) and reads that see the caller's
//! own writes with no projector run in between.

use axum::body::Body;
use serde_json::{json, Value};

use super::env::AwsTestEnv;
use super::flow::{exchange_as, json_of, Signer};
use super::ingest::upload_and_ingest;
use crate::helpers::clean_list;

pub(super) const SAM: Signer = Signer {
    org: "A12345",
    user: "sam",
    name: "Sam Jones",
    role: "staff",
};
pub(super) const ANN: Signer = Signer {
    org: "A12345",
    user: "ann",
    name: "Ann Patel",
    role: "admin",
};
pub(super) const OTHER: Signer = Signer {
    org: "B67890",
    user: "bo",
    name: "Bo",
    role: "admin",
};

pub(super) async fn call(
    env: &AwsTestEnv,
    who: &Signer<'_>,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let headers = [("content-type", "application/json")];
    json_of(exchange_as(env, who, method, uri, &headers, body).await).await
}

async fn ok(env: &AwsTestEnv, who: &Signer<'_>, uri: &str) -> Value {
    let (status, body) = call(env, who, "GET", uri, None).await;
    assert_eq!(status, 200, "{uri}: {body}");
    body
}

fn ids(page: &Value, key: &str, id: &str) -> Vec<String> {
    page[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[id].as_str().unwrap().to_owned())
        .collect()
}

/// No projector runs in this test: every read below sees its command's
/// write because the command brought the views up to date before answering.
#[tokio::test]
async fn batches_are_listed_paged_filtered_and_read_straight_after_each_command() {
    let env = AwsTestEnv::new().await;
    let list_id = upload_and_ingest(&env, &clean_list(2)).await;
    let mut made = Vec::new();
    for n in 0..5 {
        let who = if n % 2 == 0 { &SAM } else { &ANN };
        let (status, created) = call(
            &env,
            who,
            "POST",
            "/v1/batches",
            Some(json!({
            "name": format!("Batch {n}"), "list_id": list_id,
            "message": "Dear ((name)), book your flu jab."})),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        let id = created["batch_id"].as_str().unwrap().to_owned();
        let read = ok(&env, &SAM, &format!("/v1/batches/{id}")).await;
        assert_eq!(
            (
                read["status"].clone(),
                read["created_by"]["user_id"].clone()
            ),
            (json!("Draft"), json!(who.user))
        );
        assert_eq!(
            ids(
                &ok(&env, &SAM, "/v1/batches?limit=1").await,
                "batches",
                "batch_id"
            )[0]
            .clone(),
            id
        );
        made.push(id);
        // Batches made in the same instant have no "newest".
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Sent and cancelled, each read straight after.
    let (status, sent) = call(
        &env,
        &SAM,
        "POST",
        &format!("/v1/batches/{}/send", made[0]),
        Some(json!({"send_at": chrono::Utc::now() + chrono::Duration::days(2)})),
    )
    .await;
    assert_eq!(
        (status, sent["status"].clone()),
        (202, json!("Scheduled")),
        "{sent}"
    );
    assert_eq!(
        ok(&env, &SAM, &format!("/v1/batches/{}", made[0])).await["status"],
        "Scheduled"
    );
    let (status, cancelled) = call(
        &env,
        &SAM,
        "POST",
        &format!("/v1/batches/{}/cancel", made[1]),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, cancelled["status"].clone()),
        (200, json!("Cancelled")),
        "{cancelled}"
    );
    assert_eq!(
        ids(
            &ok(&env, &SAM, "/v1/batches?status=Cancelled").await,
            "batches",
            "batch_id"
        ),
        [made[1].clone()]
    );
    assert_eq!(
        ids(
            &ok(&env, &SAM, "/v1/batches?status=Scheduled").await,
            "batches",
            "batch_id"
        ),
        [made[0].clone()]
    );

    // Newest first, two at a time.
    let mut seen = Vec::new();
    let mut uri = "/v1/batches?limit=2".to_owned();
    loop {
        let page = ok(&env, &SAM, &uri).await;
        seen.extend(ids(&page, "batches", "batch_id"));
        match page["next"].as_str() {
            Some(next) => uri = format!("/v1/batches?limit=2&cursor={}", next.replace('#', "%23")),
            None => break,
        }
    }
    let mut newest_first = made.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    assert_eq!(
        ids(
            &ok(&env, &SAM, "/v1/batches?created_by=ann").await,
            "batches",
            "batch_id"
        ),
        [made[3].clone(), made[1].clone()]
    );
    // The other organisation sees none of it.
    assert_eq!(ok(&env, &OTHER, "/v1/batches").await["batches"], json!([]));
    let (status, body) = call(
        &env,
        &OTHER,
        "GET",
        &format!("/v1/batches/{}", made[0]),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (404, json!("batch_not_found"))
    );
    // The lists page holds the list the ingest function checked.
    let lists = ok(&env, &SAM, "/v1/lists").await;
    assert_eq!(ids(&lists, "lists", "list_id"), [list_id]);
    assert_eq!(lists["lists"][0]["uploaded_by"], Value::Null);
}

#[tokio::test]
async fn templates_and_their_refusals_through_the_api_function() {
    let env = AwsTestEnv::new().await;
    let (status, mine) = call(
        &env,
        &SAM,
        "POST",
        "/v1/templates",
        Some(json!({"name": "Flu", "body": "Dear ((name)), book your flu jab."})),
    )
    .await;
    assert_eq!(status, 201, "{mine}");
    let mine_id = mine["template_id"].as_str().unwrap().to_owned();
    assert_eq!(
        mine["owner"],
        json!({"user_id": "sam", "name": "Sam Jones"})
    );
    let (status, body) = call(
        &env,
        &SAM,
        "POST",
        "/v1/templates",
        Some(json!({"name": "Team", "body": "Hello", "shared": true})),
    )
    .await;
    assert_eq!(
        (status, body["detail"].clone()),
        (
            403,
            json!("this needs the admin role; ask an admin of your organisation")
        )
    );
    let (status, shared) = call(
        &env,
        &ANN,
        "POST",
        "/v1/templates",
        Some(json!({"name": "Team", "body": "Hello ((name))", "shared": true})),
    )
    .await;
    assert_eq!(status, 201, "{shared}");
    let lists = ok(&env, &SAM, "/v1/templates").await;
    assert_eq!(ids(&lists, "mine", "template_id"), [mine_id.as_str()]);
    assert_eq!(
        ids(&lists, "shared", "template_id"),
        [shared["template_id"].as_str().unwrap()]
    );
    // A colleague cannot change Sam's; Sam can, and reads it back at once.
    let path = format!("/v1/templates/{mine_id}");
    let (status, body) = call(
        &env,
        &ANN,
        "PUT",
        &path,
        Some(json!({"name": "Flu", "body": "Hi"})),
    )
    .await;
    assert_eq!(
        (status, body["detail"].clone()),
        (
            403,
            json!("this is Sam Jones's personal template; only they can change it")
        )
    );
    let list_id = upload_and_ingest(&env, &clean_list(1)).await;
    let (status, batch) = call(
        &env,
        &SAM,
        "POST",
        "/v1/batches",
        Some(json!({"name": "Flu", "list_id": list_id, "template_id": mine_id})),
    )
    .await;
    assert_eq!(status, 201, "{batch}");
    assert_eq!(
        batch["from_template"],
        json!({"template_id": mine_id, "version": 1, "name": "Flu"})
    );
    let (status, edited) = call(
        &env,
        &SAM,
        "PUT",
        &path,
        Some(json!({"name": "Flu", "body": "New words for ((name))"})),
    )
    .await;
    assert_eq!(
        (status, edited["version"].clone()),
        (200, json!(2)),
        "{edited}"
    );
    assert_eq!(
        ok(&env, &SAM, &path).await["body"],
        "New words for ((name))"
    );
    let batch = ok(
        &env,
        &SAM,
        &format!("/v1/batches/{}", batch["batch_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(batch["message"], "Dear ((name)), book your flu jab.");
    // Deleted, and gone at once.
    assert_eq!(call(&env, &SAM, "DELETE", &path, None).await.0, 204);
    let (status, body) = call(&env, &SAM, "GET", &path, None).await;
    assert_eq!(
        (status, body["code"].clone()),
        (404, json!("template_not_found"))
    );
    assert_eq!(ok(&env, &SAM, "/v1/templates").await["mine"], json!([]));
    // Another organisation cannot reach the shared one either.
    let (status, _) = call(
        &env,
        &OTHER,
        "GET",
        &format!("/v1/templates/{}", shared["template_id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn attachments_settings_and_the_catalogue_through_the_api_function() {
    let env = AwsTestEnv::new().await;
    let leaflet = b"%PDF-1.4\n%%EOF\n".to_vec();
    let response = exchange_as(
        &env,
        &SAM,
        "POST",
        "/v1/attachments?file_name=leaflet.pdf",
        &[("content-type", "application/pdf")],
        Body::from(leaflet.clone()),
    )
    .await;
    let (status, uploaded) = json_of(response).await;
    assert_eq!(status, 201, "{uploaded}");
    let id = uploaded["attachment_id"].as_str().unwrap().to_owned();
    let page = ok(&env, &ANN, "/v1/attachments").await;
    assert_eq!(ids(&page, "attachments", "attachment_id"), [id.as_str()]);
    assert_eq!(
        page["attachments"][0]["uploaded_by"],
        json!({"user_id": "sam", "name": "Sam Jones"})
    );
    let file = exchange_as(
        &env,
        &ANN,
        "GET",
        &format!("/v1/attachments/{id}"),
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "application/pdf");
    let bytes = axum::body::to_bytes(file.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), leaflet.as_slice());
    let (status, body) = call(&env, &OTHER, "GET", &format!("/v1/attachments/{id}"), None).await;
    assert_eq!(
        (status, body["code"].clone()),
        (404, json!("attachment_not_found"))
    );

    // Settings need an admin; the history names who changed them.
    let settings = json!({"flag_mobiles_likely_to_fail": true});
    let (status, body) = call(&env, &SAM, "PUT", "/v1/settings", Some(settings.clone())).await;
    assert_eq!((status, body["code"].clone()), (403, json!("role_needed")));
    let (status, body) = call(&env, &ANN, "PUT", "/v1/settings", Some(settings)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        ok(&env, &SAM, "/v1/settings").await["flag_mobiles_likely_to_fail"],
        true
    );

    // The catalogue of the (simulated) appointment book.
    let catalogue = ok(&env, &SAM, "/v1/self-book/catalogue").await;
    let mut types = ids(&catalogue, "slot_types", "slot_type");
    types.sort();
    assert_eq!(types, ["flu", "review"]);
    assert_eq!(ids(&catalogue, "locations", "location_id"), ["riverside"]);
}
