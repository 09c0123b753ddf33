//! The vault service: OCI Vault's vaults, master encryption keys and key versions, the
//! crypto operations of the KMS API, vault secrets with their stages and bundles, and the
//! encryption of each cluster's Kubernetes Secrets at rest ([`at_rest`]).
//!
//! Key material never reaches the store in plaintext: each version's material is wrapped
//! by the root key ([`root_file`]) and bound to its version OCID. Every operation is
//! authorized through the identity service's gate with the `keys`, `vaults`, `secrets` and
//! `secret-bundles` permissions (`oci-reference.md` §3.4, §7); the pure crypto is in
//! `portcullis-kms`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_iam::{Ocid, Principal, Variables};
use portcullis_identity::model::{LifecycleState, now, timestamp};
use portcullis_identity::{
    IdentityError, IdentityService, ListQuery, Listable, Listing, Versioned, check_if_match,
    commit_or, decode, encode, etag, page, read_json, require_ocid,
};
use portcullis_kms::{KeyMaterial, KeyShape, KmsError, ProtectionMode, RootKey};
use portcullis_store::{Store, Txn};

pub mod at_rest;
pub mod crypto;
pub mod import;
pub mod model;
pub mod root_file;
pub mod secrets;

use model::{
    CreateKeyDetails, CreateVaultDetails, Key, KeyState, KeySummary, KeyVersion,
    ScheduleDeletionDetails, UpdateDetails, Vault, VaultState,
};

/// Why a vault operation failed
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// Authorization, validation, state and store failures, shared with every OCI service
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The crypto refused the request or failed
    #[error(transparent)]
    Kms(#[from] KmsError),
}

impl From<portcullis_store::StoreError> for VaultError {
    fn from(error: portcullis_store::StoreError) -> Self {
        VaultError::Identity(IdentityError::Store(error))
    }
}

/// Shorthand for vault results
pub type VaultResult<T> = Result<T, VaultError>;

const VAULTS: &str = "kms/vault/";
const KEYS: &str = "kms/key/";
const KEY_VERSIONS: &str = "kms/key-version/";
/// A value wrapped under the root key at first start: a different root key file is
/// noticed at start-up rather than as undecryptable keys later
const ROOT_CHECK: &str = "kms/root-check";
const ROOT_CHECK_VALUE: &[u8] = b"portcullis root key check";

fn vault_key(id: &str) -> String {
    format!("{VAULTS}{id}")
}

fn key_key(id: &str) -> String {
    format!("{KEYS}{id}")
}

fn version_key(key_id: &str, version_id: &str) -> String {
    format!("{KEY_VERSIONS}{key_id}/{version_id}")
}

/// A key version as stored: the public record and the wrapped material
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredKeyVersion {
    #[serde(flatten)]
    pub(crate) version: KeyVersion,
    /// base64 of the material wrapped under the root key, bound to the version OCID
    pub(crate) wrapped_material: String,
    /// base64 SubjectPublicKeyInfo DER of asymmetric keys (for Verify)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) public_key_der: Option<String>,
}

/// Where a new key version's material comes from
pub(crate) enum Source {
    /// Made here
    Generated,
    /// Brought by the caller, wrapped under the vault's wrapping key
    Wrapped(model::WrappedImportKey),
}

impl Source {
    /// The operation the caller is authorized for: making or importing
    fn operation(&self, generated: &'static str, imported: &'static str) -> &'static str {
        match self {
            Source::Generated => generated,
            Source::Wrapped(_) => imported,
        }
    }
}

/// A new version's material and its `origin` (`INTERNAL` or `EXTERNAL`)
pub(crate) struct Material {
    material: KeyMaterial,
    origin: &'static str,
}

/// Unwrapped material kept for reuse, so that a Secret write does not unwrap twice. The
/// entries zero themselves when dropped; the map is cleared when it grows past this.
const MATERIAL_CACHE_LIMIT: usize = 4096;

/// The vault service
pub struct VaultService {
    identity: Arc<IdentityService>,
    root: RootKey,
    /// `https://host:port`, the base of every vault's endpoints
    base_url: String,
    /// Version OCID → (its key's OCID, the material)
    material: Mutex<HashMap<String, (String, Arc<KeyMaterial>)>>,
}

