//! A batch's attachment: one file, uploaded by staff before the batch is
//! created, kept in the blob store, and opened by each patient through their
//! own link after the date-of-birth check.

use chrono::{DateTime, Utc};
use cqrs_es::persist::PersistedEventRepository;

use crate::usecases::Role;
use events::Attachment;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{keys, Batchbook, BatchbookError, Caller};
use crate::values::OrganisationId;

/// The largest attachment: under the 6 MB a Lambda request may carry, and
/// plenty for a leaflet or a letter.
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;
/// The longest file name kept.
const MAX_FILE_NAME_CHARS: usize = 100;

/// The file types a patient's phone opens without an app of its own. The
/// type comes from the file's bytes, never from its name.
const ALLOWED: [&str; 3] = ["application/pdf", "image/png", "image/jpeg"];

/// An uploaded attachment, as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentSummary {
    pub attachment_id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
}

/// The file behind a patient's link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentFile {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

fn invalid(reason: impl Into<String>) -> BatchbookError {
    BatchbookError::InvalidRequest(reason.into())
}

/// A file name fit to offer a browser: no folders, no control characters.
fn check_file_name(raw: &str) -> Result<String, BatchbookError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(invalid("file_name: give the attachment a file name"));
    }
    if name.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(invalid(format!(
            "file_name: is longer than {MAX_FILE_NAME_CHARS} characters"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || matches!(c, '/' | '\\' | '"'))
    {
        return Err(invalid(format!(
            "file_name: may not contain {}",
            c.escape_default()
        )));
    }
    Ok(name.to_owned())
}

/// The file's type from its bytes, when it is one patients can open.
fn content_type(bytes: &[u8]) -> Result<&'static str, BatchbookError> {
    if bytes.is_empty() {
        return Err(invalid("attachment: the file is empty"));
    }
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(BatchbookError::AttachmentTooLarge);
    }
    infer::get(bytes)
        .map(|kind| kind.mime_type())
        .and_then(|mime| ALLOWED.into_iter().find(|allowed| *allowed == mime))
        .ok_or_else(|| invalid("attachment: must be a PDF, PNG or JPEG file"))
}

impl<R: PersistedEventRepository> Batchbook<R> {
    /// Keeps a file for a batch to link to. Nothing is kept when the file is
    /// refused.
    #[tracing::instrument(skip_all, fields(organisation = %caller.organisation_id))]
    pub async fn upload_attachment(
        &self,
        caller: &Caller,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<AttachmentSummary, BatchbookError> {
        caller.require(Role::Staff)?;
        let file_name = check_file_name(file_name)?;
        let content_type = content_type(&bytes)?;
        let summary = AttachmentSummary {
            attachment_id: uuid::Uuid::new_v4().to_string(),
            file_name,
            content_type: content_type.to_owned(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
            uploaded_at: self.ports.clock.now(),
        };
        let org = &caller.organisation_id;
        // The file first: a summary is only ever written for a kept file.
        self.ports
            .blobs
            .put(&keys::attachment(org, &summary.attachment_id), bytes)
            .await?;
        let json = serde_json::to_vec(&summary).expect("a summary serialises");
        self.ports
            .blobs
            .put(&keys::attachment_summary(org, &summary.attachment_id), json)
            .await?;
        self.record_upload(
            caller,
            events::UploadEvent::AttachmentUploaded {
                attachment_id: summary.attachment_id.clone(),
                organisation_id: org.to_string(),
                file_name: summary.file_name.clone(),
                content_type: summary.content_type.clone(),
                size: summary.size,
                sha256: summary.sha256.clone(),
                uploaded_at: summary.uploaded_at,
            },
        )
        .await?;
        tracing::info!(
            attachment_id = summary.attachment_id,
            size = summary.size,
            "attachment kept"
        );
        Ok(summary)
    }

    /// The caller's attachment, as a batch records it.
    pub(super) async fn attachment_for_batch(
        &self,
        org: &OrganisationId,
        attachment_id: &str,
    ) -> Result<Attachment, BatchbookError> {
        let missing = || invalid("attachment_id: there is no attachment with this id");
        if uuid::Uuid::parse_str(attachment_id).is_err() {
            return Err(missing());
        }
        let json = self
            .ports
            .blobs
            .get(&keys::attachment_summary(org, attachment_id))
            .await?
            .ok_or_else(missing)?;
        let summary: AttachmentSummary = serde_json::from_slice(&json).map_err(|e| {
            BatchbookError::Unavailable(format!("an attachment summary is unreadable: {e}"))
        })?;
        Ok(Attachment {
            attachment_id: summary.attachment_id,
            blob_key: keys::attachment(org, attachment_id),
            file_name: summary.file_name,
            content_type: summary.content_type,
            size: summary.size,
            sha256: summary.sha256,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_comes_from_the_bytes_and_only_pdf_png_and_jpeg_are_taken() {
        assert_eq!(content_type(b"%PDF-1.7\n...").unwrap(), "application/pdf");
        assert_eq!(
            content_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap(),
            "image/png"
        );
        assert_eq!(
            content_type(b"\xFF\xD8\xFF\xE0\0\x10JFIF\0").unwrap(),
            "image/jpeg"
        );
        let refused = |bytes: &[u8]| content_type(bytes).unwrap_err().to_string();
        assert_eq!(
            refused(b"PK\x03\x04zip"),
            "attachment: must be a PDF, PNG or JPEG file"
        );
        assert_eq!(
            refused(b"plain text"),
            "attachment: must be a PDF, PNG or JPEG file"
        );
        assert_eq!(refused(b""), "attachment: the file is empty");
        let mut big = b"%PDF-".to_vec();
        big.resize(MAX_ATTACHMENT_BYTES + 1, b' ');
        assert_eq!(
            refused(&big),
            "attachment: the file is larger than 5 MiB (5242880 bytes), the largest allowed"
        );
    }

    #[test]
    fn file_names_are_trimmed_and_paths_and_control_characters_refused() {
        assert_eq!(
            check_file_name("  Flu leaflet.pdf ").unwrap(),
            "Flu leaflet.pdf"
        );
        let refused = |name: &str| check_file_name(name).unwrap_err().to_string();
        assert_eq!(refused("  "), "file_name: give the attachment a file name");
        assert_eq!(refused("../etc/passwd"), "file_name: may not contain /");
        assert_eq!(refused("a\\b.pdf"), "file_name: may not contain \\\\");
        assert_eq!(refused("a\nb.pdf"), "file_name: may not contain \\n");
        assert_eq!(
            refused(&"x".repeat(101)),
            "file_name: is longer than 100 characters"
        );
    }
}
