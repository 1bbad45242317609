//! Read models on SQLite, and the projector that builds them from the event
//! log. The projector writes a page of view rows and its position in one
//! transaction: a crash leaves both as they were, so each event is applied
//! exactly once, and a rebuild from position 0 gives the same rows.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cqrs_es::persist::EventUpcaster;
use cqrs_es::persist::SerializedEvent;
use domain::jobs::parse_delivery_id;
use domain::links::LinkRecord;
use domain::ports::{BatchQuery, InboxQuery, Page};
use domain::ports::{FailureHistory, LinkDirectory, PortError};
use domain::projection::{
    project, BatchSummary, DeliveryRow, InboxRow, ItemKind, ProjectionError, ViewTransaction,
    WorkspaceItem,
};
use domain::usecases::BatchViews;
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::db::db_error;
use super::event_log::EventLog;
use super::grouped::spawn_grouped;
use super::view_tables::{
    batch_cells, delivery_cells, failed_at_text, inbox_list_cells, inbox_read_cells,
    inbox_row_cells, item_cells, kind_name, upsert, Table, ROWS_PER_STATEMENT,
};

pub(crate) const PROJECTOR: &str = "batch_views";

pub struct SqliteViews {
    pool: SqlitePool,
    /// Read-only connections for the workspace's lists, which many staff
    /// read at once; the one writing connection stays free for projection.
    reader: SqlitePool,
    upcasters: Vec<Box<dyn EventUpcaster>>,
    /// The task that finds the links asked for at once in one read (see
    /// [`LinkDirectory::find`] below), started by the first find.
    finds: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Find>>,
}

/// A link asked for by its token's hash, and where its record's text (or
/// the read's failure) goes.
type Find = (
    String,
    tokio::sync::oneshot::Sender<Result<Option<String>, String>>,
);

/// Finds every link of `group` in one read per 500 tokens, each token
/// named once, and answers each asker.
async fn find_group(reader: &SqlitePool, group: Vec<Find>) {
    let mut tokens: Vec<&str> = group.iter().map(|(token, _)| token.as_str()).collect();
    tokens.sort_unstable();
    tokens.dedup();
    let mut found: HashMap<String, String> = HashMap::new();
    let mut failed = None;
    for chunk in tokens.chunks(ROWS_PER_STATEMENT) {
        let mut query =
            sqlx::QueryBuilder::new("SELECT token_sha256, body FROM links WHERE token_sha256 IN ");
        query.push_tuples(chunk, |mut tuple, token| {
            tuple.push_bind(*token);
        });
        match query
            .build_query_as::<(String, String)>()
            .fetch_all(reader)
            .await
        {
            Ok(rows) => found.extend(rows),
            Err(e) => {
                failed = Some(e.to_string());
                break;
            }
        }
    }
    for (token, reply) in group {
        let answer = match &failed {
            Some(e) => Err(e.clone()),
            None => Ok(found.get(&token).cloned()),
        };
        // One who stopped waiting no longer wants the answer.
        let _ = reply.send(answer);
    }
}

impl SqliteViews {
    pub fn new(pool: SqlitePool) -> Self {
        Self::with_reader(pool.clone(), pool)
    }

    pub fn with_reader(pool: SqlitePool, reader: SqlitePool) -> Self {
        Self {
            pool,
            reader,
            upcasters: events::upcast::all(),
            finds: std::sync::OnceLock::new(),
        }
    }

    /// Applies the events committed since the last run, a page at a time.
    /// Returns how many events were read.
    pub async fn catch_up(&self, log: &EventLog, page: usize) -> Result<usize, ProjectionError> {
        self.catch_up_until(log, page, i64::MAX).await
    }

