//! Signatures in cosign's key-based format, made and checked with vault keys.
//!
//! Signing appends a layer to the image's `sha256-<hex>.sig` artifact in its repository, as
//! cosign does, with the simple-signing payload and the signature in the
//! `dev.cosignproject.cosign/signature` annotation; cosign and sigstore verifiers need only
//! the key's public part. Two more annotations name the vault key and version that signed
//! (verifiers ignore them), which is how admission knows which key version to ask the vault
//! with. Layers without them (made by cosign or the sigstore crate with a key imported into
//! the vault) are checked against each listed key's recent versions. Cosign verifies P-256 keys with ECDSA over SHA-256 and RSA keys with PKCS#1 v1.5
//! over SHA-256, so those are the two algorithms accepted.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_distribution::{Digest, Reference, RepositoryName};
use portcullis_iam::{Principal, Variables};
use portcullis_identity::IdentityError;
use portcullis_kms::{Algorithm, Curve, KeyShape, SigningAlgorithm};
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

/// How often a `.sig` write is redone when another writer replaced it meanwhile
const MAX_SIG_WRITES: usize = 4;

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

/// The algorithm cosign verifies a key of `shape` with: PKCS#1 v1.5 over SHA-256 for RSA,
/// ECDSA over SHA-256 for P-256 (cosign has no other curve for key pairs)
fn cosign_algorithm(shape: KeyShape) -> Option<SigningAlgorithm> {
    match (shape.algorithm, shape.curve_id) {
        (Algorithm::Rsa, _) => Some(SigningAlgorithm::Sha256RsaPkcs1V15),
        (Algorithm::Ecdsa, Some(Curve::NistP256)) => Some(SigningAlgorithm::EcdsaSha256),
        _ => None,
    }
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
        let payload_digest = self.registry.put_blob(&name, &body).await?;
        let layer = json!({
            "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
            "digest": payload_digest.to_string(),
            "size": body.len(),
            "annotations": {
                SIGNATURE_ANNOTATION: signed.signature,
                KEY_ANNOTATION: signed.key_id,
                KEY_VERSION_ANNOTATION: signed.key_version_id,
                ALGORITHM_ANNOTATION: algorithm,
            },
        });
        // The `.sig` tag is read, extended and written back: one writer at a time here, and
        // a check afterwards that the layer is still there, since another server sharing
        // the store may have written the tag in between (then the write is redone).
        let _writing = self.sig_writes.lock().await;
        let mut pushed = None;
        for _ in 0..MAX_SIG_WRITES {
            let mut layers = self.sig_layers(&name, &tag).await;
            if pushed.is_some() && layers.contains(&layer) {
                break;
            }
            layers.retain(|l| l != &layer);
            layers.push(layer.clone());
            pushed = Some(self.put_sig(caller, &name, &tag, layers).await?);
        }
        let pushed = pushed.ok_or_else(|| invalid("the signature could not be written"))?;
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

    /// The layers of a `.sig` artifact, none if it does not exist yet
    async fn sig_layers(&self, name: &RepositoryName, tag: &str) -> Vec<Value> {
        match self
            .registry
            .manifest(name, &Reference::Tag(tag.to_owned()))
            .await
        {
            Ok(existing) => serde_json::from_slice::<Value>(&existing.bytes)
                .ok()
                .and_then(|m| m.get("layers").and_then(Value::as_array).cloned())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// Writes a `.sig` artifact with `layers`, as cosign lays it out
    async fn put_sig(
        &self,
        caller: &Principal,
        name: &RepositoryName,
        tag: &str,
        layers: Vec<Value>,
    ) -> PolicyResult<portcullis_registry::Pushed> {
        let diff_ids: Vec<Value> = layers
            .iter()
            .filter_map(|l| l.get("digest").cloned())
            .collect();
        let config = serde_json::to_vec(&json!({
            "architecture": "", "os": "", "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))
        .map_err(|e| invalid(e.to_string()))?;
        let config_digest = self.registry.put_blob(name, &config).await?;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
            "layers": layers,
        }))
        .map_err(|e| invalid(e.to_string()))?;
        Ok(self
            .registry
            .put_manifest(
                name,
                &Reference::Tag(tag.to_owned()),
                Some("application/vnd.oci.image.manifest.v1+json"),
                &manifest,
                caller.id(),
            )
            .await?)
    }

    /// Whether a cosign signature of the image by one of `keys` verifies. A signature the
    /// vault made names its key version, and the vault is asked with that version. One
    /// made outside the vault (cosign itself, or the sigstore crate, with a key imported
    /// into the vault) names none: each listed key's recent versions are tried with the
    /// algorithm cosign uses for its type. `Err` carries why each candidate failed.
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
        // Each key's usability is asked once, however many layers name it.
        let mut usable: HashMap<&str, bool> = HashMap::new();
        // A `.sig` artifact anyone with push rights can write must not make admission slow.
        for layer in layers_of(&manifest).into_iter().take(MAX_LAYERS) {
            let candidates: Vec<&String> = match &layer.key_id {
                Some(key) => keys.iter().filter(|k| *k == key).collect(),
                None => keys.iter().collect(),
            };
            let mut payload: Option<Result<Vec<u8>, String>> = None;
            for key in candidates {
                let known = usable.get(key.as_str()).copied();
                let ok = match known {
                    Some(ok) => ok,
                    None => {
                        let check = self.vault.check_usable(principal, "Verify", key).await;
                        if let Err(e) = &check {
                            reasons.push(format!("cosign signature by key {key}: {e}"));
                        }
                        usable.insert(key, check.is_ok());
                        check.is_ok()
                    }
                };
                if !ok {
                    continue;
                }
                // The payload is read and checked once per layer, whichever keys it is
                // tried with.
                if payload.is_none() {
                    payload = Some(self.claimed_payload(repository, digest, &layer).await);
                }
                let bytes = match &payload {
                    Some(Ok(bytes)) => bytes.as_slice(),
                    Some(Err(reason)) => {
                        reasons.push(reason.clone());
                        continue;
                    }
                    None => continue,
                };
                match self.cosign_check(&layer, key, bytes).await {
                    Ok(true) => return Ok(true),
                    Ok(false) if layer.key_id.is_some() => {
                        reasons.push(format!("the cosign signature by key {key} does not verify"));
                    }
                    Ok(false) => {}
                    Err(reason) => reasons.push(reason),
                }
            }
        }
        if reasons.is_empty() {
            Ok(false)
        } else {
            Err(reasons)
        }
    }

    /// Reads a layer's payload and checks, every time, that it names exactly this image in
    /// this registry
    async fn claimed_payload(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        layer: &Layer,
    ) -> Result<Vec<u8>, String> {
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
        Ok(bytes)
    }

    /// Whether `key` made the layer's signature over `bytes` (a payload
    /// [`Self::claimed_payload`] checked); the vault's answer alone is cached, by key,
    /// version, algorithm, payload digest and signature: all that decides it
    async fn cosign_check(&self, layer: &Layer, key: &str, bytes: &[u8]) -> Result<bool, String> {
        let named = (&layer.key_version_id, &layer.algorithm);
        let cache_key = match named {
            (Some(version), Some(algorithm)) => format!(
                "cosign:{key}:{version}:{algorithm}:{}:{}",
                layer.digest, layer.signature
            ),
            _ => format!("cosign:{key}:any:{}:{}", layer.digest, layer.signature),
        };
        if let Some(valid) = self.cached(&cache_key) {
            return Ok(valid);
        }
        let valid = match named {
            (Some(version), Some(algorithm)) => {
                let details = serde_json::from_value(json!({
                    "keyId": key, "keyVersionId": version, "message": STANDARD.encode(bytes),
                    "signature": layer.signature, "signingAlgorithm": algorithm, "messageType": "RAW",
                }))
                .map_err(|e| e.to_string())?;
                self.vault
                    .verify_as_service(details)
                    .await
                    .map_err(|e| format!("key {key} cannot verify the cosign signature: {e}"))?
            }
            _ => {
                let Ok(signature) = STANDARD.decode(&layer.signature) else {
                    return Err("a cosign signature annotation is not base64".into());
                };
                self.vault
                    .signing_version_as_service(key, cosign_algorithm, bytes, &signature)
                    .await
                    .map_err(|e| format!("key {key} cannot verify the cosign signature: {e}"))?
                    .is_some()
            }
        };
        // Only good answers are kept: failures are an attacker's to choose and would only
        // crowd the cache.
        if valid {
            self.remember(&cache_key, true);
        }
        Ok(valid)
    }
}
