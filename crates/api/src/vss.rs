//! The Vulnerability Scanning API (`/20210215`): container scan recipes, targets and
//! results, what `oci vulnerability-scanning container scan ...` uses. Two additions OCI
//! does not have: `GET /20210215/advisoryDatabase` (the advisory data's age and counts) and
//! a repository's scan allowlist (`/20160918/container/repositories/{id}/scanAllowlist`).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use portcullis_identity::parse_ocid;
use portcullis_osv::Severity;
use portcullis_vss::ResultFilter;

use crate::AppState;
use crate::error::ApiError;
use crate::identity::Params;
use crate::request::{OciResponse, Signed};

type Reply = Result<OciResponse, ApiError>;

/// The Vulnerability Scanning routes
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/20210215/containerScanRecipes",
            get(list_recipes).post(create_recipe),
        )
        .route(
            "/20210215/containerScanRecipes/{id}",
            get(get_recipe).put(update_recipe).delete(delete_recipe),
        )
        .route(
            "/20210215/containerScanTargets",
            get(list_targets).post(create_target),
        )
        .route(
            "/20210215/containerScanTargets/{id}",
            get(get_target).delete(delete_target),
        )
        .route("/20210215/containerScanResults", get(list_results))
        .route("/20210215/containerScanResults/{id}", get(get_result))
        .route("/20210215/advisoryDatabase", get(database_status))
        .route(
            "/20160918/container/repositories/{id}/scanAllowlist",
            get(get_allowlist).put(put_allowlist),
        )
}

fn compartment(signed: &Signed) -> Result<String, ApiError> {
    Ok(parse_ocid(
        signed.required_query("compartmentId")?,
        "compartmentId",
    )?)
}

async fn create_recipe(State(state): State<AppState>, signed: Signed) -> Reply {
    let details = signed.json()?;
    OciResponse::ok(&state.vss.create_recipe(&signed.principal, details).await?)
}

async fn list_recipes(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = compartment(&signed)?;
    OciResponse::ok(
        &state
            .vss
            .list_recipes(&signed.principal, &compartment)
            .await?,
    )
}

async fn get_recipe(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "containerScanRecipeId")?;
    OciResponse::ok(&state.vss.get_recipe(&signed.principal, &id).await?)
}

async fn update_recipe(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "containerScanRecipeId")?;
    let details = signed.json()?;
    OciResponse::ok(
        &state
            .vss
            .update_recipe(&signed.principal, &id, details)
            .await?,
    )
}

async fn delete_recipe(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "containerScanRecipeId")?;
    state.vss.delete_recipe(&signed.principal, &id).await?;
    Ok(OciResponse::empty(StatusCode::NO_CONTENT))
}

async fn create_target(State(state): State<AppState>, signed: Signed) -> Reply {
    let details = signed.json()?;
    OciResponse::ok(&state.vss.create_target(&signed.principal, details).await?)
}

async fn list_targets(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = compartment(&signed)?;
    OciResponse::ok(
        &state
            .vss
            .list_targets(&signed.principal, &compartment)
            .await?,
    )
}

async fn get_target(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "containerScanTargetId")?;
    OciResponse::ok(&state.vss.get_target(&signed.principal, &id).await?)
}

async fn delete_target(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "containerScanTargetId")?;
    state.vss.delete_target(&signed.principal, &id).await?;
    Ok(OciResponse::empty(StatusCode::NO_CONTENT))
}

async fn list_results(State(state): State<AppState>, signed: Signed) -> Reply {
    let highest_problem_severity = match signed.query("highestProblemSeverity") {
        Some(text) => Some(Severity::parse(text).ok_or_else(|| {
            ApiError::InvalidParameter(format!(
                "`highestProblemSeverity` must be NONE, LOW, MEDIUM, HIGH or CRITICAL, not {text}"
            ))
        })?),
        None => None,
    };
    let filter = ResultFilter {
        compartment_id: compartment(&signed)?,
        repository: signed.query("repository").map(str::to_owned),
        image: signed.query("image").map(str::to_owned),
        highest_problem_severity,
        is_latest_only: signed.bool_query("isLatestOnly")?,
        time_started_from: signed
            .query("timeStartedGreaterThanOrEqualTo")
            .map(str::to_owned),
        time_started_to: signed
            .query("timeStartedLessThanOrEqualTo")
            .map(str::to_owned),
        sort_by: signed.query("sortBy").map(str::to_owned),
        sort_order: signed.query("sortOrder").map(str::to_owned),
    };
    OciResponse::ok(&state.vss.list_results(&signed.principal, &filter).await?)
}

async fn get_result(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "containerScanResultId")?;
    OciResponse::ok(&state.vss.get_result(&signed.principal, &id).await?)
}

async fn database_status(State(state): State<AppState>, signed: Signed) -> Reply {
    OciResponse::ok(&state.vss.database_status(&signed.principal).await?)
}

async fn get_allowlist(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "repositoryId")?;
    OciResponse::ok(&state.vss.get_allowlist(&signed.principal, &id).await?)
}

async fn put_allowlist(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "repositoryId")?;
    let allowlist = signed.json()?;
    OciResponse::ok(
        &state
            .vss
            .put_allowlist(&signed.principal, &id, allowlist)
            .await?,
    )
}
