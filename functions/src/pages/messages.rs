//! The message catalogue: every word a patient reads, from
//! `functions/pages/messages/<lang>.toml`. Each key is a field here, so a
//! page cannot name a key that does not exist, and a catalogue missing a key
//! or holding an unknown one is refused when it is read.

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
section!(Attachment {
    title,
    intro,
    file,
    download,
    expires
});
section!(Invite {
    title,
    intro,
    book,
    decline,
    choose_title,
    choose_error,
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
    pub invite: Invite,
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

/// The English catalogue, read once.
pub fn english_messages() -> &'static Messages {
    static EN: LazyLock<Messages> = LazyLock::new(|| {
        read(include_str!("../../pages/messages/en.toml"))
            .expect("functions/pages/messages/en.toml is a whole catalogue")
    });
    &EN
}

/// `text` with each `{name}` replaced by its value.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(text.to_owned(), |text, (name, value)| {
        text.replace(&format!("{{{name}}}"), value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_english_catalogue_is_whole() {
        let m = english_messages();
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
        let m = english_messages();
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
    fn placeholders_are_filled_by_name() {
        assert_eq!(
            fill("You have {attempts} attempts left.", &[("attempts", "3")]),
            "You have 3 attempts left."
        );
    }
}
