//! Vault secrets (`/20180608/secrets`) and secret bundles (`/20190301/secretbundles`).
//!
//! Each version's contents are encrypted under the secret's master key, bound by
//! associated data to the secret and version number. Stages follow OCI: a new `CURRENT`
//! version demotes the old current one to `PREVIOUS` and the old previous one to
//! `DEPRECATED`; `LATEST` is always the newest; `PENDING` waits to be promoted with
//! `currentVersionNumber`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_iam::{Ocid, Principal, Variables};
use portcullis_identity::model::LifecycleState;
use portcullis_identity::{
    IdentityError, ListQuery, Listable, Listing, Versioned, check_if_match, commit_or, decode,
    encode, etag, page, read_json, require_ocid,
};
use portcullis_kms::crypto::{self, AssociatedData};
use portcullis_kms::{Algorithm, KmsError};
use portcullis_store::Txn;
use serde::{Deserialize, Serialize};

use crate::model::{
    CreateSecretDetails, Key, ScheduleDeletionDetails, Secret, SecretBundle, SecretContentDetails,
    SecretState, SecretVersion, UpdateSecretDetails,
};
use portcullis_identity::model::now;

use crate::{Deletion, VaultResult, VaultService, require_enabled};

const SECRETS: &str = "vault/secret/";
const SECRET_NAMES: &str = "vault/secret-name/";
const SECRET_VERSIONS: &str = "vault/secret-version/";
/// The largest secret content, decoded (OCI's limit is 25 KB of base64)
pub const MAX_CONTENT_BYTES: usize = 25 * 1024;

fn secret_key(id: &str) -> String {
    format!("{SECRETS}{id}")
}

fn name_key(vault: &str, name: &str) -> String {
    format!("{SECRET_NAMES}{vault}/{name}")
}

fn secret_version_key(id: &str, number: u64) -> String {
    format!("{SECRET_VERSIONS}{id}/{number:010}")
}

const CURRENT: &str = "CURRENT";
const PENDING: &str = "PENDING";
const LATEST: &str = "LATEST";
const PREVIOUS: &str = "PREVIOUS";
const DEPRECATED: &str = "DEPRECATED";
const STAGES: [&str; 5] = [CURRENT, PENDING, LATEST, PREVIOUS, DEPRECATED];

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct StoredSecretVersion {
    #[serde(flatten)]
    version: SecretVersion,
    /// base64 of the contents encrypted under the secret's key
    ciphertext: String,
}

impl Listable for Secret {
    fn name(&self) -> &str {
        &self.secret_name
    }
    fn time_created(&self) -> &str {
        &self.time_created
    }
    fn in_state(&self, state: LifecycleState) -> bool {
        matches!(
            (state, self.lifecycle_state),
            (LifecycleState::Active, SecretState::Active)
                | (LifecycleState::Deleted, SecretState::Deleted)
        )
    }
}

impl Listable for SecretVersion {
    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
    fn time_created(&self) -> &str {
        &self.time_created
    }
    fn in_state(&self, _: LifecycleState) -> bool {
        true
    }
}

fn secret_target(secret: &Secret) -> Variables {
    Variables::new()
        .with("target.secret.id", secret.id.as_str())
        .with("target.secret.name", secret.secret_name.as_str())
        .with("target.vault.id", secret.vault_id.as_str())
        .with("target.key.id", secret.key_id.as_str())
}

fn binding(secret_id: &str, number: u64) -> AssociatedData {
    [
        ("secretId".to_owned(), secret_id.to_owned()),
        ("versionNumber".to_owned(), number.to_string()),
    ]
    .into()
}

