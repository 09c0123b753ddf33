//! The Portcullis HTTPS server: TLS, authentication, routing, and the error mapping.
//!
//! A request travels: TLS (rustls) → hyper → the request-id layer → the route's extractor,
//! which verifies the OCI signature and resolves the caller → the handler, which calls a
//! domain service (that authorizes through the one gate) → the store. Every failure on the
//! way becomes an OCI error body in [`error`].

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use portcullis_containerengine::ContainerEngine;
use portcullis_identity::IdentityService;
use portcullis_kube::KubeService;

mod artifacts;
mod ce;
pub mod error;
mod identity;
mod kube;
mod kube_authz;
mod registry;
pub mod request;
pub mod server;
mod signatures;
pub mod tls;
mod vault;
mod vss;
mod webhooks;
mod who_can;

pub use error::{ApiError, kube_error, kube_status};

/// What every handler can reach
#[derive(Clone, Debug)]
pub struct AppState {
    /// The identity service and authorization gate
    pub identity: Arc<IdentityService>,
    /// Clusters, kubeconfigs and cluster tokens
    pub containerengine: Arc<ContainerEngine>,
    /// Each cluster's Kubernetes objects
    pub kube: Arc<KubeService>,
    /// Vaults, keys, crypto and vault secrets
    pub vault: Arc<portcullis_vault::VaultService>,
    /// The container registry
    pub registry: Arc<portcullis_registry::Registry>,
    /// Vulnerability scanning of the registry's images
    pub vss: Arc<portcullis_vss::ScanningService>,
    /// Image signatures and image verification at admission
    pub imagepolicy: Arc<portcullis_imagepolicy::ImagePolicyService>,
}

static OPC_REQUEST_ID: HeaderName = HeaderName::from_static("opc-request-id");

/// Echoes the client's `opc-request-id` (or mints one) on every response, errors included
async fn request_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&OPC_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 256)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let bytes: [u8; 16] = rand::random();
            bytes.iter().map(|b| format!("{b:02X}")).collect()
        });
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    tracing::info!(request_id = %id, %method, %path, status = response.status().as_u16(), "request");
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(OPC_REQUEST_ID.clone(), value);
    }
    response
}

async fn no_route() -> ApiError {
    ApiError::NoRoute
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

async fn health() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal("a handler panicked".into()).into_response()
}

/// The whole HTTP application
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(identity::routes())
        .merge(ce::routes())
        .merge(vault::routes())
        .merge(registry::routes())
        .merge(artifacts::routes())
        .merge(vss::routes())
        .merge(signatures::routes())
        .route("/healthz", axum::routing::get(health))
        .route(
            "/clusters/{cluster_id}/webhooks/authenticate",
            axum::routing::post(webhooks::authenticate),
        )
        .route(
            "/clusters/{cluster_id}/webhooks/authorize",
            axum::routing::post(webhooks::authorize),
        )
        .route(
            "/clusters/{cluster_id}/webhooks/admit",
            axum::routing::post(webhooks::admit),
        )
        .route(
            "/clusters/{cluster_id}/{*rest}",
            axum::routing::any(kube::handle),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(axum::middleware::from_fn(request_id))
}
