//! Evidence bytes on disk, under `EVIDENCE_DIR`: each file under a random
//! key (never the uploader's name), written to a temporary name and renamed,
//! so a reader never sees half a file. The database row that points at a
//! key is written after the bytes; a failed row removes them again.

use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Blobs {
    dir: PathBuf,
    /// The largest file accepted, in bytes.
    pub max_bytes: u64,
}

impl Blobs {
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        Self { dir: dir.into(), max_bytes }
    }

    /// Stores the bytes; returns their key.
    pub async fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        use rand::RngCore;
        let mut raw = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut raw);
        let key: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        tokio::fs::create_dir_all(&self.dir).await?;
        let partial = self.dir.join(format!("{key}.partial"));
        tokio::fs::write(&partial, bytes).await?;
        tokio::fs::rename(&partial, self.dir.join(&key)).await?;
        Ok(key)
    }

    /// The file under `key`; keys are only ever our own hex names.
    pub async fn open(&self, key: &str) -> std::io::Result<tokio::fs::File> {
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "not a blob key"));
        }
        tokio::fs::File::open(self.dir.join(key)).await
    }

    pub async fn remove(&self, key: &str) {
        if key.chars().all(|c| c.is_ascii_hexdigit()) {
            if let Err(e) = tokio::fs::remove_file(self.dir.join(key)).await {
                tracing::warn!(key, error = %e, "could not remove an evidence file");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_open_remove() {
        let dir = std::env::temp_dir().join(format!("blobs-{}", std::process::id()));
        let blobs = Blobs::new(&dir, 100);
        let key = blobs.put(b"hello").await.unwrap();
        assert_eq!(key.len(), 32);
        let mut text = String::new();
        use tokio::io::AsyncReadExt;
        blobs.open(&key).await.unwrap().read_to_string(&mut text).await.unwrap();
        assert_eq!(text, "hello");
        assert!(blobs.open("../etc/passwd").await.is_err());
        blobs.remove(&key).await;
        assert!(blobs.open(&key).await.is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
