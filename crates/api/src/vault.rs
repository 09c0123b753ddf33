//! The Vault and KMS APIs: vault management (`/20180608/vaults`), key management and crypto
//! (`/20180608/keys`, `/20180608/encrypt`, ...), vault secrets (`/20180608/secrets`) and
//! secret retrieval (`/20190301/secretbundles`).
//!
//! In OCI each vault has its own management and crypto endpoints, and `CreateKey` learns its
//! vault from the endpoint it was sent to. Here a vault's endpoints are paths on this
//! server, `/kms/<vault-id>/management` and `/kms/<vault-id>/crypto`, so `oci kms ...
//! --endpoint <managementEndpoint>` works unchanged. Key and crypto routes also answer
//! without the prefix, taking the vault from the key.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use portcullis_identity::{ListQuery, Versioned, parse_ocid};
use portcullis_vault::model::{
    CreateKeyDetails, CreateSecretDetails, CreateVaultDetails, ImportKeyDetails,
    ImportKeyVersionDetails, ScheduleDeletionDetails, UpdateDetails, UpdateSecretDetails,
};
use portcullis_vault::secrets::BundleSelector;
use serde::Serialize;

use crate::AppState;
use crate::error::ApiError;
use crate::request::{OciResponse, Signed};

type Reply = Result<OciResponse, ApiError>;
type Named = Path<HashMap<String, String>>;

const MANAGEMENT: &str = "/kms/{vault}/management";
const CRYPTO: &str = "/kms/{vault}/crypto";

/// The Vault, KMS and Secrets routes
pub(crate) fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/20180608/vaults", post(create_vault).get(list_vaults))
        .route("/20180608/vaults/{id}", get(get_vault).put(update_vault))
        .route(
            "/20180608/vaults/{id}/actions/scheduleDeletion",
            post(schedule_vault_deletion),
        )
        .route(
            "/20180608/vaults/{id}/actions/cancelDeletion",
            post(cancel_vault_deletion),
        )
        .route("/20180608/secrets", post(create_secret).get(list_secrets))
        .route("/20180608/secrets/{id}", get(get_secret).put(update_secret))
        .route("/20180608/secrets/{id}/versions", get(list_secret_versions))
        .route(
            "/20180608/secrets/{id}/version/{number}",
            get(get_secret_version),
        )
        .route(
            "/20180608/secrets/{id}/actions/scheduleDeletion",
            post(schedule_secret_deletion),
        )
        .route(
            "/20180608/secrets/{id}/actions/cancelDeletion",
            post(cancel_secret_deletion),
        )
        .route("/20190301/secretbundles/{id}", get(get_secret_bundle))
        .route(
            "/20190301/secretbundles/actions/getByName",
            post(get_secret_bundle_by_name),
        );
    for prefix in ["", MANAGEMENT] {
        router = router
            .route(
                &format!("{prefix}/20180608/keys"),
                post(create_key).get(list_keys),
            )
            .route(
                &format!("{prefix}/20180608/keys/{{id}}"),
                get(get_key).put(update_key),
            )
            .route(
                &format!("{prefix}/20180608/keys/{{id}}/actions/enable"),
                post(enable_key),
            )
            .route(
                &format!("{prefix}/20180608/keys/{{id}}/actions/disable"),
                post(disable_key),
            )
            .route(
                &format!("{prefix}/20180608/keys/{{id}}/actions/scheduleDeletion"),
                post(schedule_key_deletion),
            )
            .route(
                &format!("{prefix}/20180608/keys/{{id}}/actions/cancelDeletion"),
                post(cancel_key_deletion),
            )
            .route(
                &format!("{prefix}/20180608/keys/{{id}}/keyVersions"),
                post(create_key_version).get(list_key_versions),
            )
            .route(
                &format!("{prefix}/20180608/keys/{{id}}/keyVersions/{{version}}"),
                get(get_key_version),
            )
            .route(&format!("{prefix}/20180608/keys/import"), post(import_key))
            .route(
                &format!("{prefix}/20180608/keys/{{id}}/keyVersions/import"),
                post(import_key_version),
            )
            .route(
                &format!("{prefix}/20180608/wrappingKeys"),
                get(get_wrapping_key),
            );
    }
    for prefix in ["", CRYPTO] {
        router = router
            .route(&format!("{prefix}/20180608/encrypt"), post(encrypt))
            .route(&format!("{prefix}/20180608/decrypt"), post(decrypt))
            .route(
                &format!("{prefix}/20180608/generateDataEncryptionKey"),
                post(generate_data_encryption_key),
            )
            .route(&format!("{prefix}/20180608/sign"), post(sign))
            .route(&format!("{prefix}/20180608/verify"), post(verify));
    }
    router
}

