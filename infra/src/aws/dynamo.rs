//! Small helpers for DynamoDB items. Our items hold only strings and
//! numbers; these read them back with an error that names the attribute.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use domain::ports::PortError;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, PortError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| PortError(format!("item has no string attribute {name}")))
}

pub fn get_n(item: &Item, name: &str) -> Result<i64, PortError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| PortError(format!("item has no number attribute {name}")))
}

/// Turns an SDK error into a port error without its request details.
pub fn sdk_error<E: std::error::Error + 'static>(context: &'static str) -> impl Fn(E) -> PortError {
    move |e| {
        PortError(format!(
            "{context}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(&e)
        ))
    }
}
