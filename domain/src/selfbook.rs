//! Self-Book: what staff may configure, which slots a patient is offered
//! (exact times, or parts of the day for telephone appointments), and the
//! texts that confirm a booking or say it failed. Pure: the use cases in
//! `usecases/invites.rs` bring the appointment book and the clock.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use events::{AppointmentChannel, ChosenSlot, SelfBook, Timing};
use serde::Serialize;

use crate::appointments::{Slot, SlotSearch};
use crate::values::text::BOOK_ID_CHARS;
use crate::values::{one_line, SnomedCode};

/// Slots within this many days are offered when staff set no window.
pub const DEFAULT_WITHIN_DAYS: u32 = 28;
/// The longest availability window staff may set.
pub const MAX_WITHIN_DAYS: u32 = 90;
/// The catalogue (slot types, clinicians, locations) is read from the
/// slots of the next this many days: the default window patients see.
pub const CATALOGUE_DAYS: Duration = Duration::days(DEFAULT_WITHIN_DAYS as i64);
/// How long a catalogue read is kept before the book is asked again.
pub const CATALOGUE_FOR: Duration = Duration::minutes(5);
/// A slot starting sooner than this is not offered: the patient could not
/// cancel it online (see `aggregates::invite::CANCEL_CUT_OFF`).
pub const EARLIEST_START: Duration = Duration::hours(1);
/// A Self-Book message may take at most this many SMS fragments.
pub const MAX_FRAGMENTS: usize = 2;
const MAX_WORDING: usize = 100;
const MAX_CLINICIANS: usize = 20;

/// Checks a configuration as staff sent it, naming the field at fault.
pub fn check(config: &SelfBook) -> Result<(), String> {
    if config.slot_type.trim().is_empty() {
        return Err("self_book.slot_type: give the slot type to book".into());
    }
    let id = |field: &str, value: &str| {
        one_line(value, BOOK_ID_CHARS)
            .map(|_| ())
            .map_err(|e| format!("self_book.{field}: {e}"))
    };
    id("slot_type", &config.slot_type)?;
    if let Some(location) = &config.location {
        id("location", location)?;
    }
    if config.timing == Timing::TimeWindow
        && config.appointment_type != AppointmentChannel::Telephone
    {
        return Err(
            "self_book.timing: a time window is offered only for telephone appointments".into(),
        );
    }
    if config.clinicians.len() > MAX_CLINICIANS {
        return Err(format!(
            "self_book.clinicians: at most {MAX_CLINICIANS} clinicians"
        ));
    }
    if config
        .location
        .as_deref()
        .is_some_and(|l| l.trim().is_empty())
    {
        return Err("self_book.location: give the site's id, or leave it out".into());
    }
    if let Some(n) = config.clinicians.iter().position(|c| c.trim().is_empty()) {
        return Err(format!(
            "self_book.clinicians[{n}]: give the clinician's id"
        ));
    }
    for (n, clinician) in config.clinicians.iter().enumerate() {
        id(&format!("clinicians[{n}]"), clinician)?;
    }
    if let Some(days) = config.within_days {
        if !(1..=MAX_WITHIN_DAYS).contains(&days) {
            return Err(format!(
                "self_book.within_days: must be from 1 to {MAX_WITHIN_DAYS}"
            ));
        }
    }
    if let Some(decline) = &config.decline {
        SnomedCode::parse(&decline.snomed_code)
            .map_err(|e| format!("self_book.decline.snomed_code: {e}"))?;
        let wording = one_line(&decline.wording, MAX_WORDING)
            .map_err(|e| format!("self_book.decline.wording: {e}"))?;
        if wording.is_empty() {
            return Err(
                "self_book.decline.wording: give the words the patient chooses to decline".into(),
            );
        }
    }
    Ok(())
}

/// The slots an invite offers, looked for at `now`: its type, channel,
/// clinicians and site, from an hour ahead to the end of its availability
/// window, at the practice's own sites and the `other_sites` its settings
/// allow.
pub fn search(config: &SelfBook, now: DateTime<Utc>, other_sites: &[String]) -> SlotSearch {
    let days = config.within_days.unwrap_or(DEFAULT_WITHIN_DAYS);
    SlotSearch {
        slot_type: config.slot_type.clone(),
        from: now + EARLIEST_START,
        to: now + Duration::days(i64::from(days)),
        clinicians: config.clinicians.clone(),
        channel: Some(config.appointment_type),
        location: config.location.clone(),
        other_sites: other_sites.to_vec(),
    }
}