fn param(path: &HashMap<String, String>, name: &str, what: &str) -> Result<String, ApiError> {
    let raw = path
        .get(name)
        .ok_or_else(|| ApiError::Internal(format!("route lacks parameter {name}")))?;
    Ok(parse_ocid(raw, what)?)
}

/// The vault of a `/kms/<vault>/...` endpoint, if the request came through one
fn scope(path: &HashMap<String, String>) -> Result<Option<String>, ApiError> {
    path.get("vault")
        .map(|v| Ok(parse_ocid(v, "vaultId")?))
        .transpose()
}

fn list_query(signed: &Signed, with_state: bool) -> Result<ListQuery, ApiError> {
    let sort_by = signed.query("sortBy").map(|s| match s {
        "TIMECREATED" | "TIME_CREATED" => "TIMECREATED",
        "DISPLAYNAME" | "DISPLAY_NAME" | "NAME" => "NAME",
        other => other,
    });
    Ok(ListQuery::parse(
        signed.query("limit"),
        signed.query("page"),
        signed.query("name"),
        if with_state {
            signed.query("lifecycleState")
        } else {
            None
        },
        sort_by,
        signed.query("sortOrder"),
    )?)
}

fn compartment_query(signed: &Signed) -> Result<String, ApiError> {
    Ok(parse_ocid(
        signed.required_query("compartmentId")?,
        "compartmentId",
    )?)
}

fn versioned<T: Serialize>(v: Versioned<T>) -> Reply {
    Ok(OciResponse::ok(&v.value)?.etag(&v.etag))
}

fn optional_body<T: serde::de::DeserializeOwned>(signed: &Signed) -> Result<Option<T>, ApiError> {
    if signed.has_body() {
        signed.json().map(Some)
    } else {
        Ok(None)
    }
}

// ----- vaults ---------------------------------------------------------------------------

async fn create_vault(State(state): State<AppState>, signed: Signed) -> Reply {
    let details: CreateVaultDetails = signed.json()?;
    versioned(state.vault.create_vault(&signed.principal, details).await?)
}

async fn list_vaults(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = compartment_query(&signed)?;
    let listing = state
        .vault
        .list_vaults(&signed.principal, &compartment, &list_query(&signed, true)?)
        .await?;
    Ok(OciResponse::ok(&listing.items)?.next_page(listing.next_page))
}

async fn get_vault(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let id = param(&p, "id", "vaultId")?;
    versioned(state.vault.get_vault(&signed.principal, &id).await?)
}

async fn update_vault(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let id = param(&p, "id", "vaultId")?;
    let details: UpdateDetails = signed.json()?;
    versioned(
        state
            .vault
            .update_vault(&signed.principal, &id, details, signed.if_match())
            .await?,
    )
}

async fn schedule_vault_deletion(
    State(state): State<AppState>,
    Path(p): Named,
    signed: Signed,
) -> Reply {
    let id = param(&p, "id", "vaultId")?;
    let details: Option<ScheduleDeletionDetails> = optional_body(&signed)?;
    versioned(
        state
            .vault
            .schedule_vault_deletion(&signed.principal, &id, details, false, signed.if_match())
            .await?,
    )
}

async fn cancel_vault_deletion(
    State(state): State<AppState>,
    Path(p): Named,
    signed: Signed,
) -> Reply {
    let id = param(&p, "id", "vaultId")?;
    versioned(
        state
            .vault
            .schedule_vault_deletion(&signed.principal, &id, None, true, signed.if_match())
            .await?,
    )
}

// ----- keys -----------------------------------------------------------------------------

async fn create_key(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let vault = management_vault(&p, "CreateKey")?;
    let details: CreateKeyDetails = signed.json()?;
    versioned(
        state
            .vault
            .create_key(&signed.principal, &vault, details)
            .await?,
    )
}

/// The vault a management call names through its endpoint; `operation` says which call
/// needed it
fn management_vault(p: &HashMap<String, String>, operation: &str) -> Result<String, ApiError> {
    scope(p)?.ok_or_else(|| {
        ApiError::InvalidParameter(format!(
            "{operation} goes to the vault's managementEndpoint (`/kms/<vault-id>/management`), which names the vault"
        ))
    })
}

async fn import_key(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let vault = management_vault(&p, "ImportKey")?;
    let details: ImportKeyDetails = signed.json()?;
    versioned(
        state
            .vault
            .import_key(&signed.principal, &vault, details)
            .await?,
    )
}

