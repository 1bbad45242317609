//! The patient pages in a real browser (issue 17): Debian's Chromium,
//! headless, driven through chromedriver by WebDriver (fantoccini). Each
//! flow runs twice: with JavaScript, when every page is checked by axe-core
//! (WCAG 2.2 A and AA rules: no violation), for no horizontal scrolling at
//! 320 CSS pixels, and photographed at 320 and 1280 pixels wide
//! (`target/pages-screenshots/`); then with JavaScript turned off.
//!
//! `tests/run.sh` installs Chromium and axe-core and sets
//! `BATCHBOOK_BROWSER_TESTS=required`, so there a missing browser fails
//! the tests. Elsewhere, without Chromium, they say so and pass over.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, token_in, TestApp};
use crate::pages::flu;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const AXE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/browser/node_modules/axe-core/axe.min.js"
);

/// Whether the browser tests can run here; panics where they are required.
fn browser_available() -> bool {
    let present = std::path::Path::new(CHROMIUM).exists()
        && std::path::Path::new(CHROMEDRIVER).exists()
        && std::path::Path::new(AXE).exists();
    if !present {
        assert_ne!(
            std::env::var("BATCHBOOK_BROWSER_TESTS").as_deref(),
            Ok("required"),
            "the browser tests need {CHROMIUM}, {CHROMEDRIVER} and {AXE}"
        );
        eprintln!("browser tests passed over: no Chromium, chromedriver or axe-core here");
    }
    present
}

struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn chromedriver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver(child, port)
}

/// One headless Chromium, 320 pixels wide.
struct Chrome<'a> {
    app: &'a TestApp,
    client: Client,
    /// JavaScript on: the pages are checked by axe and photographed.
    script: bool,
    _driver: Driver,
}

impl<'a> Chrome<'a> {
    async fn open(app: &'a TestApp, script: bool) -> Self {
        let driver = chromedriver().await;
        let mut prefs = json!({});
        if !script {
            prefs["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "prefs": prefs,
                   "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                            "--disable-dev-shm-usage", "--window-size=320,900"]}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.1))
            .await
            .expect("chromedriver gives a session");
        Self {
            app,
            client,
            script,
            _driver: driver,
        }
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.app.address))
            .await
            .unwrap();
    }

    async fn title(&self) -> String {
        self.client.title().await.unwrap()
    }

