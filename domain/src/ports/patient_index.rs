//! Where each patient is named, by fingerprint (organisation and NHS
//! number, `domain::policies::recipient_fingerprint`), so that one
//! patient's history is a few look-ups instead of a read of every list and
//! every conversation. Events never name a patient by NHS number, so the
//! index is written beside them: a list's rows as it is checked (before
//! its summary, so a list exists only once it is indexed), a search and a
//! conversation before their first event. Writes are idempotent, so a
//! retry writes nothing twice.
//!
//! Data kept before the index existed is added by
//! `usecases::audit::Batchbook::index_patients`, which then marks the
//! index complete; until it is, a patient's history is read the long way.

use std::collections::HashSet;

use super::PortError;

/// One place a patient is named.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mention {
    /// A row of a checked list (and so of every batch sent from it).
    ListRow { list_id: String, row: u64 },
    /// A staff search for them (`PatientSearch` aggregate id).
    Search(String),
    /// A conversation with them (`Conversation` aggregate id).
    Conversation(String),
}

impl Mention {
    /// The kind and id it is stored as.
    pub fn key(&self) -> (&'static str, String) {
        match self {
            Self::ListRow { list_id, row } => ("list", format!("{list_id}:{row}")),
            Self::Search(id) => ("search", id.clone()),
            Self::Conversation(id) => ("conversation", id.clone()),
        }
    }

    /// Reads a stored kind and id back.
    pub fn from_key(kind: &str, id: &str) -> Result<Self, PortError> {
        let bad = || PortError(format!("patient index: {kind} {id} is not a mention"));
        Ok(match kind {
            "list" => {
                let (list_id, row) = id.rsplit_once(':').ok_or_else(bad)?;
                Self::ListRow {
                    list_id: list_id.to_owned(),
                    row: row.parse().map_err(|_| bad())?,
                }
            }
            "search" => Self::Search(id.to_owned()),
            "conversation" => Self::Conversation(id.to_owned()),
            _ => return Err(bad()),
        })
    }
}

#[async_trait::async_trait]
pub trait PatientIndex: Send + Sync {
    /// Records each `(fingerprint, mention)` of the organisation.
    async fn add(
        &self,
        organisation_id: &str,
        mentions: &[(String, Mention)],
    ) -> Result<(), PortError>;

    /// Every mention of one patient.
    async fn mentions(
        &self,
        organisation_id: &str,
        fingerprint: &str,
    ) -> Result<Vec<Mention>, PortError>;

    /// Notes that every row of a list is indexed.
    async fn list_indexed(&self, organisation_id: &str, list_id: &str) -> Result<(), PortError>;

    /// The lists whose every row is indexed.
    async fn indexed_lists(&self, organisation_id: &str) -> Result<HashSet<String>, PortError>;

    /// Notes that everything stored before the index existed has been
    /// added (every write since adds its own mentions).
    async fn mark_complete(&self) -> Result<(), PortError>;

    async fn is_complete(&self) -> Result<bool, PortError>;
}
