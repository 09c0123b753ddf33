//! Each cluster's RBAC objects as an indexed [`Rbac`] snapshot, kept current, and the two
//! controllers upstream runs over them: ClusterRole aggregation and default-role
//! reconciliation.
//!
//! A snapshot is built on first use and dropped when RBAC objects change: at once for writes
//! through this server (so a binding works on the next request), and through the store's
//! change feed for writes by another server sharing the etcd cluster.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use portcullis_rbac::model::Role;
use portcullis_rbac::{RBAC_GROUP, Rbac};
use portcullis_store::{StoreError, Txn};
use serde_json::{Value, json};

use crate::KubeError;
use crate::resources::ResourceType;
use crate::service::{KubeService, ListOptions, encode, lookup, object_key};

/// Snapshots by cluster, with an epoch so a snapshot built while a write landed is not kept
#[derive(Default)]
pub(crate) struct RbacCache {
    snapshots: RwLock<HashMap<String, Arc<Rbac>>>,
    epoch: AtomicU64,
}

impl std::fmt::Debug for RbacCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RbacCache").finish_non_exhaustive()
    }
}

impl RbacCache {
    /// Drops a cluster's snapshot
    pub(crate) fn invalidate(&self, cluster: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        match self.snapshots.write() {
            Ok(mut map) => {
                map.remove(cluster);
            }
            Err(poisoned) => poisoned.into_inner().clear(),
        }
    }

    fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        match self.snapshots.write() {
            Ok(mut map) => map.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
    }

    fn get(&self, cluster: &str) -> Option<Arc<Rbac>> {
        self.snapshots.read().ok()?.get(cluster).cloned()
    }

    fn keep(&self, cluster: &str, rbac: Arc<Rbac>, epoch: u64) {
        if let Ok(mut map) = self.snapshots.write()
            && self.epoch.load(Ordering::SeqCst) == epoch
        {
            map.insert(cluster.to_owned(), rbac);
        }
    }
}

const CLUSTER_ROLES: (&str, &str) = (RBAC_GROUP, "clusterroles");

/// The cluster a store key belongs to, if it is an RBAC object's key
fn rbac_key_cluster(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("k8s/")?;
    let (cluster, rest) = rest.split_once('/')?;
    rest.starts_with(&format!("{RBAC_GROUP}/"))
        .then_some(cluster)
}

impl KubeService {
    /// The cluster's RBAC snapshot
    pub async fn rbac(&self, cluster: &str) -> Result<Arc<Rbac>, KubeError> {
        if let Some(rbac) = self.rbac.get(cluster) {
            return Ok(rbac);
        }
        let epoch = self.rbac.epoch.load(Ordering::SeqCst);
        let mut lists = Vec::with_capacity(4);
        for resource in [
            "roles",
            "clusterroles",
            "rolebindings",
            "clusterrolebindings",
        ] {
            let (items, _) = self
                .list(
                    cluster,
                    lookup(RBAC_GROUP, resource),
                    None,
                    &ListOptions::default(),
                )
                .await?;
            lists.push(items);
        }
        let empty = Vec::new();
        let list = |i: usize| lists.get(i).unwrap_or(&empty);
        let rbac = Arc::new(Rbac::from_objects(list(0), list(1), list(2), list(3)));
        self.rbac.keep(cluster, rbac.clone(), epoch);
        Ok(rbac)
    }

    /// After a write: RBAC writes drop the snapshot, ClusterRole writes re-aggregate
    pub(crate) async fn rbac_written(&self, cluster: &str, resource: &ResourceType) {
        if resource.group != RBAC_GROUP {
            return;
        }
        self.rbac.invalidate(cluster);
        if resource.kind == "ClusterRole"
            && let Err(error) = self.aggregate_cluster_roles(cluster).await
        {
            tracing::warn!(cluster, %error, "aggregating ClusterRoles failed");
        }
    }

