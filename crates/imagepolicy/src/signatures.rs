//! `/20160918/container/imageSignatures`: image signatures as OCIR keeps them.
//!
//! An upload is checked before it is kept: the algorithm is one of the four RSA-PSS ones,
//! the message agrees with the image, repository, region, key and version it is uploaded
//! for (so a signature cannot be replayed onto another image), and the signature verifies
//! with that key version. Each image carries at most one signature per key. Every signature
//! is also stored in the registry as an OCI 1.1 referrer of the image (an artifact whose
//! `subject` is the image), so copies made with the referrers API carry it along.

use std::collections::BTreeMap;

use portcullis_distribution::{Digest, Reference, RepositoryName};
use portcullis_iam::{Ocid, Principal, Variables};
use portcullis_identity::model::now;
use portcullis_identity::{IdentityError, decode, encode, parse_ocid};
use portcullis_sign::{Expected, SignedMessage, SigningAlgorithm};
use portcullis_store::{StoreError, Txn};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{ImagePolicyService, PolicyResult};

/// The artifact type of the referrers that carry our signatures
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.portcullis.image-signature.v1+json";

/// `ContainerImageSignature` (its summary has the same fields but `createdBy`)
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImageSignature {
    /// The repository's compartment
    pub compartment_id: String,
    /// Who uploaded it
    pub created_by: String,
    /// `<last 10 of key>::<last 10 of version>::<algorithm>::<last 10 of id>`
    pub display_name: String,
    /// `ocid1.containerimagesignature…`
    pub id: String,
    /// The signed image
    pub image_id: String,
    /// The key
    pub kms_key_id: String,
    /// The key version
    pub kms_key_version_id: String,
    /// base64 of the signed JSON
    pub message: String,
    /// base64 signature
    pub signature: String,
    /// One of the four RSA-PSS algorithms
    pub signing_algorithm: SigningAlgorithm,
    /// RFC 3339
    pub time_created: String,
    /// `AVAILABLE`
    pub lifecycle_state: String,
    /// Free-form tags
    #[serde(default)]
    pub freeform_tags: BTreeMap<String, String>,
    /// Defined tags
    #[serde(default)]
    pub defined_tags: BTreeMap<String, BTreeMap<String, Value>>,
    /// System tags
    #[serde(default)]
    pub system_tags: BTreeMap<String, BTreeMap<String, Value>>,
}

/// What the store keeps: the signature and where it points
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Stored {
    #[serde(flatten)]
    pub(crate) signature: ContainerImageSignature,
    pub(crate) repository_name: String,
    pub(crate) image_digest: String,
    /// The referrer artifact that carries it in the registry
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) referrer: Option<String>,
}

/// `CreateContainerImageSignatureDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateContainerImageSignatureDetails {
    /// The repository's compartment (required)
    pub compartment_id: Option<String>,
    /// The image (required)
    pub image_id: Option<String>,
    /// The key (required)
    pub kms_key_id: Option<String>,
    /// The key version (required)
    pub kms_key_version_id: Option<String>,
    /// base64 of the signed JSON (required)
    pub message: Option<String>,
    /// base64 signature (required)
    pub signature: Option<String>,
    /// The algorithm (required)
    pub signing_algorithm: Option<String>,
    /// Free-form tags
    pub freeform_tags: Option<BTreeMap<String, String>>,
    /// Defined tags
    pub defined_tags: Option<BTreeMap<String, BTreeMap<String, Value>>>,
}

/// `ListContainerImageSignatures`' filters
#[derive(Clone, Debug, Default)]
pub struct SignatureFilter {
    /// Compartment (required)
    pub compartment_id: String,
    /// Include the compartment's descendants
    pub compartment_id_in_subtree: bool,
    /// Only this image
    pub image_id: Option<String>,
    /// Only this repository (OCID)
    pub repository_id: Option<String>,
    /// Only this repository (name)
    pub repository_name: Option<String>,
    /// Only this digest
    pub image_digest: Option<String>,
    /// Only this display name
    pub display_name: Option<String>,
    /// Only this key
    pub kms_key_id: Option<String>,
    /// Only this key version
    pub kms_key_version_id: Option<String>,
    /// Only this algorithm
    pub signing_algorithm: Option<String>,
}

pub(crate) fn signature_key(id: &str) -> String {
    format!("reg/signature/{id}")
}

/// The one signature an image may have per key: `reg/imagesig-key/<repo>@<digest>/<key>`
fn key_claim(repository: &str, digest: &str, key_id: &str) -> String {
    format!("reg/imagesig-key/{repository}@{digest}/{key_id}")
}

