//! The vault's records with OCI's JSON field names (`oci-reference.md` §7; the OCI SDK's
//! `Vault`, `Key`, `KeyVersion`, `Secret`, `SecretVersion` and `SecretBundle` models).

use std::collections::BTreeMap;

use portcullis_kms::import::WrappingAlgorithm;
use portcullis_kms::{KeyShape, ProtectionMode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Free-form tags
pub type FreeformTags = BTreeMap<String, String>;
/// Defined tags: namespace → key → value
pub type DefinedTags = BTreeMap<String, BTreeMap<String, Value>>;

/// A vault's lifecycle
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[expect(missing_docs, reason = "OCI's states, named as OCI names them")]
pub enum VaultState {
    Creating,
    Active,
    Deleting,
    Deleted,
    PendingDeletion,
    SchedulingDeletion,
    CancellingDeletion,
    Updating,
}

/// `Vault`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Vault {
    /// Compartment
    pub compartment_id: String,
    /// Where Encrypt, Decrypt, Sign and Verify for this vault's keys go
    pub crypto_endpoint: String,
    /// Where this vault's keys are created and managed
    pub management_endpoint: String,
    /// Defined tags
    pub defined_tags: DefinedTags,
    /// Display name
    pub display_name: String,
    /// Free-form tags
    pub freeform_tags: FreeformTags,
    /// OCID
    pub id: String,
    /// State
    pub lifecycle_state: VaultState,
    /// RFC 3339
    pub time_created: String,
    /// When a scheduled deletion happens
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_of_deletion: Option<String>,
    /// `DEFAULT` (the only type served here)
    pub vault_type: String,
    /// Always true: no replicas
    pub is_primary: bool,
    /// Always false: no replicas
    pub is_vault_replicable: bool,
}

/// `CreateVaultDetails`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateVaultDetails {
    /// Compartment
    pub compartment_id: Option<String>,
    /// Display name
    pub display_name: Option<String>,
    /// `DEFAULT` or `VIRTUAL_PRIVATE`
    pub vault_type: Option<String>,
    /// Free-form tags
    pub freeform_tags: Option<FreeformTags>,
    /// Defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// `UpdateVaultDetails` and `UpdateKeyDetails` (the fields both have)
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDetails {
    /// Display name
    pub display_name: Option<String>,
    /// Free-form tags
    pub freeform_tags: Option<FreeformTags>,
    /// Defined tags
    pub defined_tags: Option<DefinedTags>,
    /// Accepted and ignored unless true (automatic rotation needs a private vault)
    pub is_auto_rotation_enabled: Option<bool>,
}

/// `ScheduleKeyDeletionDetails` / `ScheduleVaultDeletionDetails` / `ScheduleSecretDeletionDetails`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleDeletionDetails {
    /// RFC 3339, 7 to 30 days ahead (default 30)
    pub time_of_deletion: Option<String>,
}

/// A key's (and key version's) lifecycle
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[expect(missing_docs, reason = "OCI's states, named as OCI names them")]
pub enum KeyState {
    Creating,
    Enabling,
    Enabled,
    Disabling,
    Disabled,
    Deleting,
    Deleted,
    PendingDeletion,
    SchedulingDeletion,
    CancellingDeletion,
    Updating,
}

/// `Key`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Key {
    /// Compartment
    pub compartment_id: String,
    /// The version that encrypts and signs
    pub current_key_version: String,
    /// Defined tags
    pub defined_tags: DefinedTags,
    /// Display name
    pub display_name: String,
    /// Free-form tags
    pub freeform_tags: FreeformTags,
    /// OCID
    pub id: String,
    /// Algorithm and length
    pub key_shape: KeyShape,
    /// `SOFTWARE` here
    pub protection_mode: ProtectionMode,
    /// State
    pub lifecycle_state: KeyState,
    /// RFC 3339
    pub time_created: String,
    /// When a scheduled deletion happens
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_of_deletion: Option<String>,
    /// The vault
    pub vault_id: String,
    /// Always true: no replicas
    pub is_primary: bool,
    /// Automatic rotation needs a virtual private vault; always false here
    pub is_auto_rotation_enabled: bool,
}

