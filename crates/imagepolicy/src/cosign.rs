//! Signatures in cosign's key-based format, made and checked with vault keys.
//!
//! Signing appends a layer to the image's `sha256-<hex>.sig` artifact in its repository, as
//! cosign does, with the simple-signing payload and the signature in the
//! `dev.cosignproject.cosign/signature` annotation; cosign and sigstore verifiers need only
//! the key's public part. Two more annotations name the vault key and version that signed
//! (verifiers ignore them), which is how admission knows which key version to ask the vault
//! with. Cosign verifies P-256 keys with ECDSA over SHA-256 and RSA keys with PKCS#1 v1.5
//! over SHA-256, so those are the two algorithms accepted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_distribution::{Digest, Reference, RepositoryName};
use portcullis_iam::{Principal, Variables};
use portcullis_identity::IdentityError;
use portcullis_sign::cosign::{
    MAX_PAYLOAD_BYTES, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, payload, read_payload,
    signature_tag,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ImagePolicyService, PolicyResult};

/// The vault key that made a cosign signature
pub const KEY_ANNOTATION: &str = "dev.portcullis.kmsKeyId";
/// The key version that made it
pub const KEY_VERSION_ANNOTATION: &str = "dev.portcullis.kmsKeyVersionId";
/// The vault's name of the algorithm
pub const ALGORITHM_ANNOTATION: &str = "dev.portcullis.signingAlgorithm";

/// At most this many signature layers of one image are looked at per admission
const MAX_LAYERS: usize = 16;

/// The algorithms cosign verifiers use for the key types the vault has
const COSIGN_ALGORITHMS: &[&str] = &["ECDSA_SHA_256", "SHA_256_RSA_PKCS1_V1_5"];

/// `POST /20160918/container/images/{id}/actions/cosignSign` (a Portcullis extension)
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CosignSignDetails {
    /// The vault key (P-256 ECDSA or RSA)
    pub kms_key_id: Option<String>,
    /// `ECDSA_SHA_256` (P-256 keys) or `SHA_256_RSA_PKCS1_V1_5` (RSA keys)
    pub signing_algorithm: Option<String>,
}

fn invalid(message: impl Into<String>) -> IdentityError {
    IdentityError::InvalidParameter(message.into())
}

/// One signature layer of a `.sig` artifact
pub(crate) struct Layer {
    pub(crate) digest: String,
    pub(crate) signature: String,
    pub(crate) key_id: Option<String>,
    pub(crate) key_version_id: Option<String>,
    pub(crate) algorithm: Option<String>,
}

