//! The Kubernetes API each Portcullis cluster serves, without the HTTP: resource types and
//! discovery, object storage with kube-apiserver's semantics, patches, selectors, protobuf
//! request bodies, field schemas, RBAC caching and aggregation, and service-account tokens.

pub mod access;
pub mod admission;
pub mod at_rest;
pub mod defaults;
pub mod discovery;
pub mod objects;
pub mod patch;
pub mod protobuf;
pub mod request_info;
pub mod resources;
pub mod schema;
pub mod selector;
pub mod service;
mod status;
pub mod tokens;
pub mod warnings;

pub use service::{KubeService, ListOptions};
pub use status::{Cause, KubeError};

/// An authenticated Kubernetes identity
#[derive(Clone, Debug)]
pub struct KubeUser {
    /// `ocid1.user...` for IAM users, `system:serviceaccount:<ns>:<name>` for accounts
    pub username: String,
    /// The user's uid
    pub uid: String,
    /// Groups: IAM group OCIDs or `system:serviceaccounts...`, plus `system:authenticated`
    pub groups: Vec<String>,
    /// Extra attributes (impersonated `Impersonate-Extra-*` values)
    pub extra: std::collections::BTreeMap<String, Vec<String>>,
    /// The IAM principal behind it, for IAM users
    pub principal: Option<portcullis_iam::Principal>,
}
