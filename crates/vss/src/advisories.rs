//! Advisory imports in a running server, and the rescans they cause.
//!
//! The database is a redb file the server holds open, so imports go through the server: a
//! seed at first start (`serve --vulndb-seed`), and files or archives an operator moves
//! into the incoming directory. After every import, and at start (an import may have run
//! while the server was stopped), the images whose packages the imports touched are queued
//! for rescans: their inventories were kept at their first scan, so a rescan matches again
//! without reading layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_identity::{decode, encode};
use portcullis_osv::EcosystemKey;
use portcullis_scanning::ContainerScanTarget;
use portcullis_store::Txn;
use portcullis_vulndb::ImportReport;

use crate::worker::Reason;
use crate::{ScanningService, VssError, VssResult, keys};

/// The (ecosystem, package) keys an inventory is looked up under
fn lookup_keys(inventory: &portcullis_scan::Inventory) -> BTreeSet<EcosystemKey> {
    let os = portcullis_scan::os_ecosystem(inventory);
    inventory
        .packages
        .iter()
        .filter_map(|installed| portcullis_scan::lookup_key(installed, os.as_deref()))
        .map(|(key, _)| key)
        .collect()
}

impl ScanningService {
    /// Imports `paths` into the advisory database and queues the rescans the change needs
    pub async fn import(&self, paths: Vec<PathBuf>) -> VssResult<ImportReport> {
        let db = self.db.clone();
        let report = tokio::task::spawn_blocking(move || {
            let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
            db.import(&refs)
        })
        .await
        .map_err(|e| VssError::Task(e.to_string()))??;
        tracing::info!(
            generation = report.generation,
            added = report.added,
            replaced = report.replaced,
            withdrawn = report.withdrawn,
            skipped = report.skipped,
            "advisories imported"
        );
        self.queue_rescans().await?;
        Ok(report)
    }

    /// Imports `paths` only when the database is still empty: the operator's seed
    pub async fn seed(&self, paths: Vec<PathBuf>) -> VssResult<Option<ImportReport>> {
        let db = self.db.clone();
        let status = tokio::task::spawn_blocking(move || db.status())
            .await
            .map_err(|e| VssError::Task(e.to_string()))??;
        if status.generation > 0 || paths.is_empty() {
            return Ok(None);
        }
        self.import(paths).await.map(Some)
    }

    /// Queues a rescan of every image with a result whose packages the imports since the
    /// last call touched (all of them when the change log does not reach back that far);
    /// returns how many
    pub async fn queue_rescans(&self) -> VssResult<usize> {
        let db = self.db.clone();
        let current = tokio::task::spawn_blocking(move || db.status())
            .await
            .map_err(|e| VssError::Task(e.to_string()))??
            .generation;
        let seen: u64 = match self.store().get(keys::ADVISORIES_SEEN).await? {
            Some(entry) => decode(&entry.value)?,
            None => 0,
        };
        if seen == current {
            return Ok(0);
        }
        let db = self.db.clone();
        let touched = tokio::task::spawn_blocking(move || db.touched_since(seen))
            .await
            .map_err(|e| VssError::Task(e.to_string()))??;
        let targets: BTreeMap<String, ContainerScanTarget> = self
            .active_targets()
            .await?
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect();
        let mut queued = 0usize;
        let mut inventories: BTreeMap<String, bool> = BTreeMap::new();
        for entry in self.store().list_all(keys::LATEST).await? {
            let Some((target, repository, digest)) = entry
                .key
                .strip_prefix(keys::LATEST)
                .and_then(keys::image_parts)
            else {
                continue;
            };
            if !targets.contains_key(target) {
                continue;
            }
            let hit = match inventories.get(digest) {
                Some(hit) => *hit,
                None => {
                    let hit = match (&touched, self.stored_inventory(digest).await?) {
                        (Some(touched), Some(inventory)) => {
                            !lookup_keys(&inventory).is_disjoint(touched)
                        }
                        // No log that far back, or no kept inventory: rescan to be sure.
                        _ => true,
                    };
                    inventories.insert(digest.to_owned(), hit);
                    hit
                }
            };
            if hit {
                self.enqueue(1, target, repository, digest, Reason::Rescan)
                    .await?;
                queued += 1;
            }
        }
        self.store()
            .commit(Txn::new().put(keys::ADVISORIES_SEEN, encode(&current)?))
            .await?;
        tracing::info!(
            generation = current,
            images = queued,
            "rescans queued after an advisory change"
        );
        Ok(queued)
    }

    /// Imports what appears in the incoming directory, one entry at a time in name order,
    /// moving each to `imported/` or `failed/`; dot-files are skipped (copy under a dot
    /// name, then rename, so a half-copied file is never read)
    pub async fn import_incoming(&self) -> VssResult<usize> {
        let Some(incoming) = self.settings.incoming.clone() else {
            return Ok(0);
        };
        let mut names: Vec<PathBuf> = match std::fs::read_dir(&incoming) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.path())
                .collect(),
            Err(_) => return Ok(0),
        };
        names.sort();
        let parent = incoming
            .parent()
            .map_or_else(|| incoming.clone(), Path::to_path_buf);
        let mut imported = 0;
        for path in names {
            let outcome = self.import(vec![path.clone()]).await;
            let folder = match &outcome {
                Ok(_) => {
                    imported += 1;
                    "imported"
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "advisory import failed; the database is unchanged");
                    "failed"
                }
            };
            let dir = parent.join(folder);
            let stamp = jiff::Timestamp::now().as_second();
            let moved = std::fs::create_dir_all(&dir).and_then(|()| {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                std::fs::rename(&path, dir.join(format!("{stamp}-{name}")))
            });
            if let Err(e) = moved {
                // Leaving it would import it again on every poll.
                tracing::error!(file = %path.display(), error = %e, "cannot move an imported advisory file; remove it");
                std::fs::remove_file(&path)
                    .or_else(|_| std::fs::remove_dir_all(&path))
                    .ok();
            }
        }
        Ok(imported)
    }

    /// Rescans for imports made while the server was stopped, then polls the incoming
    /// directory
    pub(crate) async fn follow_advisories(self: Arc<Self>) {
        if let Err(e) = self.queue_rescans().await {
            tracing::warn!(error = %e, "queueing rescans failed");
        }
        loop {
            tokio::time::sleep(self.settings.poll).await;
            if let Err(e) = self.import_incoming().await {
                tracing::warn!(error = %e, "importing incoming advisories failed");
            }
        }
    }
}
