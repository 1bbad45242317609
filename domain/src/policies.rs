//! Policies about time: the sending window an organisation's text and NHS
//! App messages keep to, how a staggered send splits its patients over
//! days, and how long a message waits before its fallback or its failure.

use chrono::{DateTime, Days, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use events::{BatchKind, Questionnaire, StaggerDay};
use serde::{Deserialize, Serialize};

/// A message the provider accepted but never confirmed counts as failed
/// after this long.
pub const RECEIPT_DEADLINE: Duration = Duration::hours(72);
/// The most days a send may be staggered over.
pub const MAX_STAGGER_DAYS: u32 = 28;
/// The furthest ahead a send may be scheduled: a year is further than any
/// practice plans a recall, and a year 262000 is a typo.
pub const MAX_SCHEDULE_AHEAD: Duration = Duration::days(365);

/// When a batch starts sending, as staff chose it: explicitly now, or at a
/// time that is still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStart {
    Now,
    At(DateTime<Utc>),
}

/// A send as staff asked for it: when it starts, and over how many days
/// it is spread, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPlan {
    pub start: SendStart,
    pub stagger_days: Option<u32>,
}

impl SendPlan {
    /// Everyone, now.
    pub fn now() -> Self {
        Self {
            start: SendStart::Now,
            stagger_days: None,
        }
    }

    /// The moment to start at, when it is still to come: a time that has
    /// passed, or is more than a year away, is refused rather than read as
    /// "now" or kept for ever.
    pub fn scheduled_for(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, PolicyError> {
        if let Some(days) = self.stagger_days {
            if !(1..=MAX_STAGGER_DAYS).contains(&days) {
                return Err(PolicyError::StaggerDays(days));
            }
        }
        match self.start {
            SendStart::Now => Ok(None),
            SendStart::At(at) if at <= now => Err(PolicyError::SendAtNotInFuture),
            SendStart::At(at) if at > now + MAX_SCHEDULE_AHEAD => Err(PolicyError::SendAtTooFar),
            SendStart::At(at) => Ok(Some(at)),
        }
    }
}

/// How long an unread NHS App message waits before the patient is sent the
/// same message by SMS.
/// The blood-pressure questionnaires wait 3 hours: their readings are timely.
pub fn nhs_app_fallback_after(kind: BatchKind, questionnaire: Option<Questionnaire>) -> Duration {
    match (kind, questionnaire) {
        (
            BatchKind::FloreyQuestionnaire,
            Some(Questionnaire::BloodPressure4Day | Questionnaire::BloodPressure7Day),
        ) => Duration::hours(3),
        _ => Duration::hours(24),
    }
}

/// When SMS and NHS App messages may leave, in the organisation's local
/// time. Email is not held: an email does not wake anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendingWindow {
    /// `HH:MM`, local time.
    #[serde(with = "hh_mm")]
    pub opens: NaiveTime,
    /// `00:00` means midnight at the end of the day, so `00:00` to `00:00`
    /// is a window that never closes.
    #[serde(with = "hh_mm")]
    pub closes: NaiveTime,
    /// An IANA time zone name.
    #[serde(default = "london")]
    pub time_zone: Tz,
}

fn london() -> Tz {
    chrono_tz::Europe::London
}