    /// Applies the events committed since the last run up to and including
    /// position `until`: a replay to compare with views that had applied
    /// that far.
    pub async fn catch_up_until(
        &self,
        log: &EventLog,
        page: usize,
        until: i64,
    ) -> Result<usize, ProjectionError> {
        let mut read = 0;
        loop {
            let position: i64 = sqlx::query_scalar("SELECT position FROM positions WHERE name = ?")
                .bind(PROJECTOR)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error("projector position"))?
                .unwrap_or(0);
            let mut events = log.read_after(position, page).await?;
            events.retain(|(at, _)| *at <= until);
            let Some(&(last, _)) = events.last() else {
                return Ok(read);
            };
            read += events.len();
            let mut tx = self.begin().await?;
            tx.prefetch(
                events
                    .iter()
                    .filter(|(_, e)| e.aggregate_type == DELIVERY)
                    .filter_map(|(_, e)| parse_delivery_id(&e.aggregate_id)),
            )
            .await?;
            for (_, event) in events {
                project(&mut tx, event, &self.upcasters).await?;
            }
            tx.flush().await?;
            sqlx::query("INSERT INTO positions (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position")
                .bind(PROJECTOR)
                .bind(last)
                .execute(&mut *tx.tx)
                .await
                .map_err(db_error("projector position"))?;
            tx.tx.commit().await.map_err(db_error("projector"))?;
        }
    }

    async fn begin(&self) -> Result<SqliteViewTx, PortError> {
        Ok(SqliteViewTx {
            tx: self.pool.begin().await.map_err(db_error("projector"))?,
            batches: HashMap::new(),
            deliveries: HashMap::new(),
        })
    }

    /// Forgets every view row and the position, so the next catch-up
    /// rebuilds the views from the whole event log.
    pub async fn reset(&self) -> Result<(), PortError> {
        let mut tx = self.pool.begin().await.map_err(db_error("views reset"))?;
        for statement in [
            "DELETE FROM batch_summaries",
            "DELETE FROM deliveries",
            "DELETE FROM recipient_failures",
            "DELETE FROM workspace_items",
            "DELETE FROM inbox_rows",
            "DELETE FROM inbox_lists",
            "DELETE FROM inbox_reads",
            "DELETE FROM positions",
        ] {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(db_error("views reset"))?;
        }
        tx.commit().await.map_err(db_error("views reset"))
    }

    /// Every view row, in a stable order: for comparing a rebuilt model with
    /// the live one.
    pub async fn dump(&self) -> Result<(Vec<BatchSummary>, Vec<DeliveryRow>), PortError> {
        let summaries: Vec<String> =
            sqlx::query_scalar("SELECT body FROM batch_summaries ORDER BY batch_id")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("views dump"))?;
        let deliveries: Vec<String> =
            sqlx::query_scalar("SELECT body FROM deliveries ORDER BY batch_id, row")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("views dump"))?;
        Ok((decode_all(summaries)?, decode_all(deliveries)?))
    }
}

fn decode_all<T: serde::de::DeserializeOwned>(bodies: Vec<String>) -> Result<Vec<T>, PortError> {
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).map_err(|e| PortError::new("view row", e)))
        .collect()
}

