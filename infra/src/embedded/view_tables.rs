//! The read models' tables on SQLite, and each row's columns as they are
//! written: the projector's statements (`views.rs`) and `audit verify`'s
//! comparison (`audit.rs`) both take a row's cells from here, so what is
//! compared is exactly what is written.

use chrono::{DateTime, Utc};
use domain::ports::PortError;
use domain::projection::{BatchSummary, DeliveryRow, InboxRow, WorkspaceItem};
use serde_json::Value;
use sqlx::query_builder::Separated;
use sqlx::{Sqlite, Transaction};

use super::db::db_error;

/// A read model's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    BatchSummaries,
    Deliveries,
    RecipientFailures,
    WorkspaceItems,
    InboxRows,
    InboxLists,
    InboxReads,
}

impl Table {
    /// Every table the projector builds from events. `links` is not among
    /// them: it is the link directory the use cases write, not a projection.
    pub const PROJECTED: [Table; 7] = [
        Self::BatchSummaries,
        Self::Deliveries,
        Self::RecipientFailures,
        Self::WorkspaceItems,
        Self::InboxRows,
        Self::InboxLists,
        Self::InboxReads,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::BatchSummaries => "batch_summaries",
            Self::Deliveries => "deliveries",
            Self::RecipientFailures => "recipient_failures",
            Self::WorkspaceItems => "workspace_items",
            Self::InboxRows => "inbox_rows",
            Self::InboxLists => "inbox_lists",
            Self::InboxReads => "inbox_reads",
        }
    }

    /// The columns that name one of its rows.
    pub fn key(self) -> &'static [&'static str] {
        match self {
            Self::BatchSummaries => &["batch_id"],
            Self::Deliveries => &["batch_id", "row"],
            Self::RecipientFailures => &["organisation_id", "fingerprint"],
            Self::WorkspaceItems => &["kind", "id"],
            Self::InboxRows => &["conversation_id"],
            Self::InboxLists => &["partition", "sort"],
            Self::InboxReads => &["conversation_id", "user_id"],
        }
    }
}

/// One value in a table, as SQLite holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Cell {
    fn text(value: impl Into<String>) -> Self {
        Self::Text(value.into())
    }

    fn optional(value: Option<String>) -> Self {
        value.map_or(Self::Null, Self::Text)
    }

    fn flag(value: bool) -> Self {
        Self::Integer(i64::from(value))
    }

    fn count(value: impl Into<u64>) -> Self {
        Self::Integer(i64::try_from(value.into()).unwrap_or(i64::MAX))
    }

    /// As it names a row: text as it is, anything else as JSON.
    pub fn plain(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            other => other.to_json().to_string(),
        }
    }

    /// As JSON, a JSON body parsed so that its fields compare one by one.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Integer(i) => Value::from(*i),
            Self::Real(r) => Value::from(*r),
            Self::Text(s) if s.starts_with('{') || s.starts_with('[') => {
                serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
            }
            Self::Text(s) => Value::String(s.clone()),
            Self::Blob(bytes) => Value::String(format!("x'{}'", hex::encode(bytes))),
        }
    }

    fn bind<'args>(&'args self, values: &mut Separated<'_, 'args, Sqlite, &'static str>) {
        match self {
            Self::Null => values.push_bind(None::<String>),
            Self::Integer(i) => values.push_bind(*i),
            Self::Real(r) => values.push_bind(*r),
            Self::Text(s) => values.push_bind(s.as_str()),
            Self::Blob(bytes) => values.push_bind(bytes.as_slice()),
        };
    }
}

