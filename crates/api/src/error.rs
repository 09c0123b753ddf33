//! The one place errors become responses: OCI's `{"code","message"}` with OCI's status codes,
//! Kubernetes `Status` for cluster endpoints, and the distribution spec's `{"errors": [...]}`
//! for the registry.
//!
//! Every handler, extractor and fallback returns [`ApiError`]; nothing else in the server
//! writes an error body. Internal details are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_auth::SignatureError;
use portcullis_identity::IdentityError;
use portcullis_kms::KmsError;
use portcullis_store::StoreError;
use serde::Serialize;

/// A request that cannot be served, in OCI's error vocabulary
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// From the identity service
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// From the vault service
    #[error(transparent)]
    Vault(portcullis_vault::VaultError),
    /// The request is not signed, or not signed correctly (401 `NotAuthenticated`)
    #[error("{0}")]
    NotAuthenticated(String),
    /// The body is not JSON (400 `CannotParseRequest`)
    #[error("{0}")]
    CannotParseRequest(String),
    /// A parameter is wrong (400 `InvalidParameter`)
    #[error("{0}")]
    InvalidParameter(String),
    /// The body is larger than the API accepts (400, as the API contract states)
    #[error("the request body exceeds the {0}-byte limit")]
    BodyTooLarge(usize),
    /// No such route (404 `NotAuthorizedOrNotFound`)
    #[error("Authorization failed or requested resource not found.")]
    NoRoute,
    /// The route exists but not with this method (405 `MethodNotAllowed`)
    #[error("the method is not allowed on this resource")]
    MethodNotAllowed,
    /// Something broke inside (500 `InternalServerError`)
    #[error("internal error")]
    Internal(String),
}

impl From<portcullis_vault::VaultError> for ApiError {
    fn from(error: portcullis_vault::VaultError) -> Self {
        match error {
            // One mapping for identity errors, wherever they come from.
            portcullis_vault::VaultError::Identity(e) => ApiError::Identity(e),
            other => ApiError::Vault(other),
        }
    }
}