#[async_trait::async_trait]
impl BatchViews for SqliteViews {
    async fn batch(&self, batch_id: &str) -> Result<Option<BatchSummary>, PortError> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM batch_summaries WHERE batch_id = ?")
                .bind(batch_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error("batch view"))?;
        Ok(decode_all(body.into_iter().collect())?.pop())
    }

    async fn failed_deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError> {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM deliveries WHERE batch_id = ? AND status = 'failed' ORDER BY row",
        )
        .bind(batch_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("delivery view"))?;
        decode_all(bodies)
    }

    async fn open_deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError> {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM deliveries WHERE batch_id = ? AND status = 'open' ORDER BY row",
        )
        .bind(batch_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("delivery view"))?;
        decode_all(bodies)
    }

    async fn deliveries(&self, batch_id: &str) -> Result<Vec<DeliveryRow>, PortError> {
        let bodies: Vec<String> =
            sqlx::query_scalar("SELECT body FROM deliveries WHERE batch_id = ? ORDER BY row")
                .bind(batch_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("delivery view"))?;
        decode_all(bodies)
    }

    async fn settled_batches(&self, limit: usize) -> Result<Vec<BatchSummary>, PortError> {
        let bodies: Vec<String> =
            sqlx::query_scalar("SELECT body FROM batch_summaries WHERE settled = 1 LIMIT ?")
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error("batch view"))?;
        decode_all(bodies)
    }

    async fn list_batches(&self, query: &BatchQuery) -> Result<Page<BatchSummary>, PortError> {
        // Newest first along the (organisation_id, listed) index; the
        // filters narrow what it walks.
        let mut sql = sqlx::QueryBuilder::new(
            "SELECT listed, body FROM batch_summaries WHERE listed IS NOT NULL AND organisation_id = ",
        );
        sql.push_bind(&query.organisation_id);
        if let Some(after) = &query.after {
            sql.push(" AND listed < ").push_bind(after);
        }
        if let Some(from) = query.from {
            sql.push(" AND listed >= ").push_bind(listed_bound(from));
        }
        if let Some(to) = query.to {
            sql.push(" AND listed < ").push_bind(listed_bound(to));
        }
        if let Some(status) = query.status {
            sql.push(" AND status = ").push_bind(status.label());
        }
        if let Some(kind) = query.kind {
            sql.push(" AND kind = ").push_bind(kind_name(kind));
        }
        if let Some(user) = &query.created_by {
            sql.push(" AND created_by = ").push_bind(user);
        }
        sql.push(" ORDER BY listed DESC LIMIT ")
            .push_bind(query.limit as i64 + 1);
        let rows: Vec<(String, String)> = sql
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .map_err(db_error("batch list"))?;
        page(rows, query.limit)
    }

    async fn list_items(
        &self,
        organisation_id: &str,
        kind: ItemKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<WorkspaceItem>, PortError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT listed, body FROM workspace_items
             WHERE organisation_id = ? AND kind = ? AND deleted = 0 AND listed < ?
             ORDER BY listed DESC LIMIT ?",
        )
        .bind(organisation_id)
        .bind(kind.as_str())
        // Every key sorts below "~": digits, '#', and ids.
        .bind(after.unwrap_or("~"))
        .bind(limit as i64 + 1)
        .fetch_all(&self.reader)
        .await
        .map_err(db_error("workspace list"))?;
        page(rows, limit)
    }

    async fn item(&self, kind: ItemKind, id: &str) -> Result<Option<WorkspaceItem>, PortError> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM workspace_items WHERE kind = ? AND id = ?")
                .bind(kind.as_str())
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error("workspace item"))?;
        Ok(decode_all(body.into_iter().collect())?.pop())
    }

    async fn inbox(&self, query: &InboxQuery) -> Result<Page<InboxRow>, PortError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT l.sort, r.body FROM inbox_lists l
             JOIN inbox_rows r ON r.conversation_id = l.conversation_id
             LEFT JOIN inbox_reads d ON d.conversation_id = l.conversation_id AND d.user_id = ?1
             WHERE l.partition = ?2 AND l.sort < ?3
               AND (?4 IS NULL OR l.done = ?4)
               AND (?1 IS NULL OR (l.replies > 0 AND l.replies > COALESCE(d.replies, 0)))
             ORDER BY l.sort DESC LIMIT ?5",
        )
        .bind(query.unread_for.as_deref())
        .bind(&query.partition)
        // Every key sorts below "~": digits, '#', and ids.
        .bind(query.after.as_deref().unwrap_or("~"))
        .bind(query.done)
        .bind(query.limit as i64 + 1)
        .fetch_all(&self.reader)
        .await
        .map_err(db_error("inbox list"))?;
        page(rows, query.limit)
    }

    async fn inbox_unread(&self, partition: &str, user_id: &str) -> Result<u64, PortError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM inbox_lists l
             LEFT JOIN inbox_reads d ON d.conversation_id = l.conversation_id AND d.user_id = ?1
             WHERE l.partition = ?2 AND l.replies > 0 AND l.replies > COALESCE(d.replies, 0)",
        )
        .bind(user_id)
        .bind(partition)
        .fetch_one(&self.reader)
        .await
        .map_err(db_error("inbox unread"))?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn apply_now(&self, events: Vec<SerializedEvent>) -> Result<(), PortError> {
        let mut tx = self.begin().await?;
        for event in events {
            project(&mut tx, event, &self.upcasters)
                .await
                .map_err(|e| match e {
                    ProjectionError::Store(e) => e,
                    other => PortError::new("projection", other),
                })?;
        }
        tx.flush().await?;
        tx.tx.commit().await.map_err(db_error("projector"))
    }
}

