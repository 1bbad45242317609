//! An organisation's settings: its sending window, the contact patients
//! are shown on links that cannot be used, the shared sites Self-Book may
//! book into, and whether failed mobiles are flagged. Checked, then kept
//! as an event on the organisation's Organisation aggregate, so who changed
//! what, and when, is in the history; settings kept before that (a JSON
//! document in the blob store) are still read until first changed.

use cqrs_es::persist::PersistedEventRepository;

use crate::usecases::Role;
use serde::{Deserialize, Serialize};

use super::{keys, Batchbook, BatchbookError, Caller, CommandError};
use crate::aggregates::OrganisationCommand;
use crate::policies::SendingWindow;
use crate::ports::PortError;
use crate::values::{one_line, text, OrganisationId};
use events::SettingsRecord;

/// An organisation's choices about its lists and its sending.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganisationSettings {
    /// Refuse mobiles whose messages from this organisation failed for good
    /// in the last 3 months, as `mobile_likely_to_fail`.
    #[serde(default)]
    pub flag_mobiles_likely_to_fail: bool,
    /// When SMS and NHS App messages may leave (08:00 to 20:00
    /// Europe/London unless changed).
    #[serde(default)]
    pub sending_window: SendingWindow,
    /// How patients reach the practice: shown on a link that was withdrawn,
    /// has expired or is locked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<PracticeContact>,
    /// Other organisations' sites (ids in the appointment book, such as a
    /// shared hub) Self-Book invites may book into.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_sites: Vec<String>,
    /// How patients may reply to a conversation's message that allows it.
    #[serde(default)]
    pub replies: ReplySettings,
}

/// The longest reply a patient may send, in characters, by default: room
/// for a few sentences about symptoms or a question (an SMS reply is often
/// one line), short enough that staff read it at a glance in the inbox.
pub const DEFAULT_REPLY_MAX_CHARS: u32 = 1000;
/// How long a reply link takes a reply, by default: two weeks, so a patient
/// who reads messages weekly has one, with time to spare; after that a
/// reply about an old message is better sent to a new one.
pub const DEFAULT_REPLY_VALID_DAYS: u32 = 14;
/// The bounds an organisation may set them within.
pub const REPLY_MAX_CHARS_RANGE: std::ops::RangeInclusive<u32> = 50..=5000;
pub const REPLY_VALID_DAYS_RANGE: std::ops::RangeInclusive<u32> = 1..=90;

/// How patients may reply to a conversation's message that allows a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplySettings {
    /// The longest reply, in characters.
    pub max_chars: u32,
    /// How many days after the message is written a reply is taken.
    pub valid_for_days: u32,
}

impl Default for ReplySettings {
    fn default() -> Self {
        Self {
            max_chars: DEFAULT_REPLY_MAX_CHARS,
            valid_for_days: DEFAULT_REPLY_VALID_DAYS,
        }
    }
}

impl ReplySettings {
    pub fn checked(self) -> Result<Self, String> {
        if !REPLY_MAX_CHARS_RANGE.contains(&self.max_chars) {
            return Err(format!(
                "replies.max_chars: must be from {} to {}",
                REPLY_MAX_CHARS_RANGE.start(),
                REPLY_MAX_CHARS_RANGE.end()
            ));
        }
        if !REPLY_VALID_DAYS_RANGE.contains(&self.valid_for_days) {
            return Err(format!(
                "replies.valid_for_days: must be from {} to {}",
                REPLY_VALID_DAYS_RANGE.start(),
                REPLY_VALID_DAYS_RANGE.end()
            ));
        }
        Ok(self)
    }
}

impl OrganisationSettings {
    /// The settings as they are kept: each text trimmed, or the field that
    /// cannot be kept named with the reason.
    pub fn checked(mut self) -> Result<Self, String> {
        self.sending_window = self.sending_window.check().map_err(|e| e.to_string())?;
        self.replies = self.replies.checked()?;
        if let Some(contact) = self.contact.take() {
            self.contact = Some(contact.checked()?);
        }
        if self.other_sites.len() > text::MAX_OTHER_SITES {
            return Err(format!(
                "other_sites: at most {} sites",
                text::MAX_OTHER_SITES
            ));
        }
        let mut sites = Vec::with_capacity(self.other_sites.len());
        for (n, site) in self.other_sites.iter().enumerate() {
            let site = one_line(site, text::BOOK_ID_CHARS)
                .map_err(|e| format!("other_sites[{n}]: {e}"))?;
            if site.is_empty() {
                return Err(format!("other_sites[{n}]: give the site's id"));
            }
            if sites.iter().any(|s: &String| s == site) {
                return Err(format!("other_sites[{n}]: \"{site}\" is listed twice"));
            }
            sites.push(site.to_owned());
        }
        self.other_sites = sites;
        Ok(self)
    }
}

