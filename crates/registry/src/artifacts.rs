//! Repositories and images as OCI Artifacts resources (`/20160918/container/repositories`,
//! `/20160918/container/images`), with the SDK's field names: what `oci artifacts container
//! ...` reads and changes. A repository is public (anonymous pulls) or immutable (tags
//! cannot move); an image is one manifest, its versions are its tags.

use std::collections::BTreeMap;

use portcullis_distribution::{Digest, RepositoryName};
use portcullis_iam::{Ocid, Principal, Variables};
use portcullis_identity::model::now;
use portcullis_identity::{IdentityError, decode, encode};
use portcullis_store::Txn;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    ManifestRecord, Registry, RegistryResult, Repository, image_key, manifest_key, repo_key,
    tag_prefix,
};

/// `CreateContainerRepositoryDetails`
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRepositoryDetails {
    /// Compartment
    pub compartment_id: Option<String>,
    /// The repository name
    pub display_name: Option<String>,
    /// Tags cannot move
    pub is_immutable: Option<bool>,
    /// Anonymous pulls
    pub is_public: Option<bool>,
    /// `{content, format}`
    pub readme: Option<Value>,
    /// Free-form tags
    pub freeform_tags: Option<BTreeMap<String, String>>,
    /// Defined tags
    pub defined_tags: Option<BTreeMap<String, BTreeMap<String, Value>>>,
}

/// `UpdateContainerRepositoryDetails`
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRepositoryDetails {
    /// Tags cannot move
    pub is_immutable: Option<bool>,
    /// Anonymous pulls
    pub is_public: Option<bool>,
    /// `{content, format}`
    pub readme: Option<Value>,
    /// Free-form tags
    pub freeform_tags: Option<BTreeMap<String, String>>,
    /// Defined tags
    pub defined_tags: Option<BTreeMap<String, BTreeMap<String, Value>>>,
}

/// `ContainerRepository`
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRepository {
    /// Compartment
    pub compartment_id: String,
    /// Who created it
    pub created_by: String,
    /// The name
    pub display_name: String,
    /// OCID
    pub id: String,
    /// Manifests in it
    pub image_count: u64,
    /// Tags cannot move
    pub is_immutable: bool,
    /// Anonymous pulls
    pub is_public: bool,
    /// Blobs in it
    pub layer_count: u64,
    /// Their total size
    pub layers_size_in_bytes: u64,
    /// `AVAILABLE`
    pub lifecycle_state: String,
    /// `{content, format}`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readme: Option<Value>,
    /// RFC 3339
    pub time_created: String,
    /// When a manifest was last pushed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_last_pushed: Option<String>,
    /// The namespace (the tenancy's name)
    pub namespace: String,
    /// Free-form tags
    pub freeform_tags: BTreeMap<String, String>,
    /// Defined tags
    pub defined_tags: BTreeMap<String, BTreeMap<String, Value>>,
}

/// `ContainerImageLayer`
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageLayer {
    /// Digest
    pub digest: String,
    /// Size
    pub size_in_bytes: u64,
}

/// `ContainerVersion`
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageVersion {
    /// The tag
    pub version: String,
}

/// `ContainerImage` (the summary is the same without layers and counts)
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImage {
    /// Compartment (of the repository)
    pub compartment_id: String,
    /// The manifest digest
    pub digest: String,
    /// `<repository>:<version>` or `<repository>@<digest>`
    pub display_name: String,
    /// OCID
    pub id: String,
    /// `AVAILABLE`
    pub lifecycle_state: String,
    /// The repository's OCID
    pub repository_id: String,
    /// The repository's name
    pub repository_name: String,
    /// RFC 3339
    pub time_created: String,
    /// The first tag, if any
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Every tag
    pub versions: Vec<ImageVersion>,
    /// Layers (and config)
    pub layers: Vec<ImageLayer>,
    /// Their total size
    pub layers_size_in_bytes: u64,
    /// The manifest's size
    pub manifest_size_in_bytes: u64,
    /// Manifest GETs
    pub pull_count: u64,
    /// When it was last pulled
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_last_pulled: Option<String>,
}

fn invalid(message: impl Into<String>) -> IdentityError {
    IdentityError::InvalidParameter(message.into())
}

fn repo_target(name: &str) -> Variables {
    Variables::new().with("target.repo.name", name)
}

