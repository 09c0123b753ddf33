//! The KMS crypto API (`/20180608/encrypt`, `decrypt`, `generateDataEncryptionKey`, `sign`,
//! `verify`) with OCI's request and response shapes (`oci-reference.md` §7.2).
//!
//! Which version does what follows OCI: only a key's current version encrypts and signs;
//! every version still decrypts (AES ciphertexts name their version) and verifies.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_iam::Principal;
use portcullis_identity::IdentityError;
use portcullis_kms::crypto::{self, AssociatedData};
use portcullis_kms::{Algorithm, EncryptionAlgorithm, KmsError, MessageType, SigningAlgorithm};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::model::Key;

/// The most versions of one key [`VaultService::signing_version_as_service`] tries
pub const MAX_VERSIONS_TRIED: usize = 20;
use crate::{StoredKeyVersion, VaultResult, VaultService, key_target, require_enabled};

/// `EncryptDataDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptDataDetails {
    /// The key
    pub key_id: Option<String>,
    /// base64
    pub plaintext: Option<String>,
    /// Bound to the ciphertext; needed again to decrypt
    pub associated_data: Option<AssociatedData>,
    /// Must be the current version if given
    pub key_version_id: Option<String>,
    /// `AES_256_GCM`, `RSA_OAEP_SHA_1`, `RSA_OAEP_SHA_256`
    pub encryption_algorithm: Option<EncryptionAlgorithm>,
    /// Logged with the audit record
    pub logging_context: Option<AssociatedData>,
}

/// `EncryptedData`
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EncryptedData {
    /// base64
    pub ciphertext: String,
    /// The key
    pub key_id: String,
    /// The version that encrypted
    pub key_version_id: String,
    /// The algorithm used
    pub encryption_algorithm: EncryptionAlgorithm,
}

/// `DecryptDataDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecryptDataDetails {
    /// base64
    pub ciphertext: Option<String>,
    /// The key
    pub key_id: Option<String>,
    /// As given to Encrypt
    pub associated_data: Option<AssociatedData>,
    /// Required for RSA ciphertexts made by an older version; checked for AES ones
    pub key_version_id: Option<String>,
    /// As given to Encrypt
    pub encryption_algorithm: Option<EncryptionAlgorithm>,
    /// Logged with the audit record
    pub logging_context: Option<AssociatedData>,
}

/// `DecryptedData`
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecryptedData {
    /// base64
    pub plaintext: String,
    /// CRC-32 of the plaintext, as a decimal string
    pub plaintext_checksum: String,
    /// The key
    pub key_id: String,
    /// The version that decrypted
    pub key_version_id: String,
    /// The algorithm used
    pub encryption_algorithm: EncryptionAlgorithm,
}

/// `GenerateKeyDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateKeyDetails {
    /// The master key that wraps the new data key
    pub key_id: Option<String>,
    /// AES, 16/24/32 bytes
    pub key_shape: Option<portcullis_kms::KeyShape>,
    /// Whether to return the plaintext data key too
    pub include_plaintext_key: Option<bool>,
    /// Bound to the wrapped key
    pub associated_data: Option<AssociatedData>,
    /// Logged with the audit record
    pub logging_context: Option<AssociatedData>,
}

/// `GeneratedKey`
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedKey {
    /// The data key wrapped by the master key, base64
    pub ciphertext: String,
    /// The data key, base64, when asked for
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<String>,
    /// CRC-32 of the plaintext key, when returned
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext_checksum: Option<String>,
}

/// `SignDataDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignDataDetails {
    /// base64, at most 4096 bytes decoded
    pub message: Option<String>,
    /// The key
    pub key_id: Option<String>,
    /// Must be the current version if given
    pub key_version_id: Option<String>,
    /// `RAW` (default) or `DIGEST`
    pub message_type: Option<MessageType>,
    /// One of the eleven algorithms
    pub signing_algorithm: Option<SigningAlgorithm>,
    /// Logged with the audit record
    pub logging_context: Option<AssociatedData>,
}

/// `SignedData`
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedData {
    /// The key
    pub key_id: String,
    /// The version that signed
    pub key_version_id: String,
    /// base64
    pub signature: String,
    /// The algorithm used
    pub signing_algorithm: SigningAlgorithm,
}

