//! What each page shows: the templates (`functions/templates/pages/`) and
//! the words put in them, all from the message catalogue.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use askama::Template;
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Europe::London;
use domain::aggregates::InviteStatus;
use domain::appointments::AppointmentChannel;
use domain::florey::AnswerKind;
use domain::selfbook::{DayWindow, Offer};
use domain::usecases::{
    AttachmentOffer, InviteView, LinkPage, LinkState, PracticeContact, QuestionnaireForm,
    ReplyForm, ReplyProblem,
};

use super::messages::{fill, Messages};
use super::{Visit, STYLESHEET};

/// A rendered page.
pub struct Shown(pub axum::response::Html<String>);

/// What the base template needs.
pub struct Layout {
    pub lang: &'static str,
    pub title: String,
    pub css: &'static str,
    pub back: Option<String>,
    /// The title says "Error:" first.
    pub error: bool,
    /// The error summary: each error's field id and words.
    pub errors: Vec<(String, String)>,
}

impl Layout {
    fn new(m: &Messages, title: &str) -> Self {
        Self {
            lang: m.lang,
            title: title.to_owned(),
            css: STYLESHEET,
            back: None,
            error: false,
            errors: Vec::new(),
        }
    }

    fn with_errors(mut self, errors: Vec<(String, String)>) -> Self {
        self.error = !errors.is_empty();
        self.errors = errors;
        self
    }
}

pub struct FormView {
    pub action: String,
    pub label: String,
    pub csrf: String,
    pub hidden: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "pages/info.html")]
struct Info<'a> {
    m: &'a Messages,
    layout: Layout,
    heading: String,
    lead: Vec<String>,
    rows: Vec<(String, String)>,
    after: Vec<String>,
    contact: Option<ContactView>,
    buttons: Vec<(String, String)>,
    form: Option<FormView>,
    links: Vec<(String, String)>,
}

pub struct ContactView {
    pub name: String,
    pub phone: Option<String>,
    pub website: Option<String>,
}

impl<'a> Info<'a> {
    fn new(m: &'a Messages, title: &str) -> Self {
        Self {
            m,
            layout: Layout::new(m, title),
            heading: title.to_owned(),
            lead: Vec::new(),
            rows: Vec::new(),
            after: Vec::new(),
            contact: None,
            buttons: Vec::new(),
            form: None,
            links: Vec::new(),
        }
    }

    fn lead(mut self, text: &str) -> Self {
        self.lead.push(text.to_owned());
        self
    }

    fn contact(mut self, contact: Option<&PracticeContact>) -> Self {
        self.contact = contact.map(|c| ContactView {
            name: c.name.clone(),
            phone: c
                .phone
                .as_deref()
                .map(|p| fill(&self.m.common.contact_phone, &[("phone", p)])),
            website: c.website.clone(),
        });
        self
    }

    fn form(mut self, visit: &Visit, action: &str, label: &str) -> Self {
        self.form = Some(FormView {
            action: visit.path(action),
            label: label.to_owned(),
            csrf: visit.csrf(),
            hidden: Vec::new(),
        });
        self
    }

    fn shown(self) -> Shown {
        render(&self)
    }
}

fn render(template: &impl Template) -> Shown {
    // The templates are checked when built; rendering into a String fails
    // only on a formatting error of our own types, which have none.
    Shown(axum::response::Html(template.render().unwrap_or_else(
        |e| format!("<!DOCTYPE html><title>Error</title><p>{e}</p>"),
    )))
}

/// The day, month and year as the patient typed them.
#[derive(Debug, Default, Clone)]
pub struct DateEntry {
    pub day: String,
    pub month: String,
    pub year: String,
}

/// What is wrong with a date of birth, and which of its fields.
pub struct DateError {
    pub text: String,
    /// Day, month, year: each marked when it is at fault.
    pub fields: (bool, bool, bool),
}

impl DateError {
    pub fn wrong(m: &Messages, attempts_left: u32) -> Self {
        let text = if attempts_left == 1 {
            m.check.wrong_last.clone()
        } else {
            fill(&m.check.wrong, &[("attempts", &attempts_left.to_string())])
        };
        Self {
            text,
            fields: (true, true, true),
        }
    }
}

