//! Garbage collection and upload expiry.
//!
//! A blob no manifest references is removed once it has not been pushed, linked or mounted
//! for a grace period, which is what keeps the layers of a push in flight (uploaded before
//! their manifest) alive; linking refreshes a blob's modification time for that reason.
//! Collection also holds the write side of a lock whose read side every manifest push and
//! blob commit holds, so a sweep never interleaves with them. Upload sessions older than
//! their time to live are removed with their data.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use portcullis_distribution::{Algorithm, Digest};
use portcullis_store::Txn;

use crate::{ManifestRecord, Registry, RegistryResult, UploadRecord};
use portcullis_identity::decode;

/// What a collection removed
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Collected {
    /// Blob files removed
    pub blobs: usize,
    /// Bytes freed
    pub bytes: u64,
}

fn age(modified: std::io::Result<SystemTime>) -> Duration {
    modified
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or_default()
}

impl Registry {
    /// Every digest some manifest is or references
    async fn referenced(&self) -> RegistryResult<BTreeSet<Digest>> {
        let mut referenced = BTreeSet::new();
        for entry in self.store().list_all("reg/manifest/").await? {
            let Some((_, digest)) = entry.key.rsplit_once('@') else {
                continue;
            };
            let Ok(digest) = Digest::parse(digest) else {
                continue;
            };
            let record: ManifestRecord = decode(&entry.value)?;
            if let Ok(bytes) = tokio::fs::read(self.blobs.path(&digest)).await
                && let Ok(manifest) =
                    portcullis_distribution::manifest::parse(&bytes, Some(&record.media_type))
            {
                referenced.extend(
                    manifest
                        .references
                        .iter()
                        .filter_map(|d| Digest::parse(&d.digest).ok()),
                );
            }
            referenced.insert(digest);
        }
        Ok(referenced)
    }

    /// Removes unreferenced blobs untouched for `grace`
    pub async fn collect_garbage(&self, grace: Duration) -> RegistryResult<Collected> {
        let _sweep = self.sweep.write().await;
        let referenced = self.referenced().await?;
        let mut links: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for entry in self.store().list_all("reg/blob/").await? {
            if let Some((_, digest)) = entry.key.rsplit_once('@') {
                links.entry(digest.to_owned()).or_default().push(entry.key);
            }
        }
        let mut collected = Collected::default();
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
            let dir = self.blobs.root().join("blobs").join(algorithm.as_str());
            let Ok(mut shards) = tokio::fs::read_dir(&dir).await else {
                continue;
            };
            while let Some(shard) = shards.next_entry().await? {
                let Ok(mut files) = tokio::fs::read_dir(shard.path()).await else {
                    continue;
                };
                while let Some(file) = files.next_entry().await? {
                    let name = file.file_name().to_string_lossy().into_owned();
                    let Ok(digest) = Digest::parse(&format!("{}:{name}", algorithm.as_str()))
                    else {
                        continue;
                    };
                    let meta = file.metadata().await?;
                    if referenced.contains(&digest) || age(meta.modified()) < grace {
                        continue;
                    }
                    let keys = links.remove(&digest.to_string()).unwrap_or_default();
                    if !keys.is_empty() {
                        let txn = keys.into_iter().fold(Txn::new(), Txn::delete);
                        self.store().commit(txn).await?;
                    }
                    self.blobs.remove(&digest).await?;
                    collected.blobs += 1;
                    collected.bytes += meta.len();
                }
            }
        }
        if collected.blobs > 0 {
            tracing::info!(
                blobs = collected.blobs,
                bytes = collected.bytes,
                "registry garbage collected"
            );
        }
        Ok(collected)
    }

    /// Removes upload sessions started more than `ttl` ago (and stray upload files as old)
    pub async fn expire_uploads(&self, ttl: Duration) -> RegistryResult<usize> {
        let dir = self.blobs.root().join("uploads");
        let mut entries = tokio::fs::read_dir(&dir).await?;
        let mut expired = 0;
        let now = jiff::Timestamp::now();
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(session) = name.strip_suffix(".session") else {
                // Data without a session file: a crash between the two, or a manifest temp.
                // (An entry removed since the listing, with its session, is simply gone.)
                let Ok(meta) = entry.metadata().await else {
                    continue;
                };
                let orphan = !tokio::fs::try_exists(self.blobs.session_path(&name))
                    .await
                    .unwrap_or(false);
                if orphan && age(meta.modified()) >= ttl.max(Duration::from_secs(60)) {
                    tokio::fs::remove_file(entry.path()).await.ok();
                }
                continue;
            };
            let started = tokio::fs::read(entry.path())
                .await
                .ok()
                .and_then(|bytes| decode::<UploadRecord>(&bytes).ok())
                .and_then(|record| record.time_started.parse::<jiff::Timestamp>().ok());
            let old = started.is_none_or(|at| now.duration_since(at).unsigned_abs() >= ttl);
            if old {
                if let Ok(mut hashers) = self.hashers.lock() {
                    hashers.remove(session);
                }
                tokio::fs::remove_file(self.blobs.upload_path(session))
                    .await
                    .ok();
                tokio::fs::remove_file(entry.path()).await.ok();
                expired += 1;
            }
        }
        Ok(expired)
    }
}