/// `VerifyDataDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyDataDetails {
    /// The key
    pub key_id: Option<String>,
    /// The version that signed (required)
    pub key_version_id: Option<String>,
    /// base64
    pub signature: Option<String>,
    /// `RAW` (default) or `DIGEST`
    pub message_type: Option<MessageType>,
    /// base64
    pub message: Option<String>,
    /// The algorithm used to sign
    pub signing_algorithm: Option<SigningAlgorithm>,
}

/// `VerifiedData`
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedData {
    /// Whether the signature is valid
    pub is_signature_valid: bool,
}

fn required<'a>(value: &'a Option<String>, name: &str) -> VaultResult<&'a str> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| IdentityError::MissingParameter(format!("`{name}` is required")).into())
}

fn base64_field(value: &Option<String>, name: &str) -> VaultResult<Zeroizing<Vec<u8>>> {
    let text = required(value, name)?;
    STANDARD.decode(text).map(Zeroizing::new).map_err(|_| {
        IdentityError::InvalidParameter(format!("`{name}` is not valid base64")).into()
    })
}

fn checksum(bytes: &[u8]) -> String {
    crypto::crc32(bytes).to_string()
}

fn audit(caller: &Principal, operation: &str, key: &Key, context: Option<&AssociatedData>) {
    tracing::info!(
        target: "portcullis::audit",
        principal = %caller.describe(),
        operation,
        key = %key.id,
        logging_context = ?context,
        "key used"
    );
}

impl VaultService {
    /// Authorizes `operation` on an enabled key
    async fn usable_key(
        &self,
        caller: &Principal,
        operation: &str,
        key_id: &str,
        vault: Option<&str>,
    ) -> VaultResult<Key> {
        let (key, _) = self.load_key(key_id).await?;
        if vault.is_some_and(|v| v != key.vault_id) {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        }
        self.identity
            .authorize(caller, operation, &key.compartment_id, &key_target(&key))?;
        require_enabled(&key)?;
        Ok(key)
    }

    /// The current version, or an error if the caller named an older one
    async fn current_version(
        &self,
        key: &Key,
        requested: Option<&str>,
        operation: &str,
    ) -> VaultResult<StoredKeyVersion> {
        if let Some(requested) = requested
            && requested != key.current_key_version
        {
            // Tell apart "not this key's version" from "an old version".
            self.load_version(key, requested).await.map_err(|_| {
                IdentityError::InvalidParameter(format!(
                    "`keyVersionId` {requested} is not a version of key {}",
                    key.id
                ))
            })?;
            return Err(IdentityError::InvalidParameter(format!(
                "only the current version ({}) of a key can {operation}; older versions only decrypt and verify",
                key.current_key_version
            ))
            .into());
        }
        self.load_version(key, &key.current_key_version).await
    }

    /// A named version of the key (for Decrypt and Verify)
    async fn named_version(&self, key: &Key, version_id: &str) -> VaultResult<StoredKeyVersion> {
        self.load_version(key, version_id).await.map_err(|_| {
            IdentityError::InvalidParameter(format!(
                "`keyVersionId` {version_id} is not a version of key {}",
                key.id
            ))
            .into()
        })
    }

    /// `Encrypt`
    pub async fn encrypt(
        &self,
        caller: &Principal,
        vault: Option<&str>,
        details: EncryptDataDetails,
    ) -> VaultResult<EncryptedData> {
        let key_id = required(&details.key_id, "keyId")?;
        let plaintext = base64_field(&details.plaintext, "plaintext")?;
        let key = self.usable_key(caller, "Encrypt", key_id, vault).await?;
        let version = self
            .current_version(&key, details.key_version_id.as_deref(), "encrypt")
            .await?;
        let material = self.material(&key, &version)?;
        let (ciphertext, algorithm) = crypto::encrypt(
            &material,
            &version.version.id,
            &plaintext,
            details.associated_data.as_ref(),
            details.encryption_algorithm,
        )?;
        audit(caller, "Encrypt", &key, details.logging_context.as_ref());
        Ok(EncryptedData {
            ciphertext: STANDARD.encode(ciphertext),
            key_id: key.id,
            key_version_id: version.version.id,
            encryption_algorithm: algorithm,
        })
    }