async fn import_key_version(
    State(state): State<AppState>,
    Path(p): Named,
    signed: Signed,
) -> Reply {
    let id = param(&p, "id", "keyId")?;
    let details: ImportKeyVersionDetails = signed.json()?;
    OciResponse::ok(
        &state
            .vault
            .import_key_version(&signed.principal, &id, scope(&p)?.as_deref(), details)
            .await?,
    )
}

async fn get_wrapping_key(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let vault = management_vault(&p, "GetWrappingKey")?;
    OciResponse::ok(
        &state
            .vault
            .get_wrapping_key(&signed.principal, &vault)
            .await?,
    )
}

async fn list_keys(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let compartment = compartment_query(&signed)?;
    let vault = scope(&p)?;
    let listing = state
        .vault
        .list_keys(
            &signed.principal,
            &compartment,
            vault.as_deref(),
            &list_query(&signed, false)?,
        )
        .await?;
    Ok(OciResponse::ok(&listing.items)?.next_page(listing.next_page))
}

async fn get_key(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let id = param(&p, "id", "keyId")?;
    versioned(
        state
            .vault
            .get_key(&signed.principal, &id, scope(&p)?.as_deref())
            .await?,
    )
}

async fn update_key(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let id = param(&p, "id", "keyId")?;
    let details: UpdateDetails = signed.json()?;
    versioned(
        state
            .vault
            .update_key(
                &signed.principal,
                &id,
                scope(&p)?.as_deref(),
                details,
                signed.if_match(),
            )
            .await?,
    )
}

async fn set_enabled(
    state: &AppState,
    p: &HashMap<String, String>,
    signed: &Signed,
    on: bool,
) -> Reply {
    let id = param(p, "id", "keyId")?;
    versioned(
        state
            .vault
            .set_key_enabled(
                &signed.principal,
                &id,
                scope(p)?.as_deref(),
                on,
                signed.if_match(),
            )
            .await?,
    )
}

async fn enable_key(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    set_enabled(&state, &p, &signed, true).await
}

async fn disable_key(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    set_enabled(&state, &p, &signed, false).await
}

async fn schedule_key_deletion(
    State(state): State<AppState>,
    Path(p): Named,
    signed: Signed,
) -> Reply {
    let id = param(&p, "id", "keyId")?;
    let details: Option<ScheduleDeletionDetails> = optional_body(&signed)?;
    versioned(
        state
            .vault
            .schedule_key_deletion(
                &signed.principal,
                &id,
                scope(&p)?.as_deref(),
                details,
                false,
                signed.if_match(),
            )
            .await?,
    )
}

async fn cancel_key_deletion(
    State(state): State<AppState>,
    Path(p): Named,
    signed: Signed,
) -> Reply {
    let id = param(&p, "id", "keyId")?;
    versioned(
        state
            .vault
            .schedule_key_deletion(
                &signed.principal,
                &id,
                scope(&p)?.as_deref(),
                None,
                true,
                signed.if_match(),
            )
            .await?,
    )
}

async fn create_key_version(
    State(state): State<AppState>,
    Path(p): Named,
    signed: Signed,
) -> Reply {
    let id = param(&p, "id", "keyId")?;
    OciResponse::ok(
        &state
            .vault
            .create_key_version(&signed.principal, &id, scope(&p)?.as_deref())
            .await?,
    )
}

async fn list_key_versions(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let id = param(&p, "id", "keyId")?;
    let listing = state
        .vault
        .list_key_versions(
            &signed.principal,
            &id,
            scope(&p)?.as_deref(),
            &list_query(&signed, false)?,
        )
        .await?;
    Ok(OciResponse::ok(&listing.items)?.next_page(listing.next_page))
}

async fn get_key_version(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let id = param(&p, "id", "keyId")?;
    let version = param(&p, "version", "keyVersionId")?;
    OciResponse::ok(
        &state
            .vault
            .get_key_version(&signed.principal, &id, &version, scope(&p)?.as_deref())
            .await?,
    )
}

// ----- crypto ---------------------------------------------------------------------------

async fn encrypt(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let details = signed.json()?;
    OciResponse::ok(
        &state
            .vault
            .encrypt(&signed.principal, scope(&p)?.as_deref(), details)
            .await?,
    )
}

async fn decrypt(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let details = signed.json()?;
    OciResponse::ok(
        &state
            .vault
            .decrypt(&signed.principal, scope(&p)?.as_deref(), details)
            .await?,
    )
}

