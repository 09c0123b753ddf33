//! The Identity API (`/20160918/...`) with OCI's paths, bodies, status codes and headers.

use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use portcullis_identity::model::{
    AddUserToGroupDetails, AuthTokenDetails, CreateApiKeyDetails, CreateCompartmentDetails,
    CreateDynamicGroupDetails, CreateGroupDetails, CreatePolicyDetails, CreateUserDetails,
    UpdateCompartmentDetails, UpdateDynamicGroupDetails, UpdateGroupDetails, UpdatePolicyDetails,
    UpdateUserDetails,
};
use portcullis_identity::{IdentityError, ListQuery, SimulationInput, Versioned, parse_ocid};
use serde::Serialize;

use crate::AppState;
use crate::error::ApiError;
use crate::request::{OciResponse, Signed};

type Reply = Result<OciResponse, ApiError>;

/// Path parameters, with OCI's error shape when they do not decode
#[derive(Debug)]
pub(crate) struct Params(Vec<String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<Vec<String>>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| Params(p))
            .map_err(|e| ApiError::InvalidParameter(format!("bad path parameter: {e}")))
    }
}

impl Params {
    /// The `index`-th parameter, parsed as an OCID named `name`
    pub(crate) fn ocid(&self, index: usize, name: &str) -> Result<String, ApiError> {
        let raw = self
            .0
            .get(index)
            .ok_or_else(|| ApiError::Internal(format!("route lacks parameter {index}")))?;
        Ok(parse_ocid(raw, name)?)
    }

    pub(crate) fn text(&self, index: usize) -> Result<&str, ApiError> {
        self.0
            .get(index)
            .map(String::as_str)
            .ok_or_else(|| ApiError::Internal(format!("route lacks parameter {index}")))
    }
}

fn list_query(signed: &Signed) -> Result<ListQuery, ApiError> {
    Ok(ListQuery::parse(
        signed.query("limit"),
        signed.query("page"),
        signed.query("name"),
        signed.query("lifecycleState"),
        signed.query("sortBy"),
        signed.query("sortOrder"),
    )?)
}

fn versioned<T: Serialize>(v: Versioned<T>) -> Reply {
    Ok(OciResponse::ok(&v.value)?.etag(&v.etag))
}

fn compartment_query(signed: &Signed) -> Result<String, ApiError> {
    Ok(parse_ocid(
        signed.required_query("compartmentId")?,
        "compartmentId",
    )?)
}

/// The Identity API routes
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/20160918/tenancies/{tenancy_id}", get(get_tenancy))
        .route(
            "/20160918/compartments",
            post(create_compartment).get(list_compartments),
        )
        .route(
            "/20160918/compartments/{id}",
            get(get_compartment)
                .put(update_compartment)
                .delete(delete_compartment),
        )
        .route("/20160918/users", post(create_user).get(list_users))
        .route(
            "/20160918/users/{id}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route(
            "/20160918/users/{id}/apiKeys",
            post(upload_api_key).get(list_api_keys),
        )
        .route(
            "/20160918/users/{id}/apiKeys/",
            post(upload_api_key).get(list_api_keys),
        )
        .route(
            "/20160918/users/{id}/apiKeys/{fingerprint}",
            axum::routing::delete(delete_api_key),
        )
        .route(
            "/20160918/users/{id}/authTokens",
            post(create_auth_token).get(list_auth_tokens),
        )
        .route(
            "/20160918/users/{id}/authTokens/{token_id}",
            axum::routing::put(update_auth_token).delete(delete_auth_token),
        )
        .route("/20160918/groups", post(create_group).get(list_groups))
        .route(
            "/20160918/groups/{id}",
            get(get_group).put(update_group).delete(delete_group),
        )
        .route(
            "/20160918/userGroupMemberships",
            post(add_user_to_group).get(list_memberships),
        )
        .route(
            "/20160918/userGroupMemberships/{id}",
            get(get_membership).delete(remove_membership),
        )
        .route(
            "/20160918/dynamicGroups",
            post(create_dynamic_group).get(list_dynamic_groups),
        )
        .route(
            "/20160918/dynamicGroups/{id}",
            get(get_dynamic_group)
                .put(update_dynamic_group)
                .delete(delete_dynamic_group),
        )
        .route("/20160918/policies", post(create_policy).get(list_policies))
        .route("/20160918/policies/actions/simulate", post(simulate))
        .route(
            "/20160918/policies/{id}",
            get(get_policy).put(update_policy).delete(delete_policy),
        )
}

async fn get_tenancy(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "tenancyId")?;
    let tenancy = state.identity.tenancy();
    if id != tenancy.id {
        return Err(IdentityError::NotAuthorizedOrNotFound.into());
    }
    state.identity.authorize(
        &signed.principal,
        "GetTenancy",
        &tenancy.id,
        &portcullis_iam::Variables::new(),
    )?;
    OciResponse::ok(tenancy)
}