/// A part of the day a telephone appointment is offered in.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayWindow {
    /// 08:00 to 13:00.
    Morning,
    /// 13:00 to 18:30.
    Afternoon,
}

impl DayWindow {
    fn bounds(self) -> (NaiveTime, NaiveTime) {
        let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("a valid time");
        match self {
            Self::Morning => (at(8, 0), at(13, 0)),
            Self::Afternoon => (at(13, 0), at(18, 30)),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Morning => "morning",
            Self::Afternoon => "afternoon",
        }
    }

    /// The window a slot starting at `start` falls in, and its date, in
    /// practice time.
    pub fn of(start: DateTime<Utc>) -> Option<(NaiveDate, Self)> {
        let local = start.with_timezone(&London);
        let time = local.time();
        [Self::Morning, Self::Afternoon]
            .into_iter()
            .find(|w| {
                let (from, to) = w.bounds();
                time >= from && time < to
            })
            .map(|w| (local.date_naive(), w))
    }

    /// The window's start and end on `date`, as UTC.
    pub fn on(self, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
        let (from, to) = self.bounds();
        (london(date, from), london(date, to))
    }
}

fn london(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    London
        .from_local_datetime(&date.and_time(time))
        .earliest()
        .map_or_else(
            || Utc.from_utc_datetime(&date.and_time(time)),
            |t| t.with_timezone(&Utc),
        )
}

/// One choice on the patient's page: a slot at an exact time, or a part of
/// a day (when the clinician will call). Its words are the slot's, shared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    /// What the page sends back to book it.
    pub offer_id: Arc<str>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Set when the offer is a part of the day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<DayWindow>,
    pub appointment_type: AppointmentChannel,
    /// Who the patient will see; `None` for a window, whoever is free.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clinician: Option<Arc<str>>,
    pub location: Arc<str>,
}

fn window_id(date: NaiveDate, window: DayWindow) -> String {
    format!("window-{date}-{}", window.as_str())
}

/// What the patient may choose from `slots` (a search's answer): each
/// bookable slot the search wants, or for a window invite each part of a
/// day holding one, in time order.
pub fn offers(config: &SelfBook, slots: &[Slot], search: &SlotSearch) -> Vec<Offer> {
    let mut offered: Vec<&Slot> = slots.iter().filter(|s| search.offers(s)).collect();
    offered.sort_by(|a, b| (a.start, &a.slot_id).cmp(&(b.start, &b.slot_id)));
    let mut offers: Vec<Offer> = Vec::new();
    for slot in offered {
        match config.timing {
            Timing::ExactTime => offers.push(Offer {
                offer_id: slot.slot_id.clone(),
                start: slot.start,
                end: slot.end,
                window: None,
                appointment_type: slot.channel,
                clinician: Some(slot.clinician_name.clone()),
                location: slot.location_name.clone(),
            }),
            Timing::TimeWindow => {
                let Some((date, window)) = DayWindow::of(slot.start) else {
                    continue;
                };
                let id = window_id(date, window);
                if offers.iter().any(|o| *o.offer_id == *id) {
                    continue;
                }
                let (start, end) = window.on(date);
                offers.push(Offer {
                    offer_id: id.into(),
                    start,
                    end,
                    window: Some(window),
                    appointment_type: slot.channel,
                    clinician: None,
                    location: slot.location_name.clone(),
                });
            }
        }
    }
    offers
}

/// The slots behind the offer the patient chose, in the order to try
/// them: the one slot, or each free slot in the chosen part of the day.
pub fn candidates<'a>(
    config: &SelfBook,
    slots: &'a [Slot],
    search: &SlotSearch,
    offer_id: &str,
) -> Vec<&'a Slot> {
    let mut found: Vec<&Slot> = slots
        .iter()
        .filter(|s| search.offers(s))
        .filter(|s| match config.timing {
            Timing::ExactTime => &*s.slot_id == offer_id,
            Timing::TimeWindow => {
                DayWindow::of(s.start).is_some_and(|(d, w)| window_id(d, w) == offer_id)
            }
        })
        .collect();
    found.sort_by(|a, b| (a.start, &a.slot_id).cmp(&(b.start, &b.slot_id)));
    found
}

