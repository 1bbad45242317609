//! Message content: templates with GOV.UK Notify-style placeholders
//! (`((name))`, `((link))`), and how long a text message is in SMS
//! fragments, so that staff see the cost before they send.

use std::sync::OnceLock;

use regex::Regex;

/// Filled with the patient's given name.
pub const NAME: &str = "((name))";
/// Filled with the patient's own link.
pub const LINK: &str = "((link))";
/// The longest text message Batchbook sends: six fragments of 153.
pub const MAX_SMS_CHARACTERS: usize = 918;
/// What a questionnaire's reminder says before the message itself.
pub const REMINDER_PREFIX: &str = "Reminder: ";
/// What `((name))` becomes when the list gives no name, so a message never
/// reads "Dear ,".
const NO_NAME: &str = "patient";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the message is empty")]
    Empty,
    #[error(
        "the message has a placeholder Batchbook cannot fill: (({0})); the placeholders are ((name)) and ((link))"
    )]
    UnknownPlaceholder(String),
    #[error("the message has ((link)), but this batch has no link to give (no questionnaire, attachment or Self-Book invite)")]
    NothingToLinkTo,
    #[error("a batch with a questionnaire, an attachment or a Self-Book invite needs ((link)) in its message, where each patient's own link goes")]
    LinkMissing,
    #[error(
        "with \"{REMINDER_PREFIX}\" in front, this questionnaire's reminders would be {characters} characters long once filled in; a text message can be at most {MAX_SMS_CHARACTERS}"
    )]
    ReminderTooLong { characters: usize },
    #[error(
        "the message is {characters} characters long once filled in; a text message can be at most {MAX_SMS_CHARACTERS}"
    )]
    TooLong { characters: usize },
    #[error(
        "the message takes {fragments} text message fragments once filled in; this kind of batch allows at most {max}"
    )]
    TooManyFragments { fragments: usize, max: usize },
}

/// A message template whose placeholders are all ones Batchbook fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

fn placeholders() -> &'static Regex {
    static PLACEHOLDER: OnceLock<Regex> = OnceLock::new();
    PLACEHOLDER.get_or_init(|| Regex::new(r"\(\(([^()]*)\)\)").expect("placeholder pattern"))
}

