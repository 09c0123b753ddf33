//! The scan queue and its worker, the push follower and the pruner.
//!
//! Work is a key in the store (`vss/queue/<priority>/<target>/<repository>@<digest>`), so a
//! restart resumes it and the same image is never queued twice for a target. One worker
//! takes one job at a time and does the CPU work (reading layers, matching) on a blocking
//! thread: the async threads that answer the API and take pushes are never busy with a
//! scan, however long the queue. Pushes come from the store's change feed; because a feed
//! can break off (a restart, a lagging watcher), the follower reconciles at start and after
//! every break: images pushed since a target was made that have neither a result nor a
//! queued job are queued.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use jiff::Timestamp;
use portcullis_distribution::manifest::{self, Kind};
use portcullis_distribution::{Digest, Reference, RepositoryName};
use portcullis_identity::model::now;
use portcullis_identity::{decode, encode};
use portcullis_registry::{ManifestRecord, Repository, manifest_of_key};
use portcullis_scan::{Inventory, Layers, Report};
use portcullis_scanning::{
    ContainerScanResult, ContainerScanTarget, next_problems, pruned, summarize,
};
use portcullis_store::{Event, MAX_VALUE_BYTES, StoreError, Txn};
use serde::{Deserialize, Serialize};

use crate::{ScanningService, VssError, VssResult, keys};