impl DateEntry {
    pub fn from_form(form: &HashMap<String, String>) -> Self {
        let field = |name: &str| {
            form.get(name)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        Self {
            day: field("day"),
            month: field("month"),
            year: field("year"),
        }
    }

    /// The date, or what is wrong with it, as the NHS.UK date input
    /// pattern words each case.
    pub fn date(&self, m: &Messages, today: NaiveDate) -> Result<NaiveDate, DateError> {
        let error = |text: &str, fields| DateError {
            text: text.to_owned(),
            fields,
        };
        let (d, mo, y) = (&self.day, &self.month, &self.year);
        match (d.is_empty(), mo.is_empty(), y.is_empty()) {
            (true, true, true) => return Err(error(&m.check.missing, (true, true, true))),
            (true, _, _) => return Err(error(&m.check.missing_day, (true, false, false))),
            (_, true, _) => return Err(error(&m.check.missing_month, (false, true, false))),
            (_, _, true) => return Err(error(&m.check.missing_year, (false, false, true))),
            _ => {}
        }
        if y.len() != 4 || !y.chars().all(|c| c.is_ascii_digit()) {
            return Err(error(&m.check.year_digits, (false, false, true)));
        }
        let number = |v: &str| v.parse::<u32>().ok();
        let date = match (number(d), number(mo), number(y)) {
            (Some(d), Some(mo), Some(y)) => NaiveDate::from_ymd_opt(y as i32, mo, d),
            _ => None,
        };
        let Some(date) = date else {
            return Err(error(&m.check.not_real, (true, true, true)));
        };
        if date > today {
            return Err(error(&m.check.future, (true, true, true)));
        }
        Ok(date)
    }
}

#[derive(Template)]
#[template(path = "pages/check.html")]
struct Check<'a> {
    m: &'a Messages,
    layout: Layout,
    action: String,
    csrf: String,
    error: Option<String>,
    bad: (bool, bool, bool),
    day: String,
    month: String,
    year: String,
}

#[derive(Template)]
#[template(path = "pages/reply.html")]
struct ReplyPage<'a> {
    m: &'a Messages,
    layout: Layout,
    /// The message replied to, a line at a time.
    message: Vec<String>,
    hint: String,
    until: String,
    action: String,
    csrf: String,
    given: String,
    error: Option<String>,
    /// The attachment's download link and its words, when there is one.
    attachment: Option<(String, String)>,
}

/// "Name (PDF, 12 KB)": what an attachment is, in the patient's words.
fn attachment_words(m: &Messages, offer: &AttachmentOffer) -> String {
    let kind = match offer.content_type.as_str() {
        "application/pdf" => &m.attachment.pdf,
        "image/png" => &m.attachment.png,
        _ => &m.attachment.jpeg,
    };
    let size = if offer.size >= 1024 * 1024 {
        let size = format!("{:.1}", offer.size as f64 / (1024.0 * 1024.0));
        fill(&m.attachment.mb, &[("size", &size)])
    } else {
        let size = offer.size.div_ceil(1024).to_string();
        fill(&m.attachment.kb, &[("size", &size)])
    };
    fill(
        &m.attachment.file,
        &[("name", &offer.file_name), ("kind", kind), ("size", &size)],
    )
}

/// One question as the page asks it.
pub struct QuestionView {
    pub field: String,
    pub text: String,
    pub required: bool,
    pub hint: Option<String>,
    /// Each answer offered: its code and its words.
    pub options: Vec<(String, String)>,
    pub value: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/questionnaire.html")]
struct QuestionnairePage<'a> {
    m: &'a Messages,
    layout: Layout,
    title: String,
    action: String,
    csrf: String,
    questions: Vec<QuestionView>,
}

pub struct OfferView {
    pub n: usize,
    /// The offer's id, shared with it.
    pub id: std::sync::Arc<str>,
    pub label: String,
}

pub struct DayView {
    pub heading: String,
    pub offers: Vec<OfferView>,
}

/// A link to another page of times: where it goes and its words.
pub struct MoreTimes {
    pub href: String,
    pub words: String,
}

/// The most times a page of the slots shows: whole days, so a day is
/// never split, and always at least one day however many it holds.
pub const TIMES_PER_PAGE: usize = 60;

