//! Reading requests strictly, so that a typo never acts: JSON bodies whose
//! unknown fields, `null`s and wrong content types are refused with a
//! problem that names the field (and the field meant, where one is close),
//! query strings read the same way, and bodies on routes that take none
//! refused. Every refusal here is a `Problem`; the statuses are fixed:
//! 413 too large, 415 wrong content type, 422 an unusable JSON body, 400 an
//! unusable query string.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::Problem;

/// The largest JSON body any route takes. The longest real one (settings
/// with fifty other sites, or a Self-Book set-up with every clinician) is
/// a few KiB.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// A JSON request body, read strictly: `T` must refuse unknown fields
/// (`#[serde(deny_unknown_fields)]`), and no value may be `null`.
pub struct JsonBody<T>(pub T);

/// A JSON body that may be left out: an empty body is `T::default()`. A
/// body that is there is read as strictly as [`JsonBody`].
pub struct OptionalJsonBody<T>(pub T);

/// For a route that takes no body: an empty body or `{}`, nothing else, so
/// that a field meant to narrow an action (`{"nhs_number": …}` on a cancel)
/// never goes unread while the action reaches everyone.
pub struct NoBody;

/// The body of a route that takes no fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let (headers, bytes) = read(request, state).await?;
        if is_blank(&bytes) {
            return Err(Problem::invalid_request(
                "the request needs a JSON body; see the API description for its fields",
            ));
        }
        json_content_type(&headers)?;
        parse(&bytes).map(Self)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let (headers, bytes) = read(request, state).await?;
        if is_blank(&bytes) {
            return Ok(Self(T::default()));
        }
        json_content_type(&headers)?;
        parse(&bytes).map(Self)
    }
}

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let OptionalJsonBody(NoFields {}) = OptionalJsonBody::from_request(request, state).await?;
        Ok(Self)
    }
}

/// A request body that is a file (a CSV list, an attachment), with its
/// content type checked against what the route takes.
pub struct FileBody {
    pub bytes: Bytes,
}

impl FileBody {
    /// Reads the body, refusing a content type not in `accepted` (415) and
    /// one over the route's limit (413, with `too_large` as its problem).
    pub async fn read<S: Send + Sync>(
        request: Request,
        state: &S,
        accepted: &[&str],
        too_large: impl FnOnce() -> Problem,
    ) -> Result<Self, Problem> {
        let headers = request.headers().clone();
        let given = media_type(&headers);
        if !given.as_deref().is_some_and(|t| accepted.contains(&t)) {
            return Err(unsupported(given.as_deref(), accepted));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| match e {
                BytesRejection::FailedToBufferBody(_) if is_length_limit(&e) => too_large(),
                other => unreadable(other),
            })?;
        Ok(Self { bytes })
    }
}

/// A query string read strictly into `T` (which refuses unknown
/// parameters): names and values must be UTF-8 once percent-decoded, and
/// every refusal is a 400 naming the parameter.
pub struct StrictQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for StrictQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        parse_query(parts.uri.query().unwrap_or_default()).map(Self)
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, Problem> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode_query_part(name)
            .map_err(|_| bad_query("a query parameter's name is not UTF-8 text".into()))?;
        decode_query_part(value).map_err(|_| {
            bad_query(format!(
                "{name}: is not UTF-8 text; percent-encode the UTF-8 bytes of the value"
            ))
        })?;
    }
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let said = describe(&path, &e.into_inner().to_string())
            .replace("unknown field", "unknown query parameter")
            .replace("this takes no fields", "this takes no query parameters")
            .replace("the fields are", "the parameters are");
        bad_query(said)
    })
}

fn decode_query_part(raw: &str) -> Result<String, std::str::Utf8Error> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
}

fn bad_query(detail: String) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        "Check the query string",
        detail,
    )
}

async fn read<S: Send + Sync>(request: Request, state: &S) -> Result<(HeaderMap, Bytes), Problem> {
    let headers = request.headers().clone();
    let bytes = Bytes::from_request(request, state)
        .await
        .map_err(|e| match e {
            BytesRejection::FailedToBufferBody(_) if is_length_limit(&e) => body_too_large(),
            other => unreadable(other),
        })?;
    Ok((headers, bytes))
}

fn is_length_limit(e: &BytesRejection) -> bool {
    e.status() == StatusCode::PAYLOAD_TOO_LARGE
}

fn unreadable(e: BytesRejection) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "unreadable_body",
        "The request could not be read",
        format!("the request body could not be read: {}", e.body_text()),
    )
}

/// A JSON body over [`JSON_BODY_LIMIT`].
pub fn body_too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "The request is too large",
        format!(
            "the request body is larger than {} KiB, the most any of these requests needs",
            JSON_BODY_LIMIT / 1024
        ),
    )
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// The media type of the body, lower case, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next().unwrap_or_default().trim();
    Some(media.to_ascii_lowercase())
}

