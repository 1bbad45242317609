//! Opening the SQLite databases, each with its migrations run at start.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use domain::ports::PortError;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    Events,
    Work,
    Views,
    Simulators,
}

static EVENTS: Migrator = sqlx::migrate!("./migrations/events");
static WORK: Migrator = sqlx::migrate!("./migrations/work");
static VIEWS: Migrator = sqlx::migrate!("./migrations/views");
static SIMULATORS: Migrator = sqlx::migrate!("./migrations/simulators");

impl Database {
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Events => "events.sqlite",
            Self::Work => "work.sqlite",
            Self::Views => "views.sqlite",
            Self::Simulators => "simulators.sqlite",
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Self::Events => &EVENTS,
            Self::Work => &WORK,
            Self::Views => &VIEWS,
            Self::Simulators => &SIMULATORS,
        }
    }
}

/// Opens (creating if needed) one database under `data_dir` and migrates it.
/// WAL with `synchronous = NORMAL` survives a killed process; a busy timeout
/// makes writers in other processes (a second `batchbook` command) wait
/// their turn instead of failing.
pub async fn open_pool(data_dir: &Path, database: Database) -> Result<SqlitePool, PortError> {
    let path = data_dir.join(database.file_name());
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .map_err(|e| PortError::new("sqlite options", e))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        // One connection: SQLite takes one writer at a time anyway, and a
        // second connection only waits on the lock in busy-handler sleeps
        // (the batch-send benchmark ran at half the speed with eight).
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| PortError::new(database.file_name(), e))?;
    database
        .migrator()
        .run(&pool)
        .await
        .map_err(|e| PortError::new(database.file_name(), e))?;
    Ok(pool)
}

/// Read-only connections to a database `open_pool` has opened, for reads
/// many callers make at once (the workspace's lists): in WAL mode they read
/// beside the one writer, each seeing what was committed when it began.
pub async fn open_reader(
    data_dir: &Path,
    database: Database,
    connections: u32,
) -> Result<SqlitePool, PortError> {
    let path = data_dir.join(database.file_name());
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .map_err(|e| PortError::new("sqlite options", e))?
        .read_only(true)
        .busy_timeout(Duration::from_secs(30));
    SqlitePoolOptions::new()
        .max_connections(connections)
        .connect_with(options)
        .await
        .map_err(|e| PortError::new(database.file_name(), e))
}

pub(crate) fn db_error(context: &'static str) -> impl Fn(sqlx::Error) -> PortError {
    move |e| PortError::new(context, e)
}
