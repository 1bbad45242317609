//! The simulated appointment book (issue 6): stands in for the GP clinical
//! system's book behind the same port as the GP Connect client.
//!
//! - Slots come from a readable TOML file (`fixtures/appointment_book.toml`
//!   is bundled): slot types, clinicians, locations and weekly sessions. The
//!   book generates `weeks` weeks of slots from the Monday of the week it
//!   opens, in Europe/London time, and blocks or embargoes every n-th.
//! - Bookings are rows in `simulators.sqlite`, one per slot at most, so
//!   a restart keeps them and two patients can never hold one slot. A
//!   repeated booking request (same key) gets its first appointment back.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Europe::London;
use domain::appointments::{
    AppointmentBook, AppointmentChannel, BookError, BookedAppointment, BookingRequest, Slot,
    SlotRestriction, SlotSearch,
};
use domain::ports::Clock;
use serde::Deserialize;
use sqlx::SqlitePool;

/// The bundled book, for `batchbook serve` and tests.
pub const BUNDLED_BOOK: &str = include_str!("../../fixtures/appointment_book.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookConfig {
    pub weeks: u32,
    #[serde(default)]
    pub blocked_every: Option<u32>,
    #[serde(default)]
    pub embargoed_every: Option<u32>,
    pub slot_types: Vec<SlotType>,
    pub clinicians: Vec<Named>,
    pub locations: Vec<Location>,
    pub sessions: Vec<Session>,
}

/// A site slots are at. `organisation` is the ODS code of the organisation
/// it belongs to, when that is not the practice (a hub it shares).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub organisation: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotType {
    pub id: String,
    pub name: String,
    pub minutes: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// A weekly session: back-to-back slots of one type from `start` to `end`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub weekday: Weekday,
    pub start: String,
    pub end: String,
    pub slot_type: String,
    pub clinician: String,
    pub location: String,
    pub channel: AppointmentChannel,
}

fn time(session: usize, field: &str, value: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(value, "%H:%M").map_err(|_| {
        format!("sessions[{session}].{field}: {value:?} is not a time written as HH:MM")
    })
}

