//! Container Engine resources with OCI's JSON shapes (`/20180222/...`).

use portcullis_identity::model::{DefinedTags, FreeformTags};
use serde::{Deserialize, Serialize};

/// At most this many keys in an image verification policy
pub const MAX_POLICY_KEYS: usize = 5;

/// `lifecycleState` of a cluster
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterState {
    /// Being created
    Creating,
    /// Serving
    Active,
    /// Creation failed
    Failed,
    /// Being deleted
    Deleting,
    /// Gone (kept visible, as OCI does)
    Deleted,
    /// Being updated
    Updating,
}

/// A cluster
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    /// `ocid1.cluster.oc1.<region>.<unique>`
    pub id: String,
    /// Name
    pub name: String,
    /// The compartment the cluster lives in
    pub compartment_id: String,
    /// The VCN (accepted for API compatibility; Portcullis has no networking)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcn_id: Option<String>,
    /// `v1.32.1`
    pub kubernetes_version: String,
    /// The master encryption key for Secrets; set only at creation
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Freeform tags
    #[serde(default)]
    pub freeform_tags: FreeformTags,
    /// Defined tags
    #[serde(default)]
    pub defined_tags: DefinedTags,
    /// Cluster options, kept as given
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<serde_json::Value>,
    /// Endpoint configuration, kept as given
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_config: Option<serde_json::Value>,
    /// Pod network options, kept as given
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_pod_network_options: Option<serde_json::Value>,
    /// Who made it and when
    pub metadata: ClusterMetadata,
    /// Lifecycle state
    pub lifecycle_state: ClusterState,
    /// Details of the state
    #[serde(default)]
    pub lifecycle_details: String,
    /// Where the Kubernetes API is served
    pub endpoints: ClusterEndpoints,
    /// Versions it could be upgraded to
    #[serde(default)]
    pub available_kubernetes_upgrades: Vec<String>,
    /// The image verification policy
    pub image_policy_config: ImagePolicyConfig,
    /// `BASIC_CLUSTER` or `ENHANCED_CLUSTER`
    #[serde(rename = "type")]
    pub cluster_type: String,
}

/// `metadata` of a cluster
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterMetadata {
    /// Creation time
    pub time_created: String,
    /// The creator
    pub created_by_user_id: String,
    /// The work request that created it
    pub created_by_work_request_id: String,
    /// Last update time
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_updated: Option<String>,
    /// Who updated it last
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by_user_id: Option<String>,
    /// Deletion time
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_deleted: Option<String>,
    /// Who deleted it
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by_user_id: Option<String>,
}

/// `endpoints` of a cluster
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterEndpoints {
    /// `host:port` of the Kubernetes API
    pub kubernetes: String,
    /// The same, as the public endpoint
    pub public_endpoint: String,
}

/// `imagePolicyConfig`
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImagePolicyConfig {
    /// Whether the policy is enforced
    #[serde(default)]
    pub is_policy_enabled: bool,
    /// Keys, any one of which must have signed an image
    #[serde(default)]
    pub key_details: Vec<KeyDetails>,
    /// Portcullis: `ENFORCE` (OKE's behaviour, the default) or `AUDIT` (admit, and record
    /// what enforcement would refuse)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement_mode: Option<String>,
    /// Portcullis: refuse images from any registry but this one (OKE's policy governs its
    /// own registry's images only)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_other_registries_denied: Option<bool>,
    /// Portcullis: refuse images whose latest scan has an open problem at or above this
    /// severity (`LOW`, `MEDIUM`, `HIGH`, `CRITICAL`); allowlisted problems do not count
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability_severity_threshold: Option<String>,
    /// Portcullis: days (1 to 90) an image may still be deployed after a scan first finds
    /// a problem at or above the threshold in it, with a warning instead of a refusal, so
    /// that an advisory published overnight does not stop every restart at once
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability_grace_period_days: Option<u32>,
}

/// One key of an image policy
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyDetails {
    /// The vault key's OCID
    pub kms_key_id: String,
}

/// `CreateClusterDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateClusterDetails {
    /// Name
    pub name: Option<String>,
    /// Compartment
    pub compartment_id: Option<String>,
    /// VCN (accepted, unused)
    pub vcn_id: Option<String>,
    /// Kubernetes version, `v1.32.1`
    pub kubernetes_version: Option<String>,
    /// Master encryption key for Secrets
    pub kms_key_id: Option<String>,
    /// Freeform tags
    pub freeform_tags: Option<FreeformTags>,
    /// Defined tags
    pub defined_tags: Option<DefinedTags>,
    /// Options (kept)
    pub options: Option<serde_json::Value>,
    /// Endpoint config (kept)
    pub endpoint_config: Option<serde_json::Value>,
    /// Image policy
    pub image_policy_config: Option<ImagePolicyConfig>,
    /// Pod network options (kept)
    pub cluster_pod_network_options: Option<serde_json::Value>,
    /// `BASIC_CLUSTER` or `ENHANCED_CLUSTER`
    #[serde(rename = "type")]
    pub cluster_type: Option<String>,
}

/// `UpdateClusterDetails` (no `kmsKeyId`: it is fixed at creation)
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateClusterDetails {
    /// New name
    pub name: Option<String>,
    /// Upgrade to this version
    pub kubernetes_version: Option<String>,
    /// New options
    pub options: Option<serde_json::Value>,
    /// New freeform tags
    pub freeform_tags: Option<FreeformTags>,
    /// New defined tags
    pub defined_tags: Option<DefinedTags>,
    /// New image policy
    pub image_policy_config: Option<ImagePolicyConfig>,
    /// New type
    #[serde(rename = "type")]
    pub cluster_type: Option<String>,
}

/// `CreateClusterKubeconfigContentDetails`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeconfigDetails {
    /// Only `2.0.0`
    pub token_version: Option<String>,
    /// Deprecated, ignored
    pub expiration: Option<i64>,
    /// `PUBLIC_ENDPOINT` (the default) and the other kinds all mean the one endpoint here
    pub endpoint: Option<String>,
}

/// A work request (cluster creation and deletion are asynchronous in OCI)
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkRequest {
    /// The work request's OCID
    pub id: String,
    /// `CLUSTER_CREATE`, `CLUSTER_UPDATE`, `CLUSTER_DELETE`
    pub operation_type: String,
    /// `SUCCEEDED` (Portcullis applies changes before answering)
    pub status: String,
    /// The compartment
    pub compartment_id: String,
    /// What it touched
    pub resources: Vec<WorkRequestResource>,
    /// When accepted
    pub time_accepted: String,
    /// When started
    pub time_started: String,
    /// When finished
    pub time_finished: String,
}

/// A resource a work request touched
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkRequestResource {
    /// `CREATED`, `UPDATED`, `DELETED`
    pub action_type: String,
    /// `cluster`
    pub entity_type: String,
    /// The resource's OCID
    pub identifier: String,
    /// Its path
    pub entity_uri: String,
}
