//! `batchbook audit verify` on a data directory: the event chain against
//! its checkpoints, and every read model against one replayed from the
//! events, in memory.
//!
//! It only reads the data directory: the events and the live views are
//! opened read-only, the views as one snapshot (a read transaction).

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
pub use domain::audit::Drift;
use domain::audit::{differences, ReplayedViews};
use domain::audit::{ChainReport, ChainVerifier, Checkpoint, StoredEvent};
use domain::ports::PortError;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;
use serde_json::Value;
use sqlx::SqlitePool;
use tokio::sync::mpsc;

use super::db::{db_error, Database};
use super::view_tables::{
    batch_cells, delivery_cells, failure_cells, inbox_list_cells, inbox_read_cells,
    inbox_row_cells, item_cells, Cell, Cells, Table,
};
use cqrs_es::persist::EventUpcaster;
use domain::projection::{decode_text, RecordedEvent};
use events::EventMetadata;

/// The checkpoints of the chain's head, one JSON object a line, appended
/// by `batchbook serve` (and `demo`) and never rewritten.
pub const CHECKPOINTS: &str = "chain-checkpoints.jsonl";

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

/// Events the chain reader hands to the replay per message.
const PAGE: usize = 10_000;

/// One stored event for the replay: its aggregate, its sequence, and the
/// event and metadata decoded; or why it cannot be decoded.
type Replayable = Result<(String, u64, RecordedEvent, EventMetadata), String>;

/// A stored event's columns, copied out of the row for the replay to
/// decode: the six texts one after another in one buffer, so a copy is one
/// allocation rather than six.
struct Copied {
    texts: String,
    /// Where each text ends in `texts`: aggregate type, aggregate id,
    /// event type, event version, payload, metadata.
    ends: [usize; 6],
    sequence: u64,
}

impl Copied {
    fn of(event: &StoredEvent<'_>) -> Self {
        let parts = [
            event.aggregate_type,
            event.aggregate_id,
            event.event_type,
            event.event_version,
            event.payload,
            event.metadata,
        ];
        let mut texts = String::with_capacity(parts.iter().map(|part| part.len()).sum());
        let mut ends = [0; 6];
        for (end, part) in ends.iter_mut().zip(parts) {
            texts.push_str(part);
            *end = texts.len();
        }
        Self {
            texts,
            ends,
            sequence: event.sequence,
        }
    }

    /// Decoded for the replay.
    fn replayable(self, upcasters: &[Box<dyn EventUpcaster>]) -> Replayable {
        replayable(&self.stored(), upcasters)
    }

    fn stored(&self) -> StoredEvent<'_> {
        let [aggregate_type, aggregate_id, event_type, event_version, payload, metadata] =
            std::array::from_fn(|i| {
                let start = if i == 0 { 0 } else { self.ends[i - 1] };
                &self.texts[start..self.ends[i]]
            });
        StoredEvent {
            aggregate_type,
            aggregate_id,
            sequence: self.sequence,
            event_type,
            event_version,
            payload,
            metadata,
        }
    }
}

/// An event for the replay, decoded by the thread that read it or left
/// for the replay to decode: whichever of the two is waiting on the other
/// does it (see `read_chain`), so both cores share the decoding. Held
/// inline in a page: boxing the larger variant would cost an allocation an
/// event.
#[allow(clippy::large_enum_variant)]
enum Pending {
    Decoded(Replayable),
    Copied(Copied),
}

fn replayable(event: &StoredEvent<'_>, upcasters: &[Box<dyn EventUpcaster>]) -> Replayable {
    decode_text(event, upcasters)
        .map(|(decoded, metadata)| {
            (
                event.aggregate_id.to_owned(),
                event.sequence,
                decoded,
                metadata,
            )
        })
        .map_err(|e| e.to_string())
}

/// One stored event on its way to the replay.
struct Decoded {
    position: i64,
    event: Pending,
}

/// Stored events in commit order.
type Page = Vec<Decoded>;

