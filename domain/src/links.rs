//! Patient links: the token in a message, what is stored about it (only
//! hashes), the date-of-birth check and the short session it opens.
//!
//! A link's token is derived, not drawn: 128 bits of HMAC-SHA256 under the
//! deployment's link key, over the organisation, batch, row and purpose.
//! The same patient's link is therefore the same in the first message, its
//! SMS fallback, its reminders and the copy saved to the record, and a
//! retry after a crash sends the link that was registered, never a second
//! one. Without the key the tokens are unpredictable; the key never leaves
//! the process, and the store keeps only SHA-256 of each token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Bytes of MAC in a token: 128 bits.
const TOKEN_BYTES: usize = 16;
/// A token as it appears in a link: 128 bits, base64url without padding.
pub const TOKEN_LENGTH: usize = 22;
/// Wrong dates of birth before a link locks for good.
pub const MAX_IDENTITY_ATTEMPTS: u32 = 5;
/// How long a passed date-of-birth check lets the page act for the patient.
pub const SESSION_MINUTES: i64 = 30;

/// How long an attachment's link opens it, from the first message: long
/// enough to come back to a leaflet, short enough not to live for ever.
pub const ATTACHMENT_LINK_DAYS: i64 = 30;

/// What a link opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkPurpose {
    Questionnaire,
    /// The batch's attachment: a file every patient of the batch opens.
    Attachment,
    /// A Self-Book invite: the patient books (or declines) an appointment.
    Invite,
    /// A conversation's message: its attachment, and its one reply when
    /// allowed. Its record names the conversation (as `batch_id`) and the
    /// message (as `row`).
    Message,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Questionnaire => "questionnaire",
            Self::Attachment => "attachment",
            Self::Invite => "invite",
            Self::Message => "message",
        }
    }
}

/// The deployment's secret for deriving link tokens and signing sessions.
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkKeyError {
    #[error("the link key must be 64 hexadecimal characters (32 random bytes)")]
    NotHex,
    #[error("the link key secret must be at least {MIN_SECRET_LENGTH} characters")]
    SecretTooShort,
}

/// The shortest secret string a key is derived from (Secrets Manager
/// generates 64 letters and digits).
pub const MIN_SECRET_LENGTH: usize = 32;

