//! `batchbook lists check`, run as a user would: exact stdout, stderr and
//! exit status.

use std::process::Command;

fn run(args: &[&str], file_body: &[u8]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("list.csv");
    std::fs::write(&file, file_body).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_batchbook"))
        .args(["lists", "check"])
        .arg(&file)
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr)
        .unwrap()
        .replace(file.to_str().unwrap(), "FILE");
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        stderr,
    )
}

const LIST: &[u8] = b"NHS Number,Telecom Number\r\n943 476 5919,07700 100123\r\n9434765918,07700 100124\r\n4010232137,020 7946 0123\r\n";

#[test]
fn each_row_is_one_json_line_in_input_order_with_a_summary_on_stderr() {
    let (status, stdout, stderr) = run(&[], LIST);
    assert_eq!(status, 0);
    assert_eq!(
        stdout,
        concat!(
            r#"{"row":1,"outcome":"contactable","reason":null,"column":null,"channel":"sms","nhs_number":"9434765919","mobile":"+447700100123"}"#,
            "\n",
            r#"{"row":2,"outcome":"not_contactable","reason":"invalid_nhs_number","column":"NHS Number","channel":null,"nhs_number":null,"mobile":null}"#,
            "\n",
            r#"{"row":3,"outcome":"not_contactable","reason":"not_uk_mobile","column":"Mobile","channel":null,"nhs_number":"4010232137","mobile":null}"#,
            "\n",
        )
    );
    assert_eq!(stderr, "3 patient rows: 1 contactable, 2 not contactable (1 invalid_nhs_number, 1 not_uk_mobile)\n");
}

#[test]
fn the_table_format_lines_up() {
    let (status, stdout, _) = run(&["--format", "table"], LIST);
    assert_eq!(status, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[1],
        "     1  contactable      -                             sms      9434765919  +447700100123"
    );
}

#[test]
fn an_unusable_file_exits_non_zero_naming_the_cause() {
    let (status, stdout, stderr) = run(&[], b"Name,Telecom Number\nJoe,07700 100123\n");
    assert_eq!(status, 1);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "batchbook: FILE: the list cannot be used: the required column \"NHS Number\" is missing; the columns found were: Name, Telecom Number\n"
    );
}