impl PracticeContact {
    /// Shown to patients on withdrawn, expired and locked links, so each
    /// part is checked: a name, a phone number of digits, and a website
    /// that is a web address (never `javascript:` or the like).
    pub fn checked(self) -> Result<Self, String> {
        let name = one_line(&self.name, text::CONTACT_NAME_CHARS)
            .map_err(|e| format!("contact.name: {e}"))?;
        if name.is_empty() {
            return Err("contact.name: give the name patients know the practice by".into());
        }
        if name.contains(['<', '>']) {
            return Err("contact.name: may not contain < or >".into());
        }
        let phone = match self.phone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(phone) => {
                one_line(phone, text::CONTACT_PHONE_CHARS)
                    .map_err(|e| format!("contact.phone: {e}"))?;
                let allowed = |c: char| c.is_ascii_digit() || " +()-".contains(c);
                if !phone.chars().all(allowed)
                    || phone.chars().filter(char::is_ascii_digit).count() < 3
                {
                    return Err(
                        "contact.phone: write the number with digits, spaces and + ( ) - only, such as 01632 960000".into(),
                    );
                }
                Some(phone.to_owned())
            }
        };
        let website = match self.website.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(website) => {
                one_line(website, text::WEBSITE_CHARS)
                    .map_err(|e| format!("contact.website: {e}"))?;
                let web = url::Url::parse(website)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
                if web.is_none() {
                    return Err(
                        "contact.website: must be an http or https address, such as https://riverside.example".into(),
                    );
                }
                Some(website.to_owned())
            }
        };
        Ok(Self {
            name: name.to_owned(),
            phone,
            website,
        })
    }
}

/// How patients reach the practice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeContact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

/// The settings as the Organisation's events record them: the same fields,
/// in the same JSON shape, so the record reads back as it was written.
fn to_record(settings: &OrganisationSettings) -> Result<SettingsRecord, PortError> {
    serde_json::to_value(settings)
        .and_then(serde_json::from_value)
        .map_err(|e| PortError::new("settings record", e))
}

fn from_record(record: &SettingsRecord) -> Result<OrganisationSettings, PortError> {
    serde_json::to_value(record)
        .and_then(serde_json::from_value)
        .map_err(|e| PortError::new("settings record", e))
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// The organisation's settings: as its Organisation aggregate last
    /// recorded them, else as kept before settings were events (a JSON
    /// document in the blob store), else the defaults.
    pub(in crate::usecases) async fn settings_of(
        &self,
        org: &OrganisationId,
    ) -> Result<OrganisationSettings, PortError> {
        let organisation = self.organisations.load(org.as_ref()).await?;
        if let Some(record) = organisation.settings() {
            return from_record(record);
        }
        Ok(self
            .get_json(&keys::settings(org))
            .await?
            .unwrap_or_default())
    }

    /// The caller's organisation's settings.
    pub async fn settings(&self, caller: &Caller) -> Result<OrganisationSettings, BatchbookError> {
        Ok(self.settings_of(&caller.organisation_id).await?)
    }

    /// Replaces the caller's organisation's settings (admins only): an
    /// event on the organisation, with the admin as its actor.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id, actor = %caller.actor))]
    pub async fn update_settings(
        &self,
        caller: &Caller,
        settings: OrganisationSettings,
    ) -> Result<OrganisationSettings, BatchbookError> {
        caller.require(Role::Admin)?;
        let settings = settings.checked().map_err(BatchbookError::InvalidRequest)?;
        let command = OrganisationCommand::ChangeSettings {
            organisation_id: caller.organisation_id.to_string(),
            settings: to_record(&settings)?,
            now: self.ports.clock.now(),
        };
        self.organisations
            .execute(
                caller.organisation_id.as_ref(),
                command,
                self.metadata(caller),
            )
            .await
            .map_err(|e| match e {
                CommandError::Conflict => BatchbookError::Conflict,
                other => BatchbookError::Unavailable(other.to_string()),
            })?;
        tracing::info!(
            flag_mobiles_likely_to_fail = settings.flag_mobiles_likely_to_fail,
            opens = %settings.sending_window.opens,
            closes = %settings.sending_window.closes,
            time_zone = %settings.sending_window.time_zone,
            "organisation settings changed"
        );
        Ok(settings)
    }
}