impl Template {
    pub fn parse(raw: &str) -> Result<Self, TemplateError> {
        if raw.trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        for found in placeholders().captures_iter(raw) {
            let name = &found[1];
            if name != "name" && name != "link" {
                return Err(TemplateError::UnknownPlaceholder(name.to_owned()));
            }
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn has_link(&self) -> bool {
        self.0.contains(LINK)
    }

    /// Fills the placeholders for one patient.
    pub fn render(&self, given_name: Option<&str>, link: Option<&str>) -> String {
        render(&self.0, given_name, link)
    }

    /// The longest this message can be once filled in, for a list whose
    /// longest given name has `longest_name` characters and links of
    /// `link_length` characters: what staff are shown before sending.
    pub fn worst_case(&self, longest_name: usize, link_length: usize) -> SmsLength {
        SmsLength::of(&self.worst_text(longest_name, link_length))
    }

    /// The longest a questionnaire's reminder (the message with
    /// [`REMINDER_PREFIX`] in front) can be, refused if over the limit.
    pub fn check_reminder(
        &self,
        longest_name: usize,
        link_length: usize,
    ) -> Result<SmsLength, TemplateError> {
        let reminder = format!(
            "{REMINDER_PREFIX}{}",
            self.worst_text(longest_name, link_length)
        );
        SmsLength::of(&reminder).check(None).map_err(|e| match e {
            TemplateError::TooLong { characters } => TemplateError::ReminderTooLong { characters },
            other => other,
        })
    }

    fn worst_text(&self, longest_name: usize, link_length: usize) -> String {
        let name = "x".repeat(longest_name.max(NO_NAME.len()));
        let link = "x".repeat(link_length);
        self.render(Some(&name), Some(&link))
    }
}

impl AsRef<str> for Template {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Fills `((name))` with the given name (or "patient") and `((link))` with
/// the link, where there is one.
pub fn render(template: &str, given_name: Option<&str>, link: Option<&str>) -> String {
    let text = template.replace(NAME, given_name.unwrap_or(NO_NAME));
    match link {
        Some(link) => text.replace(LINK, link),
        None => text,
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsEncoding {
    /// The GSM 03.38 alphabet: 160 characters in one fragment, 153 in each
    /// of several.
    Gsm7,
    /// Any character outside it makes the whole message UCS-2: 70, then 67.
    Ucs2,
}

/// How long a text message is, as the networks count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SmsLength {
    pub encoding: SmsEncoding,
    /// In GSM-7, extension characters (`€ [ ] { } \ ~ ^ |`) count two; in
    /// UCS-2, characters beyond the Basic Multilingual Plane count two.
    pub characters: usize,
    pub fragments: usize,
}

impl SmsLength {
    pub fn of(text: &str) -> Self {
        let gsm: Option<usize> = text.chars().map(gsm_septets).sum();
        let (encoding, characters, single, each) = match gsm {
            Some(septets) => (SmsEncoding::Gsm7, septets, 160, 153),
            None => (SmsEncoding::Ucs2, text.encode_utf16().count(), 70, 67),
        };
        let fragments = match characters {
            0 => 0,
            n if n <= single => 1,
            n => n.div_ceil(each),
        };
        Self {
            encoding,
            characters,
            fragments,
        }
    }

    /// Refuses a message longer than any text message Batchbook sends, or
    /// than `max_fragments` where a kind of batch limits it.
    pub fn check(self, max_fragments: Option<usize>) -> Result<Self, TemplateError> {
        if self.characters > MAX_SMS_CHARACTERS {
            return Err(TemplateError::TooLong {
                characters: self.characters,
            });
        }
        match max_fragments {
            Some(max) if self.fragments > max => Err(TemplateError::TooManyFragments {
                fragments: self.fragments,
                max,
            }),
            _ => Ok(self),
        }
    }
}

/// Septets a character takes in GSM-7, or `None` if GSM-7 cannot carry it.
fn gsm_septets(c: char) -> Option<usize> {
    const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const EXTENSION: &str = "\u{c}^{}\\[~]|€";
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_placeholder_is_filled() {
        let t = Template::parse("Dear ((name)), hi").unwrap();
        assert_eq!(t.render(Some("Joe"), None), "Dear Joe, hi");
        assert_eq!(t.render(None, None), "Dear patient, hi");
        assert_eq!(
            render("No placeholder", Some("Joe"), None),
            "No placeholder"
        );
        let t = Template::parse("Answer at ((link))").unwrap();
        assert!(t.has_link());
        assert_eq!(
            t.render(None, Some("https://x/l/abc")),
            "Answer at https://x/l/abc"
        );
    }

    #[test]
    fn unknown_and_empty_templates_are_refused_with_their_reason() {
        assert_eq!(
            Template::parse("Dear ((first name))"),
            Err(TemplateError::UnknownPlaceholder("first name".into()))
        );
        assert_eq!(
            Template::parse("Dear ((first name))").unwrap_err().to_string(),
            "the message has a placeholder Batchbook cannot fill: ((first name)); the placeholders are ((name)) and ((link))"
        );
        assert_eq!(Template::parse("  \n"), Err(TemplateError::Empty));
    }

    #[test]
    fn gsm_text_is_160_in_one_fragment_and_153_after() {
        let len = |n| SmsLength::of(&"a".repeat(n));
        assert_eq!(
            len(160),
            SmsLength {
                encoding: SmsEncoding::Gsm7,
                characters: 160,
                fragments: 1
            }
        );
        assert_eq!(len(161).fragments, 2);
        assert_eq!(len(306).fragments, 2);
        assert_eq!(len(307).fragments, 3);
        assert_eq!(len(918).fragments, 6);
        assert_eq!(SmsLength::of("").fragments, 0);
        // The GSM alphabet's own accented letters and Greek capitals stay GSM.
        assert_eq!(SmsLength::of("é à Ä ß Δ £").encoding, SmsEncoding::Gsm7);
    }

    #[test]
    fn extension_characters_count_two() {
        let text = format!("{}€", "a".repeat(158));
        let len = SmsLength::of(&text);
        assert_eq!(len.encoding, SmsEncoding::Gsm7);
        assert_eq!(len.characters, 160);
        assert_eq!(len.fragments, 1);
        let text = format!("{}[]", "a".repeat(158));
        assert_eq!(SmsLength::of(&text).characters, 162);
        assert_eq!(SmsLength::of(&text).fragments, 2);
    }

    #[test]
    fn a_welsh_circumflex_makes_the_message_ucs2() {
        let text = format!("Croeso i'r feddygfa, ŵyr{}", "a".repeat(46));
        let len = SmsLength::of(&text);
        assert_eq!(len.encoding, SmsEncoding::Ucs2);
        assert_eq!(len.characters, 70);
        assert_eq!(len.fragments, 1);
        let text = format!("ŵ{}", "a".repeat(70));
        assert_eq!(SmsLength::of(&text).fragments, 2);
        let text = format!("ŵ{}", "a".repeat(134));
        assert_eq!(SmsLength::of(&text).characters, 135);
        assert_eq!(SmsLength::of(&text).fragments, 3);
        // An emoji is two UTF-16 code units.
        assert_eq!(SmsLength::of("👍").characters, 2);
    }

    #[test]
    fn limits_are_refused_with_the_figures() {
        assert_eq!(
            SmsLength::of(&"a".repeat(919)).check(None),
            Err(TemplateError::TooLong { characters: 919 })
        );
        assert_eq!(
            SmsLength::of(&"a".repeat(919))
                .check(None)
                .unwrap_err()
                .to_string(),
            "the message is 919 characters long once filled in; a text message can be at most 918"
        );
        assert_eq!(
            SmsLength::of(&"a".repeat(918))
                .check(None)
                .unwrap()
                .fragments,
            6
        );
        assert_eq!(
            SmsLength::of(&"a".repeat(307)).check(Some(2)),
            Err(TemplateError::TooManyFragments {
                fragments: 3,
                max: 2
            })
        );
    }

    #[test]
    fn the_worst_case_uses_the_longest_name() {
        let t = Template::parse("Dear ((name))").unwrap();
        assert_eq!(t.worst_case(10, 0).characters, 15);
        // Never shorter than the "patient" stand-in.
        assert_eq!(t.worst_case(2, 0).characters, 12);
    }
}
