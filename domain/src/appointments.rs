//! The appointment book (issue 6), modelled on GP Connect Appointment
//! Management: slots a practice offers, and booking or cancelling one.
//! Patients book through Self-Book links; the port has a simulated book
//! locally and a GP Connect client in production.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use events::AppointmentChannel;

/// Why a slot cannot be booked, when it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotRestriction {
    /// Held back by the practice (a clinician's admin time, say).
    Blocked,
    /// Released for booking only nearer the day.
    Embargoed,
}

/// One slot in the book. Its words are shared (`Arc<str>`): a search
/// answers hundreds of slots, each a copy of the book's, and a copy then
/// counts references instead of allocating eight strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub slot_id: Arc<str>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub slot_type: Arc<str>,
    /// The clinician's id in the book.
    pub clinician: Arc<str>,
    /// As the patient is told: "Nurse Patel".
    pub clinician_name: Arc<str>,
    /// The location's id in the book.
    pub location: Arc<str>,
    /// As the patient is told: "Riverside Surgery, 1 High Street".
    pub location_name: Arc<str>,
    /// The ODS code of the organisation the location belongs to, when it is
    /// not the practice's own (a hub, or a neighbouring practice's site).
    pub location_organisation: Option<Arc<str>>,
    pub channel: AppointmentChannel,
    /// Someone is booked into it.
    pub busy: bool,
    /// Blocked or embargoed slots are in the book but cannot be booked.
    pub restriction: Option<SlotRestriction>,
}

impl Slot {
    pub fn bookable(&self) -> bool {
        !self.busy && self.restriction.is_none()
    }
}

/// Which slots a search wants: of one type, starting within a window,
/// optionally with given clinicians or by one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotSearch {
    pub slot_type: String,
    pub from: DateTime<Utc>,
    /// Slots starting before this.
    pub to: DateTime<Utc>,
    /// Empty for any clinician.
    pub clinicians: Vec<String>,
    pub channel: Option<AppointmentChannel>,
    /// Only slots at this location.
    pub location: Option<String>,
    /// Other organisations' sites this search may offer; the practice's own
    /// are always offered.
    pub other_sites: Vec<String>,
}

impl SlotSearch {
    /// Whether `slot` is one this search wants and anyone may book now.
    pub fn offers(&self, slot: &Slot) -> bool {
        slot.bookable()
            && *slot.slot_type == *self.slot_type
            && slot.start >= self.from
            && slot.start < self.to
            && (self.clinicians.is_empty() || holds(&self.clinicians, &slot.clinician))
            && self.channel.is_none_or(|c| c == slot.channel)
            && self
                .location
                .as_deref()
                .is_none_or(|l| *l == *slot.location)
            && (slot.location_organisation.is_none() || holds(&self.other_sites, &slot.location))
    }
}

/// Whether `words` (a search's or a catalogue's, owned) holds `word` (a
/// slot's, shared).
fn holds(words: &[String], word: &str) -> bool {
    words.iter().any(|w| w == word)
}

/// How many bookable slots a search finds, in all and per clinician: what
/// staff check before sending a Self-Book batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Availability {
    pub bookable: u64,
    pub by_clinician: BTreeMap<String, u64>,
}

pub fn availability<'a>(
    slots: impl IntoIterator<Item = &'a Slot>,
    search: &SlotSearch,
) -> Availability {
    let mut found = Availability::default();
    for slot in slots.into_iter().filter(|s| search.offers(s)) {
        found.bookable += 1;
        *found
            .by_clinician
            .entry(slot.clinician.to_string())
            .or_default() += 1;
    }
    found
}

pub use crate::ports::{AppointmentBook, BookError, BookedAppointment, BookingRequest};

