//! A UK mobile number, normalised to E.164 (`+447…`), checked with
//! libphonenumber's metadata (the `phonenumber` crate).
//!
//! The crate's parser is exact but slow on lists: it looks every pattern up
//! in a shared 100-entry LRU regex cache keyed by the pattern's source, so
//! hashing and comparing long pattern strings took about 70% of checking a
//! 100,000-row list (`perf record` on `cargo bench -p domain --bench
//! check_list`). The usual writings (`07…`, `+44 7…`, `0044 7…`) therefore
//! take a fast path: the same GB metadata patterns, compiled once, applied in
//! the crate's own order. The fast path answers only for numbers GB's
//! metadata knows; anything else (Jersey, Guernsey, the Isle of Man, odd
//! writings) goes to the full parser, and property tests hold the two to the
//! same answers.

use std::fmt;
use std::sync::OnceLock;

use phonenumber::{country, Type};
use regex::Regex;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UkMobile(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UkMobileError {
    #[error("no mobile number was given")]
    Missing,
    #[error("the number contains letters")]
    HasLetters,
    #[error("this is not a phone number")]
    NotANumber,
    #[error("this is not a UK number")]
    NotUk,
    #[error("this is a UK number but not a mobile")]
    NotMobile,
}

impl UkMobile {
    /// Accepts the ways people write UK mobiles: `07700 100123`,
    /// `+44 (0)7700-100123`, `0044 7700 100123`.
    pub fn parse(raw: &str) -> Result<Self, UkMobileError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(UkMobileError::Missing);
        }
        // libphonenumber reads vanity letters as digits; a list never means that.
        if raw.chars().any(char::is_alphabetic) {
            return Err(UkMobileError::HasLetters);
        }
        // Separators go before either parser sees the number: the crate
        // reads some hyphen placements (`+447700-100123`) as not a number.
        let cleaned: String = raw
            .replace("(0)", "")
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        if let Some(answer) = fast_gb(&cleaned) {
            return answer;
        }
        Self::parse_with_libphonenumber(&cleaned)
    }

    /// The crate's full parser: every writing, every region sharing +44.
    fn parse_with_libphonenumber(cleaned: &str) -> Result<Self, UkMobileError> {
        let number = phonenumber::parse(Some(country::GB), cleaned)
            .map_err(|_| UkMobileError::NotANumber)?;
        if number.code().value() != 44 {
            return Err(UkMobileError::NotUk);
        }
        if !number.is_valid() {
            return Err(UkMobileError::NotANumber);
        }
        if number.number_type(&phonenumber::metadata::DATABASE) != Type::Mobile {
            return Err(UkMobileError::NotMobile);
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }
}

/// A GB descriptor from libphonenumber's metadata, matched as the crate
/// matches it: the possible lengths, then the pattern from the number's start.
struct Rule {
    lengths: Vec<u16>,
    pattern: Regex,
}

impl Rule {
    fn of(descriptor: Option<&phonenumber::metadata::Descriptor>) -> Option<Self> {
        let descriptor = descriptor?;
        let pattern =
            regex::RegexBuilder::new(&format!("^(?:{})", descriptor.national_number().as_str()))
                .ignore_whitespace(true)
                .build()
                .expect("libphonenumber's GB patterns compile");
        Some(Self {
            lengths: descriptor.possible_length().to_vec(),
            pattern,
        })
    }

    fn matches(&self, national: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16)))
            && self.pattern.is_match(national)
    }
}

/// GB's descriptors in the order `phonenumber::validator::number_type`
/// tries them: the general pattern, then every type that outranks mobile.
struct GbMobileRules {
    general: Rule,
    outranking: Vec<Rule>,
    fixed_line: Option<Rule>,
    mobile: Rule,
}

fn gb_rules() -> &'static GbMobileRules {
    static RULES: OnceLock<GbMobileRules> = OnceLock::new();
    RULES.get_or_init(|| {
        let gb = phonenumber::metadata::DATABASE
            .by_id("GB")
            .expect("libphonenumber has GB metadata");
        let d = gb.descriptors();
        GbMobileRules {
            general: Rule::of(Some(d.general())).expect("GB has a general pattern"),
            outranking: [
                d.premium_rate(),
                d.toll_free(),
                d.shared_cost(),
                d.voip(),
                d.personal_number(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ]
            .into_iter()
            .filter_map(Rule::of)
            .collect(),
            fixed_line: Rule::of(d.fixed_line()),
            mobile: Rule::of(d.mobile()).expect("GB has a mobile pattern"),
        }
    })
}

