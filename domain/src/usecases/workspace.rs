//! Finding work: an organisation's batches, checked lists and attachments,
//! newest first, a page at a time, from the read models (indexed queries,
//! never scans). Uploads are recorded as events, so the lists come from the
//! same history as everything else.

use cqrs_es::persist::PersistedEventRepository;
use events::UploadEvent;

use super::{keys, AttachmentFile, Batchbook, BatchbookError, Caller};
use crate::aggregates::UploadCommand;
use crate::ports::{BatchQuery, Page};
use crate::projection::{BatchSummary, ItemKind, WorkspaceItem};

/// The most a page of a list holds.
pub const MAX_PAGE: usize = 100;

/// Which batches to list, as staff ask.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchFilter {
    pub status: Option<crate::aggregates::BatchStatus>,
    pub kind: Option<events::BatchKind>,
    pub created_by: Option<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

fn invalid(detail: impl Into<String>) -> BatchbookError {
    BatchbookError::InvalidRequest(detail.into())
}

/// A cursor is a row's sort key: 13 digits, `#`, an id. Anything else was
/// not given by us.
pub(in crate::usecases) fn check_cursor(
    cursor: Option<&str>,
) -> Result<Option<String>, BatchbookError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let well_formed = cursor.len() > 14
        && cursor.len() <= 100
        && cursor.as_bytes()[..13].iter().all(u8::is_ascii_digit)
        && cursor.as_bytes()[13] == b'#'
        && cursor[14..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !well_formed {
        return Err(invalid(
            "cursor: is not one this API gave; pass the `next` of the page before",
        ));
    }
    Ok(Some(cursor.to_owned()))
}

pub(in crate::usecases) fn check_limit(limit: Option<usize>) -> Result<usize, BatchbookError> {
    match limit.unwrap_or(25) {
        0 => Err(invalid(format!("limit: must be 1 to {MAX_PAGE}"))),
        n if n > MAX_PAGE => Err(invalid(format!("limit: must be 1 to {MAX_PAGE}"))),
        n => Ok(n),
    }
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// The caller's organisation's batches, newest first.
    pub async fn batches(
        &self,
        caller: &Caller,
        filter: BatchFilter,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Page<BatchSummary>, BatchbookError> {
        if let (Some(from), Some(to)) = (filter.from, filter.to) {
            if from >= to {
                return Err(invalid("from and to: from must be before to"));
            }
        }
        let query = BatchQuery {
            organisation_id: caller.organisation_id.to_string(),
            status: filter.status,
            kind: filter.kind,
            created_by: filter.created_by,
            from: filter.from,
            to: filter.to,
            after: check_cursor(cursor)?,
            limit: check_limit(limit)?,
        };
        Ok(self.ports.views.list_batches(&query).await?)
    }

    /// The caller's organisation's checked lists, or attachments, newest
    /// first.
    pub async fn workspace_items(
        &self,
        caller: &Caller,
        kind: ItemKind,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Page<WorkspaceItem>, BatchbookError> {
        let after = check_cursor(cursor)?;
        Ok(self
            .ports
            .views
            .list_items(
                caller.organisation_id.as_ref(),
                kind,
                after.as_deref(),
                check_limit(limit)?,
            )
            .await?)
    }

    /// An uploaded attachment's file, for staff to check before sending.
    pub async fn attachment_file(
        &self,
        caller: &Caller,
        attachment_id: &str,
    ) -> Result<AttachmentFile, BatchbookError> {
        let missing = || BatchbookError::AttachmentNotFound;
        if uuid::Uuid::parse_str(attachment_id).is_err() {
            return Err(missing());
        }
        let org = &caller.organisation_id;
        let attachment = self
            .attachment_for_batch(org, attachment_id)
            .await
            .map_err(|e| match e {
                BatchbookError::InvalidRequest(_) => missing(),
                other => other,
            })?;
        let bytes = self
            .ports
            .blobs
            .get(&keys::attachment(org, attachment_id))
            .await?
            .ok_or_else(missing)?;
        Ok(AttachmentFile {
            file_name: attachment.file_name,
            content_type: attachment.content_type,
            bytes,
        })
    }

    /// Records an upload (once: a retry records nothing), and brings the
    /// lists up to date with it.
    pub(in crate::usecases) async fn record_upload(
        &self,
        caller: &Caller,
        event: UploadEvent,
    ) -> Result<(), BatchbookError> {
        let id = match &event {
            UploadEvent::ListChecked { list_id, .. } => format!("list:{list_id}"),
            UploadEvent::AttachmentUploaded { attachment_id, .. } => {
                format!("attachment:{attachment_id}")
            }
        };
        self.uploads
            .execute(
                &id,
                UploadCommand::Record(Box::new(event)),
                self.metadata(caller),
            )
            .await?;
        self.refresh_views(&self.uploads, &id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_only_the_sort_keys_the_api_hands_out() {
        assert_eq!(
            check_cursor(Some("1764579600000#0b9f3a52-1c1e-4a8e-9d0c-3c1f1b2a4d5e")).unwrap(),
            Some("1764579600000#0b9f3a52-1c1e-4a8e-9d0c-3c1f1b2a4d5e".into())
        );
        assert_eq!(check_cursor(None).unwrap(), None);
        let refused = |c: &str| check_cursor(Some(c)).unwrap_err().to_string();
        let reason = "cursor: is not one this API gave; pass the `next` of the page before";
        assert_eq!(refused("abc"), reason);
        assert_eq!(refused("1764579600000"), reason);
        assert_eq!(refused("176457960000x#id"), reason);
        assert_eq!(refused("1764579600000#id' OR 1=1"), reason);
        assert_eq!(
            refused(&format!("1764579600000#{}", "a".repeat(100))),
            reason
        );
    }

    #[test]
    fn a_page_holds_1_to_100() {
        assert_eq!(check_limit(None).unwrap(), 25);
        assert_eq!(check_limit(Some(100)).unwrap(), 100);
        assert_eq!(
            check_limit(Some(0)).unwrap_err().to_string(),
            "limit: must be 1 to 100"
        );
        assert_eq!(
            check_limit(Some(101)).unwrap_err().to_string(),
            "limit: must be 1 to 100"
        );
    }
}