/// The lowest `listed` key at or after `at`.
fn listed_bound(at: DateTime<Utc>) -> String {
    format!("{:013}", at.timestamp_millis().max(0))
}

/// One page from `limit + 1` rows of (listed, body): the extra row only says
/// there is a next page, which starts after the last row kept.
fn page<T: serde::de::DeserializeOwned>(
    mut rows: Vec<(String, String)>,
    limit: usize,
) -> Result<Page<T>, PortError> {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = more
        .then(|| rows.last().map(|(listed, _)| listed.clone()))
        .flatten();
    Ok(Page {
        items: decode_all(rows.into_iter().map(|(_, body)| body).collect())?,
        next,
    })
}

/// The projector's transaction over one page of events. Rows it reads or
/// writes are kept in memory and written once, at the end of the page, in
/// multi-row statements: a page touches each batch summary and delivery
/// row many times, and every statement is a round trip to SQLite's thread.
/// The Delivery aggregate's type, as events name it.
const DELIVERY: &str = <domain::aggregates::Delivery as cqrs_es::Aggregate>::TYPE;

struct SqliteViewTx {
    tx: Transaction<'static, Sqlite>,
    /// Each row as the page left it; `true` once it changed.
    batches: HashMap<String, (Option<BatchSummary>, bool)>,
    deliveries: HashMap<(String, u64), (Option<DeliveryRow>, bool)>,
}