/// The common writings of a UK number, answered without the full parser
/// when GB's metadata knows the number (the parser then answers from GB's
/// metadata too, GB being the main region for +44). `None` means "ask the
/// full parser": the number may be Jersey's, Guernsey's, the Isle of Man's,
/// or nobody's.
fn fast_gb(cleaned: &str) -> Option<Result<UkMobile, UkMobileError>> {
    let mut digits = String::with_capacity(16);
    let mut plus = false;
    for (i, c) in cleaned.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' => {}
            '+' if i == 0 => plus = true,
            _ => return None,
        }
    }
    let national = match (plus, digits.len()) {
        (true, 12) => digits.strip_prefix("44")?,
        (false, 14) => digits.strip_prefix("0044")?,
        (false, 11) => digits.strip_prefix('0')?,
        _ => return None,
    };
    let rules = gb_rules();
    if !rules.general.matches(national) {
        return None;
    }
    if rules.outranking.iter().any(|r| r.matches(national))
        || rules
            .fixed_line
            .as_ref()
            .is_some_and(|r| r.matches(national))
    {
        return Some(Err(UkMobileError::NotMobile));
    }
    if rules.mobile.matches(national) {
        return Some(Ok(UkMobile(format!("+44{national}"))));
    }
    None
}

impl UkMobile {
    /// The national writing, `07700100123`: what practices type, and what a
    /// report must hold to be uploaded again (a leading `+` would be
    /// neutralised as a spreadsheet formula).
    pub fn national(&self) -> String {
        format!("0{}", &self.0[3..])
    }
}

impl AsRef<str> for UkMobile {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UkMobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_writings_normalise_to_e164() {
        for raw in [
            "07700 100123",
            "07700100123",
            "+447700100123",
            "+44 (0)7700 100123",
            "0044 7700 100123",
            "07700-100-123",
        ] {
            assert_eq!(
                UkMobile::parse(raw).unwrap().as_ref(),
                "+447700100123",
                "{raw}"
            );
        }
        assert_eq!(
            UkMobile::parse("+447700100123").unwrap().national(),
            "07700100123"
        );
    }

    #[test]
    fn non_mobiles_are_refused_with_their_reason() {
        assert_eq!(UkMobile::parse(""), Err(UkMobileError::Missing));
        assert_eq!(
            UkMobile::parse("020 7946 0123"),
            Err(UkMobileError::NotMobile)
        );
        assert_eq!(
            UkMobile::parse("0800 123 4567"),
            Err(UkMobileError::NotMobile)
        );
        assert_eq!(
            UkMobile::parse("+33 6 12 34 56 78"),
            Err(UkMobileError::NotUk)
        );
        assert_eq!(
            UkMobile::parse("07700 1OO123"),
            Err(UkMobileError::HasLetters)
        );
        assert_eq!(UkMobile::parse("12"), Err(UkMobileError::NotANumber));
    }

    #[test]
    fn the_fast_path_answers_only_for_numbers_gb_metadata_knows() {
        for raw in ["07700100123", "+447700100123", "00447700100123"] {
            assert_eq!(
                fast_gb(raw),
                Some(Ok(UkMobile("+447700100123".to_owned()))),
                "{raw}"
            );
        }
        assert_eq!(fast_gb("02079460123"), Some(Err(UkMobileError::NotMobile)));
        // An Isle of Man mobile, a short number and an odd writing are left
        // to the parser.
        for raw in ["07624123456", "0123", "(07700)100123"] {
            assert_eq!(fast_gb(raw), None, "{raw}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(5_000))]

        /// The fast path and libphonenumber's full parser agree on every
        /// number written the common ways, in every UK range.
        #[test]
        fn the_fast_path_agrees_with_libphonenumber(
            prefix in proptest::sample::select(vec!["0", "+44", "0044", "+44 (0)", "+440", "44"]),
            national in "[1-9][0-9]{8,10}",
            separator in proptest::sample::select(vec!["", " ", "-"]),
        ) {
            let (head, tail) = national.split_at(4);
            let raw = format!("{prefix}{head}{separator}{tail}");
            let cleaned: String = raw.replace("(0)", "").replace([' ', '-'], "");
            proptest::prop_assert_eq!(
                UkMobile::parse(&raw),
                UkMobile::parse_with_libphonenumber(&cleaned),
                "{}", raw
            );
        }

        /// The same over mobile-shaped numbers, where the fast path answers.
        #[test]
        fn the_fast_path_agrees_on_07_numbers(national in "7[0-9]{9}") {
            let raw = format!("0{national}");
            proptest::prop_assert_eq!(
                UkMobile::parse(&raw),
                UkMobile::parse_with_libphonenumber(&raw)
            );
        }
    }
}