impl BookConfig {
    /// Reads and checks a book file; each refusal names where and why.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        if config.weeks == 0 {
            return Err("weeks: must be at least 1".into());
        }
        for (i, kind) in config.slot_types.iter().enumerate() {
            if kind.minutes == 0 {
                return Err(format!("slot_types[{i}].minutes: must be at least 1"));
            }
        }
        let known = |list: &[String], id: &str| list.iter().any(|k| k == id);
        let types: Vec<String> = config.slot_types.iter().map(|t| t.id.clone()).collect();
        let clinicians: Vec<String> = config.clinicians.iter().map(|c| c.id.clone()).collect();
        let locations: Vec<String> = config.locations.iter().map(|l| l.id.clone()).collect();
        for (i, session) in config.sessions.iter().enumerate() {
            for (field, id, list) in [
                ("slot_type", &session.slot_type, &types),
                ("clinician", &session.clinician, &clinicians),
                ("location", &session.location, &locations),
            ] {
                if !known(list, id) {
                    return Err(format!("sessions[{i}].{field}: {id:?} is not defined"));
                }
            }
            if time(i, "start", &session.start)? >= time(i, "end", &session.end)? {
                return Err(format!("sessions[{i}]: start must be before end"));
            }
        }
        Ok(config)
    }

    /// Every slot the book holds for the weeks from `monday`.
    pub fn slots(&self, monday: NaiveDate) -> Vec<Slot> {
        let minutes: HashMap<&str, u32> = self
            .slot_types
            .iter()
            .map(|t| (t.id.as_str(), t.minutes))
            .collect();
        let mut slots = Vec::new();
        for day in 0..(self.weeks * 7) {
            let date = monday + Duration::days(i64::from(day));
            for session in self.sessions.iter().filter(|s| s.weekday == date.weekday()) {
                let (Ok(start), Ok(end)) = (
                    NaiveTime::parse_from_str(&session.start, "%H:%M"),
                    NaiveTime::parse_from_str(&session.end, "%H:%M"),
                ) else {
                    continue;
                };
                let location = self.locations.iter().find(|l| l.id == session.location);
                let length = Duration::minutes(i64::from(minutes[session.slot_type.as_str()]));
                // The session's words, shared by each of its slots.
                let slot_type: Arc<str> = session.slot_type.as_str().into();
                let clinician: Arc<str> = session.clinician.as_str().into();
                let clinician_name: Arc<str> = name_of(&self.clinicians, &session.clinician).into();
                let site: Arc<str> = session.location.as_str().into();
                let site_name: Arc<str> = location
                    .map_or(session.location.as_str(), |l| l.name.as_str())
                    .into();
                let site_organisation: Option<Arc<str>> =
                    location.and_then(|l| l.organisation.as_deref().map(Arc::from));
                let mut at = start;
                while at + length <= end && at < at + length {
                    slots.push(Slot {
                        slot_id: format!(
                            "{date}-{}-{}-{}",
                            at.format("%H%M"),
                            session.clinician,
                            session.slot_type
                        )
                        .into(),
                        start: london(date, at),
                        end: london(date, at + length),
                        slot_type: slot_type.clone(),
                        clinician: clinician.clone(),
                        clinician_name: clinician_name.clone(),
                        location: site.clone(),
                        location_name: site_name.clone(),
                        location_organisation: site_organisation.clone(),
                        channel: session.channel,
                        busy: false,
                        restriction: None,
                    });
                    at += length;
                }
            }
        }
        for (n, slot) in (1u32..).zip(slots.iter_mut()) {
            if self
                .blocked_every
                .is_some_and(|every| every > 0 && n % every == 0)
            {
                slot.restriction = Some(SlotRestriction::Blocked);
            } else if self
                .embargoed_every
                .is_some_and(|every| every > 0 && n % every == 0)
            {
                slot.restriction = Some(SlotRestriction::Embargoed);
            }
        }
        slots
    }
}

/// The name the book gives an id (the id itself if it has none).
fn name_of(named: &[Named], id: &str) -> String {
    named
        .iter()
        .find(|n| n.id == id)
        .map_or_else(|| id.to_owned(), |n| n.name.clone())
}

/// A wall-clock time in London as UTC; in the hour the clocks go back, the
/// first of the two.
fn london(date: NaiveDate, at: NaiveTime) -> DateTime<Utc> {
    London
        .from_local_datetime(&date.and_time(at))
        .earliest()
        .unwrap_or_else(|| {
            Utc.from_utc_datetime(&date.and_time(at))
                .with_timezone(&London)
        })
        .with_timezone(&Utc)
}