impl LinkKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn parse_hex(raw: &str) -> Result<Self, LinkKeyError> {
        let bytes = hex::decode(raw.trim()).map_err(|_| LinkKeyError::NotHex)?;
        Ok(Self(bytes.try_into().map_err(|_| LinkKeyError::NotHex)?))
    }

    /// A key from a generated secret string (as Secrets Manager keeps it):
    /// SHA-256 of the secret.
    pub fn from_secret(secret: &str) -> Result<Self, LinkKeyError> {
        if secret.chars().count() < MIN_SECRET_LENGTH {
            return Err(LinkKeyError::SecretTooShort);
        }
        Ok(Self(Sha256::digest(secret.as_bytes()).into()))
    }

    fn mac(&self, parts: &[&str]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        for part in parts {
            // Length-prefixed, so no two part lists give the same input.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// The token in one patient's link.
    pub fn token(
        &self,
        organisation_id: &str,
        batch_id: &str,
        row: u64,
        purpose: LinkPurpose,
    ) -> String {
        let mac = self.mac(&[
            "link/v1",
            organisation_id,
            batch_id,
            &row.to_string(),
            purpose.as_str(),
        ]);
        URL_SAFE_NO_PAD.encode(&mac[..TOKEN_BYTES])
    }

    /// What the store keeps to check a date of birth against: keyed, so the
    /// few thousand possible dates cannot be tried offline.
    pub fn date_of_birth_check(&self, token_sha256: &str, date_of_birth: NaiveDate) -> String {
        hex::encode(self.mac(&["dob/v1", token_sha256, &date_of_birth.to_string()]))
    }

    /// Whether `date_of_birth` is the one `check` was made from, compared in
    /// constant time.
    pub fn date_of_birth_matches(
        &self,
        token_sha256: &str,
        date_of_birth: NaiveDate,
        check: &str,
    ) -> bool {
        let expected = self.mac(&["dob/v1", token_sha256, &date_of_birth.to_string()]);
        hex::decode(check).is_ok_and(|given| same(&expected, &given))
    }

    /// A session for the link, proving a passed date-of-birth check until
    /// `expires_at`: `<unix seconds>.<MAC>`. Nothing is stored.
    pub fn session(&self, token_sha256: &str, expires_at: DateTime<Utc>) -> String {
        let expiry = expires_at.timestamp().to_string();
        let mac = self.mac(&["session/v1", token_sha256, &expiry]);
        format!("{expiry}.{}", URL_SAFE_NO_PAD.encode(&mac[..TOKEN_BYTES]))
    }

    /// Whether `session` was issued for this link and has not expired.
    pub fn session_is_valid(&self, token_sha256: &str, session: &str, now: DateTime<Utc>) -> bool {
        let Some((expiry, given)) = session.split_once('.') else {
            return false;
        };
        let Ok(expires) = expiry.parse::<i64>() else {
            return false;
        };
        let Ok(given) = URL_SAFE_NO_PAD.decode(given) else {
            return false;
        };
        let expected = self.mac(&["session/v1", token_sha256, expiry]);
        same(&expected[..TOKEN_BYTES], &given) && now.timestamp() < expires
    }
}

/// Equal bytes, compared in constant time.
fn same(expected: &[u8], given: &[u8]) -> bool {
    expected.len() == given.len() && bool::from(subtle::ConstantTimeEq::ct_eq(expected, given))
}

/// Whether a path segment could be a token at all (so a typo is "not found"
/// without a look-up).
pub fn is_token_shaped(token: &str) -> bool {
    token.len() == TOKEN_LENGTH
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the store keys a link by: hex SHA-256 of its token.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What the link directory keeps about one link. No token, no patient data:
/// the token's hash, whose link it is (by list row), and a keyed check of
/// the date of birth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRecord {
    pub token_sha256: String,
    pub organisation_id: String,
    pub batch_id: String,
    pub row: u64,
    pub purpose: LinkPurpose,
    /// `None` when the list gave no date of birth: such a link cannot be
    /// opened, and the page says to contact the practice.
    pub date_of_birth_check: Option<String>,
}

/// The whole URL a patient is sent.
pub fn url(base_url: &str, token: &str) -> String {
    format!("{}/{token}", base_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn key(byte: u8) -> LinkKey {
        LinkKey::from_bytes([byte; 32])
    }

    #[test]
    fn a_token_is_22_url_safe_characters_fixed_per_patient_and_purpose() {
        let token = key(1).token("A12345", "b1", 7, LinkPurpose::Questionnaire);
        assert_eq!(token.len(), TOKEN_LENGTH);
        assert!(is_token_shaped(&token), "{token}");
        assert_eq!(
            token,
            key(1).token("A12345", "b1", 7, LinkPurpose::Questionnaire)
        );
        assert_ne!(
            token,
            key(1).token("A12345", "b1", 8, LinkPurpose::Questionnaire)
        );
        assert_ne!(
            token,
            key(1).token("A12345", "b2", 7, LinkPurpose::Questionnaire)
        );
        assert_ne!(
            token,
            key(2).token("A12345", "b1", 7, LinkPurpose::Questionnaire)
        );
        assert_ne!(
            token,
            key(1).token("A12345", "b1", 7, LinkPurpose::Attachment)
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len() * 8, 128);
    }

    #[test]
    fn tokens_are_spread_over_their_128_bits() {
        // 2,000 tokens: no repeats, and each of the 128 bit positions set in
        // roughly half of them (a derived token is as good as a drawn one).
        let mut seen = std::collections::HashSet::new();
        let mut ones = [0u32; 128];
        for row in 0..2000 {
            let token = key(9).token("A12345", "b", row, LinkPurpose::Questionnaire);
            let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
            for (i, count) in ones.iter_mut().enumerate() {
                *count += u32::from(bytes[i / 8] >> (i % 8) & 1);
            }
            assert!(seen.insert(token));
        }
        assert!(ones.iter().all(|n| (850..1150).contains(n)), "{ones:?}");
    }

    #[test]
    fn the_date_of_birth_check_matches_only_its_own_date_and_link() {
        let k = key(3);
        let dob = NaiveDate::from_ymd_opt(1980, 4, 1).unwrap();
        let check = k.date_of_birth_check("hash-a", dob);
        assert!(k.date_of_birth_matches("hash-a", dob, &check));
        assert!(!k.date_of_birth_matches("hash-a", dob.succ_opt().unwrap(), &check));
        assert!(!k.date_of_birth_matches("hash-b", dob, &check));
        assert!(!key(4).date_of_birth_matches("hash-a", dob, &check));
        assert!(!k.date_of_birth_matches("hash-a", dob, "not hex"));
    }

    #[test]
    fn a_session_is_good_for_its_link_until_it_expires() {
        let k = key(5);
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let session = k.session("hash-a", now + Duration::minutes(SESSION_MINUTES));
        assert!(k.session_is_valid("hash-a", &session, now));
        assert!(!k.session_is_valid("hash-b", &session, now));
        assert!(!k.session_is_valid("hash-a", &session, now + Duration::minutes(30)));
        let (expiry, mac) = session.split_once('.').unwrap();
        let later = format!("{}.{mac}", expiry.parse::<i64>().unwrap() + 3600);
        assert!(!k.session_is_valid("hash-a", &later, now));
        for bad in ["", "123", "x.y", "123.!!"] {
            assert!(!k.session_is_valid("hash-a", bad, now), "{bad}");
        }
    }

    #[test]
    fn a_key_comes_from_64_hex_characters_or_a_long_enough_secret() {
        assert_eq!(
            LinkKey::parse_hex("ab").unwrap_err().to_string(),
            "the link key must be 64 hexadecimal characters (32 random bytes)"
        );
        assert!(LinkKey::parse_hex(&"0f".repeat(32)).is_ok());
        assert_eq!(
            LinkKey::from_secret(&"x".repeat(31))
                .unwrap_err()
                .to_string(),
            "the link key secret must be at least 32 characters"
        );
        let a = LinkKey::from_secret(&"x".repeat(32)).unwrap();
        let b = LinkKey::from_secret(&"y".repeat(32)).unwrap();
        assert_ne!(
            a.token("A12345", "b", 1, LinkPurpose::Questionnaire),
            b.token("A12345", "b", 1, LinkPurpose::Questionnaire)
        );
    }

    #[test]
    fn only_hashes_and_the_url_show_the_token() {
        assert_eq!(
            token_sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(url("https://x.nhs.uk/l/", "tok"), "https://x.nhs.uk/l/tok");
        assert!(!is_token_shaped("short"));
        assert!(!is_token_shaped("aaaaaaaaaaaaaaaaaaaaa/"));
        assert_eq!(format!("{:?}", key(1)), "LinkKey(..)");
    }
}