/// A slot as the invite keeps it.
pub fn chosen(slot: &Slot, timing: Timing) -> ChosenSlot {
    ChosenSlot {
        slot_id: slot.slot_id.to_string(),
        start: slot.start,
        end: slot.end,
        slot_type: slot.slot_type.to_string(),
        clinician: slot.clinician.to_string(),
        clinician_name: slot.clinician_name.to_string(),
        location: slot.location.to_string(),
        location_name: slot.location_name.to_string(),
        location_organisation: slot.location_organisation.as_deref().map(str::to_owned),
        channel: slot.channel,
        as_window: timing == Timing::TimeWindow,
    }
}

/// The slot an invite keeps, as the appointment book takes it back.
pub fn slot_of(chosen: &ChosenSlot) -> Slot {
    Slot {
        slot_id: chosen.slot_id.as_str().into(),
        start: chosen.start,
        end: chosen.end,
        slot_type: chosen.slot_type.as_str().into(),
        clinician: chosen.clinician.as_str().into(),
        clinician_name: chosen.clinician_name.as_str().into(),
        location: chosen.location.as_str().into(),
        location_name: chosen.location_name.as_str().into(),
        location_organisation: chosen.location_organisation.as_deref().map(Arc::from),
        channel: chosen.channel,
        busy: false,
        restriction: None,
    }
}

/// When the patient's appointment begins, as far as they know it: the
/// slot's start, or for a window booking the start of the window.
pub fn expected_start(slot: &ChosenSlot) -> DateTime<Utc> {
    match DayWindow::of(slot.start) {
        Some((date, window)) if slot.as_window => window.on(date).0,
        _ => slot.start,
    }
}

/// "Tuesday 1 December 2026 at 9:05am", or for a window "Tuesday 1
/// December 2026 between 8am and 1pm", in practice time.
pub fn when(slot: &ChosenSlot) -> String {
    let local = slot.start.with_timezone(&London);
    let day = local.format("%A %-d %B %Y");
    match DayWindow::of(slot.start) {
        Some((date, window)) if slot.as_window => {
            let (from, to) = window.on(date);
            format!("{day} between {} and {}", clock(from), clock(to))
        }
        _ => format!("{day} at {}", clock(slot.start)),
    }
}

/// "9:05am", "1pm", "6:30pm" in practice time.
pub fn clock(at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&London);
    if local.format("%M").to_string() == "00" {
        local.format("%-I%P").to_string()
    } else {
        local.format("%-I:%M%P").to_string()
    }
}

/// The text confirming a booking, with the link to cancel it.
pub fn confirmation(slot: &ChosenSlot, link: &str) -> String {
    format!(
        "Your appointment is booked for {}, {}. To cancel, up to 1 hour before: {link}",
        when(slot),
        how(slot)
    )
}

/// The reminder a day before, with the link to cancel.
pub fn reminder(slot: &ChosenSlot, link: &str) -> String {
    format!(
        "Reminder: your appointment is on {}, {}. To cancel, up to 1 hour before: {link}",
        when(slot),
        how(slot)
    )
}

/// How and where the patient will be seen.
fn how(slot: &ChosenSlot) -> String {
    match slot.channel {
        AppointmentChannel::InPerson => {
            format!("at {} with {}", slot.location_name, slot.clinician_name)
        }
        AppointmentChannel::Telephone if slot.as_window => {
            "by phone: the practice will call you".to_owned()
        }
        AppointmentChannel::Telephone => format!("by phone: {} will call you", slot.clinician_name),
        AppointmentChannel::Video => format!("by video with {}", slot.clinician_name),
    }
}

