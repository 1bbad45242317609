//! `batchbook audit verify` on a data directory: the event chain against
//! its checkpoints, and every read model against one replayed from the
//! events into a scratch database.
//!
//! It only reads the data directory: the events and the live views are
//! opened read-only; the views are copied as one snapshot (`VACUUM INTO`)
//! and the replay is written beside it, in a temporary directory.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Utc;
use domain::audit::differences;
pub use domain::audit::Drift;
use domain::audit::{ChainReport, ChainVerifier, Checkpoint, StoredEvent};
use domain::ports::PortError;
use serde::Serialize;
use serde_json::Value;
use sqlx::{Row, SqlitePool};

use super::db::{db_error, open_pool, open_reader, Database};
use super::event_log::EventLog;
use super::views::SqliteViews;

/// The checkpoints of the chain's head, one JSON object a line, appended
/// by `batchbook serve` (and `demo`) and never rewritten.
pub const CHECKPOINTS: &str = "chain-checkpoints.jsonl";

/// Events read per query while checking the chain.
const PAGE: i64 = 10_000;

/// Events the replay projects per transaction: a large page writes each
/// view row once for many of its events (the live projector's 1,000 keep
/// its transactions short beside the API; the replay has no one waiting).
const REPLAY_PAGE: usize = 20_000;

/// The read models `audit verify` replays and compares, each with the
/// columns that name a row. `links` is not among them: it is the link
/// directory the use cases write, not a projection of events.
const VIEWS: [(&str, &[&str]); 7] = [
    ("batch_summaries", &["batch_id"]),
    ("deliveries", &["batch_id", "row"]),
    ("recipient_failures", &["organisation_id", "fingerprint"]),
    ("workspace_items", &["kind", "id"]),
    ("inbox_rows", &["conversation_id"]),
    ("inbox_lists", &["partition", "sort"]),
    ("inbox_reads", &["conversation_id", "user_id"]),
];

/// The checkpoints in `dir`, oldest first; none when the file is absent.
/// A line that does not parse is an error naming the line: a checkpoint
/// file is evidence, and a damaged one is itself a finding.
pub async fn read_checkpoints(dir: &Path) -> Result<Vec<Checkpoint>, PortError> {
    let text = match tokio::fs::read_to_string(dir.join(CHECKPOINTS)).await {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PortError::new("chain checkpoints", e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).map_err(|e| {
                PortError::new(
                    "chain checkpoints",
                    format!("{CHECKPOINTS} line {}: {e}", n + 1),
                )
            })
        })
        .collect()
}

/// Appends the chain's head to the checkpoint file when it moved since the
/// last checkpoint. Answers the checkpoint written, if any.
pub async fn checkpoint(dir: &Path, events: &SqlitePool) -> Result<Option<Checkpoint>, PortError> {
    let head: Option<(i64, String)> = sqlx::query_as(
        "SELECT rowid, hash FROM events WHERE hash IS NOT NULL ORDER BY rowid DESC LIMIT 1",
    )
    .fetch_optional(events)
    .await
    .map_err(db_error("chain head"))?;
    let Some((position, hash)) = head else {
        return Ok(None);
    };
    let last = read_checkpoints(dir).await?.pop();
    if last.is_some_and(|c| c.position == position && c.hash == hash) {
        return Ok(None);
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(events)
        .await
        .map_err(db_error("chain head"))?;
    let checkpoint = Checkpoint {
        position,
        hash,
        events: count as u64,
        at: Utc::now(),
    };
    let mut line =
        serde_json::to_string(&checkpoint).map_err(|e| PortError::new("checkpoint", e))?;
    line.push('\n');
    let problem = |e: std::io::Error| PortError::new("chain checkpoints", e);
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(CHECKPOINTS))
        .await
        .map_err(problem)?;
    use tokio::io::AsyncWriteExt;
    file.write_all(line.as_bytes()).await.map_err(problem)?;
    file.sync_all().await.map_err(problem)?;
    Ok(Some(checkpoint))
}

