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
