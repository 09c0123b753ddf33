//! Content-addressed blobs on the filesystem, shared by every repository.
//!
//! A blob is written to a file under `uploads/`, hashed as it arrives, and only when its
//! digest matches is it fsynced and renamed to `blobs/<alg>/<2 hex>/<hex>`, and the
//! directory fsynced: a crash leaves either no blob or a whole one under a digest, never a
//! partial one. Reads stream from the file; nothing holds a whole blob in memory.

use std::path::{Path, PathBuf};

use portcullis_distribution::Digest;
use tokio::io::AsyncWriteExt as _;

/// Where blobs and uploads live
#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// A blob store under `root` (created if missing)
    pub fn open(root: &Path) -> std::io::Result<BlobStore> {
        std::fs::create_dir_all(root.join("blobs"))?;
        std::fs::create_dir_all(root.join("uploads"))?;
        Ok(BlobStore {
            root: root.to_path_buf(),
        })
    }

    /// The directory everything is under
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of a committed blob
    pub fn path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(hex.get(..2).unwrap_or("00"))
            .join(hex)
    }

    /// The file of an upload session
    pub fn upload_path(&self, session: &str) -> PathBuf {
        self.root.join("uploads").join(session)
    }

    /// The metadata file of an upload session (its repository and start time)
    pub fn session_path(&self, session: &str) -> PathBuf {
        self.root.join("uploads").join(format!("{session}.session"))
    }

    /// The size of a committed blob, if it exists
    pub async fn size(&self, digest: &Digest) -> std::io::Result<Option<u64>> {
        match tokio::fs::metadata(self.path(digest)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Moves a verified upload file into place under its digest, durably
    pub async fn commit_file(&self, file: &Path, digest: &Digest) -> std::io::Result<()> {
        let target = self.path(digest);
        if let Some(dir) = target.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        // The upload file was fsynced by its writer before the digest was checked.
        tokio::fs::rename(file, &target).await?;
        if let Some(dir) = target.parent() {
            sync_dir(dir).await?;
        }
        Ok(())
    }

    /// Writes small content (a manifest) under its digest, durably
    pub async fn write(&self, digest: &Digest, bytes: &[u8]) -> std::io::Result<()> {
        if self.size(digest).await?.is_some() {
            return Ok(());
        }
        let temporary = self.upload_path(&format!("manifest-{}", random_name()));
        let mut file = tokio::fs::File::create(&temporary).await?;
        file.write_all(bytes).await?;
        file.sync_all().await?;
        drop(file);
        self.commit_file(&temporary, digest).await
    }

    /// Removes a blob's file (garbage collection and explicit deletes)
    pub async fn remove(&self, digest: &Digest) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.path(digest)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all())
        .await
        .map_err(std::io::Error::other)?
}

/// A random session or file name (UUID v4 form, as the spec suggests for upload ids)
pub fn random_name() -> String {
    let mut bytes = [0u8; 16];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // Never expected; fall back to the clock so names stay unique per process.
        let nanos = jiff::Timestamp::now().as_nanosecond();
        bytes = nanos.to_le_bytes();
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8).unwrap_or(""),
        hex.get(8..12).unwrap_or(""),
        hex.get(12..16).unwrap_or(""),
        hex.get(16..20).unwrap_or(""),
        hex.get(20..32).unwrap_or("")
    )
}
