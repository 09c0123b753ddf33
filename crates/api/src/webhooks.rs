//! Webhooks a real kube-apiserver calls for an attached cluster.
//!
//! `POST /clusters/<id>/webhooks/authenticate`: the token authentication webhook. It takes a
//! `TokenReview` (`authentication.k8s.io/v1` or `v1beta1`, the apiserver's default) and
//! answers in the same version with the identity the cluster endpoint itself would use.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::AppState;

/// Token reviews larger than this are refused
const MAX_REVIEW_BYTES: usize = 64 * 1024;

fn review(api_version: &str, status: Value) -> Response {
    Json(json!({
        "apiVersion": api_version,
        "kind": "TokenReview",
        "status": status,
    }))
    .into_response()
}

/// The token authentication webhook
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    Path(cluster_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let bad = |message: &str| {
        crate::error::kube_status(axum::http::StatusCode::BAD_REQUEST, "BadRequest", message)
    };
    if body.len() > MAX_REVIEW_BYTES {
        return bad("the TokenReview is too large");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return bad("the body is not a JSON TokenReview");
    };
    let api_version = match request.get("apiVersion").and_then(Value::as_str) {
        Some(v @ ("authentication.k8s.io/v1" | "authentication.k8s.io/v1beta1")) => v.to_owned(),
        _ => return bad("expected apiVersion authentication.k8s.io/v1 or v1beta1"),
    };
    if request.get("kind").and_then(Value::as_str) != Some("TokenReview") {
        return bad("expected kind TokenReview");
    }
    let Some(token) = request.pointer("/spec/token").and_then(Value::as_str) else {
        return review(
            &api_version,
            json!({"authenticated": false, "error": "no token in the review"}),
        );
    };
    let cluster = match state.containerengine.active_cluster(&cluster_id).await {
        Ok(Some(cluster)) => cluster,
        Ok(None) => {
            return review(
                &api_version,
                json!({"authenticated": false, "error": "no such cluster"}),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "token review failed");
            return review(
                &api_version,
                json!({"authenticated": false, "error": "the credential store is unavailable"}),
            );
        }
    };
    match crate::kube::authenticate(&state, &cluster, token).await {
        Ok(user) => review(
            &api_version,
            json!({
                "authenticated": true,
                "user": {"username": user.username, "uid": user.uid, "groups": user.groups},
                "audiences": request.pointer("/spec/audiences").cloned().unwrap_or(Value::Array(Vec::new())),
            }),
        ),
        Err(reason) => {
            tracing::warn!(target: "portcullis::audit", cluster = %cluster.id, reason = %reason, "token review rejected");
            review(
                &api_version,
                json!({"authenticated": false, "error": reason}),
            )
        }
    }
}