async fn create_compartment(State(state): State<AppState>, signed: Signed) -> Reply {
    let details: CreateCompartmentDetails = signed.json()?;
    versioned(
        state
            .identity
            .create_compartment(&signed.principal, details)
            .await?,
    )
}

async fn list_compartments(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = compartment_query(&signed)?;
    let subtree = signed.bool_query("compartmentIdInSubtree")?;
    if let Some(level) = signed.query("accessLevel")
        && !["ANY", "ACCESSIBLE"].contains(&level)
    {
        return Err(ApiError::InvalidParameter(
            "`accessLevel` must be ANY or ACCESSIBLE".into(),
        ));
    }
    let listing = state
        .identity
        .list_compartments(
            &signed.principal,
            &compartment,
            subtree,
            &list_query(&signed)?,
        )
        .await?;
    Ok(OciResponse::ok(&listing.items)?.next_page(listing.next_page))
}

async fn get_compartment(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "compartmentId")?;
    versioned(
        state
            .identity
            .get_compartment(&signed.principal, &id)
            .await?,
    )
}

async fn update_compartment(
    State(state): State<AppState>,
    params: Params,
    signed: Signed,
) -> Reply {
    let id = params.ocid(0, "compartmentId")?;
    let details: UpdateCompartmentDetails = signed.json()?;
    versioned(
        state
            .identity
            .update_compartment(&signed.principal, &id, details, signed.if_match())
            .await?,
    )
}

async fn delete_compartment(
    State(state): State<AppState>,
    params: Params,
    signed: Signed,
) -> Reply {
    let id = params.ocid(0, "compartmentId")?;
    state
        .identity
        .delete_compartment(&signed.principal, &id, signed.if_match())
        .await?;
    // OCI deletes compartments asynchronously and answers 202 with a work request id.
    Ok(OciResponse::empty(StatusCode::ACCEPTED).header(
        "opc-work-request-id",
        portcullis_iam::Ocid::generate("workrequest", Some(state.identity.region())).into_string(),
    ))
}

async fn create_user(State(state): State<AppState>, signed: Signed) -> Reply {
    let details: CreateUserDetails = signed.json()?;
    versioned(
        state
            .identity
            .create_user(&signed.principal, details)
            .await?,
    )
}

async fn list_users(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = compartment_query(&signed)?;
    let listing = state
        .identity
        .list_users(&signed.principal, &compartment, &list_query(&signed)?)
        .await?;
    Ok(OciResponse::ok(&listing.items)?.next_page(listing.next_page))
}

async fn get_user(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "userId")?;
    versioned(state.identity.get_user(&signed.principal, &id).await?)
}

async fn update_user(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "userId")?;
    let details: UpdateUserDetails = signed.json()?;
    versioned(
        state
            .identity
            .update_user(&signed.principal, &id, details, signed.if_match())
            .await?,
    )
}

async fn delete_user(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "userId")?;
    state
        .identity
        .delete_user(&signed.principal, &id, signed.if_match())
        .await?;
    Ok(OciResponse::empty(StatusCode::NO_CONTENT))
}

async fn upload_api_key(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "userId")?;
    let details: CreateApiKeyDetails = signed.json()?;
    OciResponse::ok(
        &state
            .identity
            .upload_api_key(&signed.principal, &id, details)
            .await?,
    )
}

async fn list_api_keys(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "userId")?;
    OciResponse::ok(&state.identity.list_api_keys(&signed.principal, &id).await?)
}

async fn delete_api_key(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "userId")?;
    let fingerprint = params.text(1)?;
    let hex = fingerprint.replace(':', "");
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::InvalidParameter(
            "`fingerprint` must be 16 colon-separated hex bytes".into(),
        ));
    }
    state
        .identity
        .delete_api_key(&signed.principal, &id, fingerprint)
        .await?;
    Ok(OciResponse::empty(StatusCode::NO_CONTENT))
}

async fn create_auth_token(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "userId")?;
    let details: AuthTokenDetails = signed.json()?;
    OciResponse::ok(
        &state
            .identity
            .create_auth_token(&signed.principal, &id, details)
            .await?,
    )
}

async fn list_auth_tokens(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "userId")?;
    OciResponse::ok(
        &state
            .identity
            .list_auth_tokens(&signed.principal, &id)
            .await?,
    )
}

async fn update_auth_token(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "userId")?;
    let token = params.ocid(1, "authTokenId")?;
    let details: AuthTokenDetails = signed.json()?;
    OciResponse::ok(
        &state
            .identity
            .update_auth_token(&signed.principal, &id, &token, details)
            .await?,
    )
}

async fn delete_auth_token(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "userId")?;
    let token = params.ocid(1, "authTokenId")?;
    state
        .identity
        .delete_auth_token(&signed.principal, &id, &token)
        .await?;
    Ok(OciResponse::empty(StatusCode::NO_CONTENT))
}

async fn create_group(State(state): State<AppState>, signed: Signed) -> Reply {
    let details: CreateGroupDetails = signed.json()?;
    versioned(
        state
            .identity
            .create_group(&signed.principal, details)
            .await?,
    )
}

