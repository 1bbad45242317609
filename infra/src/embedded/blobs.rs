//! The blob store as files under a directory. Writes go to a temporary file
//! that is renamed into place, so a reader sees a whole object or none.

use std::path::{Path, PathBuf};

use domain::ports::{BlobStore, PortError};

pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Keys are relative paths of plain segments; anything that could escape
    /// the root is refused.
    fn path(&self, key: &str) -> Result<PathBuf, PortError> {
        let valid = !key.is_empty()
            && key.split('/').all(|segment| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            });
        if !valid {
            return Err(PortError(format!("invalid blob key {key:?}")));
        }
        Ok(self.root.join(Path::new(key)))
    }
}

#[async_trait::async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), PortError> {
        let path = self.path(key)?;
        let dir = path
            .parent()
            .expect("a key has a parent under the root")
            .to_owned();
        let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
        let io = |e: std::io::Error| PortError::new("blob store", e);
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        tokio::fs::write(&tmp, bytes).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PortError::new("blob store", e)),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, PortError> {
        tokio::fs::try_exists(self.path(key)?)
            .await
            .map_err(|e| PortError::new("blob store", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn objects_round_trip_and_missing_ones_are_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::new(dir.path());
        store.put("orgs/A1/x.csv", b"hello".to_vec()).await.unwrap();
        assert_eq!(
            store.get("orgs/A1/x.csv").await.unwrap(),
            Some(b"hello".to_vec())
        );
        assert_eq!(store.get("orgs/A1/y.csv").await.unwrap(), None);
    }

    #[tokio::test]
    async fn keys_that_could_escape_the_root_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::new(dir.path());
        for key in ["../x", "/etc/passwd", "a//b", "a/./b", ""] {
            assert_eq!(
                store.get(key).await,
                Err(PortError(format!("invalid blob key {key:?}"))),
                "{key}"
            );
        }
    }
}
