//! OCI Vault key management as pure logic: no I/O, no clocks, no store.
//!
//! What lives here is everything a security reviewer needs to read to trust the vault:
//! which key shapes exist ([`shape`]), how key material is made and kept wrapped under the
//! root key ([`material`], [`root`]), the crypto operations with OCI KMS's semantics
//! ([`crypto`]), bring-your-own-key import under a vault's wrapping key ([`import`]),
//! the byte format of symmetric ciphertexts that embeds the key version
//! ([`ciphertext`]), and the envelope a Kubernetes Secret is stored in ([`envelope`]).
//! The vault service (`portcullis-vault`) adds storage, lifecycle and authorization.

pub mod ciphertext;
pub mod crypto;
pub mod envelope;
pub mod import;
pub mod material;
pub mod root;
pub mod shape;

pub use ciphertext::Ciphertext;
pub use crypto::{EncryptionAlgorithm, MessageType, SigningAlgorithm};
pub use material::KeyMaterial;
pub use root::RootKey;
pub use shape::{Algorithm, Curve, KeyShape, ProtectionMode};

/// Why a key operation failed. The messages are shown to API callers, so they say what
/// to change and never include key material.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// A request field is out of range or inconsistent (400 `InvalidParameter`)
    #[error("{0}")]
    InvalidParameter(String),
    /// The ciphertext is malformed, was tampered with, or belongs to another key (400)
    #[error("the ciphertext is malformed, was modified, or was not made with this key")]
    InvalidCiphertext,
    /// The operation does not exist for this kind of key (400)
    #[error("{0}")]
    Unsupported(String),
    /// Wrapped key material did not open under the root key: the wrong root key file, or
    /// the store was modified (500; the vault cannot serve the key)
    #[error("key material could not be unwrapped with the root key")]
    Unwrap,
    /// The crypto library failed where it should not (500)
    #[error("a cryptographic operation failed: {0}")]
    Crypto(&'static str),
}

/// Shorthand for results in this crate
pub type KmsResult<T> = Result<T, KmsError>;