/// Where a simulated book keeps its bookings: SQLite locally
/// ([`SqliteBookingRows`]), the sandbox outbox table on AWS.
#[async_trait::async_trait]
pub trait BookingRows: Send + Sync {
    /// The slots booked now, shared by the asks one read answered.
    async fn booked(&self) -> Result<Arc<HashSet<String>>, BookError>;
    /// Books `slot_id` as `appointment_id` under `key` unless it is booked
    /// already; answers the slot's booking: its appointment id and key.
    async fn take(
        &self,
        slot_id: &str,
        appointment_id: &str,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<(String, String), BookError>;
    /// Frees the slot booked as `appointment_id`, if one is.
    async fn free(&self, appointment_id: &str) -> Result<(), BookError>;
    /// Every booking: its slot and the key it was made with, by slot.
    async fn all(&self) -> Result<Vec<(String, String)>, BookError>;
}

/// Bookings in the simulators' SQLite database (migration 0004), one row
/// per slot at most.
pub struct SqliteBookingRows {
    pool: SqlitePool,
    /// Asks for the slots booked now. Every patient opening their times
    /// asks, and the database has one connection: concurrent asks are
    /// answered by one read, made after each of them was asked, so each
    /// still sees every booking committed before it asked.
    booked: tokio::sync::mpsc::UnboundedSender<BookedReply>,
}

type BookedReply = tokio::sync::oneshot::Sender<Result<Arc<HashSet<String>>, String>>;

impl SqliteBookingRows {
    /// On the simulators' database, shared with the simulated providers
    /// (one connection per SQLite file). Starts the task that reads the
    /// booked slots (inside a Tokio runtime).
    pub fn new(pool: SqlitePool) -> Self {
        let reads = pool.clone();
        let booked = crate::embedded::grouped::spawn_grouped(move |asks: Vec<BookedReply>| {
            let pool = reads.clone();
            async move {
                let read: Result<Vec<String>, _> =
                    sqlx::query_scalar("SELECT slot_id FROM appointment_bookings")
                        .fetch_all(&pool)
                        .await;
                let answer = read
                    .map(|slots| Arc::new(slots.into_iter().collect::<HashSet<_>>()))
                    .map_err(|e| e.to_string());
                for ask in asks {
                    // One who stopped waiting no longer wants the answer.
                    let _ = ask.send(answer.clone());
                }
            }
        });
        Self { pool, booked }
    }
}

#[async_trait::async_trait]
impl BookingRows for SqliteBookingRows {
    async fn booked(&self) -> Result<Arc<HashSet<String>>, BookError> {
        let stopped = || BookError::Unavailable("simulated book: its reader has stopped".into());
        let (ask, answer) = tokio::sync::oneshot::channel();
        self.booked.send(ask).map_err(|_| stopped())?;
        let booked = answer
            .await
            .map_err(|_| stopped())?
            .map_err(|e| BookError::Unavailable(format!("simulated book: {e}")))?;
        Ok(booked)
    }