/// The offers (sorted by start) as pages of whole days of at most
/// [`TIMES_PER_PAGE`] times (a day with more is a page alone): each page's
/// first day and the range of `offers` it shows.
pub fn slot_pages(offers: &[Offer]) -> Vec<(NaiveDate, std::ops::Range<usize>)> {
    let day_of = |o: &Offer| o.start.with_timezone(&London).date_naive();
    let mut pages: Vec<(NaiveDate, std::ops::Range<usize>)> = Vec::new();
    let mut at = 0;
    while at < offers.len() {
        // One day's offers: from `at` to the first offer of another day.
        let day = day_of(&offers[at]);
        let end = offers[at..]
            .iter()
            .position(|o| day_of(o) != day)
            .map_or(offers.len(), |n| at + n);
        match pages.last_mut() {
            Some((_, range)) if end - range.start <= TIMES_PER_PAGE && range.end == at => {
                range.end = end;
            }
            _ => pages.push((day, at..end)),
        }
        at = end;
    }
    pages
}

#[derive(Template)]
#[template(path = "pages/slots.html")]
struct Slots<'a> {
    m: &'a Messages,
    layout: Layout,
    action: String,
    csrf: String,
    error: Option<String>,
    days: Vec<DayView>,
    /// The page's first day, when it is not the first page: sent back with
    /// the form, so that an error shows this same page again.
    from: Option<NaiveDate>,
    earlier: Option<MoreTimes>,
    later: Option<MoreTimes>,
}

/// A question's form field: `q-` and its id.
fn field(id: &str) -> String {
    format!("q-{id}")
}

/// The answers a questionnaire form gives, by question id; blanks are
/// left out, as unanswered.
pub fn answers_from(form: &HashMap<String, String>) -> BTreeMap<String, String> {
    form.iter()
        .filter_map(|(name, value)| {
            let id = name.strip_prefix("q-")?;
            let value = value.trim();
            (!value.is_empty()).then(|| (id.to_owned(), value.to_owned()))
        })
        .collect()
}

/// "9am", "9:05am", in practice time and the catalogue's words.
fn time(m: &Messages, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&London);
    let ampm = if local.hour() < 12 {
        &m.dates.am
    } else {
        &m.dates.pm
    };
    let hour = match local.hour() % 12 {
        0 => 12,
        h => h,
    }
    .to_string();
    let minute = format!("{:02}", local.minute());
    let words = if local.minute() == 0 {
        &m.dates.hour
    } else {
        &m.dates.minutes
    };
    fill(
        words,
        &[("hour", &hour), ("minute", &minute), ("ampm", ampm)],
    )
}

fn date_parts(m: &Messages, at: DateTime<Utc>) -> [(&'static str, Cow<'_, str>); 4] {
    let local = at.with_timezone(&London);
    [
        (
            "weekday",
            Cow::Borrowed(&m.dates.weekdays[local.weekday().num_days_from_monday() as usize]),
        ),
        ("day", Cow::Owned(local.day().to_string())),
        (
            "month",
            Cow::Borrowed(&m.dates.months[local.month0() as usize]),
        ),
        ("year", Cow::Owned(local.year().to_string())),
    ]
}

fn fill_parts(words: &str, parts: &[(&'static str, Cow<'_, str>)]) -> String {
    let values: Vec<(&str, &str)> = parts.iter().map(|(k, v)| (*k, v.as_ref())).collect();
    fill(words, &values)
}

/// "Monday 7 December", heading a day's times.
fn day_heading(m: &Messages, at: DateTime<Utc>) -> String {
    fill_parts(&m.dates.day, &date_parts(m, at))
}

/// "Monday 7 December 2026".
fn whole_date(m: &Messages, at: DateTime<Utc>) -> String {
    fill_parts(&m.dates.date, &date_parts(m, at))
}

/// "Monday 7 December 2026 at 9:05am".
fn long_date(m: &Messages, at: DateTime<Utc>) -> String {
    fill(
        &m.dates.at,
        &[("date", &whole_date(m, at)), ("time", &time(m, at))],
    )
}

/// When an appointment or an offer is: at a time, or within a part of the
/// day (`window`), from `start` to `end`.
fn when(m: &Messages, start: DateTime<Utc>, end: DateTime<Utc>, window: bool) -> String {
    if window {
        fill(
            &m.dates.between,
            &[
                ("date", &whole_date(m, start)),
                ("from", &time(m, start)),
                ("to", &time(m, end)),
            ],
        )
    } else {
        long_date(m, start)
    }
}

