//! Small helpers for DynamoDB items. Our items hold only strings and
//! numbers; these read them back with an error that names the attribute.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
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

/// Whether a transaction was cancelled because one of its conditions failed
/// (another writer got there first), rather than for any other reason.
pub fn condition_failed(e: &TransactWriteItemsError) -> bool {
    match e {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => cancelled
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => false,
    }
}

/// Every item a query finds, page after page.
pub async fn query_all(
    query: QueryFluentBuilder,
    context: &'static str,
) -> Result<Vec<Item>, PortError> {
    all_pages(|start| {
        let query = query.clone().set_exclusive_start_key(start);
        async move {
            let page = query.send().await.map_err(sdk_error(context))?;
            Ok((page.items().to_vec(), page.last_evaluated_key().cloned()))
        }
    })
    .await
}

/// Every item a scan finds, page after page.
pub async fn scan_all(
    scan: ScanFluentBuilder,
    context: &'static str,
) -> Result<Vec<Item>, PortError> {
    all_pages(|start| {
        let scan = scan.clone().set_exclusive_start_key(start);
        async move {
            let page = scan.send().await.map_err(sdk_error(context))?;
            Ok((page.items().to_vec(), page.last_evaluated_key().cloned()))
        }
    })
    .await
}

/// Follows `LastEvaluatedKey` to the end: DynamoDB returns at most 1 MB a
/// page. `page` fetches one page from the start key it is given and answers
/// its items and the next start key.
async fn all_pages<F, Fut>(mut page: F) -> Result<Vec<Item>, PortError>
where
    F: FnMut(Option<Item>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<Item>, Option<Item>), PortError>>,
{
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let (mut page_items, next) = page(start).await?;
        items.append(&mut page_items);
        match next {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(items),
        }
    }
}

/// Writes `requests` (BatchWriteItem's 25 at most) to `table`, sending
/// again, with a growing pause, what DynamoDB left unprocessed. Callers
/// write only items fixed by their keys, so a write sent twice is harmless.
pub async fn batch_write(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    mut requests: Vec<WriteRequest>,
    context: &'static str,
) -> Result<(), PortError> {
    for attempt in 0u32.. {
        let output = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .map_err(sdk_error(context))?;
        requests = output
            .unprocessed_items
            .and_then(|mut left| left.remove(table))
            .unwrap_or_default();
        if requests.is_empty() {
            break;
        }
        if attempt == 8 {
            return Err(PortError(format!(
                "{context}: DynamoDB kept {} items unprocessed",
                requests.len()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
    }
    Ok(())
}