/// `KeySummary`
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeySummary {
    /// Compartment
    pub compartment_id: String,
    /// Defined tags
    pub defined_tags: DefinedTags,
    /// Display name
    pub display_name: String,
    /// Free-form tags
    pub freeform_tags: FreeformTags,
    /// OCID
    pub id: String,
    /// State
    pub lifecycle_state: KeyState,
    /// RFC 3339
    pub time_created: String,
    /// The vault
    pub vault_id: String,
    /// Protection mode
    pub protection_mode: ProtectionMode,
    /// AES, RSA or ECDSA
    pub algorithm: portcullis_kms::Algorithm,
    /// Always false here
    pub is_auto_rotation_enabled: bool,
}

impl From<&Key> for KeySummary {
    fn from(key: &Key) -> Self {
        KeySummary {
            compartment_id: key.compartment_id.clone(),
            defined_tags: key.defined_tags.clone(),
            display_name: key.display_name.clone(),
            freeform_tags: key.freeform_tags.clone(),
            id: key.id.clone(),
            lifecycle_state: key.lifecycle_state,
            time_created: key.time_created.clone(),
            vault_id: key.vault_id.clone(),
            protection_mode: key.protection_mode,
            algorithm: key.key_shape.algorithm,
            is_auto_rotation_enabled: false,
        }
    }
}

/// `CreateKeyDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyDetails {
    /// Compartment
    pub compartment_id: Option<String>,
    /// Display name
    pub display_name: Option<String>,
    /// Algorithm and length
    pub key_shape: Option<KeyShape>,
    /// `SOFTWARE` (the default `HSM` is refused with a clear error)
    pub protection_mode: Option<ProtectionMode>,
    /// Free-form tags
    pub freeform_tags: Option<FreeformTags>,
    /// Defined tags
    pub defined_tags: Option<DefinedTags>,
    /// Refused when true: automatic rotation needs a virtual private vault
    pub is_auto_rotation_enabled: Option<bool>,
}

/// `WrappedImportKey`: key material wrapped under the vault's wrapping key
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WrappedImportKey {
    /// base64 of the wrapped material
    pub key_material: Option<String>,
    /// How it was wrapped
    pub wrapping_algorithm: Option<WrappingAlgorithm>,
}

/// `ImportKeyDetails`: `CreateKeyDetails` with the material brought along
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportKeyDetails {
    /// Compartment
    pub compartment_id: Option<String>,
    /// Display name
    pub display_name: Option<String>,
    /// Algorithm and length; the material must match it
    pub key_shape: Option<KeyShape>,
    /// `SOFTWARE` (the default `HSM` is refused with a clear error)
    pub protection_mode: Option<ProtectionMode>,
    /// The material
    pub wrapped_import_key: Option<WrappedImportKey>,
    /// Refused when true, as for `CreateKey`
    pub is_auto_rotation_enabled: Option<bool>,
    /// Free-form tags
    pub freeform_tags: Option<FreeformTags>,
    /// Defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// `ImportKeyVersionDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportKeyVersionDetails {
    /// The material of the new version
    pub wrapped_import_key: Option<WrappedImportKey>,
}

/// `WrappingKey`: the public half of a vault's RSA-4096 import key
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WrappingKey {
    /// The vault's compartment
    pub compartment_id: String,
    /// OCID
    pub id: String,
    /// Always `ENABLED`
    pub lifecycle_state: KeyState,
    /// PEM SubjectPublicKeyInfo
    pub public_key: String,
    /// RFC 3339
    pub time_created: String,
    /// The vault
    pub vault_id: String,
}

