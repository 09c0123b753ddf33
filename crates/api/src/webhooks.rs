//! Webhooks a real kube-apiserver calls for an attached cluster.
//!
//! - `POST /clusters/<id>/webhooks/authenticate`: the token authentication webhook. It takes
//!   a `TokenReview` (`authentication.k8s.io/v1` or `v1beta1`, the apiserver's default) and
//!   answers in the same version with the identity the cluster endpoint itself would use.
//! - `POST /clusters/<id>/webhooks/authorize`: the authorization webhook. It takes a
//!   `SubjectAccessReview` (`authorization.k8s.io/v1` or `v1beta1`, where the groups field is
//!   spelled `group`) and answers IAM's half of the decision: allowed, or no opinion, so the
//!   cluster's own RBAC authorizer decides next. It never denies.
//!
//! Both require the cluster's webhook credential (`ce cluster attach`) as a bearer token:
//! they reveal who holds which tokens and access.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portcullis_containerengine::model::Cluster;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::kube_status;
use crate::kube_authz;

/// Reviews larger than this are refused
const MAX_REVIEW_BYTES: usize = 64 * 1024;

fn bad(message: &str) -> Response {
    kube_status(StatusCode::BAD_REQUEST, "BadRequest", message)
}

fn reply(api_version: &str, kind: &str, status: Value) -> Response {
    Json(json!({"apiVersion": api_version, "kind": kind, "status": status})).into_response()
}

/// The cluster, if the caller presents its webhook credential
async fn attached_cluster(
    state: &AppState,
    cluster_id: &str,
    headers: &HeaderMap,
) -> Result<Cluster, Response> {
    let unauthorized = || kube_status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token else {
        tracing::warn!(target: "portcullis::audit", cluster = %cluster_id, reason = "no bearer token", "webhook call unauthenticated");
        return Err(unauthorized());
    };
    match state
        .containerengine
        .verify_webhook_token(cluster_id, token)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(target: "portcullis::audit", cluster = %cluster_id, reason = "not the cluster's webhook credential", "webhook call unauthenticated");
            return Err(unauthorized());
        }
        Err(error) => {
            tracing::error!(%error, "webhook credential check failed");
            return Err(kube_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "the credential store is unavailable",
            ));
        }
    }
    match state.containerengine.active_cluster(cluster_id).await {
        Ok(Some(cluster)) => Ok(cluster),
        Ok(None) => Err(kube_status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the cluster does not exist or is not active",
        )),
        Err(_) => Err(kube_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "the store is unavailable",
        )),
    }
}

/// Parses a review body: its `apiVersion` (one of `versions`) and the object
/// (the error is the message of a 400)
fn parse_review(body: &[u8], kind: &str, versions: &[&str]) -> Result<(String, Value), String> {
    if body.len() > MAX_REVIEW_BYTES {
        return Err(format!("the {kind} is too large"));
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Err(format!("the body is not a JSON {kind}"));
    };
    let api_version = match request.get("apiVersion").and_then(Value::as_str) {
        Some(v) if versions.contains(&v) => v.to_owned(),
        _ => {
            return Err(format!("expected apiVersion {}", versions.join(" or ")));
        }
    };
    if request.get("kind").and_then(Value::as_str) != Some(kind) {
        return Err(format!("expected kind {kind}"));
    }
    Ok((api_version, request))
}

/// The cluster and the parsed review, or the response refusing the call
async fn open_review(
    state: &AppState,
    cluster_id: &str,
    headers: &HeaderMap,
    body: &[u8],
    kind: &str,
    versions: &[&str],
) -> Result<(Cluster, String, Value), Response> {
    let cluster = attached_cluster(state, cluster_id, headers).await?;
    let (api_version, request) = parse_review(body, kind, versions).map_err(|m| bad(&m))?;
    Ok((cluster, api_version, request))
}