impl SqliteViewTx {
    /// Reads every delivery row a page will touch, in one query per 500.
    async fn prefetch<'a>(
        &mut self,
        keys: impl Iterator<Item = (&'a str, u64)>,
    ) -> Result<(), PortError> {
        let mut by_batch: HashMap<&str, Vec<u64>> = HashMap::new();
        for (batch_id, row) in keys {
            by_batch.entry(batch_id).or_default().push(row);
        }
        for (batch_id, mut rows) in by_batch {
            rows.sort_unstable();
            rows.dedup();
            for row in &rows {
                self.deliveries
                    .insert((batch_id.to_owned(), *row), (None, false));
            }
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                // `batch_id = ? AND row IN (…)` searches the primary key.
                let mut query =
                    sqlx::QueryBuilder::new("SELECT body FROM deliveries WHERE batch_id = ");
                query.push_bind(batch_id).push(" AND row IN ");
                query.push_tuples(chunk, |mut tuple, row| {
                    tuple.push_bind(*row as i64);
                });
                let bodies: Vec<String> = query
                    .build_query_scalar()
                    .fetch_all(&mut *self.tx)
                    .await
                    .map_err(db_error("delivery view"))?;
                for found in decode_all::<DeliveryRow>(bodies)? {
                    self.deliveries
                        .insert((found.batch_id.clone(), found.row), (Some(found), false));
                }
            }
        }
        Ok(())
    }

    /// Writes the changed rows.
    async fn flush(&mut self) -> Result<(), PortError> {
        let batches = self
            .batches
            .drain()
            .filter_map(|(_, (row, changed))| row.filter(|_| changed))
            .map(|summary| batch_cells(&summary))
            .collect::<Result<Vec<_>, _>>()?;
        upsert(&mut self.tx, Table::BatchSummaries, &batches).await?;
        let deliveries = self
            .deliveries
            .drain()
            .filter_map(|(_, (row, changed))| row.filter(|_| changed))
            .map(|row| delivery_cells(&row))
            .collect::<Result<Vec<_>, _>>()?;
        upsert(&mut self.tx, Table::Deliveries, &deliveries).await
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, PortError> {
    serde_json::to_string(value).map_err(|e| PortError::new("view row", e))
}

#[async_trait::async_trait]
impl ViewTransaction for SqliteViewTx {
    async fn batch(&mut self, batch_id: &str) -> Result<Option<BatchSummary>, PortError> {
        if let Some((row, _)) = self.batches.get(batch_id) {
            return Ok(row.clone());
        }
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM batch_summaries WHERE batch_id = ?")
                .bind(batch_id)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(db_error("batch view"))?;
        let row = decode_all(body.into_iter().collect())?.pop();
        self.batches
            .insert(batch_id.to_owned(), (row.clone(), false));
        Ok(row)
    }

    async fn put_batch(&mut self, summary: BatchSummary) -> Result<(), PortError> {
        self.batches
            .insert(summary.batch_id.clone(), (Some(summary), true));
        Ok(())
    }

    async fn delivery(
        &mut self,
        batch_id: &str,
        row: u64,
    ) -> Result<Option<DeliveryRow>, PortError> {
        let key = (batch_id.to_owned(), row);
        if let Some((cached, _)) = self.deliveries.get(&key) {
            return Ok(cached.clone());
        }
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM deliveries WHERE batch_id = ? AND row = ?")
                .bind(batch_id)
                .bind(row as i64)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(db_error("delivery view"))?;
        let found = decode_all(body.into_iter().collect())?.pop();
        self.deliveries.insert(key, (found.clone(), false));
        Ok(found)
    }

    async fn put_delivery(&mut self, row: DeliveryRow) -> Result<(), PortError> {
        self.deliveries
            .insert((row.batch_id.clone(), row.row), (Some(row), true));
        Ok(())
    }

    async fn item(&mut self, kind: ItemKind, id: &str) -> Result<Option<WorkspaceItem>, PortError> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM workspace_items WHERE kind = ? AND id = ?")
                .bind(kind.as_str())
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(db_error("workspace item"))?;
        Ok(decode_all(body.into_iter().collect())?.pop())
    }

    async fn put_item(&mut self, item: &WorkspaceItem) -> Result<(), PortError> {
        upsert(&mut self.tx, Table::WorkspaceItems, &[item_cells(item)?]).await
    }

    async fn inbox_row(&mut self, conversation_id: &str) -> Result<Option<InboxRow>, PortError> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM inbox_rows WHERE conversation_id = ?")
                .bind(conversation_id)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(db_error("inbox row"))?;
        Ok(decode_all(body.into_iter().collect())?.pop())
    }

    async fn put_inbox_row(
        &mut self,
        _previous: Option<&InboxRow>,
        row: &InboxRow,
    ) -> Result<(), PortError> {
        upsert(&mut self.tx, Table::InboxRows, &[inbox_row_cells(row)?]).await?;
        // The row's entries, and its members' reads, written afresh: a
        // conversation is in a handful of lists.
        for statement in [
            "DELETE FROM inbox_lists WHERE conversation_id = ?",
            "DELETE FROM inbox_reads WHERE conversation_id = ?",
        ] {
            sqlx::query(statement)
                .bind(&row.conversation_id)
                .execute(&mut *self.tx)
                .await
                .map_err(db_error("inbox row"))?;
        }
        upsert(&mut self.tx, Table::InboxLists, &inbox_list_cells(row)).await?;
        upsert(&mut self.tx, Table::InboxReads, &inbox_read_cells(row)).await
    }

    async fn record_failure(
        &mut self,
        organisation_id: &str,
        fingerprint: &str,
        failed_at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        sqlx::query(
            "INSERT INTO recipient_failures (organisation_id, fingerprint, last_failed_at) VALUES (?, ?, ?)
             ON CONFLICT (organisation_id, fingerprint) DO UPDATE
               SET last_failed_at = max(last_failed_at, excluded.last_failed_at)",
        )
        .bind(organisation_id)
        .bind(fingerprint)
        .bind(failed_at_text(failed_at))
        .execute(&mut *self.tx)
        .await
        .map_err(db_error("failure history"))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl FailureHistory for SqliteViews {
    async fn last_failure(
        &self,
        organisation_id: &str,
        fingerprint: &str,
    ) -> Result<Option<DateTime<Utc>>, PortError> {
        let at: Option<String> = sqlx::query_scalar(
            "SELECT last_failed_at FROM recipient_failures WHERE organisation_id = ? AND fingerprint = ?",
        )
        .bind(organisation_id)
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error("failure history"))?;
        at.map(|at| {
            DateTime::parse_from_rfc3339(&at)
                .map(|at| at.with_timezone(&Utc))
                .map_err(|e| PortError::new("failure history", e))
        })
        .transpose()
    }
}