/// `KeyVersion`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyVersion {
    /// Compartment (of the key)
    pub compartment_id: String,
    /// OCID
    pub id: String,
    /// The key
    pub key_id: String,
    /// PEM SubjectPublicKeyInfo, for RSA and ECDSA keys
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// State
    pub lifecycle_state: KeyState,
    /// `INTERNAL`: made here; `EXTERNAL`: imported
    pub origin: String,
    /// RFC 3339
    pub time_created: String,
    /// When a scheduled deletion happens
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_of_deletion: Option<String>,
    /// The vault
    pub vault_id: String,
    /// Always true
    pub is_primary: bool,
    /// Always false
    pub is_auto_rotated: bool,
}

/// `SecretContentDetails` (`contentType: BASE64` is the only type OCI has)
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretContentDetails {
    /// `BASE64`
    pub content_type: Option<String>,
    /// The content, base64
    pub content: Option<String>,
    /// An optional version name, unique within the secret
    pub name: Option<String>,
    /// `CURRENT` (default) or `PENDING`
    pub stage: Option<String>,
}

/// `CreateSecretDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSecretDetails {
    /// Compartment
    pub compartment_id: Option<String>,
    /// The vault
    pub vault_id: Option<String>,
    /// The master key that encrypts the contents (an AES key in the vault)
    pub key_id: Option<String>,
    /// Unique within the vault
    pub secret_name: Option<String>,
    /// Description
    pub description: Option<String>,
    /// The first version
    pub secret_content: Option<SecretContentDetails>,
    /// Free-form metadata
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// Free-form tags
    pub freeform_tags: Option<FreeformTags>,
    /// Defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// `UpdateSecretDetails`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSecretDetails {
    /// Promote this version to `CURRENT`
    pub current_version_number: Option<u64>,
    /// Description
    pub description: Option<String>,
    /// New contents: a new version
    pub secret_content: Option<SecretContentDetails>,
    /// Free-form metadata
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// Free-form tags
    pub freeform_tags: Option<FreeformTags>,
    /// Defined tags
    pub defined_tags: Option<DefinedTags>,
}

/// A secret's lifecycle
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[expect(missing_docs, reason = "OCI's states, named as OCI names them")]
pub enum SecretState {
    Creating,
    Active,
    Updating,
    Deleting,
    Deleted,
    SchedulingDeletion,
    PendingDeletion,
    CancellingDeletion,
    Failed,
}

/// `Secret`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// Compartment
    pub compartment_id: String,
    /// The version in stage `CURRENT`
    pub current_version_number: u64,
    /// Defined tags
    pub defined_tags: DefinedTags,
    /// Description
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free-form tags
    pub freeform_tags: FreeformTags,
    /// OCID
    pub id: String,
    /// The master key
    pub key_id: String,
    /// State
    pub lifecycle_state: SecretState,
    /// Free-form metadata
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// Name, unique in the vault
    pub secret_name: String,
    /// RFC 3339
    pub time_created: String,
    /// When a scheduled deletion happens
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_of_deletion: Option<String>,
    /// The vault
    pub vault_id: String,
    /// Always false
    pub is_auto_generation_enabled: bool,
    /// Always false
    pub is_replica: bool,
}

/// `SecretVersion` / `SecretVersionSummary`
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretVersion {
    /// `BASE64`
    pub content_type: String,
    /// Optional version name
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The secret
    pub secret_id: String,
    /// `CURRENT`, `PENDING`, `LATEST`, `PREVIOUS`, `DEPRECATED`
    pub stages: Vec<String>,
    /// RFC 3339
    pub time_created: String,
    /// 1, 2, ...
    pub version_number: u64,
    /// Always false
    pub is_content_auto_generated: bool,
}

/// `SecretBundle`
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretBundle {
    /// The secret
    pub secret_id: String,
    /// RFC 3339
    pub time_created: String,
    /// The version
    pub version_number: u64,
    /// The version's name
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_name: Option<String>,
    /// `{contentType: BASE64, content}`
    pub secret_bundle_content: Value,
    /// The version's stages
    pub stages: Vec<String>,
    /// The secret's metadata
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, Value>>,
}