/// `audit verify` reads the whole log, and every live row, in one pass
/// each: through rusqlite, row by row on a blocking thread, since sqlx
/// hands each row across to SQLite's worker thread and a whole-log read
/// spends most of its time there (see ARCHITECTURE.md).
fn open_read_only(dir: &Path, database: Database) -> Result<Connection, PortError> {
    let connection = Connection::open_with_flags(
        dir.join(database.file_name()),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| PortError::new(database.file_name(), e))?;
    connection
        .busy_timeout(Duration::from_secs(30))
        .map_err(|e| PortError::new(database.file_name(), e))?;
    // Pages read straight from the file's mapping rather than copied out
    // through read(2): a whole-log read spent a tenth of its time in that
    // copy. The data directory's files are never truncated (no vacuum), so
    // a mapping cannot lose its pages under the reader.
    connection
        .pragma_update(None, "mmap_size", MMAP_SIZE)
        .map_err(|e| PortError::new(database.file_name(), e))?;
    Ok(connection)
}

/// SQLite's own ceiling on a mapping (`SQLITE_MAX_MMAP_SIZE`).
const MMAP_SIZE: i64 = 0x7fff_0000;

fn sql_error(context: &'static str) -> impl Fn(rusqlite::Error) -> PortError {
    move |e| PortError::new(context, e)
}

/// A text column of the event at `position`, as stored.
fn text_at<'r>(
    row: &'r rusqlite::Row<'_>,
    column: usize,
    position: i64,
) -> Result<Option<&'r str>, PortError> {
    let unreadable = |why: &str| {
        PortError::new(
            "event log",
            format!("the event at position {position}: column {column} {why}"),
        )
    };
    match row.get_ref(column).map_err(sql_error("event log"))? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| unreadable("is not UTF-8 text")),
        _ => Err(unreadable("is not text")),
    }
}

fn required<'r>(
    row: &'r rusqlite::Row<'_>,
    column: usize,
    position: i64,
) -> Result<&'r str, PortError> {
    text_at(row, column, position)?.ok_or_else(|| {
        PortError::new(
            "event log",
            format!("the event at position {position}: column {column} is empty"),
        )
    })
}

/// Reads the whole event log in commit order through the chain check,
/// handing each event up to position `head`, decoded, to the replay when
/// there is one. A replay that stops taking events does not stop the chain
/// check.
fn read_chain(
    dir: &Path,
    checkpoints: &[Checkpoint],
    replay: Option<(i64, mpsc::Sender<Page>)>,
) -> Result<ChainReport, PortError> {
    let connection = open_read_only(dir, Database::Events)?;
    // A data directory from before the chain has no chain columns.
    let chained: bool = connection
        .query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('events') WHERE name = 'hash'",
            [],
            |row| row.get(0),
        )
        .map_err(sql_error("event log"))?;
    let columns = if chained {
        "previous_hash, hash"
    } else {
        "NULL AS previous_hash, NULL AS hash"
    };
    let mut statement = connection
        .prepare(&format!(
            "SELECT rowid, aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, {columns}
             FROM events ORDER BY rowid"
        ))
        .map_err(sql_error("event log"))?;
    let mut rows = statement.query([]).map_err(sql_error("event log"))?;
    let (head, mut replay) = match replay {
        Some((head, pages)) => (head, Some(pages)),
        None => (0, None),
    };
    let mut page = Vec::with_capacity(PAGE);
    let mut verifier = ChainVerifier::new();
    let upcasters = events::upcast::all();
    let mut decode_here = false;
    while let Some(row) = rows.next().map_err(sql_error("event log"))? {
        let position: i64 = row.get(0).map_err(sql_error("event log"))?;
        let sequence: i64 = row.get(3).map_err(sql_error("event log"))?;
        let event = StoredEvent {
            aggregate_type: required(row, 1, position)?,
            aggregate_id: required(row, 2, position)?,
            sequence: sequence as u64,
            event_type: required(row, 4, position)?,
            event_version: required(row, 5, position)?,
            payload: required(row, 6, position)?,
            metadata: required(row, 7, position)?,
        };
        verifier.push(
            position,
            &event,
            text_at(row, 8, position)?,
            text_at(row, 9, position)?,
        );
        if position > head {
            continue;
        }
        let Some(pages) = &replay else {
            continue;
        };
        if page.is_empty() {
            // Pages already waiting: the replay is behind, so this thread
            // decodes the next page; none: the replay waits, so it does.
            decode_here = pages.capacity() < pages.max_capacity();
        }
        page.push(Decoded {
            position,
            event: if decode_here {
                Pending::Decoded(replayable(&event, &upcasters))
            } else {
                Pending::Copied(Copied::of(&event))
            },
        });
        if page.len() == PAGE
            && pages
                .blocking_send(std::mem::replace(&mut page, Vec::with_capacity(PAGE)))
                .is_err()
        {
            replay = None;
        }
    }
    if let Some(pages) = replay {
        if !page.is_empty() {
            // A replay that stopped has said why.
            let _ = pages.blocking_send(page);
        }
    }
    Ok(verifier.finish(checkpoints))
}