/// The decoded contents and the requested stage of a `secretContent`
fn content(
    details: SecretContentDetails,
) -> VaultResult<(zeroize::Zeroizing<Vec<u8>>, String, Option<String>)> {
    if let Some(kind) = details.content_type.as_deref()
        && kind != "BASE64"
    {
        return Err(IdentityError::InvalidParameter(format!(
            "`secretContent.contentType` must be BASE64, not `{kind}`"
        ))
        .into());
    }
    let text = details.content.unwrap_or_default();
    let bytes = STANDARD.decode(text.as_bytes()).map_err(|_| {
        IdentityError::InvalidParameter("`secretContent.content` is not valid base64".into())
    })?;
    if bytes.is_empty() || bytes.len() > MAX_CONTENT_BYTES {
        return Err(IdentityError::InvalidParameter(format!(
            "secret content is 1 to {MAX_CONTENT_BYTES} bytes"
        ))
        .into());
    }
    let stage = match details.stage.as_deref() {
        None | Some(CURRENT) => CURRENT.to_owned(),
        Some(PENDING) => PENDING.to_owned(),
        Some(other) => {
            return Err(IdentityError::InvalidParameter(format!(
                "`secretContent.stage` must be CURRENT or PENDING, not `{other}`"
            ))
            .into());
        }
    };
    Ok((zeroize::Zeroizing::new(bytes), stage, details.name))
}

fn check_secret_name(name: Option<&str>) -> VaultResult<String> {
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| IdentityError::MissingParameter("`secretName` is required".into()))?;
    if name.chars().count() > 255
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(IdentityError::InvalidParameter(
            "`secretName` is 1 to 255 letters, digits, `-`, `_` and `.`".into(),
        )
        .into());
    }
    Ok(name.to_owned())
}

/// Which version a bundle request names
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum BundleSelector {
    /// `versionNumber`
    Number(u64),
    /// `secretVersionName`
    Name(String),
    /// `stage` (`CURRENT` when nothing is given)
    Stage(String),
}

impl BundleSelector {
    /// From the query parameters; more than one, or an unknown stage, is a 400
    pub fn parse(
        version_number: Option<&str>,
        version_name: Option<&str>,
        stage: Option<&str>,
    ) -> VaultResult<BundleSelector> {
        let given = [version_number, version_name, stage]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if given > 1 {
            return Err(IdentityError::InvalidParameter(
                "name a version with one of `versionNumber`, `secretVersionName` or `stage`".into(),
            )
            .into());
        }
        if let Some(number) = version_number {
            return number
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(BundleSelector::Number)
                .ok_or_else(|| {
                    IdentityError::InvalidParameter("`versionNumber` is a positive integer".into())
                        .into()
                });
        }
        if let Some(name) = version_name {
            return Ok(BundleSelector::Name(name.to_owned()));
        }
        let stage = stage.unwrap_or(CURRENT).to_ascii_uppercase();
        if !STAGES.contains(&stage.as_str()) {
            return Err(IdentityError::InvalidParameter(format!(
                "`stage` must be one of {}, not `{stage}`",
                STAGES.join(", ")
            ))
            .into());
        }
        Ok(BundleSelector::Stage(stage))
    }
}

impl VaultService {
    async fn load_secret(&self, id: &str) -> VaultResult<(Secret, u64)> {
        if Ocid::parse_typed(id, &["vaultsecret"]).is_err() {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        }
        Ok(read_json::<Secret>(self.store(), &secret_key(id))
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?)
    }

    async fn versions(&self, id: &str) -> VaultResult<Vec<(StoredSecretVersion, u64)>> {
        let mut out = Vec::new();
        for entry in self
            .store()
            .list_all(&format!("{SECRET_VERSIONS}{id}/"))
            .await?
        {
            out.push((decode(&entry.value)?, entry.mod_revision));
        }
        Ok(out)
    }

    /// The secret's master key, which must be an enabled AES key in the secret's vault
    async fn secret_key_record(&self, key_id: &str, vault_id: &str) -> VaultResult<Key> {
        let (key, _) = self.load_key(key_id).await?;
        if key.vault_id != vault_id {
            return Err(IdentityError::InvalidParameter(format!(
                "the key {key_id} is not in vault {vault_id}"
            ))
            .into());
        }
        if key.key_shape.algorithm != Algorithm::Aes {
            return Err(IdentityError::InvalidParameter(
                "secrets are encrypted under an AES key".into(),
            )
            .into());
        }
        require_enabled(&key)?;
        Ok(key)
    }