fn channel(m: &Messages, channel: AppointmentChannel) -> String {
    match channel {
        AppointmentChannel::InPerson => m.invite.in_person.clone(),
        AppointmentChannel::Telephone => m.invite.telephone.clone(),
        AppointmentChannel::Video => m.invite.video.clone(),
    }
}

fn offer_label(m: &Messages, offer: &Offer) -> String {
    match offer.window {
        Some(DayWindow::Morning) => m.invite.morning.clone(),
        Some(DayWindow::Afternoon) => m.invite.afternoon.clone(),
        None => time(m, offer.start),
    }
}

/// The pages, each from its parts.
pub struct Page;

impl Page {
    pub fn check(m: &Messages, visit: &Visit, entry: DateEntry, error: Option<DateError>) -> Shown {
        let errors = error
            .as_ref()
            .map(|e| {
                let target = if e.fields.0 {
                    "date-of-birth-day"
                } else if e.fields.1 {
                    "date-of-birth-month"
                } else {
                    "date-of-birth-year"
                };
                vec![(target.to_owned(), e.text.clone())]
            })
            .unwrap_or_default();
        render(&Check {
            m,
            layout: Layout::new(m, &m.check.title).with_errors(errors),
            action: visit.base(),
            csrf: visit.csrf(),
            bad: error.as_ref().map_or((false, false, false), |e| e.fields),
            error: error.map(|e| e.text),
            day: entry.day,
            month: entry.month,
            year: entry.year,
        })
    }

    pub fn state(m: &Messages, page: &LinkPage) -> Shown {
        let (title, text) = match page.state {
            LinkState::Open => (&m.check.title, &m.check.intro),
            LinkState::Expired => (&m.states.expired_title, &m.states.expired),
            LinkState::Withdrawn => (&m.states.withdrawn_title, &m.states.withdrawn),
            LinkState::Locked => (&m.states.locked_title, &m.states.locked),
        };
        Info::new(m, title)
            .lead(text)
            .lead(&m.states.contact_us)
            .contact(page.contact.as_ref())
            .shown()
    }

    pub fn unknown(m: &Messages) -> Shown {
        Info::new(m, &m.states.unknown_title)
            .lead(&m.states.unknown)
            .shown()
    }

    pub fn busy(m: &Messages) -> Shown {
        Info::new(m, &m.common.busy_title)
            .lead(&m.common.busy)
            .shown()
    }

    pub fn form_expired(m: &Messages, visit: &Visit) -> Shown {
        let mut page = Info::new(m, &m.common.form_expired_title).lead(&m.common.form_expired);
        page.buttons
            .push((visit.base(), m.common.start_again.clone()));
        page.shown()
    }

    /// A form holding a field its page does not have, or one twice.
    pub fn bad_field(m: &Messages, visit: &Visit, name: &str, twice: bool) -> Shown {
        let words = if twice {
            &m.common.field_twice
        } else {
            &m.common.unknown_field
        };
        Self::nothing_done(m, visit, &fill(words, &[("field", name)]))
    }

    /// "This page has expired": what was wrong (`why`), and that nothing
    /// was done, with the way back to the start of the link.
    fn nothing_done(m: &Messages, visit: &Visit, why: &str) -> Shown {
        let mut page = Info::new(m, &m.common.form_expired_title)
            .lead(why)
            .lead(&m.common.form_expired);
        page.buttons
            .push((visit.base(), m.common.start_again.clone()));
        page.shown()
    }

