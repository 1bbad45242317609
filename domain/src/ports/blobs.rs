//! Files: uploaded lists, checked-list artifacts, attachments, reports.

use super::PortError;

#[async_trait::async_trait]
pub trait BlobStore: Send + Sync {
    /// Writes the whole object; a reader sees the old one or the new one.
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), PortError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PortError>;

    /// Whether an object is there, without reading it. Stores override this
    /// with a cheap check (a file's metadata, an S3 HEAD).
    async fn exists(&self, key: &str) -> Result<bool, PortError> {
        Ok(self.get(key).await?.is_some())
    }

    /// A URL the frontend can PUT an object to directly, where the store
    /// offers one (S3); `None` where uploads go through the API instead.
    async fn presigned_put(
        &self,
        _key: &str,
        _expires: std::time::Duration,
    ) -> Result<Option<String>, PortError> {
        Ok(None)
    }

    /// A URL to download an object directly, where the store offers one.
    async fn presigned_get(
        &self,
        _key: &str,
        _expires: std::time::Duration,
    ) -> Result<Option<String>, PortError> {
        Ok(None)
    }
}
