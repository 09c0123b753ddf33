//! Image signatures and image verification at admission (`oci-reference.md` §6), at the
//! edge where the registry, the vault and the clusters meet:
//!
//! - `signatures`: OCIR's image-signature API, with every upload checked against its image
//!   and key before it is kept, and carried in the registry as an OCI 1.1 referrer;
//! - `verify`: a cluster's `imagePolicyConfig` enforced on pods and pod templates, checked
//!   *as the cluster* (so the cluster needs `read repos` and `use keys`, as in OKE), failing
//!   closed when signatures or keys cannot be read. The decisions are
//!   `portcullis-admission`'s; this crate does the reading and the vault calls, and caches
//!   each signature's cryptographic check (signatures never change; permissions and key
//!   state are asked again on every admission).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use portcullis_containerengine::ContainerEngine;
use portcullis_identity::{IdentityError, IdentityService};
use portcullis_registry::{Registry, RegistryError};
use portcullis_store::{Store, StoreError};
use portcullis_vault::{VaultError, VaultService};

mod cosign;
pub mod signatures;
mod verify;

pub use cosign::{ALGORITHM_ANNOTATION, CosignSignDetails, KEY_ANNOTATION, KEY_VERSION_ANNOTATION};
pub use signatures::{
    ContainerImageSignature, CreateContainerImageSignatureDetails, SIGNATURE_ARTIFACT_TYPE,
    SignatureFilter,
};

/// Why a signature request failed
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Authorization, validation and the store
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The registry
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The vault
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl From<StoreError> for PolicyError {
    fn from(error: StoreError) -> Self {
        PolicyError::Identity(IdentityError::Store(error))
    }
}

/// Shorthand for results of this crate
pub type PolicyResult<T> = Result<T, PolicyError>;

/// Cached checks are dropped wholesale past this many, which a busy cluster refills
const CACHE_LIMIT: usize = 100_000;

/// The service
pub struct ImagePolicyService {
    identity: Arc<IdentityService>,
    registry: Arc<Registry>,
    vault: Arc<VaultService>,
    containerengine: Arc<ContainerEngine>,
    /// Scan results, for the vulnerability gate
    vss: Arc<portcullis_vss::ScanningService>,
    /// The addresses (`host:port`) images from this registry are pulled by
    registry_hosts: Vec<String>,
    /// Signature id → whether it verified
    verified: Mutex<HashMap<String, bool>>,
    /// Held while a cosign `.sig` artifact is read, extended and written back
    sig_writes: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for ImagePolicyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImagePolicyService")
            .field("registry_hosts", &self.registry_hosts)
            .finish_non_exhaustive()
    }
}

impl ImagePolicyService {
    /// The service; `registry_hosts` are the addresses pods name this registry by
    pub fn new(
        identity: Arc<IdentityService>,
        registry: Arc<Registry>,
        vault: Arc<VaultService>,
        containerengine: Arc<ContainerEngine>,
        vss: Arc<portcullis_vss::ScanningService>,
        registry_hosts: Vec<String>,
    ) -> Arc<ImagePolicyService> {
        Arc::new(ImagePolicyService {
            identity,
            registry,
            vault,
            containerengine,
            vss,
            registry_hosts,
            verified: Mutex::new(HashMap::new()),
            sig_writes: tokio::sync::Mutex::new(()),
        })
    }

    fn store(&self) -> &dyn Store {
        &**self.identity.store()
    }

    fn cached(&self, signature: &str) -> Option<bool> {
        match self.verified.lock() {
            Ok(cache) => cache.get(signature).copied(),
            Err(poisoned) => poisoned.into_inner().get(signature).copied(),
        }
    }

    fn remember(&self, signature: &str, valid: bool) {
        let mut cache = match self.verified.lock() {
            Ok(cache) => cache,
            Err(poisoned) => poisoned.into_inner(),
        };
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(signature.to_owned(), valid);
    }

    /// Drops a deleted signature's cached check
    pub(crate) fn forget(&self, signature: &str) {
        match self.verified.lock() {
            Ok(mut cache) => cache.remove(signature),
            Err(poisoned) => poisoned.into_inner().remove(signature),
        };
    }
}