    pub fn questionnaire(
        m: &Messages,
        visit: &Visit,
        form: &QuestionnaireForm,
        given: &HashMap<String, String>,
        wrong: &[String],
    ) -> Shown {
        let questions: Vec<QuestionView> = form
            .questions
            .iter()
            .map(|q| {
                let name = field(q.id);
                let (hint, options, error_text) = match &q.answer {
                    AnswerKind::Number {
                        min,
                        max,
                        decimals,
                        unit,
                    } => {
                        let words = if *decimals == 0 {
                            &m.questionnaire.number_whole
                        } else {
                            &m.questionnaire.number
                        };
                        let mut hint = fill(
                            words,
                            &[("min", &min.to_string()), ("max", &max.to_string())],
                        );
                        if !unit.is_empty() {
                            hint.push(' ');
                            hint.push_str(&fill(&m.questionnaire.unit, &[("unit", unit)]));
                        }
                        (Some(hint.clone()), Vec::new(), hint)
                    }
                    AnswerKind::Choice { options } => (
                        None,
                        options
                            .iter()
                            .map(|o| ((*o).to_owned(), Messages::word(&m.options, o).to_owned()))
                            .collect(),
                        m.questionnaire.choose.clone(),
                    ),
                };
                let missing = q.required && given.get(&name).is_none_or(|v| v.trim().is_empty());
                let error = wrong.iter().any(|w| w == q.id).then(|| {
                    if missing && !given.is_empty() {
                        m.questionnaire.required.clone()
                    } else {
                        error_text
                    }
                });
                QuestionView {
                    value: given.get(&name).cloned().unwrap_or_default(),
                    field: name,
                    text: Messages::word(&m.questions, q.id).to_owned(),
                    required: q.required,
                    hint,
                    options,
                    error,
                }
            })
            .collect();
        let errors = questions
            .iter()
            .filter_map(|q| {
                let target = if q.options.is_empty() {
                    q.field.clone()
                } else {
                    format!("{}-0", q.field)
                };
                q.error
                    .clone()
                    .map(|e| (target, format!("{}: {e}", q.text)))
            })
            .collect();
        let code = serde_json::to_value(form.questionnaire)
            .ok()
            .and_then(|c| c.as_str().map(str::to_owned))
            .unwrap_or_default();
        let title = Messages::word(&m.titles, &code).to_owned();
        render(&QuestionnairePage {
            m,
            layout: Layout::new(m, &title).with_errors(errors),
            title,
            action: visit.path("/questionnaire"),
            csrf: visit.csrf(),
            questions,
        })
    }

    /// The reply form: the message replied to, and the box to reply in,
    /// with what is wrong with a reply sent (`problem`) beside it.
    pub fn reply(
        m: &Messages,
        visit: &Visit,
        form: &ReplyForm,
        given: &str,
        problem: Option<&ReplyProblem>,
    ) -> Shown {
        let error = problem.map(|p| match p {
            ReplyProblem::Empty => m.reply.empty.clone(),
            ReplyProblem::TooLong { max, given } => fill(
                &m.reply.too_long,
                &[("max", &max.to_string()), ("given", &given.to_string())],
            ),
        });
        let errors = error
            .iter()
            .map(|text| ("reply".to_owned(), text.clone()))
            .collect();
        render(&ReplyPage {
            m,
            layout: Layout::new(m, &m.reply.title).with_errors(errors),
            message: form
                .message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            hint: fill(&m.reply.hint, &[("max", &form.max_chars.to_string())]),
            until: fill(&m.reply.until, &[("date", &long_date(m, form.reply_until))]),
            action: visit.path("/reply"),
            csrf: visit.csrf(),
            given: given.to_owned(),
            error,
            attachment: form
                .attachment
                .as_ref()
                .map(|offer| (visit.path("/attachment/file"), attachment_words(m, offer))),
        })
    }

    pub fn reply_sent(m: &Messages) -> Shown {
        Info::new(m, &m.reply.sent_title)
            .lead(&m.reply.sent)
            .shown()
    }

    /// A message replied to already: a second reply is not taken.
    pub fn already_replied(m: &Messages) -> Shown {
        Info::new(m, &m.reply.already_title)
            .lead(&m.reply.already)
            .shown()
    }

    pub fn answered(m: &Messages) -> Shown {
        Info::new(m, &m.questionnaire.answered_title)
            .lead(&m.questionnaire.answered)
            .shown()
    }

    pub fn attachment(m: &Messages, visit: &Visit, offer: &AttachmentOffer) -> Shown {
        let mut page = Info::new(m, &m.attachment.title)
            .lead(&m.attachment.intro)
            .lead(&attachment_words(m, offer));
        page.buttons.push((
            visit.path("/attachment/file"),
            m.attachment.download.clone(),
        ));
        page.after.push(fill(
            &m.attachment.expires,
            &[("date", &long_date(m, offer.expires_at))],
        ));
        page.shown()
    }

