//! Short text a person types into one field: a batch's name, an email
//! subject, the practice's name as patients know it. Each is one line and
//! no longer than a limit no real practice meets; the limits stand here
//! together so they can be reviewed in one place. A longer value is
//! refused, never cut: what was typed is either kept whole or not at all.

/// A batch's or an individual invite's name, as staff call it.
pub const NAME_CHARS: usize = 100;
/// An email's subject line.
pub const EMAIL_SUBJECT_CHARS: usize = 200;
/// A patient's given name, typed for an individual invite.
pub const GIVEN_NAME_CHARS: usize = 100;
/// The practice's name, as a withdrawn or expired link shows it.
pub const CONTACT_NAME_CHARS: usize = 100;
/// The practice's phone number, as patients dial it.
pub const CONTACT_PHONE_CHARS: usize = 30;
/// The practice's website address.
pub const WEBSITE_CHARS: usize = 200;
/// An id in the appointment book: a slot type, a clinician, a site.
pub const BOOK_ID_CHARS: usize = 64;
/// Other organisations' sites a practice may book into.
pub const MAX_OTHER_SITES: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("is longer than {0} characters")]
    TooLong(usize),
    #[error("must be one line, without control characters")]
    NotOneLine,
}

/// `raw` trimmed, if it is one line of at most `max_chars` characters.
pub fn one_line(raw: &str, max_chars: usize) -> Result<&str, TextError> {
    let text = raw.trim();
    if text.chars().count() > max_chars {
        return Err(TextError::TooLong(max_chars));
    }
    if text.chars().any(char::is_control) {
        return Err(TextError::NotOneLine);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_is_trimmed_bounded_in_characters_and_has_no_control_characters() {
        assert_eq!(one_line("  Flu clinic ", NAME_CHARS), Ok("Flu clinic"));
        assert_eq!(
            one_line(&"ŵ".repeat(100), NAME_CHARS).map(str::len),
            Ok(200)
        );
        assert_eq!(
            one_line(&"ŵ".repeat(101), NAME_CHARS),
            Err(TextError::TooLong(100))
        );
        assert_eq!(
            one_line("Flu\nclinic", NAME_CHARS),
            Err(TextError::NotOneLine)
        );
        assert_eq!(one_line("Flu\u{7}", NAME_CHARS), Err(TextError::NotOneLine));
        assert_eq!(
            TextError::TooLong(100).to_string(),
            "is longer than 100 characters"
        );
    }
}