fn json_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    match media_type(headers) {
        Some(t)
            if t == "application/json"
                || (t.starts_with("application/") && t.ends_with("+json")) =>
        {
            Ok(())
        }
        other => Err(unsupported(other.as_deref(), &["application/json"])),
    }
}

fn unsupported(given: Option<&str>, wanted: &[&str]) -> Problem {
    let wanted = match wanted {
        [only] => (*only).to_owned(),
        [first, rest @ ..] => format!("{first} (or {})", rest.join(", ")),
        [] => "no body".to_owned(),
    };
    let given = match given {
        Some(given) => format!("it was sent as {given}"),
        None => "it was sent with none".to_owned(),
    };
    let detail = format!("send this request's body with Content-Type: {wanted}; {given}");
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Send the body in the type this request takes",
        detail,
    )
}

/// Reads `bytes` as JSON into `T`: first as a document (its syntax, and no
/// `null` anywhere), then into `T` itself, so a duplicated field is caught
/// and each refusal names the field by its path.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let document: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Problem::invalid_request(format!("the body is not valid JSON: {e}")))?;
    if !document.is_object() {
        return Err(Problem::invalid_request(
            "the body must be a JSON object, such as {\"name\": \"…\"}",
        ));
    }
    if let Some(path) = first_null(&document, String::new()) {
        return Err(Problem::invalid_request(format!(
            "{path}: null is not a value here; leave the field out, or give it a value"
        )));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde_json adds " at line L column C": the path says where.
        let inner = match inner.rfind(" at line ") {
            Some(at) => inner[..at].to_owned(),
            None => inner,
        };
        Problem::invalid_request(describe(&path, &inner))
    })
}

/// Where the first `null` in a document is, as a path such as
/// `self_book.clinicians[1]`.
fn first_null(value: &serde_json::Value, path: String) -> Option<String> {
    match value {
        serde_json::Value::Null => Some(path),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(name, value)| {
            let path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            first_null(value, path)
        }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, value)| first_null(value, format!("{path}[{i}]"))),
        _ => None,
    }
}

/// A serde refusal said for staff: `path: what is wrong`. The messages
/// serde's derive gives are fixed in shape (`unknown field `x`, expected
/// one of `a`, `b``), so their names can be read back out of them.
fn describe(path: &str, message: &str) -> String {
    let at = |what: &str| match path {
        "" | "." => what.to_owned(),
        path => format!("{path}: {what}"),
    };
    let quoted = backticked(message);
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let field = quoted.first().cloned().unwrap_or_default();
        let expected: Vec<String> = quoted.iter().skip(1).cloned().collect();
        // The path names the unknown field itself; say where it stood.
        let parent = match path.rsplit_once('.') {
            Some((parent, _)) => parent,
            None => "",
        };
        let place = |what: String| match parent {
            "" => what,
            parent => format!("{parent}: {what}"),
        };
        if rest.contains("there are no fields") || expected.is_empty() {
            return place(format!("unknown field `{field}`; this takes no fields"));
        }
        return place(match closest(&field, &expected) {
            Some(meant) => format!("unknown field `{field}`; did you mean `{meant}`?"),
            None => format!(
                "unknown field `{field}`; the fields are {}",
                list(&expected)
            ),
        });
    }
    if message.starts_with("unknown variant ") {
        let given = quoted.first().cloned().unwrap_or_default();
        let expected: Vec<String> = quoted.iter().skip(1).cloned().collect();
        return at(&match closest(&given, &expected) {
            Some(meant) => format!(
                "`{given}` is not one of {}; did you mean `{meant}`?",
                list(&expected)
            ),
            None => format!("`{given}` is not one of {}", list(&expected)),
        });
    }
    if message.starts_with("missing field ") {
        let field = quoted.first().cloned().unwrap_or_default();
        let full = match path {
            "" | "." => field,
            path => format!("{path}.{field}"),
        };
        return format!("{full}: is required");
    }
    if message.starts_with("duplicate field ") {
        let field = quoted.first().cloned().unwrap_or_default();
        let full = match path {
            "" | "." => field,
            path => format!("{path}.{field}"),
        };
        return format!("{full}: is given twice");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((given, expected)) = rest.split_once(", expected ") {
            return at(&format!("expected {}, not {given}", plain(expected)));
        }
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        if let Some((given, expected)) = rest.split_once(", expected ") {
            return at(&format!("expected {}, not {given}", plain(expected)));
        }
    }
    at(message)
}

/// Rust's names for what serde expected, in words.
fn plain(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number of 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        other if other.starts_with("struct ") => "an object".into(),
        other if other.starts_with("a sequence") => "a list".into(),
        other if other.starts_with("a map") => "an object".into(),
        other => other.to_owned(),
    }
}