    /// The invite as it stands. A pending booking offers "Check again", not
    /// a timed refresh: a page that reloads by itself fails WCAG 2.2.1.
    pub fn invite(m: &Messages, visit: &Visit, view: &InviteView) -> Shown {
        let appointment_rows = |page: &mut Info| {
            if let Some(a) = &view.appointment {
                page.rows.push((
                    m.invite.when.clone(),
                    when(m, a.start, a.end, a.window.is_some()),
                ));
                page.rows
                    .push((m.invite.how.clone(), channel(m, a.appointment_type)));
                page.rows
                    .push((m.invite.where_.clone(), a.location.clone()));
                if !a.clinician.is_empty() {
                    page.rows.push((m.invite.with.clone(), a.clinician.clone()));
                }
            }
        };
        let page = match view.status {
            InviteStatus::Open => {
                let mut page = Info::new(m, &m.invite.title);
                page.buttons
                    .push((visit.path("/slots"), m.invite.book.clone()));
                if let Some(words) = &view.decline {
                    page.links.push((visit.path("/decline"), words.clone()));
                }
                page
            }
            InviteStatus::Pending => {
                let mut page = Info::new(m, &m.invite.pending_title).lead(&m.invite.pending);
                appointment_rows(&mut page);
                page.buttons
                    .push((visit.path("/invite"), m.invite.check_again.clone()));
                page
            }
            InviteStatus::Booked => {
                let mut page = Info::new(m, &m.invite.booked_title).lead(&m.invite.booked);
                appointment_rows(&mut page);
                if let Some(until) = view.appointment.as_ref().and_then(|a| a.cancellable_until) {
                    page.after.push(fill(
                        &m.invite.cancellable_until,
                        &[("date", &long_date(m, until))],
                    ));
                    page.links
                        .push((visit.path("/cancel"), m.invite.cancel.clone()));
                }
                page
            }
            InviteStatus::Failed => {
                let mut page = Info::new(m, &m.invite.failed_title).lead(&m.invite.failed);
                page.buttons
                    .push((visit.path("/slots"), m.invite.choose_another.clone()));
                if let Some(words) = &view.decline {
                    page.links.push((visit.path("/decline"), words.clone()));
                }
                page
            }
            InviteStatus::Declined => {
                Info::new(m, &m.invite.declined_title).lead(&m.invite.declined)
            }
            InviteStatus::Cancelled => {
                Info::new(m, &m.invite.cancelled_title).lead(&m.invite.cancelled)
            }
            InviteStatus::TimedOut => {
                Info::new(m, &m.invite.timed_out_title).lead(&m.invite.timed_out)
            }
        };
        page.shown()
    }

    pub fn no_times(m: &Messages, visit: &Visit) -> Shown {
        let mut page = Info::new(m, &m.invite.no_times_title)
            .lead(&m.invite.no_times)
            .lead(&m.states.contact_us);
        page.layout.back = Some(visit.path("/invite"));
        page.shown()
    }

    /// The page of times that holds `from` (the first page when `from` is
    /// none or before every time; the last when it is after them all).
    pub fn slots(
        m: &Messages,
        visit: &Visit,
        offers: &[Offer],
        error: Option<&str>,
        from: Option<NaiveDate>,
    ) -> Shown {
        let pages = slot_pages(offers);
        let shown = from
            .and_then(|from| pages.iter().rposition(|(first, _)| *first <= from))
            .unwrap_or(0);
        let range = pages.get(shown).map_or(0..0, |(_, r)| r.clone());
        let mut days: Vec<DayView> = Vec::new();
        let mut today = None;
        for (n, offer) in offers[range].iter().enumerate() {
            let shown = OfferView {
                n,
                id: offer.offer_id.clone(),
                label: offer_label(m, offer),
            };
            // A heading for each day, worded once.
            let day = offer.start.with_timezone(&London).date_naive();
            match days.last_mut() {
                Some(last) if today == Some(day) => last.offers.push(shown),
                _ => {
                    today = Some(day);
                    days.push(DayView {
                        heading: day_heading(m, offer.start),
                        offers: vec![shown],
                    });
                }
            }
        }
        let link = |page: Option<&(NaiveDate, std::ops::Range<usize>)>, words: &str| {
            page.map(|(first, range)| MoreTimes {
                href: format!("{}?from={first}", visit.path("/slots")),
                words: fill(
                    words,
                    &[("date", &day_heading(m, offers[range.start].start))],
                ),
            })
        };
        let earlier = link(
            shown.checked_sub(1).and_then(|p| pages.get(p)),
            &m.invite.earlier_times,
        );
        let later = link(pages.get(shown + 1), &m.invite.later_times);
        let errors = error
            .map(|e| vec![("offer-0".to_owned(), e.to_owned())])
            .unwrap_or_default();
        let mut layout = Layout::new(m, &m.invite.choose_title).with_errors(errors);
        layout.back = Some(visit.path("/invite"));
        render(&Slots {
            m,
            layout,
            action: visit.path("/slots"),
            csrf: visit.csrf(),
            error: error.map(str::to_owned),
            days,
            from: (shown > 0).then(|| pages[shown].0),
            earlier,
            later,
        })
    }

