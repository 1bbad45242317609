//! `batchbook audit verify` (issue 19) on a demo data directory: untouched
//! it verifies; with one event's payload edited by one byte, one event
//! deleted and two swapped, it names each; a rewritten chain no longer
//! matches its checkpoint; a hand-edited read model is reported as drift
//! with the figure that differs; events from before the chain are counted,
//! not reported.

use std::path::Path;

use domain::audit::{event_hash, ChainFinding, StoredEvent};
use infra::embedded::audit::{verify, Drift};
use infra::embedded::{open_pool, Database};
use serde_json::{json, Value};
use sqlx::{Row, SqlitePool};

/// A demo data directory: 50 patients sent an SMS batch to Saved (about
/// 150 events), the chain's head checkpointed at the end.
async fn demo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    functions::demo::run(dir.path(), 50).await.unwrap();
    dir
}

async fn events(dir: &Path) -> SqlitePool {
    open_pool(dir, Database::Events).await.unwrap()
}

const COLUMNS: &str = "aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, previous_hash, hash";

/// Swaps the stored events at two positions, as someone editing the file
/// would: each keeps its own hash.
async fn swap(pool: &SqlitePool, a: i64, b: i64) {
    let mut tx = pool.begin().await.unwrap();
    for (from, to) in [(a, -1), (b, a), (-1, b)] {
        sqlx::query("UPDATE events SET rowid = ? WHERE rowid = ?")
            .bind(to)
            .bind(from)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Changes one digit of the payload at `position`.
async fn edit_one_byte(pool: &SqlitePool, position: i64) {
    let payload: String = sqlx::query_scalar("SELECT payload FROM events WHERE rowid = ?")
        .bind(position)
        .fetch_one(pool)
        .await
        .unwrap();
    let at = payload.find(|c: char| c.is_ascii_digit()).unwrap();
    let mut bytes = payload.into_bytes();
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    sqlx::query("UPDATE events SET payload = ? WHERE rowid = ?")
        .bind(String::from_utf8(bytes).unwrap())
        .bind(position)
        .execute(pool)
        .await
        .unwrap();
}

/// Every stored event's payload validates against its aggregate's schema
/// as committed under `events/schema/` (the catalogue's contract with
/// auditors' tools). Answers the aggregate types seen.
pub(crate) async fn assert_events_match_the_committed_schemas(
    log: &infra::embedded::EventLog,
) -> Vec<String> {
    let schema_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/schema");
    let mut validators = std::collections::BTreeMap::new();
    for (_, event) in log.read_after(0, 1_000_000).await.unwrap() {
        let validator = validators
            .entry(event.aggregate_type.clone())
            .or_insert_with(|| {
                let path = schema_dir.join(format!("{}.json", event.aggregate_type));
                let schema: Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                jsonschema::validator_for(&schema).unwrap()
            });
        let errors: Vec<String> = validator
            .iter_errors(&event.payload)
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errors,
            Vec::<String>::new(),
            "{} {} {}",
            event.aggregate_type,
            event.event_type,
            event.payload
        );
    }
    validators.into_keys().collect()
}

#[tokio::test]
async fn an_untouched_demo_verifies_and_its_read_models_follow_from_its_events() {
    let dir = demo().await;
    let stack =
        infra::embedded::EmbeddedStack::open(infra::embedded::EmbeddedConfig::new(dir.path()))
            .await
            .unwrap();
    assert_eq!(
        assert_events_match_the_committed_schemas(stack.event_log()).await,
        ["Batch", "Delivery", "Organisation", "Upload"]
    );
    drop(stack);
    let report = verify(dir.path()).await.unwrap();
    assert_eq!(report.chain.findings, []);
    assert_eq!(report.drift, []);
    assert_eq!(report.replay_stopped, None);
    assert_eq!(report.chain.before_chain, 0);
    assert_eq!(report.chain.checkpoints, 1);
    assert!(report.chain.events > 100, "{}", report.chain.events);
    assert_eq!(report.replayed, report.chain.events);
    assert!(report.is_clean());
}

#[tokio::test]
async fn an_edited_byte_a_deleted_event_and_two_swapped_are_each_named() {
    let dir = demo().await;
    let pool = events(dir.path()).await;
    edit_one_byte(&pool, 10).await;
    sqlx::query("DELETE FROM events WHERE rowid = 40")
        .execute(&pool)
        .await
        .unwrap();
    swap(&pool, 80, 81).await;
    pool.close().await;

    let report = verify(dir.path()).await.unwrap();
    assert_eq!(
        report.chain.findings,
        [
            ChainFinding::Changed { position: 10 },
            ChainFinding::Missing { before: 41 },
            ChainFinding::Reordered {
                position: 80,
                follows: 81
            },
        ]
    );
    assert!(!report.is_clean());
    // The checkpoint names the head, which nobody touched.
    assert_eq!(report.chain.checkpoints, 1);
}

#[tokio::test]
async fn a_chain_rewritten_from_an_edit_onwards_no_longer_matches_its_checkpoint() {
    let dir = demo().await;
    let pool = events(dir.path()).await;
    edit_one_byte(&pool, 20).await;
    // The forger re-hashes the edited event and every one after it, so the
    // chain is consistent with itself.
    let rows = sqlx::query(&format!(
        "SELECT rowid, {COLUMNS} FROM events WHERE rowid >= 20 ORDER BY rowid"
    ))
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut previous: String = rows[0].get("previous_hash");
    let mut head = String::new();
    for row in &rows {
        let sequence: i64 = row.get("sequence");
        let hash = event_hash(
            &previous,
            &StoredEvent {
                aggregate_type: row.get("aggregate_type"),
                aggregate_id: row.get("aggregate_id"),
                sequence: sequence as u64,
                event_type: row.get("event_type"),
                event_version: row.get("event_version"),
                payload: row.get("payload"),
                metadata: row.get("metadata"),
            },
        );
        sqlx::query("UPDATE events SET previous_hash = ?, hash = ? WHERE rowid = ?")
            .bind(&previous)
            .bind(&hash)
            .bind(row.get::<i64, _>("rowid"))
            .execute(&pool)
            .await
            .unwrap();
        previous = hash.clone();
        head = hash;
    }
    let last: i64 = rows.last().unwrap().get("rowid");
    pool.close().await;

    let checkpoint = infra::embedded::audit::read_checkpoints(dir.path())
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(checkpoint.position, last);
    let report = verify(dir.path()).await.unwrap();
    assert_eq!(
        report.chain.findings,
        [ChainFinding::Checkpoint {
            position: last,
            expected: checkpoint.hash,
            found: Some(head),
        }]
    );
}

#[tokio::test]
async fn a_read_model_edited_by_hand_is_drift_with_the_figure_that_differs() {
    let dir = demo().await;
    let views = open_pool(dir.path(), Database::Views).await.unwrap();
    let (batch_id, body): (String, String) =
        sqlx::query_as("SELECT batch_id, body FROM batch_summaries")
            .fetch_one(&views)
            .await
            .unwrap();
    let mut summary: Value = serde_json::from_str(&body).unwrap();
    let delivered = summary["delivered_count"].as_u64().unwrap();
    assert_eq!(delivered, 48, "the demo's 48 contactable patients");
    summary["delivered_count"] = json!(delivered + 1);
    sqlx::query("UPDATE batch_summaries SET body = ? WHERE batch_id = ?")
        .bind(summary.to_string())
        .bind(&batch_id)
        .execute(&views)
        .await
        .unwrap();
    views.close().await;

    let report = verify(dir.path()).await.unwrap();
    assert_eq!(report.chain.findings, []);
    assert_eq!(
        report.drift,
        [Drift {
            view: "batch_summaries".into(),
            row: format!("batch_id={batch_id}"),
            field: "body.delivered_count".into(),
            live: Some(json!(49)),
            replayed: Some(json!(48)),
        }]
    );
    assert_eq!(
        report.drift[0].to_string(),
        format!("batch_summaries batch_id={batch_id}: body.delivered_count is 49 in the live read model, 48 replayed from the events")
    );
}

#[tokio::test]
async fn a_deleted_delivery_row_and_a_made_up_one_are_each_named_as_drift() {
    let dir = demo().await;
    let views = open_pool(dir.path(), Database::Views).await.unwrap();
    let (batch_id, status): (String, String) =
        sqlx::query_as("SELECT batch_id, status FROM deliveries WHERE row = 3")
            .fetch_one(&views)
            .await
            .unwrap();
    sqlx::query("DELETE FROM deliveries WHERE row = 3")
        .execute(&views)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO inbox_reads (conversation_id, user_id, replies) VALUES ('c-made-up', 'mallory', 7)",
    )
    .execute(&views)
    .await
    .unwrap();
    views.close().await;

    let report = verify(dir.path()).await.unwrap();
    assert_eq!(report.chain.findings, []);
    assert_eq!(report.drift.len(), 2, "{:?}", report.drift);
    let missing = &report.drift[0];
    assert_eq!(
        (
            missing.view.as_str(),
            missing.row.clone(),
            missing.field.as_str()
        ),
        ("deliveries", format!("batch_id={batch_id},row=3"), "")
    );
    assert_eq!(missing.live, None);
    let replayed = missing.replayed.as_ref().unwrap();
    assert_eq!(replayed["status"], json!(status));
    assert_eq!(replayed["body"]["row"], json!(3));
    assert_eq!(
        missing.to_string(),
        format!(
            "deliveries batch_id={batch_id},row=3: the row is missing from the live read model"
        )
    );
    assert_eq!(
        report.drift[1],
        Drift {
            view: "inbox_reads".into(),
            row: "conversation_id=c-made-up,user_id=mallory".into(),
            field: String::new(),
            live: Some(json!({"conversation_id": "c-made-up", "user_id": "mallory", "replies": 7})),
            replayed: None,
        }
    );
    assert!(!report.is_clean());
}

