//! The link directory: patient links by token hash.

use super::PortError;

/// Where patient links are registered (by token hash) and found again.
#[async_trait::async_trait]
pub trait LinkDirectory: Send + Sync {
    /// Registers links. Registering one again changes nothing: a link's
    /// record is fixed by its token.
    async fn register(&self, links: Vec<crate::links::LinkRecord>) -> Result<(), PortError>;
    async fn find(&self, token_sha256: &str)
        -> Result<Option<crate::links::LinkRecord>, PortError>;
}

/// A link directory that keeps the records it has found, the most recently
/// used `capacity` of them. A record is fixed by its token (see
/// [`LinkDirectory::register`]), so a kept one is never stale; a token not
/// found is asked again each time, since its link may be registered later.
/// Every page a patient opens finds their link first, and 200 patients at
/// once made 200 reads of the one-connection database; on AWS each is a
/// DynamoDB read.
pub struct KeptLinks {
    directory: std::sync::Arc<dyn LinkDirectory>,
    kept: std::sync::Mutex<lru::LruCache<String, crate::links::LinkRecord>>,
}

impl KeptLinks {
    pub fn new(
        directory: std::sync::Arc<dyn LinkDirectory>,
        capacity: std::num::NonZeroUsize,
    ) -> Self {
        Self {
            directory,
            kept: std::sync::Mutex::new(lru::LruCache::new(capacity)),
        }
    }

    fn kept(&self, token_sha256: &str) -> Option<crate::links::LinkRecord> {
        self.kept.lock().ok()?.get(token_sha256).cloned()
    }
}

#[async_trait::async_trait]
impl LinkDirectory for KeptLinks {
    async fn register(&self, links: Vec<crate::links::LinkRecord>) -> Result<(), PortError> {
        self.directory.register(links).await
    }

    async fn find(
        &self,
        token_sha256: &str,
    ) -> Result<Option<crate::links::LinkRecord>, PortError> {
        if let Some(record) = self.kept(token_sha256) {
            return Ok(Some(record));
        }
        let found = self.directory.find(token_sha256).await?;
        if let (Some(record), Ok(mut kept)) = (&found, self.kept.lock()) {
            kept.put(token_sha256.to_owned(), record.clone());
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::links::{LinkPurpose, LinkRecord};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Counted {
        records: Mutex<Vec<LinkRecord>>,
        finds: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl LinkDirectory for Counted {
        async fn register(&self, links: Vec<LinkRecord>) -> Result<(), PortError> {
            self.records.lock().unwrap().extend(links);
            Ok(())
        }
        async fn find(&self, token_sha256: &str) -> Result<Option<LinkRecord>, PortError> {
            self.finds.fetch_add(1, Ordering::SeqCst);
            Ok(self
                .records
                .lock()
                .unwrap()
                .iter()
                .find(|r| r.token_sha256 == token_sha256)
                .cloned())
        }
    }

    fn record(token: &str) -> LinkRecord {
        LinkRecord {
            token_sha256: token.into(),
            organisation_id: "A12345".into(),
            batch_id: "b".into(),
            row: 1,
            purpose: LinkPurpose::Invite,
            date_of_birth_check: None,
        }
    }

    #[tokio::test]
    async fn a_found_record_is_kept_and_a_missing_one_is_asked_again() {
        let inner = Arc::new(Counted::default());
        let kept = KeptLinks::new(inner.clone(), std::num::NonZeroUsize::new(1).unwrap());
        // Not registered yet: asked, not kept.
        assert_eq!(kept.find("t1").await.unwrap(), None);
        kept.register(vec![record("t1"), record("t2")])
            .await
            .unwrap();
        assert_eq!(kept.find("t1").await.unwrap(), Some(record("t1")));
        assert_eq!(kept.find("t1").await.unwrap(), Some(record("t1")));
        assert_eq!(
            inner.finds.load(Ordering::SeqCst),
            2,
            "the second find of t1 is kept"
        );
        // Capacity one: t2 displaces t1, which is asked for again.
        assert_eq!(kept.find("t2").await.unwrap(), Some(record("t2")));
        assert_eq!(kept.find("t1").await.unwrap(), Some(record("t1")));
        assert_eq!(inner.finds.load(Ordering::SeqCst), 4);
    }
}