fn backticked(message: &str) -> Vec<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name `given` was probably meant to be: the same once case, `_` and
/// `-` are set aside (`nhsNumber` for `nhs_number`), or within two edits.
fn closest(given: &str, names: &[String]) -> Option<String> {
    let fold = |s: &str| {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let folded = fold(given);
    if let Some(same) = names.iter().find(|n| fold(n) == folded) {
        return Some(same.clone());
    }
    names
        .iter()
        .map(|n| (strsim::damerau_levenshtein(&fold(n), &folded), n))
        .filter(|(distance, n)| *distance <= 2 && *distance < n.len() / 2 + 1)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, n)| n.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Revoke {
        nhs_number: Option<String>,
        all: Option<bool>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        within_days: Option<u32>,
        #[serde(default)]
        clinicians: Vec<String>,
    }

    fn refused<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> (u16, String) {
        let problem = parse::<T>(body.as_bytes()).unwrap_err();
        (problem.status, problem.detail)
    }

    #[test]
    fn an_unknown_field_is_refused_with_the_field_meant() {
        assert_eq!(
            refused::<Revoke>(r#"{"nhsNumber":"4857770008"}"#),
            (
                422,
                "unknown field `nhsNumber`; did you mean `nhs_number`?".into()
            )
        );
        assert_eq!(
            refused::<Revoke>(r#"{"al":true}"#),
            (422, "unknown field `al`; did you mean `all`?".into())
        );
        assert_eq!(
            refused::<Revoke>(r#"{"patient":"x"}"#),
            (
                422,
                "unknown field `patient`; the fields are `nhs_number`, `all`".into()
            )
        );
        assert_eq!(
            refused::<Outer>(r#"{"name":"x","inner":{"withinDays":3}}"#),
            (
                422,
                "inner: unknown field `withinDays`; did you mean `within_days`?".into()
            )
        );
        assert_eq!(
            refused::<NoFields>(r#"{"nhs_number":"4857770008"}"#),
            (
                422,
                "unknown field `nhs_number`; this takes no fields".into()
            )
        );
    }

    #[test]
    fn null_is_refused_wherever_it_stands() {
        assert_eq!(
            refused::<Revoke>(r#"{"nhs_number":null}"#),
            (
                422,
                "nhs_number: null is not a value here; leave the field out, or give it a value"
                    .into()
            )
        );
        assert_eq!(
            refused::<Outer>(r#"{"name":"x","inner":{"clinicians":["a",null]}}"#),
            (
                422,
                "inner.clinicians[1]: null is not a value here; leave the field out, or give it a value".into()
            )
        );
    }

    #[test]
    fn types_missing_and_repeated_fields_and_bad_json_are_named() {
        assert_eq!(
            refused::<Outer>(r#"{"inner":{}}"#),
            (422, "name: is required".into())
        );
        assert_eq!(
            refused::<Outer>(r#"{"name":"x","inner":{"within_days":"14"}}"#),
            (
                422,
                "inner.within_days: expected a whole number of 0 or more, not string \"14\"".into()
            )
        );
        assert_eq!(
            refused::<Outer>(r#"{"name":"x","inner":{"within_days":-1}}"#),
            (
                422,
                "inner.within_days: expected a whole number of 0 or more, not integer `-1`".into()
            )
        );
        assert_eq!(
            refused::<Outer>(r#"{"name":"x","name":"y"}"#),
            (422, "name: is given twice".into())
        );
        assert_eq!(
            refused::<Outer>(r#"{"name":"x""#),
            (
                422,
                "the body is not valid JSON: EOF while parsing an object at line 1 column 11"
                    .into()
            )
        );
        assert_eq!(
            refused::<Outer>(r#"["name"]"#),
            (
                422,
                "the body must be a JSON object, such as {\"name\": \"…\"}".into()
            )
        );
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Query {
        #[serde(default)]
        system: Option<System>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum System {
        Emis,
        Systmone,
    }

    #[test]
    fn query_strings_are_strict_and_utf8() {
        assert_eq!(
            parse_query::<Query>("system=emis").unwrap(),
            Query {
                system: Some(System::Emis)
            }
        );
        assert_eq!(parse_query::<Query>("").unwrap(), Query { system: None });
        let refused = |q: &str| {
            let p = parse_query::<Query>(q).unwrap_err();
            (p.status, p.detail)
        };
        assert_eq!(
            refused("system=foo"),
            (400, "system: `foo` is not one of `emis`, `systmone`".into())
        );
        assert_eq!(
            refused("system=emiss"),
            (
                400,
                "system: `emiss` is not one of `emis`, `systmone`; did you mean `emis`?".into()
            )
        );
        assert_eq!(
            refused("sytem=emis"),
            (
                400,
                "unknown query parameter `sytem`; did you mean `system`?".into()
            )
        );
        assert_eq!(
            refused("system=%FF%FE"),
            (
                400,
                "system: is not UTF-8 text; percent-encode the UTF-8 bytes of the value".into()
            )
        );
    }
}
