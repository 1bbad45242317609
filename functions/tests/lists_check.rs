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

const LIST: &[u8] = b"NHS Number,Telecom Number,Date of Birth,Email Address\r\n\
943 476 5919,07700 100123,08-Apr-1947,\r\n\
9434765918,07700 100124,08/04/1947,\r\n\
4010232137,020 7946 0123,08/04/1947,\r\n\
5990128088,07700 100125,1947-04-08,joe@example.com\r\n\
6541726817,07700 100126,31/02/1947,\r\n";

#[test]
fn each_row_is_one_json_line_in_input_order_with_a_summary_on_stderr() {
    let (status, stdout, stderr) = run(&[], LIST);
    assert_eq!(status, 0);
    assert_eq!(
        stdout,
        concat!(
            r#"{"row":1,"outcome":"contactable","reason":null,"column":null,"channel":"sms","nhs_number":"9434765919","mobile":"+447700100123","email":null,"date_of_birth":"1947-04-08"}"#,
            "\n",
            r#"{"row":2,"outcome":"not_contactable","reason":"invalid_nhs_number","column":"NHS Number","channel":null,"nhs_number":null,"mobile":null,"email":null,"date_of_birth":null}"#,
            "\n",
            r#"{"row":3,"outcome":"not_contactable","reason":"not_uk_mobile","column":"Telecom Number","channel":null,"nhs_number":"4010232137","mobile":null,"email":null,"date_of_birth":"1947-04-08"}"#,
            "\n",
            r#"{"row":4,"outcome":"contactable","reason":null,"column":null,"channel":"email","nhs_number":"5990128088","mobile":"+447700100125","email":"joe@example.com","date_of_birth":"1947-04-08"}"#,
            "\n",
            r#"{"row":5,"outcome":"not_contactable","reason":"invalid_date_of_birth","column":"Date of Birth","channel":null,"nhs_number":"6541726817","mobile":null,"email":null,"date_of_birth":null}"#,
            "\n",
        )
    );
    assert_eq!(stderr, "5 patient rows: 2 contactable, 3 not contactable (1 invalid_date_of_birth, 1 invalid_nhs_number, 1 not_uk_mobile)\n");
}

#[test]
fn the_table_format_lines_up() {
    let (status, stdout, _) = run(&["--format", "table"], LIST);
    assert_eq!(status, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(
        lines[0],
        "   row  outcome          reason                              channel  nhs_number  mobile         date_of_birth  email"
    );
    assert_eq!(
        lines[4],
        "     4  contactable      -                                   email    5990128088  +447700100125  1947-04-08     joe@example.com"
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