/// The token authentication webhook
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    Path(cluster_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (cluster, api_version, request) = match open_review(
        &state,
        &cluster_id,
        &headers,
        &body,
        "TokenReview",
        &["authentication.k8s.io/v1", "authentication.k8s.io/v1beta1"],
    )
    .await
    {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let Some(token) = request.pointer("/spec/token").and_then(Value::as_str) else {
        return reply(
            &api_version,
            "TokenReview",
            json!({"authenticated": false, "error": "no token in the review"}),
        );
    };
    match crate::kube::authenticate(&state, &cluster, token).await {
        Ok(user) => reply(
            &api_version,
            "TokenReview",
            json!({
                "authenticated": true,
                "user": {"username": user.username, "uid": user.uid, "groups": user.groups},
                "audiences": request.pointer("/spec/audiences").cloned().unwrap_or(Value::Array(Vec::new())),
            }),
        ),
        Err(reason) => {
            tracing::warn!(target: "portcullis::audit", cluster = %cluster.id, reason = %reason, "token review rejected");
            reply(
                &api_version,
                "TokenReview",
                json!({"authenticated": false, "error": reason}),
            )
        }
    }
}

/// The authorization webhook: IAM's half of the decision
pub(crate) async fn authorize(
    State(state): State<AppState>,
    Path(cluster_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (cluster, api_version, request) = match open_review(
        &state,
        &cluster_id,
        &headers,
        &body,
        "SubjectAccessReview",
        &["authorization.k8s.io/v1", "authorization.k8s.io/v1beta1"],
    )
    .await
    {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let spec = request.get("spec");
    let user = spec
        .and_then(|s| s.get("user"))
        .and_then(Value::as_str)
        .unwrap_or("");
    // v1beta1 spells the groups field `group`.
    let groups_field = if api_version.ends_with("v1beta1") {
        "group"
    } else {
        "groups"
    };
    let groups = kube_authz::strings(spec.and_then(|s| s.get(groups_field)));
    let attributes = spec.and_then(|s| {
        s.get("resourceAttributes")
            .or_else(|| s.get("nonResourceAttributes"))
    });
    if user.is_empty() && groups.is_empty() {
        return bad("spec.user or spec.groups must name who is asking");
    }
    if attributes.is_none_or(|a| {
        a.get("verb")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    }) {
        return bad(
            "spec.resourceAttributes or spec.nonResourceAttributes with a verb is required",
        );
    }
    let principal = kube_authz::principal_for(user, &groups);
    let status = match kube_authz::iam_grant(&state, &cluster, principal.as_ref()) {
        Some(reason) => {
            tracing::debug!(target: "portcullis::audit", cluster = %cluster.id, user, reason = %reason, "attached cluster request allowed by IAM");
            json!({"allowed": true, "reason": reason})
        }
        // No opinion: the cluster's RBAC decides.
        None => json!({"allowed": false}),
    };
    reply(&api_version, "SubjectAccessReview", status)
}

/// AdmissionReviews carry whole objects: a pod with large specs stays well under this
const MAX_ADMISSION_BYTES: usize = 3 * 1024 * 1024;

/// The validating admission webhook: the cluster's image verification policy for an
/// attached cluster, with the same decision the standalone API server makes in-process.
/// Requests the policy cannot evaluate are refused (fail closed), as `failurePolicy: Fail`
/// would refuse them if this endpoint were down.
pub(crate) async fn admit(
    State(state): State<AppState>,
    Path(cluster_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let cluster = match attached_cluster(&state, &cluster_id, &headers).await {
        Ok(cluster) => cluster,
        Err(response) => return response,
    };
    if body.len() > MAX_ADMISSION_BYTES {
        return bad("the AdmissionReview is too large");
    }
    let request = match portcullis_admission::review::AdmissionReview::parse(&body) {
        Ok(request) => request,
        Err(e) => return bad(&e.to_string()),
    };
    let allowed = portcullis_admission::Decision::allow();
    let decision = match (&request.object, request.operation.as_str()) {
        (Some(object), "CREATE" | "UPDATE") => match state
            .imagepolicy
            .review(&cluster.id, &request.kind.kind, object)
            .await
        {
            Ok(Some(decision)) => decision,
            Ok(None) => allowed,
            Err(e) => {
                tracing::warn!(target: "portcullis::audit", cluster = %cluster.id, kind = %request.kind.kind, error = %e, "admission denied: the image verification policy could not be evaluated");
                portcullis_admission::Decision::refuse(
                    "(all)",
                    format!("the policy could not be evaluated ({e}); it fails closed"),
                )
            }
        },
        // A create or replace that carries no object cannot be checked: refused.
        (None, "CREATE" | "UPDATE") => portcullis_admission::Decision::refuse(
            "(none)",
            "the review carries no object to check".into(),
        ),
        _ => allowed,
    };
    Json(portcullis_admission::review::response(
        &request.uid,
        &decision,
    ))
    .into_response()
}