impl std::fmt::Debug for VaultService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultService")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Listable for Vault {
    fn name(&self) -> &str {
        &self.display_name
    }
    fn time_created(&self) -> &str {
        &self.time_created
    }
    fn in_state(&self, state: LifecycleState) -> bool {
        matches!(
            (state, self.lifecycle_state),
            (LifecycleState::Active, VaultState::Active)
                | (LifecycleState::Deleted, VaultState::Deleted)
        )
    }
}

impl Listable for KeySummary {
    fn name(&self) -> &str {
        &self.display_name
    }
    fn time_created(&self) -> &str {
        &self.time_created
    }
    fn in_state(&self, state: LifecycleState) -> bool {
        matches!(
            (state, self.lifecycle_state),
            (LifecycleState::Active, KeyState::Enabled)
                | (LifecycleState::Inactive, KeyState::Disabled)
                | (LifecycleState::Deleted, KeyState::Deleted)
        )
    }
}

impl Listable for KeyVersion {
    fn name(&self) -> &str {
        &self.id
    }
    fn time_created(&self) -> &str {
        &self.time_created
    }
    fn in_state(&self, _: LifecycleState) -> bool {
        true
    }
}

/// The IAM variables of a key
/// A vault's short name inside its keys' OCIDs: the last 13 characters of its unique id
/// (OCI's look like `bbpu3ipcaaeuk`)
pub fn vault_extension(vault_id: &str) -> String {
    let unique = vault_id.rsplit('.').next().unwrap_or(vault_id);
    unique
        .get(unique.len().saturating_sub(13)..)
        .unwrap_or(unique)
        .to_owned()
}

pub(crate) fn key_target(key: &Key) -> Variables {
    Variables::new()
        .with("target.key.id", key.id.as_str())
        .with("target.vault.id", key.vault_id.as_str())
}

fn vault_target(vault: &Vault) -> Variables {
    Variables::new().with("target.vault.id", vault.id.as_str())
}

/// Scheduled deletion, the same for vaults, keys and secrets: from a live state to
/// `PENDING_DELETION` with a time 7 to 30 days ahead, and back on cancel
pub(crate) struct Deletion<S: 'static> {
    /// States deletion can be scheduled from
    pub(crate) live: &'static [S],
    /// The pending state
    pub(crate) pending: S,
    /// The state a cancel returns to
    pub(crate) restored: S,
    /// What the error message says: "the key is ...; deletion can be scheduled for an {from} key"
    pub(crate) what: &'static str,
    /// The live states, spelled for the error message
    pub(crate) from: &'static str,
}

impl<S: Copy + PartialEq + std::fmt::Debug> Deletion<S> {
    /// Applies a schedule (`cancel = false`) or a cancel to `state` and `time_of_deletion`
    pub(crate) fn apply(
        &self,
        cancel: bool,
        details: Option<ScheduleDeletionDetails>,
        state: &mut S,
        time_of_deletion: &mut Option<String>,
    ) -> VaultResult<()> {
        if !cancel && self.live.contains(state) {
            *time_of_deletion = Some(deletion_time(details)?);
            *state = self.pending;
            Ok(())
        } else if cancel && *state == self.pending {
            *time_of_deletion = None;
            *state = self.restored;
            Ok(())
        } else {
            Err(IdentityError::IncorrectState(format!(
                "the {} is {state:?}; deletion can be scheduled for an {} {} and cancelled for a PENDING_DELETION one",
                self.what, self.from, self.what
            ))
            .into())
        }
    }
}

/// Parses and checks `timeOfDeletion`: 7 to 30 days ahead, 30 by default
pub(crate) fn deletion_time(details: Option<ScheduleDeletionDetails>) -> VaultResult<String> {
    let now = jiff::Timestamp::now();
    let day = jiff::SignedDuration::from_hours(24);
    let Some(text) = details.and_then(|d| d.time_of_deletion) else {
        return Ok(timestamp(now.saturating_add(day * 30).unwrap_or(now)));
    };
    let at: jiff::Timestamp = text.parse().map_err(|_| {
        IdentityError::InvalidParameter(format!(
            "`timeOfDeletion` must be an RFC 3339 time, not `{text}`"
        ))
    })?;
    // A minute of slack either side: the client computed "now + 7 days" a moment ago.
    let slack = jiff::SignedDuration::from_secs(60);
    let earliest = now.saturating_add(day * 7 - slack).unwrap_or(now);
    let latest = now.saturating_add(day * 30 + slack).unwrap_or(now);
    if at < earliest || at > latest {
        return Err(IdentityError::InvalidParameter(
            "`timeOfDeletion` must be between 7 and 30 days from now".into(),
        )
        .into());
    }
    Ok(timestamp(at))
}

