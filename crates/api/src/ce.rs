//! The Container Engine API (`/20180222/...`): clusters, kubeconfigs, work requests.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use portcullis_containerengine::model::{
    CreateClusterDetails, KubeconfigDetails, UpdateClusterDetails, WorkRequest,
};
use portcullis_identity::{ListQuery, parse_ocid};

use crate::AppState;
use crate::error::ApiError;
use crate::identity::Params;
use crate::request::{OciResponse, Signed};

type Reply = Result<OciResponse, ApiError>;

/// Asynchronous operations answer 202 with the work request's id, as OCI does
fn accepted(work: &WorkRequest) -> OciResponse {
    OciResponse::empty(StatusCode::ACCEPTED).header("opc-work-request-id", work.id.clone())
}

/// The Container Engine routes
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/20180222/clusters",
            post(create_cluster).get(list_clusters),
        )
        .route(
            "/20180222/clusters/{id}",
            get(get_cluster).put(update_cluster).delete(delete_cluster),
        )
        .route(
            "/20180222/clusters/{id}/kubeconfig/content",
            post(kubeconfig),
        )
        .route("/20180222/clusters/{id}/actions/attach", post(attach))
        .route(
            "/20180222/clusters/{id}/actions/testImagePolicy",
            post(test_image_policy),
        )
        .route(
            "/20180222/clusters/{id}/actions/whoCan",
            post(crate::who_can::who_can),
        )
        .route(
            "/20180222/clusters/{id}/actions/auditRbac",
            post(crate::who_can::audit),
        )
        .route("/20180222/workRequests", get(list_work_requests))
        .route("/20180222/workRequests/{id}", get(get_work_request))
}

async fn create_cluster(State(state): State<AppState>, signed: Signed) -> Reply {
    let details: CreateClusterDetails = signed.json()?;
    let (_, work) = state
        .containerengine
        .create_cluster(&signed.principal, details)
        .await?;
    Ok(accepted(&work))
}

async fn list_clusters(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = parse_ocid(signed.required_query("compartmentId")?, "compartmentId")?;
    let query = ListQuery::parse(
        signed.query("limit"),
        signed.query("page"),
        signed.query("name"),
        signed.query("lifecycleState"),
        signed.query("sortBy").map(|s| {
            if s == "TIME_CREATED" {
                "TIMECREATED"
            } else {
                s
            }
        }),
        signed.query("sortOrder"),
    )?;
    let listing = state
        .containerengine
        .list_clusters(&signed.principal, &compartment, &query)
        .await?;
    Ok(OciResponse::ok(&listing.items)?.next_page(listing.next_page))
}

async fn get_cluster(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "clusterId")?;
    let cluster = state
        .containerengine
        .get_cluster(&signed.principal, &id)
        .await?;
    Ok(OciResponse::ok(&cluster.value)?.etag(&cluster.etag))
}

async fn update_cluster(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "clusterId")?;
    let details: UpdateClusterDetails = signed.json()?;
    let work = state
        .containerengine
        .update_cluster(&signed.principal, &id, details, signed.if_match())
        .await?;
    Ok(accepted(&work))
}

async fn delete_cluster(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "clusterId")?;
    let work = state
        .containerengine
        .delete_cluster(&signed.principal, &id, signed.if_match())
        .await?;
    Ok(accepted(&work))
}

async fn kubeconfig(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "clusterId")?;
    let details: KubeconfigDetails = if signed.has_body() {
        signed.json()?
    } else {
        KubeconfigDetails::default()
    };
    let yaml = state
        .containerengine
        .kubeconfig(&signed.principal, &id, details)
        .await?;
    Ok(OciResponse::text("application/x-yaml", yaml))
}

/// Mints the webhook credential of an attached cluster (a Portcullis extension)
async fn attach(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "clusterId")?;
    OciResponse::ok(&state.containerengine.attach(&signed.principal, &id).await?)
}

async fn get_work_request(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "workRequestId")?;
    OciResponse::ok(
        &state
            .containerengine
            .get_work_request(&signed.principal, &id)
            .await?,
    )
}

async fn list_work_requests(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = parse_ocid(signed.required_query("compartmentId")?, "compartmentId")?;
    let cluster = signed
        .query("resourceId")
        .or_else(|| signed.query("clusterId"))
        .map(|c| parse_ocid(c, "clusterId"))
        .transpose()?;
    OciResponse::ok(
        &state
            .containerengine
            .list_work_requests(&signed.principal, &compartment, cluster.as_deref())
            .await?,
    )
}

/// `POST /20180222/clusters/{id}/actions/testImagePolicy` (a Portcullis extension): what the
/// cluster's image verification policy would decide for `{"objects": [...]}`, admitting
/// nothing
async fn test_image_policy(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "clusterId")?;
    let body: serde_json::Value = signed.json()?;
    let objects = body
        .get("objects")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| {
            ApiError::InvalidParameter("`objects` must be a list of Kubernetes objects".into())
        })?;
    OciResponse::ok(
        &state
            .imagepolicy
            .test_policy(&signed.principal, &id, objects)
            .await?,
    )
}