#[async_trait::async_trait]
impl LinkDirectory for SqliteViews {
    async fn register(&self, links: Vec<LinkRecord>) -> Result<(), PortError> {
        if links.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(db_error("links"))?;
        for link in &links {
            sqlx::query(
                "INSERT INTO links (token_sha256, body) VALUES (?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(&link.token_sha256)
            .bind(to_json(link)?)
            .execute(&mut *tx)
            .await
            .map_err(db_error("links"))?;
        }
        tx.commit().await.map_err(db_error("links"))
    }

    /// On the read-only connections, not queued behind projection on the
    /// writer; and the links patients open at once (the texts of a batch
    /// arrive together) are found in one read, as the event store groups
    /// its loads (`grouped.rs`), not one statement each. Each read is
    /// made after its askers asked, and a link is committed before its
    /// message is sent, so it is there to read.
    async fn find(&self, token_sha256: &str) -> Result<Option<LinkRecord>, PortError> {
        let finds = self.finds.get_or_init(|| {
            let reader = self.reader.clone();
            spawn_grouped(move |group: Vec<Find>| {
                let reader = reader.clone();
                async move { find_group(&reader, group).await }
            })
        });
        let stopped = || PortError::new("links", "the link finder has stopped");
        let (reply, answer) = tokio::sync::oneshot::channel();
        finds
            .send((token_sha256.to_owned(), reply))
            .map_err(|_| stopped())?;
        let body = answer
            .await
            .map_err(|_| stopped())?
            .map_err(|e| PortError::new("links", e))?;
        body.map(|b| serde_json::from_str(&b).map_err(|e| PortError::new("link record", e)))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::{open_pool, open_reader, Database};
    use domain::links::LinkPurpose;

    fn record(token: &str, row: u64) -> LinkRecord {
        LinkRecord {
            token_sha256: token.into(),
            organisation_id: "A12345".into(),
            batch_id: "b-1".into(),
            row,
            purpose: LinkPurpose::Invite,
            date_of_birth_check: Some("check".into()),
        }
    }

    #[tokio::test]
    async fn links_found_at_once_are_read_together_and_each_asker_gets_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let pool = open_pool(dir.path(), Database::Views).await.unwrap();
        let reader = open_reader(dir.path(), Database::Views, 2).await.unwrap();
        let views = SqliteViews::with_reader(pool, reader);
        views
            .register(vec![record("t1", 1), record("t2", 2)])
            .await
            .unwrap();
        // Two askers of one link, another link and one never registered,
        // all asked together.
        let (one, again, two, unknown) = tokio::join!(
            views.find("t1"),
            views.find("t1"),
            views.find("t2"),
            views.find("t3"),
        );
        assert_eq!(one.unwrap(), Some(record("t1", 1)));
        assert_eq!(again.unwrap(), Some(record("t1", 1)));
        assert_eq!(two.unwrap(), Some(record("t2", 2)));
        assert_eq!(unknown.unwrap(), None);
        // A link registered after a find that missed it is found next time.
        views.register(vec![record("t3", 3)]).await.unwrap();
        assert_eq!(views.find("t3").await.unwrap(), Some(record("t3", 3)));
    }
}