    async fn seal_content(
        &self,
        key: &Key,
        secret_id: &str,
        number: u64,
        plaintext: &[u8],
    ) -> VaultResult<String> {
        let version = self.load_version(key, &key.current_key_version).await?;
        let material = self.material(key, &version)?;
        let (ciphertext, _) = crypto::encrypt(
            &material,
            &version.version.id,
            plaintext,
            Some(&binding(secret_id, number)),
            None,
        )
        .map_err(|e| match e {
            KmsError::InvalidParameter(m) => IdentityError::InvalidParameter(m).into(),
            other => crate::VaultError::from(other),
        })?;
        Ok(STANDARD.encode(ciphertext))
    }

    async fn open_content(
        &self,
        secret: &Secret,
        stored: &StoredSecretVersion,
    ) -> VaultResult<zeroize::Zeroizing<Vec<u8>>> {
        let (key, _) = self.load_key(&secret.key_id).await?;
        require_enabled(&key)?;
        let ciphertext = STANDARD
            .decode(&stored.ciphertext)
            .map_err(|_| KmsError::InvalidCiphertext)?;
        let version_id = crypto::ciphertext_key_version(&ciphertext)?;
        let version = self.load_version(&key, version_id).await?;
        let material = self.material(&key, &version)?;
        let (plaintext, _) = crypto::decrypt(
            &material,
            version_id,
            &ciphertext,
            Some(&binding(&secret.id, stored.version.version_number)),
            None,
        )?;
        Ok(plaintext)
    }

