//! Message templates (issue 16): "My templates" and "Shared templates",
//! created, edited and deleted with exact refusals, and copied into a batch
//! when it is made.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::spawn_app;
use crate::helpers::{clean_list, TestApp};

const SAM: &str = "A12345:sam";
const JO: &str = "A12345:jo";
const ANN: &str = "A12345:ann:admin";

impl TestApp {
    async fn template_as(&self, who: &str, body: Value) -> (u16, Value) {
        TestApp::reply(
            self.request_as(who, Method::POST, "/v1/templates")
                .json(&body),
        )
        .await
    }

    async fn made_template(&self, who: &str, body: Value) -> String {
        let (status, made) = self.template_as(who, body).await;
        assert_eq!(status, 201, "{made}");
        made["template_id"].as_str().unwrap().to_owned()
    }
}

fn refusal(answer: (u16, Value)) -> (u16, String, String) {
    let (status, body) = answer;
    (
        status,
        body["code"].as_str().unwrap_or_default().to_owned(),
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn templates_are_listed_as_mine_and_shared_with_their_length_and_encoding() {
    let app = spawn_app().await;
    let (status, made) = app
        .template_as(
            SAM,
            json!({"name": "Flu", "body": "Dear ((name)), book your flu jab."}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["name"], "Flu");
    assert_eq!(made["shared"], false);
    assert_eq!(made["version"], 1);
    assert_eq!(made["owner"], json!({"user_id": "sam", "name": "sam"}));
    // Filled in with a 35-character name: 33 - 8 + 35 = 60 characters.
    assert_eq!(
        made["length"],
        json!({"encoding": "gsm7", "characters": 60, "fragments": 1})
    );
    // A Welsh letter is outside GSM 7-bit: the text goes as UCS-2.
    let welsh = app
        .made_template(
            ANN,
            json!({"name": "Ffliw", "body": "Annwyl ((name)), dewch i gael eich pigiad ffliw ŵ",
                   "shared": true}),
        )
        .await;
    app.made_template(JO, json!({"name": "Jo's", "body": "Hello"}))
        .await;

    let lists = app.page_of(SAM, "/v1/templates").await;
    let names = |key: &str| -> Vec<String> {
        lists[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names("mine"), ["Flu"]);
    assert_eq!(names("shared"), ["Ffliw"]);
    let shared = &lists["shared"][0];
    assert_eq!(shared["template_id"], welsh);
    assert_eq!(shared["length"]["encoding"], "ucs2");
    // 49 - 8 + 35 = 76 characters: over 70, so two UCS-2 fragments.
    assert_eq!(shared["length"]["characters"], 76);
    assert_eq!(shared["length"]["fragments"], 2);
    // Jo's personal template is Jo's alone.
    let jo = app.page_of(JO, "/v1/templates").await;
    assert_eq!(jo["mine"][0]["name"], "Jo's");
    assert_eq!(jo["shared"][0]["name"], "Ffliw");
}

#[tokio::test]
async fn a_template_is_refused_with_the_reason_and_nothing_is_kept() {
    let app = spawn_app().await;
    let before = app.snapshot().await;
    let cases = [
        (SAM, json!({"name": "Flu", "body": "Dear ((firstname))"}), 422, "invalid_request",
         "body: the message has a placeholder Batchbook cannot fill: ((firstname)); the placeholders are ((name)) and ((link))"),
        (SAM, json!({"name": "Long", "body": format!("Dear ((name)) {}", "x".repeat(880))}), 422, "invalid_request",
         "body: the message is 921 characters long once filled in; a text message can be at most 918"),
        (SAM, json!({"name": " ", "body": "Hello"}), 422, "invalid_request",
         "name: give the template a name"),
        (SAM, json!({"name": "Flu", "body": "Hello", "share": true}), 422, "invalid_request",
         "unknown field `share`; did you mean `shared`?"),
        (SAM, json!({"name": "Flu", "body": "Hello", "shared": true}), 403, "role_needed",
         "this needs the admin role; ask an admin of your organisation"),
    ];
    for (who, body, status, code, detail) in cases {
        assert_eq!(
            refusal(app.template_as(who, body.clone()).await),
            (status, code.into(), detail.into()),
            "{body}"
        );
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn only_the_owner_edits_a_personal_template_and_only_an_admin_a_shared_one() {
    let app = spawn_app().await;
    let personal = app
        .made_template(SAM, json!({"name": "Flu", "body": "Hello"}))
        .await;
    let shared = app
        .made_template(
            ANN,
            json!({"name": "Team", "body": "Hello", "shared": true}),
        )
        .await;
    let edit = |who: &'static str, id: &str, body: Value| {
        let path = format!("/v1/templates/{id}");
        let request = app.request_as(who, Method::PUT, &path).json(&body);
        async move { TestApp::reply(request).await }
    };
    let before = app.snapshot().await;
    assert_eq!(
        refusal(edit(JO, &personal, json!({"name": "Mine now", "body": "Hi"})).await),
        (
            403,
            "not_your_template".into(),
            "this is sam's personal template; only they can change it".into()
        )
    );
    assert_eq!(
        refusal(
            TestApp::reply(app.request_as(
                JO,
                Method::DELETE,
                &format!("/v1/templates/{personal}")
            ))
            .await
        ),
        (
            403,
            "not_your_template".into(),
            "this is sam's personal template; only they can change it".into()
        )
    );
    assert_eq!(
        refusal(
            edit(
                SAM,
                &shared,
                json!({"name": "Team", "body": "Hi", "shared": true})
            )
            .await
        ),
        (
            403,
            "role_needed".into(),
            "this needs the admin role; ask an admin of your organisation".into()
        )
    );
    assert_eq!(
        refusal(edit(ANN, &shared, json!({"name": "Team", "body": "Hi"})).await),
        (422, "invalid_request".into(),
         "shared: a shared template stays shared; to keep words of your own, write a new template".into())
    );
    assert_eq!(
        refusal(edit(SAM, &personal, json!({"name": "Flu", "body": "Dear ((nmae))"})).await),
        (422, "invalid_request".into(),
         "body: the message has a placeholder Batchbook cannot fill: ((nmae)); the placeholders are ((name)) and ((link))".into())
    );
    assert_eq!(app.snapshot().await, before);

    // The owner edits theirs; an admin edits the shared one.
    let (status, edited) = edit(
        SAM,
        &personal,
        json!({"name": "Flu", "body": "Hello ((name))"}),
    )
    .await;
    assert_eq!(
        (status, edited["version"].clone(), edited["body"].clone()),
        (200, json!(2), json!("Hello ((name))"))
    );
    let (status, edited) = edit(
        ANN,
        &shared,
        json!({"name": "Team", "body": "Hi all", "shared": true}),
    )
    .await;
    assert_eq!((status, edited["version"].clone()), (200, json!(2)));
    // Deleted: gone from the lists, and a 404 after.
    let path = format!("/v1/templates/{personal}");
    assert_eq!(
        TestApp::reply(app.request_as(SAM, Method::DELETE, &path))
            .await
            .0,
        204
    );
    assert_eq!(
        refusal(TestApp::reply(app.request_as(SAM, Method::GET, &path)).await),
        (
            404,
            "template_not_found".into(),
            "there is no such template of yours or shared with your organisation".into()
        )
    );
    assert_eq!(
        refusal(edit(SAM, &personal, json!({"name": "Flu", "body": "Hello"})).await).0,
        404
    );
    assert_eq!(app.page_of(SAM, "/v1/templates").await["mine"], json!([]));
}

#[tokio::test]
async fn a_batch_made_from_a_template_keeps_its_words_when_the_template_changes() {
    let app = spawn_app().await;
    let template = app
        .made_template(
            SAM,
            json!({"name": "Flu", "body": "Dear ((name)), book your flu jab.",
                   "email_subject": "Your flu jab"}),
        )
        .await;
    let list = app.list_as(SAM, &clean_list(2)).await;
    let (status, batch) = TestApp::reply(
        app.request_as(SAM, Method::POST, "/v1/batches")
            .json(&json!({"name": "Flu clinic", "list_id": list, "template_id": template})),
    )
    .await;
    assert_eq!(status, 201, "{batch}");
    assert_eq!(batch["message"], "Dear ((name)), book your flu jab.");
    assert_eq!(batch["email_subject"], "Your flu jab");
    assert_eq!(
        batch["from_template"],
        json!({"template_id": template, "version": 1, "name": "Flu"})
    );
    let id = batch["batch_id"].as_str().unwrap().to_owned();

    // A later edit changes no batch already made.
    let (status, _) = TestApp::reply(
        app.request_as(SAM, Method::PUT, &format!("/v1/templates/{template}"))
            .json(&json!({"name": "Flu", "body": "Hello ((name)), a new wording."})),
    )
    .await;
    assert_eq!(status, 200);
    let again = app.page_of(SAM, &format!("/v1/batches/{id}")).await;
    assert_eq!(again["message"], "Dear ((name)), book your flu jab.");
    assert_eq!(again["from_template"]["version"], 1);
    // And the patients get the words the batch was made with.
    app.send_batch_as(SAM, &id, json!({"now": true})).await;
    app.run_pending_work().await;
    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[0]["body"], "Dear Pat, book your flu jab.");

    // Refusals: both or neither of message and template, or a colleague's.
    let jo_template = app
        .made_template(JO, json!({"name": "Jo's", "body": "Hi"}))
        .await;
    let cases = [
        (
            json!({"name": "F", "list_id": list, "template_id": template, "message": "Hi"}),
            "message and template_id: give one of them, not both",
        ),
        (
            json!({"name": "F", "list_id": list}),
            "message: give the message, or a template_id to copy it from",
        ),
        (
            json!({"name": "F", "list_id": list, "template_id": jo_template}),
            "template_id: there is no such template of yours or shared with you",
        ),
        (
            json!({"name": "F", "list_id": list, "template_id": "nope"}),
            "template_id: there is no such template of yours or shared with you",
        ),
    ];
    for (body, detail) in cases {
        assert_eq!(
            refusal(
                TestApp::reply(app.request_as(SAM, Method::POST, "/v1/batches").json(&body)).await
            ),
            (422, "invalid_request".into(), detail.into()),
            "{body}"
        );
    }
}

impl TestApp {
    async fn page_of(&self, who: &str, path: &str) -> Value {
        let (status, body) = TestApp::reply(self.request_as(who, Method::GET, path)).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}
