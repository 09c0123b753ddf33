//! Kubernetes Secrets encrypted at rest under each cluster's master key (`oci-reference.md`
//! §4.1): the customer-managed key named by the cluster's `kmsKeyId`, or, when it has
//! none, a platform-managed key the vault keeps for that cluster.
//!
//! Every write gets a fresh data key, wrapped by the master key's current version and
//! stored beside the object in Kubernetes' KMS v2 envelope (`portcullis_kms::envelope`).
//! The cluster uses a customer key *as itself*: a policy must let its resource principal
//! `use keys`, exactly as OKE requires, and a refusal names the missing permission. A
//! disabled key, or one scheduled for deletion, stops reads and writes at once.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_containerengine::ContainerEngine;
use portcullis_containerengine::model::Cluster;
use portcullis_identity::{IdentityError, decode, encode};
use portcullis_kms::crypto::{self, AssociatedData};
use portcullis_kms::envelope::{self, DataKey};
use portcullis_kms::{KeyMaterial, KeyShape};
use portcullis_kube::KubeError;
use portcullis_kube::at_rest::SecretsAtRest;
use portcullis_store::Txn;
use serde::{Deserialize, Serialize};

use crate::model::Key;
use crate::{VaultError, VaultService, key_target, require_enabled};

/// The provider name in stored values: `k8s:enc:kms:v2:portcullis:`
pub const PROVIDER: &str = "portcullis";

const PLATFORM_KEYS: &str = "kms/platform-key/";

/// A platform-managed master key: one per cluster, AES-256, wrapped by the root key
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct PlatformKey {
    /// `platform:<cluster>:v1`: what envelopes record as their `keyID`
    version_id: String,
    wrapped_material: String,
}

fn platform_version_id(cluster: &str) -> String {
    format!("platform:{cluster}:v1")
}

/// The data key is bound to the cluster, so an envelope moved between clusters fails
fn binding(cluster: &str) -> AssociatedData {
    [("cluster".to_owned(), cluster.to_owned())].into()
}

/// How long a cluster record is reused. Short: a cluster's tags and compartment feed its
/// principal's IAM decisions. The key's own state is read on every use, so disabling a key
/// still takes effect at once.
const CLUSTER_CACHE: std::time::Duration = std::time::Duration::from_secs(2);

/// The vault-backed [`SecretsAtRest`] every cluster's API uses
#[derive(Debug)]
pub struct ClusterSecrets {
    vault: Arc<VaultService>,
    clusters: Arc<ContainerEngine>,
    recent: std::sync::Mutex<std::collections::HashMap<String, (Arc<Cluster>, std::time::Instant)>>,
}

impl ClusterSecrets {
    /// Secrets of `clusters` encrypted by `vault`
    pub fn new(vault: Arc<VaultService>, clusters: Arc<ContainerEngine>) -> ClusterSecrets {
        ClusterSecrets {
            vault,
            clusters,
            recent: std::sync::Mutex::default(),
        }
    }

