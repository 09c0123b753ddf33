//! Validating admission inside the standalone API server: what kube-apiserver's validating
//! webhooks do for an attached cluster, called in-process just before an object is stored
//! (after defaults, patches and the object rules, so it sees what would be persisted).

use serde_json::Value;

use crate::status::KubeError;

/// Checks an object about to be created or replaced
#[async_trait::async_trait]
pub trait Admission: Send + Sync {
    /// `Ok` admits; `Err(KubeError::Forbidden(..))` refuses with the message kubectl shows
    async fn admit(
        &self,
        cluster: &str,
        kind: &str,
        namespace: Option<&str>,
        object: &Value,
    ) -> Result<(), KubeError>;
}