/// Signatures of one image, for admission: `reg/imagesig/<repo>@<digest>/<id>`
pub(crate) fn image_prefix(repository: &str, digest: &str) -> String {
    format!("reg/imagesig/{repository}@{digest}/")
}

fn missing(name: &str) -> IdentityError {
    IdentityError::MissingParameter(format!("`{name}` is required"))
}

fn invalid(message: impl Into<String>) -> IdentityError {
    IdentityError::InvalidParameter(message.into())
}

/// Whether an optional list filter lets `value` through
fn wanted(filter: &Option<String>, value: &str) -> bool {
    filter.as_deref().is_none_or(|f| f == value)
}

fn tail(text: &str) -> &str {
    text.get(text.len().saturating_sub(10)..).unwrap_or(text)
}

fn repo_target(name: &str) -> Variables {
    Variables::new().with("target.repo.name", name)
}

impl ImagePolicyService {
    /// `CreateContainerImageSignature`
    pub async fn create_signature(
        &self,
        caller: &Principal,
        details: CreateContainerImageSignatureDetails,
    ) -> PolicyResult<ContainerImageSignature> {
        let compartment = parse_ocid(
            details
                .compartment_id
                .as_deref()
                .ok_or_else(|| missing("compartmentId"))?,
            "compartmentId",
        )?;
        let image_id = parse_ocid(
            details
                .image_id
                .as_deref()
                .ok_or_else(|| missing("imageId"))?,
            "imageId",
        )?;
        let key_id = details.kms_key_id.ok_or_else(|| missing("kmsKeyId"))?;
        let version_id = details
            .kms_key_version_id
            .ok_or_else(|| missing("kmsKeyVersionId"))?;
        let message = details.message.ok_or_else(|| missing("message"))?;
        let signature = details.signature.ok_or_else(|| missing("signature"))?;
        let algorithm = SigningAlgorithm::parse(
            details
                .signing_algorithm
                .as_deref()
                .ok_or_else(|| missing("signingAlgorithm"))?,
        )
        .map_err(|e| invalid(e.to_string()))?;
        let image = self.registry.get_image(caller, &image_id).await?;
        self.identity.authorize(
            caller,
            "CreateContainerImageSignature",
            &image.compartment_id,
            &repo_target(&image.repository_name),
        )?;
        if compartment != image.compartment_id {
            return Err(invalid(format!(
                "`compartmentId` must be the repository's compartment ({})",
                image.compartment_id
            ))
            .into());
        }
        let parsed = SignedMessage::decode(&message).map_err(|e| invalid(e.to_string()))?;
        parsed
            .check(&Expected {
                image_digest: &image.digest,
                repository_name: &image.repository_name,
                region: self.identity.region(),
                kms_key_id: &key_id,
                kms_key_version_id: &version_id,
                signing_algorithm: algorithm,
            })
            .map_err(|e| invalid(e.to_string()))?;
        let valid = self
            .vault
            .verify_as_service(verify_details(
                &key_id,
                &version_id,
                &message,
                &signature,
                algorithm,
            )?)
            .await
            .map_err(|e| match e {
                portcullis_vault::VaultError::Identity(IdentityError::NotAuthorizedOrNotFound) => {
                    invalid(format!(
                        "key {key_id} version {version_id} does not exist or cannot verify"
                    ))
                }
                portcullis_vault::VaultError::Identity(other) => other,
                other => invalid(format!("the signature cannot be checked: {other}")),
            })?;
        if !valid {
            return Err(invalid(format!(
                "`signature` does not verify with key {key_id} version {version_id} over the message"
            ))
            .into());
        }
        let prefix = image_prefix(&image.repository_name, &image.digest);
        for entry in self.store().list_all(&prefix).await? {
            let id = String::from_utf8_lossy(&entry.value).into_owned();
            if let Some(existing) = self.stored(&id).await?
                && existing.signature.kms_key_id == key_id
            {
                return Err(IdentityError::AlreadyExists(format!(
                    "image {} already has a signature by key {key_id} ({id})",
                    image.digest
                ))
                .into());
            }
        }
        let id =
            Ocid::generate("containerimagesignature", Some(self.identity.region())).into_string();
        let record = ContainerImageSignature {
            compartment_id: image.compartment_id.clone(),
            created_by: caller.id().to_owned(),
            display_name: format!(
                "{}::{}::{}::{}",
                tail(&key_id),
                tail(&version_id),
                algorithm.as_str(),
                tail(&id)
            ),
            id: id.clone(),
            image_id: image.id.clone(),
            kms_key_id: key_id,
            kms_key_version_id: version_id,
            message,
            signature,
            signing_algorithm: algorithm,
            time_created: now(),
            lifecycle_state: "AVAILABLE".into(),
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            defined_tags: details.defined_tags.unwrap_or_default(),
            system_tags: BTreeMap::new(),
        };
        // The record and its claim on (image, key) commit first and together, so two
        // uploads by the same key at once cannot both land; the referrer artifact follows,
        // and a failure to push it takes the record back out.
        let claim = key_claim(&image.repository_name, &image.digest, &record.kms_key_id);
        let mut stored = Stored {
            signature: record.clone(),
            repository_name: image.repository_name.clone(),
            image_digest: image.digest.clone(),
            referrer: None,
        };
        let committed = self
            .store()
            .commit(
                Txn::new()
                    .require_absent(signature_key(&id))
                    .require_absent(&claim)
                    .put(signature_key(&id), encode(&stored)?)
                    .put(&claim, id.clone().into_bytes())
                    .put(format!("{prefix}{id}"), id.clone().into_bytes()),
            )
            .await;
        let revision = match committed {
            Ok(revision) => revision,
            Err(StoreError::Conflict) => {
                return Err(IdentityError::AlreadyExists(format!(
                    "image {} already has a signature by key {}",
                    image.digest, record.kms_key_id
                ))
                .into());
            }
            Err(e) => return Err(e.into()),
        };
        let undo = Txn::new()
            .delete(signature_key(&id))
            .delete(&claim)
            .delete(format!("{prefix}{id}"));
        let referrer = match self
            .push_referrer(&image.repository_name, &image.digest, &record)
            .await
        {
            Ok(referrer) => referrer,
            Err(e) => {
                if let Err(undo_error) = self.store().commit(undo).await {
                    tracing::warn!(signature = %id, error = %undo_error, "a signature whose referrer could not be pushed could not be taken back");
                }
                return Err(e);
            }
        };
        stored.referrer = Some(referrer.clone());
        let recorded = self
            .store()
            .commit(
                Txn::new()
                    .require_revision(signature_key(&id), revision)
                    .put(signature_key(&id), encode(&stored)?),
            )
            .await;
        if let Err(e) = recorded {
            // Deleted meanwhile: the artifact goes too, or it would outlive its record.
            self.remove_referrer(&id, &image.repository_name, &referrer)
                .await;
            if !matches!(e, StoreError::Conflict) {
                return Err(e.into());
            }
        }
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), signature = %id, image = %image.digest, repository = %image.repository_name, key = %record.kms_key_id, "image signature created");
        Ok(record)
    }

    /// Deletes a signature's referrer artifact; a failure is logged, since the signature
    /// record is what admission reads
    async fn remove_referrer(&self, id: &str, repository: &str, referrer: &str) {
        if let (Ok(name), Ok(digest)) = (RepositoryName::parse(repository), Digest::parse(referrer))
            && let Err(e) = self
                .registry
                .delete_manifest(&name, &Reference::Digest(digest))
                .await
        {
            tracing::warn!(signature = %id, error = %e, "the signature's referrer artifact could not be removed");
        }
    }

    /// Stores the signature as an artifact whose `subject` is the image; returns its digest
    async fn push_referrer(
        &self,
        repository: &str,
        image_digest: &str,
        signature: &ContainerImageSignature,
    ) -> PolicyResult<String> {
        let name = RepositoryName::parse(repository).map_err(|e| invalid(e.message))?;
        let image = self
            .registry
            .manifest(
                &name,
                &Reference::Digest(Digest::parse(image_digest).map_err(|e| invalid(e.message))?),
            )
            .await?;
        let payload = serde_json::to_vec(&json!({
            "kmsKeyId": signature.kms_key_id,
            "kmsKeyVersionId": signature.kms_key_version_id,
            "signingAlgorithm": signature.signing_algorithm,
            "message": signature.message,
            "signature": signature.signature,
        }))
        .map_err(|e| invalid(e.to_string()))?;
        let empty = b"{}";
        let config = self.registry.put_blob(&name, empty).await?;
        let layer = self.registry.put_blob(&name, &payload).await?;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": SIGNATURE_ARTIFACT_TYPE,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config.to_string(), "size": empty.len()},
            "layers": [{"mediaType": SIGNATURE_ARTIFACT_TYPE, "digest": layer.to_string(), "size": payload.len()}],
            "subject": {"mediaType": image.media_type, "digest": image_digest, "size": image.bytes.len()},
            "annotations": {
                "com.oracle.ocir.signature.id": signature.id,
                "com.oracle.ocir.signature.kmsKeyId": signature.kms_key_id,
                "org.opencontainers.image.created": signature.time_created,
            },
        }))
        .map_err(|e| invalid(e.to_string()))?;
        let digest = portcullis_distribution::Digest::of(
            portcullis_distribution::Algorithm::Sha256,
            &manifest,
        );
        self.registry
            .put_manifest(
                &name,
                &Reference::Digest(digest.clone()),
                Some("application/vnd.oci.image.manifest.v1+json"),
                &manifest,
                "portcullis",
            )
            .await?;
        Ok(digest.to_string())
    }

    pub(crate) async fn stored(&self, id: &str) -> PolicyResult<Option<Stored>> {
        match self.store().get(&signature_key(id)).await? {
            Some(entry) => Ok(Some(decode(&entry.value)?)),
            None => Ok(None),
        }
    }

    /// `GetContainerImageSignature`
    pub async fn get_signature(
        &self,
        caller: &Principal,
        id: &str,
    ) -> PolicyResult<ContainerImageSignature> {
        let stored = self
            .stored(id)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        self.identity.authorize(
            caller,
            "GetContainerImageSignature",
            &stored.signature.compartment_id,
            &repo_target(&stored.repository_name),
        )?;
        Ok(stored.signature)
    }

    /// `ListContainerImageSignatures`: `{"items": [...], "remainingItemsCount": 0}`
    pub async fn list_signatures(
        &self,
        caller: &Principal,
        filter: &SignatureFilter,
    ) -> PolicyResult<Value> {
        self.identity.authorize(
            caller,
            "ListContainerImageSignatures",
            &filter.compartment_id,
            &Variables::new(),
        )?;
        let repository_name = match &filter.repository_id {
            Some(id) => Some(self.registry.get_repository(caller, id).await?.display_name),
            None => filter.repository_name.clone(),
        };
        let mut items = Vec::new();
        for entry in self.store().list_all("reg/signature/").await? {
            let stored: Stored = decode(&entry.value)?;
            let s = &stored.signature;
            let compartment_ok = s.compartment_id == filter.compartment_id
                || (filter.compartment_id_in_subtree
                    && self
                        .identity
                        .authorizer()
                        .directory()
                        .is_within(&s.compartment_id, &filter.compartment_id));
            let keep = compartment_ok
                && wanted(&filter.image_id, &s.image_id)
                && wanted(&repository_name, &stored.repository_name)
                && wanted(&filter.image_digest, &stored.image_digest)
                && wanted(&filter.display_name, &s.display_name)
                && wanted(&filter.kms_key_id, &s.kms_key_id)
                && wanted(&filter.kms_key_version_id, &s.kms_key_version_id)
                && wanted(&filter.signing_algorithm, s.signing_algorithm.as_str());
            if keep {
                items.push(stored.signature);
            }
        }
        items.sort_by(|a, b| b.time_created.cmp(&a.time_created));
        Ok(json!({"items": items, "remainingItemsCount": 0}))
    }

    /// `DeleteContainerImageSignature`: the image is no longer trusted by that key
    pub async fn delete_signature(&self, caller: &Principal, id: &str) -> PolicyResult<()> {
        let stored = self
            .stored(id)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        self.identity.authorize(
            caller,
            "DeleteContainerImageSignature",
            &stored.signature.compartment_id,
            &repo_target(&stored.repository_name),
        )?;
        self.store()
            .commit(
                Txn::new()
                    .delete(signature_key(id))
                    .delete(format!(
                        "{}{id}",
                        image_prefix(&stored.repository_name, &stored.image_digest)
                    ))
                    .delete(key_claim(
                        &stored.repository_name,
                        &stored.image_digest,
                        &stored.signature.kms_key_id,
                    )),
            )
            .await?;
        if let Some(referrer) = &stored.referrer {
            self.remove_referrer(id, &stored.repository_name, referrer)
                .await;
        }
        self.forget(id);
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), signature = %id, image = %stored.image_digest, repository = %stored.repository_name, "image signature deleted");
        Ok(())
    }
}

/// The vault's `Verify` request for an image signature: `message` is passed through as the
/// CLI passed it to `Sign`
pub(crate) fn verify_details(
    key_id: &str,
    version_id: &str,
    message: &str,
    signature: &str,
    algorithm: SigningAlgorithm,
) -> PolicyResult<portcullis_vault::crypto::VerifyDataDetails> {
    Ok(portcullis_vault::crypto::VerifyDataDetails {
        key_id: Some(key_id.to_owned()),
        key_version_id: Some(version_id.to_owned()),
        signature: Some(signature.to_owned()),
        message_type: None,
        message: Some(message.to_owned()),
        signing_algorithm: Some(
            serde_json::from_value(json!(algorithm.as_str()))
                .map_err(|e| invalid(e.to_string()))?,
        ),
    })
}
