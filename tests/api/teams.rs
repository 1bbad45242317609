//! Workspaces (issue 18): teams inside an organisation. Admins create them
//! and approve and remove members; staff see each workspace and whether
//! they are in it; nothing of one organisation's is seen from another's.
//! Every refusal is exact and changes nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

const SAM: &str = "A12345:sam";
const ANN: &str = "A12345:ann:admin";
const AUDITOR: &str = "A12345:ida:auditor";
const OTHER_ADMIN: &str = "B81001:bo:admin";

impl TestApp {
    /// A request as `who` (a development sign-in), with `body` as JSON:
    /// its status and JSON answer.
    pub(crate) async fn call_as(
        &self,
        who: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let request = self.request_as(who, method, path);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        TestApp::reply(request).await
    }

    /// The workspace events, as (type, actor), in order.
    async fn workspace_events(&self) -> Vec<(String, String)> {
        let events = self.stack.event_log().read_after(0, 10_000).await.unwrap();
        events
            .iter()
            .filter(|(_, e)| e.aggregate_type == "Workspace")
            .map(|(_, e)| {
                (
                    e.event_type.clone(),
                    e.metadata["actor"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

/// Who asks, how, where, with what; the status, code and detail answered.
type Case<'a> = (
    &'a str,
    Method,
    String,
    Option<Value>,
    u16,
    &'a str,
    &'a str,
);

fn refusal((status, body): (u16, Value)) -> (u16, String, String) {
    (
        status,
        body["code"].as_str().unwrap_or_default().to_owned(),
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn an_admin_makes_a_workspace_and_approves_and_removes_its_members() {
    let app = spawn_app().await;
    let (status, made) = app
        .call_as(
            ANN,
            Method::POST,
            "/v1/workspaces",
            Some(json!({"name": " Dermatology "})),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let id = made["workspace_id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(
        made,
        json!({"workspace_id": id, "name": "Dermatology", "members": [], "is_member": false})
    );
    let members = format!("/v1/workspaces/{id}/members");

    let (status, added) = app
        .call_as(
            ANN,
            Method::PUT,
            &format!("{members}/sam"),
            Some(json!({"name": "Sam Jones"})),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(
        added["members"],
        json!([{"user_id": "sam", "name": "Sam Jones"}])
    );
    // The same member again changes nothing and records nothing.
    let (status, again) = app
        .call_as(
            ANN,
            Method::PUT,
            &format!("{members}/sam"),
            Some(json!({"name": "Sam Jones"})),
        )
        .await;
    assert_eq!((status, &again), (200, &added));

    // Staff see the workspace, and that they are in it, straight away.
    let (status, page) = app.call_as(SAM, Method::GET, "/v1/workspaces", None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page,
        json!({"workspaces": [{"workspace_id": id, "name": "Dermatology",
                "members": [{"user_id": "sam", "name": "Sam Jones"}], "is_member": true}],
               "next": null})
    );
    let (status, one) = app
        .call_as(SAM, Method::GET, &format!("/v1/workspaces/{id}"), None)
        .await;
    assert_eq!((status, &one["is_member"]), (200, &json!(true)));

    assert_eq!(
        refusal(
            app.call_as(ANN, Method::DELETE, &format!("{members}/jo"), None)
                .await
        ),
        (
            404,
            "not_a_member".into(),
            "jo is not a member of this workspace".into()
        )
    );
    let (status, removed) = app
        .call_as(ANN, Method::DELETE, &format!("{members}/sam"), None)
        .await;
    assert_eq!((status, &removed["members"]), (200, &json!([])));
    let (_, one) = app
        .call_as(SAM, Method::GET, &format!("/v1/workspaces/{id}"), None)
        .await;
    assert_eq!(one["is_member"], json!(false));

    assert_eq!(
        app.workspace_events().await,
        [
            ("WorkspaceCreated".to_owned(), "user:ann".to_owned()),
            ("MemberAdded".to_owned(), "user:ann".to_owned()),
            ("MemberRemoved".to_owned(), "user:ann".to_owned()),
        ]
    );
}

#[tokio::test]
async fn only_admins_manage_workspaces_and_bad_requests_are_refused_by_field() {
    let app = spawn_app().await;
    let (_, made) = app
        .call_as(
            ANN,
            Method::POST,
            "/v1/workspaces",
            Some(json!({"name": "Dermatology"})),
        )
        .await;
    let id = made["workspace_id"].as_str().unwrap().to_owned();
    let admin_needed = "this needs the admin role; ask an admin of your organisation";
    let sam = format!("/v1/workspaces/{id}/members/sam");
    let cases: Vec<Case> = vec![
        (SAM, Method::POST, "/v1/workspaces".into(), Some(json!({"name": "Mine"})), 403, "role_needed", admin_needed),
        (AUDITOR, Method::POST, "/v1/workspaces".into(), Some(json!({"name": "Mine"})), 403, "role_needed", admin_needed),
        (SAM, Method::PUT, sam.clone(), Some(json!({"name": "Sam"})), 403, "role_needed", admin_needed),
        (SAM, Method::DELETE, sam.clone(), None, 403, "role_needed", admin_needed),
        (ANN, Method::POST, "/v1/workspaces".into(), Some(json!({"name": "  "})), 422, "invalid_request",
         "name: must not be blank"),
        (ANN, Method::POST, "/v1/workspaces".into(), Some(json!({"name": "x".repeat(101)})), 422, "invalid_request",
         "name: is longer than 100 characters"),
        (ANN, Method::POST, "/v1/workspaces".into(), Some(json!({"name": "Derm\natology"})), 422, "invalid_request",
         "name: must be one line, without control characters"),
        (ANN, Method::POST, "/v1/workspaces".into(), Some(json!({"title": "Dermatology"})), 422, "invalid_request",
         "unknown field `title`; the fields are `name`"),
        (ANN, Method::PUT, format!("/v1/workspaces/{id}/members/s%20m"), Some(json!({"name": "Sam"})), 422, "invalid_request",
         "user_id: must be 1 to 64 letters, digits, `.`, `_`, `@` or `-`, as the user's sign-in gives it"),
        (ANN, Method::PUT, sam.clone(), Some(json!({"name": ""})), 422, "invalid_request",
         "name: must not be blank"),
        (ANN, Method::PUT, sam.clone(), Some(json!({"nmae": "Sam"})), 422, "invalid_request",
         "unknown field `nmae`; did you mean `name`?"),
        (ANN, Method::PUT, "/v1/workspaces/not-an-id/members/sam".into(), Some(json!({"name": "Sam"})), 404,
         "workspace_not_found", "there is no such workspace in your organisation"),
        (ANN, Method::GET, format!("/v1/workspaces/{}", uuid::Uuid::new_v4()), None, 404,
         "workspace_not_found", "there is no such workspace in your organisation"),
    ];
    for (who, method, path, body, status, code, detail) in cases {
        assert_eq!(
            refusal(app.call_as(who, method.clone(), &path, body.clone()).await),
            (status, code.to_owned(), detail.to_owned()),
            "{who} {method} {path} {body:?}"
        );
    }
    // Nothing above changed anything: one workspace, no members.
    assert_eq!(
        app.workspace_events().await,
        [("WorkspaceCreated".to_owned(), "user:ann".to_owned())]
    );
}

#[tokio::test]
async fn another_organisations_workspaces_are_neither_seen_nor_changed() {
    let app = spawn_app().await;
    let (_, made) = app
        .call_as(
            ANN,
            Method::POST,
            "/v1/workspaces",
            Some(json!({"name": "Dermatology"})),
        )
        .await;
    let id = made["workspace_id"].as_str().unwrap().to_owned();
    let not_found = (
        404,
        "workspace_not_found".to_owned(),
        "there is no such workspace in your organisation".to_owned(),
    );
    assert_eq!(
        refusal(
            app.call_as(
                OTHER_ADMIN,
                Method::GET,
                &format!("/v1/workspaces/{id}"),
                None
            )
            .await
        ),
        not_found
    );
    assert_eq!(
        refusal(
            app.call_as(
                OTHER_ADMIN,
                Method::PUT,
                &format!("/v1/workspaces/{id}/members/bo"),
                Some(json!({"name": "Bo"}))
            )
            .await
        ),
        not_found
    );
    assert_eq!(
        refusal(
            app.call_as(
                OTHER_ADMIN,
                Method::DELETE,
                &format!("/v1/workspaces/{id}/members/bo"),
                None
            )
            .await
        ),
        not_found
    );
    let (status, theirs) = app
        .call_as(OTHER_ADMIN, Method::GET, "/v1/workspaces", None)
        .await;
    assert_eq!(
        (status, theirs),
        (200, json!({"workspaces": [], "next": null}))
    );
}