impl Registry {
    async fn repository_by_id(
        &self,
        id: &str,
    ) -> RegistryResult<(RepositoryName, Repository, u64)> {
        if Ocid::parse_typed(id, &["containerrepo"]).is_err() {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        }
        for entry in self.store().list_all("reg/repo/").await? {
            let repository: Repository = decode(&entry.value)?;
            if repository.id == id {
                let name = RepositoryName::parse(&repository.display_name)?;
                return Ok((name, repository, entry.mod_revision));
            }
        }
        Err(IdentityError::NotAuthorizedOrNotFound.into())
    }

    async fn describe(
        &self,
        name: &RepositoryName,
        repository: Repository,
    ) -> RegistryResult<ContainerRepository> {
        let manifests = self
            .store()
            .list_all(&format!("reg/manifest/{name}@"))
            .await?
            .len() as u64;
        let mut layer_count = 0u64;
        let mut layers_size = 0u64;
        for entry in self.store().list_all(&format!("reg/blob/{name}@")).await? {
            layer_count += 1;
            layers_size += String::from_utf8_lossy(&entry.value)
                .parse::<u64>()
                .unwrap_or(0);
        }
        Ok(ContainerRepository {
            compartment_id: repository.compartment_id,
            created_by: repository.created_by,
            display_name: repository.display_name,
            id: repository.id,
            image_count: manifests,
            is_immutable: repository.is_immutable,
            is_public: repository.is_public,
            layer_count,
            layers_size_in_bytes: layers_size,
            lifecycle_state: repository.lifecycle_state,
            readme: repository.readme,
            time_created: repository.time_created,
            time_last_pushed: repository.time_last_pushed,
            namespace: self.identity.tenancy().name.clone(),
            freeform_tags: repository.freeform_tags,
            defined_tags: repository.defined_tags,
        })
    }

