//! `/20160918/container/imageSignatures`: what `oci artifacts container image-signature ...`
//! uses (`sign-upload` uploads here after the vault's `Sign`; `get-verify` lists here).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use portcullis_identity::parse_ocid;
use portcullis_imagepolicy::SignatureFilter;

use crate::AppState;
use crate::error::ApiError;
use crate::identity::Params;
use crate::request::{OciResponse, Signed};

type Reply = Result<OciResponse, ApiError>;

/// The image-signature routes
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/20160918/container/imageSignatures",
            get(list_signatures).post(create_signature),
        )
        .route(
            "/20160918/container/imageSignatures/{id}",
            get(get_signature).delete(delete_signature),
        )
        .route(
            "/20160918/container/images/{id}/actions/cosignSign",
            axum::routing::post(cosign_sign),
        )
}

async fn create_signature(State(state): State<AppState>, signed: Signed) -> Reply {
    let details = signed.json()?;
    OciResponse::ok(
        &state
            .imagepolicy
            .create_signature(&signed.principal, details)
            .await?,
    )
}

async fn list_signatures(State(state): State<AppState>, signed: Signed) -> Reply {
    let owned = |name: &str| signed.query(name).map(str::to_owned);
    let filter = SignatureFilter {
        compartment_id: parse_ocid(signed.required_query("compartmentId")?, "compartmentId")?,
        compartment_id_in_subtree: signed.bool_query("compartmentIdInSubtree")?,
        image_id: owned("imageId"),
        repository_id: owned("repositoryId"),
        repository_name: owned("repositoryName"),
        image_digest: owned("imageDigest"),
        display_name: owned("displayName"),
        kms_key_id: owned("kmsKeyId"),
        kms_key_version_id: owned("kmsKeyVersionId"),
        signing_algorithm: owned("signingAlgorithm"),
    };
    OciResponse::ok(
        &state
            .imagepolicy
            .list_signatures(&signed.principal, &filter)
            .await?,
    )
}

async fn get_signature(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "imageSignatureId")?;
    OciResponse::ok(
        &state
            .imagepolicy
            .get_signature(&signed.principal, &id)
            .await?,
    )
}

async fn delete_signature(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "imageSignatureId")?;
    state
        .imagepolicy
        .delete_signature(&signed.principal, &id)
        .await?;
    Ok(OciResponse::empty(StatusCode::NO_CONTENT))
}

/// Signs an image in cosign's format with a vault key (a Portcullis extension)
async fn cosign_sign(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "imageId")?;
    let details = signed.json()?;
    OciResponse::ok(
        &state
            .imagepolicy
            .cosign_sign(&signed.principal, &id, details)
            .await?,
    )
}