async fn list_groups(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = compartment_query(&signed)?;
    let listing = state
        .identity
        .list_groups(&signed.principal, &compartment, &list_query(&signed)?)
        .await?;
    Ok(OciResponse::ok(&listing.items)?.next_page(listing.next_page))
}

async fn get_group(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "groupId")?;
    versioned(state.identity.get_group(&signed.principal, &id).await?)
}

async fn update_group(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "groupId")?;
    let details: UpdateGroupDetails = signed.json()?;
    versioned(
        state
            .identity
            .update_group(&signed.principal, &id, details, signed.if_match())
            .await?,
    )
}

async fn delete_group(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "groupId")?;
    state
        .identity
        .delete_group(&signed.principal, &id, signed.if_match())
        .await?;
    Ok(OciResponse::empty(StatusCode::NO_CONTENT))
}

async fn add_user_to_group(State(state): State<AppState>, signed: Signed) -> Reply {
    let details: AddUserToGroupDetails = signed.json()?;
    versioned(
        state
            .identity
            .add_user_to_group(&signed.principal, details)
            .await?,
    )
}

async fn list_memberships(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = compartment_query(&signed)?;
    let user = signed
        .query("userId")
        .map(|u| parse_ocid(u, "userId"))
        .transpose()?;
    let group = signed
        .query("groupId")
        .map(|g| parse_ocid(g, "groupId"))
        .transpose()?;
    let listing = state
        .identity
        .list_memberships(
            &signed.principal,
            &compartment,
            user.as_deref(),
            group.as_deref(),
            &list_query(&signed)?,
        )
        .await?;
    Ok(OciResponse::ok(&listing.items)?.next_page(listing.next_page))
}

async fn get_membership(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "userGroupMembershipId")?;
    versioned(
        state
            .identity
            .get_membership(&signed.principal, &id)
            .await?,
    )
}

async fn remove_membership(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "userGroupMembershipId")?;
    state
        .identity
        .remove_membership(&signed.principal, &id)
        .await?;
    Ok(OciResponse::empty(StatusCode::NO_CONTENT))
}

async fn create_dynamic_group(State(state): State<AppState>, signed: Signed) -> Reply {
    let details: CreateDynamicGroupDetails = signed.json()?;
    versioned(
        state
            .identity
            .create_dynamic_group(&signed.principal, details)
            .await?,
    )
}

async fn list_dynamic_groups(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = compartment_query(&signed)?;
    let listing = state
        .identity
        .list_dynamic_groups(&signed.principal, &compartment, &list_query(&signed)?)
        .await?;
    Ok(OciResponse::ok(&listing.items)?.next_page(listing.next_page))
}

async fn get_dynamic_group(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "dynamicGroupId")?;
    versioned(
        state
            .identity
            .get_dynamic_group(&signed.principal, &id)
            .await?,
    )
}

async fn update_dynamic_group(
    State(state): State<AppState>,
    params: Params,
    signed: Signed,
) -> Reply {
    let id = params.ocid(0, "dynamicGroupId")?;
    let details: UpdateDynamicGroupDetails = signed.json()?;
    versioned(
        state
            .identity
            .update_dynamic_group(&signed.principal, &id, details, signed.if_match())
            .await?,
    )
}

async fn delete_dynamic_group(
    State(state): State<AppState>,
    params: Params,
    signed: Signed,
) -> Reply {
    let id = params.ocid(0, "dynamicGroupId")?;
    state
        .identity
        .delete_dynamic_group(&signed.principal, &id, signed.if_match())
        .await?;
    Ok(OciResponse::empty(StatusCode::NO_CONTENT))
}

async fn create_policy(State(state): State<AppState>, signed: Signed) -> Reply {
    let details: CreatePolicyDetails = signed.json()?;
    versioned(
        state
            .identity
            .create_policy(&signed.principal, details)
            .await?,
    )
}

async fn list_policies(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = compartment_query(&signed)?;
    let listing = state
        .identity
        .list_policies(&signed.principal, &compartment, &list_query(&signed)?)
        .await?;
    Ok(OciResponse::ok(&listing.items)?.next_page(listing.next_page))
}

async fn get_policy(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "policyId")?;
    versioned(state.identity.get_policy(&signed.principal, &id).await?)
}

async fn update_policy(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "policyId")?;
    let details: UpdatePolicyDetails = signed.json()?;
    versioned(
        state
            .identity
            .update_policy(&signed.principal, &id, details, signed.if_match())
            .await?,
    )
}

async fn delete_policy(State(state): State<AppState>, params: Params, signed: Signed) -> Reply {
    let id = params.ocid(0, "policyId")?;
    state
        .identity
        .delete_policy(&signed.principal, &id, signed.if_match())
        .await?;
    Ok(OciResponse::empty(StatusCode::NO_CONTENT))
}

async fn simulate(State(state): State<AppState>, signed: Signed) -> Reply {
    let input: SimulationInput = signed.json()?;
    OciResponse::ok(&state.identity.simulate(&signed.principal, input).await?)
}
