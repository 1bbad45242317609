//! The patient's pages (issue 17) over HTTP, as a browser without
//! JavaScript uses them: forms, cookies and redirects. Every page's words,
//! status and headers are asserted exactly.

use std::collections::HashMap;

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

const BORN: (&str, &str, &str) = ("1", "2", "1950");

/// A patient's browser with no script: it keeps the cookies its link's
/// pages set and follows nothing by itself.
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
    pub token: String,
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers["location"].to_str().unwrap()
    }

    /// The page's `<title>`.
    fn title(&self) -> &str {
        let start = self.body.find("<title>").unwrap() + "<title>".len();
        let end = self.body.find("</title>").unwrap();
        &self.body[start..end]
    }

    /// Whether the page shows `words` (HTML-escaped as pages escape them).
    fn shows(&self, words: &str) -> bool {
        let escaped = words
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&#34;")
            .replace('\'', "&#39;");
        self.body.contains(&escaped)
    }

    /// The value of the form's hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").unwrap() + 19;
        self.body[at..at + 32].to_owned()
    }
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp, token: &str) -> Self {
        Self {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            token: token.to_owned(),
        }
    }

    async fn call(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Answer {
        let url = format!("{}/l/{}{path}", self.app.address, self.token);
        let mut request = self.client.request(method, url);
        if !self.cookies.is_empty() {
            let cookie: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header("cookie", cookie.join("; "));
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for set in headers.get_all("set-cookie") {
            let (pair, _) = set.to_str().unwrap().split_once(';').unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
        let body = response.text().await.unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    /// Posts `fields` with the CSRF token the patient's pages gave.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let csrf = self.cookies.get("bb_csrf").cloned().unwrap_or_default();
        let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        form.extend_from_slice(fields);
        self.call(Method::POST, path, Some(&form)).await
    }

    /// The landing page, then the right date of birth: the page it leads to.
    async fn check_in(&mut self) -> Answer {
        let landing = self.get("").await;
        assert_eq!(landing.status, 200, "{}", landing.body);
        let checked = self
            .post("", &[("day", BORN.0), ("month", BORN.1), ("year", BORN.2)])
            .await;
        assert_eq!(checked.status, 303, "{}", checked.body);
        let next = checked.location().to_owned();
        let path = next
            .strip_prefix(&format!("/l/{}", self.token))
            .unwrap()
            .to_owned();
        self.get(&path).await
    }
}

fn assert_page_headers(answer: &Answer) {
    assert_eq!(
        answer.headers["content-security-policy"],
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(answer.headers["referrer-policy"], "no-referrer");
    assert_eq!(answer.headers["cache-control"], "no-store");
    assert_eq!(answer.headers["x-frame-options"], "DENY");
    assert_eq!(answer.headers["x-content-type-options"], "nosniff");
    assert!(!answer.body.contains("<script"), "no page has a script");
}

#[tokio::test]
async fn a_patient_checks_their_date_of_birth_and_answers_a_questionnaire_with_an_error_on_the_way()
{
    let app = spawn_app().await;
    let (batch_id, tokens) = app
        .linked_batch_of(
            1,
            json!({"name": "Smoking", "questionnaire": "smoking_status",
                              "message": "Dear ((name)), please answer: ((link))"}),
        )
        .await;
    let mut patient = Browser::new(&app, &tokens[0]);
    let landing = patient.get("").await;
    assert_eq!(landing.status, 200);
    assert_eq!(
        landing.title(),
        "Confirm your date of birth – Your GP practice"
    );
    assert_page_headers(&landing);
    assert_eq!(landing.headers["content-type"], "text/html; charset=utf-8");
    let cookie = landing.headers["set-cookie"].to_str().unwrap();
    let path = format!("/l/{}", tokens[0]);
    assert_eq!(
        cookie,
        format!(
            "bb_csrf={}; Path={path}; Max-Age=1800; HttpOnly; SameSite=Strict",
            landing.csrf()
        )
    );
    // Before the check the page names nobody.
    assert!(
        !landing.body.contains("Pat"),
        "no patient detail before the check"
    );

    // A form from elsewhere is refused.
    let forged = patient
        .call(
            Method::POST,
            "",
            Some(&[("day", "1"), ("month", "2"), ("year", "1950")]),
        )
        .await;
    assert_eq!(
        (forged.status, forged.title()),
        (403, "This page has expired – Your GP practice")
    );

    // The NHS.UK date input's errors, each with "Error:" in the title.
    let cases = [
        (("", "", ""), "Enter your date of birth"),
        (("", "2", "1950"), "Date of birth must include a day"),
        (("1", "", "1950"), "Date of birth must include a month"),
        (("1", "2", ""), "Date of birth must include a year"),
        (("1", "2", "50"), "Year must include 4 numbers"),
        (("31", "2", "1950"), "Date of birth must be a real date"),
        (("1", "2", "2999"), "Date of birth must be in the past"),
    ];
    for ((day, month, year), words) in cases {
        let refused = patient
            .post("", &[("day", day), ("month", month), ("year", year)])
            .await;
        assert_eq!(refused.status, 422, "{words}");
        assert_eq!(
            refused.title(),
            "Error: Confirm your date of birth – Your GP practice"
        );
        assert!(refused.shows("There is a problem"), "{words}");
        assert!(refused.shows(words), "{words}: {}", refused.body);
        // What was typed is kept.
        assert!(refused.body.contains(&format!("name=\"year\" type=\"text\" inputmode=\"numeric\" autocomplete=\"bday-year\" value=\"{year}\"")));
    }
    let wrong = patient
        .post("", &[("day", "2"), ("month", "2"), ("year", "1950")])
        .await;
    assert_eq!(wrong.status, 403);
    assert!(wrong.shows("The date of birth does not match our records. You have 4 attempts left."));

    // The right date: a session cookie, scoped to the link, and the questionnaire.
    let checked = patient
        .post("", &[("day", "01"), ("month", "02"), ("year", "1950")])
        .await;
    assert_eq!(checked.status, 303, "{}", checked.body);
    assert_eq!(checked.location(), format!("{path}/questionnaire"));
    let session = checked.headers["set-cookie"].to_str().unwrap();
    assert!(session.starts_with("bb_session="), "{session}");
    assert!(
        session.ends_with(&format!(
            "; Path={path}; Max-Age=1800; HttpOnly; SameSite=Strict"
        )),
        "{session}"
    );
    let form = patient.get("/questionnaire").await;
    assert_eq!(form.status, 200);
    assert_eq!(form.title(), "Smoking – Your GP practice");
    assert_page_headers(&form);
    assert!(form.shows("Do you smoke?"));
    assert!(form.shows("I have never smoked"));
    assert!(form.shows("Enter a whole number from 0 to 100 (cigarettes)"));

    // A bad answer: the error summary and the question's own error.
    let refused = patient
        .post(
            "/questionnaire",
            &[
                ("q-smoking_status", "current_smoker"),
                ("q-cigarettes_per_day", "500"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.title(), "Error: Smoking – Your GP practice");
    assert!(refused
        .shows("If you smoke, how many a day?: Enter a whole number from 0 to 100 (cigarettes)"));
    assert!(
        refused.body.contains("value=\"500\""),
        "what was typed is kept"
    );
    let missing = patient
        .post("/questionnaire", &[("q-cigarettes_per_day", "5")])
        .await;
    assert_eq!(missing.status, 422);
    assert!(
        missing.shows("Do you smoke?: Answer this question"),
        "{}",
        missing.body
    );

    let answered = patient
        .post(
            "/questionnaire",
            &[
                ("q-smoking_status", "current_smoker"),
                ("q-cigarettes_per_day", "5"),
                ("q-wants_help_to_stop", "yes"),
            ],
        )
        .await;
    assert_eq!(answered.status, 303);
    let thanks = patient.get("/questionnaire").await;
    assert_eq!(
        thanks.title(),
        "Thank you, your answers have been sent – Your GP practice"
    );
    app.run_pending_work().await;
    let csv = app
        .request(
            Method::GET,
            &format!("/v1/batches/{batch_id}/responses.csv"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains("current_smoker,5,yes"), "{csv}");
}

#[tokio::test]
async fn five_wrong_dates_lock_the_link_and_a_withdrawn_or_unknown_link_says_so() {
    let app = spawn_app().await;
    let (status, _) = TestApp::reply(app.request(Method::PUT, "/v1/settings").json(&json!({
        "flag_mobiles_likely_to_fail": false,
        "contact": {"name": "Riverside Surgery", "phone": "01632 960000", "website": "https://riverside.example"}}))).await;
    assert_eq!(status, 200);
    let (batch_id, tokens) = app
        .linked_batch_of(
            2,
            json!({"name": "Smoking", "questionnaire": "smoking_status",
                              "message": "Dear ((name)), please answer: ((link))"}),
        )
        .await;
    let mut patient = Browser::new(&app, &tokens[0]);
    patient.get("").await;
    for left in [4, 3, 2] {
        let wrong = patient
            .post("", &[("day", "2"), ("month", "2"), ("year", "1950")])
            .await;
        assert!(
            wrong.shows(&format!("You have {left} attempts left.")),
            "{}",
            wrong.body
        );
    }
    let last = patient
        .post("", &[("day", "2"), ("month", "2"), ("year", "1950")])
        .await;
    assert!(last.shows("The date of birth does not match our records. You have 1 attempt left."));
    let locked = patient
        .post("", &[("day", "2"), ("month", "2"), ("year", "1950")])
        .await;
    assert_eq!(
        (locked.status, locked.title()),
        (423, "This link has been locked – Your GP practice")
    );
    assert!(locked.shows("Riverside Surgery"));
    assert!(locked.shows("Phone: 01632 960000"));
    assert!(locked.body.contains("href=\"https://riverside.example\""));
    // Locked for good, even with the right date.
    let again = patient
        .post("", &[("day", "1"), ("month", "2"), ("year", "1950")])
        .await;
    assert_eq!(again.status, 423);
    assert_eq!(patient.get("").await.status, 423);

    // Withdrawn by the practice.
    let (status, _) = app.revoke(&batch_id, json!({"all": true})).await;
    assert_eq!(status, 200);
    let mut other = Browser::new(&app, &tokens[1]);
    let withdrawn = other.get("").await;
    assert_eq!(
        (withdrawn.status, withdrawn.title()),
        (410, "This link is no longer available – Your GP practice")
    );
    assert!(withdrawn.shows("Your GP practice has withdrawn this link."));
    assert_page_headers(&withdrawn);

    let mut stranger = Browser::new(&app, "AAAAAAAAAAAAAAAAAAAAAA");
    let unknown = stranger.get("").await;
    assert_eq!(
        (unknown.status, unknown.title()),
        (404, "Page not found – Your GP practice")
    );
    assert_page_headers(&unknown);
}

#[tokio::test]
async fn an_expired_link_says_so_and_how_to_reach_the_practice() {
    let app = spawn_app().await;
    let tokens = app
        .linked_batch(
            1,
            json!({"name": "Smoking", "questionnaire": "smoking_status",
                              "message": "Dear ((name)), please answer: ((link))"}),
        )
        .await;
    app.clock.advance(chrono::Duration::days(8));
    let mut patient = Browser::new(&app, &tokens[0]);
    let expired = patient.get("").await;
    assert_eq!(
        (expired.status, expired.title()),
        (410, "This link has expired – Your GP practice")
    );
    assert!(expired.shows("You can no longer use this link."));
}

#[tokio::test]
async fn a_patient_opens_the_attachment_page_then_downloads_the_file() {
    let app = spawn_app().await;
    let leaflet =
        b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec();
    let (status, uploaded) = TestApp::reply(
        app.request(Method::POST, "/v1/attachments?file_name=Flu%20leaflet.pdf")
            .header("content-type", "application/pdf")
            .body(leaflet.clone()),
    )
    .await;
    assert_eq!(status, 201);
    let (batch_id, tokens) = app
        .linked_batch_of(
            1,
            json!({"name": "Leaflet", "attachment_id": uploaded["attachment_id"],
                              "message": "Dear ((name)), our leaflet: ((link))"}),
        )
        .await;
    let mut patient = Browser::new(&app, &tokens[0]);
    let page = patient.check_in().await;
    assert_eq!(
        page.title(),
        "A document from your GP practice – Your GP practice"
    );
    assert!(page.shows("Flu leaflet.pdf (PDF, 1 KB)"), "{}", page.body);
    assert!(page
        .body
        .contains(&format!("href=\"/l/{}/attachment/file\"", tokens[0])));
    let file = patient.get("/attachment/file").await;
    assert_eq!(file.status, 200);
    assert_eq!(file.headers["content-type"], "application/pdf");
    assert_eq!(file.body.as_bytes(), leaflet.as_slice());
    app.run_pending_work().await;
    let batch = app.batch(&batch_id).await;
    assert_eq!(batch["counts"]["opened_attachment"], 1);
}

const BOOK: &str = "Dear ((name)), book your flu jab: ((link))";

/// A Self-Book flu invite that patients may decline: the batch to send
/// (the browser tests send it too).
pub(crate) fn flu() -> Value {
    json!({"name": "Flu", "message": BOOK,
           "self_book": {"appointment_type": "in_person", "slot_type": "flu",
                         "decline": {"snomed_code": "73211009", "wording": "I don't want a flu jab"}}})
}

#[tokio::test]
async fn a_patient_books_waits_sees_it_booked_then_cancels_it() {
    let app = spawn_app().await;
    let tokens = app.linked_batch(1, flu()).await;
    let mut patient = Browser::new(&app, &tokens[0]);
    let invite = patient.check_in().await;
    assert_eq!(invite.title(), "Book an appointment – Your GP practice");
    assert!(invite
        .body
        .contains(&format!("href=\"/l/{}/slots\"", tokens[0])));
    assert!(invite.shows("I don't want a flu jab"));

    let slots = patient.get("/slots").await;
    assert_eq!(
        (slots.status, slots.title()),
        (200, "Choose a time – Your GP practice")
    );
    assert_page_headers(&slots);
    // Grouped by day: the book's first Monday session starts at 9am.
    assert!(slots.shows("Monday 23 November"), "{}", slots.body);
    assert!(slots.body.contains("<h2 class=\"nhsuk-heading-s\">"));
    let nothing = patient.post("/slots", &[]).await;
    assert_eq!(nothing.status, 422);
    assert!(nothing.shows("Select a time for your appointment"));
    assert_eq!(nothing.title(), "Error: Choose a time – Your GP practice");

    let offer = first_offer(&slots.body);
    let chosen = patient.post("/slots", &[("offer", &offer)]).await;
    assert_eq!(chosen.status, 303);
    let confirm_path = chosen
        .location()
        .strip_prefix(&format!("/l/{}", tokens[0]))
        .unwrap()
        .to_owned();
    let confirm = patient.get(&confirm_path).await;
    assert_eq!(
        confirm.title(),
        "Confirm your appointment – Your GP practice"
    );
    assert!(confirm.shows("Nurse Patel"));
    assert!(confirm.shows("In person"));
    let booked = patient.post("/confirm", &[("offer", &offer)]).await;
    assert_eq!(booked.status, 303);
    let pending = patient.get("/invite").await;
    assert_eq!(
        pending.title(),
        "We are booking your appointment – Your GP practice"
    );
    assert!(
        !pending.body.contains("http-equiv"),
        "no timed refresh (WCAG 2.2.1)"
    );
    assert!(pending.shows("Check again"));

    app.run_pending_work().await;
    let done = patient.get("/invite").await;
    assert_eq!(
        done.title(),
        "Your appointment is booked – Your GP practice"
    );
    assert!(!done.body.contains("http-equiv=\"refresh\""));
    assert!(done.shows("Riverside Surgery, 1 High Street"));
    // When, in the catalogue's words: the first time still ahead that Monday.
    assert!(
        done.body
            .contains("<dt class=\"nhsuk-summary-list__key\">When</dt>"),
        "{}",
        done.body
    );
    assert!(
        done.shows("Monday 23 November 2026 at 10:05am"),
        "{}",
        done.body
    );
    assert!(done.shows("Cancel this appointment"));
    // The confirmation text carries the same link.
    let texts = app
        .tokens_sent_to(app.outbox().await[0]["to"].as_str().unwrap())
        .await;
    assert_eq!(texts.len(), 2, "the invite, then the confirmation");
    assert_eq!(texts[1], tokens[0]);

    let cancel = patient.get("/cancel").await;
    assert_eq!(
        cancel.title(),
        "Are you sure you want to cancel your appointment? – Your GP practice"
    );
    let cancelled = patient.post("/cancel", &[]).await;
    assert_eq!(cancelled.status, 303);
    let page = patient.get("/invite").await;
    assert_eq!(
        page.title(),
        "Your appointment has been cancelled – Your GP practice"
    );
}

/// Each day heading of a slots page, in order.
fn day_headings(page: &Answer) -> Vec<String> {
    page.body
        .split("<h2 class=\"nhsuk-heading-s\">")
        .skip(1)
        .map(|rest| rest[..rest.find("</h2>").unwrap()].to_owned())
        .collect()
}

#[tokio::test]
async fn the_times_come_a_page_of_whole_days_at_a_time_with_the_pages_either_side_linked() {
    let app = spawn_app().await;
    let tokens = app.linked_batch(1, flu()).await;
    let mut patient = Browser::new(&app, &tokens[0]);
    patient.check_in().await;
    let slots = format!("/l/{}/slots", tokens[0]);
    let times = |page: &Answer| page.body.matches("type=\"radio\"").count();

    // The practice's flu sessions are Monday morning (from 10am, an hour
    // after the clock's 9am) and Wednesday afternoon (Saturday's are at the
    // hub, which this practice does not book into), a time every 5 minutes
    // less the book's blocked (every 9th) and embargoed (every 13th) slots:
    // this week's Monday and Wednesday hold 48 times, and next Monday would
    // take the page past 60, so it starts the next page.
    let first = patient.get("/slots").await;
    assert_eq!(first.status, 200);
    assert_eq!(
        day_headings(&first),
        ["Monday 23 November", "Wednesday 25 November"]
    );
    assert_eq!(times(&first), 48);
    assert!(!first.body.contains("nhsuk-pagination-item--previous"));
    assert!(!first.body.contains("name=\"from\""));
    assert!(first
        .body
        .contains(&format!("href=\"{slots}?from=2026-11-30\"")));
    assert!(first.shows("Later times, from Monday 30 November"));

    let second = patient.get("/slots?from=2026-11-30").await;
    assert_eq!(second.status, 200);
    assert_eq!(
        day_headings(&second),
        ["Monday 30 November", "Wednesday 2 December"]
    );
    assert!(second
        .body
        .contains(&format!("href=\"{slots}?from=2026-11-23\"")));
    assert!(second.shows("Earlier times, from Monday 23 November"));
    assert!(second
        .body
        .contains("<input type=\"hidden\" name=\"from\" value=\"2026-11-30\">"));
    // A day inside a page, or before the first, shows the page holding it.
    let inside = patient.get("/slots?from=2026-12-01").await;
    assert_eq!(day_headings(&inside), day_headings(&second));
    let before = patient.get("/slots?from=2026-01-01").await;
    assert_eq!(day_headings(&before), day_headings(&first));
    // Continuing without a time shows the same page again, with the error.
    let nothing = patient.post("/slots", &[("from", "2026-11-30")]).await;
    assert_eq!(nothing.status, 422);
    assert_eq!(day_headings(&nothing), day_headings(&second));
    assert!(nothing.shows("Select a time for your appointment"));

    // An address part the page does not take, or cannot read, is named.
    let unknown = patient.get("/slots?form=2026-11-30").await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.shows("The page address asks for something this page does not have (form)."));
    for unreadable in [
        "/slots?from=tomorrow",
        "/slots?from=2026-11-30&from=2026-12-02",
    ] {
        let page = patient.get(unreadable).await;
        assert_eq!(page.status, 400, "{unreadable}");
        assert!(
            page.shows("The page address has a from we cannot read."),
            "{unreadable}: {}",
            page.body
        );
    }
}

fn first_offer(body: &str) -> String {
    let at = body.find("name=\"offer\" type=\"radio\" value=\"").unwrap() + 33;
    let end = body[at..].find('"').unwrap();
    body[at..at + end].to_owned()
}

#[tokio::test]
async fn a_patient_told_the_time_was_just_taken_chooses_another() {
    let app = spawn_app().await;
    let tokens = app.linked_batch(2, flu()).await;
    let mut first = Browser::new(&app, &tokens[0]);
    let mut second = Browser::new(&app, &tokens[1]);
    first.check_in().await;
    second.check_in().await;
    let offer = first_offer(&first.get("/slots").await.body);
    assert_eq!(
        first.post("/confirm", &[("offer", &offer)]).await.status,
        303
    );
    let taken = second.post("/confirm", &[("offer", &offer)]).await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert_eq!(taken.title(), "Error: Choose a time – Your GP practice");
    assert!(taken.shows("That time was just taken. Choose another time."));
    let another = first_offer(&taken.body);
    assert_ne!(another, offer, "the time taken is no longer offered");
    assert_eq!(
        second.post("/confirm", &[("offer", &another)]).await.status,
        303
    );
    app.run_pending_work().await;
    assert_eq!(
        second.get("/invite").await.title(),
        "Your appointment is booked – Your GP practice"
    );
}

#[tokio::test]
async fn a_patient_declines_and_is_told_the_practice_knows() {
    let app = spawn_app().await;
    let (batch_id, tokens) = app.linked_batch_of(1, flu()).await;
    let mut patient = Browser::new(&app, &tokens[0]);
    patient.check_in().await;
    let decline = patient.get("/decline").await;
    assert_eq!(
        decline.title(),
        "Are you sure you do not want this appointment? – Your GP practice"
    );
    assert!(decline.shows("I don't want a flu jab"));
    // Without the page's CSRF token, nothing is declined.
    let forged = patient
        .call(Method::POST, "/decline", Some(&[("csrf", "x")]))
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(
        patient.get("/invite").await.title(),
        "Book an appointment – Your GP practice"
    );
    assert_eq!(patient.post("/decline", &[]).await.status, 303);
    let declined = patient.get("/invite").await;
    assert_eq!(
        declined.title(),
        "You have told us you do not want this appointment – Your GP practice"
    );
    app.run_pending_work().await;
    let batch = app.batch(&batch_id).await;
    assert_eq!(batch["counts"]["invites"]["declined"], 1);
}

#[tokio::test]
async fn a_page_after_the_session_ends_asks_for_the_date_of_birth_again() {
    let app = spawn_app().await;
    let tokens = app.linked_batch(1, flu()).await;
    let mut patient = Browser::new(&app, &tokens[0]);
    patient.check_in().await;
    app.clock.advance(chrono::Duration::minutes(31));
    let ended = patient.get("/slots").await;
    assert_eq!(
        (ended.status, ended.location()),
        (303, format!("/l/{}", tokens[0]).as_str())
    );
    // The stylesheet is the pinned NHS.UK frontend, kept for a year.
    let css = patient
        .client
        .get(format!(
            "{}/l/assets/nhsuk-frontend-10.6.1.min.css",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let plain = css.text().await.unwrap();
    assert!(plain.contains(".nhsuk-button"));
    // Gzipped for a browser that takes it: the same bytes, far fewer.
    let gzipped = patient
        .client
        .get(format!(
            "{}/l/assets/nhsuk-frontend-10.6.1.min.css",
            app.address
        ))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(gzipped.headers()["vary"], "accept-encoding");
    let bytes = gzipped.bytes().await.unwrap();
    assert!(
        bytes.len() * 5 < plain.len(),
        "{} of {}",
        bytes.len(),
        plain.len()
    );
    let mut unzipped = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(bytes.as_ref()),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, plain);
    // A page goes compressed too.
    let page = patient
        .client
        .get(format!("{}/l/{}", app.address, tokens[0]))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn a_form_with_a_field_its_page_lacks_or_one_twice_is_refused_by_name_and_changes_nothing() {
    let app = spawn_app().await;
    let tokens = app.linked_batch(2, flu()).await;
    let mut patient = Browser::new(&app, &tokens[0]);
    patient.get("").await;
    // A typo beside the date of birth: refused, and no attempt is counted.
    let typo = patient
        .post(
            "",
            &[
                ("day", "2"),
                ("month", "2"),
                ("year", "1950"),
                ("yaer", "1950"),
            ],
        )
        .await;
    assert_eq!(
        (typo.status, typo.title()),
        (400, "This page has expired – Your GP practice")
    );
    assert!(
        typo.shows(
            "The form sent something this page does not ask for (yaer), so nothing was done."
        ),
        "{}",
        typo.body
    );
    assert_page_headers(&typo);
    let wrong = patient
        .post("", &[("day", "2"), ("month", "2"), ("year", "1950")])
        .await;
    assert!(
        wrong.shows("You have 4 attempts left."),
        "the refused form counted no attempt: {}",
        wrong.body
    );

    // The time chosen sent twice: refused, and nothing is booked.
    let invite = patient.check_in().await;
    assert_eq!(invite.title(), "Book an appointment – Your GP practice");
    let slots = patient.get("/slots").await;
    let offer = first_offer(&slots.body);
    let twice = patient
        .post("/confirm", &[("offer", &offer), ("offer", "other")])
        .await;
    assert_eq!(twice.status, 400);
    assert!(
        twice.shows("The form sent offer more than once, so nothing was done."),
        "{}",
        twice.body
    );
    let stray = patient.post("/decline", &[("reason", "busy")]).await;
    assert_eq!(stray.status, 400);
    assert!(stray.shows("(reason)"), "{}", stray.body);
    assert_eq!(
        patient.get("/invite").await.title(),
        "Book an appointment – Your GP practice",
        "neither booked nor declined"
    );
}

#[tokio::test]
async fn a_questionnaire_answer_naming_no_question_is_refused_by_name() {
    let app = spawn_app().await;
    let (batch_id, tokens) = app
        .linked_batch_of(
            1,
            json!({"name": "Smoking", "questionnaire": "smoking_status",
                              "message": "Dear ((name)), please answer: ((link))"}),
        )
        .await;
    let mut patient = Browser::new(&app, &tokens[0]);
    assert_eq!(
        patient.check_in().await.title(),
        "Smoking – Your GP practice"
    );
    let stray = patient
        .post(
            "/questionnaire",
            &[
                ("q-smoking_status", "never_smoked"),
                ("q-smoking_staus", "never_smoked"),
            ],
        )
        .await;
    assert_eq!(stray.status, 400, "{}", stray.body);
    assert!(
        stray.shows("(q-smoking_staus)"),
        "the stray field is named: {}",
        stray.body
    );
    assert_eq!(
        patient.get("/questionnaire").await.title(),
        "Smoking – Your GP practice",
        "not answered"
    );
    app.run_pending_work().await;
    let batch = app.batch(&batch_id).await;
    assert_eq!(batch["counts"]["answered"], 0, "{batch}");
}

#[tokio::test]
async fn a_patient_replies_once_on_the_reply_page_and_a_second_or_stray_reply_changes_nothing() {
    let app = spawn_app().await;
    let team = app.team().await;
    let (status, started) = app.start(&team, json!({})).await;
    assert_eq!(status, 201, "{started}");
    app.run_pending_work().await;
    let sent = app.conversation_outbox().await;
    let token = crate::helpers::token_in(sent[0]["body"].as_str().unwrap());
    let mut patient = Browser::new(&app, &token);
    // Before the check: nothing of the message or the patient.
    let landing = patient.get("").await;
    assert!(!landing.shows("test results"), "{}", landing.body);
    let form = patient.check_in().await;
    assert_eq!(
        (form.status, form.title()),
        (200, "Reply to your GP practice – Your GP practice")
    );
    assert_page_headers(&form);
    assert!(form.shows("Your test results are back. Please book a review."));
    assert!(form.shows("You can reply once, in up to 1000 characters."));
    assert!(
        form.shows("You can reply until Monday 7 December 2026 at 9am."),
        "{}",
        form.body
    );
    assert!(!form.shows("Sam"), "no staff detail is shown");

    let before = app.snapshot().await;
    let stray = patient
        .post("/reply", &[("reply", "Hello"), ("name", "Joe")])
        .await;
    assert_eq!(stray.status, 400);
    assert!(stray.shows("(name)"), "{}", stray.body);
    let long = "a".repeat(1001);
    let too_long = patient.post("/reply", &[("reply", &long)]).await;
    assert_eq!(
        (too_long.status, too_long.title()),
        (422, "Error: Reply to your GP practice – Your GP practice")
    );
    assert!(too_long.shows("Your reply must be 1000 characters or fewer. It is 1001 characters."));
    assert!(too_long.shows(&long), "what was typed is kept");
    assert_eq!(app.snapshot().await, before);

    let sent = patient.post("/reply", &[("reply", "I will call.")]).await;
    assert_eq!(
        (sent.status, sent.title()),
        (200, "Your reply has been sent – Your GP practice")
    );
    let after = app.snapshot().await;
    let again = patient.post("/reply", &[("reply", "Me again")]).await;
    assert_eq!(
        (again.status, again.title()),
        (
            409,
            "You have already replied to this message – Your GP practice"
        )
    );
    assert_eq!(app.snapshot().await, after);
    assert_eq!(
        patient.get("/reply").await.title(),
        "You have already replied to this message – Your GP practice"
    );
}