/// Why an image was queued
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Reason {
    /// Pushed while a target covered its repository
    Push,
    /// Among the most recent images when a target was made
    Initial,
    /// The advisory database changed packages it holds
    Rescan,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Queued {
    reason: Reason,
    time_enqueued: String,
    #[serde(default)]
    attempts: u32,
    /// Retry no earlier than this (RFC 3339)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_before: Option<String>,
}

struct Job {
    key: String,
    /// The job's revision when taken: a request for the same scan made while it runs
    /// rewrites the job, and the job then stays queued for another pass
    revision: u64,
    target: String,
    repository: String,
    digest: String,
    queued: Queued,
}

/// A job that fails this often is dropped, so one bad image cannot hold the queue
const MAX_ATTEMPTS: u32 = 3;

/// Media types of image configs: anything else (signatures, SBOMs, other artifacts) is not
/// a container filesystem and is not scanned
const IMAGE_CONFIGS: &[&str] = &[
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// Room left for the key and the store's own bookkeeping under its value limit
const VALUE_LIMIT: usize = MAX_VALUE_BYTES - 4096;

/// What a scan did
enum Outcome {
    Scanned,
    /// Nothing to scan: the job's target, repository or image is gone, or it is not an image
    Skipped(&'static str),
}

fn worth_scanning(record: &ManifestRecord) -> bool {
    record.subject.is_none()
        && !record.media_type.contains("manifest.list")
        && !record.media_type.contains("image.index")
}

fn task_error(e: tokio::task::JoinError) -> VssError {
    VssError::Task(e.to_string())
}

impl ScanningService {
    // ----- the queue ------------------------------------------------------------------

    /// Queues a scan. One already queued is rewritten, so that a scan of it running now (on
    /// older advisories) leaves it queued for another pass rather than finishing it
    pub(crate) async fn enqueue(
        &self,
        priority: u8,
        target: &str,
        repository: &str,
        digest: &str,
        reason: Reason,
    ) -> VssResult<()> {
        let key = keys::queued(priority, target, repository, digest);
        let queued = Queued {
            reason,
            time_enqueued: now(),
            attempts: 0,
            not_before: None,
        };
        self.store()
            .commit(Txn::new().put(&key, encode(&queued)?))
            .await?;
        self.wake.notify_one();
        Ok(())
    }

    async fn is_queued(&self, target: &str, repository: &str, digest: &str) -> VssResult<bool> {
        for priority in [0, 1] {
            if self
                .store()
                .get(&keys::queued(priority, target, repository, digest))
                .await?
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Drops every queued job of a deleted target
    pub(crate) async fn drop_queued_for(&self, target: &str) -> VssResult<()> {
        for priority in [0u8, 1] {
            let prefix = format!("{}{priority}/{target}/", keys::QUEUE);
            let entries = self.store().list_all(&prefix).await?;
            for chunk in entries.chunks(100) {
                let txn = chunk
                    .iter()
                    .fold(Txn::new(), |txn, entry| txn.delete(entry.key.clone()));
                self.store().commit(txn).await?;
            }
        }
        Ok(())
    }

    /// The next job due: pushes and new scanners before rescans
    async fn next_job(&self) -> VssResult<Option<Job>> {
        let now_ts = Timestamp::now();
        for priority in [0u8, 1] {
            let prefix = format!("{}{priority}/", keys::QUEUE);
            let mut after: Option<String> = None;
            loop {
                let page = self.store().list(&prefix, after.as_deref(), 200).await?;
                for entry in &page.entries {
                    let Some((target, repository, digest)) =
                        entry.key.strip_prefix(&prefix).and_then(keys::image_parts)
                    else {
                        self.store().delete(&entry.key, None).await.ok();
                        continue;
                    };
                    let queued: Queued = match decode(&entry.value) {
                        Ok(q) => q,
                        Err(_) => {
                            self.store().delete(&entry.key, None).await.ok();
                            continue;
                        }
                    };
                    let due = queued
                        .not_before
                        .as_deref()
                        .and_then(|t| t.parse::<Timestamp>().ok())
                        .is_none_or(|t| t <= now_ts);
                    if due {
                        return Ok(Some(Job {
                            key: entry.key.clone(),
                            revision: entry.mod_revision,
                            target: target.to_owned(),
                            repository: repository.to_owned(),
                            digest: digest.to_owned(),
                            queued,
                        }));
                    }
                }
                match page.next_start() {
                    Some(next) => after = Some(next.to_owned()),
                    None => break,
                }
            }
        }
        Ok(None)
    }

    /// Takes jobs one at a time until the task is aborted
    pub(crate) async fn run_worker(self: Arc<Self>) {
        loop {
            match self.next_job().await {
                Ok(Some(job)) => {
                    let started = std::time::Instant::now();
                    match self.run_job(&job).await {
                        Ok(Outcome::Scanned) => tracing::info!(
                            repository = %job.repository, image = %job.digest, target = %job.target,
                            reason = ?job.queued.reason, millis = started.elapsed().as_millis(),
                            "image scanned"
                        ),
                        Ok(Outcome::Skipped(why)) => {
                            tracing::info!(repository = %job.repository, image = %job.digest, why, "scan skipped");
                            self.store().delete(&job.key, None).await.ok();
                        }
                        Err(e) => self.retry(job, &e).await,
                    }
                }
                Ok(None) => {
                    tokio::select! {
                        () = self.wake.notified() => {}
                        () = tokio::time::sleep(Duration::from_secs(5)) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the scan queue failed; retrying");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    }

    async fn retry(&self, job: Job, error: &VssError) {
        let mut queued = job.queued;
        queued.attempts = queued.attempts.saturating_add(1);
        let outcome = if queued.attempts >= MAX_ATTEMPTS {
            tracing::error!(repository = %job.repository, image = %job.digest, error = %error, "scan failed {MAX_ATTEMPTS} times; dropped");
            self.store().delete(&job.key, None).await.map(|_| ())
        } else {
            tracing::warn!(repository = %job.repository, image = %job.digest, error = %error, attempt = queued.attempts, "scan failed; will retry");
            let delay = jiff::SignedDuration::from_secs(30 * i64::from(queued.attempts));
            queued.not_before = Timestamp::now()
                .checked_add(delay)
                .ok()
                .map(|t| t.to_string());
            match encode(&queued) {
                Ok(bytes) => self
                    .store()
                    .commit(Txn::new().require_exists(&job.key).put(&job.key, bytes))
                    .await
                    .map(|_| ()),
                Err(_) => Ok(()),
            }
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "updating a failed scan job failed");
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }

    // ----- one scan -------------------------------------------------------------------

    async fn run_job(&self, job: &Job) -> VssResult<Outcome> {
        let Some((target, _)) = self.target(&job.target).await? else {
            return Ok(Outcome::Skipped("the scan target is gone"));
        };
        if target.lifecycle_state != "ACTIVE" {
            return Ok(Outcome::Skipped("the scan target was deleted"));
        }
        let (Ok(name), Ok(digest)) = (
            RepositoryName::parse(&job.repository),
            Digest::parse(&job.digest),
        ) else {
            return Ok(Outcome::Skipped("not a repository and digest"));
        };
        let Some(repository) = self.registry.repository(&name).await? else {
            return Ok(Outcome::Skipped("the repository is gone"));
        };
        if !target
            .target_registry
            .covers(&repository.compartment_id, name.as_str())
        {
            return Ok(Outcome::Skipped(
                "the target no longer covers the repository",
            ));
        }
        let time_started = now();
        let inventory = match self.stored_inventory(&job.digest).await? {
            Some(inventory) => inventory,
            None => match self.read_inventory(&name, &digest).await? {
                Some(inventory) => inventory,
                None => return Ok(Outcome::Skipped("not a container image")),
            },
        };
        let report = self.matched(inventory, &repository).await?;
        self.record(job, &target, &repository, &report, time_started)
            .await?;
        Ok(Outcome::Scanned)
    }

    pub(crate) async fn stored_inventory(&self, digest: &str) -> VssResult<Option<Inventory>> {
        match self.store().get(&keys::inventory(digest)).await? {
            // One that no longer reads (an older shape) is read again from the layers.
            Some(entry) => Ok(serde_json::from_slice(&entry.value).ok()),
            None => Ok(None),
        }
    }

    /// Reads the image's layers from the blob store and keeps what they hold; `None` when
    /// the manifest is not a container image
    async fn read_inventory(
        &self,
        name: &RepositoryName,
        digest: &Digest,
    ) -> VssResult<Option<Inventory>> {
        let fetched = match self
            .registry
            .manifest(name, &Reference::Digest(digest.clone()))
            .await
        {
            Ok(fetched) => fetched,
            Err(portcullis_registry::RegistryError::Distribution(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Ok(parsed) = manifest::parse(&fetched.bytes, Some(&fetched.media_type)) else {
            return Ok(None);
        };
        let is_image = parsed.kind == Kind::Image
            && parsed.subject.is_none()
            && parsed
                .config
                .as_ref()
                .is_some_and(|c| IMAGE_CONFIGS.contains(&c.media_type.as_str()));
        if !is_image {
            return Ok(None);
        }
        let mut layers = Vec::new();
        for descriptor in parsed.references.iter().skip(1) {
            let layer = Digest::parse(&descriptor.digest).map_err(|e| {
                VssError::Registry(portcullis_registry::RegistryError::Distribution(e))
            })?;
            let (_, path) = self.registry.blob(name, &layer).await?;
            layers.push((descriptor.digest.clone(), path));
        }
        let inventory = tokio::task::spawn_blocking(move || {
            let mut stack = Layers::new();
            for (layer, path) in layers {
                match std::fs::File::open(&path) {
                    Ok(file) => stack.apply(&layer, file),
                    Err(e) => return Err(std::io::Error::other(format!("layer {layer}: {e}"))),
                }
            }
            Ok(stack.inventory())
        })
        .await
        .map_err(task_error)?
        .map_err(|e| VssError::Registry(e.into()))?;
        match encode(&inventory) {
            Ok(bytes) if bytes.len() <= VALUE_LIMIT => {
                self.store()
                    .commit(Txn::new().put(keys::inventory(&digest.to_string()), bytes))
                    .await?;
            }
            // Too large to keep: rescans read the layers again.
            _ => {}
        }
        Ok(Some(inventory))
    }

    async fn matched(&self, inventory: Inventory, repository: &Repository) -> VssResult<Report> {
        let allowlist = self.allowlist(&repository.id).await?;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut report = portcullis_scan::match_inventory(&inventory, &db)?;
            allowlist.apply(&mut report, Timestamp::now());
            Ok::<_, VssError>(report)
        })
        .await
        .map_err(task_error)?
    }

    /// Writes the result, moves the image's "latest" pointer and finishes the job, in one
    /// transaction: a crash leaves either the job or its result, never both or neither
    async fn record(
        &self,
        job: &Job,
        target: &ContainerScanTarget,
        repository: &Repository,
        report: &Report,
        time_started: String,
    ) -> VssResult<()> {
        let latest_key = keys::latest(&target.id, &job.repository, &job.digest);
        let previous: Vec<portcullis_scanning::Problem> =
            match self.store().get(&latest_key).await? {
                Some(pointer) => {
                    let id = String::from_utf8_lossy(&pointer.value).into_owned();
                    match self.store().get(&keys::result(&id)).await? {
                        Some(entry) => decode::<ContainerScanResult>(&entry.value)?.problems,
                        None => Vec::new(),
                    }
                }
                None => Vec::new(),
            };
        let time_finished = now();
        let problems = next_problems(&previous, report, &time_finished);
        let (highest, count) = summarize(&problems);
        let mut result = ContainerScanResult {
            id: portcullis_iam::Ocid::generate(
                "vsscontainerscanresult",
                Some(self.identity.region()),
            )
            .into_string(),
            registry_url: target
                .target_registry
                .url
                .clone()
                .unwrap_or_else(|| self.settings.registry_url.clone()),
            repository: job.repository.clone(),
            image: job.digest.clone(),
            compartment_id: target.compartment_id.clone(),
            target_compartment_id: repository.compartment_id.clone(),
            container_scan_target_id: target.id.clone(),
            highest_problem_severity: highest,
            problem_count: count,
            time_started,
            time_finished,
            problems,
        };
        let bytes = fit(&mut result)?;
        let writes = Txn::new()
            .put(keys::result(&result.id), bytes)
            .put(latest_key, result.id.clone().into_bytes())
            .put(
                keys::image_latest(&job.repository, &job.digest),
                result.id.clone().into_bytes(),
            );
        let finished = writes
            .clone()
            .require_revision(job.key.clone(), job.revision)
            .delete(job.key.clone());
        match self.store().commit(finished).await {
            Ok(_) => Ok(()),
            // Asked for again while it ran: keep this result, and the job for another pass.
            Err(StoreError::Conflict) => {
                self.store().commit(writes).await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    // ----- following pushes -----------------------------------------------------------

    /// Queues the `count` most recently pushed images of each repository a new target covers
    pub(crate) async fn queue_initial_images(
        &self,
        target: &ContainerScanTarget,
        count: usize,
    ) -> VssResult<()> {
        for repository in self.covered(target).await? {
            let Ok(name) = RepositoryName::parse(&repository.display_name) else {
                continue;
            };
            let images: Vec<(String, String)> = self
                .registry
                .manifests(&name)
                .await?
                .into_iter()
                .filter(|(_, record)| worth_scanning(record))
                .map(|(digest, record)| (digest.to_string(), record.time_created))
                .collect();
            for digest in portcullis_scanning::initial_images(&images, count) {
                self.enqueue(0, &target.id, name.as_str(), &digest, Reason::Initial)
                    .await?;
            }
        }
        Ok(())
    }

    async fn covered(&self, target: &ContainerScanTarget) -> VssResult<Vec<Repository>> {
        Ok(self
            .registry
            .repositories()
            .await?
            .into_iter()
            .filter(|r| {
                target
                    .target_registry
                    .covers(&r.compartment_id, &r.display_name)
            })
            .collect())
    }

    /// Queues a pushed image for every active target that covers its repository
    async fn on_push(&self, name: &RepositoryName, digest: &Digest, record: &ManifestRecord) {
        if !worth_scanning(record) {
            return;
        }
        let outcome: VssResult<()> = async {
            let Some(repository) = self.registry.repository(name).await? else {
                return Ok(());
            };
            for target in self.active_targets().await? {
                if target
                    .target_registry
                    .covers(&repository.compartment_id, name.as_str())
                {
                    self.enqueue(
                        0,
                        &target.id,
                        name.as_str(),
                        &digest.to_string(),
                        Reason::Push,
                    )
                    .await?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = outcome {
            tracing::warn!(repository = %name, image = %digest, error = %e, "queueing a pushed image failed; the next reconciliation will");
        }
    }

    /// Queues every image pushed since its target was made that has no result and no job:
    /// what the change feed may have missed
    async fn reconcile(&self) -> VssResult<usize> {
        let mut queued = 0;
        for target in self.active_targets().await? {
            for repository in self.covered(&target).await? {
                let Ok(name) = RepositoryName::parse(&repository.display_name) else {
                    continue;
                };
                for (digest, record) in self.registry.manifests(&name).await? {
                    let digest = digest.to_string();
                    if !worth_scanning(&record) || record.time_created < target.time_created {
                        continue;
                    }
                    let latest = keys::latest(&target.id, name.as_str(), &digest);
                    if self.store().get(&latest).await?.is_some()
                        || self.is_queued(&target.id, name.as_str(), &digest).await?
                    {
                        continue;
                    }
                    self.enqueue(0, &target.id, name.as_str(), &digest, Reason::Push)
                        .await?;
                    queued += 1;
                }
            }
        }
        Ok(queued)
    }

    /// Follows manifest writes; reconciles at start and whenever the feed breaks
    pub(crate) async fn follow_pushes(self: Arc<Self>) {
        loop {
            let watch = self
                .store()
                .watch(portcullis_registry::MANIFEST_PREFIX, None)
                .await;
            match self.reconcile().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(images = n, "queued images the push feed had not reported"),
                Err(e) => tracing::warn!(error = %e, "reconciling scans failed"),
            }
            match watch {
                Ok(mut stream) => {
                    while let Some(event) = stream.next().await {
                        match event {
                            // A new manifest; rewrites of one already here are not pushes
                            // of anything new.
                            Ok(Event::Put(entry))
                                if entry.create_revision == entry.mod_revision =>
                            {
                                if let (Some((name, digest)), Ok(record)) = (
                                    manifest_of_key(&entry.key),
                                    decode::<ManifestRecord>(&entry.value),
                                ) {
                                    self.on_push(&name, &digest, &record).await;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "the push feed broke off; reconciling");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot follow pushes; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    // ----- retention ------------------------------------------------------------------

    /// Deletes results older than 13 months, with the pointers to them and the package
    /// inventories of images left with no result; returns how many results
    pub async fn prune(&self) -> VssResult<usize> {
        let mut finished = Vec::new();
        let mut images = std::collections::HashMap::new();
        for entry in self.store().list_all(keys::RESULTS).await? {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Finished {
                id: String,
                image: String,
                time_finished: String,
            }
            if let Ok(result) = serde_json::from_slice::<Finished>(&entry.value) {
                images.insert(result.id.clone(), result.image);
                finished.push((result.id, result.time_finished));
            }
        }
        let old: std::collections::BTreeSet<String> =
            pruned(&finished, Timestamp::now()).into_iter().collect();
        if old.is_empty() {
            return Ok(0);
        }
        let mut doomed: Vec<String> = old.iter().map(|id| keys::result(id)).collect();
        let mut pointers = self.store().list_all(keys::LATEST).await?;
        pointers.extend(self.store().list_all("vss/image-latest/").await?);
        // Digests some kept result still points at: their inventories stay for rescans.
        let mut kept_digests = std::collections::BTreeSet::new();
        for entry in pointers {
            if old.contains(String::from_utf8_lossy(&entry.value).as_ref()) {
                doomed.push(entry.key);
            } else if let Some((_, digest)) = entry.key.rsplit_once('@') {
                kept_digests.insert(digest.to_owned());
            }
        }
        // An image whose every result aged out is not rescanned from a kept inventory
        // any more (a later scan reads its layers again), so the inventory goes too.
        let orphaned: std::collections::BTreeSet<&String> = old
            .iter()
            .filter_map(|id| images.get(id))
            .filter(|digest| !kept_digests.contains(*digest))
            .collect();
        doomed.extend(orphaned.iter().map(|digest| keys::inventory(digest)));
        for chunk in doomed.chunks(100) {
            let txn = chunk
                .iter()
                .fold(Txn::new(), |txn, key| txn.delete(key.clone()));
            self.store().commit(txn).await?;
        }
        tracing::info!(
            results = old.len(),
            inventories = orphaned.len(),
            "pruned scan results older than 13 months"
        );
        Ok(old.len())
    }

    pub(crate) async fn prune_forever(self: Arc<Self>) {
        loop {
            if let Err(e) = self.prune().await {
                tracing::warn!(error = %e, "pruning scan results failed; retrying later");
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
}

/// Encodes a result within the store's value limit. Huge results lose detail in a fixed
/// order (extra locations, then the least important problems) rather than failing: the
/// summary and the most severe open problems always survive.
fn fit(result: &mut ContainerScanResult) -> VssResult<Vec<u8>> {
    let mut bytes = encode(&*result)?;
    if bytes.len() <= VALUE_LIMIT {
        return Ok(bytes);
    }
    for problem in &mut result.problems {
        for package in &mut problem.vulnerable_packages {
            package.locations.truncate(1);
        }
        problem.vulnerable_packages.truncate(8);
    }
    bytes = encode(&*result)?;
    while bytes.len() > VALUE_LIMIT && !result.problems.is_empty() {
        let keep = result.problems.len() * VALUE_LIMIT / bytes.len();
        result
            .problems
            .truncate(keep.min(result.problems.len().saturating_sub(1)));
        bytes = encode(&*result)?;
    }
    Ok(bytes)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]
mod tests {
    use portcullis_osv::Severity;
    use portcullis_scanning::{Problem, ProblemState, VulnerablePackage};

    use super::*;

    fn result(problems: usize, locations: usize) -> ContainerScanResult {
        let problem = |i: usize| Problem {
            name: format!("CVE-2099-{i:05}"),
            description: Some("x".repeat(200)),
            severity: Severity::High,
            state: ProblemState::Open,
            cve_reference: None,
            time_first_detected: now(),
            time_last_detected: now(),
            vulnerable_packages: vec![VulnerablePackage {
                name: "pkg".into(),
                version: "1".into(),
                cve_fix_version: None,
                kind: "npm".into(),
                locations: (0..locations)
                    .map(|l| format!("node_modules/pkg{l}/package.json (layer sha256:{l:064})"))
                    .collect(),
            }],
        };
        ContainerScanResult {
            id: "r".into(),
            registry_url: "x".into(),
            repository: "a".into(),
            image: "sha256:0".into(),
            compartment_id: "c".into(),
            target_compartment_id: "c".into(),
            container_scan_target_id: "t".into(),
            highest_problem_severity: Severity::High,
            problem_count: u32::try_from(problems).unwrap(),
            time_started: now(),
            time_finished: now(),
            problems: (0..problems).map(problem).collect(),
        }
    }

    #[test]
    fn small_results_are_stored_whole() {
        let mut small = result(3, 2);
        let before = small.clone();
        let bytes = fit(&mut small).unwrap();
        assert_eq!(small, before);
        assert_eq!(
            serde_json::from_slice::<ContainerScanResult>(&bytes).unwrap(),
            before
        );
    }

    #[test]
    fn huge_results_lose_locations_then_the_last_problems_but_fit() {
        // Many locations per problem: trimming them is enough.
        let mut wide = result(200, 200);
        let bytes = fit(&mut wide).unwrap();
        assert!(bytes.len() <= VALUE_LIMIT);
        assert_eq!(wide.problems.len(), 200);
        assert!(
            wide.problems
                .iter()
                .all(|p| p.vulnerable_packages[0].locations.len() == 1)
        );
        // Too many problems: the first ones (most severe, open) survive, the count does not change.
        let mut long = result(20_000, 1);
        let bytes = fit(&mut long).unwrap();
        assert!(bytes.len() <= VALUE_LIMIT);
        assert!(long.problems.len() < 20_000 && long.problems.len() > 1000);
        assert_eq!(long.problems[0].name, "CVE-2099-00000");
        assert_eq!(long.problem_count, 20_000);
    }
}