impl Default for SendingWindow {
    /// 08:00 to 20:00, Europe/London.
    fn default() -> Self {
        Self {
            opens: NaiveTime::from_hms_opt(8, 0, 0).expect("08:00"),
            closes: NaiveTime::from_hms_opt(20, 0, 0).expect("20:00"),
            time_zone: london(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the sending window must open before it closes, on the same day")]
    WindowOpensAfterItCloses,
    #[error("a send can be staggered over 1 to {MAX_STAGGER_DAYS} days, not {0}")]
    StaggerDays(u32),
    #[error("send_at: must be in the future; to send now, send {{\"now\": true}} instead")]
    SendAtNotInFuture,
    #[error("send_at: must be within a year from now")]
    SendAtTooFar,
}

impl SendingWindow {
    /// Open all day and night.
    pub fn always() -> Self {
        Self {
            opens: NaiveTime::MIN,
            closes: NaiveTime::MIN,
            ..Self::default()
        }
    }

    pub fn check(self) -> Result<Self, PolicyError> {
        if self.opens >= self.closes && self.closes != NaiveTime::MIN {
            return Err(PolicyError::WindowOpensAfterItCloses);
        }
        Ok(self)
    }

    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.time_zone).time();
        self.opens <= local && (local < self.closes || self.closes == NaiveTime::MIN)
    }

    /// `at` itself when the window is open then; otherwise the next time it
    /// opens.
    pub fn next_open(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_open(at) {
            return at;
        }
        let local = at.with_timezone(&self.time_zone);
        let date = if local.time() < self.opens {
            local.date_naive()
        } else {
            local.date_naive() + Days::new(1)
        };
        self.opening_on(date)
    }

    /// When the window opens on a local calendar date. A clock change never
    /// falls in a sensible window; if one did, the earlier reading is used,
    /// or an hour later where the local time does not exist.
    fn opening_on(&self, date: chrono::NaiveDate) -> DateTime<Utc> {
        let local = date.and_time(self.opens);
        match self.time_zone.from_local_datetime(&local).earliest() {
            Some(at) => at.with_timezone(&Utc),
            None => self
                .time_zone
                .from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
                .map(|at| at.with_timezone(&Utc))
                .unwrap_or_else(|| local.and_utc()),
        }
    }
}

mod hh_mm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let raw = String::deserialize(d)?;
        NaiveTime::parse_from_str(&raw, "%H:%M").map_err(|_| {
            serde::de::Error::custom(format!("`{raw}` is not a time written as HH:MM"))
        })
    }
}

/// Splits `recipients` evenly over `days` days: the first
/// `recipients % days` days take one more. Day 0 starts at `start` (held to
/// the window); each later day starts when the window opens on the local
/// days that follow.
pub fn stagger(
    recipients: u64,
    days: u32,
    start: DateTime<Utc>,
    window: &SendingWindow,
) -> Result<Vec<StaggerDay>, PolicyError> {
    if !(1..=MAX_STAGGER_DAYS).contains(&days) {
        return Err(PolicyError::StaggerDays(days));
    }
    let first = window.next_open(start);
    let first_date = first.with_timezone(&window.time_zone).date_naive();
    let (each, extra) = (recipients / days as u64, recipients % days as u64);
    Ok((0..days)
        .map(|day| StaggerDay {
            day,
            starts_at: match day {
                0 => first,
                _ => window.opening_on(first_date + Days::new(day.into())),
            },
            recipients: each + u64::from((day as u64) < extra),
        })
        .collect())
}

