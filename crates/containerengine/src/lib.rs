//! Container Engine for Portcullis: clusters with OKE's API shape, kubeconfigs whose exec
//! plugin mints short-lived user tokens, and verification of those tokens.
//!
//! Every operation is authorized through the identity service's gate with the `clusters`
//! permissions (`oci-reference.md` §2.1). A cluster is also a resource principal
//! (`resource.type = 'cluster'`) that dynamic groups and policies can name.

use std::sync::Arc;

use portcullis_auth::SignatureError;
use portcullis_iam::{Ocid, Principal, ResourcePrincipal, Variables};
use portcullis_identity::model::LifecycleState;
use portcullis_identity::{
    IdentityError, IdentityResult, IdentityService, ListQuery, Listable, Listing, Versioned,
    check_if_match, check_name, commit_or, decode, encode, etag, page, read_json, require_ocid,
};
use portcullis_store::{Store, Txn};

pub mod attachment;
pub mod kubeconfig;
pub mod model;
pub mod token;

use model::{
    Cluster, ClusterEndpoints, ClusterMetadata, ClusterState, CreateClusterDetails,
    ImagePolicyConfig, KubeconfigDetails, MAX_POLICY_KEYS, UpdateClusterDetails, WorkRequest,
    WorkRequestResource,
};
pub use token::{TokenError, generate_token};

const CLUSTERS: &str = "ce/cluster/";
const WORK_REQUESTS: &str = "ce/work-request/";

fn cluster_key(id: &str) -> String {
    format!("{CLUSTERS}{id}")
}

fn work_request_key(id: &str) -> String {
    format!("{WORK_REQUESTS}{id}")
}

impl Listable for Cluster {
    fn name(&self) -> &str {
        &self.name
    }
    fn time_created(&self) -> &str {
        &self.metadata.time_created
    }
    fn in_state(&self, state: LifecycleState) -> bool {
        matches!(
            (state, self.lifecycle_state),
            (LifecycleState::Active, ClusterState::Active)
                | (LifecycleState::Creating, ClusterState::Creating)
                | (LifecycleState::Deleting, ClusterState::Deleting)
                | (LifecycleState::Deleted, ClusterState::Deleted)
        )
    }
}

/// Why a bearer token did not authenticate against a cluster
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterAuthError {
    /// The token itself is unacceptable
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The store failed while checking it
    #[error("the credential store is unavailable")]
    Unavailable,
}

/// How long a verified user token is remembered. Short on purpose: removing an API key or a
/// group membership takes effect within this long (kube-apiserver's webhook cache is 2 min).
pub const TOKEN_CACHE_SECONDS: i64 = 10;

/// Verified tokens (by SHA-256) with the principal and when to forget them
type TokenCache = std::sync::Mutex<std::collections::HashMap<[u8; 32], (Principal, i64)>>;

/// The Container Engine service
#[derive(Debug)]
pub struct ContainerEngine {
    identity: Arc<IdentityService>,
    verified: TokenCache,
    /// `host:port` clients reach the Kubernetes API at
    public_address: String,
    /// PEM of the CA clients must trust, when the server generated its own
    ca_pem: Option<String>,
}

/// Checks `v1.<minor>.<patch>`
fn check_version(version: &str) -> IdentityResult<()> {
    let parts: Vec<&str> = version.strip_prefix('v').unwrap_or("").split('.').collect();
    let valid = parts.len() == 3
        && parts.first() == Some(&"1")
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if valid {
        Ok(())
    } else {
        Err(IdentityError::InvalidParameter(format!(
            "`kubernetesVersion` must look like `v1.32.1`, not `{version}`"
        )))
    }
}

