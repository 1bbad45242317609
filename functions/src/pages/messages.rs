//! The message catalogues: every word a patient reads, from
//! `functions/pages/messages/<lang>.toml`, one file per language, found and
//! built in by `functions/build.rs` (adding a translation is adding its
//! file). Each key is a field here, so a page cannot name a key that does not
//! exist, and a catalogue missing a key or holding an unknown one is refused
//! when it is read (a test reads every one).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

macro_rules! section {
    ($name:ident { $($field:ident),* $(,)? }) => {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(pub $field: String,)*
        }
    };
}

section!(Common {
    language,
    service,
    skip,
    back,
    continue_,
    error_prefix,
    error_summary,
    footer,
    contact_heading,
    contact_phone,
    contact_website,
    busy_title,
    busy,
    form_expired_title,
    form_expired,
    unknown_field,
    field_twice,
    unknown_query,
    unreadable_query,
    start_again,
});
section!(Check {
    title,
    hint,
    intro,
    day,
    month,
    year,
    missing,
    missing_day,
    missing_month,
    missing_year,
    year_digits,
    not_real,
    future,
    wrong,
    wrong_last,
});
section!(States {
    expired_title,
    expired,
    withdrawn_title,
    withdrawn,
    locked_title,
    locked,
    unknown_title,
    unknown,
    contact_us,
});
section!(Questionnaire {
    submit,
    optional,
    required,
    choose,
    number,
    number_whole,
    unit,
    answered_title,
    answered,
});
section!(Reply {
    title,
    intro,
    label,
    hint,
    submit,
    until,
    empty,
    too_long,
    sent_title,
    sent,
    already_title,
    already,
});
section!(Attachment {
    title,
    intro,
    file,
    download,
    expires,
    pdf,
    png,
    jpeg,
    kb,
    mb,
});
section!(Invite {
    title,
    intro,
    book,
    decline,
    choose_title,
    choose_error,
    pages_label,
    previous,
    next,
    earlier_times,
    later_times,
    no_times_title,
    no_times,
    taken,
    not_offered,
    confirm_title,
    confirm,
    change,
    pending_title,
    pending,
    check_again,
    booked_title,
    booked,
    when,
    where_,
    with,
    how,
    cancel,
    cancellable_until,
    failed_title,
    failed,
    choose_another,
    declined_title,
    declined,
    decline_title,
    decline_confirm,
    cancel_title,
    cancel_confirm,
    cancelled_title,
    cancelled,
    too_late_title,
    too_late,
    timed_out_title,
    timed_out,
    in_person,
    telephone,
    video,
    morning,
    afternoon,
    anyone,
});

/// How dates and times are worded, in practice time.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dates {
    /// Monday first.
    pub weekdays: [String; 7],
    /// January first.
    pub months: [String; 12],
    /// After a time before noon, and after one from noon.
    pub am: String,
    pub pm: String,
    /// A time on the hour, and one past it: `{hour}`, `{minute}`, `{ampm}`.
    pub hour: String,
    pub minutes: String,
    /// A day heading: `{weekday}`, `{day}`, `{month}`.
    pub day: String,
    /// A whole date: `{weekday}`, `{day}`, `{month}`, `{year}`.
    pub date: String,
    /// A date and a time: `{date}`, `{time}`.
    pub at: String,
    /// A date and a part of the day: `{date}`, `{from}`, `{to}`.
    pub between: String,
}

/// One language's catalogue.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Messages {
    /// The page's `lang`.
    #[serde(skip, default = "english")]
    pub lang: &'static str,
    pub common: Common,
    pub check: Check,
    pub states: States,
    pub questionnaire: Questionnaire,
    pub attachment: Attachment,
    pub reply: Reply,
    pub invite: Invite,
    pub dates: Dates,
    /// Questionnaires' titles, by code; questions, by id; answers offered,
    /// by code. A test holds these to every questionnaire Batchbook sends.
    pub titles: BTreeMap<String, String>,
    pub questions: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

