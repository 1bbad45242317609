//! Workspaces on the AWS adapters (issue 18), through the API function on
//! moto: made and changed by an admin, listed from the views table (an
//! indexed query of the organisation's partition) straight after each
//! change, and unseen from another organisation.

use serde_json::json;

use super::env::AwsTestEnv;
use super::workspace::{call, ANN, OTHER, SAM};

#[tokio::test]
async fn a_workspace_and_its_members_are_read_straight_after_each_change_and_only_in_its_organisation(
) {
    let env = AwsTestEnv::new().await;
    let (status, made) = call(
        &env,
        &ANN,
        "POST",
        "/v1/workspaces",
        Some(json!({"name": "Dermatology"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let id = made["workspace_id"].as_str().unwrap().to_owned();
    let (status, added) = call(
        &env,
        &ANN,
        "PUT",
        &format!("/v1/workspaces/{id}/members/sam"),
        Some(json!({"name": "Sam Jones"})),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    let (status, page) = call(&env, &SAM, "GET", "/v1/workspaces", None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page,
        json!({"workspaces": [{"workspace_id": id, "name": "Dermatology",
                "members": [{"user_id": "sam", "name": "Sam Jones"}], "is_member": true}],
               "next": null})
    );
    let (status, theirs) = call(&env, &OTHER, "GET", "/v1/workspaces", None).await;
    assert_eq!(
        (status, theirs),
        (200, json!({"workspaces": [], "next": null}))
    );
    let (status, problem) = call(&env, &OTHER, "GET", &format!("/v1/workspaces/{id}"), None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (404, Some("workspace_not_found"))
    );
    let (status, removed) = call(
        &env,
        &ANN,
        "DELETE",
        &format!("/v1/workspaces/{id}/members/sam"),
        None,
    )
    .await;
    assert_eq!((status, &removed["members"]), (200, &json!([])));
    let (_, page) = call(&env, &SAM, "GET", "/v1/workspaces", None).await;
    assert_eq!(page["workspaces"][0]["is_member"], json!(false));
}