    /// Writes the rules every aggregated ClusterRole should hold; returns how many changed.
    /// Retries when another write raced it.
    pub async fn aggregate_cluster_roles(&self, cluster: &str) -> Result<usize, KubeError> {
        let resource = lookup(CLUSTER_ROLES.0, CLUSTER_ROLES.1);
        for _ in 0..5 {
            let (objects, _) = self
                .list(cluster, resource, None, &ListOptions::default())
                .await?;
            let roles: Vec<Role> = objects.iter().filter_map(Role::from_value).collect();
            let changes = portcullis_rbac::aggregation::aggregate(&roles);
            if changes.is_empty() {
                return Ok(0);
            }
            let mut txn = Txn::new();
            for (name, rules) in &changes {
                let Some(object) = objects
                    .iter()
                    .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
                else {
                    continue;
                };
                let revision = object
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut updated = object.clone();
                if let Some(map) = updated.as_object_mut() {
                    map.insert("rules".into(), json!(rules));
                }
                let key = object_key(cluster, resource, None, name);
                txn = txn
                    .require_revision(&key, revision)
                    .put(&key, encode(&updated)?);
            }
            match self.store().commit(txn).await {
                Ok(_) => {
                    self.rbac.invalidate(cluster);
                    return Ok(changes.len());
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(KubeError::Internal(
            "ClusterRoles kept changing while they were aggregated".into(),
        ))
    }

    /// Brings the default ClusterRoles and ClusterRoleBindings up to date, as kube-apiserver
    /// does on start: missing ones are created, and ones whose autoupdate annotation is not
    /// `"false"` regain missing rules, labels and subjects. Returns how many were written.
    pub async fn reconcile_defaults(&self, cluster: &str) -> Result<usize, KubeError> {
        let mut written = 0;
        for (resource, defaults, reconcile) in [
            (
                lookup(RBAC_GROUP, "clusterroles"),
                crate::defaults::cluster_roles()?,
                portcullis_rbac::bootstrap::reconcile_role as fn(&Value, &Value) -> Option<Value>,
            ),
            (
                lookup(RBAC_GROUP, "clusterrolebindings"),
                crate::defaults::cluster_role_bindings()?,
                portcullis_rbac::bootstrap::reconcile_binding,
            ),
        ] {
            for default in defaults {
                let name = default
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let key = object_key(cluster, resource, None, name);
                let result = match self.store().get(&key).await? {
                    None => self.store().create(&key, encode(&default)?).await,
                    Some(entry) => {
                        let existing: Value = serde_json::from_slice(&entry.value)
                            .map_err(|e| KubeError::Internal(e.to_string()))?;
                        match reconcile(&existing, &default) {
                            Some(updated) => {
                                self.store()
                                    .update(&key, encode(&updated)?, entry.mod_revision)
                                    .await
                            }
                            None => continue,
                        }
                    }
                };
                match result {
                    Ok(_) => written += 1,
                    // Someone else wrote it meanwhile; their version stands.
                    Err(StoreError::Conflict) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if written > 0 {
            self.rbac.invalidate(cluster);
            self.aggregate_cluster_roles(cluster).await?;
        }
        Ok(written)
    }

    /// Follows the store's change feed and drops the snapshots of clusters whose RBAC objects
    /// changed elsewhere. Runs until the service is dropped; the caller spawns it.
    pub async fn follow_rbac_changes(self: Arc<Self>) {
        use futures::StreamExt as _;
        let service = Arc::downgrade(&self);
        drop(self);
        loop {
            let Some(this) = service.upgrade() else {
                return;
            };
            let from = this.store().revision().await.ok();
            let feed = this.store().watch("k8s/", from).await;
            // Whatever happened before the feed started is unknown: start clean.
            this.rbac.invalidate_all();
            drop(this);
            let mut feed = match feed {
                Ok(feed) => feed,
                Err(error) => {
                    tracing::warn!(%error, "cannot watch RBAC changes; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    continue;
                }
            };
            while let Some(event) = feed.next().await {
                let Some(this) = service.upgrade() else {
                    return;
                };
                match event {
                    Ok(event) => {
                        if let Some(cluster) = rbac_key_cluster(event.key()) {
                            this.rbac.invalidate(cluster);
                        }
                    }
                    Err(_) => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbac_keys_name_their_cluster() {
        assert_eq!(
            rbac_key_cluster("k8s/c1/rbac.authorization.k8s.io/roles/ns/r"),
            Some("c1")
        );
        assert_eq!(rbac_key_cluster("k8s/c1/core/secrets/ns/s"), None);
        assert_eq!(rbac_key_cluster("iam/x"), None);
    }
}