#[tokio::test]
async fn an_event_too_damaged_to_read_stops_the_replay_where_it_is_and_is_named_by_the_chain() {
    let dir = demo().await;
    let pool = events(dir.path()).await;
    let (aggregate_type, sequence): (String, i64) =
        sqlx::query_as("SELECT aggregate_type, sequence FROM events WHERE rowid = 30")
            .fetch_one(&pool)
            .await
            .unwrap();
    sqlx::query("UPDATE events SET payload = 'not json' WHERE rowid = 30")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let report = verify(dir.path()).await.unwrap();
    assert_eq!(
        report.chain.findings,
        [ChainFinding::Changed { position: 30 }]
    );
    assert_eq!(
        report.replay_stopped,
        Some(format!("the replay stopped after position 29, at the event at position 30: stored event {aggregate_type}/{sequence} cannot be read: expected value at line 1 column 1"))
    );
    assert_eq!(report.replayed, 29);
    // The read models were not compared against a replay that stopped.
    assert_eq!(report.drift, []);
    assert!(!report.is_clean());
}

#[tokio::test]
async fn an_event_column_that_is_not_text_is_refused_naming_its_position_and_column() {
    let dir = demo().await;
    let pool = events(dir.path()).await;
    // The table is STRICT, so only text is stored there; text whose bytes
    // are not UTF-8 (an edit of the file, or this cast) cannot be read.
    sqlx::query("UPDATE events SET event_type = CAST(X'FF00' AS TEXT) WHERE rowid = 30")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let refused = verify(dir.path()).await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "event log: the event at position 30: column 4 is not UTF-8 text"
    );
}

