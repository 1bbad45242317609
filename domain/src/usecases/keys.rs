//! Blob keys. Each kind of object has its own top-level prefix (so a bucket
//! lifecycle rule can expire raw uploads and reports), then the
//! organisation, so one organisation's objects can never be named by another.

use crate::values::OrganisationId;

pub fn list_prefix(org: &OrganisationId, list_id: &str) -> String {
    format!("lists/{org}/{list_id}")
}
/// A copy of a list's upload kept with the list, for reports that
/// outlive the upload's expiry (Self-Book's, for as long as its links).
pub fn kept_upload(org: &OrganisationId, list_id: &str) -> String {
    format!("{}/upload.csv", list_prefix(org, list_id))
}
/// Where the frontend puts a file for the ingest function to check.
pub fn upload(org: &OrganisationId, upload_id: &str) -> String {
    format!("uploads/{org}/{upload_id}.csv")
}
/// Reads an upload key back into its organisation and upload id.
pub fn parse_upload(key: &str) -> Option<(OrganisationId, String)> {
    let rest = key.strip_prefix("uploads/")?;
    let (org, file) = rest.split_once('/')?;
    let upload_id = file.strip_suffix(".csv")?;
    uuid::Uuid::parse_str(upload_id).ok()?;
    Some((OrganisationId::parse(org).ok()?, upload_id.to_owned()))
}
/// Where a refused upload's reason is kept, for the frontend to show.
pub fn refusal(org: &OrganisationId, list_id: &str) -> String {
    format!("{}/refusal.json", list_prefix(org, list_id))
}
/// An attachment's file, and what was said about it at upload.
pub fn attachment(org: &OrganisationId, attachment_id: &str) -> String {
    format!("attachments/{org}/{attachment_id}")
}
pub fn attachment_summary(org: &OrganisationId, attachment_id: &str) -> String {
    format!("attachments/{org}/{attachment_id}.json")
}
pub fn report(org: &OrganisationId, name: &str) -> String {
    format!("reports/{org}/{name}")
}
pub fn checked(org: &OrganisationId, list_id: &str) -> String {
    format!("{}/checked.jsonl", list_prefix(org, list_id))
}
pub fn summary(org: &OrganisationId, list_id: &str) -> String {
    format!("{}/summary.json", list_prefix(org, list_id))
}
/// How far the check of a large list has got.
pub fn progress(org: &OrganisationId, list_id: &str) -> String {
    format!("{}/progress.json", list_prefix(org, list_id))
}
/// Where one conversation's blobs live: who it is about, each message's
/// words and destination, each reply.
fn conversation_prefix(org: &OrganisationId, conversation_id: &str) -> String {
    format!("conversations/{org}/{conversation_id}")
}
pub fn conversation_patient(org: &OrganisationId, conversation_id: &str) -> String {
    format!("{}/patient.json", conversation_prefix(org, conversation_id))
}
/// A message's words and destination, named by the request that wrote it
/// (so two messages written at once never overwrite each other).
pub fn conversation_message(org: &OrganisationId, conversation_id: &str, name: &str) -> String {
    format!(
        "{}/messages/{name}.json",
        conversation_prefix(org, conversation_id)
    )
}
/// A reply to message `message`, named by its digest too, so a refused
/// second reply racing the first never overwrites it.
pub fn conversation_reply(
    org: &OrganisationId,
    conversation_id: &str,
    message: u32,
    name: &str,
) -> String {
    format!(
        "{}/replies/{message}-{name}.json",
        conversation_prefix(org, conversation_id)
    )
}
/// The organisation's settings.
pub fn settings(org: &OrganisationId) -> String {
    format!("settings/{org}.json")
}