/// Reads the whole event log in commit order through the chain check.
pub async fn verify_chain(
    events: &SqlitePool,
    checkpoints: &[Checkpoint],
) -> Result<ChainReport, PortError> {
    // A data directory from before the chain has no chain columns.
    let chained: bool = sqlx::query_scalar(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('events') WHERE name = 'hash'",
    )
    .fetch_one(events)
    .await
    .map_err(db_error("event log"))?;
    let columns = if chained {
        "previous_hash, hash"
    } else {
        "NULL AS previous_hash, NULL AS hash"
    };
    let query = format!(
        "SELECT rowid, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, {columns}
         FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?"
    );
    // A reader task fetches the next page while this one hashes the last.
    let (pages, mut next) = tokio::sync::mpsc::channel(2);
    let reader = {
        let events = events.clone();
        tokio::spawn(async move {
            let mut position = 0i64;
            loop {
                let rows = sqlx::query(&query)
                    .bind(position)
                    .bind(PAGE)
                    .fetch_all(&events)
                    .await
                    .map_err(db_error("event log"))?;
                let Some(last) = rows.last() else {
                    return Ok::<_, PortError>(());
                };
                position = last.get(0);
                if pages.send(rows).await.is_err() {
                    return Ok(());
                }
            }
        })
    };
    let mut verifier = ChainVerifier::new();
    while let Some(rows) = next.recv().await {
        for row in &rows {
            let sequence: i64 = row.get(3);
            verifier.push(
                row.get(0),
                &StoredEvent {
                    aggregate_type: row.get(1),
                    aggregate_id: row.get(2),
                    sequence: sequence as u64,
                    event_type: row.get(4),
                    event_version: row.get(5),
                    payload: row.get(6),
                    metadata: row.get(7),
                },
                row.get(8),
                row.get(9),
            );
        }
    }
    reader.await.map_err(|e| PortError::new("event log", e))??;
    Ok(verifier.finish(checkpoints))
}

/// What `audit verify` found in a data directory.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub chain: ChainReport,
    /// The events the replay read: the log as it stood when the live read
    /// models were copied.
    pub replayed: u64,
    /// How many of those the live projector had not yet reached: when not
    /// zero, a difference may be an event still being projected.
    pub projector_behind: u64,
    /// Why the replay could not finish, when it could not: the read
    /// models were then not compared.
    pub replay_stopped: Option<String>,
    pub drift: Vec<Drift>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.chain.findings.is_empty() && self.replay_stopped.is_none() && self.drift.is_empty()
    }
}

/// Verifies the data directory `dir`: the chain, then each read model
/// against a replay of the events into a scratch database.
pub async fn verify(dir: &Path) -> Result<VerifyReport, PortError> {
    for database in [Database::Events, Database::Views] {
        let path = dir.join(database.file_name());
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Err(PortError::new(
                "data directory",
                format!("{} holds no {}", dir.display(), database.file_name()),
            ));
        }
    }
    // Two readers: the chain check and the replay each read the whole log,
    // at the same time, one core each.
    let events = open_reader(dir, Database::Events, 2).await?;
    let checkpoints = read_checkpoints(dir).await?;

    // The replay goes as far as the log did just before the live read
    // models were copied, as one consistent snapshot: rows a command
    // applied at once (read-your-writes) are in the live views before the
    // projector's position passes their events, and events committed while
    // this runs are left out of both.
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(rowid), 0) FROM events")
        .fetch_one(&events)
        .await
        .map_err(db_error("event log"))?;
    let scratch = tempfile::tempdir().map_err(|e| PortError::new("scratch directory", e))?;
    let snapshot_dir = scratch.path().join("live");
    tokio::fs::create_dir_all(&snapshot_dir)
        .await
        .map_err(|e| PortError::new("scratch directory", e))?;
    let snapshot = snapshot_dir.join(Database::Views.file_name());
    let live = open_reader(dir, Database::Views, 1).await?;
    sqlx::query("VACUUM INTO ?")
        .bind(snapshot.display().to_string())
        .execute(&live)
        .await
        .map_err(db_error("live views snapshot"))?;
    live.close().await;
    let live = open_reader(&snapshot_dir, Database::Views, 1).await?;
    let applied: i64 = sqlx::query_scalar("SELECT position FROM positions WHERE name = ?")
        .bind(super::views::PROJECTOR)
        .fetch_optional(&live)
        .await
        .map_err(db_error("views position"))?
        .unwrap_or(0);
    live.close().await;

    let fresh = open_pool(scratch.path(), Database::Views).await?;
    let replay = {
        let views = SqliteViews::new(fresh.clone());
        let log = EventLog::new(events.clone());
        tokio::spawn(async move { views.catch_up_until(&log, REPLAY_PAGE, head).await })
    };
    let chain = verify_chain(&events, &checkpoints).await?;
    let replay = replay.await.map_err(|e| PortError::new("replay", e))?;
    // An event too damaged to read stops the replay; the chain check has
    // named it already, and the report says where the replay stopped.
    let (replayed, replay_stopped, drift) = match replay {
        Ok(replayed) => (
            replayed as u64,
            None,
            compare_views(&fresh, &snapshot).await?,
        ),
        Err(e) => {
            let position: Option<i64> =
                sqlx::query_scalar("SELECT position FROM positions WHERE name = ?")
                    .bind(super::views::PROJECTOR)
                    .fetch_optional(&fresh)
                    .await
                    .map_err(db_error("replay position"))?;
            (
                position.unwrap_or(0) as u64,
                Some(format!(
                    "the replay stopped after position {}: {e}",
                    position.unwrap_or(0)
                )),
                Vec::new(),
            )
        }
    };
    fresh.close().await;
    Ok(VerifyReport {
        chain,
        projector_behind: u64::try_from(head - applied).unwrap_or(0),
        replayed,
        replay_stopped,
        drift,
    })
}