#[tokio::test]
async fn events_stored_before_the_chain_are_counted_not_reported() {
    let dir = demo().await;
    // As a data directory from a release before the chain: no event has a
    // hash and there are no checkpoints.
    let pool = events(dir.path()).await;
    let before = sqlx::query("UPDATE events SET previous_hash = NULL, hash = NULL")
        .execute(&pool)
        .await
        .unwrap()
        .rows_affected();
    pool.close().await;
    std::fs::remove_file(dir.path().join(infra::embedded::audit::CHECKPOINTS)).unwrap();
    // This release then sends another batch: its events start the chain.
    functions::demo::run(dir.path(), 50).await.unwrap();

    let report = verify(dir.path()).await.unwrap();
    assert_eq!(report.chain.findings, []);
    assert_eq!(report.chain.before_chain, before);
    assert!(
        report.chain.events > before + 100,
        "{}",
        report.chain.events
    );
    assert_eq!(report.chain.checkpoints, 1);
    assert_eq!(report.drift, []);
}

mod api {
    use reqwest::Method;
    use serde_json::{json, Value};

    use crate::helpers::{clean_list, nhs_numbers, spawn_app, token_in, TestApp};

    const IDA: &str = "A12345:ida:auditor";
    const SAM: &str = "A12345:sam";
    const ANN: &str = "A12345:ann:admin";
    const OTHER_AUDITOR: &str = "B99999:oli:auditor";

