//! The patient pages on the AWS adapters (issue 17), through the API
//! function as API Gateway hands requests over: the date-of-birth check, the
//! session cookie (Secure, as behind API Gateway's HTTPS), a questionnaire
//! answered with an error on the way, on DynamoDB and S3.

use axum::body::Body;
use serde_json::json;

use super::flow::exchange;
use super::links::{bodies, token, Sent};

struct Page {
    status: u16,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn page(
    env: &super::env::AwsTestEnv,
    method: &str,
    uri: &str,
    cookie: &str,
    form: &str,
) -> Page {
    let mut headers = vec![("cookie", cookie)];
    if method == "POST" {
        headers.push(("content-type", "application/x-www-form-urlencoded"));
    }
    let response = exchange(
        env,
        "A12345",
        method,
        uri,
        &headers,
        Body::from(form.to_owned()),
    )
    .await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Page {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn cookie_value(page: &Page, name: &str) -> String {
    page.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v[name.len() + 1..].split(';').next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

#[tokio::test]
async fn a_patient_answers_a_questionnaire_through_the_api_function() {
    let run = Sent::batch(json!({"name": "Smoking", "questionnaire": "smoking_status",
        "message": "Dear ((name)), please answer: ((link))"}))
    .await;
    let env = &run.env;
    let link = token(&bodies(env).await[0].1);
    let base = format!("/l/{link}");

    let landing = page(env, "GET", &base, "", "").await;
    assert_eq!(landing.status, 200);
    assert!(landing
        .body
        .contains("<title>Confirm your date of birth – Your GP practice</title>"));
    let csrf = cookie_value(&landing, "bb_csrf");
    let set = landing.headers["set-cookie"].to_str().unwrap();
    assert_eq!(
        set,
        format!("bb_csrf={csrf}; Path={base}; Max-Age=1800; HttpOnly; SameSite=Strict; Secure")
    );
    let cookie = format!("bb_csrf={csrf}");
    let wrong = page(
        env,
        "POST",
        &base,
        &cookie,
        &format!("csrf={csrf}&day=2&month=2&year=1950"),
    )
    .await;
    assert_eq!(wrong.status, 403);
    assert!(wrong.body.contains("You have 4 attempts left."));
    let checked = page(
        env,
        "POST",
        &base,
        &cookie,
        &format!("csrf={csrf}&day=1&month=2&year=1950"),
    )
    .await;
    assert_eq!(checked.status, 303);
    assert_eq!(checked.headers["location"], format!("{base}/questionnaire"));
    let session = cookie_value(&checked, "bb_session");
    assert!(checked.headers["set-cookie"]
        .to_str()
        .unwrap()
        .ends_with("; HttpOnly; SameSite=Strict; Secure"));
    let cookie = format!("bb_csrf={csrf}; bb_session={session}");

    let questions = format!("{base}/questionnaire");
    let form = page(env, "GET", &questions, &cookie, "").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("Do you smoke?"));
    let refused = page(
        env,
        "POST",
        &questions,
        &cookie,
        &format!("csrf={csrf}&q-smoking_status=current_smoker&q-cigarettes_per_day=500"),
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(refused
        .body
        .contains("<title>Error: Smoking – Your GP practice</title>"));
    let answered = page(
        env,
        "POST",
        &questions,
        &cookie,
        &format!("csrf={csrf}&q-smoking_status=current_smoker&q-cigarettes_per_day=5"),
    )
    .await;
    assert_eq!(answered.status, 303);
    let thanks = page(env, "GET", &questions, &cookie, "").await;
    assert!(thanks
        .body
        .contains("<title>Thank you, your answers have been sent – Your GP practice</title>"));
    assert_eq!(
        thanks.headers["content-security-policy"],
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
}
