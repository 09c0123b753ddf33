//! Secrets at rest: the seam between a cluster's Kubernetes API and the vault. Like
//! kube-apiserver's value transformers, it sits at the store boundary: Secret objects are
//! sealed just before they are written and opened just after they are read, so nothing
//! else in this crate sees ciphertext and nothing in the store sees a Secret's data.

use crate::KubeError;

/// Seals and opens the stored bytes of Secret objects
#[async_trait::async_trait]
pub trait SecretsAtRest: Send + Sync {
    /// Seals the JSON of a Secret about to be stored under `store_key` in `cluster`
    async fn seal(
        &self,
        cluster: &str,
        store_key: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, KubeError>;

    /// Opens the stored bytes of a Secret; values stored before encryption applied (no
    /// `k8s:enc:` prefix) are never passed here
    async fn open(
        &self,
        cluster: &str,
        store_key: &str,
        stored: &[u8],
    ) -> Result<Vec<u8>, KubeError>;
}

/// Whether a store key holds a Secret (`k8s/<cluster>/core/secrets/...`)
pub fn is_secret_key(store_key: &str) -> bool {
    let mut segments = store_key.split('/');
    segments.next() == Some("k8s")
        && segments.next().is_some()
        && segments.next() == Some("core")
        && segments.next() == Some("secrets")
}

/// Whether stored bytes are encrypted
pub fn is_encrypted(stored: &[u8]) -> bool {
    stored.starts_with(b"k8s:enc:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_secret_keys_only() {
        assert!(is_secret_key(
            "k8s/ocid1.cluster.oc1..a/core/secrets/default/s"
        ));
        assert!(!is_secret_key(
            "k8s/ocid1.cluster.oc1..a/core/configmaps/default/s"
        ));
        assert!(!is_secret_key(
            "k8s/ocid1.cluster.oc1..a/apps/secrets/default/s"
        ));
        assert!(!is_secret_key("k8s/c/core"));
    }
}