/// Checks the whole event log's chain against the checkpoints.
pub async fn verify_chain(
    dir: &Path,
    checkpoints: &[Checkpoint],
) -> Result<ChainReport, PortError> {
    let dir = dir.to_owned();
    let checkpoints = checkpoints.to_vec();
    tokio::task::spawn_blocking(move || read_chain(&dir, &checkpoints, None))
        .await
        .map_err(|e| PortError::new("event log", e))?
}

/// What `audit verify` found in a data directory.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub chain: ChainReport,
    /// The events the replay read: the log as it stood when the live read
    /// models were read.
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

/// The replay's read models, and where it stopped if it could not finish.
struct Replay {
    views: ReplayedViews,
    stopped: Option<String>,
}

/// Projects each event handed over, in order, into read models in memory:
/// the projection the live projector runs (`domain::projection::project`).
/// An event too damaged to read stops it; the chain check names that event.
async fn replay(mut pages: mpsc::Receiver<Page>) -> Replay {
    let mut views = ReplayedViews::new();
    let mut last = 0;
    let upcasters = events::upcast::all();
    while let Some(page) = pages.recv().await {
        for Decoded { position, event } in page {
            let event = match event {
                Pending::Decoded(event) => event,
                Pending::Copied(copied) => copied.replayable(&upcasters),
            };
            let applied = match event {
                Ok((aggregate_id, sequence, event, metadata)) => views
                    .apply_decoded(aggregate_id, sequence, event, metadata)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            if let Err(e) = applied {
                return Replay {
                    views,
                    stopped: Some(format!(
                        "the replay stopped after position {last}, at the event at position {position}: {e}"
                    )),
                };
            }
            last = position;
        }
    }
    Replay {
        views,
        stopped: None,
    }
}

/// Verifies the data directory `dir`: the chain, and each read model
/// against a replay of the events. It reads the log once: one thread reads
/// it and checks the chain, and hands each event on to the replay.
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
    let checkpoints = read_checkpoints(dir).await?;
    let dir = dir.to_owned();
    let joined = |e: tokio::task::JoinError| PortError::new("audit verify", e);

    // The replay goes as far as the log did just before the live read
    // models were read, as one consistent snapshot: rows a command applied
    // at once (read-your-writes) are in the live views before the
    // projector's position passes their events, and events committed while
    // this runs are left out of both.
    let head: i64 = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            open_read_only(&dir, Database::Events)?
                .query_row("SELECT COALESCE(MAX(rowid), 0) FROM events", [], |row| {
                    row.get(0)
                })
                .map_err(sql_error("event log"))
        })
        .await
        .map_err(joined)??
    };
    let live = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || read_live(&dir))
    };
    let (pages, received) = mpsc::channel(4);
    let chain =
        tokio::task::spawn_blocking(move || read_chain(&dir, &checkpoints, Some((head, pages))));
    let replay = replay(received).await;
    let chain = chain.await.map_err(joined)??;
    let (applied, live) = live.await.map_err(joined)??;
    let replayed = replay.views.events;
    let drift = match replay.stopped {
        None => {
            let views = replay.views;
            tokio::task::spawn_blocking(move || {
                let drift = compare(&live, &views);
                // Freeing a whole log's read models twice over takes a
                // good part of a second; the answer need not wait for it.
                std::thread::spawn(move || drop((live, views)));
                drift
            })
            .await
            .map_err(joined)??
        }
        Some(_) => Vec::new(),
    };
    Ok(VerifyReport {
        chain,
        projector_behind: u64::try_from(head - applied).unwrap_or(0),
        replayed,
        replay_stopped: replay.stopped,
        drift,
    })
}