/// The text saying a booking could not be made, and that the link still
/// works for another choice.
pub fn failure(link: &str) -> String {
    format!(
        "Sorry, we could not book the appointment you chose. Please choose another time: {link}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::SmsLength;
    use events::{DeclineOption, LinkExpiry};

    fn config() -> SelfBook {
        SelfBook {
            appointment_type: AppointmentChannel::Telephone,
            slot_type: "review".into(),
            timing: Timing::TimeWindow,
            clinicians: vec![],
            location: None,
            within_days: Some(14),
            decline: Some(DeclineOption {
                snomed_code: "73211009".into(),
                wording: "I don't want a review".into(),
            }),
            expiry: LinkExpiry::Days14,
        }
    }

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        // December: London is on GMT, so these are London times too.
        Utc.with_ymd_and_hms(2026, 12, day, hour, minute, 0)
            .unwrap()
    }

    fn slot(id: &str, start: DateTime<Utc>) -> Slot {
        Slot {
            slot_id: id.into(),
            start,
            end: start + Duration::minutes(15),
            slot_type: "review".into(),
            clinician: "dr-okafor".into(),
            clinician_name: "Dr Okafor".into(),
            location: "riverside".into(),
            location_name: "Riverside Surgery".into(),
            location_organisation: None,
            channel: AppointmentChannel::Telephone,
            busy: false,
            restriction: None,
        }
    }

    #[test]
    fn a_configuration_is_refused_with_the_field_and_the_reason() {
        assert_eq!(check(&config()), Ok(()));
        let cases: Vec<(SelfBook, &str)> = vec![
            (
                SelfBook {
                    slot_type: " ".into(),
                    ..config()
                },
                "self_book.slot_type: give the slot type to book",
            ),
            (
                SelfBook {
                    appointment_type: AppointmentChannel::InPerson,
                    ..config()
                },
                "self_book.timing: a time window is offered only for telephone appointments",
            ),
            (
                SelfBook {
                    clinicians: vec!["dr-okafor".into(), "".into()],
                    ..config()
                },
                "self_book.clinicians[1]: give the clinician's id",
            ),
            (
                SelfBook {
                    within_days: Some(0),
                    ..config()
                },
                "self_book.within_days: must be from 1 to 90",
            ),
            (
                SelfBook {
                    within_days: Some(91),
                    ..config()
                },
                "self_book.within_days: must be from 1 to 90",
            ),
            (
                SelfBook {
                    decline: Some(DeclineOption {
                        snomed_code: "73211008".into(),
                        wording: "No thanks".into(),
                    }),
                    ..config()
                },
                "self_book.decline.snomed_code: this SNOMED CT code's check digit is wrong; check that it was copied correctly",
            ),
            (
                SelfBook {
                    decline: Some(DeclineOption {
                        snomed_code: "73211009".into(),
                        wording: "  ".into(),
                    }),
                    ..config()
                },
                "self_book.decline.wording: give the words the patient chooses to decline",
            ),
            (
                SelfBook {
                    decline: Some(DeclineOption {
                        snomed_code: "73211009".into(),
                        wording: "x".repeat(101),
                    }),
                    ..config()
                },
                "self_book.decline.wording: is longer than 100 characters",
            ),
            (
                SelfBook {
                    slot_type: "x".repeat(65),
                    ..config()
                },
                "self_book.slot_type: is longer than 64 characters",
            ),
            (
                SelfBook {
                    location: Some("x".repeat(65)),
                    ..config()
                },
                "self_book.location: is longer than 64 characters",
            ),
            (
                SelfBook {
                    clinicians: vec!["dr-okafor".into(), "x".repeat(65)],
                    ..config()
                },
                "self_book.clinicians[1]: is longer than 64 characters",
            ),
            (
                SelfBook {
                    clinicians: vec!["dr-okafor".into(); 21],
                    ..config()
                },
                "self_book.clinicians: at most 20 clinicians",
            ),
            (
                SelfBook {
                    decline: Some(DeclineOption {
                        snomed_code: "73211009".into(),
                        wording: "No\nthanks".into(),
                    }),
                    ..config()
                },
                "self_book.decline.wording: must be one line, without control characters",
            ),
        ];
        for (config, error) in cases {
            assert_eq!(check(&config), Err(error.to_owned()));
        }
    }

    #[test]
    fn the_search_runs_from_an_hour_ahead_to_the_end_of_the_window() {
        let now = at(1, 9, 0);
        let search = search(&config(), now, &[]);
        assert_eq!((search.from, search.to), (at(1, 10, 0), at(15, 9, 0)));
        assert_eq!(search.channel, Some(AppointmentChannel::Telephone));
        let default = super::search(
            &SelfBook {
                within_days: None,
                ..config()
            },
            now,
            &[],
        );
        assert_eq!(default.to, now + Duration::days(28));
    }

    #[test]
    fn a_window_invite_offers_each_part_of_a_day_with_a_free_slot_once() {
        let slots = vec![
            slot("b", at(2, 8, 15)),
            slot("a", at(2, 8, 0)),
            Slot {
                busy: true,
                ..slot("busy", at(2, 14, 0))
            },
            slot("c", at(2, 13, 0)),
            slot("late", at(2, 18, 30)),
            slot("d", at(3, 12, 45)),
        ];
        let search = search(&config(), at(1, 9, 0), &[]);
        let offers = offers(&config(), &slots, &search);
        let ids: Vec<&str> = offers.iter().map(|o| &*o.offer_id).collect();
        assert_eq!(
            ids,
            [
                "window-2026-12-02-morning",
                "window-2026-12-02-afternoon",
                "window-2026-12-03-morning"
            ]
        );
        assert_eq!(
            (offers[1].start, offers[1].end),
            (at(2, 13, 0), at(2, 18, 30))
        );
        assert_eq!(offers[0].clinician, None);
        let tried: Vec<&str> = candidates(&config(), &slots, &search, "window-2026-12-02-morning")
            .iter()
            .map(|s| &*s.slot_id)
            .collect();
        assert_eq!(tried, ["a", "b"]);
        assert!(candidates(&config(), &slots, &search, "window-2026-12-02-evening").is_empty());

        let exact = SelfBook {
            timing: Timing::ExactTime,
            ..config()
        };
        let offers = super::offers(&exact, &slots, &search);
        let ids: Vec<&str> = offers.iter().map(|o| &*o.offer_id).collect();
        assert_eq!(ids, ["a", "b", "c", "late", "d"]);
        assert_eq!(offers[0].clinician.as_deref(), Some("Dr Okafor"));
        assert_eq!(
            candidates(&exact, &slots, &search, "busy"),
            Vec::<&Slot>::new()
        );
    }

    #[test]
    fn the_texts_give_the_time_or_window_in_practice_time_and_fit_two_fragments() {
        // 1 July: London is on BST, an hour ahead of UTC.
        let summer = Utc.with_ymd_and_hms(2027, 7, 1, 8, 5, 0).unwrap();
        let mut booked = chosen(
            &Slot {
                channel: AppointmentChannel::InPerson,
                clinician_name: "Nurse Patel".into(),
                location_name: "Riverside Surgery, 1 High Street".into(),
                ..slot("s", summer)
            },
            Timing::ExactTime,
        );
        let link = format!("https://book.example.nhs.uk/l/{}", "x".repeat(22));
        let text = confirmation(&booked, &link);
        assert_eq!(
            text,
            format!("Your appointment is booked for Thursday 1 July 2027 at 9:05am, at Riverside Surgery, 1 High Street with Nurse Patel. To cancel, up to 1 hour before: {link}")
        );
        assert!(SmsLength::of(&text).fragments <= MAX_FRAGMENTS);
        booked.channel = AppointmentChannel::Telephone;
        booked.as_window = true;
        assert_eq!(
            confirmation(&booked, "L"),
            "Your appointment is booked for Thursday 1 July 2027 between 8am and 1pm, by phone: the practice will call you. To cancel, up to 1 hour before: L"
        );
        assert_eq!(
            expected_start(&booked),
            Utc.with_ymd_and_hms(2027, 7, 1, 7, 0, 0).unwrap()
        );
        booked.as_window = false;
        assert_eq!(expected_start(&booked), summer);
        assert_eq!(
            reminder(&booked, "L"),
            "Reminder: your appointment is on Thursday 1 July 2027 at 9:05am, by phone: Nurse Patel will call you. To cancel, up to 1 hour before: L"
        );
        assert_eq!(
            failure("L"),
            "Sorry, we could not book the appointment you chose. Please choose another time: L"
        );
    }
}