    /// `Decrypt`
    pub async fn decrypt(
        &self,
        caller: &Principal,
        vault: Option<&str>,
        details: DecryptDataDetails,
    ) -> VaultResult<DecryptedData> {
        let key_id = required(&details.key_id, "keyId")?;
        let ciphertext = base64_field(&details.ciphertext, "ciphertext")?;
        let key = self.usable_key(caller, "Decrypt", key_id, vault).await?;
        let version_id = match key.key_shape.algorithm {
            Algorithm::Aes => {
                let embedded = crypto::ciphertext_key_version(&ciphertext)?.to_owned();
                if let Some(requested) = details.key_version_id.as_deref()
                    && requested != embedded
                {
                    return Err(IdentityError::InvalidParameter(format!(
                        "the ciphertext was made by key version {embedded}, not {requested}"
                    ))
                    .into());
                }
                embedded
            }
            _ => details
                .key_version_id
                .clone()
                .unwrap_or_else(|| key.current_key_version.clone()),
        };
        let version = match self.load_version(&key, &version_id).await {
            Ok(version) => version,
            // A ciphertext naming a version this key does not have was not made by it.
            Err(_) => return Err(KmsError::InvalidCiphertext.into()),
        };
        let material = self.material(&key, &version)?;
        let (plaintext, algorithm) = crypto::decrypt(
            &material,
            &version.version.id,
            &ciphertext,
            details.associated_data.as_ref(),
            details.encryption_algorithm,
        )?;
        audit(caller, "Decrypt", &key, details.logging_context.as_ref());
        Ok(DecryptedData {
            plaintext: STANDARD.encode(plaintext.as_slice()),
            plaintext_checksum: checksum(&plaintext),
            key_id: key.id,
            key_version_id: version.version.id,
            encryption_algorithm: algorithm,
        })
    }

    /// `GenerateDataEncryptionKey`
    pub async fn generate_data_encryption_key(
        &self,
        caller: &Principal,
        vault: Option<&str>,
        details: GenerateKeyDetails,
    ) -> VaultResult<GeneratedKey> {
        let key_id = required(&details.key_id, "keyId")?;
        let shape = details
            .key_shape
            .ok_or_else(|| IdentityError::MissingParameter("`keyShape` is required".into()))?
            .validate()?;
        if shape.algorithm != Algorithm::Aes {
            return Err(IdentityError::InvalidParameter(
                "a data encryption key is an AES key (`keyShape.algorithm: AES`)".into(),
            )
            .into());
        }
        let include = details.include_plaintext_key.ok_or_else(|| {
            IdentityError::MissingParameter("`includePlaintextKey` is required".into())
        })?;
        let key = self
            .usable_key(caller, "GenerateDataEncryptionKey", key_id, vault)
            .await?;
        if key.key_shape.algorithm == Algorithm::Aes && shape.length < key.key_shape.length {
            return Err(IdentityError::InvalidParameter(format!(
                "a data encryption key must be at least as strong as its master key: {} bytes or more",
                key.key_shape.length
            ))
            .into());
        }
        let version = self.current_version(&key, None, "encrypt").await?;
        let material = self.material(&key, &version)?;
        let dek = portcullis_kms::root::random_bytes::<32>()?;
        let dek = dek
            .get(..usize::try_from(shape.length).unwrap_or(32))
            .unwrap_or_default();
        let (ciphertext, _) = crypto::encrypt(
            &material,
            &version.version.id,
            dek,
            details.associated_data.as_ref(),
            None,
        )?;
        audit(
            caller,
            "GenerateDataEncryptionKey",
            &key,
            details.logging_context.as_ref(),
        );
        Ok(GeneratedKey {
            ciphertext: STANDARD.encode(ciphertext),
            plaintext: include.then(|| STANDARD.encode(dek)),
            plaintext_checksum: include.then(|| checksum(dek)),
        })
    }

    /// `Sign`
    pub async fn sign(
        &self,
        caller: &Principal,
        vault: Option<&str>,
        details: SignDataDetails,
    ) -> VaultResult<SignedData> {
        let key_id = required(&details.key_id, "keyId")?;
        let message = base64_field(&details.message, "message")?;
        let algorithm = details.signing_algorithm.ok_or_else(|| {
            IdentityError::MissingParameter("`signingAlgorithm` is required".into())
        })?;
        let key = self.usable_key(caller, "Sign", key_id, vault).await?;
        let version = self
            .current_version(&key, details.key_version_id.as_deref(), "sign")
            .await?;
        let material = self.material(&key, &version)?;
        let signature = crypto::sign(
            &material,
            algorithm,
            details.message_type.unwrap_or_default(),
            &message,
        )?;
        audit(caller, "Sign", &key, details.logging_context.as_ref());
        Ok(SignedData {
            key_id: key.id,
            key_version_id: version.version.id,
            signature: STANDARD.encode(signature),
            signing_algorithm: algorithm,
        })
    }

