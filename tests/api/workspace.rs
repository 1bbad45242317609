//! The staff workspace (issue 16): who is signed in and what their role
//! lets them do; finding batches, lists and attachments; the appointment
//! book's catalogue; and reads that see the caller's own writes.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{clean_list, spawn_app, TestApp, ORG};

const STAFF: &str = "A12345:sam";
const ADMIN: &str = "A12345:ann:admin";
const AUDITOR: &str = "A12345:ida:auditor";
const ADMIN_ONLY: &str = "this needs the admin role; ask an admin of your organisation";
const NOT_AUDITORS: &str = "this needs the staff or admin role; an auditor can only read";

const SETTINGS: &str = r#"{"flag_mobiles_likely_to_fail": true,
    "contact": {"name": "Riverside Surgery", "phone": "01632 960000"}}"#;

async fn refusal(request: reqwest::RequestBuilder) -> (u16, String, String) {
    let (status, body) = TestApp::reply(request).await;
    (
        status,
        body["code"].as_str().unwrap_or_default().to_owned(),
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

impl TestApp {
    async fn batch_as(&self, who: &str, name: &str, list_id: &str) -> Value {
        let (status, body) = TestApp::reply(
            self.request_as(who, Method::POST, "/v1/batches")
                .json(&json!({"name": name, "list_id": list_id,
                              "message": "Dear ((name)), book your flu jab."})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    async fn page(&self, who: &str, path: &str) -> Value {
        let (status, body) = TestApp::reply(self.request_as(who, Method::GET, path)).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}

#[tokio::test]
async fn settings_and_revoking_every_link_need_an_admin_and_an_auditor_writes_nothing() {
    let app = spawn_app().await;
    let settings: Value = serde_json::from_str(SETTINGS).unwrap();
    let list = app.list_as(STAFF, &clean_list(2)).await;
    // A questionnaire batch: each patient's message carries a link.
    let (status, batch) = TestApp::reply(app.request_as(STAFF, Method::POST, "/v1/batches").json(
        &json!({"name": "Smoking", "list_id": list, "questionnaire": "smoking_status",
                "message": "Dear ((name)), please answer: ((link))"}),
    ))
    .await;
    assert_eq!(status, 201, "{batch}");
    let batch_id = batch["batch_id"].as_str().unwrap();
    app.send_batch_as(STAFF, batch_id, json!({"now": true}))
        .await;
    app.run_pending_work().await;
    let before = app.snapshot().await;

    let revoke = format!("/v1/batches/{batch_id}/links/revoke");
    let refused = [
        (
            STAFF,
            Method::PUT,
            "/v1/settings",
            settings.clone(),
            ADMIN_ONLY,
        ),
        (
            STAFF,
            Method::POST,
            revoke.as_str(),
            json!({"all": true}),
            ADMIN_ONLY,
        ),
        (
            AUDITOR,
            Method::PUT,
            "/v1/settings",
            settings.clone(),
            ADMIN_ONLY,
        ),
        (
            AUDITOR,
            Method::POST,
            "/v1/batches",
            json!({"name": "Flu", "list_id": list,
            "message": "Dear ((name))"}),
            NOT_AUDITORS,
        ),
        (
            AUDITOR,
            Method::POST,
            &format!("/v1/batches/{batch_id}/cancel"),
            json!({}),
            NOT_AUDITORS,
        ),
        (
            AUDITOR,
            Method::POST,
            "/v1/templates",
            json!({"name": "Flu", "body": "Hello"}),
            NOT_AUDITORS,
        ),
    ];
    for (who, method, path, body, detail) in refused {
        assert_eq!(
            refusal(app.request_as(who, method.clone(), path).json(&body)).await,
            (403, "role_needed".into(), detail.into()),
            "{who} {method} {path}"
        );
    }
    // The auditor's upload is refused before the file is read.
    assert_eq!(
        refusal(
            app.request_as(AUDITOR, Method::POST, "/v1/lists")
                .header("content-type", "text/csv")
                .body(clean_list(1))
        )
        .await,
        (403, "role_needed".into(), NOT_AUDITORS.into())
    );
    assert_eq!(app.snapshot().await, before);

    // An auditor reads everything staff read.
    assert_eq!(
        app.page(AUDITOR, &format!("/v1/batches/{batch_id}")).await["batch_id"],
        batch_id
    );
    assert_eq!(
        app.page(AUDITOR, "/v1/batches").await["batches"][0]["batch_id"],
        batch_id
    );

    // An admin may; the settings' history says who changed them.
    let (status, _) = TestApp::reply(
        app.request_as(ADMIN, Method::PUT, "/v1/settings")
            .json(&settings),
    )
    .await;
    assert_eq!(status, 200);
    let (status, revoked) = TestApp::reply(
        app.request_as(ADMIN, Method::POST, &revoke)
            .json(&json!({"all": true})),
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["links_revoked_at"].is_string(), "{revoked}");
    let events = app.stack.event_log().read_after(0, 10_000).await.unwrap();
    let changed: Vec<_> = events
        .iter()
        .filter(|(_, e)| e.event_type == "SettingsChanged")
        .map(|(_, e)| {
            (
                e.metadata["actor"].clone(),
                e.metadata["actor_name"].clone(),
            )
        })
        .collect();
    assert_eq!(changed, [(json!("user:ann"), json!("ann"))]);
}

#[tokio::test]
async fn a_sign_in_naming_no_role_or_no_valid_organisation_is_refused() {
    let app = spawn_app().await;
    let cases = [
        ("A12345:sam:boss", 403, "no_role",
         "your sign-in gives you no Batchbook role (staff, admin or auditor); ask an admin of your organisation"),
        ("A12345:sam:Admin:extra", 401, "unauthenticated", "sign in to use Batchbook"),
        ("not an ods code", 403, "no_organisation", "your sign-in does not name a valid organisation"),
        ("A12345:s m", 401, "unauthenticated", "sign in to use Batchbook"),
    ];
    for (who, status, code, detail) in cases {
        assert_eq!(
            refusal(app.request_as(who, Method::GET, "/v1/batches")).await,
            (status, code.into(), detail.into()),
            "{who}"
        );
    }
}

#[tokio::test]
async fn each_batch_records_who_created_it_and_the_list_can_be_filtered_by_them() {
    let app = spawn_app().await;
    let list = app.list_as(STAFF, &clean_list(2)).await;
    let mine = app.batch_as(STAFF, "Sam's", &list).await;
    let theirs = app.batch_as(ADMIN, "Ann's", &list).await;
    assert_eq!(mine["created_by"], json!({"user_id": "sam", "name": "sam"}));
    assert_eq!(
        theirs["created_by"],
        json!({"user_id": "ann", "name": "ann"})
    );
    assert_eq!(mine["message"], "Dear ((name)), book your flu jab.");
    assert_eq!(mine["created_at"], "2026-11-23T09:00:00Z");

    let names = |page: &Value| -> Vec<String> {
        page["batches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&app.page(STAFF, "/v1/batches?created_by=sam").await),
        ["Sam's"]
    );
    assert_eq!(
        names(&app.page(STAFF, "/v1/batches?created_by=ann").await),
        ["Ann's"]
    );
    assert_eq!(
        names(&app.page(STAFF, "/v1/batches?created_by=nobody").await),
        Vec::<String>::new()
    );
    // The lists page names who uploaded each list.
    assert_eq!(
        app.page(STAFF, "/v1/lists").await["lists"][0]["uploaded_by"],
        json!({"user_id": "sam", "name": "sam"})
    );
}

#[tokio::test]
async fn batches_are_listed_newest_first_a_page_at_a_time_and_filtered() {
    let app = spawn_app().await;
    let list = app.list_as(ORG, &clean_list(2)).await;
    let mut ids = Vec::new();
    for n in 0..7 {
        let batch = app.batch_as(ORG, &format!("Batch {n}"), &list).await;
        ids.push(batch["batch_id"].as_str().unwrap().to_owned());
        app.clock.advance(chrono::Duration::minutes(10));
    }
    // A questionnaire batch, sent.
    let florey = TestApp::reply(app.request(Method::POST, "/v1/batches").json(&json!({
        "name": "Readings", "list_id": list, "questionnaire": "smoking_status",
        "message": "Dear ((name)), please answer: ((link))"})))
    .await;
    assert_eq!(florey.0, 201, "{}", florey.1);
    let florey_id = florey.1["batch_id"].as_str().unwrap().to_owned();
    app.send_batch_as(ORG, &florey_id, json!({"now": true}))
        .await;
    // One cancelled.
    let (status, _) = TestApp::reply(
        app.request(Method::POST, &format!("/v1/batches/{}/cancel", ids[0]))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 200);

    // Newest first, three at a time, each page naming the next.
    let mut seen = Vec::new();
    let mut path = "/v1/batches?limit=3".to_owned();
    loop {
        let page = app.page(ORG, &path).await;
        let batches = page["batches"].as_array().unwrap();
        assert!(batches.len() <= 3);
        seen.extend(
            batches
                .iter()
                .map(|b| b["batch_id"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => path = format!("/v1/batches?limit=3&cursor={}", urlencode(next)),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.push(florey_id.clone());
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let only = |page: Value| -> Vec<String> {
        page["batches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["batch_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        only(app.page(ORG, "/v1/batches?status=Cancelled").await),
        [ids[0].as_str()]
    );
    assert_eq!(
        only(app.page(ORG, "/v1/batches?kind=florey_questionnaire").await),
        [florey_id.as_str()]
    );
    assert_eq!(
        only(app.page(ORG, "/v1/batches?status=Draft&limit=100").await).len(),
        6
    );
    // From 09:20 to 09:40: the batches made at 09:20 and 09:30.
    assert_eq!(
        only(
            app.page(
                ORG,
                "/v1/batches?from=2026-11-23T09:20:00Z&to=2026-11-23T09:40:00Z"
            )
            .await
        ),
        [ids[3].clone(), ids[2].clone()]
    );
    // What the "Batch Messages" page shows for each.
    let entry = &app.page(ORG, "/v1/batches?kind=florey_questionnaire").await["batches"][0];
    assert_eq!(entry["name"], "Readings");
    assert_eq!(entry["status"], "Sending");
    assert_eq!(entry["counts"]["patient_list"], 2);
    assert_eq!(
        entry["created_by"],
        json!({"user_id": "dev-user", "name": "Development user"})
    );
}

fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_listing_with_a_bad_parameter_is_refused_naming_it() {
    let app = spawn_app().await;
    let cases = [
        ("/v1/batches?limit=0", "limit: must be 1 to 100"),
        ("/v1/batches?limit=101", "limit: must be 1 to 100"),
        (
            "/v1/batches?cursor=abc",
            "cursor: is not one this API gave; pass the `next` of the page before",
        ),
        (
            "/v1/lists?cursor=1%23x",
            "cursor: is not one this API gave; pass the `next` of the page before",
        ),
        ("/v1/attachments?limit=1000", "limit: must be 1 to 100"),
        (
            "/v1/batches?from=2026-11-24T00:00:00Z&to=2026-11-23T00:00:00Z",
            "from and to: from must be before to",
        ),
    ];
    for (path, detail) in cases {
        assert_eq!(
            refusal(app.request(Method::GET, path)).await,
            (422, "invalid_request".into(), detail.into()),
            "{path}"
        );
    }
    // A typo in a parameter's name, or a value that is none of the allowed.
    assert_eq!(
        refusal(app.request(Method::GET, "/v1/batches?stauts=Draft")).await,
        (
            400,
            "invalid_query".into(),
            "unknown query parameter `stauts`; did you mean `status`?".into()
        )
    );
    assert_eq!(
        refusal(app.request(Method::GET, "/v1/batches?status=Posted")).await,
        (400, "invalid_query".into(),
         "status: `Posted` is not one of `Draft`, `Scheduled`, `Sending`, `Done`, `Cancelled`, `Saving`, `Saved`".into())
    );
}

#[tokio::test]
async fn lists_and_attachments_are_listed_and_staff_can_open_an_attachment() {
    let app = spawn_app().await;
    let first = app.list_as(STAFF, &clean_list(3)).await;
    app.clock.advance(chrono::Duration::minutes(1));
    let second = app.list_as(ADMIN, &clean_list(1)).await;
    let lists = app.page(STAFF, "/v1/lists").await;
    let entries = lists["lists"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["list_id"], second);
    assert_eq!(entries[1]["list_id"], first);
    assert_eq!(entries[1]["patient_count"], 3);
    assert_eq!(entries[1]["contactable_count"], 3);
    assert_eq!(entries[1]["system"], "systmone");
    assert_eq!(lists["next"], Value::Null);
    let one = app.page(STAFF, "/v1/lists?limit=1").await;
    assert_eq!(one["lists"].as_array().unwrap().len(), 1);
    let next = one["next"].as_str().unwrap();
    let rest = app
        .page(
            STAFF,
            &format!("/v1/lists?limit=1&cursor={}", urlencode(next)),
        )
        .await;
    assert_eq!(rest["lists"][0]["list_id"], first);

    let leaflet = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
    let (status, uploaded) = TestApp::reply(
        app.request_as(
            STAFF,
            Method::POST,
            "/v1/attachments?file_name=Flu%20leaflet.pdf",
        )
        .header("content-type", "application/pdf")
        .body(leaflet.to_vec()),
    )
    .await;
    assert_eq!(status, 201, "{uploaded}");
    let id = uploaded["attachment_id"].as_str().unwrap();
    let listed = app.page(ADMIN, "/v1/attachments").await;
    assert_eq!(
        listed["attachments"],
        json!([{"attachment_id": id, "file_name": "Flu leaflet.pdf",
                "content_type": "application/pdf", "size": leaflet.len(),
                "sha256": "cfa3181c1ee36e8bce5e39f84959f4558ea7ba32c0e4539a8ab3c8ce8c716ec6",
                "uploaded_at": "2026-11-23T09:01:00Z",
                "uploaded_by": {"user_id": "sam", "name": "sam"}}])
    );
    let file = app
        .request_as(ADMIN, Method::GET, &format!("/v1/attachments/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "application/pdf");
    assert_eq!(file.headers()["x-content-type-options"], "nosniff");
    assert_eq!(file.bytes().await.unwrap().as_ref(), leaflet);
    assert_eq!(
        refusal(app.request(
            Method::GET,
            "/v1/attachments/00000000-0000-0000-0000-000000000000"
        ))
        .await,
        (
            404,
            "attachment_not_found".into(),
            "there is no such attachment".into()
        )
    );
    // Another organisation sees none of it.
    assert_eq!(app.page("B67890", "/v1/lists").await["lists"], json!([]));
    assert_eq!(
        app.page("B67890", "/v1/attachments").await["attachments"],
        json!([])
    );
    assert_eq!(
        refusal(app.request_as("B67890", Method::GET, &format!("/v1/attachments/{id}"))).await,
        (
            404,
            "attachment_not_found".into(),
            "there is no such attachment".into()
        )
    );
}

#[tokio::test]
async fn the_catalogue_lists_what_the_appointment_book_holds_and_shared_sites_only_when_allowed() {
    let app = spawn_app().await;
    let catalogue = app.page(STAFF, "/v1/self-book/catalogue").await;
    let ids = |key: &str, id: &str| -> Vec<String> {
        catalogue[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t[id].as_str().unwrap().to_owned())
            .collect()
    };
    let mut slot_types = ids("slot_types", "slot_type");
    slot_types.sort();
    assert_eq!(slot_types, ["flu", "review"]);
    let mut clinicians = ids("clinicians", "clinician_id");
    clinicians.sort();
    assert_eq!(clinicians, ["dr-okafor", "nurse-patel"]);
    assert_eq!(ids("locations", "location_id"), ["riverside"]);
    assert_eq!(catalogue["from"], "2026-11-23T09:00:00Z");
    assert_eq!(catalogue["to"], "2026-12-21T09:00:00Z");
    let flu = catalogue["slot_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["slot_type"] == "flu")
        .unwrap();
    assert_eq!(flu["channels"], json!(["in_person"]));
    assert!(flu["bookable"].as_u64().unwrap() > 0, "{flu}");
    let patel = catalogue["clinicians"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clinician_id"] == "nurse-patel")
        .unwrap();
    assert_eq!(patel["name"], "Nurse Patel");

    // Once the settings allow the hub, it is listed, naming its practice,
    // (the cached answer is read again when the settings change).
    let (status, body) = TestApp::reply(app.request(Method::PUT, "/v1/settings").json(&json!({
        "flag_mobiles_likely_to_fail": false, "other_sites": ["hub"]})))
    .await;
    assert_eq!(status, 200, "{body}");
    app.clock.advance(chrono::Duration::minutes(6));
    let catalogue = app.page(STAFF, "/v1/self-book/catalogue").await;
    let mut locations: Vec<_> = catalogue["locations"].as_array().unwrap().clone();
    locations.sort_by_key(|l| l["location_id"].as_str().unwrap().to_owned());
    assert_eq!(
        locations,
        [
            json!({"location_id": "hub", "name": "Riverside PCN Hub, 5 Mill Lane", "organisation": "B81001"}),
            json!({"location_id": "riverside", "name": "Riverside Surgery, 1 High Street", "organisation": null}),
        ]
    );
}

/// Every command's answer is the new state, and a read straight after it
/// never shows an older one, however often it is tried, while the
/// background work runs at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_straight_after_each_command_sees_what_the_command_did() {
    let app = spawn_app().await;
    let stack = app.stack.clone();
    let background = tokio::spawn(async move {
        loop {
            let _ = stack.run_pending_work().await;
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    });
    let list = app.list_as(STAFF, &clean_list(2)).await;
    for round in 0..20 {
        // Batches made in the same instant have no "newest"; a second apart.
        app.clock.advance(chrono::Duration::seconds(1));
        // Create: the batch reads back at once, and heads the list.
        let created = app.batch_as(STAFF, &format!("Round {round}"), &list).await;
        let id = created["batch_id"].as_str().unwrap().to_owned();
        let read = app.page(STAFF, &format!("/v1/batches/{id}")).await;
        assert_eq!(
            (read["status"].clone(), read["name"].clone()),
            (json!("Draft"), created["name"].clone())
        );
        assert_eq!(
            app.page(STAFF, "/v1/batches?limit=1").await["batches"][0]["batch_id"],
            id
        );

        if round % 2 == 0 {
            // Send: never read as a draft again.
            let (status, sent) = TestApp::reply(
                app.request_as(STAFF, Method::POST, &format!("/v1/batches/{id}/send"))
                    .json(&json!({"send_at": "2026-11-30T09:00:00Z"})),
            )
            .await;
            assert_eq!(
                (status, sent["status"].clone()),
                (202, json!("Scheduled")),
                "{sent}"
            );
            assert_eq!(
                app.page(STAFF, &format!("/v1/batches/{id}")).await["status"],
                "Scheduled"
            );
            assert_eq!(
                app.page(STAFF, "/v1/batches?limit=1").await["batches"][0]["status"],
                "Scheduled"
            );
        }
        // Cancel: never shows its old status.
        let (status, cancelled) = TestApp::reply(
            app.request_as(STAFF, Method::POST, &format!("/v1/batches/{id}/cancel"))
                .json(&json!({})),
        )
        .await;
        assert_eq!(
            (status, cancelled["status"].clone()),
            (200, json!("Cancelled")),
            "{cancelled}"
        );
        assert_eq!(
            app.page(STAFF, &format!("/v1/batches/{id}")).await["status"],
            "Cancelled"
        );
        assert_eq!(
            app.page(STAFF, "/v1/batches?status=Cancelled&limit=1")
                .await["batches"][0]["batch_id"],
            id
        );

        // Templates: created, edited and deleted, each read back at once.
        let (status, template) = TestApp::reply(
            app.request_as(STAFF, Method::POST, "/v1/templates")
                .json(&json!({"name": format!("T{round}"), "body": "Dear ((name))"})),
        )
        .await;
        assert_eq!(status, 201, "{template}");
        let path = format!(
            "/v1/templates/{}",
            template["template_id"].as_str().unwrap()
        );
        assert_eq!(app.page(STAFF, &path).await["version"], 1);
        let (status, _) = TestApp::reply(
            app.request_as(STAFF, Method::PUT, &path)
                .json(&json!({"name": format!("T{round}"), "body": "Hello ((name))"})),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(app.page(STAFF, &path).await["body"], "Hello ((name))");
        let (status, _) = TestApp::reply(app.request_as(STAFF, Method::DELETE, &path)).await;
        assert_eq!(status, 204);
        assert_eq!(
            TestApp::reply(app.request_as(STAFF, Method::GET, &path))
                .await
                .0,
            404
        );
        assert_eq!(app.page(STAFF, "/v1/templates").await["mine"], json!([]));
    }
    background.abort();
}

/// The same for the other commands: uploads, settings, revoking links and
/// inviting one patient, each read back at once while the background work
/// runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_straight_after_an_upload_a_setting_a_revoke_or_an_invite_sees_it() {
    let app = spawn_app().await;
    let stack = app.stack.clone();
    let background = tokio::spawn(async move {
        loop {
            let _ = stack.run_pending_work().await;
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    });
    let leaflet = b"%PDF-1.4\n%%EOF\n".to_vec();
    for round in 0..8 {
        app.clock.advance(chrono::Duration::seconds(1));
        let list = app.list_as(STAFF, &clean_list(2)).await;
        assert_eq!(
            app.page(STAFF, "/v1/lists?limit=1").await["lists"][0]["list_id"],
            list
        );

        let (status, uploaded) = TestApp::reply(
            app.request_as(STAFF, Method::POST, "/v1/attachments?file_name=a.pdf")
                .header("content-type", "application/pdf")
                .body(leaflet.clone()),
        )
        .await;
        assert_eq!(status, 201, "{uploaded}");
        assert_eq!(
            app.page(STAFF, "/v1/attachments?limit=1").await["attachments"][0]["attachment_id"],
            uploaded["attachment_id"]
        );

        let name = format!("Surgery {round}");
        let (status, _) = TestApp::reply(app.request_as(ADMIN, Method::PUT, "/v1/settings").json(
            &json!({"flag_mobiles_likely_to_fail": false,
                    "sending_window": {"opens": "00:00", "closes": "00:00"},
                    "contact": {"name": name, "phone": "01632 960000"}}),
        ))
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            app.page(STAFF, "/v1/settings").await["contact"]["name"],
            name
        );

        // A questionnaire batch sent, then every link revoked.
        let (status, batch) =
            TestApp::reply(app.request_as(STAFF, Method::POST, "/v1/batches").json(
                &json!({"name": "Smoking", "list_id": list, "questionnaire": "smoking_status",
                    "message": "Dear ((name)), please answer: ((link))"}),
            ))
            .await;
        assert_eq!(status, 201, "{batch}");
        let id = batch["batch_id"].as_str().unwrap().to_owned();
        app.send_batch_as(STAFF, &id, json!({"now": true})).await;
        // The background loop sends them.
        let waited = std::time::Instant::now();
        loop {
            let counts = app.page(STAFF, &format!("/v1/batches/{id}")).await["counts"].clone();
            let sent = counts["awaiting_receipt"].as_u64().unwrap()
                + counts["delivered"].as_u64().unwrap();
            if sent == 2 {
                break;
            }
            assert!(waited.elapsed().as_secs() < 20, "never sent: {counts}");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let (status, revoked) = TestApp::reply(
            app.request_as(
                ADMIN,
                Method::POST,
                &format!("/v1/batches/{id}/links/revoke"),
            )
            .json(&json!({"all": true})),
        )
        .await;
        assert_eq!(status, 200, "{revoked}");
        let read = app.page(STAFF, &format!("/v1/batches/{id}")).await;
        assert_eq!(read["links_revoked_at"], revoked["links_revoked_at"]);
        assert!(read["links_revoked_at"].is_string(), "{read}");

        // One patient invited: the invite's batch reads back at once.
        let (status, invited) =
            TestApp::reply(app.request_as(STAFF, Method::POST, "/v1/invites").json(
                &json!({"patient": {"nhs_number": "9434765919", "mobile": "07700 100001",
                                "date_of_birth": "1950-02-01", "given_name": "Joe"},
                    "message": "Dear ((name)), book here: ((link))",
                    "self_book": {"appointment_type": "in_person", "slot_type": "flu"}}),
            ))
            .await;
        assert_eq!(status, 201, "{invited}");
        let batch_id = invited["batch_id"].as_str().unwrap();
        assert_eq!(
            app.page(STAFF, &format!("/v1/batches/{batch_id}")).await["kind"],
            "self_book"
        );
        assert_eq!(
            app.page(STAFF, "/v1/batches?kind=self_book&limit=1").await["batches"][0]["batch_id"],
            batch_id
        );
    }
    background.abort();
}
