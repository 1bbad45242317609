//! Florey questionnaires: what each one asks, how long its link is valid,
//! when its reminders go, and checking a patient's answers.

use std::collections::BTreeMap;

use chrono::Duration;
use events::Questionnaire;
use serde::Serialize;

/// Days after the first message on which an unanswered questionnaire's
/// reminders go, while its link is still valid.
const REMINDER_DAYS: [i64; 2] = [3, 6];

/// What kind of answer a question takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnswerKind {
    /// A number from `min` to `max`, with at most `decimals` decimal places.
    Number {
        min: f64,
        max: f64,
        decimals: u8,
        unit: &'static str,
    },
    /// One of `options`.
    Choice { options: &'static [&'static str] },
}

/// One question of a questionnaire, as the link page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    pub id: &'static str,
    pub text: &'static str,
    pub required: bool,
    pub answer: AnswerKind,
}

/// Why an answer was refused, naming the question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerProblem {
    pub question: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|p| format!("{}: {}", p.question, p.reason)).collect::<Vec<_>>().join("; "))]
pub struct AnswersRefused(pub Vec<AnswerProblem>);

const fn number(min: f64, max: f64, decimals: u8, unit: &'static str) -> AnswerKind {
    AnswerKind::Number {
        min,
        max,
        decimals,
        unit,
    }
}

const YES_NO: &[&str] = &["yes", "no"];

fn blood_pressure(readings: f64) -> Vec<Question> {
    vec![
        Question {
            id: "systolic_average",
            text: "The average of your top numbers (systolic)",
            required: true,
            answer: number(60.0, 260.0, 0, "mmHg"),
        },
        Question {
            id: "diastolic_average",
            text: "The average of your bottom numbers (diastolic)",
            required: true,
            answer: number(30.0, 160.0, 0, "mmHg"),
        },
        Question {
            id: "readings_taken",
            text: "How many readings did you take?",
            required: true,
            answer: number(1.0, readings, 0, "readings"),
        },
        Question {
            id: "arm",
            text: "Which arm did you use?",
            required: false,
            answer: AnswerKind::Choice {
                options: &["left", "right", "both"],
            },
        },
    ]
}

/// The questions of a questionnaire, in the order the page asks them.
pub fn questions(questionnaire: Questionnaire) -> Vec<Question> {
    match questionnaire {
        // Two readings, morning and evening, each day.
        Questionnaire::BloodPressure4Day => blood_pressure(16.0),
        Questionnaire::BloodPressure7Day => blood_pressure(28.0),
        Questionnaire::SmokingStatus => vec![
            Question {
                id: "smoking_status",
                text: "Do you smoke?",
                required: true,
                answer: AnswerKind::Choice {
                    options: &["never_smoked", "ex_smoker", "current_smoker"],
                },
            },
            Question {
                id: "cigarettes_per_day",
                text: "If you smoke, how many a day?",
                required: false,
                answer: number(0.0, 100.0, 0, "cigarettes"),
            },
            Question {
                id: "wants_help_to_stop",
                text: "Would you like help to stop smoking?",
                required: false,
                answer: AnswerKind::Choice { options: YES_NO },
            },
        ],
        Questionnaire::HeightAndWeight => vec![
            Question {
                id: "height_cm",
                text: "Your height",
                required: true,
                answer: number(50.0, 250.0, 1, "cm"),
            },
            Question {
                id: "weight_kg",
                text: "Your weight",
                required: true,
                answer: number(2.0, 350.0, 1, "kg"),
            },
        ],
    }
}

/// How long the link stays valid after the first message.
pub fn valid_for(questionnaire: Questionnaire) -> Duration {
    match questionnaire {
        Questionnaire::BloodPressure4Day => Duration::days(4),
        _ => Duration::days(7),
    }
}

/// When each reminder is due, after the first message: days 3 and 6, but
/// only those before the link expires.
pub fn reminders_after(questionnaire: Questionnaire) -> Vec<Duration> {
    REMINDER_DAYS
        .iter()
        .map(|days| Duration::days(*days))
        .filter(|after| *after < valid_for(questionnaire))
        .collect()
}