    async fn cluster(&self, id: &str) -> Result<Arc<Cluster>, KubeError> {
        if let Some(cluster) = self.recent.lock().ok().and_then(|recent| {
            recent
                .get(id)
                .filter(|(_, at)| at.elapsed() < CLUSTER_CACHE)
                .map(|(cluster, _)| cluster.clone())
        }) {
            return Ok(cluster);
        }
        let cluster = Arc::new(
            self.clusters
                .active_cluster(id)
                .await
                .map_err(|e| KubeError::Unavailable(e.to_string()))?
                .ok_or_else(|| KubeError::Encryption(format!("cluster {id} is not active")))?,
        );
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() > 10_000 {
                recent.clear();
            }
            recent.insert(id.to_owned(), (cluster.clone(), std::time::Instant::now()));
        }
        Ok(cluster)
    }

    /// The cluster's customer-managed key, checked usable by the cluster for `operation`
    async fn customer_key(
        &self,
        cluster: &Cluster,
        key_id: &str,
        operation: &str,
        permission: &str,
    ) -> Result<Key, KubeError> {
        let key = match self.vault.load_key(key_id).await {
            Ok((key, _)) => key,
            Err(VaultError::Identity(IdentityError::NotAuthorizedOrNotFound)) => {
                return Err(KubeError::Encryption(format!(
                    "the cluster's master encryption key {key_id} does not exist"
                )));
            }
            Err(e) => return Err(KubeError::Unavailable(e.to_string())),
        };
        let principal = ContainerEngine::cluster_principal(cluster);
        if self
            .vault
            .identity()
            .authorize(
                &principal,
                operation,
                &key.compartment_id,
                &key_target(&key),
            )
            .is_err()
        {
            return Err(KubeError::Encryption(format!(
                "cluster {} is not authorized to use its master encryption key {}: it needs {permission} on the key. Add a policy such as `Allow any-user to use keys in compartment id {} where ALL {{request.principal.type = 'cluster', target.key.id = '{}'}}`",
                cluster.id, key.id, key.compartment_id, key.id
            )));
        }
        require_enabled(&key).map_err(|e| {
            KubeError::Encryption(format!(
                "Secrets of cluster {} are unavailable: {e}",
                cluster.id
            ))
        })?;
        Ok(key)
    }

    /// The cluster's platform-managed key, made on first use
    async fn platform_key(&self, cluster: &str) -> Result<(String, Arc<KeyMaterial>), KubeError> {
        let version_id = platform_version_id(cluster);
        // Platform keys never change once made, so the cache spares the store read.
        if let Some(found) = self.vault.cached(cluster, &version_id) {
            return Ok((version_id, found));
        }
        let store_key = format!("{PLATFORM_KEYS}{cluster}");
        let store = self.vault.store();
        let record = match store.get(&store_key).await? {
            Some(entry) => decode::<PlatformKey>(&entry.value).map_err(internal)?,
            None => {
                let material = KeyMaterial::generate(KeyShape::AES_256).map_err(internal)?;
                let wrapped = self
                    .vault
                    .root
                    .wrap(&version_id, material.secret_bytes())
                    .map_err(internal)?;
                let record = PlatformKey {
                    version_id: version_id.clone(),
                    wrapped_material: STANDARD.encode(wrapped),
                };
                let txn = Txn::new()
                    .require_absent(&store_key)
                    .put(&store_key, encode(&record).map_err(internal)?);
                match store.commit(txn).await {
                    Ok(_) => record,
                    // Another writer made it first: use theirs.
                    Err(portcullis_store::StoreError::Conflict) => {
                        let entry = store
                            .get(&store_key)
                            .await?
                            .ok_or_else(|| KubeError::Internal("platform key vanished".into()))?;
                        decode::<PlatformKey>(&entry.value).map_err(internal)?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if let Some(found) = self.vault.cached(cluster, &record.version_id) {
            return Ok((record.version_id, found));
        }
        let wrapped = STANDARD
            .decode(&record.wrapped_material)
            .map_err(|_| KubeError::Internal("platform key record is corrupt".into()))?;
        let bytes = self
            .vault
            .root
            .unwrap(&record.version_id, &wrapped)
            .map_err(internal)?;
        let material =
            Arc::new(KeyMaterial::from_secret_bytes(KeyShape::AES_256, bytes).map_err(internal)?);
        self.vault
            .remember(cluster, &record.version_id, material.clone());
        Ok((record.version_id, material))
    }
}

fn internal(error: impl std::fmt::Display) -> KubeError {
    KubeError::Internal(error.to_string())
}

#[async_trait::async_trait]
impl SecretsAtRest for ClusterSecrets {
    async fn seal(
        &self,
        cluster_id: &str,
        store_key: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, KubeError> {
        let cluster = self.cluster(cluster_id).await?;
        let (version_id, material) = match cluster.kms_key_id.as_deref() {
            Some(key_id) => {
                let key = self
                    .customer_key(&cluster, key_id, "Encrypt", "KEY_ENCRYPT")
                    .await?;
                let material = match self.vault.cached(&key.id, &key.current_key_version) {
                    Some(material) => material,
                    None => {
                        let version = self
                            .vault
                            .load_version(&key, &key.current_key_version)
                            .await
                            .map_err(internal)?;
                        self.vault.material(&key, &version).map_err(internal)?
                    }
                };
                (key.current_key_version.clone(), material)
            }
            None => self.platform_key(cluster_id).await?,
        };
        let dek = DataKey::generate().map_err(internal)?;
        let (wrapped, _) = crypto::encrypt(
            &material,
            &version_id,
            dek.as_bytes(),
            Some(&binding(cluster_id)),
            None,
        )
        .map_err(internal)?;
        envelope::seal(PROVIDER, store_key, plaintext, &dek, wrapped, version_id).map_err(internal)
    }

    async fn open(
        &self,
        cluster_id: &str,
        store_key: &str,
        stored: &[u8],
    ) -> Result<Vec<u8>, KubeError> {
        let object = envelope::parse(PROVIDER, stored)
            .map_err(|e| KubeError::Encryption(format!("{store_key}: {e}")))?;
        let material = if object.key_id == platform_version_id(cluster_id) {
            self.platform_key(cluster_id).await?.1
        } else {
            let cluster = self.cluster(cluster_id).await?;
            let key_id = cluster.kms_key_id.as_deref().ok_or_else(|| {
                KubeError::Encryption(format!(
                    "{store_key} was encrypted with key version {}, which is not this cluster's",
                    object.key_id
                ))
            })?;
            let key = self
                .customer_key(&cluster, key_id, "Decrypt", "KEY_DECRYPT")
                .await?;
            match self.vault.cached(&key.id, &object.key_id) {
                Some(material) => material,
                None => {
                    let version = self
                        .vault
                        .load_version(&key, &object.key_id)
                        .await
                        .map_err(|_| {
                            KubeError::Encryption(format!(
                                "{store_key} was encrypted with key version {}, which key {} does not have",
                                object.key_id, key.id
                            ))
                        })?;
                    self.vault.material(&key, &version).map_err(internal)?
                }
            }
        };
        let (dek, _) = crypto::decrypt(
            &material,
            &object.key_id,
            &object.encrypted_dek_source,
            Some(&binding(cluster_id)),
            None,
        )
        .map_err(|e| {
            KubeError::Encryption(format!("{store_key}: the data key does not open: {e}"))
        })?;
        let dek = DataKey::from_bytes(&dek).map_err(internal)?;
        envelope::open(&object, store_key, &dek)
            .map_err(|e| KubeError::Encryption(format!("{store_key}: {e}")))
    }
}
