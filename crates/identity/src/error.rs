//! What the identity service can refuse, in OCI's vocabulary.

use portcullis_store::StoreError;

/// Why an identity operation failed
///
/// The API layer maps each variant to OCI's status code and error `code`.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A parameter is malformed (400 `InvalidParameter`)
    #[error("{0}")]
    InvalidParameter(String),
    /// A required parameter is absent (400 `MissingParameter`)
    #[error("{0}")]
    MissingParameter(String),
    /// Not allowed, or not there: OCI never says which (404 `NotAuthorizedOrNotFound`)
    #[error("Authorization failed or requested resource not found.")]
    NotAuthorizedOrNotFound,
    /// A name is taken (409 `NotAuthorizedOrResourceAlreadyExists`)
    #[error("{0}")]
    AlreadyExists(String),
    /// The resource is in the wrong state for this (409 `IncorrectState`)
    #[error("{0}")]
    IncorrectState(String),
    /// A per-user or per-tenancy limit is reached (400 `LimitExceeded`)
    #[error("{0}")]
    LimitExceeded(String),
    /// `if-match` did not match the current `etag` (412 `NoEtagMatch`)
    #[error("The resource's etag does not match the if-match header.")]
    EtagMismatch,
    /// A concurrent change won; the request may be retried (409 `Conflict`)
    #[error("The resource was changed by another request; retry.")]
    Conflict,
    /// The store failed (500 or 503)
    #[error("store error: {0}")]
    Store(StoreError),
}

impl From<StoreError> for IdentityError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => IdentityError::Conflict,
            other => IdentityError::Store(other),
        }
    }
}
