//! No patient data in logs, proved (issue 19): a whole flow that uses NHS
//! numbers, phone numbers, emails, dates of birth and names — a list
//! uploaded and sent by SMS and email, links opened with a wrong and then
//! the right date of birth, a patient found in PDS, a conversation the
//! patient replies to, an auditor's export with patient details — with
//! every log line captured at debug level, spans and fields included, and
//! none of those values anywhere in them.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, token_in};

/// Every byte the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn nhs(first_nine: u32) -> String {
    (first_nine..)
        .find_map(domain::values::NhsNumber::from_first_nine)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_whole_flow_logs_no_nhs_number_phone_email_date_of_birth_or_name() {
    let captured = Captured::default();
    // The test's runtime runs every task on this thread, so the default
    // subscriber sees the server, the workers and the stack.
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_app().await;
    let (texted, emailed) = (nhs(912_345_670), nhs(934_567_120));
    let csv = format!(
        "NHS Number,Given Name,Telecom Number,Email Address,Date of Birth\n\
         {texted},Philomena,07700 100123,,14/03/1961\n\
         {emailed},Bartholomew,,bartholomew.quince@example.com,22/09/1948\n"
    );
    let list: serde_json::Value = app.upload_list(&csv).await.json().await.unwrap();
    app.send_batch_from(json!({
        "name": "Smoking",
        "list_id": list["list_id"],
        "questionnaire": "smoking_status",
        "message": "Dear ((name)), please answer: ((link))",
        "email_subject": "Smoking questions",
    }))
    .await;
    app.run_pending_work().await;
    for (to, born) in [
        ("+447700100123", "1961-03-14"),
        ("bartholomew.quince@example.com", "1948-09-22"),
    ] {
        let tokens = app.tokens_sent_to(to).await;
        assert_eq!(tokens.len(), 1, "{to}");
        let link = app.link(&tokens[0]);
        assert_eq!(link.verify("1970-01-01").await.0, 403);
        link.session(born).await;
        let page = app
            .client
            .get(format!("{}/l/{}", app.address, tokens[0]))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
    }

    // A patient found in PDS, messaged, and replying through their link.
    let (status, found) = app
        .call_as(
            "A12345:sam",
            Method::POST,
            "/v1/patients/search",
            Some(json!({"nhs_number": "999 000 0018", "date_of_birth": "01/02/1950"})),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let team = app.team().await;
    let (status, started) = app.start(&team, json!({})).await;
    assert_eq!(status, 201, "{started}");
    app.run_pending_work().await;
    let sent = app.conversation_outbox().await;
    let link = app.link(&token_in(sent[0]["body"].as_str().unwrap()));
    let session = link.session("1950-02-01").await;
    let (status, _) = link
        .call(
            Method::POST,
            Some(&session),
            "/reply",
            Some(json!({"text": "Thank you, I will call on Monday."})),
        )
        .await;
    assert_eq!(status, 200);
    app.run_pending_work().await;

    // An auditor's export, with patients' details in it.
    let batch = app
        .request_as("A12345:ida:auditor", Method::POST, "/v1/audit/history")
        .json(&json!({"user_id": "dev-user", "patient_details": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), 200);
    // The flow's events, of most aggregates, also keep to the catalogue.
    assert_eq!(
        crate::audit::assert_events_match_the_committed_schemas(app.stack.event_log()).await,
        [
            "AuditExport",
            "Batch",
            "Conversation",
            "ConversationMessage",
            "Delivery",
            "PatientSearch",
            "Upload",
            "Workspace"
        ]
    );
    drop(app);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The flow did log, at debug too: the proof is not of silence.
    assert!(logs.contains("an event history was exported"), "{logs}");
    assert!(logs.contains("\"level\":\"DEBUG\""), "no debug lines");
    let lines = logs.lines().count();
    assert!(lines > 50, "{lines} lines");
    let patient_data = [
        texted.clone(),
        emailed.clone(),
        "9990000018".into(),
        "999 000 0018".into(),
        "447700100123".into(),
        "07700 100123".into(),
        "7700100123".into(),
        "447700100901".into(),
        "07700 100901".into(),
        "bartholomew.quince@example.com".into(),
        "joe.bloggs@example.com".into(),
        "1961-03-14".into(),
        "14/03/1961".into(),
        "1948-09-22".into(),
        "22/09/1948".into(),
        "1950-02-01".into(),
        "01/02/1950".into(),
        "Philomena".into(),
        "Bartholomew".into(),
        "Bloggs".into(),
        "I will call on Monday".into(),
    ];
    let found: Vec<(&String, &str)> = patient_data
        .iter()
        .filter_map(|value| {
            logs.lines()
                .find(|line| line.contains(value.as_str()))
                .map(|line| (value, line))
        })
        .collect();
    assert_eq!(found, [], "patient data in the logs");
}
