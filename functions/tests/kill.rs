//! `batchbook serve` killed with SIGKILL midway through a batch, then
//! started again on the same data directory: every patient gets exactly one
//! message and the batch reaches Done.
//!
//! This lives beside the binary because only this package's tests can find
//! it (`CARGO_BIN_EXE_batchbook`); the in-process variant is in `tests/api`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const PATIENTS: usize = 3_000;

struct Server {
    child: Child,
    address: String,
    /// Kept open: the server prints more lines, and a closed pipe would
    /// kill it before the test does.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &std::path::Path, sms_delay_ms: u64) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchbook"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--sms-delay-ms",
            &sms_delay_ms.to_string(),
            "--data",
        ])
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("batchbook starts");
    let mut first_line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first_line).unwrap();
    let address = first_line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {first_line:?}"))
        .to_owned();
    Server {
        child,
        address,
        _stdout: stdout,
    }
}

/// Sends a request and reads its JSON answer.
async fn json<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    request.send().await.unwrap().json().await.unwrap()
}

async fn outbox(client: &reqwest::Client, server: &Server) -> Vec<Value> {
    json(client.get(format!("{}/v1/dev/sms-outbox", server.address))).await
}

#[tokio::test]
async fn a_killed_server_restarted_on_the_same_data_sends_each_message_exactly_once() {
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let csv = domain::lists::synthetic_systmone_csv(PATIENTS);

    let first = serve(data.path(), 20);
    // The server runs on the real clock: let texts go at any hour.
    let window = serde_json::json!({"flag_mobiles_likely_to_fail": false,
                                    "sending_window": {"opens": "00:00", "closes": "00:00"}});
    let saved = client
        .put(format!("{}/v1/settings", first.address))
        .json(&window)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let list: Value = json(
        client
            .post(format!("{}/v1/lists", first.address))
            .header("content-type", "text/csv")
            .body(csv),
    )
    .await;
    let recipients = list["contactable_count"].as_u64().unwrap();
    let created: Value = json(
        client
            .post(format!("{}/v1/batches", first.address))
            .json(&serde_json::json!({"name": "Kill", "list_id": list["list_id"], "message": "Hello ((name))"})),
    )
    .await;
    let batch_id = created["batch_id"].as_str().unwrap().to_owned();
    let sent = client
        .post(format!("{}/v1/batches/{batch_id}/send", first.address))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);

    // Wait for the first messages, then kill the process without warning.
    let started = Instant::now();
    let mut before = 0;
    while before == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing was sent"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        before = outbox(&client, &first).await.len();
    }
    drop(first);
    assert!(
        (before as u64) < recipients,
        "the kill must land midway (already {before} of {recipients})"
    );

    let second = serve(data.path(), 0);
    let started = Instant::now();
    let batch = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the batch never finished"
        );
        let batch: Value =
            json(client.get(format!("{}/v1/batches/{batch_id}", second.address))).await;
        // Done once every message has its outcome; then the records are
        // saved, which the simulated clinical system takes its time over.
        if ["Done", "Saving", "Saved"].contains(&batch["status"].as_str().unwrap_or_default()) {
            break batch;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let counts = &batch["counts"];
    let sent = counts["delivered"].as_u64().unwrap();
    let failed = counts["failed_to_deliver"].as_u64().unwrap();
    assert_eq!(sent + failed, recipients);

    let messages = outbox(&client, &second).await;
    let mut numbers: Vec<&str> = messages.iter().map(|m| m["to"].as_str().unwrap()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(
        messages.len(),
        numbers.len(),
        "a patient was messaged twice"
    );
    assert_eq!(messages.len() as u64, sent, "a patient was missed");
}
