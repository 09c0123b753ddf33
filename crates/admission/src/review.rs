//! `admission.k8s.io/v1` AdmissionReview, the body a kube-apiserver posts to a validating
//! webhook and the answer it expects (`k8s-interfaces.md`): the request's `uid` echoed, and
//! `allowed` with a `status` whose message kubectl prints on a refusal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Decision;

/// A group, version and kind
#[derive(Clone, Debug, Default, Deserialize, Serialize, Eq, PartialEq)]
pub struct GroupVersionKind {
    /// `""` for the core group
    #[serde(default)]
    pub group: String,
    /// `v1`
    #[serde(default)]
    pub version: String,
    /// `Pod`
    #[serde(default)]
    pub kind: String,
}

/// What the apiserver asks about
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    /// Echoed in the response
    pub uid: String,
    /// The object's kind
    pub kind: GroupVersionKind,
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT`
    pub operation: String,
    /// The namespace, when namespaced
    #[serde(default)]
    pub namespace: Option<String>,
    /// The object's name (may be empty on create with `generateName`)
    #[serde(default)]
    pub name: Option<String>,
    /// Who asked
    #[serde(default)]
    pub user_info: Value,
    /// The object as it would be stored
    #[serde(default)]
    pub object: Option<Value>,
    /// Whether nothing will be persisted
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// The body: only `request` matters
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReview {
    /// `admission.k8s.io/v1`
    pub api_version: String,
    /// `AdmissionReview`
    pub kind: String,
    /// The question
    pub request: Option<AdmissionRequest>,
}

/// Why a review body was refused
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// Not JSON of the review's shape
    #[error("not an AdmissionReview: {0}")]
    Malformed(String),
    /// Another version than v1
    #[error("only admission.k8s.io/v1 AdmissionReview is accepted, not {0}")]
    Version(String),
    /// No `request`
    #[error("the AdmissionReview has no request")]
    NoRequest,
}

impl AdmissionReview {
    /// Reads a review body
    pub fn parse(body: &[u8]) -> Result<AdmissionRequest, ReviewError> {
        let review: AdmissionReview =
            serde_json::from_slice(body).map_err(|e| ReviewError::Malformed(e.to_string()))?;
        if review.api_version != "admission.k8s.io/v1" || review.kind != "AdmissionReview" {
            return Err(ReviewError::Version(format!(
                "{}/{}",
                review.api_version, review.kind
            )));
        }
        review.request.ok_or(ReviewError::NoRequest)
    }
}

/// The answer to a review: allowed or refused with the decision's message; admissions that
/// only break-glass or audit mode let through carry a warning and an audit annotation, and
/// the decision's notes are warnings too
pub fn response(uid: &str, decision: &Decision) -> Value {
    let mut annotations = BTreeMap::new();
    let warnings = decision.warnings();
    if decision.break_glass {
        annotations.insert("image-policy.portcullis.dev/break-glass", "true".to_owned());
    }
    if decision.audited {
        annotations.insert("image-policy.portcullis.dev/audit", decision.message());
    }
    let mut response = serde_json::Map::new();
    response.insert("uid".into(), json!(uid));
    response.insert("allowed".into(), json!(decision.allowed));
    if !decision.allowed {
        response.insert(
            "status".into(),
            json!({"code": 403, "reason": "Forbidden", "message": decision.message()}),
        );
    }
    if !warnings.is_empty() {
        response.insert("warnings".into(), json!(warnings));
    }
    if !annotations.is_empty() {
        response.insert("auditAnnotations".into(), json!(annotations));
    }
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    })
}