    /// A page address with a part that cannot be read, or one the page does
    /// not take: it is named, and nothing was done.
    pub fn bad_query(m: &Messages, visit: &Visit, name: &str, known: bool) -> Shown {
        let words = if known {
            &m.common.unreadable_query
        } else {
            &m.common.unknown_query
        };
        Self::nothing_done(m, visit, &fill(words, &[("field", name)]))
    }

    pub fn confirm(m: &Messages, visit: &Visit, offer: &Offer) -> Shown {
        let when = when(m, offer.start, offer.end, offer.window.is_some());
        let mut page =
            Info::new(m, &m.invite.confirm_title).form(visit, "/confirm", &m.invite.confirm);
        page.rows.push((m.invite.when.clone(), when));
        page.rows
            .push((m.invite.how.clone(), channel(m, offer.appointment_type)));
        page.rows
            .push((m.invite.where_.clone(), offer.location.to_string()));
        page.rows.push((
            m.invite.with.clone(),
            offer
                .clinician
                .as_deref()
                .map_or_else(|| m.invite.anyone.clone(), str::to_owned),
        ));
        if let Some(form) = page.form.as_mut() {
            form.hidden
                .push(("offer".into(), offer.offer_id.to_string()));
        }
        page.links
            .push((visit.path("/slots"), m.invite.change.clone()));
        page.layout.back = Some(visit.path("/slots"));
        page.shown()
    }

    pub fn decline(m: &Messages, visit: &Visit, words: &str) -> Shown {
        let mut page = Info::new(m, &m.invite.decline_title).lead(words).form(
            visit,
            "/decline",
            &m.invite.decline_confirm,
        );
        page.layout.back = Some(visit.path("/invite"));
        page.shown()
    }

    pub fn cancel(m: &Messages, visit: &Visit, view: &InviteView) -> Shown {
        let mut page =
            Info::new(m, &m.invite.cancel_title).form(visit, "/cancel", &m.invite.cancel_confirm);
        if let Some(a) = &view.appointment {
            page.rows.push((
                m.invite.when.clone(),
                when(m, a.start, a.end, a.window.is_some()),
            ));
            page.rows
                .push((m.invite.where_.clone(), a.location.clone()));
        }
        page.layout.back = Some(visit.path("/invite"));
        page.shown()
    }

    pub fn too_late(m: &Messages, visit: &Visit) -> Shown {
        let mut page = Info::new(m, &m.invite.too_late_title).lead(&m.invite.too_late);
        page.layout.back = Some(visit.path("/invite"));
        page.shown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// `count` offers on day `day` of December 2026, a minute apart from
    /// 9am London time (GMT in December).
    fn offers_on(day: u32, count: usize) -> Vec<Offer> {
        (0..count)
            .map(|n| {
                let start = Utc.with_ymd_and_hms(2026, 12, day, 9, 0, 0).unwrap()
                    + chrono::Duration::minutes(n as i64);
                Offer {
                    offer_id: format!("{day}-{n}").into(),
                    start,
                    end: start + chrono::Duration::minutes(1),
                    window: None,
                    appointment_type: AppointmentChannel::InPerson,
                    clinician: None,
                    location: "Riverside".into(),
                }
            })
            .collect()
    }

    #[test]
    fn pages_of_times_are_whole_days_of_at_most_sixty_and_a_longer_day_stands_alone() {
        let offers: Vec<Offer> = [(1, 30), (2, 30), (3, 61), (4, 1), (5, 59), (7, 1)]
            .into_iter()
            .flat_map(|(day, count)| offers_on(day, count))
            .collect();
        let date = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        assert_eq!(
            slot_pages(&offers),
            vec![
                (date(1), 0..60),
                (date(3), 60..121),
                (date(4), 121..181),
                (date(7), 181..182),
            ]
        );
        assert_eq!(slot_pages(&[]), vec![]);
    }
}
