//! An email address, checked by GOV.UK Notify's rules (notifications-utils'
//! `validate_email_address`): allowed local-part characters, a hostname of
//! at least two labels, each a letter-or-digit run joined by single or
//! double hyphens (so `xn--` punycode passes), a top-level domain of 2 to 63
//! letters or punycode, 320 characters at most, no `..`.
//!
//! One difference: Notify turns a Unicode hostname into punycode before
//! checking it; here such an address is refused, so a list must write the
//! hostname as `xn--…`. GP lists seen so far carry none.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailAddressError {
    #[error("no email address was given")]
    Missing,
    #[error("the email address is not in a valid format")]
    Invalid,
}

const LOCAL_PUNCTUATION: &str = ".!#$%&'*+/=?^_`{|}~-";

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, EmailAddressError> {
        // Notify strips surrounding white space and the invisible characters
        // spreadsheets leave behind.
        let email: String = raw
            .trim()
            .chars()
            .filter(|c| {
                !matches!(
                    c,
                    '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
                )
            })
            .collect();
        if email.is_empty() {
            return Err(EmailAddressError::Missing);
        }
        let invalid = Err(EmailAddressError::Invalid);
        if email.len() > 320 || email.contains("..") {
            return invalid;
        }
        let Some((local, hostname)) = email.split_once('@') else {
            return invalid;
        };
        let local_ok = !local.is_empty()
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || LOCAL_PUNCTUATION.contains(c));
        if !local_ok || hostname.is_empty() || hostname.starts_with('.') || hostname.contains('@') {
            return invalid;
        }
        if hostname.chars().any(char::is_whitespace) || hostname.len() > 253 {
            return invalid;
        }
        let labels: Vec<&str> = hostname.split('.').collect();
        if labels.len() < 2 {
            return invalid;
        }
        let (tld, parts) = labels.split_last().expect("two labels");
        if !parts.iter().all(|p| is_hostname_part(p)) || !is_tld(tld) {
            return invalid;
        }
        Ok(Self(email))
    }
}

/// `^(xn|[a-z0-9]+)(-?-[a-z0-9]+)*$`, case-insensitive, at most 63 long.
fn is_hostname_part(part: &str) -> bool {
    if part.is_empty() || part.len() > 63 {
        return false;
    }
    let lower = part.to_ascii_lowercase();
    let mut runs = lower.split('-');
    let first = runs.next().unwrap_or_default();
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    // After the first run: runs joined by one or two hyphens, never three,
    // never a trailing hyphen.
    let mut empty_in_a_row = 0;
    for run in runs {
        if run.is_empty() {
            empty_in_a_row += 1;
            if empty_in_a_row > 1 {
                return false;
            }
        } else if run.bytes().all(|b| b.is_ascii_alphanumeric()) {
            empty_in_a_row = 0;
        } else {
            return false;
        }
    }
    !lower.ends_with('-')
}

/// `^([a-z]{2,63}|xn--([a-z0-9]+-)*[a-z0-9]+)$`, case-insensitive.
fn is_tld(tld: &str) -> bool {
    let lower = tld.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("xn--") {
        return !rest.is_empty()
            && rest
                .split('-')
                .all(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
    (2..=63).contains(&lower.len()) && lower.bytes().all(|b| b.is_ascii_alphabetic())
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_notify_accepts_parse() {
        for raw in [
            "joe@example.com",
            "firstname-o'surname@domain.com",
            "first.last+tag@nhs.net",
            "JOE@EXAMPLE.CO.UK",
            "x@xn--bcher-kva.example",
            "a@b--c.com",
            "user@example.xn--p1ai",
            " joe@example.com\u{200B} ",
        ] {
            assert!(EmailAddress::parse(raw).is_ok(), "{raw:?}");
        }
        assert_eq!(
            EmailAddress::parse(" joe@example.com ").unwrap().as_ref(),
            "joe@example.com"
        );
    }

    #[test]
    fn addresses_notify_refuses_are_invalid() {
        for raw in [
            "joe",
            "joe@",
            "@example.com",
            "joe@example",
            "joe@@example.com",
            "joe@example..com",
            "jo..e@example.com",
            "joe@.example.com",
            "joe@example.c",
            "joe@example.123",
            "joe@-example.com",
            "joe@example-.com",
            "joe@ex---ample.com",
            "jo e@example.com",
            "joe@exa mple.com",
            "joé@example.com",
            "joe(comment)@example.com",
        ] {
            assert_eq!(
                EmailAddress::parse(raw),
                Err(EmailAddressError::Invalid),
                "{raw:?}"
            );
        }
        assert_eq!(EmailAddress::parse("  "), Err(EmailAddressError::Missing));
        let long = format!("{}@example.com", "a".repeat(320));
        assert_eq!(EmailAddress::parse(&long), Err(EmailAddressError::Invalid));
    }
}