fn layers_of(manifest: &Value) -> Vec<Layer> {
    let Some(layers) = manifest.get("layers").and_then(Value::as_array) else {
        return Vec::new();
    };
    layers
        .iter()
        .filter(|l| l.get("mediaType").and_then(Value::as_str) == Some(SIMPLE_SIGNING_MEDIA_TYPE))
        .filter_map(|l| {
            let annotations = l.get("annotations")?;
            let text = |k: &str| {
                annotations
                    .get(k)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            Some(Layer {
                digest: l.get("digest")?.as_str()?.to_owned(),
                signature: text(SIGNATURE_ANNOTATION)?,
                key_id: text(KEY_ANNOTATION),
                key_version_id: text(KEY_VERSION_ANNOTATION),
                algorithm: text(ALGORITHM_ANNOTATION),
            })
        })
        .collect()
}

impl ImagePolicyService {
    /// Signs an image in cosign's format with a vault key, as the caller (who needs to
    /// update the repository and to use the key); returns the `.sig` artifact's reference
    pub async fn cosign_sign(
        &self,
        caller: &Principal,
        image_id: &str,
        details: CosignSignDetails,
    ) -> PolicyResult<Value> {
        let key_id = details
            .kms_key_id
            .ok_or_else(|| IdentityError::MissingParameter("`kmsKeyId` is required".into()))?;
        let algorithm = details.signing_algorithm.ok_or_else(|| {
            IdentityError::MissingParameter("`signingAlgorithm` is required".into())
        })?;
        if !COSIGN_ALGORITHMS.contains(&algorithm.as_str()) {
            return Err(invalid(format!(
                "cosign verifies ECDSA_SHA_256 (P-256 keys) and SHA_256_RSA_PKCS1_V1_5 (RSA keys), not {algorithm}"
            ))
            .into());
        }
        let image = self.registry.get_image(caller, image_id).await?;
        self.identity.authorize(
            caller,
            "CreateContainerImageSignature",
            &image.compartment_id,
            &Variables::new().with("target.repo.name", image.repository_name.as_str()),
        )?;
        let host = self.registry_hosts.first().cloned().unwrap_or_default();
        let body = payload(&format!("{host}/{}", image.repository_name), &image.digest);
        let signed = self
            .vault
            .sign(
                caller,
                None,
                serde_json::from_value(json!({
                    "keyId": key_id, "message": STANDARD.encode(&body),
                    "signingAlgorithm": algorithm, "messageType": "RAW",
                }))
                .map_err(|e| invalid(e.to_string()))?,
            )
            .await?;
        let name = RepositoryName::parse(&image.repository_name).map_err(|e| invalid(e.message))?;
        let tag = signature_tag(&image.digest)
            .ok_or_else(|| invalid(format!("{} is not a digest", image.digest)))?;
        // Earlier signatures of the image stay: the new one is one more layer.
        let mut layers: Vec<Value> = match self
            .registry
            .manifest(&name, &Reference::Tag(tag.clone()))
            .await
        {
            Ok(existing) => serde_json::from_slice::<Value>(&existing.bytes)
                .ok()
                .and_then(|m| m.get("layers").and_then(Value::as_array).cloned())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let payload_digest = self.registry.put_blob(&name, &body).await?;
        layers.push(json!({
            "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
            "digest": payload_digest.to_string(),
            "size": body.len(),
            "annotations": {
                SIGNATURE_ANNOTATION: signed.signature,
                KEY_ANNOTATION: signed.key_id,
                KEY_VERSION_ANNOTATION: signed.key_version_id,
                ALGORITHM_ANNOTATION: algorithm,
            },
        }));
        let diff_ids: Vec<Value> = layers
            .iter()
            .filter_map(|l| l.get("digest").cloned())
            .collect();
        let config = serde_json::to_vec(&json!({
            "architecture": "", "os": "", "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .map_err(|e| invalid(e.to_string()))?;
        let config_digest = self.registry.put_blob(&name, &config).await?;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
            "layers": layers,
        }))
        .map_err(|e| invalid(e.to_string()))?;
        let pushed = self
            .registry
            .put_manifest(
                &name,
                &Reference::Tag(tag.clone()),
                Some("application/vnd.oci.image.manifest.v1+json"),
                &manifest,
                caller.id(),
            )
            .await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), image = %image.digest, repository = %image.repository_name, key = %key_id, "cosign signature created");
        Ok(json!({
            "repositoryName": image.repository_name,
            "imageDigest": image.digest,
            "signatureTag": tag,
            "signatureDigest": pushed.digest.to_string(),
            "kmsKeyId": key_id,
            "kmsKeyVersionId": signed.key_version_id,
            "signingAlgorithm": algorithm,
            "signature": signed.signature,
        }))
    }

    /// Whether a cosign signature of the image by one of `keys` verifies. Only signatures
    /// that name their vault key version count (the vault is asked with that version);
    /// `Err` carries why each candidate failed.
    pub(crate) async fn cosign_verified(
        &self,
        principal: &Principal,
        repository: &RepositoryName,
        digest: &Digest,
        keys: &[String],
    ) -> Result<bool, Vec<String>> {
        let Some(tag) = signature_tag(&digest.to_string()) else {
            return Ok(false);
        };
        let Ok(manifest) = self
            .registry
            .manifest(repository, &Reference::Tag(tag))
            .await
        else {
            return Ok(false);
        };
        let Ok(manifest) = serde_json::from_slice::<Value>(&manifest.bytes) else {
            return Ok(false);
        };
        let mut reasons = Vec::new();
        // A `.sig` artifact anyone with push rights can write must not make admission slow.
        for layer in layers_of(&manifest).into_iter().take(MAX_LAYERS) {
            let (Some(key), Some(version), Some(algorithm)) =
                (&layer.key_id, &layer.key_version_id, &layer.algorithm)
            else {
                continue;
            };
            if !keys.contains(key) {
                continue;
            }
            if let Err(e) = self.vault.check_usable(principal, "Verify", key).await {
                reasons.push(format!("cosign signature by key {key}: {e}"));
                continue;
            }
            let valid = match self
                .cosign_check(repository, digest, &layer, key, version, algorithm)
                .await
            {
                Ok(valid) => valid,
                Err(reason) => {
                    reasons.push(reason);
                    continue;
                }
            };
            if valid {
                return Ok(true);
            }
            reasons.push(format!("the cosign signature by key {key} does not verify"));
        }
        if reasons.is_empty() {
            Ok(false)
        } else {
            Err(reasons)
        }
    }

    /// Reads the payload and checks, every time, that it names exactly this image in this
    /// registry; then asks the vault, whose answer alone is cached (by key, version,
    /// algorithm, payload digest and signature: all that decides it)
    async fn cosign_check(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        layer: &Layer,
        key: &str,
        version: &str,
        algorithm: &str,
    ) -> Result<bool, String> {
        let layer_digest = Digest::parse(&layer.digest).map_err(|e| e.message)?;
        let (size, path) = self
            .registry
            .blob(repository, &layer_digest)
            .await
            .map_err(|e| format!("the cosign payload cannot be read ({e})"))?;
        if size > MAX_PAYLOAD_BYTES as u64 {
            return Err("the cosign payload is too large".into());
        }
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| format!("the cosign payload cannot be read ({e})"))?;
        let claimed = read_payload(&bytes).map_err(|e| e.to_string())?;
        let names_this_image = claimed.image_digest == digest.to_string()
            && self.registry_hosts.iter().any(|host| {
                claimed
                    .docker_reference
                    .eq_ignore_ascii_case(&format!("{host}/{repository}"))
            });
        if !names_this_image {
            return Err(format!(
                "a cosign payload names {}@{}, not this image",
                claimed.docker_reference, claimed.image_digest
            ));
        }
        let cache_key = format!(
            "cosign:{key}:{version}:{algorithm}:{}:{}",
            layer.digest, layer.signature
        );
        if let Some(valid) = self.cached(&cache_key) {
            return Ok(valid);
        }
        let details = serde_json::from_value(json!({
            "keyId": key, "keyVersionId": version, "message": STANDARD.encode(&bytes),
            "signature": layer.signature, "signingAlgorithm": algorithm, "messageType": "RAW",
        }))
        .map_err(|e| e.to_string())?;
        let valid = self
            .vault
            .verify_as_service(details)
            .await
            .map_err(|e| format!("key {key} cannot verify the cosign signature: {e}"))?;
        // Only good answers are kept: failures are an attacker's to choose and would only
        // crowd the cache.
        if valid {
            self.remember(&cache_key, true);
        }
        Ok(valid)
    }
}
