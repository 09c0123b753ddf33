//! Kubernetes errors: `Status` objects with kubectl's exact reasons and messages.

use serde_json::{Value, json};

use crate::resources::ResourceType;

/// A field-level validation failure (`details.causes[]`)
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, ...
    pub reason: &'static str,
    /// The JSON path, `metadata.name`
    pub field: String,
    /// What is wrong
    pub message: String,
}

/// Why a Kubernetes request failed
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KubeError {
    /// 401: no or bad credentials
    #[error("Unauthorized")]
    Unauthorized,
    /// 403 with a preformatted message
    #[error("{0}")]
    Forbidden(String),
    /// 404
    #[error("{qualified} \"{name}\" not found")]
    NotFound {
        /// `secrets` or `deployments.apps`
        qualified: String,
        /// The name
        name: String,
    },
    /// 404 for a URL the server does not serve
    #[error("the server could not find the requested resource")]
    NoSuchPath,
    /// 409 on create
    #[error("{qualified} \"{name}\" already exists")]
    AlreadyExists {
        /// `secrets` or `deployments.apps`
        qualified: String,
        /// The name
        name: String,
    },
    /// 409 on a stale `resourceVersion`
    #[error(
        "Operation cannot be fulfilled on {qualified} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict {
        /// `secrets` or `deployments.apps`
        qualified: String,
        /// The name
        name: String,
    },
    /// 422 validation failure
    #[error("{kind} \"{name}\" is invalid: {}", describe_causes(causes))]
    Invalid {
        /// `Secret` or `Deployment.apps`
        kind: String,
        /// The name
        name: String,
        /// What is wrong
        causes: Vec<Cause>,
    },
    /// 400
    #[error("{0}")]
    BadRequest(String),
    /// 405
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 406
    #[error("{0}")]
    NotAcceptable(String),
    /// 410: a watch's resourceVersion is too old
    #[error("{0}")]
    Gone(String),
    /// 413
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// 415
    #[error("the body of the request was in an unknown format - accepted media types include: {0}")]
    UnsupportedMediaType(String),
    /// 500
    #[error("Internal error occurred: {0}")]
    Internal(String),
    /// 503
    #[error("the server is currently unable to handle the request: {0}")]
    Unavailable(String),
    /// 500 from encrypting or decrypting a Secret at rest: the master key is disabled, being
    /// deleted, or the cluster may not use it. Unlike [`KubeError::Internal`], the message is
    /// shown to the client (it names keys and permissions, never data), because the fix is
    /// the user's.
    #[error("Internal error occurred: {0}")]
    Encryption(String),
}

impl KubeError {
    /// A 404 for an object of `resource`
    pub fn not_found(resource: &ResourceType, name: &str) -> Self {
        KubeError::NotFound {
            qualified: resource.qualified(),
            name: name.to_owned(),
        }
    }

    /// A 409 for a duplicate object
    pub fn already_exists(resource: &ResourceType, name: &str) -> Self {
        KubeError::AlreadyExists {
            qualified: resource.qualified(),
            name: name.to_owned(),
        }
    }

    /// A 409 for a stale resourceVersion
    pub fn conflict(resource: &ResourceType, name: &str) -> Self {
        KubeError::Conflict {
            qualified: resource.qualified(),
            name: name.to_owned(),
        }
    }

    /// A 422 with one cause
    pub fn invalid(
        resource: &ResourceType,
        name: &str,
        field: &str,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        let kind = if resource.group.is_empty() {
            resource.kind.to_owned()
        } else {
            format!("{}.{}", resource.kind, resource.group)
        };
        KubeError::Invalid {
            kind,
            name: name.to_owned(),
            causes: vec![Cause {
                reason,
                field: field.to_owned(),
                message: message.into(),
            }],
        }
    }

    /// HTTP status code
    pub fn code(&self) -> u16 {
        match self {
            KubeError::Unauthorized => 401,
            KubeError::Forbidden(_) => 403,
            KubeError::NotFound { .. } | KubeError::NoSuchPath => 404,
            KubeError::AlreadyExists { .. } | KubeError::Conflict { .. } => 409,
            KubeError::Invalid { .. } => 422,
            KubeError::BadRequest(_) => 400,
            KubeError::MethodNotAllowed(_) => 405,
            KubeError::NotAcceptable(_) => 406,
            KubeError::Gone(_) => 410,
            KubeError::TooLarge(_) => 413,
            KubeError::UnsupportedMediaType(_) => 415,
            KubeError::Internal(_) | KubeError::Encryption(_) => 500,
            KubeError::Unavailable(_) => 503,
        }
    }

    /// The `reason` kubectl prints
    pub fn reason(&self) -> &'static str {
        match self {
            KubeError::Unauthorized => "Unauthorized",
            KubeError::Forbidden(_) => "Forbidden",
            KubeError::NotFound { .. } | KubeError::NoSuchPath => "NotFound",
            KubeError::AlreadyExists { .. } => "AlreadyExists",
            KubeError::Conflict { .. } => "Conflict",
            KubeError::Invalid { .. } => "Invalid",
            KubeError::BadRequest(_) => "BadRequest",
            KubeError::MethodNotAllowed(_) => "MethodNotAllowed",
            KubeError::NotAcceptable(_) => "NotAcceptable",
            KubeError::Gone(_) => "Expired",
            KubeError::TooLarge(_) => "RequestEntityTooLarge",
            KubeError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            KubeError::Internal(_) | KubeError::Encryption(_) => "InternalError",
            KubeError::Unavailable(_) => "ServiceUnavailable",
        }
    }

    /// The `Status` object
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        let details = match self {
            KubeError::NotFound { qualified, name }
            | KubeError::AlreadyExists { qualified, name }
            | KubeError::Conflict { qualified, name } => {
                let (kind, group) = qualified.split_once('.').unwrap_or((qualified, ""));
                Some(json!({"name": name, "group": group, "kind": kind}))
            }
            KubeError::Invalid { kind, name, causes } => {
                let (kind, group) = kind.split_once('.').unwrap_or((kind, ""));
                Some(json!({
                    "name": name, "group": group, "kind": kind,
                    "causes": causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect::<Vec<_>>(),
                }))
            }
            _ => None,
        };
        if let (Some(details), Some(map)) = (details, status.as_object_mut()) {
            map.insert("details".into(), details);
        }
        status
    }
}

/// Upstream's aggregate of field errors: one alone, several in brackets
fn describe_causes(causes: &[Cause]) -> String {
    let listed: Vec<String> = causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    match listed.as_slice() {
        [one] => one.clone(),
        _ => format!("[{}]", listed.join(", ")),
    }
}

impl From<portcullis_store::StoreError> for KubeError {
    fn from(error: portcullis_store::StoreError) -> Self {
        match error {
            portcullis_store::StoreError::Unavailable(e) => KubeError::Unavailable(e),
            portcullis_store::StoreError::Compacted(r) => {
                KubeError::Gone(format!("too old resource version: {r}"))
            }
            other => KubeError::Internal(other.to_string()),
        }
    }
}