/// Every difference between the replayed views in `fresh` and the live
/// views database at `live`, field by field.
async fn compare_views(fresh: &SqlitePool, live: &Path) -> Result<Vec<Drift>, PortError> {
    let mut connection = fresh.acquire().await.map_err(db_error("replay"))?;
    sqlx::query("ATTACH DATABASE ? AS live")
        .bind(live.display().to_string())
        .execute(&mut *connection)
        .await
        .map_err(db_error("live views"))?;
    let mut drift = Vec::new();
    for (view, key) in VIEWS {
        let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
            .bind(view)
            .fetch_all(&mut *connection)
            .await
            .map_err(db_error("replay"))?;
        let object = columns
            .iter()
            .map(|c| format!("'{c}', {c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = |from: &'static str, other: &'static str| {
            format!(
                "SELECT json_object({object}) FROM (SELECT * FROM {from}.{view} EXCEPT SELECT * FROM {other}.{view})"
            )
        };
        let live_only: Vec<String> = sqlx::query_scalar(&rows("live", "main"))
            .fetch_all(&mut *connection)
            .await
            .map_err(db_error("live views"))?;
        let replay_only: Vec<String> = sqlx::query_scalar(&rows("main", "live"))
            .fetch_all(&mut *connection)
            .await
            .map_err(db_error("replay"))?;
        let keyed = |rows: Vec<String>| -> Result<BTreeMap<String, Value>, PortError> {
            rows.iter()
                .map(|text| {
                    let row: Value =
                        serde_json::from_str(text).map_err(|e| PortError::new("view row", e))?;
                    let name = key
                        .iter()
                        .map(|k| format!("{k}={}", plain(&row[*k])))
                        .collect::<Vec<_>>()
                        .join(",");
                    Ok((name, row))
                })
                .collect()
        };
        let mut live_rows = keyed(live_only)?;
        let replay_rows = keyed(replay_only)?;
        for (name, replayed) in replay_rows {
            match live_rows.remove(&name) {
                Some(live) => {
                    for column in &columns {
                        differences(
                            view,
                            &name,
                            column.clone(),
                            &json_text(&live[column.as_str()]),
                            &json_text(&replayed[column.as_str()]),
                            &mut drift,
                        );
                    }
                }
                None => drift.push(Drift {
                    view: view.to_owned(),
                    row: name,
                    field: String::new(),
                    live: None,
                    replayed: Some(replayed),
                }),
            }
        }
        for (name, live) in live_rows {
            drift.push(Drift {
                view: view.to_owned(),
                row: name,
                field: String::new(),
                live: Some(live),
                replayed: None,
            });
        }
    }
    sqlx::query("DETACH DATABASE live")
        .execute(&mut *connection)
        .await
        .map_err(db_error("live views"))?;
    Ok(drift)
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A column's value, with a JSON body parsed so its fields compare one
/// by one.
fn json_text(value: &Value) -> Value {
    match value {
        Value::String(s) if s.starts_with('{') || s.starts_with('[') => {
            serde_json::from_str(s).unwrap_or_else(|_| value.clone())
        }
        other => other.clone(),
    }
}
