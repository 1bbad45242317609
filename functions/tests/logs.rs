//! `batchbook serve` with standard error sent to a file writes plain log
//! lines: no terminal colour codes in a file an operator or a log shipper
//! reads.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn logs_written_to_a_file_carry_no_colour_codes() {
    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchbook"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(data.path().join("data"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("batchbook starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first_line = String::new();
    stdout.read_line(&mut first_line).unwrap();
    let address = first_line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let uploaded = reqwest::Client::new()
        .post(format!("{address}/v1/lists"))
        .header("content-type", "text/csv")
        .body("NHS Number,Given Name,Telecom Number,Date of Birth\n9434765919,Ann,07700 100001,01/02/1950\n")
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    let _ = child.kill();
    let _ = child.wait();
    let written = std::fs::read_to_string(&log_path).unwrap();
    assert!(written.contains("patient list checked"), "{written}");
    assert!(!written.contains('\u{1b}'), "colour codes in {written:?}");
}