impl Messages {
    /// Words for a code from one of the maps; the code itself only if the
    /// catalogue lacks it, which `every_questionnaire_word_is_in_the_catalogue`
    /// rules out.
    pub fn word<'a>(map: &'a BTreeMap<String, String>, code: &'a str) -> &'a str {
        map.get(code).map_or(code, String::as_str)
    }
}

fn english() -> &'static str {
    "en"
}

/// TOML keys are the field names, except where a Rust keyword is in the
/// way (`continue`, `where`): the file says them plainly.
fn read(text: &str) -> Result<Messages, toml::de::Error> {
    let text = text
        .replace("\ncontinue = ", "\ncontinue_ = ")
        .replace("\nwhere = ", "\nwhere_ = ");
    toml::from_str(&text)
}

include!(concat!(env!("OUT_DIR"), "/catalogues.rs"));

/// The catalogues of the languages the pages speak, English first.
pub struct Catalogues(Vec<Messages>);

impl Catalogues {
    /// Reads each `(language, text)`; the first refused names its file.
    pub fn read(files: &[(&'static str, &str)]) -> Result<Self, String> {
        let mut all = files
            .iter()
            .map(|(lang, text)| {
                read(text)
                    .map(|m| Messages { lang, ..m })
                    .map_err(|e| format!("functions/pages/messages/{lang}.toml: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        all.sort_by_key(|m| m.lang != "en");
        match all.first() {
            Some(m) if m.lang == "en" => Ok(Self(all)),
            _ => Err("functions/pages/messages/en.toml is missing".to_owned()),
        }
    }

    /// The catalogue for a visit: the first language of the patient's
    /// browser (`Accept-Language`, by weight) that the pages speak, matched
    /// whole (`cy-GB`) or by its first part (`cy`); English otherwise.
    pub fn choose(&self, accept_language: Option<&str>) -> &Messages {
        let speaks = |tag: &str| {
            let primary = tag.split('-').next().unwrap_or_default();
            self.0
                .iter()
                .find(|m| m.lang.eq_ignore_ascii_case(tag) || m.lang.eq_ignore_ascii_case(primary))
        };
        let mut wanted: Vec<(f32, &str)> = accept_language
            .unwrap_or_default()
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let tag = pieces.next()?.trim();
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
                (!tag.is_empty() && q > 0.0).then_some((q, tag))
            })
            .collect();
        // Highest weight first; equal weights keep the browser's order.
        wanted.sort_by(|a, b| b.0.total_cmp(&a.0));
        wanted
            .iter()
            .find_map(|(_, tag)| speaks(tag))
            .unwrap_or(&self.0[0])
    }
}

/// Every catalogue in `functions/pages/messages`, read once.
pub fn catalogues() -> &'static Catalogues {
    static ALL: LazyLock<Catalogues> = LazyLock::new(|| {
        Catalogues::read(CATALOGUES).unwrap_or_else(|e| panic!("a catalogue is refused: {e}"))
    });
    &ALL
}

/// `text` with each `{name}` replaced by its value, in one pass and one
/// allocation (a slots page fills a few hundred); a `{…}` naming no value
/// is kept as it is.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut filled =
        String::with_capacity(text.len() + values.iter().map(|v| v.1.len()).sum::<usize>());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        filled.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let named = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, value)| (*value, close))
        });
        match named {
            Some((value, close)) => {
                filled.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                filled.push('{');
                rest = after;
            }
        }
    }
    filled.push_str(rest);
    filled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_puts_each_value_in_place_and_keeps_braces_naming_none() {
        let values = [("hour", "9"), ("minute", "05"), ("ampm", "am")];
        assert_eq!(fill("{hour}:{minute}{ampm}", &values), "9:05am");
        assert_eq!(fill("at {hour} {hour}", &values), "at 9 9");
        assert_eq!(fill("{other} {hour} {", &values), "{other} 9 {");
        // A value holding a brace is not filled again.
        assert_eq!(fill("{a}{b}", &[("a", "{b}"), ("b", "x")]), "{b}x");
        assert_eq!(fill("no names", &values), "no names");
    }

    #[test]
    fn the_english_catalogue_is_whole() {
        let m = catalogues().choose(None);
        assert_eq!(m.check.title, "Confirm your date of birth");
        assert_eq!(m.common.continue_, "Continue");
        assert_eq!(m.invite.where_, "Where");
    }

    #[test]
    fn a_catalogue_missing_a_key_or_with_an_unknown_one_is_refused() {
        let whole = include_str!("../../pages/messages/en.toml");
        let missing = whole.replace("\nday = \"Day\"", "");
        assert!(read(&missing)
            .unwrap_err()
            .to_string()
            .contains("missing field `day`"));
        let typo = whole.replace("\nday = \"Day\"", "\ndya = \"Day\"");
        assert!(read(&typo)
            .unwrap_err()
            .to_string()
            .contains("unknown field `dya`"));
    }

    #[test]
    fn every_questionnaire_word_is_in_the_catalogue() {
        use domain::florey::{questions, AnswerKind};
        use events::Questionnaire;
        let m = catalogues().choose(None);
        for questionnaire in [
            Questionnaire::BloodPressure4Day,
            Questionnaire::BloodPressure7Day,
            Questionnaire::SmokingStatus,
            Questionnaire::HeightAndWeight,
        ] {
            let code = serde_json::to_value(questionnaire).unwrap();
            assert!(m.titles.contains_key(code.as_str().unwrap()), "{code}");
            for question in questions(questionnaire) {
                assert!(m.questions.contains_key(question.id), "{}", question.id);
                if let AnswerKind::Choice { options } = question.answer {
                    for option in options {
                        assert!(m.options.contains_key(*option), "{option}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_catalogue_in_the_folder_is_whole() {
        let all = Catalogues::read(CATALOGUES).unwrap();
        assert_eq!(all.0[0].lang, "en");
        assert_eq!(all.0.len(), CATALOGUES.len());
    }

    /// English and a stand-in second language, told apart by their names.
    fn two_languages() -> Catalogues {
        let english = include_str!("../../pages/messages/en.toml");
        let other = english.replace("language = \"English\"", "language = \"Cymraeg\"");
        Catalogues::read(&[("cy", &other), ("en", english)]).unwrap()
    }

    #[test]
    fn the_browser_s_languages_choose_the_catalogue_by_weight() {
        let all = two_languages();
        let chosen = |accept: Option<&str>| all.choose(accept).common.language.as_str();
        assert_eq!(chosen(None), "English");
        assert_eq!(chosen(Some("cy")), "Cymraeg");
        assert_eq!(chosen(Some("cy-GB,cy;q=0.9,en;q=0.8")), "Cymraeg");
        assert_eq!(chosen(Some("en-GB,en;q=0.9,cy;q=0.8")), "English");
        assert_eq!(chosen(Some("fr-FR, cy;q=0.5")), "Cymraeg");
        assert_eq!(chosen(Some("en;q=0.4, CY;q=0.6")), "Cymraeg");
        // Refused (q=0), unknown, or unreadable: English.
        assert_eq!(chosen(Some("cy;q=0")), "English");
        assert_eq!(chosen(Some("fr, de")), "English");
        assert_eq!(chosen(Some("cy;q=high")), "English");
        assert_eq!(chosen(Some(",,;")), "English");
        assert_eq!(all.choose(Some("cy")).lang, "cy");
    }

    #[test]
    fn catalogues_without_english_or_with_a_broken_one_are_refused_by_file() {
        let english = include_str!("../../pages/messages/en.toml");
        assert_eq!(
            Catalogues::read(&[("cy", english)]).err().unwrap(),
            "functions/pages/messages/en.toml is missing"
        );
        let broken = english.replace("\nday = \"Day\"", "");
        let refused = Catalogues::read(&[("en", english), ("cy", &broken)])
            .err()
            .unwrap();
        assert!(
            refused.starts_with("functions/pages/messages/cy.toml: ")
                && refused.contains("missing field `day`"),
            "{refused}"
        );
    }

    #[test]
    fn placeholders_are_filled_by_name() {
        assert_eq!(
            fill("You have {attempts} attempts left.", &[("attempts", "3")]),
            "You have 3 attempts left."
        );
    }
}