/// What the appointment book holds, as staff pick from it to set up
/// Self-Book: its slot types, clinicians and locations. GP Connect has no
/// catalogue call, so this is read from a slot search.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Catalogue {
    pub slot_types: Vec<SlotTypeEntry>,
    pub clinicians: Vec<ClinicianEntry>,
    pub locations: Vec<LocationEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotTypeEntry {
    pub slot_type: String,
    /// The ways its slots are held, in the book's order of first sight.
    pub channels: Vec<AppointmentChannel>,
    /// Of the slots seen, those anyone may book now.
    pub bookable: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClinicianEntry {
    pub clinician: String,
    pub name: String,
    /// The slot types they hold.
    pub slot_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocationEntry {
    pub location: String,
    pub name: String,
    /// The ODS code of the organisation it belongs to, when it is not the
    /// practice's own.
    pub organisation: Option<String>,
}

/// The catalogue of these slots: every slot type, clinician and location
/// they name, each once and sorted by name, leaving out other
/// organisations' sites (and their slots) unless `other_sites` allows them.
pub fn catalogue<'a>(
    slots: impl IntoIterator<Item = &'a Slot>,
    other_sites: &[String],
) -> Catalogue {
    let mut types: BTreeMap<&str, SlotTypeEntry> = BTreeMap::new();
    let mut clinicians: BTreeMap<&str, ClinicianEntry> = BTreeMap::new();
    let mut locations: BTreeMap<&str, LocationEntry> = BTreeMap::new();
    for slot in slots {
        if slot.location_organisation.is_some() && !holds(other_sites, &slot.location) {
            continue;
        }
        let entry = types
            .entry(&slot.slot_type)
            .or_insert_with(|| SlotTypeEntry {
                slot_type: slot.slot_type.to_string(),
                channels: Vec::new(),
                bookable: 0,
            });
        if !entry.channels.contains(&slot.channel) {
            entry.channels.push(slot.channel);
        }
        entry.bookable += u64::from(slot.bookable());
        let clinician = clinicians
            .entry(&slot.clinician)
            .or_insert_with(|| ClinicianEntry {
                clinician: slot.clinician.to_string(),
                name: slot.clinician_name.to_string(),
                slot_types: Vec::new(),
            });
        if !holds(&clinician.slot_types, &slot.slot_type) {
            clinician.slot_types.push(slot.slot_type.to_string());
            clinician.slot_types.sort();
        }
        locations
            .entry(&slot.location)
            .or_insert_with(|| LocationEntry {
                location: slot.location.to_string(),
                name: slot.location_name.to_string(),
                organisation: slot.location_organisation.as_deref().map(str::to_owned),
            });
    }
    let mut clinicians: Vec<ClinicianEntry> = clinicians.into_values().collect();
    clinicians.sort_by(|a, b| (&a.name, &a.clinician).cmp(&(&b.name, &b.clinician)));
    let mut locations: Vec<LocationEntry> = locations.into_values().collect();
    locations.sort_by(|a, b| (&a.name, &a.location).cmp(&(&b.name, &b.location)));
    Catalogue {
        slot_types: types.into_values().collect(),
        clinicians,
        locations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0).unwrap()
    }

    fn slot(id: &str, hour: u32, clinician: &str) -> Slot {
        Slot {
            slot_id: id.into(),
            start: at(hour),
            end: at(hour) + chrono::Duration::minutes(10),
            slot_type: "flu".into(),
            clinician: clinician.into(),
            clinician_name: clinician.into(),
            location: "main".into(),
            location_name: "Main Surgery".into(),
            location_organisation: None,
            channel: AppointmentChannel::InPerson,
            busy: false,
            restriction: None,
        }
    }

    #[test]
    fn the_catalogue_names_each_type_clinician_and_site_once_and_only_allowed_hubs() {
        let mut slots = vec![
            slot("a", 9, "nurse-b"),
            Slot {
                busy: true,
                ..slot("b", 10, "dr-a")
            },
            Slot {
                slot_type: "review".into(),
                channel: AppointmentChannel::Telephone,
                ..slot("c", 11, "dr-a")
            },
            Slot {
                slot_type: "review".into(),
                channel: AppointmentChannel::Video,
                ..slot("d", 12, "dr-a")
            },
        ];
        slots.push(Slot {
            location: "hub".into(),
            location_name: "PCN Hub".into(),
            location_organisation: Some("B81001".into()),
            slot_type: "hub-only".into(),
            ..slot("e", 13, "dr-hub")
        });
        let found = catalogue(&slots, &[]);
        assert_eq!(
            found.slot_types,
            vec![
                SlotTypeEntry {
                    slot_type: "flu".into(),
                    channels: vec![AppointmentChannel::InPerson],
                    bookable: 1,
                },
                SlotTypeEntry {
                    slot_type: "review".into(),
                    channels: vec![AppointmentChannel::Telephone, AppointmentChannel::Video],
                    bookable: 2,
                },
            ]
        );
        assert_eq!(
            found
                .clinicians
                .iter()
                .map(|c| (c.clinician.as_str(), c.slot_types.clone()))
                .collect::<Vec<_>>(),
            vec![
                ("dr-a", vec!["flu".to_owned(), "review".to_owned()]),
                ("nurse-b", vec!["flu".to_owned()]),
            ]
        );
        assert_eq!(
            found.locations,
            vec![LocationEntry {
                location: "main".into(),
                name: "Main Surgery".into(),
                organisation: None,
            }]
        );
        let with_hub = catalogue(&slots, &["hub".to_owned()]);
        assert_eq!(with_hub.slot_types.len(), 3);
        assert_eq!(
            with_hub.locations[1],
            LocationEntry {
                location: "hub".into(),
                name: "PCN Hub".into(),
                organisation: Some("B81001".into()),
            }
        );
        assert!(with_hub.clinicians.iter().any(|c| c.clinician == "dr-hub"));
    }

    #[test]
    fn availability_counts_bookable_slots_of_the_type_in_the_window_per_clinician() {
        let mut slots = vec![
            slot("a", 9, "dr-a"),
            slot("b", 10, "dr-a"),
            slot("c", 10, "nurse-b"),
            slot("d", 12, "nurse-b"),
        ];
        slots.push(Slot {
            busy: true,
            ..slot("busy", 9, "dr-a")
        });
        slots.push(Slot {
            restriction: Some(SlotRestriction::Blocked),
            ..slot("blocked", 9, "dr-a")
        });
        slots.push(Slot {
            restriction: Some(SlotRestriction::Embargoed),
            ..slot("embargoed", 9, "dr-a")
        });
        slots.push(Slot {
            slot_type: "smear".into(),
            ..slot("smear", 9, "dr-a")
        });
        slots.push(Slot {
            channel: AppointmentChannel::Telephone,
            ..slot("phone", 9, "dr-a")
        });
        let mut search = SlotSearch {
            slot_type: "flu".into(),
            from: at(9),
            to: at(12),
            clinicians: vec![],
            channel: Some(AppointmentChannel::InPerson),
            location: None,
            other_sites: vec![],
        };
        assert_eq!(
            availability(&slots, &search),
            Availability {
                bookable: 3,
                by_clinician: BTreeMap::from([("dr-a".into(), 2), ("nurse-b".into(), 1)]),
            }
        );
        search.clinicians = vec!["nurse-b".into()];
        search.to = at(13);
        assert_eq!(
            availability(&slots, &search),
            Availability {
                bookable: 2,
                by_clinician: BTreeMap::from([("nurse-b".into(), 2)]),
            }
        );
        search.channel = None;
        search.clinicians = vec![];
        assert_eq!(availability(&slots, &search).bookable, 5);
    }
}
