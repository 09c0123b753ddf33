//! Bring your own key: each vault's RSA-4096 wrapping key (`GetWrappingKey`), and
//! `ImportKey` / `ImportKeyVersion`, whose material arrives wrapped under it. The wrapping
//! key is made the first time a vault needs it and kept wrapped under the root key like
//! any key version; it cannot be rotated or deleted, as in OCI.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_iam::{Ocid, Principal};
use portcullis_identity::model::now;
use portcullis_identity::{IdentityError, Versioned, encode, read_json};
use portcullis_kms::import::{WRAPPING_KEY_SHAPE, unwrap_import};
use portcullis_kms::{KeyMaterial, KeyShape, KmsError};
use portcullis_store::{StoreError, Txn};

use crate::model::{
    CreateKeyDetails, ImportKeyDetails, ImportKeyVersionDetails, Key, KeyState, KeyVersion, Vault,
    WrappedImportKey, WrappingKey,
};
use crate::{Source, VaultResult, VaultService, vault_extension, vault_target};

const WRAPPING_KEYS: &str = "kms/wrapping-key/";

fn wrapping_key_key(vault_id: &str) -> String {
    format!("{WRAPPING_KEYS}{vault_id}")
}

/// A wrapping key as stored: the public record and the private half under the root key
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct StoredWrappingKey {
    #[serde(flatten)]
    key: WrappingKey,
    wrapped_material: String,
}

fn missing_material() -> IdentityError {
    IdentityError::MissingParameter(
        "`wrappedImportKey` with `keyMaterial` and `wrappingAlgorithm` is required".into(),
    )
}

impl VaultService {
    /// `GetWrappingKey` of the vault whose management endpoint received it
    pub async fn get_wrapping_key(
        &self,
        caller: &Principal,
        vault_id: &str,
    ) -> VaultResult<WrappingKey> {
        let vault = self.active_vault(vault_id).await?;
        self.identity.authorize(
            caller,
            "GetWrappingKey",
            &vault.compartment_id,
            &vault_target(&vault),
        )?;
        Ok(self.wrapping_key(&vault).await?.0)
    }

    /// `ImportKey`: a new key whose first version is the caller's material
    pub async fn import_key(
        &self,
        caller: &Principal,
        vault_id: &str,
        details: ImportKeyDetails,
    ) -> VaultResult<Versioned<Key>> {
        let wrapped = details.wrapped_import_key.ok_or_else(missing_material)?;
        let create = CreateKeyDetails {
            compartment_id: details.compartment_id,
            display_name: details.display_name,
            key_shape: details.key_shape,
            protection_mode: details.protection_mode,
            freeform_tags: details.freeform_tags,
            defined_tags: details.defined_tags,
            is_auto_rotation_enabled: details.is_auto_rotation_enabled,
        };
        self.create_key_from(caller, vault_id, create, Source::Wrapped(wrapped))
            .await
    }

    /// `ImportKeyVersion`: rotation to the caller's material
    pub async fn import_key_version(
        &self,
        caller: &Principal,
        key_id: &str,
        vault: Option<&str>,
        details: ImportKeyVersionDetails,
    ) -> VaultResult<KeyVersion> {
        let wrapped = details.wrapped_import_key.ok_or_else(missing_material)?;
        self.create_key_version_from(caller, key_id, vault, Source::Wrapped(wrapped))
            .await
    }

    /// Unwraps imported material under `vault`'s wrapping key and checks it against `shape`
    pub(crate) async fn open_import(
        &self,
        vault_id: &str,
        shape: KeyShape,
        wrapped: WrappedImportKey,
    ) -> VaultResult<KeyMaterial> {
        let (Some(text), Some(algorithm)) = (wrapped.key_material, wrapped.wrapping_algorithm)
        else {
            return Err(missing_material().into());
        };
        let bytes = STANDARD.decode(text.trim()).map_err(|_| {
            IdentityError::InvalidParameter(
                "`wrappedImportKey.keyMaterial` must be standard base64".into(),
            )
        })?;
        let (vault, _) = self.load_vault(vault_id).await?;
        let (_, wrapping) = self.wrapping_key(&vault).await?;
        let opened = unwrap_import(&wrapping, algorithm, &bytes)?;
        Ok(KeyMaterial::import(shape, opened)?)
    }

    /// The vault's wrapping key, made on first use. Two servers making it at once both
    /// try; the store keeps one, and the other reads it back.
    async fn wrapping_key(&self, vault: &Vault) -> VaultResult<(WrappingKey, Arc<KeyMaterial>)> {
        let store_key = wrapping_key_key(&vault.id);
        for _ in 0..2 {
            if let Some((stored, _)) =
                read_json::<StoredWrappingKey>(self.store(), &store_key).await?
            {
                return self.open_wrapping_key(&vault.id, stored);
            }
            let material =
                tokio::task::spawn_blocking(|| KeyMaterial::generate(WRAPPING_KEY_SHAPE))
                    .await
                    .map_err(|_| KmsError::Crypto("key generation was interrupted"))??;
            let id = Ocid::generate_scoped("key", Some(self.region()), &vault_extension(&vault.id))
                .into_string();
            let key = WrappingKey {
                compartment_id: vault.compartment_id.clone(),
                id: id.clone(),
                lifecycle_state: KeyState::Enabled,
                public_key: material
                    .public_key_pem()?
                    .ok_or(KmsError::Crypto("wrapping key encoding"))?,
                time_created: now(),
                vault_id: vault.id.clone(),
            };
            let stored = StoredWrappingKey {
                wrapped_material: STANDARD.encode(self.root.wrap(&id, material.secret_bytes())?),
                key: key.clone(),
            };
            let txn = Txn::new()
                .require_absent(&store_key)
                .put(&store_key, encode(&stored)?);
            match self.store().commit(txn).await {
                Ok(_) => {
                    let material = Arc::new(material);
                    self.remember(&vault.id, &id, material.clone());
                    return Ok((key, material));
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(IdentityError::Conflict.into())
    }

    fn open_wrapping_key(
        &self,
        vault_id: &str,
        stored: StoredWrappingKey,
    ) -> VaultResult<(WrappingKey, Arc<KeyMaterial>)> {
        if let Some(material) = self.cached(vault_id, &stored.key.id) {
            return Ok((stored.key, material));
        }
        let wrapped = STANDARD
            .decode(&stored.wrapped_material)
            .map_err(|_| KmsError::Unwrap)?;
        let bytes = self.root.unwrap(&stored.key.id, &wrapped)?;
        let material = Arc::new(KeyMaterial::from_secret_bytes(WRAPPING_KEY_SHAPE, bytes)?);
        self.remember(vault_id, &stored.key.id, material.clone());
        Ok((stored.key, material))
    }
}

/// Keeps the decoder honest about what it reads back
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

    use portcullis_identity::decode;

    use super::*;

    #[test]
    fn the_stored_record_keeps_the_public_fields_at_the_top_level() {
        let stored = StoredWrappingKey {
            key: WrappingKey {
                compartment_id: "c".into(),
                id: "k".into(),
                lifecycle_state: KeyState::Enabled,
                public_key: "pem".into(),
                time_created: "t".into(),
                vault_id: "v".into(),
            },
            wrapped_material: "w".into(),
        };
        let bytes = encode(&stored).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["publicKey"], "pem");
        assert_eq!(value["lifecycleState"], "ENABLED");
        let back: StoredWrappingKey = decode(&bytes).unwrap();
        assert_eq!(back.key.vault_id, "v");
    }
}