    /// `CreateSecret`
    pub async fn create_secret(
        &self,
        caller: &Principal,
        details: CreateSecretDetails,
    ) -> VaultResult<Versioned<Secret>> {
        let compartment = require_ocid(details.compartment_id.as_deref(), "compartmentId")?;
        let vault_id = require_ocid(details.vault_id.as_deref(), "vaultId")?;
        let key_id = require_ocid(details.key_id.as_deref(), "keyId")?;
        let name = check_secret_name(details.secret_name.as_deref())?;
        let (bytes, stage, version_name) = content(details.secret_content.ok_or_else(|| {
            IdentityError::MissingParameter("`secretContent` is required".into())
        })?)?;
        let vault = self.active_vault(&vault_id).await?;
        let variables = Variables::new()
            .with("target.vault.id", vault.id.as_str())
            .with("target.key.id", key_id.as_str())
            .with("target.secret.name", name.as_str());
        self.identity
            .authorize(caller, "CreateSecret", &compartment, &variables)?;
        let key = self.secret_key_record(&key_id, &vault.id).await?;
        let compartment_revision = self
            .identity
            .active_compartment(&compartment)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        let id = Ocid::generate("vaultsecret", Some(self.identity.region())).into_string();
        let time = now();
        let ciphertext = self.seal_content(&key, &id, 1, &bytes).await?;
        let version = StoredSecretVersion {
            version: SecretVersion {
                content_type: "BASE64".into(),
                name: version_name,
                secret_id: id.clone(),
                stages: vec![stage.clone(), LATEST.to_owned()],
                time_created: time.clone(),
                version_number: 1,
                is_content_auto_generated: false,
            },
            ciphertext,
        };
        let secret = Secret {
            compartment_id: compartment.clone(),
            current_version_number: if stage == CURRENT { 1 } else { 0 },
            defined_tags: details.defined_tags.unwrap_or_default(),
            description: details.description,
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            id: id.clone(),
            key_id: key.id.clone(),
            lifecycle_state: SecretState::Active,
            metadata: details.metadata,
            secret_name: name.clone(),
            time_created: time,
            time_of_deletion: None,
            vault_id: vault.id.clone(),
            is_auto_generation_enabled: false,
            is_replica: false,
        };
        let txn = Txn::new()
            .require_absent(name_key(&vault.id, &name))
            .put(name_key(&vault.id, &name), id.clone().into_bytes())
            .put(secret_key(&id), encode(&secret)?)
            .put(secret_version_key(&id, 1), encode(&version)?);
        let txn = self.identity.attach_to_compartment(
            txn,
            &compartment,
            compartment_revision,
            "vaultsecret",
            &id,
        );
        let revision = commit_or(self.store(), txn, || {
            IdentityError::AlreadyExists(format!(
                "a secret named `{name}` already exists in this vault"
            ))
        })
        .await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), secret = %id, vault = %vault.id, "secret created");
        Ok(Versioned {
            value: secret,
            etag: etag(revision),
        })
    }

    /// `GetSecret`
    pub async fn get_secret(&self, caller: &Principal, id: &str) -> VaultResult<Versioned<Secret>> {
        let (secret, revision) = self.load_secret(id).await?;
        self.identity.authorize(
            caller,
            "GetSecret",
            &secret.compartment_id,
            &secret_target(&secret),
        )?;
        Ok(Versioned {
            value: secret,
            etag: etag(revision),
        })
    }

    /// `ListSecrets` in one compartment, optionally of one vault
    pub async fn list_secrets(
        &self,
        caller: &Principal,
        compartment_id: &str,
        vault_id: Option<&str>,
        query: &ListQuery,
    ) -> VaultResult<Listing<Secret>> {
        self.identity
            .authorize(caller, "ListSecrets", compartment_id, &Variables::new())?;
        let mut secrets = Vec::new();
        for entry in self.store().list_all(SECRETS).await? {
            let secret: Secret = decode(&entry.value)?;
            if secret.compartment_id == compartment_id
                && vault_id.is_none_or(|v| v == secret.vault_id)
            {
                secrets.push(secret);
            }
        }
        Ok(page(secrets, query)?)
    }

    /// `UpdateSecret`: new contents make a new version; `currentVersionNumber` promotes one
    pub async fn update_secret(
        &self,
        caller: &Principal,
        id: &str,
        details: UpdateSecretDetails,
        if_match: Option<&str>,
    ) -> VaultResult<Versioned<Secret>> {
        let (mut secret, revision) = self.load_secret(id).await?;
        self.identity.authorize(
            caller,
            "UpdateSecret",
            &secret.compartment_id,
            &secret_target(&secret),
        )?;
        check_if_match(if_match, revision)?;
        if secret.lifecycle_state != SecretState::Active {
            return Err(IdentityError::IncorrectState(format!(
                "the secret is {:?}, not ACTIVE",
                secret.lifecycle_state
            ))
            .into());
        }
        if details.secret_content.is_some() && details.current_version_number.is_some() {
            return Err(IdentityError::InvalidParameter(
                "give either new `secretContent` or a `currentVersionNumber` to promote, not both"
                    .into(),
            )
            .into());
        }
        let mut versions = self.versions(id).await?;
        let mut txn = Txn::new().require_revision(secret_key(id), revision);
        if let Some(content_details) = details.secret_content {
            let (bytes, stage, name) = content(content_details)?;
            if let Some(name) = &name
                && versions
                    .iter()
                    .any(|(v, _)| v.version.name.as_ref() == Some(name))
            {
                return Err(IdentityError::InvalidParameter(format!(
                    "a version named `{name}` already exists"
                ))
                .into());
            }
            let number = versions
                .iter()
                .map(|(v, _)| v.version.version_number)
                .max()
                .unwrap_or(0)
                .saturating_add(1);
            let key = self
                .secret_key_record(&secret.key_id, &secret.vault_id)
                .await?;
            let ciphertext = self.seal_content(&key, id, number, &bytes).await?;
            for (v, _) in &mut versions {
                v.version.stages.retain(|s| s != LATEST);
                if stage == PENDING {
                    v.version.stages.retain(|s| s != PENDING);
                }
            }
            if stage == CURRENT {
                demote_current(&mut versions);
                secret.current_version_number = number;
            }
            versions.push((
                StoredSecretVersion {
                    version: SecretVersion {
                        content_type: "BASE64".into(),
                        name,
                        secret_id: id.to_owned(),
                        stages: vec![stage, LATEST.to_owned()],
                        time_created: now(),
                        version_number: number,
                        is_content_auto_generated: false,
                    },
                    ciphertext,
                },
                0,
            ));
        } else if let Some(number) = details.current_version_number {
            if number == secret.current_version_number {
                // Already current: nothing moves.
            } else if !versions
                .iter()
                .any(|(v, _)| v.version.version_number == number)
            {
                return Err(IdentityError::InvalidParameter(format!(
                    "the secret has no version {number}"
                ))
                .into());
            } else {
                demote_current(&mut versions);
                for (v, _) in &mut versions {
                    if v.version.version_number == number {
                        v.version
                            .stages
                            .retain(|s| s != PENDING && s != PREVIOUS && s != DEPRECATED);
                        v.version.stages.insert(0, CURRENT.to_owned());
                    }
                }
                secret.current_version_number = number;
            }
        }
        for (v, _) in &mut versions {
            if v.version.stages.is_empty() {
                v.version.stages.push(DEPRECATED.to_owned());
            }
        }
        if let Some(description) = details.description {
            secret.description = Some(description);
        }
        if let Some(metadata) = details.metadata {
            secret.metadata = Some(metadata);
        }
        if let Some(tags) = details.freeform_tags {
            secret.freeform_tags = tags;
        }
        if let Some(tags) = details.defined_tags {
            secret.defined_tags = tags;
        }
        for (v, _) in &versions {
            txn = txn.put(secret_version_key(id, v.version.version_number), encode(v)?);
        }
        txn = txn.put(secret_key(id), encode(&secret)?);
        let revision = commit_or(self.store(), txn, || IdentityError::EtagMismatch).await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), secret = %id, current = secret.current_version_number, "secret updated");
        Ok(Versioned {
            value: secret,
            etag: etag(revision),
        })
    }

    /// `ScheduleSecretDeletion` / `CancelSecretDeletion`
    pub async fn schedule_secret_deletion(
        &self,
        caller: &Principal,
        id: &str,
        details: Option<ScheduleDeletionDetails>,
        cancel: bool,
        if_match: Option<&str>,
    ) -> VaultResult<()> {
        let (mut secret, revision) = self.load_secret(id).await?;
        let operation = if cancel {
            "CancelSecretDeletion"
        } else {
            "ScheduleSecretDeletion"
        };
        self.identity.authorize(
            caller,
            operation,
            &secret.compartment_id,
            &secret_target(&secret),
        )?;
        check_if_match(if_match, revision)?;
        Deletion {
            live: &[SecretState::Active],
            pending: SecretState::PendingDeletion,
            restored: SecretState::Active,
            what: "secret",
            from: "ACTIVE",
        }
        .apply(
            cancel,
            details,
            &mut secret.lifecycle_state,
            &mut secret.time_of_deletion,
        )?;
        let txn = Txn::new()
            .require_revision(secret_key(id), revision)
            .put(secret_key(id), encode(&secret)?);
        commit_or(self.store(), txn, || IdentityError::EtagMismatch).await?;
        Ok(())
    }

    /// `ListSecretVersions`
    pub async fn list_secret_versions(
        &self,
        caller: &Principal,
        id: &str,
        query: &ListQuery,
    ) -> VaultResult<Listing<SecretVersion>> {
        let (secret, _) = self.load_secret(id).await?;
        self.identity.authorize(
            caller,
            "ListSecretVersions",
            &secret.compartment_id,
            &secret_target(&secret),
        )?;
        let versions = self
            .versions(id)
            .await?
            .into_iter()
            .map(|(v, _)| v.version)
            .collect();
        Ok(page(versions, query)?)
    }

    /// `GetSecretVersion`
    pub async fn get_secret_version(
        &self,
        caller: &Principal,
        id: &str,
        number: u64,
    ) -> VaultResult<SecretVersion> {
        let (secret, _) = self.load_secret(id).await?;
        self.identity.authorize(
            caller,
            "GetSecretVersion",
            &secret.compartment_id,
            &secret_target(&secret),
        )?;
        Ok(
            read_json::<StoredSecretVersion>(self.store(), &secret_version_key(id, number))
                .await?
                .map(|(v, _)| v.version)
                .ok_or(IdentityError::NotAuthorizedOrNotFound)?,
        )
    }

    /// `GetSecretBundle`
    pub async fn get_secret_bundle(
        &self,
        caller: &Principal,
        id: &str,
        selector: &BundleSelector,
    ) -> VaultResult<SecretBundle> {
        let (secret, _) = self.load_secret(id).await?;
        self.bundle(caller, "GetSecretBundle", secret, selector)
            .await
    }

    /// `GetSecretBundleByName`
    pub async fn get_secret_bundle_by_name(
        &self,
        caller: &Principal,
        vault_id: &str,
        name: &str,
        selector: &BundleSelector,
    ) -> VaultResult<SecretBundle> {
        let Some(entry) = self.store().get(&name_key(vault_id, name)).await? else {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        };
        let id =
            String::from_utf8(entry.value).map_err(|_| IdentityError::NotAuthorizedOrNotFound)?;
        let (secret, _) = self.load_secret(&id).await?;
        self.bundle(caller, "GetSecretBundleByName", secret, selector)
            .await
    }

    async fn bundle(
        &self,
        caller: &Principal,
        operation: &str,
        secret: Secret,
        selector: &BundleSelector,
    ) -> VaultResult<SecretBundle> {
        self.identity.authorize(
            caller,
            operation,
            &secret.compartment_id,
            &secret_target(&secret),
        )?;
        if secret.lifecycle_state != SecretState::Active {
            return Err(IdentityError::IncorrectState(format!(
                "the secret is {:?}; its contents cannot be read",
                secret.lifecycle_state
            ))
            .into());
        }
        let versions = self.versions(&secret.id).await?;
        let found = versions
            .into_iter()
            .map(|(v, _)| v)
            .find(|v| match selector {
                BundleSelector::Number(n) => v.version.version_number == *n,
                BundleSelector::Name(name) => v.version.name.as_deref() == Some(name),
                BundleSelector::Stage(stage) => v.version.stages.iter().any(|s| s == stage),
            });
        let Some(stored) = found else {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        };
        let plaintext = self.open_content(&secret, &stored).await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), secret = %secret.id, version = stored.version.version_number, "secret bundle read");
        Ok(SecretBundle {
            secret_id: secret.id.clone(),
            time_created: stored.version.time_created.clone(),
            version_number: stored.version.version_number,
            version_name: stored.version.name.clone(),
            secret_bundle_content: serde_json::json!({
                "contentType": "BASE64",
                "content": STANDARD.encode(plaintext.as_slice()),
            }),
            stages: stored.version.stages.clone(),
            metadata: secret.metadata,
        })
    }
}

/// The current version becomes `PREVIOUS`; the previous one becomes `DEPRECATED`
fn demote_current(versions: &mut [(StoredSecretVersion, u64)]) {
    for (v, _) in versions.iter_mut() {
        if v.version.stages.iter().any(|s| s == PREVIOUS) {
            v.version.stages.retain(|s| s != PREVIOUS);
        }
    }
    for (v, _) in versions.iter_mut() {
        if v.version.stages.iter().any(|s| s == CURRENT) {
            v.version.stages.retain(|s| s != CURRENT);
            v.version.stages.insert(0, PREVIOUS.to_owned());
        }
    }
}