fn version_tuple(version: &str) -> Vec<u64> {
    version
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

fn check_image_policy(config: &ImagePolicyConfig) -> IdentityResult<()> {
    if config.key_details.len() > MAX_POLICY_KEYS {
        return Err(IdentityError::InvalidParameter(format!(
            "an image verification policy names at most {MAX_POLICY_KEYS} keys"
        )));
    }
    for (i, key) in config.key_details.iter().enumerate() {
        Ocid::parse_typed(&key.kms_key_id, &["key"]).map_err(|e| {
            IdentityError::InvalidParameter(format!("`imagePolicyConfig.keyDetails`: {e}"))
        })?;
        if config
            .key_details
            .iter()
            .take(i)
            .any(|k| k.kms_key_id == key.kms_key_id)
        {
            return Err(IdentityError::InvalidParameter(format!(
                "`imagePolicyConfig.keyDetails` lists {} twice",
                key.kms_key_id
            )));
        }
    }
    if let Some(mode) = &config.enforcement_mode
        && mode != "ENFORCE"
        && mode != "AUDIT"
    {
        return Err(IdentityError::InvalidParameter(format!(
            "`imagePolicyConfig.enforcementMode` must be ENFORCE or AUDIT, not {mode}"
        )));
    }
    if let Some(threshold) = &config.vulnerability_severity_threshold
        && !["LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&threshold.as_str())
    {
        return Err(IdentityError::InvalidParameter(format!(
            "`imagePolicyConfig.vulnerabilitySeverityThreshold` must be LOW, MEDIUM, HIGH or CRITICAL, not {threshold}"
        )));
    }
    if let Some(days) = config.vulnerability_grace_period_days {
        if !(1..=90).contains(&days) {
            return Err(IdentityError::InvalidParameter(format!(
                "`imagePolicyConfig.vulnerabilityGracePeriodDays` must be 1 to 90, not {days}"
            )));
        }
        if config.vulnerability_severity_threshold.is_none() {
            return Err(IdentityError::InvalidParameter(
                "`imagePolicyConfig.vulnerabilityGracePeriodDays` needs `vulnerabilitySeverityThreshold`".into(),
            ));
        }
    }
    Ok(())
}

fn cluster_type(value: Option<String>) -> IdentityResult<String> {
    match value.as_deref() {
        None => Ok("BASIC_CLUSTER".to_owned()),
        Some(t @ ("BASIC_CLUSTER" | "ENHANCED_CLUSTER")) => Ok(t.to_owned()),
        Some(other) => Err(IdentityError::InvalidParameter(format!(
            "`type` must be BASIC_CLUSTER or ENHANCED_CLUSTER, not `{other}`"
        ))),
    }
}

fn target(cluster: &Cluster) -> Variables {
    Variables::new().with("target.cluster.id", cluster.id.as_str())
}

impl ContainerEngine {
    /// A service whose clusters are served at `public_address` (`host:port`)
    pub fn new(
        identity: Arc<IdentityService>,
        public_address: &str,
        ca_pem: Option<String>,
    ) -> ContainerEngine {
        ContainerEngine {
            identity,
            verified: TokenCache::default(),
            public_address: public_address.to_owned(),
            ca_pem,
        }
    }

    fn store(&self) -> &dyn Store {
        &**self.identity.store()
    }

    /// The identity service (and authorization gate)
    pub fn identity(&self) -> &Arc<IdentityService> {
        &self.identity
    }

    /// The Kubernetes API URL of a cluster
    pub fn server_url(&self, cluster_id: &str) -> String {
        format!("https://{}/clusters/{cluster_id}", self.public_address)
    }

    /// The CA clients must trust, if the server made its own
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    async fn load(&self, id: &str) -> IdentityResult<(Cluster, u64)> {
        if Ocid::parse_typed(id, &["cluster"]).is_err() {
            return Err(IdentityError::NotAuthorizedOrNotFound);
        }
        read_json::<Cluster>(self.store(), &cluster_key(id))
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)
    }

    async fn record_work(
        &self,
        txn: Txn,
        operation: &str,
        action: &str,
        cluster: &Cluster,
    ) -> IdentityResult<(Txn, WorkRequest)> {
        let now = portcullis_identity::model::now();
        let work = WorkRequest {
            id: Ocid::generate("clustersworkrequest", Some(self.identity.region())).into_string(),
            operation_type: operation.to_owned(),
            status: "SUCCEEDED".to_owned(),
            compartment_id: cluster.compartment_id.clone(),
            resources: vec![WorkRequestResource {
                action_type: action.to_owned(),
                entity_type: "cluster".to_owned(),
                identifier: cluster.id.clone(),
                entity_uri: format!("/clusters/{}", cluster.id),
            }],
            time_accepted: now.clone(),
            time_started: now.clone(),
            time_finished: now,
        };
        Ok((txn.put(work_request_key(&work.id), encode(&work)?), work))
    }

    /// `CreateCluster`: the cluster is active when this returns; the work request says so
    pub async fn create_cluster(
        &self,
        caller: &Principal,
        details: CreateClusterDetails,
    ) -> IdentityResult<(Cluster, WorkRequest)> {
        let compartment = require_ocid(details.compartment_id.as_deref(), "compartmentId")?;
        let name = check_name(details.name.as_deref(), "cluster", &[' '])?;
        let version = details.kubernetes_version.ok_or_else(|| {
            IdentityError::MissingParameter("`kubernetesVersion` is required".into())
        })?;
        check_version(&version)?;
        if let Some(key) = &details.kms_key_id {
            Ocid::parse_typed(key, &["key"])
                .map_err(|e| IdentityError::InvalidParameter(format!("`kmsKeyId`: {e}")))?;
        }
        let image_policy_config = details.image_policy_config.unwrap_or_default();
        check_image_policy(&image_policy_config)?;
        let cluster_type = cluster_type(details.cluster_type)?;
        self.identity
            .authorize(caller, "CreateCluster", &compartment, &Variables::new())?;
        let compartment_revision = self
            .identity
            .active_compartment(&compartment)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        let id = Ocid::generate("cluster", Some(self.identity.region())).into_string();
        let cluster = Cluster {
            endpoints: ClusterEndpoints {
                kubernetes: self.public_address.clone(),
                public_endpoint: self.public_address.clone(),
            },
            id: id.clone(),
            name,
            compartment_id: compartment.clone(),
            vcn_id: details.vcn_id,
            kubernetes_version: version,
            kms_key_id: details.kms_key_id,
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            defined_tags: details.defined_tags.unwrap_or_default(),
            options: details.options,
            endpoint_config: details.endpoint_config,
            cluster_pod_network_options: details.cluster_pod_network_options,
            metadata: ClusterMetadata::default(),
            lifecycle_state: ClusterState::Active,
            lifecycle_details: String::new(),
            available_kubernetes_upgrades: Vec::new(),
            image_policy_config,
            cluster_type,
        };
        let (txn, work) = self
            .record_work(Txn::new(), "CLUSTER_CREATE", "CREATED", &cluster)
            .await?;
        let cluster = Cluster {
            metadata: ClusterMetadata {
                time_created: work.time_accepted.clone(),
                created_by_user_id: caller.id().to_owned(),
                created_by_work_request_id: work.id.clone(),
                ..ClusterMetadata::default()
            },
            ..cluster
        };
        let txn = txn
            .require_absent(cluster_key(&id))
            .put(cluster_key(&id), encode(&cluster)?);
        let txn = self.identity.attach_to_compartment(
            txn,
            &compartment,
            compartment_revision,
            "cluster",
            &id,
        );
        commit_or(self.store(), txn, || IdentityError::Conflict).await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), cluster = %id, "cluster created");
        Ok((cluster, work))
    }

    /// `GetCluster`
    pub async fn get_cluster(
        &self,
        caller: &Principal,
        id: &str,
    ) -> IdentityResult<Versioned<Cluster>> {
        let (cluster, revision) = self.load(id).await?;
        self.identity.authorize(
            caller,
            "GetCluster",
            &cluster.compartment_id,
            &target(&cluster),
        )?;
        Ok(Versioned {
            value: cluster,
            etag: etag(revision),
        })
    }

    /// `ListClusters` in one compartment
    pub async fn list_clusters(
        &self,
        caller: &Principal,
        compartment_id: &str,
        query: &ListQuery,
    ) -> IdentityResult<Listing<Cluster>> {
        self.identity
            .authorize(caller, "ListClusters", compartment_id, &Variables::new())?;
        let mut clusters = Vec::new();
        for entry in self.store().list_all(CLUSTERS).await? {
            let cluster: Cluster = decode(&entry.value)?;
            let visible = cluster.lifecycle_state != ClusterState::Deleted
                || query.lifecycle_state == Some(LifecycleState::Deleted);
            if cluster.compartment_id == compartment_id && visible {
                clusters.push(cluster);
            }
        }
        page(clusters, query)
    }

    /// `UpdateCluster`: name, version upgrades, image policy, options and tags
    pub async fn update_cluster(
        &self,
        caller: &Principal,
        id: &str,
        details: UpdateClusterDetails,
        if_match: Option<&str>,
    ) -> IdentityResult<WorkRequest> {
        let (mut cluster, revision) = self.load(id).await?;
        self.identity.authorize(
            caller,
            "UpdateCluster",
            &cluster.compartment_id,
            &target(&cluster),
        )?;
        if cluster.lifecycle_state != ClusterState::Active {
            return Err(IdentityError::IncorrectState(
                "the cluster is not active".into(),
            ));
        }
        check_if_match(if_match, revision)?;
        if let Some(name) = details.name.as_deref() {
            cluster.name = check_name(Some(name), "cluster", &[' '])?;
        }
        if let Some(version) = details.kubernetes_version {
            check_version(&version)?;
            if version_tuple(&version) < version_tuple(&cluster.kubernetes_version) {
                return Err(IdentityError::InvalidParameter(format!(
                    "clusters can only be upgraded: {} is older than {}",
                    version, cluster.kubernetes_version
                )));
            }
            cluster.kubernetes_version = version;
        }
        if let Some(config) = details.image_policy_config {
            check_image_policy(&config)?;
            cluster.image_policy_config = config;
        }
        if let Some(options) = details.options {
            cluster.options = Some(options);
        }
        if let Some(tags) = details.freeform_tags {
            cluster.freeform_tags = tags;
        }
        if let Some(tags) = details.defined_tags {
            cluster.defined_tags = tags;
        }
        if details.cluster_type.is_some() {
            cluster.cluster_type = cluster_type(details.cluster_type)?;
        }
        cluster.metadata.time_updated = Some(portcullis_identity::model::now());
        cluster.metadata.updated_by_user_id = Some(caller.id().to_owned());
        let (txn, work) = self
            .record_work(Txn::new(), "CLUSTER_UPDATE", "UPDATED", &cluster)
            .await?;
        let txn = txn
            .require_revision(cluster_key(id), revision)
            .put(cluster_key(id), encode(&cluster)?);
        commit_or(self.store(), txn, || IdentityError::EtagMismatch).await?;
        Ok(work)
    }

    /// `DeleteCluster`: the cluster stays visible as `DELETED`
    pub async fn delete_cluster(
        &self,
        caller: &Principal,
        id: &str,
        if_match: Option<&str>,
    ) -> IdentityResult<WorkRequest> {
        let (mut cluster, revision) = self.load(id).await?;
        self.identity.authorize(
            caller,
            "DeleteCluster",
            &cluster.compartment_id,
            &target(&cluster),
        )?;
        if cluster.lifecycle_state == ClusterState::Deleted {
            return Err(IdentityError::IncorrectState(
                "the cluster is already deleted".into(),
            ));
        }
        check_if_match(if_match, revision)?;
        cluster.lifecycle_state = ClusterState::Deleted;
        cluster.metadata.time_deleted = Some(portcullis_identity::model::now());
        cluster.metadata.deleted_by_user_id = Some(caller.id().to_owned());
        let (txn, work) = self
            .record_work(Txn::new(), "CLUSTER_DELETE", "DELETED", &cluster)
            .await?;
        let txn = txn
            .require_revision(cluster_key(id), revision)
            .put(cluster_key(id), encode(&cluster)?);
        let txn =
            self.identity
                .detach_from_compartment(txn, &cluster.compartment_id, "cluster", id);
        commit_or(self.store(), txn, || IdentityError::Conflict).await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), cluster = %id, "cluster deleted");
        Ok(work)
    }

    /// `CreateKubeconfig` (needs `CLUSTER_USE`): the YAML OKE returns
    pub async fn kubeconfig(
        &self,
        caller: &Principal,
        id: &str,
        details: KubeconfigDetails,
    ) -> IdentityResult<String> {
        if let Some(version) = details.token_version.as_deref()
            && version != "2.0.0"
        {
            return Err(IdentityError::InvalidParameter(
                "`tokenVersion` must be 2.0.0".into(),
            ));
        }
        if let Some(endpoint) = details.endpoint.as_deref()
            && ![
                "LEGACY_KUBERNETES",
                "PUBLIC_ENDPOINT",
                "PRIVATE_ENDPOINT",
                "VCN_HOSTNAME",
            ]
            .contains(&endpoint)
        {
            return Err(IdentityError::InvalidParameter(format!(
                "unknown `endpoint` `{endpoint}`"
            )));
        }
        let (cluster, _) = self.load(id).await?;
        self.identity.authorize(
            caller,
            "CreateKubeconfig",
            &cluster.compartment_id,
            &target(&cluster),
        )?;
        if cluster.lifecycle_state != ClusterState::Active {
            return Err(IdentityError::IncorrectState(
                "the cluster is not active".into(),
            ));
        }
        let server = self.server_url(id);
        let value = kubeconfig::kubeconfig(&kubeconfig::KubeconfigSpec {
            cluster_id: id,
            region: self.identity.region(),
            server: &server,
            ca_pem: self.ca_pem.as_deref(),
            command: "portcullis",
            extra_args: &[],
        });
        kubeconfig::to_yaml(&value)
            .map_err(|e| IdentityError::Store(portcullis_store::StoreError::Corrupt(e.to_string())))
    }

    /// `GetWorkRequest`
    pub async fn get_work_request(
        &self,
        caller: &Principal,
        id: &str,
    ) -> IdentityResult<WorkRequest> {
        let (work, _) = read_json::<WorkRequest>(self.store(), &work_request_key(id))
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        self.identity.authorize(
            caller,
            "GetWorkRequest",
            &work.compartment_id,
            &Variables::new(),
        )?;
        Ok(work)
    }

    /// `ListWorkRequests` in a compartment, optionally for one cluster
    pub async fn list_work_requests(
        &self,
        caller: &Principal,
        compartment_id: &str,
        cluster_id: Option<&str>,
    ) -> IdentityResult<Vec<WorkRequest>> {
        self.identity.authorize(
            caller,
            "ListWorkRequests",
            compartment_id,
            &Variables::new(),
        )?;
        let mut out = Vec::new();
        for entry in self.store().list_all(WORK_REQUESTS).await? {
            let work: WorkRequest = decode(&entry.value)?;
            let matches_cluster =
                cluster_id.is_none_or(|c| work.resources.iter().any(|r| r.identifier == c));
            if work.compartment_id == compartment_id && matches_cluster {
                out.push(work);
            }
        }
        Ok(out)
    }

    /// An active cluster, without authorization (for the cluster's own endpoint)
    pub async fn active_cluster(&self, id: &str) -> IdentityResult<Option<Cluster>> {
        match self.load(id).await {
            Ok((cluster, _)) if cluster.lifecycle_state == ClusterState::Active => {
                Ok(Some(cluster))
            }
            Ok(_) | Err(IdentityError::NotAuthorizedOrNotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The cluster acting as itself: a resource principal
    pub fn cluster_principal(cluster: &Cluster) -> Principal {
        Principal::Resource(ResourcePrincipal {
            id: cluster.id.clone(),
            resource_type: "cluster".to_owned(),
            compartment_id: cluster.compartment_id.clone(),
            attributes: Default::default(),
            // Dynamic-group rules name defined tags as `tag.<namespace>.<key>.value`.
            tags: cluster
                .defined_tags
                .iter()
                .flat_map(|(namespace, keys)| {
                    keys.iter().map(move |(key, value)| {
                        let value = match value {
                            serde_json::Value::String(text) => text.clone(),
                            other => other.to_string(),
                        };
                        (format!("{namespace}.{key}"), value)
                    })
                })
                .collect(),
        })
    }

    /// Authenticates an OKE user token for `cluster`: right cluster and region, fresh date,
    /// a signature by one of the user's active API keys
    pub async fn authenticate_user_token(
        &self,
        cluster: &Cluster,
        bearer: &str,
    ) -> Result<Principal, ClusterAuthError> {
        let now = jiff::Timestamp::now();
        // The cache key binds the token to the cluster it was presented to.
        let mut material = Vec::with_capacity(bearer.len() + cluster.id.len() + 1);
        material.extend_from_slice(cluster.id.as_bytes());
        material.push(0);
        material.extend_from_slice(bearer.as_bytes());
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &material);
        let mut cache_key = [0u8; 32];
        cache_key.copy_from_slice(digest.as_ref());
        if let Ok(cache) = self.verified.lock()
            && let Some((principal, until)) = cache.get(&cache_key)
            && *until > now.as_second()
        {
            return Ok(principal.clone());
        }
        let (header, key_id, signing) =
            token::prepare_token(bearer, &cluster.id, self.identity.region(), now)?;
        let key = self
            .identity
            .api_key(&key_id)
            .await
            .map_err(|_| ClusterAuthError::Unavailable)?
            .ok_or(TokenError::Signature(SignatureError::UnknownKey))?;
        if !key.verify(signing.as_bytes(), &header.signature) {
            return Err(TokenError::Signature(SignatureError::Invalid).into());
        }
        let principal = self
            .identity
            .user_principal(&key_id.user)
            .await
            .map_err(|_| ClusterAuthError::Unavailable)?
            .ok_or(ClusterAuthError::Token(TokenError::Signature(
                SignatureError::UnknownKey,
            )))?;
        // Never past the token's own validity: its date plus the skew window.
        let date = portcullis_auth::parse_http_date(
            token::decode_token(bearer)
                .map(|c| c.date().to_owned())
                .unwrap_or_default()
                .as_str(),
        )
        .map_or(0, |d| {
            d.as_second() + portcullis_auth::MAX_CLOCK_SKEW.as_secs()
        });
        let until = (now.as_second() + TOKEN_CACHE_SECONDS).min(date);
        if let Ok(mut cache) = self.verified.lock() {
            if cache.len() > 10_000 {
                cache.retain(|_, (_, expires)| *expires > now.as_second());
            }
            if cache.len() <= 10_000 {
                cache.insert(cache_key, (principal.clone(), until));
            }
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_iam::dynamic_group::MatchingRule;

    fn cluster(compartment: &str) -> Cluster {
        serde_json::from_value(serde_json::json!({
            "id": "ocid1.cluster.oc1.us-ashburn-1.aaaaaaaaexample",
            "name": "dev",
            "compartmentId": compartment,
            "kubernetesVersion": "v1.32.1",
            "definedTags": {"Operations": {"CostCenter": "42", "Tier": "gold"}},
            "freeformTags": {"team": "blue"},
            "metadata": {"timeCreated": "2026-11-27T00:00:00Z", "createdByUserId": "u", "createdByWorkRequestId": "w"},
            "lifecycleState": "ACTIVE",
            "endpoints": {"kubernetes": "k", "publicEndpoint": "p"},
            "imagePolicyConfig": {"isPolicyEnabled": false},
            "type": "BASIC_CLUSTER"
        }))
        .unwrap()
    }

    #[test]
    fn a_cluster_is_a_resource_principal_dynamic_groups_can_name() {
        let Principal::Resource(principal) =
            ContainerEngine::cluster_principal(&cluster("ocid1.compartment.oc1..c1"))
        else {
            panic!("a cluster acts as a resource principal");
        };
        let by_compartment = MatchingRule::parse(
            "ALL {resource.type = 'cluster', resource.compartment.id = 'ocid1.compartment.oc1..c1'}",
        )
        .unwrap();
        assert!(by_compartment.matches(&principal));
        let by_id =
            MatchingRule::parse("resource.id = 'ocid1.cluster.oc1.us-ashburn-1.aaaaaaaaexample'")
                .unwrap();
        assert!(by_id.matches(&principal));
        let by_tag = MatchingRule::parse("tag.Operations.Tier.value = 'gold'").unwrap();
        assert!(by_tag.matches(&principal));
        let Principal::Resource(elsewhere) =
            ContainerEngine::cluster_principal(&cluster("ocid1.compartment.oc1..c2"))
        else {
            panic!("a cluster acts as a resource principal");
        };
        assert!(!by_compartment.matches(&elsewhere));
    }
}
