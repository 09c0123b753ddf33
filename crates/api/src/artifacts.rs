//! The OCI Artifacts API for the registry (`/20160918/container/repositories` and
//! `/20160918/container/images`): what `oci artifacts container ...` uses.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use portcullis_identity::parse_ocid;

use crate::AppState;
use crate::error::ApiError;
use crate::identity::Params;
use crate::request::{OciResponse, Signed};

type Reply = Result<OciResponse, ApiError>;

/// The Artifacts routes
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/20160918/container/repositories",
            get(list_repositories).post(create_repository),
        )
        .route(
            "/20160918/container/repositories/{id}",
            get(get_repository)
                .put(update_repository)
                .delete(delete_repository),
        )
        .route("/20160918/container/images", get(list_images))
        .route(
            "/20160918/container/images/{id}",
            get(get_image).delete(delete_image),
        )
}

fn compartment(signed: &Signed) -> Result<String, ApiError> {
    Ok(parse_ocid(
        signed.required_query("compartmentId")?,
        "compartmentId",
    )?)
}

async fn create_repository(State(state): State<AppState>, signed: Signed) -> Reply {
    let details = signed.json()?;
    OciResponse::ok(
        &state
            .registry
            .create_repository(&signed.principal, details)
            .await?,
    )
}

async fn list_repositories(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = compartment(&signed)?;
    OciResponse::ok(
        &state
            .registry
            .list_repositories(&signed.principal, &compartment, signed.query("displayName"))
            .await?,
    )
}

async fn get_repository(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "repositoryId")?;
    OciResponse::ok(
        &state
            .registry
            .get_repository(&signed.principal, &id)
            .await?,
    )
}

async fn update_repository(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "repositoryId")?;
    let details = signed.json()?;
    OciResponse::ok(
        &state
            .registry
            .update_repository(&signed.principal, &id, details)
            .await?,
    )
}

async fn delete_repository(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "repositoryId")?;
    state
        .registry
        .delete_repository(&signed.principal, &id)
        .await?;
    Ok(OciResponse::empty(StatusCode::NO_CONTENT))
}

async fn list_images(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = compartment(&signed)?;
    OciResponse::ok(
        &state
            .registry
            .list_images(
                &signed.principal,
                &compartment,
                signed.query("repositoryName"),
            )
            .await?,
    )
}

async fn get_image(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "imageId")?;
    OciResponse::ok(&state.registry.get_image(&signed.principal, &id).await?)
}

async fn delete_image(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "imageId")?;
    state.registry.delete_image(&signed.principal, &id).await?;
    Ok(OciResponse::empty(StatusCode::NO_CONTENT))
}
