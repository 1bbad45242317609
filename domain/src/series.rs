//! The inhaler-adherence SMS series: the batch's own message, then 22 more
//! texts over 26 weeks: two or three a week in the first month, then about
//! two a month. Each text is one GSM-7 fragment; `((name))` is the
//! patient's given name.

use chrono::Duration;

/// The texts after the batch's own message, each with the day (counted
/// from that first message) it is due.
const TEXTS: [(i64, &str); 22] = [
    (2, "Hi ((name)), your preventer inhaler works best taken every day, even when you feel well. Try keeping it by your toothbrush."),
    (4, "((name)), breathe out fully before each puff, then breathe in slowly and deeply. Hold your breath for up to 10 seconds."),
    (7, "Rinse your mouth with water after your preventer inhaler. It helps stop a sore throat and oral thrush."),
    (9, "((name)), a spacer helps more of your medicine reach your lungs. Ask your practice or pharmacist if you could use one."),
    (11, "Count your doses. If your inhaler has a counter, check it each week and order a new one before it runs out."),
    (14, "Two weeks in, ((name)). Taking your preventer every day lowers the chance of an asthma attack. Keep going."),
    (16, "Your reliever (usually blue) is for symptoms. If you need it 3 or more times a week, tell your practice."),
    (18, "((name)), shake your inhaler before each puff and wait about 30 seconds between puffs."),
    (21, "Know your triggers: colds, smoke, pollen and cold air can all make symptoms worse. Your preventer helps."),
    (23, "Do you have an asthma action plan, ((name))? It says what to do if you get worse. Ask your practice for one."),
    (25, "Set a daily alarm for your preventer inhaler. Most people find the same time each morning and night easiest."),
    (28, "A month of these texts, ((name)). If your inhaler technique feels unsure, a pharmacist can check it for free."),
    (42, "((name)), keep taking your preventer every day. If you stop, protection fades within weeks."),
    (56, "Check your inhaler's expiry date and keep it at room temperature, away from heat and damp."),
    (70, "Waking at night with cough or wheeze is a sign your asthma is not controlled, ((name)). Tell your practice."),
    (84, "Halfway through the series. Your yearly asthma review checks your inhaler and your plan. Is yours booked?"),
    (98, "((name)), if you smoke, stopping is one of the best things for your asthma. Your practice can help."),
    (112, "Flu and colds can set off asthma. Ask your practice whether you can have this year's flu vaccine."),
    (126, "Still using your preventer every day, ((name))? Well done. Keep your reliever with you when you go out."),
    (140, "If your reliever does not help, or you are too breathless to speak, call 999. This is an emergency."),
    (161, "((name)), old inhalers can go back to a pharmacy to be disposed of safely."),
    (182, "This is the last text in the series, ((name)). Keep taking your preventer every day, and thank you."),
];

/// How many texts the series has after the batch's own message.
pub const FOLLOW_ON_TEXTS: u32 = TEXTS.len() as u32;

/// When step `n` (1 for the first after the batch's message) is due,
/// counted from the first message.
pub fn due_after(step: u32) -> Option<Duration> {
    let (day, _) = TEXTS.get(step.checked_sub(1)? as usize)?;
    Some(Duration::days(*day))
}

/// The template of step `n`.
pub fn text(step: u32) -> Option<&'static str> {
    Some(TEXTS.get(step.checked_sub(1)? as usize)?.1)
}

/// Every step's due time, in order.
pub fn schedule() -> Vec<Duration> {
    (1..=FOLLOW_ON_TEXTS).filter_map(due_after).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{SmsEncoding, Template};

    #[test]
    fn twenty_three_texts_over_26_weeks_two_or_three_a_week_then_about_two_a_month() {
        let days: Vec<i64> = schedule().iter().map(|d| d.num_days()).collect();
        assert_eq!(days.len() + 1, 23, "the batch's own message and 22 more");
        assert!(days.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(*days.last().unwrap(), 26 * 7);
        // Week by week in the first month (day 0 is the batch's message).
        let in_week = |w: i64| {
            days.iter()
                .filter(|d| **d >= w * 7 && **d < (w + 1) * 7)
                .count()
                + usize::from(w == 0)
        };
        assert_eq!((0..4).map(in_week).collect::<Vec<_>>(), [3, 3, 3, 3]);
        // Then one or two a month.
        for month in 1..6 {
            let n = days
                .iter()
                .filter(|d| **d > month * 28 + 7 && **d <= (month + 1) * 28 + 7)
                .count();
            assert!((1..=2).contains(&n), "month {month}: {n}");
        }
    }

    #[test]
    fn every_text_is_one_gsm_fragment_with_a_long_name() {
        for step in 1..=FOLLOW_ON_TEXTS {
            let template = Template::parse(text(step).unwrap()).unwrap();
            let sms = template.worst_case(12, 0);
            assert_eq!(sms.encoding, SmsEncoding::Gsm7, "step {step}");
            assert_eq!(
                sms.fragments, 1,
                "step {step}: {} characters",
                sms.characters
            );
        }
        assert_eq!(text(0), None);
        assert_eq!(text(FOLLOW_ON_TEXTS + 1), None);
    }
}