impl From<portcullis_registry::RegistryError> for ApiError {
    fn from(error: portcullis_registry::RegistryError) -> Self {
        use portcullis_registry::RegistryError as R;
        match error {
            R::Identity(e) => ApiError::Identity(e),
            R::Distribution(e) => ApiError::InvalidParameter(e.message),
            R::Unauthorized | R::Denied => {
                ApiError::Identity(IdentityError::NotAuthorizedOrNotFound)
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<portcullis_vss::VssError> for ApiError {
    fn from(error: portcullis_vss::VssError) -> Self {
        use portcullis_vss::VssError as V;
        match error {
            V::Identity(e) => ApiError::Identity(e),
            V::Registry(e) => e.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<portcullis_imagepolicy::PolicyError> for ApiError {
    fn from(error: portcullis_imagepolicy::PolicyError) -> Self {
        use portcullis_imagepolicy::PolicyError as P;
        match error {
            P::Identity(e) => ApiError::Identity(e),
            P::Registry(e) => e.into(),
            P::Vault(e) => e.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(error: SignatureError) -> Self {
        let message = match error {
            // Do not tell an attacker whether the key exists or the signature is wrong.
            SignatureError::UnknownKey | SignatureError::Invalid => {
                "The required information to complete authentication was not provided or was incorrect.".to_owned()
            }
            other => other.to_string(),
        };
        ApiError::NotAuthenticated(message)
    }
}

/// OCI's error body
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

impl ApiError {
    /// The HTTP status and OCI `code`
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Identity(e) => match e {
                IdentityError::InvalidParameter(_) => (StatusCode::BAD_REQUEST, "InvalidParameter"),
                IdentityError::MissingParameter(_) => (StatusCode::BAD_REQUEST, "MissingParameter"),
                IdentityError::LimitExceeded(_) => (StatusCode::BAD_REQUEST, "LimitExceeded"),
                IdentityError::NotAuthorizedOrNotFound => {
                    (StatusCode::NOT_FOUND, "NotAuthorizedOrNotFound")
                }
                IdentityError::AlreadyExists(_) => {
                    (StatusCode::CONFLICT, "NotAuthorizedOrResourceAlreadyExists")
                }
                IdentityError::IncorrectState(_) => (StatusCode::CONFLICT, "IncorrectState"),
                IdentityError::Conflict => (StatusCode::CONFLICT, "Conflict"),
                IdentityError::EtagMismatch => (StatusCode::PRECONDITION_FAILED, "NoEtagMatch"),
                IdentityError::Store(StoreError::Unavailable(_)) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
                }
                IdentityError::Store(_) => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError")
                }
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
            },
            ApiError::Vault(portcullis_vault::VaultError::Kms(e)) => match e {
                KmsError::InvalidParameter(_)
                | KmsError::InvalidCiphertext
                | KmsError::Unsupported(_) => (StatusCode::BAD_REQUEST, "InvalidParameter"),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
            },
            ApiError::Vault(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
            ApiError::NotAuthenticated(_) => (StatusCode::UNAUTHORIZED, "NotAuthenticated"),
            ApiError::CannotParseRequest(_) => (StatusCode::BAD_REQUEST, "CannotParseRequest"),
            ApiError::InvalidParameter(_) | ApiError::BodyTooLarge(_) => {
                (StatusCode::BAD_REQUEST, "InvalidParameter")
            }
            ApiError::NoRoute => (StatusCode::NOT_FOUND, "NotAuthorizedOrNotFound"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
            "An internal error occurred; the server log has the details.".to_owned()
        } else {
            self.to_string()
        };
        (status, Json(ErrorBody { code, message })).into_response()
    }
}

/// A Kubernetes `Status` response (the cluster endpoints' error shape)
pub fn kube_error(error: &portcullis_kube::KubeError) -> Response {
    let status = StatusCode::from_u16(error.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(error = %error, "kubernetes request failed");
    }
    let mut body = error.to_status();
    let shown = matches!(error, portcullis_kube::KubeError::Encryption(_));
    if status.is_server_error()
        && !shown
        && let Some(map) = body.as_object_mut()
    {
        // Internal details stay in the log.
        map.insert(
            "message".into(),
            serde_json::Value::String(
                "Internal error occurred; the server log has the details".into(),
            ),
        );
    }
    (status, Json(body)).into_response()
}

/// A `Status` response built from parts (webhooks answering before an object exists)
pub fn kube_status(status: StatusCode, reason: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": status.as_u16()
        })),
    )
        .into_response()
}

/// A registry (`/v2/`) error in the distribution spec's shape: `{"errors": [{code, message,
/// detail}]}`, with a `WWW-Authenticate: Bearer` challenge naming the token realm on 401
pub fn registry_error(
    error: portcullis_registry::RegistryError,
    host: &str,
    scope: Option<&str>,
) -> Response {
    use portcullis_distribution::{Code, DistributionError};
    use portcullis_registry::RegistryError as R;
    let (status, body) = match &error {
        R::Distribution(e) => (
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            e.body(),
        ),
        R::Unauthorized => (
            StatusCode::UNAUTHORIZED,
            DistributionError::new(Code::Unauthorized, "authentication required").body(),
        ),
        R::Denied => (
            StatusCode::FORBIDDEN,
            DistributionError::new(Code::Denied, "requested access to the resource is denied")
                .body(),
        ),
        other => {
            tracing::error!(error = %other, "registry request failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({"errors": [{"code": "UNKNOWN", "message": "internal error; the server log has the details"}]}),
            )
        }
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        let mut challenge = format!(
            "Bearer realm=\"https://{host}{}\",service=\"{host}\"",
            crate::registry::TOKEN_PATH
        );
        if let Some(scope) = scope {
            challenge.push_str(&format!(",scope=\"{scope}\""));
        }
        if let Ok(value) = axum::http::HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, value);
        }
    }
    response
}