/// The name staff and patients see.
/// A patient's answers in words staff read, a line per question asked, in
/// the questionnaire's order: `Do you smoke? current smoker`, `If you
/// smoke, how many a day? 5 cigarettes`.
pub fn answers_text(
    questionnaire: Questionnaire,
    answers: &std::collections::BTreeMap<String, String>,
) -> String {
    questions(questionnaire)
        .iter()
        .filter_map(|q| {
            let given = answers.get(q.id)?;
            let value = match q.answer {
                AnswerKind::Number { unit, .. } => format!("{given} {unit}"),
                AnswerKind::Choice { .. } => given.replace('_', " "),
            };
            Some(format!("{} {value}", q.text))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn title(questionnaire: Questionnaire) -> &'static str {
    match questionnaire {
        Questionnaire::BloodPressure4Day => "Blood pressure (4 days of home readings)",
        Questionnaire::BloodPressure7Day => "Blood pressure (7 days of home readings)",
        Questionnaire::SmokingStatus => "Smoking status",
        Questionnaire::HeightAndWeight => "Height and weight",
    }
}

fn check_number(raw: &str, min: f64, max: f64, decimals: u8) -> Result<String, String> {
    let range = if decimals == 0 {
        format!("a whole number from {min} to {max}")
    } else {
        format!("a number from {min} to {max}, with at most {decimals} decimal place(s)")
    };
    let refuse = || Err(format!("must be {range}, not \"{raw}\""));
    let trimmed = raw.trim();
    let places = trimmed.split_once('.').map_or(0, |(_, frac)| frac.len());
    let digits_only = trimmed.chars().all(|c| c.is_ascii_digit() || c == '.')
        && trimmed.chars().filter(|c| *c == '.').count() <= 1
        && !trimmed.starts_with('.')
        && !trimmed.ends_with('.');
    if trimmed.is_empty() || !digits_only || places > decimals as usize {
        return refuse();
    }
    match trimmed.parse::<f64>() {
        Ok(value) if value >= min && value <= max => Ok(trimmed.to_owned()),
        _ => refuse(),
    }
}

/// Checks a patient's answers against the questionnaire: every required
/// question answered, each answer of the right kind, nothing else. Returns
/// the answers as they are kept (trimmed), or every problem found.
pub fn check_answers(
    questionnaire: Questionnaire,
    answers: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, AnswersRefused> {
    let questions = questions(questionnaire);
    let mut problems = Vec::new();
    let mut kept = BTreeMap::new();
    for id in answers.keys() {
        if !questions.iter().any(|q| q.id == id) {
            problems.push(AnswerProblem {
                question: id.clone(),
                reason: "is not a question in this questionnaire".into(),
            });
        }
    }
    for question in &questions {
        let given = answers
            .get(question.id)
            .map(|a| a.trim())
            .filter(|a| !a.is_empty());
        let Some(given) = given else {
            if question.required {
                problems.push(AnswerProblem {
                    question: question.id.into(),
                    reason: "needs an answer".into(),
                });
            }
            continue;
        };
        let checked = match &question.answer {
            AnswerKind::Number {
                min, max, decimals, ..
            } => check_number(given, *min, *max, *decimals),
            AnswerKind::Choice { options } => {
                if options.contains(&given) {
                    Ok(given.to_owned())
                } else {
                    Err(format!(
                        "must be one of {}, not \"{given}\"",
                        options.join(", ")
                    ))
                }
            }
        };
        match checked {
            Ok(value) => {
                kept.insert(question.id.to_owned(), value);
            }
            Err(reason) => problems.push(AnswerProblem {
                question: question.id.into(),
                reason,
            }),
        }
    }
    if problems.is_empty() {
        Ok(kept)
    } else {
        Err(AnswersRefused(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_blood_pressure_4_day_link_lasts_4_days_with_one_reminder_and_the_others_7_with_two() {
        assert_eq!(
            valid_for(Questionnaire::BloodPressure4Day),
            Duration::days(4)
        );
        assert_eq!(
            reminders_after(Questionnaire::BloodPressure4Day),
            vec![Duration::days(3)]
        );
        for q in [
            Questionnaire::BloodPressure7Day,
            Questionnaire::SmokingStatus,
            Questionnaire::HeightAndWeight,
        ] {
            assert_eq!(valid_for(q), Duration::days(7));
            assert_eq!(
                reminders_after(q),
                vec![Duration::days(3), Duration::days(6)]
            );
        }
    }

    #[test]
    fn good_answers_are_kept_trimmed() {
        let kept = check_answers(
            Questionnaire::BloodPressure7Day,
            &answers(&[
                ("systolic_average", " 132 "),
                ("diastolic_average", "84"),
                ("readings_taken", "28"),
            ]),
        )
        .unwrap();
        assert_eq!(
            kept,
            answers(&[
                ("diastolic_average", "84"),
                ("readings_taken", "28"),
                ("systolic_average", "132"),
            ])
        );
        let kept = check_answers(
            Questionnaire::HeightAndWeight,
            &answers(&[("height_cm", "172.5"), ("weight_kg", "70")]),
        )
        .unwrap();
        assert_eq!(kept["height_cm"], "172.5");
    }

    #[test]
    fn each_bad_answer_is_named_with_its_reason() {
        let refused = check_answers(
            Questionnaire::BloodPressure4Day,
            &answers(&[
                ("systolic_average", "abc"),
                ("readings_taken", "17"),
                ("arm", "leg"),
                ("pulse", "70"),
            ]),
        )
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "pulse: is not a question in this questionnaire; \
             systolic_average: must be a whole number from 60 to 260, not \"abc\"; \
             diastolic_average: needs an answer; \
             readings_taken: must be a whole number from 1 to 16, not \"17\"; \
             arm: must be one of left, right, both, not \"leg\""
        );
        let refused = check_answers(
            Questionnaire::HeightAndWeight,
            &answers(&[("height_cm", "172.55"), ("weight_kg", "-3")]),
        )
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "height_cm: must be a number from 50 to 250, with at most 1 decimal place(s), not \"172.55\"; \
             weight_kg: must be a number from 2 to 350, with at most 1 decimal place(s), not \"-3\""
        );
    }
}