    /// Whether `caller` may use `key_id` for `operation` now: the key exists, IAM allows it,
    /// and it is enabled. Admission asks this on every request, so a removed policy or a
    /// disabled key takes effect at once even when the signature's check is cached.
    pub async fn check_usable(
        &self,
        caller: &Principal,
        operation: &str,
        key_id: &str,
    ) -> VaultResult<()> {
        self.usable_key(caller, operation, key_id, None)
            .await
            .map(|_| ())
    }

    /// Verifies a signature with a key version, as the service itself: the registry checks
    /// an uploaded image signature this way (OCIR does not ask the uploader for
    /// `KEY_VERIFY`). A disabled or deleted key still verifies what it signed before.
    pub async fn verify_as_service(&self, details: VerifyDataDetails) -> VaultResult<bool> {
        let key_id = required(&details.key_id, "keyId")?;
        let (key, _) = self.load_key(key_id).await?;
        self.verify_with(&key, &details).await
    }

    /// Which of a key's versions, if any, made `signature` over the RAW `message`, as the
    /// service itself. For signatures that do not say which version made them, such as
    /// cosign's made outside the vault with an imported key. `algorithm_for` picks the
    /// algorithm for the key's shape (`None`: the key cannot have made it). The newest
    /// [`MAX_VERSIONS_TRIED`] versions are tried, so a long-rotated key stays cheap.
    pub async fn signing_version_as_service(
        &self,
        key_id: &str,
        algorithm_for: impl Fn(portcullis_kms::KeyShape) -> Option<SigningAlgorithm>,
        message: &[u8],
        signature: &[u8],
    ) -> VaultResult<Option<String>> {
        let (key, _) = self.load_key(key_id).await?;
        let Some(algorithm) = algorithm_for(key.key_shape) else {
            return Ok(None);
        };
        let mut versions = self.stored_versions(&key.id).await?;
        versions.sort_by(|a, b| b.version.time_created.cmp(&a.version.time_created));
        for version in versions.into_iter().take(MAX_VERSIONS_TRIED) {
            let Some(public) = version
                .public_key_der
                .as_deref()
                .and_then(|d| STANDARD.decode(d).ok())
            else {
                continue;
            };
            if crypto::verify(
                key.key_shape,
                &public,
                algorithm,
                MessageType::Raw,
                message,
                signature,
            )? {
                return Ok(Some(version.version.id));
            }
        }
        Ok(None)
    }

    /// Checks `details`' signature with `key`'s named version: `Verify` once the key is
    /// known to be usable
    async fn verify_with(&self, key: &Key, details: &VerifyDataDetails) -> VaultResult<bool> {
        let version_id = required(&details.key_version_id, "keyVersionId")?;
        let message = base64_field(&details.message, "message")?;
        let signature = base64_field(&details.signature, "signature")?;
        let algorithm = details.signing_algorithm.ok_or_else(|| {
            IdentityError::MissingParameter("`signingAlgorithm` is required".into())
        })?;
        let version = self.named_version(key, version_id).await?;
        let public = version
            .public_key_der
            .as_deref()
            .and_then(|d| STANDARD.decode(d).ok())
            .ok_or_else(|| {
                KmsError::Unsupported("an AES key can only encrypt and decrypt".into())
            })?;
        Ok(crypto::verify(
            key.key_shape,
            &public,
            algorithm,
            details.message_type.unwrap_or_default(),
            &message,
            &signature,
        )?)
    }

    /// `Verify`
    pub async fn verify(
        &self,
        caller: &Principal,
        vault: Option<&str>,
        details: VerifyDataDetails,
    ) -> VaultResult<VerifiedData> {
        let key_id = required(&details.key_id, "keyId")?;
        // The request's own shape first: a malformed one is refused before the key is read.
        required(&details.key_version_id, "keyVersionId")?;
        base64_field(&details.message, "message")?;
        base64_field(&details.signature, "signature")?;
        details.signing_algorithm.ok_or_else(|| {
            IdentityError::MissingParameter("`signingAlgorithm` is required".into())
        })?;
        let key = self.usable_key(caller, "Verify", key_id, vault).await?;
        let valid = self.verify_with(&key, &details).await?;
        audit(caller, "Verify", &key, None);
        Ok(VerifiedData {
            is_signature_valid: valid,
        })
    }
}