/// Whether a scheduled deletion time has passed
fn deletion_due(time_of_deletion: Option<&str>) -> bool {
    time_of_deletion
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .is_some_and(|at| at <= jiff::Timestamp::now())
}

fn display_name(value: Option<String>, what: &str) -> VaultResult<String> {
    let name = value.unwrap_or_default();
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(IdentityError::InvalidParameter(format!(
            "`displayName` is required for a {what} and is at most 255 characters"
        ))
        .into());
    }
    Ok(name)
}

impl VaultService {
    /// A vault service whose endpoints are under `base_url` (`https://host:port`)
    pub async fn new(
        identity: Arc<IdentityService>,
        root: RootKey,
        base_url: &str,
    ) -> VaultResult<VaultService> {
        let service = VaultService {
            identity,
            root,
            base_url: base_url.trim_end_matches('/').to_owned(),
            material: Mutex::new(HashMap::new()),
        };
        service.check_root_key().await?;
        Ok(service)
    }

    /// Refuses to start with a root key that does not open what the store holds
    async fn check_root_key(&self) -> VaultResult<()> {
        match self.store().get(ROOT_CHECK).await? {
            Some(entry) => {
                let opened = self.root.unwrap(ROOT_CHECK, &entry.value).map_err(|_| {
                    KmsError::InvalidParameter(
                        "the root key file does not match the one this store's keys were wrapped with; start with the original root key file".into(),
                    )
                })?;
                if opened.as_slice() != ROOT_CHECK_VALUE {
                    return Err(KmsError::Unwrap.into());
                }
                Ok(())
            }
            None => {
                let wrapped = self.root.wrap(ROOT_CHECK, ROOT_CHECK_VALUE)?;
                // Two servers starting at once on a fresh etcd both try; one wins, and
                // the loser checks again against the winner's value.
                let txn = Txn::new()
                    .require_absent(ROOT_CHECK)
                    .put(ROOT_CHECK, wrapped);
                match self.store().commit(txn).await {
                    Ok(_) => Ok(()),
                    Err(portcullis_store::StoreError::Conflict) => {
                        Box::pin(self.check_root_key()).await
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    pub(crate) fn store(&self) -> &dyn Store {
        &**self.identity.store()
    }

    /// The identity service (and authorization gate)
    pub fn identity(&self) -> &Arc<IdentityService> {
        &self.identity
    }

    fn region(&self) -> &str {
        self.identity.region()
    }

    // ----- vaults -----------------------------------------------------------------------

    async fn load_vault(&self, id: &str) -> VaultResult<(Vault, u64)> {
        if Ocid::parse_typed(id, &["vault"]).is_err() {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        }
        let (mut vault, revision) = read_json::<Vault>(self.store(), &vault_key(id))
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        if vault.lifecycle_state == VaultState::PendingDeletion
            && deletion_due(vault.time_of_deletion.as_deref())
        {
            vault.lifecycle_state = VaultState::Deleted;
        }
        Ok((vault, revision))
    }

    /// `CreateVault`: active when this returns
    pub async fn create_vault(
        &self,
        caller: &Principal,
        details: CreateVaultDetails,
    ) -> VaultResult<Versioned<Vault>> {
        let compartment = require_ocid(details.compartment_id.as_deref(), "compartmentId")?;
        let name = display_name(details.display_name, "vault")?;
        match details.vault_type.as_deref() {
            None | Some("DEFAULT") => {}
            Some("VIRTUAL_PRIVATE") => {
                return Err(KmsError::Unsupported(
                    "VIRTUAL_PRIVATE vaults need a dedicated HSM partition, which this vault service does not have; use `vaultType: DEFAULT`".into(),
                )
                .into());
            }
            Some(other) => {
                return Err(IdentityError::InvalidParameter(format!(
                    "`vaultType` must be DEFAULT or VIRTUAL_PRIVATE, not `{other}`"
                ))
                .into());
            }
        }
        self.identity
            .authorize(caller, "CreateVault", &compartment, &Variables::new())?;
        let compartment_revision = self
            .identity
            .active_compartment(&compartment)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        let id = Ocid::generate("vault", Some(self.region())).into_string();
        let vault = Vault {
            compartment_id: compartment.clone(),
            crypto_endpoint: format!("{}/kms/{id}/crypto", self.base_url),
            management_endpoint: format!("{}/kms/{id}/management", self.base_url),
            defined_tags: details.defined_tags.unwrap_or_default(),
            display_name: name,
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            id: id.clone(),
            lifecycle_state: VaultState::Active,
            time_created: now(),
            time_of_deletion: None,
            vault_type: "DEFAULT".into(),
            is_primary: true,
            is_vault_replicable: false,
        };
        let txn = Txn::new()
            .require_absent(vault_key(&id))
            .put(vault_key(&id), encode(&vault)?);
        let txn = self.identity.attach_to_compartment(
            txn,
            &compartment,
            compartment_revision,
            "vault",
            &id,
        );
        let revision = commit_or(self.store(), txn, || IdentityError::Conflict).await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), vault = %id, "vault created");
        Ok(Versioned {
            value: vault,
            etag: etag(revision),
        })
    }

    /// `GetVault`
    pub async fn get_vault(&self, caller: &Principal, id: &str) -> VaultResult<Versioned<Vault>> {
        let (vault, revision) = self.load_vault(id).await?;
        self.identity.authorize(
            caller,
            "GetVault",
            &vault.compartment_id,
            &vault_target(&vault),
        )?;
        Ok(Versioned {
            value: vault,
            etag: etag(revision),
        })
    }

    /// `ListVaults` in one compartment
    pub async fn list_vaults(
        &self,
        caller: &Principal,
        compartment_id: &str,
        query: &ListQuery,
    ) -> VaultResult<Listing<Vault>> {
        self.identity
            .authorize(caller, "ListVaults", compartment_id, &Variables::new())?;
        let mut vaults = Vec::new();
        for entry in self.store().list_all(VAULTS).await? {
            let vault: Vault = decode(&entry.value)?;
            if vault.compartment_id == compartment_id {
                vaults.push(vault);
            }
        }
        Ok(page(vaults, query)?)
    }

    /// `UpdateVault`: name and tags
    pub async fn update_vault(
        &self,
        caller: &Principal,
        id: &str,
        details: UpdateDetails,
        if_match: Option<&str>,
    ) -> VaultResult<Versioned<Vault>> {
        let (mut vault, revision) = self.load_vault(id).await?;
        self.identity.authorize(
            caller,
            "UpdateVault",
            &vault.compartment_id,
            &vault_target(&vault),
        )?;
        check_if_match(if_match, revision)?;
        if vault.lifecycle_state != VaultState::Active {
            return Err(IdentityError::IncorrectState("the vault is not active".into()).into());
        }
        if let Some(name) = details.display_name {
            vault.display_name = display_name(Some(name), "vault")?;
        }
        if let Some(tags) = details.freeform_tags {
            vault.freeform_tags = tags;
        }
        if let Some(tags) = details.defined_tags {
            vault.defined_tags = tags;
        }
        let txn = Txn::new()
            .require_revision(vault_key(id), revision)
            .put(vault_key(id), encode(&vault)?);
        let revision = commit_or(self.store(), txn, || IdentityError::EtagMismatch).await?;
        Ok(Versioned {
            value: vault,
            etag: etag(revision),
        })
    }

    /// `ScheduleVaultDeletion` (`cancel = false`) and `CancelVaultDeletion` (`true`)
    pub async fn schedule_vault_deletion(
        &self,
        caller: &Principal,
        id: &str,
        details: Option<ScheduleDeletionDetails>,
        cancel: bool,
        if_match: Option<&str>,
    ) -> VaultResult<Versioned<Vault>> {
        let (mut vault, revision) = self.load_vault(id).await?;
        let operation = if cancel {
            "CancelVaultDeletion"
        } else {
            "ScheduleVaultDeletion"
        };
        self.identity.authorize(
            caller,
            operation,
            &vault.compartment_id,
            &vault_target(&vault),
        )?;
        check_if_match(if_match, revision)?;
        Deletion {
            live: &[VaultState::Active],
            pending: VaultState::PendingDeletion,
            restored: VaultState::Active,
            what: "vault",
            from: "ACTIVE",
        }
        .apply(
            cancel,
            details,
            &mut vault.lifecycle_state,
            &mut vault.time_of_deletion,
        )?;
        let txn = Txn::new()
            .require_revision(vault_key(id), revision)
            .put(vault_key(id), encode(&vault)?);
        let revision = commit_or(self.store(), txn, || IdentityError::EtagMismatch).await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), vault = %id, cancel, "vault deletion scheduled or cancelled");
        Ok(Versioned {
            value: vault,
            etag: etag(revision),
        })
    }

    /// The vault named by an endpoint path, which must be active for key creation
    async fn active_vault(&self, id: &str) -> VaultResult<Vault> {
        let (vault, _) = self.load_vault(id).await?;
        if vault.lifecycle_state != VaultState::Active {
            return Err(IdentityError::IncorrectState(format!(
                "the vault is {:?}, not ACTIVE",
                vault.lifecycle_state
            ))
            .into());
        }
        Ok(vault)
    }

    // ----- keys -------------------------------------------------------------------------

    /// A key with its effective state (a deletion that came due reads as `DELETED`)
    pub(crate) async fn load_key(&self, id: &str) -> VaultResult<(Key, u64)> {
        if Ocid::parse_typed(id, &["key"]).is_err() {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        }
        let (mut key, revision) = read_json::<Key>(self.store(), &key_key(id))
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        if key.lifecycle_state == KeyState::PendingDeletion
            && deletion_due(key.time_of_deletion.as_deref())
        {
            key.lifecycle_state = KeyState::Deleted;
        }
        Ok((key, revision))
    }

    /// A key whose vault, if the request came through a vault endpoint, is that vault
    async fn load_key_in(&self, id: &str, vault: Option<&str>) -> VaultResult<(Key, u64)> {
        let (key, revision) = self.load_key(id).await?;
        if vault.is_some_and(|v| v != key.vault_id) {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        }
        Ok((key, revision))
    }

    /// `CreateKey` in the vault whose management endpoint received it
    pub async fn create_key(
        &self,
        caller: &Principal,
        vault_id: &str,
        details: CreateKeyDetails,
    ) -> VaultResult<Versioned<Key>> {
        self.create_key_from(caller, vault_id, details, Source::Generated)
            .await
    }

    /// `CreateKey` and `ImportKey`: the same checks and records, with material made here or
    /// unwrapped from the caller's
    pub(crate) async fn create_key_from(
        &self,
        caller: &Principal,
        vault_id: &str,
        details: CreateKeyDetails,
        source: Source,
    ) -> VaultResult<Versioned<Key>> {
        let compartment = require_ocid(details.compartment_id.as_deref(), "compartmentId")?;
        let name = display_name(details.display_name, "key")?;
        let shape = details
            .key_shape
            .ok_or_else(|| IdentityError::MissingParameter("`keyShape` is required".into()))?
            .validate()?;
        // OCI defaults to HSM; with no HSM here, an unspecified mode means SOFTWARE and an
        // explicit HSM is refused, so `oci kms management key create` works unchanged.
        let protection_mode = details.protection_mode.unwrap_or(ProtectionMode::Software);
        protection_mode.require_supported()?;
        if details.is_auto_rotation_enabled == Some(true) {
            return Err(KmsError::Unsupported(
                "automatic key rotation needs a virtual private vault; rotate with CreateKeyVersion".into(),
            )
            .into());
        }
        let vault = self.active_vault(vault_id).await?;
        self.identity.authorize(
            caller,
            source.operation("CreateKey", "ImportKey"),
            &compartment,
            &Variables::new().with("target.vault.id", vault.id.as_str()),
        )?;
        let compartment_revision = self
            .identity
            .active_compartment(&compartment)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        let id = Ocid::generate_scoped("key", Some(self.region()), &vault_extension(&vault.id))
            .into_string();
        let material = self.material_from(&vault.id, shape, source).await?;
        let (version, material) = self.new_version(&id, &compartment, &vault.id, material)?;
        let key = Key {
            compartment_id: compartment.clone(),
            current_key_version: version.version.id.clone(),
            defined_tags: details.defined_tags.unwrap_or_default(),
            display_name: name,
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            id: id.clone(),
            key_shape: shape,
            protection_mode,
            lifecycle_state: KeyState::Enabled,
            time_created: version.version.time_created.clone(),
            time_of_deletion: None,
            vault_id: vault.id.clone(),
            is_primary: true,
            is_auto_rotation_enabled: false,
        };
        let txn = Txn::new()
            .require_absent(key_key(&id))
            .put(key_key(&id), encode(&key)?)
            .put(version_key(&id, &version.version.id), encode(&version)?);
        let txn = self.identity.attach_to_compartment(
            txn,
            &compartment,
            compartment_revision,
            "key",
            &id,
        );
        let revision = commit_or(self.store(), txn, || IdentityError::Conflict).await?;
        self.remember(&id, &version.version.id, material);
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), key = %id, vault = %vault.id, algorithm = ?shape.algorithm, origin = %version.version.origin, "key created");
        Ok(Versioned {
            value: key,
            etag: etag(revision),
        })
    }

    /// Makes a new version's material: generated (RSA generation runs off the runtime) or
    /// unwrapped from an import
    async fn material_from(
        &self,
        vault_id: &str,
        shape: KeyShape,
        source: Source,
    ) -> VaultResult<Material> {
        match source {
            Source::Generated => {
                let material = tokio::task::spawn_blocking(move || KeyMaterial::generate(shape))
                    .await
                    .map_err(|_| KmsError::Crypto("key generation was interrupted"))??;
                Ok(Material {
                    material,
                    origin: "INTERNAL",
                })
            }
            Source::Wrapped(wrapped) => Ok(Material {
                material: self.open_import(vault_id, shape, wrapped).await?,
                origin: "EXTERNAL",
            }),
        }
    }

    /// Wraps a new version's material under the root key
    fn new_version(
        &self,
        key_id: &str,
        compartment: &str,
        vault_id: &str,
        Material { material, origin }: Material,
    ) -> VaultResult<(StoredKeyVersion, Arc<KeyMaterial>)> {
        let id = Ocid::generate("keyversion", Some(self.region())).into_string();
        let wrapped = self.root.wrap(&id, material.secret_bytes())?;
        let public_der = material.public_key_der()?;
        let version = StoredKeyVersion {
            version: KeyVersion {
                compartment_id: compartment.to_owned(),
                id,
                key_id: key_id.to_owned(),
                public_key: material.public_key_pem()?,
                lifecycle_state: KeyState::Enabled,
                origin: origin.into(),
                time_created: now(),
                time_of_deletion: None,
                vault_id: vault_id.to_owned(),
                is_primary: true,
                is_auto_rotated: false,
            },
            wrapped_material: STANDARD.encode(wrapped),
            public_key_der: public_der.map(|d| STANDARD.encode(d)),
        };
        Ok((version, Arc::new(material)))
    }

    /// The unwrapped material of `version_id`, if it is cached and belongs to `key_id`
    pub(crate) fn cached(&self, key_id: &str, version_id: &str) -> Option<Arc<KeyMaterial>> {
        self.material.lock().ok().and_then(|cache| {
            cache
                .get(version_id)
                .filter(|(owner, _)| owner == key_id)
                .map(|(_, material)| material.clone())
        })
    }

    pub(crate) fn remember(&self, key_id: &str, version_id: &str, material: Arc<KeyMaterial>) {
        if let Ok(mut cache) = self.material.lock() {
            if cache.len() >= MATERIAL_CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(version_id.to_owned(), (key_id.to_owned(), material));
        }
    }

    /// `GetKey`
    pub async fn get_key(
        &self,
        caller: &Principal,
        id: &str,
        vault: Option<&str>,
    ) -> VaultResult<Versioned<Key>> {
        let (key, revision) = self.load_key_in(id, vault).await?;
        self.identity
            .authorize(caller, "GetKey", &key.compartment_id, &key_target(&key))?;
        Ok(Versioned {
            value: key,
            etag: etag(revision),
        })
    }

    /// `ListKeys` in one compartment (of one vault, through its endpoint)
    pub async fn list_keys(
        &self,
        caller: &Principal,
        compartment_id: &str,
        vault: Option<&str>,
        query: &ListQuery,
    ) -> VaultResult<Listing<KeySummary>> {
        self.identity
            .authorize(caller, "ListKeys", compartment_id, &Variables::new())?;
        let mut keys = Vec::new();
        for entry in self.store().list_all(KEYS).await? {
            let key: Key = decode(&entry.value)?;
            if key.compartment_id == compartment_id && vault.is_none_or(|v| v == key.vault_id) {
                keys.push(KeySummary::from(&key));
            }
        }
        Ok(page(keys, query)?)
    }

    /// `UpdateKey`: name and tags
    pub async fn update_key(
        &self,
        caller: &Principal,
        id: &str,
        vault: Option<&str>,
        details: UpdateDetails,
        if_match: Option<&str>,
    ) -> VaultResult<Versioned<Key>> {
        let (mut key, revision) = self.load_key_in(id, vault).await?;
        self.identity
            .authorize(caller, "UpdateKey", &key.compartment_id, &key_target(&key))?;
        check_if_match(if_match, revision)?;
        if !matches!(key.lifecycle_state, KeyState::Enabled | KeyState::Disabled) {
            return Err(IdentityError::IncorrectState(format!(
                "the key is {:?}; only ENABLED or DISABLED keys can be updated",
                key.lifecycle_state
            ))
            .into());
        }
        if details.is_auto_rotation_enabled == Some(true) {
            return Err(KmsError::Unsupported(
                "automatic key rotation needs a virtual private vault; rotate with CreateKeyVersion".into(),
            )
            .into());
        }
        if let Some(name) = details.display_name {
            key.display_name = display_name(Some(name), "key")?;
        }
        if let Some(tags) = details.freeform_tags {
            key.freeform_tags = tags;
        }
        if let Some(tags) = details.defined_tags {
            key.defined_tags = tags;
        }
        self.write_key(key, revision).await
    }

    async fn write_key(&self, key: Key, revision: u64) -> VaultResult<Versioned<Key>> {
        let txn = Txn::new()
            .require_revision(key_key(&key.id), revision)
            .put(key_key(&key.id), encode(&key)?);
        let revision = commit_or(self.store(), txn, || IdentityError::EtagMismatch).await?;
        Ok(Versioned {
            value: key,
            etag: etag(revision),
        })
    }

    /// `EnableKey` / `DisableKey`. Disabling stops every use of the key at once, including
    /// reads of the Secrets of clusters that use it as their master key.
    pub async fn set_key_enabled(
        &self,
        caller: &Principal,
        id: &str,
        vault: Option<&str>,
        enabled: bool,
        if_match: Option<&str>,
    ) -> VaultResult<Versioned<Key>> {
        let (mut key, revision) = self.load_key_in(id, vault).await?;
        let operation = if enabled { "EnableKey" } else { "DisableKey" };
        self.identity
            .authorize(caller, operation, &key.compartment_id, &key_target(&key))?;
        check_if_match(if_match, revision)?;
        match (enabled, key.lifecycle_state) {
            (true, KeyState::Disabled | KeyState::Enabled) => {
                key.lifecycle_state = KeyState::Enabled
            }
            (false, KeyState::Enabled | KeyState::Disabled) => {
                key.lifecycle_state = KeyState::Disabled;
            }
            (_, state) => {
                return Err(IdentityError::IncorrectState(format!(
                    "the key is {state:?}; only ENABLED and DISABLED keys can be enabled or disabled"
                ))
                .into());
            }
        }
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), key = %id, enabled, "key enabled or disabled");
        self.write_key(key, revision).await
    }

    /// `ScheduleKeyDeletion` (`cancel = false`) and `CancelKeyDeletion` (`true`)
    pub async fn schedule_key_deletion(
        &self,
        caller: &Principal,
        id: &str,
        vault: Option<&str>,
        details: Option<ScheduleDeletionDetails>,
        cancel: bool,
        if_match: Option<&str>,
    ) -> VaultResult<Versioned<Key>> {
        let (mut key, revision) = self.load_key_in(id, vault).await?;
        let operation = if cancel {
            "CancelKeyDeletion"
        } else {
            "ScheduleKeyDeletion"
        };
        self.identity
            .authorize(caller, operation, &key.compartment_id, &key_target(&key))?;
        check_if_match(if_match, revision)?;
        Deletion {
            live: &[KeyState::Enabled, KeyState::Disabled],
            pending: KeyState::PendingDeletion,
            restored: KeyState::Enabled,
            what: "key",
            from: "ENABLED or DISABLED",
        }
        .apply(
            cancel,
            details,
            &mut key.lifecycle_state,
            &mut key.time_of_deletion,
        )?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), key = %id, cancel, "key deletion scheduled or cancelled");
        self.write_key(key, revision).await
    }

    /// `CreateKeyVersion`: rotation. The new version encrypts and signs from now on; the old
    /// ones still decrypt and verify.
    pub async fn create_key_version(
        &self,
        caller: &Principal,
        id: &str,
        vault: Option<&str>,
    ) -> VaultResult<KeyVersion> {
        self.create_key_version_from(caller, id, vault, Source::Generated)
            .await
    }

    /// `CreateKeyVersion` and `ImportKeyVersion`
    pub(crate) async fn create_key_version_from(
        &self,
        caller: &Principal,
        id: &str,
        vault: Option<&str>,
        source: Source,
    ) -> VaultResult<KeyVersion> {
        let (mut key, revision) = self.load_key_in(id, vault).await?;
        self.identity.authorize(
            caller,
            source.operation("CreateKeyVersion", "ImportKeyVersion"),
            &key.compartment_id,
            &key_target(&key),
        )?;
        require_enabled(&key)?;
        let material = self
            .material_from(&key.vault_id, key.key_shape, source)
            .await?;
        let (version, material) =
            self.new_version(&key.id, &key.compartment_id, &key.vault_id, material)?;
        key.current_key_version = version.version.id.clone();
        let txn = Txn::new()
            .require_revision(key_key(&key.id), revision)
            .put(key_key(&key.id), encode(&key)?)
            .put(version_key(&key.id, &version.version.id), encode(&version)?);
        commit_or(self.store(), txn, || IdentityError::Conflict).await?;
        self.remember(&key.id, &version.version.id, material);
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), key = %id, version = %version.version.id, "key rotated");
        Ok(version.version)
    }

    /// `ListKeyVersions`
    pub async fn list_key_versions(
        &self,
        caller: &Principal,
        id: &str,
        vault: Option<&str>,
        query: &ListQuery,
    ) -> VaultResult<Listing<KeyVersion>> {
        let (key, _) = self.load_key_in(id, vault).await?;
        self.identity.authorize(
            caller,
            "ListKeyVersions",
            &key.compartment_id,
            &key_target(&key),
        )?;
        let versions = self.stored_versions(id).await?;
        Ok(page(
            versions.into_iter().map(|v| v.version).collect(),
            query,
        )?)
    }

    /// Every version of a key, as stored
    pub(crate) async fn stored_versions(&self, key_id: &str) -> VaultResult<Vec<StoredKeyVersion>> {
        let mut versions = Vec::new();
        for entry in self.store().list_all(&version_key(key_id, "")).await? {
            versions.push(decode(&entry.value)?);
        }
        Ok(versions)
    }

    /// `GetKeyVersion`
    pub async fn get_key_version(
        &self,
        caller: &Principal,
        id: &str,
        version_id: &str,
        vault: Option<&str>,
    ) -> VaultResult<KeyVersion> {
        let (key, _) = self.load_key_in(id, vault).await?;
        self.identity.authorize(
            caller,
            "GetKeyVersion",
            &key.compartment_id,
            &key_target(&key),
        )?;
        Ok(self.load_version(&key, version_id).await?.version)
    }

    pub(crate) async fn load_version(
        &self,
        key: &Key,
        version_id: &str,
    ) -> VaultResult<StoredKeyVersion> {
        if Ocid::parse_typed(version_id, &["keyversion"]).is_err() {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        }
        Ok(
            read_json::<StoredKeyVersion>(self.store(), &version_key(&key.id, version_id))
                .await?
                .map(|(v, _)| v)
                .ok_or(IdentityError::NotAuthorizedOrNotFound)?,
        )
    }

    /// The unwrapped material of a version (from the cache, or unwrapped now)
    pub(crate) fn material(
        &self,
        key: &Key,
        version: &StoredKeyVersion,
    ) -> VaultResult<Arc<KeyMaterial>> {
        if let Some(found) = self.cached(&key.id, &version.version.id) {
            return Ok(found);
        }
        let wrapped = STANDARD
            .decode(&version.wrapped_material)
            .map_err(|_| KmsError::Unwrap)?;
        let bytes = self.root.unwrap(&version.version.id, &wrapped)?;
        let material = Arc::new(KeyMaterial::from_secret_bytes(key.key_shape, bytes)?);
        self.remember(&key.id, &version.version.id, material.clone());
        Ok(material)
    }
}

/// Crypto operations need an enabled key; the error says what state it is in instead
pub(crate) fn require_enabled(key: &Key) -> VaultResult<()> {
    match key.lifecycle_state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(IdentityError::IncorrectState(format!(
            "the key {} is DISABLED; enable it to use it",
            key.id
        ))
        .into()),
        KeyState::PendingDeletion => Err(IdentityError::IncorrectState(format!(
            "the key {} is scheduled for deletion (PENDING_DELETION); cancel the deletion to use it again",
            key.id
        ))
        .into()),
        KeyState::Deleted => Err(IdentityError::IncorrectState(format!(
            "the key {} is DELETED; data encrypted under it cannot be recovered",
            key.id
        ))
        .into()),
        other => Err(IdentityError::IncorrectState(format!(
            "the key {} is {other:?}, not ENABLED",
            key.id
        ))
        .into()),
    }
}