    async fn export(app: &TestApp, who: &str, body: Value) -> reqwest::Response {
        app.request_as(who, Method::POST, "/v1/audit/history")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    fn lines(text: &str) -> Vec<Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn an_auditor_exports_a_batch_with_its_patients_and_each_export_is_itself_recorded() {
        let app = spawn_app().await;
        let csv = clean_list(3);
        let batch_id = app.send_list(&csv).await;
        app.run_pending_work().await;

        let response = export(
            &app,
            IDA,
            json!({"batch_id": batch_id, "patient_details": true}),
        )
        .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/x-ndjson");
        assert_eq!(response.headers()["audit-export-id"].len(), 36, "a UUID");
        let events = lines(&response.text().await.unwrap());
        // In commit order, each with where it stands.
        let positions: Vec<i64> = events
            .iter()
            .map(|e| e["position"].as_i64().unwrap())
            .collect();
        let mut sorted = positions.clone();
        sorted.sort_unstable();
        assert_eq!(positions, sorted);
        assert_eq!(events[0]["event_type"], "BatchDrafted");
        assert_eq!(events[0]["aggregate_type"], "Batch");
        assert_eq!(events[0]["actor"], "user:dev-user");
        let sent: Vec<&Value> = events
            .iter()
            .filter(|e| e["event_type"] == "MessageSent")
            .collect();
        assert_eq!(sent.len(), 3);
        // Each delivery's patient, from the list; the batch's own events
        // are about no one patient.
        let mut patients: Vec<String> = sent
            .iter()
            .map(|e| e["patient"]["nhs_number"].as_str().unwrap().to_owned())
            .collect();
        patients.sort();
        assert_eq!(patients, nhs_numbers(&csv));
        assert_eq!(sent[0]["patient"]["date_of_birth"], "1950-02-01");
        assert_eq!(events[0].get("patient"), None);
        for event in &events {
            for key in [
                "occurred_at",
                "event_version",
                "correlation_id",
                "aggregate_id",
                "sequence",
                "payload",
            ] {
                assert!(event.get(key).is_some(), "{key} in {event}");
            }
        }

        // Without patient details, no patient is named anywhere.
        let plain = export(&app, IDA, json!({"batch_id": batch_id, "format": "csv"}))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(
            plain.lines().next().unwrap(),
            "position,occurred_at,event_type,event_version,actor,actor_name,correlation_id,aggregate_type,aggregate_id,sequence,payload"
        );
        assert_eq!(plain.lines().count(), events.len() + 1);
        for nhs_number in nhs_numbers(&csv) {
            assert!(!plain.contains(&nhs_number));
        }

        // The auditor's own history holds both exports, with who and what.
        let own = export(&app, IDA, json!({"user_id": "ida"})).await;
        let own = lines(&own.text().await.unwrap());
        let exported: Vec<(&Value, &Value, &Value)> = own
            .iter()
            .map(|e| {
                assert_eq!(e["event_type"], "HistoryExported");
                assert_eq!(e["actor"], "user:ida");
                let p = &e["payload"]["HistoryExported"];
                (&p["subject"], &p["events"], &p["patient_details"])
            })
            .collect();
        let subject = json!(format!("batch:{batch_id}"));
        let count = json!(events.len());
        assert_eq!(
            exported,
            [
                (&subject, &count, &json!(true)),
                (&subject, &count, &json!(false))
            ]
        );
    }

    #[tokio::test]
    async fn only_auditors_export_and_a_bad_request_is_refused_by_name() {
        let app = spawn_app().await;
        let batch_id = app.send_list(&clean_list(1)).await;
        for who in [SAM, ANN] {
            let (status, body) = TestApp::reply(
                app.request_as(who, Method::POST, "/v1/audit/history")
                    .json(&json!({"batch_id": batch_id})),
            )
            .await;
            assert_eq!(status, 403, "{who}");
            assert_eq!(body["code"], "role_needed");
            assert_eq!(body["detail"], "this needs the auditor role");
        }
        let refused = [
            (
                json!({}),
                422,
                "batch_id, invite_id, conversation_id, user_id, nhs_number: name exactly one",
            ),
            (
                json!({"batch_id": batch_id, "user_id": "sam"}),
                422,
                "batch_id, invite_id, conversation_id, user_id, nhs_number: name exactly one",
            ),
            (json!({"batch_id": " "}), 422, "batch_id: is empty"),
            (
                json!({"batch_id": batch_id, "from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}),
                422,
                "to: must be later than from",
            ),
        ];
        for (body, status, detail) in refused {
            let (got, problem) = TestApp::reply(
                app.request_as(IDA, Method::POST, "/v1/audit/history")
                    .json(&body),
            )
            .await;
            assert_eq!(
                (got, problem["detail"].as_str().unwrap()),
                (status, detail),
                "{body}"
            );
        }
        // A typo never acts.
        let (status, problem) = TestApp::reply(
            app.request_as(IDA, Method::POST, "/v1/audit/history")
                .json(&json!({"batch_id": batch_id, "patient_detail": true})),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(
            problem["detail"],
            "unknown field `patient_detail`; did you mean `patient_details`?"
        );
        // None of those was an export.
        let own = export(&app, IDA, json!({"user_id": "ida"})).await;
        assert_eq!(own.text().await.unwrap(), "");
    }

    #[tokio::test]
    async fn another_organisations_auditor_sees_none_of_its_events() {
        let app = spawn_app().await;
        let batch_id = app.send_list(&clean_list(2)).await;
        let response = export(&app, OTHER_AUDITOR, json!({"batch_id": batch_id})).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "");
        let response = export(&app, OTHER_AUDITOR, json!({"user_id": "dev-user"})).await;
        assert_eq!(response.text().await.unwrap(), "");
    }

    #[tokio::test]
    async fn a_time_window_keeps_the_events_inside_it() {
        let app = spawn_app().await;
        // Drafted at 09:00, sent at 10:00, delivered and saved at 11:00.
        let batch_id = app.create_batch_from(&clean_list(1)).await;
        app.clock.advance(chrono::Duration::hours(1));
        let sent = app
            .send_batch_as("A12345", &batch_id, json!({"now": true}))
            .await;
        assert_eq!(sent.status(), 202);
        app.clock.advance(chrono::Duration::hours(1));
        app.run_pending_work().await;
        let types = |body: String| -> Vec<String> {
            lines(&body)
                .iter()
                .map(|e| e["event_type"].as_str().unwrap().to_owned())
                .collect()
        };
        let all = types(
            export(&app, IDA, json!({"batch_id": batch_id}))
                .await
                .text()
                .await
                .unwrap(),
        );
        let ten_to_eleven = types(
            export(
                &app,
                IDA,
                json!({"batch_id": batch_id, "from": "2026-11-23T10:00:00Z", "to": "2026-11-23T11:00:00Z"}),
            )
            .await
            .text()
            .await
            .unwrap(),
        );
        assert_eq!(all.first().map(String::as_str), Some("BatchDrafted"));
        assert!(all.len() > ten_to_eleven.len() + 1, "{all:?}");
        // Asked to send at 10:00; fan-out, sends and receipts came at 11:00,
        // which the window's end leaves out.
        assert_eq!(ten_to_eleven, ["SendingStarted"]);
    }

    /// Joe Bloggs of the simulated PDS, and a second patient.
    const JOE: &str = "9990000018";
    const LIST: &str = "NHS Number,Given Name,Telecom Number,Date of Birth\n\
                        9990000018,Joe,07700 100901,01/02/1950\n\
                        9990000026,Aisha,07700 100902,15/07/1962\n";

    /// Joe, on both lists, sent a plain batch message and a Self-Book
    /// invite he books through; then looked up, messaged one to one, and
    /// replying "Thank you". Answers the app and the two batches' and the
    /// conversation's ids.
    async fn joe_everywhere() -> (TestApp, String, String, String) {
        let app = spawn_app().await;
        // A plain batch message, then a Self-Book invite, to both patients.
        let list: Value = app.upload_list(LIST).await.json().await.unwrap();
        let plain = app
            .send_batch_from(json!({"name": "Flu clinic", "list_id": list["list_id"],
                "message": "Dear ((name)), flu clinics are open"}))
            .await;
        let list: Value = app.upload_list(LIST).await.json().await.unwrap();
        let invite = app
            .send_batch_from(json!({"name": "Flu", "list_id": list["list_id"],
                "message": "Your flu jab: book a time at ((link))",
                "self_book": {"appointment_type": "in_person", "slot_type": "flu"}}))
            .await;
        let texts: Vec<String> = app
            .outbox()
            .await
            .iter()
            .filter(|m| m["to"] == "+447700100901")
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        let invitation = texts.iter().find(|t| t.contains("book a time")).unwrap();
        let link = app.link(&token_in(invitation));
        let session = link.session("1950-02-01").await;
        let (status, slots) = link.call(Method::GET, Some(&session), "/slots", None).await;
        assert_eq!(status, 200, "{slots}");
        let (status, booked) = link
            .call(
                Method::POST,
                Some(&session),
                "/booking",
                Some(json!({"offer_id": slots["offers"][0]["offer_id"]})),
            )
            .await;
        assert_eq!(status, 202, "{booked}");
        app.run_pending_work().await;

        // Looked up, messaged one to one, and replying.
        let (status, _) = app
            .call_as(
                SAM,
                Method::POST,
                "/v1/patients/search",
                Some(json!({"nhs_number": JOE, "date_of_birth": "1950-02-01"})),
            )
            .await;
        assert_eq!(status, 200);
        let team = app.team().await;
        let (status, started) = app.start(&team, json!({})).await;
        assert_eq!(status, 201, "{started}");
        let conversation = started["conversation_id"].as_str().unwrap().to_owned();
        app.run_pending_work().await;
        let sent = app.conversation_outbox().await;
        let reply = app.link(&token_in(sent[0]["body"].as_str().unwrap()));
        let session = reply.session("1950-02-01").await;
        let (status, _) = reply
            .call(
                Method::POST,
                Some(&session),
                "/reply",
                Some(json!({"text": "Thank you"})),
            )
            .await;
        assert_eq!(status, 200);
        app.run_pending_work().await;

        (app, plain, invite, conversation)
    }

    #[tokio::test]
    async fn a_patients_history_holds_their_batch_message_booking_conversation_and_searches_only() {
        let (app, plain, invite, conversation) = joe_everywhere().await;
        let response = export(
            &app,
            IDA,
            json!({"nhs_number": "999 000 0018", "patient_details": true}),
        )
        .await;
        assert_eq!(response.status(), 200);
        let events = lines(&response.text().await.unwrap());
        let about = |event: &Value| {
            (
                event["aggregate_type"].as_str().unwrap().to_owned(),
                event["aggregate_id"].as_str().unwrap().to_owned(),
            )
        };
        let mut streams: Vec<(String, String)> = events.iter().map(about).collect();
        streams.dedup();
        streams.sort();
        streams.dedup();
        let search = events
            .iter()
            .find(|e| e["event_type"] == "PatientSearched")
            .map(about)
            .unwrap();
        let mut expected = vec![
            ("Batch".to_owned(), invite.clone()),
            ("Batch".to_owned(), plain.clone()),
            ("Conversation".to_owned(), conversation.clone()),
            (
                "ConversationMessage".to_owned(),
                format!("{conversation}:1"),
            ),
            ("Delivery".to_owned(), format!("{invite}:1")),
            ("Delivery".to_owned(), format!("{plain}:1")),
            ("Invite".to_owned(), format!("{invite}:1")),
            search,
        ];
        expected.sort();
        // Joe's row (1) of each batch, never Aisha's (2).
        assert_eq!(streams, expected);
        let types: Vec<&str> = events
            .iter()
            .map(|e| e["event_type"].as_str().unwrap())
            .collect();
        for wanted in [
            "BatchDrafted",
            "MessageSent",
            "BookingRequested",
            "BookingConfirmed",
            "ConversationStarted",
            "PatientReplied",
            "PatientSearched",
        ] {
            assert!(types.contains(&wanted), "{wanted} in {types:?}");
        }
        let positions: Vec<i64> = events
            .iter()
            .map(|e| e["position"].as_i64().unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        // Joe's deliveries carry his details; the record of the export
        // names him by fingerprint, never by NHS number.
        let delivery = events
            .iter()
            .find(|e| e["event_type"] == "MessageSent")
            .unwrap();
        assert_eq!(delivery["patient"]["nhs_number"], JOE);
        let own = export(&app, IDA, json!({"user_id": "ida"})).await;
        let own = lines(&own.text().await.unwrap());
        assert_eq!(
            own[0]["payload"]["HistoryExported"]["subject"],
            format!(
                "patient:{}",
                domain::ports::recipient_fingerprint("A12345", JOE)
            )
        );
        assert!(!own[0].to_string().contains(JOE));

        // Not an NHS number: refused by name.
        let (status, problem) = TestApp::reply(
            app.request_as(IDA, Method::POST, "/v1/audit/history")
                .json(&json!({"nhs_number": "9990000019"})),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(
            problem["detail"],
            "nhs_number: the NHS number's check digit is wrong"
        );
    }

    #[tokio::test]
    async fn a_subject_access_request_holds_what_joe_was_sent_booked_and_replied_and_nobody_else() {
        let (app, _, _, _) = joe_everywhere().await;
        let (status, refused) = TestApp::reply(
            app.request_as(SAM, Method::POST, "/v1/audit/subject-access")
                .json(&json!({"nhs_number": JOE})),
        )
        .await;
        assert_eq!(
            (status, refused["detail"].as_str()),
            (403, Some("this needs the auditor role"))
        );

        let (status, access) = TestApp::reply(
            app.request_as(IDA, Method::POST, "/v1/audit/subject-access")
                .json(&json!({"nhs_number": JOE, "format": "json"})),
        )
        .await;
        assert_eq!(status, 200, "{access}");
        assert_eq!(access["nhs_number"], JOE);
        assert_eq!(
            access["held"],
            json!([{"nhs_number": JOE, "given_name": "Joe", "date_of_birth": "1950-02-01",
                    "mobile": "+447700100901", "email": null}])
        );
        let messages: Vec<(&str, &str)> = access["batches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["name"].as_str().unwrap(), b["message"].as_str().unwrap()))
            .collect();
        let mut messages = messages;
        messages.sort();
        assert_eq!(
            messages,
            [
                ("Flu", "Your flu jab: book a time at [your link]"),
                ("Flu clinic", "Dear Joe, flu clinics are open"),
            ]
        );
        let happened: Vec<&str> = access["batches"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|b| b["happened"].as_array().unwrap())
            .map(|h| h["event_type"].as_str().unwrap())
            .collect();
        for wanted in [
            "MessageSent",
            "MessageDelivered",
            "IdentityVerified",
            "BookingRequested",
            "BookingConfirmed",
        ] {
            assert!(happened.contains(&wanted), "{wanted} in {happened:?}");
        }
        let conversation = &access["conversations"][0];
        assert_eq!(access["conversations"].as_array().unwrap().len(), 1);
        assert_eq!(
            conversation["messages"][0]["body"],
            "Your test results are back. Please book a review."
        );
        assert_eq!(conversation["messages"][0]["channel"], "sms");
        assert_eq!(conversation["messages"][0]["reply"]["text"], "Thank you");
        assert_eq!(access["searches"].as_array().unwrap().len(), 1);
        assert_eq!(access["searches"][0]["by"], "user:sam");

        // The readable document says the same, and names nobody else.
        let response = app
            .request_as(IDA, Method::POST, "/v1/audit/subject-access")
            .json(&json!({"nhs_number": "999 000 0018"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        let html = response.text().await.unwrap();
        for says in [
            "<title>Subject access request: everything Batchbook holds about NHS number 9990000018</title>",
            "<blockquote>Dear Joe, flu clinics are open</blockquote>",
            "<blockquote>Thank you</blockquote>",
            "<p>As the NHS's records (PDS) gave you when it started: Joe Bloggs, born 1 February 1950.</p>",
            "<h2>Times staff looked you up (1)</h2>",
        ] {
            assert!(html.contains(says), "{says} in {html}");
        }
        for nobody in ["9990000026", "Aisha", "07700 100902", "447700100902"] {
            assert!(!html.contains(nobody), "{nobody}");
        }
        // A wrong NHS number or an unknown field is refused by name, and
        // records nothing.
        for (body, detail) in [
            (
                json!({"nhs_number": "9990000019"}),
                "nhs_number: the NHS number's check digit is wrong",
            ),
            (
                json!({"nhs_number": JOE, "formats": "json"}),
                "unknown field `formats`; did you mean `format`?",
            ),
        ] {
            let (status, problem) = TestApp::reply(
                app.request_as(IDA, Method::POST, "/v1/audit/subject-access")
                    .json(&body),
            )
            .await;
            assert_eq!(
                (status, problem["detail"].as_str()),
                (422, Some(detail)),
                "{body}"
            );
        }
        // Both answers are recorded as exports of Joe's history.
        let own = export(&app, IDA, json!({"user_id": "ida"})).await;
        assert_eq!(lines(&own.text().await.unwrap()).len(), 2);
    }

    /// Joe's subject access request, less what differs on every request.
    async fn joe_access(app: &TestApp) -> Value {
        let (status, mut access) = TestApp::reply(
            app.request_as(IDA, Method::POST, "/v1/audit/subject-access")
                .json(&json!({"nhs_number": JOE, "format": "json"})),
        )
        .await;
        assert_eq!(status, 200, "{access}");
        for varies in ["export_id", "generated_at"] {
            access.as_object_mut().unwrap().remove(varies);
        }
        access
    }

    #[tokio::test]
    async fn a_data_directory_from_before_the_patient_index_answers_the_same_and_is_indexed_once() {
        let (app, _, _, conversation) = joe_everywhere().await;
        let indexed = joe_access(&app).await;
        assert_eq!(indexed["batches"].as_array().unwrap().len(), 2);
        assert_eq!(indexed["conversations"].as_array().unwrap().len(), 1);
        assert_eq!(indexed["searches"].as_array().unwrap().len(), 1);

        // As a release from before the index left it: nothing indexed.
        let work = infra::embedded::open_pool(app.data.path(), infra::embedded::Database::Work)
            .await
            .unwrap();
        for table in [
            "patient_mentions",
            "patient_indexed_lists",
            "patient_index_complete",
        ] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&work)
                .await
                .unwrap();
        }
        // Read the long way (every list, every search and conversation),
        // the answer is the same.
        assert_eq!(joe_access(&app).await, indexed);

        let added = app.stack.app.index_patients().await.unwrap();
        assert_eq!(
            added,
            domain::usecases::audit::IndexedPatients {
                lists: 2,
                searches: 1,
                conversations: 1
            }
        );
        assert_eq!(joe_access(&app).await, indexed);
        // Once complete, it is not done again.
        assert_eq!(
            app.stack.app.index_patients().await.unwrap(),
            Default::default()
        );

        // And the history is read from the index: without the mention of
        // Joe's conversation, the answer no longer holds it.
        sqlx::query("DELETE FROM patient_mentions WHERE kind = 'conversation' AND id = ?")
            .bind(&conversation)
            .execute(&work)
            .await
            .unwrap();
        let without = joe_access(&app).await;
        assert_eq!(without["conversations"], json!([]));
        assert_eq!(without["batches"], indexed["batches"]);
    }
}

#[tokio::test]
async fn rows_a_command_applied_at_once_before_the_projector_ran_are_not_drift() {
    let app = crate::helpers::spawn_app().await;
    // The batch's summary is in the live views at once (read-your-writes);
    // the projector has not run.
    let batch_id = app.create_batch_from(&crate::helpers::clean_list(2)).await;
    assert_eq!(app.batch(&batch_id).await["name"], "Flu clinic");
    let report = verify(app.data.path()).await.unwrap();
    assert!(report.projector_behind > 0, "{report:?}");
    assert_eq!(report.replayed, report.chain.events);
    assert_eq!(report.drift, []);
    assert_eq!(report.chain.findings, []);
}

#[tokio::test]
async fn the_cli_refuses_a_directory_that_holds_no_batchbook_data_by_name() {
    let empty = tempfile::tempdir().unwrap();
    let request = domain::usecases::audit::HistoryRequest {
        subject: domain::ports::HistorySubject::User("ida".into()),
        from: None,
        to: None,
        patient_details: false,
    };
    let mut out = Vec::new();
    let refused = functions::audit::history(
        functions::audit::Store::Data(empty.path()),
        "A12345",
        "ida",
        &request,
        functions::audit::HistoryFormat::Jsonl,
        &mut out,
    )
    .await
    .unwrap_err();
    assert_eq!(
        refused.to_string(),
        format!("--data: {} holds no Batchbook data", empty.path().display())
    );
    // Nothing was made there.
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
    assert!(out.is_empty());
    let refused = infra::embedded::audit::verify(empty.path())
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        format!(
            "data directory: {} holds no events.sqlite",
            empty.path().display()
        )
    );
}