    async fn text(&self) -> String {
        self.client
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn type_into(&self, name: &str, value: &str) {
        let field = self
            .client
            .find(Locator::Css(&format!("[name='{name}']")))
            .await
            .unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    async fn choose(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Clicks `css`, then waits for the next page: a form's submission
    /// returns before the browser has loaded what it answered.
    async fn navigate_by(&self, locator: Locator<'_>) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        self.client
            .find(locator)
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        for _ in 0..200 {
            if old.tag_name().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the page did not change");
    }

    async fn submit(&self) {
        self.navigate_by(Locator::Css("button[type='submit']"))
            .await;
    }

    async fn click_link(&self, words: &str) {
        match self.client.find(Locator::LinkText(words)).await {
            Ok(_) => self.navigate_by(Locator::LinkText(words)).await,
            Err(e) => panic!(
                "no link {words:?} on {:?}: {e}\n{}",
                self.title().await,
                self.text().await
            ),
        }
    }

    /// With JavaScript on: no axe-core violation of the WCAG 2.2 A and AA
    /// rules, no horizontal scrolling at 320 pixels, and a photograph at
    /// 320 and 1280 pixels. Answers the page's title.
    async fn check(&self, name: &str) -> String {
        let title = self.title().await;
        if !self.script {
            return title;
        }
        let axe = std::fs::read_to_string(AXE).unwrap();
        self.client.execute(&axe, vec![]).await.unwrap();
        let violations = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {runOnly: {type: 'tag', values:
                     ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})
                   .then(r => done(r.violations.map(v => v.id + ': ' +
                       v.nodes.map(n => n.target.join(' ')).join(', '))));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(violations, json!([]), "axe-core on {name} ({title})");
        let fits = self
            .client
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            fits[0].as_u64() <= fits[1].as_u64(),
            "{name} scrolls sideways at 320 pixels: {fits}"
        );
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/pages-screenshots");
        std::fs::create_dir_all(dir).unwrap();
        for width in [320, 1280] {
            self.client.set_window_size(width, 900).await.unwrap();
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(format!("{dir}/{name}-{width}.png"), png).unwrap();
        }
        self.client.set_window_size(320, 900).await.unwrap();
        title
    }

    /// The date-of-birth check, typed in.
    async fn check_in(&self, token: &str, name: &str) -> String {
        self.goto(&format!("/l/{token}")).await;
        assert_eq!(
            self.check(&format!("{name}-check")).await,
            "Confirm your date of birth – Your GP practice"
        );
        self.type_into("day", "1").await;
        self.type_into("month", "2").await;
        self.type_into("year", "1950").await;
        self.submit().await;
        self.title().await
    }

    async fn close(self) {
        self.client.close().await.unwrap();
    }
}

async fn questionnaire_with_an_error(app: &TestApp, chrome: &Chrome<'_>, run: &str) {
    let tokens = app
        .linked_batch(
            1,
            json!({"name": "Smoking", "questionnaire": "smoking_status",
                                 "message": "Dear ((name)), please answer: ((link))"}),
        )
        .await;
    // An empty date first: the error summary, and "Error:" in the title.
    chrome.goto(&format!("/l/{}", tokens[0])).await;
    chrome.submit().await;
    assert_eq!(
        chrome.check(&format!("{run}-check-error")).await,
        "Error: Confirm your date of birth – Your GP practice"
    );
    assert!(chrome.text().await.contains("Enter your date of birth"));
    assert_eq!(
        chrome
            .check_in(&tokens[0], &format!("{run}-questionnaire"))
            .await,
        "Smoking – Your GP practice"
    );
    chrome.check(&format!("{run}-questionnaire")).await;
    chrome.choose("label[for='q-smoking_status-2']").await;
    chrome.type_into("q-cigarettes_per_day", "500").await;
    chrome.submit().await;
    assert_eq!(
        chrome.check(&format!("{run}-questionnaire-error")).await,
        "Error: Smoking – Your GP practice"
    );
    chrome.type_into("q-cigarettes_per_day", "5").await;
    chrome.submit().await;
    assert_eq!(
        chrome.check(&format!("{run}-questionnaire-answered")).await,
        "Thank you, your answers have been sent – Your GP practice"
    );
}

async fn book_then_cancel(app: &TestApp, chrome: &Chrome<'_>, run: &str) {
    let tokens = app.linked_batch(1, flu()).await;
    assert_eq!(
        chrome.check_in(&tokens[0], &format!("{run}-invite")).await,
        "Book an appointment – Your GP practice"
    );
    chrome.check(&format!("{run}-invite")).await;
    chrome.click_link("Book an appointment").await;
    assert_eq!(
        chrome.check(&format!("{run}-slots")).await,
        "Choose a time – Your GP practice"
    );
    // Keyboard only: Tab to the first time, Space to choose it, Enter.
    let mut reached = false;
    for _ in 0..40 {
        chrome
            .client
            .active_element()
            .await
            .unwrap()
            .send_keys("\u{E004}")
            .await
            .unwrap();
        let active = chrome.client.active_element().await.unwrap();
        if active.attr("id").await.unwrap().as_deref() == Some("offer-0") {
            active.send_keys(" ").await.unwrap();
            let old = chrome.client.find(Locator::Css("html")).await.unwrap();
            active.send_keys("\u{E007}").await.unwrap();
            for _ in 0..200 {
                if old.tag_name().await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            reached = true;
            break;
        }
    }
    assert!(reached, "the first time is reached by Tab");
    assert_eq!(
        chrome.check(&format!("{run}-confirm")).await,
        "Confirm your appointment – Your GP practice"
    );
    chrome.submit().await;
    assert_eq!(
        chrome.check(&format!("{run}-pending")).await,
        "We are booking your appointment – Your GP practice"
    );
    app.run_pending_work().await;
    chrome.click_link("Check again").await;
    assert_eq!(
        chrome.check(&format!("{run}-booked")).await,
        "Your appointment is booked – Your GP practice"
    );
    // The confirmation text carries the same link, which opens the booking.
    let confirmed = app.outbox().await.into_iter().any(|m| {
        let body = m["body"].as_str().unwrap();
        body.starts_with("Your appointment is booked") && token_in(body) == tokens[0]
    });
    assert!(confirmed, "a confirmation text with the link");
    chrome.goto(&format!("/l/{}/invite", tokens[0])).await;
    chrome.click_link("Cancel this appointment").await;
    assert_eq!(
        chrome.check(&format!("{run}-cancel")).await,
        "Are you sure you want to cancel your appointment? – Your GP practice"
    );
    chrome.submit().await;
    assert_eq!(
        chrome.check(&format!("{run}-cancelled")).await,
        "Your appointment has been cancelled – Your GP practice"
    );
}

async fn decline_and_taken(app: &TestApp, chrome: &Chrome<'_>, run: &str) {
    let tokens = app.linked_batch(2, flu()).await;
    chrome.check_in(&tokens[0], &format!("{run}-decline")).await;
    chrome.click_link("I don't want a flu jab").await;
    assert_eq!(
        chrome.check(&format!("{run}-decline")).await,
        "Are you sure you do not want this appointment? – Your GP practice"
    );
    chrome.submit().await;
    assert_eq!(
        chrome.check(&format!("{run}-declined")).await,
        "You have told us you do not want this appointment – Your GP practice"
    );
    // The second patient chooses a time someone else takes first.
    chrome.check_in(&tokens[1], &format!("{run}-taken")).await;
    chrome.click_link("Book an appointment").await;
    chrome.choose("label[for='offer-0']").await;
    chrome.submit().await;
    let offer = chrome
        .client
        .find(Locator::Css("input[name='offer']"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    let other = app.linked_batch(1, flu()).await;
    let session = app.link(&other[0]).session("1950-02-01").await;
    let (status, _) = app
        .link(&other[0])
        .call(
            reqwest::Method::POST,
            Some(&session),
            "/booking",
            Some(json!({ "offer_id": offer })),
        )
        .await;
    assert_eq!(status, 202);
    chrome.submit().await;
    assert_eq!(
        chrome.check(&format!("{run}-taken")).await,
        "Error: Choose a time – Your GP practice"
    );
    assert!(chrome
        .text()
        .await
        .contains("That time was just taken. Choose another time."));
    chrome.choose("label[for='offer-0']").await;
    chrome.submit().await;
    chrome.submit().await;
    assert_eq!(
        chrome.title().await,
        "We are booking your appointment – Your GP practice"
    );
}

async fn locked_withdrawn_and_attachment(app: &TestApp, chrome: &Chrome<'_>, run: &str) {
    let (batch, tokens) = app
        .linked_batch_of(
            2,
            json!({"name": "Smoking", "questionnaire": "smoking_status",
                                 "message": "Dear ((name)), please answer: ((link))"}),
        )
        .await;
    chrome.goto(&format!("/l/{}", tokens[0])).await;
    for _ in 0..5 {
        chrome.type_into("day", "2").await;
        chrome.type_into("month", "2").await;
        chrome.type_into("year", "1950").await;
        chrome.submit().await;
        if chrome
            .title()
            .await
            .starts_with("This link has been locked")
        {
            break;
        }
        chrome.check(&format!("{run}-wrong-date")).await;
    }
    assert_eq!(
        chrome.check(&format!("{run}-locked")).await,
        "This link has been locked – Your GP practice"
    );
    assert_eq!(app.revoke(&batch, json!({"all": true})).await.0, 200);
    chrome.goto(&format!("/l/{}", tokens[1])).await;
    assert_eq!(
        chrome.check(&format!("{run}-withdrawn")).await,
        "This link is no longer available – Your GP practice"
    );
    chrome.goto("/l/AAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(
        chrome.check(&format!("{run}-unknown")).await,
        "Page not found – Your GP practice"
    );

    // An attachment: its page, then the file with the browser's session.
    let response = app
        .request(
            reqwest::Method::POST,
            "/v1/attachments?file_name=leaflet.pdf",
        )
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.4\n%%EOF\n".to_vec())
        .send()
        .await
        .unwrap();
    let uploaded: Value = response.json().await.unwrap();
    let tokens = app
        .linked_batch(
            1,
            json!({"name": "Leaflet", "attachment_id": uploaded["attachment_id"],
                                 "message": "Dear ((name)), our leaflet: ((link))"}),
        )
        .await;
    assert_eq!(
        chrome
            .check_in(&tokens[0], &format!("{run}-attachment"))
            .await,
        "A document from your GP practice – Your GP practice"
    );
    chrome.check(&format!("{run}-attachment")).await;
    assert_eq!(download(app, chrome).await, b"%PDF-1.4\n%%EOF\n");
}

/// The patient's file, fetched with the browser's cookies from the link
/// "Download the document" on the page shown.
async fn download(app: &TestApp, chrome: &Chrome<'_>) -> Vec<u8> {
    let href = chrome
        .client
        .find(Locator::LinkText("Download the document"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let cookies = chrome.client.get_all_cookies().await.unwrap();
    let header: Vec<String> = cookies
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect();
    let file = reqwest::Client::new()
        .get(format!("{}{href}", app.address))
        .header("cookie", header.join("; "))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    file.bytes().await.unwrap().to_vec()
}

/// A conversation's message with an attachment and a reply allowed: the
/// document opened from the reply page, the reply's error, the reply sent,
/// and a second visit told it was replied to.
async fn open_then_reply_once(app: &TestApp, chrome: &Chrome<'_>, run: &str) {
    let team = app.team().await;
    let (status, attachment) = TestApp::reply(
        app.request(
            reqwest::Method::POST,
            "/v1/attachments?file_name=results.pdf",
        )
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.4\n%%EOF\n".to_vec()),
    )
    .await;
    assert_eq!(status, 201, "{attachment}");
    let (status, started) = app
        .start(&team, json!({"attachment_id": attachment["attachment_id"]}))
        .await;
    assert_eq!(status, 201, "{started}");
    app.run_pending_work().await;
    let sent = app.conversation_outbox().await;
    let token = crate::helpers::token_in(sent.last().unwrap()["body"].as_str().unwrap());
    assert_eq!(
        chrome.check_in(&token, &format!("{run}-reply")).await,
        "Reply to your GP practice – Your GP practice"
    );
    chrome.check(&format!("{run}-reply")).await;
    let text = chrome.text().await;
    assert!(
        text.contains("Your test results are back. Please book a review."),
        "{text}"
    );
    assert!(text.contains("results.pdf (PDF, 1 KB)"), "{text}");
    assert_eq!(download(app, chrome).await, b"%PDF-1.4\n%%EOF\n");
    chrome.submit().await;
    assert_eq!(
        chrome.check(&format!("{run}-reply-error")).await,
        "Error: Reply to your GP practice – Your GP practice"
    );
    assert!(chrome.text().await.contains("Enter your reply"));
    chrome
        .type_into("reply", "Thank you. I will call on Monday.")
        .await;
    chrome.submit().await;
    assert_eq!(
        chrome.check(&format!("{run}-reply-sent")).await,
        "Your reply has been sent – Your GP practice"
    );
    chrome.goto(&format!("/l/{token}/reply")).await;
    assert_eq!(
        chrome.check(&format!("{run}-reply-again")).await,
        "You have already replied to this message – Your GP practice"
    );
}

/// The subject access document an information governance lead sends Joe,
/// who has just replied: clean by axe, and readable at 320 pixels too.
async fn subject_access_document(app: &TestApp, chrome: &Chrome<'_>) {
    let response = app
        .request_as(
            "A12345:ida:auditor",
            reqwest::Method::POST,
            "/v1/audit/subject-access",
        )
        .json(&json!({"nhs_number": "9990000018"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<h2>Conversations (1)</h2>"), "{html}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("subject-access.html");
    std::fs::write(&path, html).unwrap();
    chrome
        .client
        .goto(&format!("file://{}", path.display()))
        .await
        .unwrap();
    assert_eq!(
        chrome.check("subject-access").await,
        "Subject access request: everything Batchbook holds about NHS number 9990000018"
    );
}

async fn every_flow(script: bool) {
    if !browser_available() {
        return;
    }
    let run = if script { "js" } else { "no-js" };
    let app = spawn_app().await;
    let chrome = Chrome::open(&app, script).await;
    questionnaire_with_an_error(&app, &chrome, run).await;
    book_then_cancel(&app, &chrome, run).await;
    decline_and_taken(&app, &chrome, run).await;
    locked_withdrawn_and_attachment(&app, &chrome, run).await;
    open_then_reply_once(&app, &chrome, run).await;
    if script {
        subject_access_document(&app, &chrome).await;
    }
    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_patient_flow_in_chromium_passes_axe_and_fits_320_pixels() {
    every_flow(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_patient_flow_in_chromium_works_with_javascript_off() {
    every_flow(false).await;
}