async fn generate_data_encryption_key(
    State(state): State<AppState>,
    Path(p): Named,
    signed: Signed,
) -> Reply {
    let details = signed.json()?;
    OciResponse::ok(
        &state
            .vault
            .generate_data_encryption_key(&signed.principal, scope(&p)?.as_deref(), details)
            .await?,
    )
}

async fn sign(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let details = signed.json()?;
    OciResponse::ok(
        &state
            .vault
            .sign(&signed.principal, scope(&p)?.as_deref(), details)
            .await?,
    )
}

async fn verify(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let details = signed.json()?;
    OciResponse::ok(
        &state
            .vault
            .verify(&signed.principal, scope(&p)?.as_deref(), details)
            .await?,
    )
}

// ----- secrets --------------------------------------------------------------------------

async fn create_secret(State(state): State<AppState>, signed: Signed) -> Reply {
    let details: CreateSecretDetails = signed.json()?;
    versioned(
        state
            .vault
            .create_secret(&signed.principal, details)
            .await?,
    )
}

async fn list_secrets(State(state): State<AppState>, signed: Signed) -> Reply {
    let compartment = compartment_query(&signed)?;
    let vault = signed
        .query("vaultId")
        .map(|v| parse_ocid(v, "vaultId"))
        .transpose()?;
    let listing = state
        .vault
        .list_secrets(
            &signed.principal,
            &compartment,
            vault.as_deref(),
            &list_query(&signed, true)?,
        )
        .await?;
    Ok(OciResponse::ok(&listing.items)?.next_page(listing.next_page))
}

async fn get_secret(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let id = param(&p, "id", "secretId")?;
    versioned(state.vault.get_secret(&signed.principal, &id).await?)
}

async fn update_secret(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let id = param(&p, "id", "secretId")?;
    let details: UpdateSecretDetails = signed.json()?;
    versioned(
        state
            .vault
            .update_secret(&signed.principal, &id, details, signed.if_match())
            .await?,
    )
}

async fn list_secret_versions(
    State(state): State<AppState>,
    Path(p): Named,
    signed: Signed,
) -> Reply {
    let id = param(&p, "id", "secretId")?;
    let listing = state
        .vault
        .list_secret_versions(&signed.principal, &id, &list_query(&signed, false)?)
        .await?;
    Ok(OciResponse::ok(&listing.items)?.next_page(listing.next_page))
}

async fn get_secret_version(
    State(state): State<AppState>,
    Path(p): Named,
    signed: Signed,
) -> Reply {
    let id = param(&p, "id", "secretId")?;
    let number = p
        .get("number")
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ApiError::InvalidParameter("`secretVersionNumber` is a positive integer".into())
        })?;
    OciResponse::ok(
        &state
            .vault
            .get_secret_version(&signed.principal, &id, number)
            .await?,
    )
}

async fn schedule_secret_deletion(
    State(state): State<AppState>,
    Path(p): Named,
    signed: Signed,
) -> Reply {
    let id = param(&p, "id", "secretId")?;
    let details: Option<ScheduleDeletionDetails> = optional_body(&signed)?;
    state
        .vault
        .schedule_secret_deletion(&signed.principal, &id, details, false, signed.if_match())
        .await?;
    Ok(OciResponse::empty(axum::http::StatusCode::OK))
}

async fn cancel_secret_deletion(
    State(state): State<AppState>,
    Path(p): Named,
    signed: Signed,
) -> Reply {
    let id = param(&p, "id", "secretId")?;
    state
        .vault
        .schedule_secret_deletion(&signed.principal, &id, None, true, signed.if_match())
        .await?;
    Ok(OciResponse::empty(axum::http::StatusCode::OK))
}

fn selector(signed: &Signed) -> Result<BundleSelector, ApiError> {
    Ok(BundleSelector::parse(
        signed.query("versionNumber"),
        signed.query("secretVersionName"),
        signed.query("stage"),
    )?)
}

async fn get_secret_bundle(State(state): State<AppState>, Path(p): Named, signed: Signed) -> Reply {
    let id = param(&p, "id", "secretId")?;
    OciResponse::ok(
        &state
            .vault
            .get_secret_bundle(&signed.principal, &id, &selector(&signed)?)
            .await?,
    )
}

async fn get_secret_bundle_by_name(State(state): State<AppState>, signed: Signed) -> Reply {
    let name = signed.required_query("secretName")?.to_owned();
    let vault = parse_ocid(signed.required_query("vaultId")?, "vaultId")?;
    OciResponse::ok(
        &state
            .vault
            .get_secret_bundle_by_name(&signed.principal, &vault, &name, &selector(&signed)?)
            .await?,
    )
}