    /// `CreateContainerRepository`
    pub async fn create_repository(
        &self,
        caller: &Principal,
        details: CreateRepositoryDetails,
    ) -> RegistryResult<ContainerRepository> {
        let compartment = details
            .compartment_id
            .ok_or_else(|| IdentityError::MissingParameter("`compartmentId` is required".into()))?;
        let display_name = details
            .display_name
            .ok_or_else(|| IdentityError::MissingParameter("`displayName` is required".into()))?;
        let name = RepositoryName::parse(&display_name)
            .map_err(|e| invalid(format!("`displayName`: {}", e.message)))?;
        self.identity.authorize(
            caller,
            "CreateContainerRepository",
            &compartment,
            &repo_target(name.as_str()),
        )?;
        let revision = self
            .identity
            .active_compartment(&compartment)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        let repository = Repository {
            id: Ocid::generate("containerrepo", Some(self.identity.region())).into_string(),
            display_name: name.to_string(),
            compartment_id: compartment.clone(),
            is_public: details.is_public.unwrap_or(false),
            is_immutable: details.is_immutable.unwrap_or(false),
            time_created: now(),
            created_by: caller.id().to_owned(),
            lifecycle_state: "AVAILABLE".into(),
            time_last_pushed: None,
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            defined_tags: details.defined_tags.unwrap_or_default(),
            readme: details.readme,
        };
        let txn = Txn::new()
            .require_absent(repo_key(&name))
            .put(repo_key(&name), encode(&repository)?);
        let txn = self.identity.attach_to_compartment(
            txn,
            &compartment,
            revision,
            "containerrepo",
            &repository.id,
        );
        portcullis_identity::commit_or(self.store(), txn, || {
            IdentityError::AlreadyExists(format!("a repository named `{name}` already exists"))
        })
        .await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), repository = %name, "repository created");
        self.describe(&name, repository).await
    }

    /// `GetContainerRepository`
    pub async fn get_repository(
        &self,
        caller: &Principal,
        id: &str,
    ) -> RegistryResult<ContainerRepository> {
        let (name, repository, _) = self.repository_by_id(id).await?;
        self.identity.authorize(
            caller,
            "GetContainerRepository",
            &repository.compartment_id,
            &repo_target(name.as_str()),
        )?;
        self.describe(&name, repository).await
    }

    /// `ListContainerRepositories` in a compartment
    pub async fn list_repositories(
        &self,
        caller: &Principal,
        compartment_id: &str,
        display_name: Option<&str>,
    ) -> RegistryResult<Value> {
        self.identity.authorize(
            caller,
            "ListContainerRepositories",
            compartment_id,
            &Variables::new(),
        )?;
        let mut items = Vec::new();
        for entry in self.store().list_all("reg/repo/").await? {
            let repository: Repository = decode(&entry.value)?;
            if repository.compartment_id == compartment_id
                && display_name.is_none_or(|n| n == repository.display_name)
            {
                let name = RepositoryName::parse(&repository.display_name)?;
                items.push(self.describe(&name, repository).await?);
            }
        }
        let (images, layers, size) = items.iter().fold((0, 0, 0), |(i, l, s), r| {
            (
                i + r.image_count,
                l + r.layer_count,
                s + r.layers_size_in_bytes,
            )
        });
        Ok(serde_json::json!({
            "items": items, "repositoryCount": items.len(), "imageCount": images,
            "layerCount": layers, "layersSizeInBytes": size, "remainingItemsCount": 0,
        }))
    }

    /// `UpdateContainerRepository`: public, immutable, readme, tags
    pub async fn update_repository(
        &self,
        caller: &Principal,
        id: &str,
        details: UpdateRepositoryDetails,
    ) -> RegistryResult<ContainerRepository> {
        let (name, mut repository, revision) = self.repository_by_id(id).await?;
        self.identity.authorize(
            caller,
            "UpdateContainerRepository",
            &repository.compartment_id,
            &repo_target(name.as_str()),
        )?;
        if let Some(public) = details.is_public {
            repository.is_public = public;
        }
        if let Some(immutable) = details.is_immutable {
            repository.is_immutable = immutable;
        }
        if let Some(readme) = details.readme {
            repository.readme = Some(readme);
        }
        if let Some(tags) = details.freeform_tags {
            repository.freeform_tags = tags;
        }
        if let Some(tags) = details.defined_tags {
            repository.defined_tags = tags;
        }
        let txn = Txn::new()
            .require_revision(repo_key(&name), revision)
            .put(repo_key(&name), encode(&repository)?);
        portcullis_identity::commit_or(self.store(), txn, || IdentityError::Conflict).await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), repository = %name, public = repository.is_public, immutable = repository.is_immutable, "repository updated");
        self.describe(&name, repository).await
    }

    /// `DeleteContainerRepository`: the repository, its manifests, tags and blob links
    pub async fn delete_repository(&self, caller: &Principal, id: &str) -> RegistryResult<()> {
        let (name, repository, _) = self.repository_by_id(id).await?;
        self.identity.authorize(
            caller,
            "DeleteContainerRepository",
            &repository.compartment_id,
            &repo_target(name.as_str()),
        )?;
        let mut txn = Txn::new().delete(repo_key(&name));
        for prefix in [
            format!("reg/manifest/{name}@"),
            format!("reg/blob/{name}@"),
            tag_prefix(&name),
            format!("reg/referrer/{name}@"),
        ] {
            for entry in self.store().list_all(&prefix).await? {
                if prefix.starts_with("reg/manifest/") {
                    let record: ManifestRecord = decode(&entry.value)?;
                    txn = txn.delete(image_key(&record.image_id));
                }
                txn = txn.delete(entry.key);
            }
        }
        let txn = self.identity.detach_from_compartment(
            txn,
            &repository.compartment_id,
            "containerrepo",
            &repository.id,
        );
        self.store().commit(txn).await?;
        tracing::info!(target: "portcullis::audit", principal = %caller.describe(), repository = %name, "repository deleted");
        Ok(())
    }

    async fn image(
        &self,
        name: &RepositoryName,
        repository: &Repository,
        digest: &Digest,
    ) -> RegistryResult<ContainerImage> {
        let Some(entry) = self.store().get(&manifest_key(name, digest)).await? else {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        };
        let record: ManifestRecord = decode(&entry.value)?;
        let mut versions: Vec<String> = self
            .store()
            .list_all(&tag_prefix(name))
            .await?
            .into_iter()
            .filter(|t| t.value == digest.to_string().into_bytes())
            .filter_map(|t| t.key.strip_prefix(&tag_prefix(name)).map(str::to_owned))
            .collect();
        versions.sort();
        let bytes = tokio::fs::read(self.blobs.path(digest)).await?;
        let layers: Vec<ImageLayer> =
            portcullis_distribution::manifest::parse(&bytes, Some(&record.media_type))
                .map(|m| {
                    m.references
                        .into_iter()
                        .map(|d| ImageLayer {
                            digest: d.digest,
                            size_in_bytes: d.size,
                        })
                        .collect()
                })
                .unwrap_or_default();
        let version = versions.first().cloned();
        let pulls: crate::Pulls = match self
            .store()
            .get(&format!("reg/pulls/{}", record.image_id))
            .await?
        {
            Some(entry) => decode(&entry.value)?,
            None => crate::Pulls::default(),
        };
        Ok(ContainerImage {
            compartment_id: repository.compartment_id.clone(),
            digest: digest.to_string(),
            display_name: match &version {
                Some(v) => format!("{name}:{v}"),
                None => format!("{name}@{digest}"),
            },
            id: record.image_id,
            lifecycle_state: "AVAILABLE".into(),
            repository_id: repository.id.clone(),
            repository_name: name.to_string(),
            time_created: record.time_created,
            version,
            versions: versions
                .into_iter()
                .map(|version| ImageVersion { version })
                .collect(),
            layers_size_in_bytes: layers.iter().map(|l| l.size_in_bytes).sum(),
            layers,
            manifest_size_in_bytes: record.size,
            pull_count: pulls.count,
            time_last_pulled: pulls.time_last_pulled,
        })
    }

    async fn image_by_id(&self, id: &str) -> RegistryResult<(RepositoryName, Repository, Digest)> {
        if Ocid::parse_typed(id, &["containerimage"]).is_err() {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        }
        let Some(entry) = self.store().get(&image_key(id)).await? else {
            return Err(IdentityError::NotAuthorizedOrNotFound.into());
        };
        let text =
            String::from_utf8(entry.value).map_err(|_| IdentityError::NotAuthorizedOrNotFound)?;
        let (name, digest) = text
            .rsplit_once('@')
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        let name = RepositoryName::parse(name)?;
        let repository = self
            .repository(&name)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        Ok((name, repository, Digest::parse(digest)?))
    }

    /// `GetContainerImage`
    pub async fn get_image(&self, caller: &Principal, id: &str) -> RegistryResult<ContainerImage> {
        let (name, repository, digest) = self.image_by_id(id).await?;
        self.identity.authorize(
            caller,
            "GetContainerImage",
            &repository.compartment_id,
            &repo_target(name.as_str()),
        )?;
        self.image(&name, &repository, &digest).await
    }

    /// `ListContainerImages` in a compartment, optionally of one repository
    pub async fn list_images(
        &self,
        caller: &Principal,
        compartment_id: &str,
        repository_name: Option<&str>,
    ) -> RegistryResult<Value> {
        self.identity.authorize(
            caller,
            "ListContainerImages",
            compartment_id,
            &Variables::new(),
        )?;
        let mut items = Vec::new();
        for entry in self.store().list_all("reg/repo/").await? {
            let repository: Repository = decode(&entry.value)?;
            if repository.compartment_id != compartment_id
                || repository_name.is_some_and(|n| n != repository.display_name)
            {
                continue;
            }
            let name = RepositoryName::parse(&repository.display_name)?;
            for manifest in self
                .store()
                .list_all(&format!("reg/manifest/{name}@"))
                .await?
            {
                if let Some((_, digest)) = manifest.key.rsplit_once('@') {
                    let mut image = self
                        .image(&name, &repository, &Digest::parse(digest)?)
                        .await?;
                    image.layers.clear();
                    items.push(image);
                }
            }
        }
        Ok(serde_json::json!({"items": items, "remainingItemsCount": 0}))
    }

    /// `DeleteContainerImage`: the manifest and every tag of it
    pub async fn delete_image(&self, caller: &Principal, id: &str) -> RegistryResult<()> {
        let (name, repository, digest) = self.image_by_id(id).await?;
        self.identity.authorize(
            caller,
            "DeleteContainerImage",
            &repository.compartment_id,
            &repo_target(name.as_str()),
        )?;
        self.delete_manifest(&name, &portcullis_distribution::Reference::Digest(digest))
            .await
    }
}
