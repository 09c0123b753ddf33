//! The gRPC plugins that connect real Kubernetes components to the Portcullis vault:
//!
//! - [`kms`]: a KMS v2 plugin for kube-apiserver (`--encryption-provider-config`), which wraps
//!   the apiserver's data keys with a vault key, as the cluster's own principal.
//! - [`csi`]: a Secrets Store CSI driver provider that mounts vault secrets into pods, with
//!   the parameters of OCI's provider.
//!
//! Both serve on Unix sockets ([`serve`]) and reach the Portcullis server over HTTPS through
//! [`client`]. The protobuf definitions are in `proto/`, written from the reference.

pub mod client;
pub mod csi;
pub mod kms;
pub mod serve;

/// Code generated from `proto/` by tonic
pub mod proto {
    /// `k8s.io/kms/apis/v2`
    #[allow(
        clippy::all,
        clippy::pedantic,
        clippy::allow_attributes_without_reason,
        missing_docs,
        missing_debug_implementations,
        unreachable_pub,
        reason = "generated protobuf and gRPC code"
    )]
    pub mod kms_v2 {
        tonic::include_proto!("v2");
    }

    /// `sigs.k8s.io/secrets-store-csi-driver/provider/v1alpha1`
    #[allow(
        clippy::all,
        clippy::pedantic,
        clippy::allow_attributes_without_reason,
        missing_docs,
        missing_debug_implementations,
        unreachable_pub,
        reason = "generated protobuf and gRPC code"
    )]
    pub mod csi {
        tonic::include_proto!("v1alpha1");
    }
}

/// Why a plugin call failed
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The configuration (credential file, flags) is unusable
    #[error("{0}")]
    Config(String),
    /// The request the plugin was given is invalid
    #[error("{0}")]
    InvalidRequest(String),
    /// Portcullis answered with an error
    #[error("Portcullis answered {status} {code}: {message}")]
    Server {
        /// HTTP status
        status: u16,
        /// OCI error code
        code: String,
        /// OCI error message
        message: String,
    },
    /// Portcullis could not be reached
    #[error("cannot reach Portcullis: {0}")]
    Transport(String),
}

impl From<PluginError> for tonic::Status {
    fn from(error: PluginError) -> Self {
        match &error {
            PluginError::InvalidRequest(_) => tonic::Status::invalid_argument(error.to_string()),
            PluginError::Server { status: 404, .. } => tonic::Status::not_found(error.to_string()),
            PluginError::Server { status: 400, .. } => {
                tonic::Status::invalid_argument(error.to_string())
            }
            PluginError::Server { status: 401, .. } => {
                tonic::Status::unauthenticated(error.to_string())
            }
            PluginError::Server { status: 409, .. } => {
                tonic::Status::failed_precondition(error.to_string())
            }
            PluginError::Transport(_) => tonic::Status::unavailable(error.to_string()),
            _ => tonic::Status::internal(error.to_string()),
        }
    }
}