/// A row's columns and their values.
pub type Cells = Vec<(&'static str, Cell)>;

fn body<T: serde::Serialize>(row: &T) -> Result<Cell, PortError> {
    serde_json::to_string(row)
        .map(Cell::Text)
        .map_err(|e| PortError::new("view row", e))
}

pub fn batch_cells(summary: &BatchSummary) -> Result<Cells, PortError> {
    Ok(vec![
        ("batch_id", Cell::text(&summary.batch_id)),
        ("organisation_id", Cell::text(&summary.organisation_id)),
        ("status", Cell::text(summary.status.label())),
        ("settled", Cell::flag(summary.is_settled())),
        ("body", body(summary)?),
        ("last_sequence", Cell::count(summary.last_sequence)),
        ("listed", Cell::optional(summary_listed(summary))),
        ("kind", Cell::optional(summary.kind.map(kind_name))),
        ("created_by", Cell::optional(summary.created_by.clone())),
    ])
}

pub fn delivery_cells(row: &DeliveryRow) -> Result<Cells, PortError> {
    Ok(vec![
        ("batch_id", Cell::text(&row.batch_id)),
        ("row", Cell::count(row.row)),
        ("status", Cell::text(row.view_status())),
        ("body", body(row)?),
        ("last_sequence", Cell::count(row.last_sequence)),
    ])
}

/// When a recipient's message last failed for good: the text the failure
/// history keeps and compares (`max` of two is the later one).
pub fn failed_at_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub fn failure_cells(organisation_id: &str, fingerprint: &str, at: DateTime<Utc>) -> Cells {
    vec![
        ("organisation_id", Cell::text(organisation_id)),
        ("fingerprint", Cell::text(fingerprint)),
        ("last_failed_at", Cell::Text(failed_at_text(at))),
    ]
}

pub fn item_cells(item: &WorkspaceItem) -> Result<Cells, PortError> {
    Ok(vec![
        ("kind", Cell::text(item.item.kind().as_str())),
        ("id", Cell::text(&item.id)),
        ("organisation_id", Cell::text(&item.organisation_id)),
        ("listed", Cell::Text(item.listed())),
        ("deleted", Cell::flag(item.deleted)),
        ("body", body(item)?),
        ("last_sequence", Cell::count(item.last_sequence)),
    ])
}

pub fn inbox_row_cells(row: &InboxRow) -> Result<Cells, PortError> {
    Ok(vec![
        ("conversation_id", Cell::text(&row.conversation_id)),
        ("organisation_id", Cell::text(&row.organisation_id)),
        ("done", Cell::flag(row.done)),
        ("replies", Cell::count(row.replies)),
        ("body", body(row)?),
        ("last_sequence", Cell::count(row.last_sequence)),
    ])
}

/// The row's entries in the inbox lists it is in.
pub fn inbox_list_cells(row: &InboxRow) -> Vec<Cells> {
    row.entries()
        .into_iter()
        .map(|(partition, sort)| {
            vec![
                ("partition", Cell::Text(partition)),
                ("sort", Cell::Text(sort)),
                ("conversation_id", Cell::text(&row.conversation_id)),
                ("done", Cell::flag(row.done)),
                ("replies", Cell::count(row.replies)),
            ]
        })
        .collect()
}

/// How many of the row's replies each member has read.
pub fn inbox_read_cells(row: &InboxRow) -> Vec<Cells> {
    row.reads
        .iter()
        .map(|(user, replies)| {
            vec![
                ("conversation_id", Cell::text(&row.conversation_id)),
                ("user_id", Cell::text(user)),
                ("replies", Cell::count(*replies)),
            ]
        })
        .collect()
}

/// Where a batch sorts in its organisation's list; `None` (unlisted) until
/// its draft is seen.
fn summary_listed(summary: &BatchSummary) -> Option<String> {
    summary.kind?;
    Some(domain::projection::listed_key(
        summary.created_at?,
        &summary.batch_id,
    ))
}

pub(crate) fn kind_name(kind: events::BatchKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Rows per multi-row statement: under SQLite's 32,766 bound parameters.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// Writes `rows` of `table`, each replacing the row its key names.
pub(crate) async fn upsert(
    tx: &mut Transaction<'static, Sqlite>,
    table: Table,
    rows: &[Cells],
) -> Result<(), PortError> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let columns: Vec<&str> = first.iter().map(|(name, _)| *name).collect();
    let updates: Vec<String> = columns
        .iter()
        .filter(|c| !table.key().contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let conflict = if updates.is_empty() {
        format!(" ON CONFLICT ({}) DO NOTHING", table.key().join(", "))
    } else {
        format!(
            " ON CONFLICT ({}) DO UPDATE SET {}",
            table.key().join(", "),
            updates.join(", ")
        )
    };
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::QueryBuilder::new(format!(
            "INSERT INTO {} ({}) ",
            table.name(),
            columns.join(", ")
        ));
        query.push_values(chunk, |mut values, row| {
            for (_, cell) in row {
                cell.bind(&mut values);
            }
        });
        query.push(&conflict);
        query
            .build()
            .execute(&mut **tx)
            .await
            .map_err(db_error(table.name()))?;
    }
    Ok(())
}
