//! The OCI Distribution Spec v1.1 (`supply-chain.md` §1) as pure logic, with no I/O: what
//! a registry must check and compute, apart from where bytes are kept.
//!
//! - [`name`]: repository names, tags and references.
//! - [`digest`]: `sha256:` / `sha512:` digests and the streaming hasher that verifies them.
//! - [`manifest`]: manifests and indexes (OCI and Docker), their descriptors, `subject`
//!   and `artifactType`.
//! - [`range`]: `Content-Range` of chunked uploads and `Range` of blob reads.
//! - [`listing`]: tag pages (`n`, `last`, `Link`) and referrers indexes.
//! - [`error`]: the spec's error codes and their JSON.

pub mod digest;
pub mod error;
pub mod listing;
pub mod manifest;
pub mod name;
pub mod range;

pub use digest::{Algorithm, Digest, Hasher};
pub use error::{Code, DistributionError};
pub use manifest::{Descriptor, Manifest};
pub use name::{Reference, RepositoryName};
