//! The patient index in `work.sqlite` (durable like the queue, never
//! rebuilt with the views): one row per mention, keyed so that one
//! patient's mentions are one primary-key range.

use std::collections::HashSet;

use domain::ports::{Mention, PatientIndex, PortError};
use sqlx::SqlitePool;

use super::db::db_error;

pub struct SqlitePatientIndex {
    pool: SqlitePool,
}

impl SqlitePatientIndex {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

/// Rows a statement inserts at once: four parameters each, inside
/// SQLite's 32,766.
const ROWS_PER_INSERT: usize = 1_000;

#[async_trait::async_trait]
impl PatientIndex for SqlitePatientIndex {
    async fn add(
        &self,
        organisation_id: &str,
        mentions: &[(String, Mention)],
    ) -> Result<(), PortError> {
        let mut tx = self.pool.begin().await.map_err(db_error("patient index"))?;
        for chunk in mentions.chunks(ROWS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT OR IGNORE INTO patient_mentions (organisation_id, fingerprint, kind, id) ",
            );
            insert.push_values(chunk, |mut row, (fingerprint, mention)| {
                let (kind, id) = mention.key();
                row.push_bind(organisation_id)
                    .push_bind(fingerprint)
                    .push_bind(kind)
                    .push_bind(id);
            });
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(db_error("patient index"))?;
        }
        tx.commit().await.map_err(db_error("patient index"))?;
        Ok(())
    }

    async fn mentions(
        &self,
        organisation_id: &str,
        fingerprint: &str,
    ) -> Result<Vec<Mention>, PortError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT kind, id FROM patient_mentions WHERE organisation_id = ? AND fingerprint = ?",
        )
        .bind(organisation_id)
        .bind(fingerprint)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("patient index"))?;
        rows.iter()
            .map(|(kind, id)| Mention::from_key(kind, id))
            .collect()
    }

    async fn list_indexed(&self, organisation_id: &str, list_id: &str) -> Result<(), PortError> {
        sqlx::query(
            "INSERT OR IGNORE INTO patient_indexed_lists (organisation_id, list_id) VALUES (?, ?)",
        )
        .bind(organisation_id)
        .bind(list_id)
        .execute(&self.pool)
        .await
        .map_err(db_error("patient index"))?;
        Ok(())
    }

    async fn indexed_lists(&self, organisation_id: &str) -> Result<HashSet<String>, PortError> {
        let lists: Vec<String> = sqlx::query_scalar(
            "SELECT list_id FROM patient_indexed_lists WHERE organisation_id = ?",
        )
        .bind(organisation_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error("patient index"))?;
        Ok(lists.into_iter().collect())
    }

    async fn mark_complete(&self) -> Result<(), PortError> {
        sqlx::query("INSERT OR IGNORE INTO patient_index_complete (complete) VALUES (1)")
            .execute(&self.pool)
            .await
            .map_err(db_error("patient index"))?;
        Ok(())
    }

    async fn is_complete(&self) -> Result<bool, PortError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT complete FROM patient_index_complete")
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error("patient index"))?;
        Ok(found.is_some())
    }
}