/// One live read model: its columns, and its rows by the `column=value`
/// pairs that name them.
struct LiveTable {
    table: Table,
    columns: Vec<String>,
    rows: HashMap<String, Vec<Cell>>,
}

/// The columns that name a row, `column=value` joined by commas.
fn row_name<C: Borrow<Cell>>(table: Table, columns: &[String], cells: &[C]) -> String {
    table
        .key()
        .iter()
        .map(|key| {
            let value = columns
                .iter()
                .position(|c| c == key)
                .map_or_else(String::new, |i| cells[i].borrow().plain());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn cell(value: ValueRef<'_>) -> Cell {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Integer(i),
        ValueRef::Real(r) => Cell::Real(r),
        ValueRef::Text(bytes) => Cell::Text(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Blob(bytes) => Cell::Blob(bytes.to_vec()),
    }
}

/// The projector's position and every live read model's rows, read in one
/// transaction: one snapshot of the views database.
fn read_live(dir: &Path) -> Result<(i64, Vec<LiveTable>), PortError> {
    let mut connection = open_read_only(dir, Database::Views)?;
    let snapshot = connection.transaction().map_err(sql_error("live views"))?;
    let applied: Option<i64> = snapshot
        .query_row(
            "SELECT position FROM positions WHERE name = ?",
            [super::views::PROJECTOR],
            |row| row.get(0),
        )
        .optional()
        .map_err(sql_error("views position"))?;
    let mut tables = Vec::new();
    for table in Table::PROJECTED {
        let mut statement = snapshot
            .prepare(&format!("SELECT * FROM {}", table.name()))
            .map_err(sql_error("live views"))?;
        let columns: Vec<String> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut rows = HashMap::new();
        let mut found = statement.query([]).map_err(sql_error("live views"))?;
        while let Some(row) = found.next().map_err(sql_error("live views"))? {
            let cells = (0..columns.len())
                .map(|i| row.get_ref(i).map(cell))
                .collect::<Result<Vec<_>, _>>()
                .map_err(sql_error("live views"))?;
            rows.insert(row_name(table, &columns, &cells), cells);
        }
        tables.push(LiveTable {
            table,
            columns,
            rows,
        });
    }
    Ok((applied.unwrap_or(0), tables))
}

/// Which of the replayed rows one comparison thread takes: every
/// `workers`th source row, from its `worker`th. Each thread walks the same
/// maps, unchanged, so in the same order, and serialises its share only.
#[derive(Clone, Copy)]
struct Share {
    worker: usize,
    workers: usize,
}

impl Share {
    const ALL: Share = Share {
        worker: 0,
        workers: 1,
    };

    fn of<T>(self, rows: impl Iterator<Item = T>) -> impl Iterator<Item = T> {
        rows.enumerate()
            .filter(move |(i, _)| i % self.workers == self.worker)
            .map(|(_, row)| row)
    }
}

/// The rows the projector writes for the replayed read models, in `table`:
/// the share `share` of them.
fn replayed_rows(
    table: Table,
    views: &ReplayedViews,
    share: Share,
) -> Result<Vec<Cells>, PortError> {
    Ok(match table {
        Table::BatchSummaries => share
            .of(views.batches())
            .map(batch_cells)
            .collect::<Result<_, _>>()?,
        Table::Deliveries => share
            .of(views.deliveries())
            .map(delivery_cells)
            .collect::<Result<_, _>>()?,
        Table::RecipientFailures => share
            .of(views.failures())
            .map(|(organisation, fingerprint, at)| failure_cells(organisation, fingerprint, at))
            .collect(),
        Table::WorkspaceItems => share
            .of(views.items())
            .map(item_cells)
            .collect::<Result<_, _>>()?,
        Table::InboxRows => share
            .of(views.inbox())
            .map(inbox_row_cells)
            .collect::<Result<_, _>>()?,
        Table::InboxLists => share.of(views.inbox()).flat_map(inbox_list_cells).collect(),
        Table::InboxReads => share.of(views.inbox()).flat_map(inbox_read_cells).collect(),
    })
}

/// A row as JSON: each column by name.
fn row_json<C: Borrow<Cell>>(columns: &[String], cells: &[C]) -> Value {
    Value::Object(
        columns
            .iter()
            .zip(cells)
            .map(|(column, cell)| (column.clone(), cell.borrow().to_json()))
            .collect(),
    )
}

/// A column the projector does not write, as the replay gives it.
static NULL: Cell = Cell::Null;

/// A replayed row's cells in the live table's column order.
fn in_columns<'c>(columns: &[String], cells: &'c Cells) -> Vec<&'c Cell> {
    columns
        .iter()
        .map(|column| {
            cells
                .iter()
                .find(|(n, _)| n == column)
                .map_or(&NULL, |(_, c)| c)
        })
        .collect()
}

/// What one comparison thread found in its share of a table.
#[derive(Default)]
struct Checked {
    /// Replayed rows also found live.
    matched: usize,
    drift: Vec<Drift>,
}

/// Compares the share `share` of the replayed rows of one table with the
/// live rows.
fn check_share(
    live: &LiveTable,
    replayed: &ReplayedViews,
    share: Share,
) -> Result<Checked, PortError> {
    let LiveTable {
        table,
        columns,
        rows,
    } = live;
    let mut checked = Checked::default();
    for cells in replayed_rows(*table, replayed, share)? {
        let ordered = in_columns(columns, &cells);
        let name = row_name(*table, columns, &ordered);
        let Some(live_cells) = rows.get(&name) else {
            checked.drift.push(Drift {
                view: table.name().to_owned(),
                row: name,
                field: String::new(),
                live: None,
                replayed: Some(row_json(columns, &ordered)),
            });
            continue;
        };
        checked.matched += 1;
        for ((column, live), replayed) in columns.iter().zip(live_cells).zip(&ordered) {
            if live != *replayed {
                differences(
                    table.name(),
                    &name,
                    column.clone(),
                    &live.to_json(),
                    &replayed.to_json(),
                    &mut checked.drift,
                );
            }
        }
    }
    Ok(checked)
}

/// Every difference between the live read models and the rows the
/// projector would write for the replay, field by field: each table's
/// rows by name, then its live rows the replay does not have. The rows are
/// serialised and compared on as many threads as there are cores.
fn compare(live: &[LiveTable], replayed: &ReplayedViews) -> Result<Vec<Drift>, PortError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut drift = Vec::new();
    for table in live {
        let shares: Vec<Checked> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..workers)
                .map(|worker| {
                    scope.spawn(move || check_share(table, replayed, Share { worker, workers }))
                })
                .collect();
            threads
                .into_iter()
                .map(|thread| {
                    thread.join().unwrap_or_else(|_| {
                        Err(PortError::new("audit verify", "a comparison thread failed"))
                    })
                })
                .collect::<Result<_, _>>()
        })?;
        let matched: usize = shares.iter().map(|s| s.matched).sum();
        let mut found: Vec<Drift> = shares.into_iter().flat_map(|s| s.drift).collect();
        // A row's differences stay in column order.
        found.sort_by(|a, b| a.row.cmp(&b.row));
        drift.append(&mut found);
        if matched < table.rows.len() {
            // Live rows no replayed row names: seldom, so named only then.
            let replayed_names: HashSet<String> = replayed_rows(table.table, replayed, Share::ALL)?
                .iter()
                .map(|cells| {
                    row_name(
                        table.table,
                        &table.columns,
                        &in_columns(&table.columns, cells),
                    )
                })
                .collect();
            let mut extra: Vec<(&String, &Vec<Cell>)> = table
                .rows
                .iter()
                .filter(|(name, _)| !replayed_names.contains(*name))
                .collect();
            extra.sort_by_key(|(name, _)| *name);
            drift.extend(extra.into_iter().map(|(name, live_cells)| Drift {
                view: table.table.name().to_owned(),
                row: name.clone(),
                field: String::new(),
                live: Some(row_json(&table.columns, live_cells)),
                replayed: None,
            }));
        }
    }
    Ok(drift)
}
