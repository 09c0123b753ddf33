//! The Vulnerability Scanning service of the registry (`/20210215`), at the edge where the
//! pure pieces meet the store, the registry's blobs and the advisory database:
//!
//! - recipes, targets and results as OCI shapes them, authorized by IAM (`resources`);
//! - a scan queue kept in the store, so queued work survives a restart, and one worker that
//!   scans on a blocking thread, so scans never hold up a push or the API (`worker`);
//! - pushes followed through the store's change feed, with a reconciliation at start and
//!   after any gap in the feed, so a push made while the server stopped is still scanned;
//! - advisory imports (a seed at first start, files dropped into an incoming directory)
//!   followed by rescans of exactly the images whose packages the import touched
//!   (`advisories`);
//! - 13 months of results, pruned hourly.
//!
//! The decisions between scans (problem states, first images, retention) are
//! `portcullis-scanning`'s; scanning an image is `portcullis-scan`'s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use portcullis_identity::{IdentityError, IdentityService};
use portcullis_registry::{Registry, RegistryError};
use portcullis_store::{Store, StoreError};
use portcullis_vulndb::{VulnDb, VulnDbError};
use tokio::sync::Notify;

mod advisories;
mod resources;
mod worker;

pub use resources::{
    CreateContainerScanRecipeDetails, CreateContainerScanTargetDetails, ResultFilter,
    UpdateContainerScanRecipeDetails,
};

/// Why a scanning request or a scan failed
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VssError {
    /// Authorization, validation and the store: mapped to OCI errors like every service's
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The registry could not give the image
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The advisory database failed
    #[error(transparent)]
    Database(#[from] VulnDbError),
    /// The scanner failed
    #[error(transparent)]
    Scan(#[from] portcullis_scan::ScanError),
    /// A blocking task could not finish
    #[error("a scan task failed: {0}")]
    Task(String),
}

impl From<StoreError> for VssError {
    fn from(error: StoreError) -> Self {
        VssError::Identity(IdentityError::Store(error))
    }
}

/// Shorthand for results of this crate
pub type VssResult<T> = Result<T, VssError>;

/// How the service runs
#[derive(Clone, Debug)]
pub struct Settings {
    /// The address results name as their registry (`registryUrl`)
    pub registry_url: String,
    /// Advisory files and archives dropped here are imported, then moved to `imported/` or
    /// `failed/` beside it
    pub incoming: Option<PathBuf>,
    /// How often `incoming` is looked at
    pub poll: Duration,
}

/// The service: API operations and the background work behind them
pub struct ScanningService {
    identity: Arc<IdentityService>,
    registry: Arc<Registry>,
    db: Arc<VulnDb>,
    settings: Settings,
    /// Rung when work is queued, so the worker does not wait for its next tick
    wake: Notify,
}

impl std::fmt::Debug for ScanningService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanningService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Store keys. Repository names contain `/` but never `@`, target ids neither.
mod keys {
    pub(crate) const RECIPES: &str = "vss/recipe/";
    pub(crate) const TARGETS: &str = "vss/target/";
    pub(crate) const RESULTS: &str = "vss/result/";
    pub(crate) const LATEST: &str = "vss/latest/";
    pub(crate) const QUEUE: &str = "vss/queue/";
    pub(crate) const ADVISORIES_SEEN: &str = "vss/meta/advisory-generation";

    pub(crate) fn recipe(id: &str) -> String {
        format!("{RECIPES}{id}")
    }
    pub(crate) fn target(id: &str) -> String {
        format!("{TARGETS}{id}")
    }
    pub(crate) fn result(id: &str) -> String {
        format!("{RESULTS}{id}")
    }
    /// The newest result of an image for a target
    pub(crate) fn latest(target: &str, repository: &str, digest: &str) -> String {
        format!("{LATEST}{target}/{repository}@{digest}")
    }
    /// Queued work: priority `0` (pushes, new scanners) before `1` (rescans)
    pub(crate) fn queued(priority: u8, target: &str, repository: &str, digest: &str) -> String {
        format!("{QUEUE}{priority}/{target}/{repository}@{digest}")
    }
    /// The newest result of an image whatever the target, for admission's vulnerability gate
    pub(crate) fn image_latest(repository: &str, digest: &str) -> String {
        format!("vss/image-latest/{repository}@{digest}")
    }
    /// What an image holds, kept so advisory changes are matched without reading layers
    pub(crate) fn inventory(digest: &str) -> String {
        format!("vss/inventory/{digest}")
    }
    /// A repository's accepted advisories
    pub(crate) fn allowlist(repository_id: &str) -> String {
        format!("vss/allowlist/{repository_id}")
    }

    /// `<target>/<repository>@<digest>` back into its parts
    pub(crate) fn image_parts(rest: &str) -> Option<(&str, &str, &str)> {
        let (target, image) = rest.split_once('/')?;
        let (repository, digest) = image.rsplit_once('@')?;
        Some((target, repository, digest))
    }
}

impl ScanningService {
    /// The service over `db`, scanning images of `registry`
    pub fn new(
        identity: Arc<IdentityService>,
        registry: Arc<Registry>,
        db: Arc<VulnDb>,
        settings: Settings,
    ) -> Arc<ScanningService> {
        Arc::new(ScanningService {
            identity,
            registry,
            db,
            settings,
            wake: Notify::new(),
        })
    }

    fn store(&self) -> &dyn Store {
        &**self.identity.store()
    }

    /// Starts the background work: the scan worker, the push follower, the advisory
    /// poller and the pruner. Abort the handles to stop them.
    pub fn spawn(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            tokio::spawn(self.clone().run_worker()),
            tokio::spawn(self.clone().follow_pushes()),
            tokio::spawn(self.clone().follow_advisories()),
            tokio::spawn(self.clone().prune_forever()),
        ]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
mod tests {
    use super::keys;

    #[test]
    fn image_keys_split_back() {
        let key = keys::latest("ocid1.t", "team/app", "sha256:ab");
        let rest = key.strip_prefix(keys::LATEST).unwrap();
        assert_eq!(
            keys::image_parts(rest),
            Some(("ocid1.t", "team/app", "sha256:ab"))
        );
        assert_eq!(keys::image_parts("no-slash"), None);
    }
}