/// Which day of a stagger the `index`th contactable patient (from 0) is
/// sent on: consecutive patients share a day, in list order.
pub fn stagger_day_of(plan: &[StaggerDay], index: u64) -> Option<u32> {
    let mut end = 0;
    for day in plan {
        end += day.recipients;
        if index < end {
            return Some(day.day);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_default_window_is_eight_to_eight_london_time_in_summer_and_winter() {
        let w = SendingWindow::default();
        // Winter: London is UTC.
        assert!(!w.is_open(utc("2026-11-23T07:59:59Z")));
        assert!(w.is_open(utc("2026-11-23T08:00:00Z")));
        assert!(!w.is_open(utc("2026-11-23T20:00:00Z")));
        // Summer: London is UTC+1, so 07:00Z is 08:00 local.
        assert!(w.is_open(utc("2026-07-01T07:00:00Z")));
        assert!(!w.is_open(utc("2026-07-01T19:00:00Z")));
    }

    #[test]
    fn a_message_outside_the_window_is_held_to_the_next_opening() {
        let w = SendingWindow::default();
        let inside = utc("2026-11-23T12:00:00Z");
        assert_eq!(w.next_open(inside), inside);
        assert_eq!(
            w.next_open(utc("2026-11-23T21:30:00Z")),
            utc("2026-11-24T08:00:00Z")
        );
        assert_eq!(
            w.next_open(utc("2026-11-24T03:00:00Z")),
            utc("2026-11-24T08:00:00Z")
        );
        // Across the spring clock change: 08:00 BST is 07:00Z.
        assert_eq!(
            w.next_open(utc("2026-03-28T22:00:00Z")),
            utc("2026-03-29T07:00:00Z")
        );
    }

    #[test]
    fn a_window_is_read_as_local_times_and_checked() {
        let w: SendingWindow =
            serde_json::from_str(r#"{"opens": "09:30", "closes": "17:00"}"#).unwrap();
        assert_eq!(w.time_zone, chrono_tz::Europe::London);
        assert_eq!(
            w.next_open(utc("2026-11-23T18:00:00Z")),
            utc("2026-11-24T09:30:00Z")
        );
        let backwards: SendingWindow =
            serde_json::from_str(r#"{"opens": "20:00", "closes": "08:00"}"#).unwrap();
        assert_eq!(
            backwards.check(),
            Err(PolicyError::WindowOpensAfterItCloses)
        );
        let err = serde_json::from_str::<SendingWindow>(r#"{"opens": "8am", "closes": "17:00"}"#)
            .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("`8am` is not a time written as HH:MM"));
    }

    #[test]
    fn a_window_closing_at_midnight_runs_to_the_end_of_the_day() {
        let w = SendingWindow::always();
        assert_eq!(w.check(), Ok(w));
        assert!(w.is_open(utc("2026-11-23T00:00:00Z")));
        assert!(w.is_open(utc("2026-11-23T23:59:59Z")));
        let evening: SendingWindow =
            serde_json::from_str(r#"{"opens": "18:00", "closes": "00:00"}"#).unwrap();
        assert!(evening.check().is_ok());
        assert!(evening.is_open(utc("2026-11-23T23:30:00Z")));
        assert!(!evening.is_open(utc("2026-11-23T17:59:00Z")));
    }

    #[test]
    fn a_stagger_splits_patients_evenly_one_day_at_a_time() {
        let w = SendingWindow::default();
        let plan = stagger(10, 3, utc("2026-11-23T14:00:00Z"), &w).unwrap();
        let summary: Vec<_> = plan
            .iter()
            .map(|d| (d.day, d.starts_at, d.recipients))
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, utc("2026-11-23T14:00:00Z"), 4),
                (1, utc("2026-11-24T08:00:00Z"), 3),
                (2, utc("2026-11-25T08:00:00Z"), 3),
            ]
        );
        let days: Vec<_> = (0..11).map(|i| stagger_day_of(&plan, i)).collect();
        assert_eq!(
            days,
            [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
                .into_iter()
                .map(Some)
                .chain([None])
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_stagger_started_after_hours_begins_at_the_next_opening() {
        let plan = stagger(2, 2, utc("2026-11-23T22:00:00Z"), &SendingWindow::default()).unwrap();
        assert_eq!(plan[0].starts_at, utc("2026-11-24T08:00:00Z"));
        assert_eq!(plan[1].starts_at, utc("2026-11-25T08:00:00Z"));
    }

    #[test]
    fn stagger_days_out_of_range_are_refused() {
        let w = SendingWindow::default();
        let now = utc("2026-11-23T12:00:00Z");
        assert_eq!(stagger(5, 0, now, &w), Err(PolicyError::StaggerDays(0)));
        assert_eq!(
            stagger(5, 29, now, &w).unwrap_err().to_string(),
            "a send can be staggered over 1 to 28 days, not 29"
        );
    }
}