    async fn take(
        &self,
        slot_id: &str,
        appointment_id: &str,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<(String, String), BookError> {
        sqlx::query(
            "INSERT INTO appointment_bookings (slot_id, appointment_id, idempotency_key, booked_at)
             VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(slot_id)
        .bind(appointment_id)
        .bind(key)
        .bind(at.timestamp_millis())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        sqlx::query_as(
            "SELECT appointment_id, idempotency_key FROM appointment_bookings WHERE slot_id = ?",
        )
        .bind(slot_id)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)
    }

    async fn free(&self, appointment_id: &str) -> Result<(), BookError> {
        sqlx::query("DELETE FROM appointment_bookings WHERE appointment_id = ?")
            .bind(appointment_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn all(&self) -> Result<Vec<(String, String)>, BookError> {
        sqlx::query_as("SELECT slot_id, idempotency_key FROM appointment_bookings ORDER BY slot_id")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)
    }
}

pub struct SimulatedAppointmentBook {
    slots: Vec<Slot>,
    rows: Arc<dyn BookingRows>,
    clock: Arc<dyn Clock>,
}

impl SimulatedAppointmentBook {
    /// The book generated from `config`, with slots from the week `clock`
    /// is in, keeping its bookings in `rows`.
    pub fn new(rows: Arc<dyn BookingRows>, config: &BookConfig, clock: Arc<dyn Clock>) -> Self {
        let today = clock.now().with_timezone(&London).date_naive();
        let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        Self {
            slots: config.slots(monday),
            rows,
            clock,
        }
    }

    /// The slots starting from `from` and before `to` that `wanted` keeps,
    /// each marked busy when booked; only those are copied.
    async fn slots_where(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        wanted: impl Fn(&Slot) -> bool,
    ) -> Result<Vec<Slot>, BookError> {
        let busy = self.rows.booked().await?;
        Ok(self
            .slots
            .iter()
            .filter(|s| s.start >= from && s.start < to && wanted(s))
            .map(|s| Slot {
                busy: busy.contains(&*s.slot_id),
                ..s.clone()
            })
            .collect())
    }

    /// Every booking the book holds: its slot and the key it was made with.
    pub async fn bookings(&self) -> Result<Vec<(String, String)>, BookError> {
        self.rows.all().await
    }
}

fn unavailable(e: sqlx::Error) -> BookError {
    BookError::Unavailable(format!("simulated book: {e}"))
}

#[async_trait::async_trait]
impl AppointmentBook for SimulatedAppointmentBook {
    async fn search(&self, search: &SlotSearch) -> Result<Vec<Slot>, BookError> {
        self.slots_where(search.from, search.to, |s| {
            *s.slot_type == *search.slot_type
        })
        .await
    }

    async fn slots_between(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Slot>, BookError> {
        self.slots_where(from, to, |_| true).await
    }

    async fn book(&self, request: &BookingRequest) -> Result<BookedAppointment, BookError> {
        let slot = self
            .slots
            .iter()
            .find(|s| s.slot_id == request.slot.slot_id)
            .ok_or(BookError::UnknownSlot)?;
        if slot.restriction.is_some() {
            return Err(BookError::NotBookable);
        }
        let appointment_id = uuid::Uuid::new_v4().to_string();
        let (holder, key) = self
            .rows
            .take(
                &slot.slot_id,
                &appointment_id,
                &request.idempotency_key,
                self.clock.now(),
            )
            .await?;
        // Ours if the slot's booking carries our key: first time or a retry.
        if key != request.idempotency_key {
            return Err(BookError::SlotTaken);
        }
        Ok(BookedAppointment {
            appointment_id: holder,
            slot: Slot {
                busy: true,
                ..slot.clone()
            },
        })
    }

    async fn cancel(&self, appointment_id: &str) -> Result<(), BookError> {
        self.rows.free(appointment_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ports::FakeClock;

    fn bundled() -> BookConfig {
        BookConfig::parse(BUNDLED_BOOK).unwrap()
    }

    #[test]
    fn the_bundled_book_makes_each_session_s_slots_and_blocks_or_embargoes_every_nth() {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let slots = bundled().slots(monday);
        // Per week: 36 + 36 five-minute flu slots at the surgery and 36 at
        // the hub, 20 + 22 fifteen-minute reviews.
        assert_eq!(slots.len(), 6 * (36 + 36 + 36 + 20 + 22));
        let count = |r| slots.iter().filter(|s| s.restriction == Some(r)).count();
        assert_eq!(count(SlotRestriction::Blocked), 900 / 9);
        // Every 13th, less those already blocked (every 117th).
        assert_eq!(count(SlotRestriction::Embargoed), 900 / 13 - 900 / 117);
        let hub: Vec<&Slot> = slots.iter().filter(|s| &*s.location == "hub").collect();
        assert_eq!(hub.len(), 6 * 36);
        assert_eq!(
            (
                &*hub[0].slot_id,
                &*hub[0].location_name,
                hub[0].location_organisation.as_deref()
            ),
            (
                "2026-11-28-0900-nurse-patel-flu",
                "Riverside PCN Hub, 5 Mill Lane",
                Some("B81001")
            )
        );
        assert_eq!(slots[0].location_organisation, None);
        let first = &slots[0];
        assert_eq!(&*first.slot_id, "2026-11-23-0900-nurse-patel-flu");
        assert_eq!(
            first.start,
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
        );
        assert_eq!(first.end - first.start, Duration::minutes(5));
        assert_eq!(first.channel, AppointmentChannel::InPerson);
        let last_review = slots.iter().rfind(|s| &*s.slot_type == "review").unwrap();
        assert_eq!(&*last_review.slot_id, "2026-12-31-1815-dr-okafor-review");
        assert_eq!(last_review.channel, AppointmentChannel::Video);
    }

    #[test]
    fn slots_keep_london_wall_clock_times_across_the_change_to_summer_time() {
        let mut config = bundled();
        config.weeks = 2;
        // The clocks go forward on Sunday 29 March 2026.
        let slots = config.slots(NaiveDate::from_ymd_opt(2026, 3, 23).unwrap());
        let nine = |date: &str| {
            slots
                .iter()
                .find(|s| *s.slot_id == *format!("{date}-0900-nurse-patel-flu"))
                .unwrap()
                .start
        };
        assert_eq!(
            nine("2026-03-23"),
            Utc.with_ymd_and_hms(2026, 3, 23, 9, 0, 0).unwrap()
        );
        assert_eq!(
            nine("2026-03-30"),
            Utc.with_ymd_and_hms(2026, 3, 30, 8, 0, 0).unwrap()
        );
    }

    #[test]
    fn a_book_file_is_refused_with_where_and_why() {
        let refused = |from: &str, to: &str| {
            let text = BUNDLED_BOOK.replacen(from, to, 1);
            assert_ne!(text, BUNDLED_BOOK, "{from}");
            BookConfig::parse(&text).unwrap_err()
        };
        assert_eq!(
            refused("weeks = 6", "weeks = 0"),
            "weeks: must be at least 1"
        );
        assert_eq!(
            refused("minutes = 5", "minutes = 0"),
            "slot_types[0].minutes: must be at least 1"
        );
        assert_eq!(
            refused("clinician = \"dr-okafor\"", "clinician = \"dr-nobody\""),
            "sessions[2].clinician: \"dr-nobody\" is not defined"
        );
        assert_eq!(
            refused("start = \"09:00\"", "start = \"9am\""),
            "sessions[0].start: \"9am\" is not a time written as HH:MM"
        );
        assert_eq!(
            refused("end = \"12:00\"", "end = \"09:00\""),
            "sessions[0]: start must be before end"
        );
        // toml names the line and column of what it cannot read.
        assert_eq!(
            refused("weekday = \"monday\"", "weekday = \"someday\""),
            "TOML parse error at line 40, column 11\n   |\n40 | weekday = \"someday\"\n   |           ^^^^^^^^^\nshort or long weekday names expected\n"
        );
    }

    #[tokio::test]
    async fn a_slot_is_booked_once_a_retry_gets_the_same_appointment_and_a_cancel_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FakeClock::at(
            Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap(),
        ));
        let pool = crate::embedded::open_pool(dir.path(), crate::embedded::Database::Simulators)
            .await
            .unwrap();
        let book = SimulatedAppointmentBook::new(
            Arc::new(SqliteBookingRows::new(pool)),
            &bundled(),
            clock,
        );
        let slots = bundled().slots(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        let request = |slot: &str, key: &str| BookingRequest {
            slot: slots
                .iter()
                .find(|s| &*s.slot_id == slot)
                .cloned()
                .unwrap_or_else(|| Slot {
                    slot_id: slot.into(),
                    ..slots[0].clone()
                }),
            nhs_number: "9434765919".into(),
            idempotency_key: key.into(),
        };
        let slot = "2026-11-23-0905-nurse-patel-flu";
        let first = book.book(&request(slot, "invite-1")).await.unwrap();
        assert_eq!(book.book(&request(slot, "invite-1")).await.unwrap(), first);
        assert_eq!(
            book.book(&request(slot, "invite-2")).await,
            Err(BookError::SlotTaken)
        );
        // The 9th slot of the book is blocked; an unknown one is refused.
        assert_eq!(
            book.book(&request("2026-11-23-0940-nurse-patel-flu", "invite-3"))
                .await,
            Err(BookError::NotBookable)
        );
        assert_eq!(
            book.book(&request("2026-11-23-0901-nurse-patel-flu", "invite-3"))
                .await,
            Err(BookError::UnknownSlot)
        );
        let search = SlotSearch {
            slot_type: "flu".into(),
            from: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2026, 11, 23, 9, 15, 0).unwrap(),
            clinicians: vec![],
            channel: None,
            location: None,
            other_sites: vec![],
        };
        let found = book.search(&search).await.unwrap();
        assert_eq!(
            found
                .iter()
                .map(|s| (&*s.slot_id, s.busy))
                .collect::<Vec<_>>(),
            [
                ("2026-11-23-0900-nurse-patel-flu", false),
                ("2026-11-23-0905-nurse-patel-flu", true),
                ("2026-11-23-0910-nurse-patel-flu", false),
            ]
        );
        book.cancel(&first.appointment_id).await.unwrap();
        book.cancel(&first.appointment_id).await.unwrap();
        let again = book.book(&request(slot, "invite-2")).await.unwrap();
        assert_ne!(again.appointment_id, first.appointment_id);
    }
}
