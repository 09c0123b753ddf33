//! The container registry: the OCI Distribution API's state and rules, authorized by IAM as
//! OCIR does (`oci-reference.md` §3.4). Blobs are content-addressed files shared by every
//! repository ([`blobs`]); repositories, manifests, tags, referrers and upload sessions are
//! records in the store. The HTTP surface is `portcullis-api`'s `registry` module.
//!
//! Store keys use `:` and `@` after the repository name because names may contain `/`
//! but never those: `reg/tag/<name>:<tag>`, `reg/manifest/<name>@<digest>`,
//! `reg/blob/<name>@<digest>`, `reg/referrer/<name>@<subject>/<digest>`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use portcullis_distribution::digest::verify;
use portcullis_distribution::error::DistributionResult;
use portcullis_distribution::manifest::{self, Descriptor, Kind};
use portcullis_distribution::range::ByteRange;
use portcullis_distribution::{
    Algorithm, Code, Digest, DistributionError, Hasher, Reference, RepositoryName,
};
use portcullis_iam::{Ocid, Principal, Variables};
use portcullis_identity::model::now;
use portcullis_identity::{IdentityError, IdentityService, decode, encode};
use portcullis_store::{Store, StoreError, Txn};
use serde::{Deserialize, Serialize};

pub mod artifacts;
pub mod auth;
pub mod blobs;
pub mod gc;

use blobs::BlobStore;

/// Why a registry request failed
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The spec's errors
    #[error(transparent)]
    Distribution(#[from] DistributionError),
    /// No credentials where they are needed: 401 with a token challenge
    #[error("authentication required")]
    Unauthorized,
    /// Credentials that IAM does not allow for this: 403 `DENIED`
    #[error("requested access to the resource is denied")]
    Denied,
    /// The store failed
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The disk failed
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
}

impl From<StoreError> for RegistryError {
    fn from(error: StoreError) -> Self {
        RegistryError::Identity(IdentityError::Store(error))
    }
}

/// Shorthand for registry results
pub type RegistryResult<T> = Result<T, RegistryError>;

fn spec(code: Code, message: impl Into<String>) -> RegistryError {
    RegistryError::Distribution(DistributionError::new(code, message))
}

/// A repository record
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Repository {
    /// OCID (`ocid1.containerrepo...`)
    pub id: String,
    /// The repository name (OCIR's `displayName`)
    pub display_name: String,
    /// Compartment (the tenancy for push-created repositories, as OCIR does)
    pub compartment_id: String,
    /// Anonymous pulls allowed
    pub is_public: bool,
    /// Tags cannot be moved once set
    pub is_immutable: bool,
    /// RFC 3339
    pub time_created: String,
    /// Who created it
    pub created_by: String,
    /// `AVAILABLE`
    pub lifecycle_state: String,
    /// When a manifest was last pushed
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_last_pushed: Option<String>,
    /// Free-form tags
    #[serde(default)]
    pub freeform_tags: BTreeMap<String, String>,
    /// Defined tags
    #[serde(default)]
    pub defined_tags: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// `{content, format}`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readme: Option<serde_json::Value>,
}

/// A manifest record (the bytes are a blob under the same digest)
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestRecord {
    /// The media type it was pushed with
    pub media_type: String,
    /// Its size
    pub size: u64,
    /// The manifest it refers to
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// RFC 3339
    pub time_created: String,
    /// The image OCID (`ocid1.containerimage...`)
    pub image_id: String,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UploadRecord {
    name: String,
    pub(crate) time_started: String,
}

/// How often, and when last, an image was pulled
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pulls {
    /// Manifest GETs
    pub count: u64,
    /// RFC 3339
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_last_pulled: Option<String>,
}

/// What a caller wants to do to a repository
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Access {
    /// Read manifests, blobs, tags, referrers
    Pull,
    /// Upload and tag
    Push,
    /// Delete manifests, tags, blobs
    Delete,
}

/// A pushed manifest's digest and subject (for `OCI-Subject`)
#[derive(Clone, Debug)]
pub struct Pushed {
    /// The manifest's digest
    pub digest: Digest,
    /// Its subject, if any
    pub subject: Option<String>,
}

/// A manifest to serve
#[derive(Clone, Debug)]
pub struct FetchedManifest {
    /// `Content-Type`
    pub media_type: String,
    /// `Docker-Content-Digest`
    pub digest: Digest,
    /// The exact bytes pushed
    pub bytes: Vec<u8>,
    /// The image's OCID
    pub image_id: String,
}

fn repo_key(name: &RepositoryName) -> String {
    format!("reg/repo/{name}")
}
fn tag_prefix(name: &RepositoryName) -> String {
    format!("reg/tag/{name}:")
}
/// Where manifest records live: services that follow pushes watch this prefix
pub const MANIFEST_PREFIX: &str = "reg/manifest/";

fn manifest_key(name: &RepositoryName, digest: &Digest) -> String {
    format!("{MANIFEST_PREFIX}{name}@{digest}")
}

/// The repository and digest a manifest record's key names (`None` for other keys)
pub fn manifest_of_key(key: &str) -> Option<(RepositoryName, Digest)> {
    let (name, digest) = key.strip_prefix(MANIFEST_PREFIX)?.rsplit_once('@')?;
    Some((
        RepositoryName::parse(name).ok()?,
        Digest::parse(digest).ok()?,
    ))
}
fn blob_key(name: &RepositoryName, digest: &Digest) -> String {
    format!("reg/blob/{name}@{digest}")
}
fn referrer_prefix(name: &RepositoryName, subject: &str) -> String {
    format!("reg/referrer/{name}@{subject}/")
}
fn image_key(image_id: &str) -> String {
    format!("reg/image/{image_id}")
}

/// The registry
pub struct Registry {
    identity: Arc<IdentityService>,
    blobs: BlobStore,
    /// Hashers of open upload sessions; a session whose hasher was lost (a restart) is
    /// re-hashed from its file
    hashers: Mutex<HashMap<String, Hasher>>,
    tokens: auth::TokenIssuer,
    /// Read by pushes and blob commits, written by garbage collection
    sweep: tokio::sync::RwLock<()>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("blobs", &self.blobs)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry keeping blobs under `root`, signing tokens with `token_key`
    pub fn open(
        identity: Arc<IdentityService>,
        root: &Path,
        token_key: &[u8],
    ) -> RegistryResult<Registry> {
        Ok(Registry {
            identity,
            blobs: BlobStore::open(root)?,
            hashers: Mutex::new(HashMap::new()),
            tokens: auth::TokenIssuer::new(token_key),
            sweep: tokio::sync::RwLock::new(()),
        })
    }

    fn store(&self) -> &dyn Store {
        &**self.identity.store()
    }

    /// The identity service
    pub fn identity(&self) -> &Arc<IdentityService> {
        &self.identity
    }

    /// The token issuer of `/token`
    pub fn tokens(&self) -> &auth::TokenIssuer {
        &self.tokens
    }

    /// A repository's record
    pub async fn repository(&self, name: &RepositoryName) -> RegistryResult<Option<Repository>> {
        Ok(match self.store().get(&repo_key(name)).await? {
            Some(entry) => Some(decode(&entry.value)?),
            None => None,
        })
    }

    /// Checks that `caller` may `access` the repository; anonymous callers are only let
    /// through for pulls of public repositories
    pub async fn authorize(
        &self,
        caller: Option<&Principal>,
        name: &RepositoryName,
        access: Access,
    ) -> RegistryResult<()> {
        let repository = self.repository(name).await?;
        if access == Access::Pull && repository.as_ref().is_some_and(|r| r.is_public) {
            return Ok(());
        }
        let Some(caller) = caller else {
            return Err(RegistryError::Unauthorized);
        };
        let tenancy = self.identity.tenancy().id.clone();
        let compartment = repository
            .as_ref()
            .map_or(tenancy.as_str(), |r| r.compartment_id.as_str());
        let variables = Variables::new().with("target.repo.name", name.as_str());
        let allowed = |operation: &str, compartment: &str| {
            self.identity
                .authorize(caller, operation, compartment, &variables)
                .is_ok()
        };
        let ok = match access {
            Access::Pull => allowed("PullImage", compartment),
            Access::Push => {
                allowed("PushImage", compartment)
                    && (repository.is_some() || allowed("CreateContainerRepository", &tenancy))
            }
            Access::Delete => allowed("DeleteContainerImage", compartment),
        };
        if ok {
            Ok(())
        } else {
            Err(RegistryError::Denied)
        }
    }

    /// The repository, created on first push (in the tenancy, as OCIR does); `known` is
    /// the record when the caller has just read it
    async fn ensure_repository(
        &self,
        name: &RepositoryName,
        caller: &str,
        known: Option<Repository>,
    ) -> RegistryResult<Repository> {
        if let Some(repository) = known {
            return Ok(repository);
        }
        if let Some(repository) = self.repository(name).await? {
            return Ok(repository);
        }
        let repository = Repository {
            id: Ocid::generate("containerrepo", Some(self.identity.region())).into_string(),
            display_name: name.to_string(),
            compartment_id: self.identity.tenancy().id.clone(),
            is_public: false,
            is_immutable: false,
            time_created: now(),
            created_by: caller.to_owned(),
            lifecycle_state: "AVAILABLE".into(),
            time_last_pushed: None,
            freeform_tags: BTreeMap::new(),
            defined_tags: BTreeMap::new(),
            readme: None,
        };
        let txn = Txn::new()
            .require_absent(repo_key(name))
            .put(repo_key(name), encode(&repository)?);
        match self.store().commit(txn).await {
            Ok(_) => Ok(repository),
            // Another push created it first: use theirs.
            Err(StoreError::Conflict) => self
                .repository(name)
                .await?
                .ok_or_else(|| std::io::Error::other("repository vanished").into()),
            Err(e) => Err(e.into()),
        }
    }

    // ----- blobs ------------------------------------------------------------------------

    /// A blob of the repository: its size and file
    pub async fn blob(
        &self,
        name: &RepositoryName,
        digest: &Digest,
    ) -> RegistryResult<(u64, std::path::PathBuf)> {
        let linked = self.store().get(&blob_key(name, digest)).await?.is_some()
            || self
                .store()
                .get(&manifest_key(name, digest))
                .await?
                .is_some();
        let size = match (linked, self.blobs.size(digest).await?) {
            (true, Some(size)) => size,
            _ => {
                return Err(spec(
                    Code::BlobUnknown,
                    format!("blob unknown to registry: {digest}"),
                ));
            }
        };
        Ok((size, self.blobs.path(digest)))
    }

    /// Removes a blob from the repository (its file stays for other repositories)
    pub async fn delete_blob(&self, name: &RepositoryName, digest: &Digest) -> RegistryResult<()> {
        let key = blob_key(name, digest);
        if self.store().get(&key).await?.is_none() {
            return Err(spec(
                Code::BlobUnknown,
                format!("blob unknown to registry: {digest}"),
            ));
        }
        self.store().commit(Txn::new().delete(key)).await?;
        Ok(())
    }

    async fn link_blob(
        &self,
        name: &RepositoryName,
        digest: &Digest,
        size: u64,
    ) -> RegistryResult<()> {
        let _sweep = self.sweep.read().await;
        // A blob linked now is in use, whatever its age: garbage collection's grace period
        // counts from here.
        let path = self.blobs.path(digest);
        tokio::task::spawn_blocking(move || {
            std::fs::File::options()
                .write(true)
                .open(path)?
                .set_modified(std::time::SystemTime::now())
        })
        .await
        .map_err(std::io::Error::other)??;
        self.store()
            .commit(Txn::new().put(blob_key(name, digest), size.to_string().into_bytes()))
            .await?;
        Ok(())
    }

    /// Stores a small blob the server makes itself (an artifact's config or payload) and
    /// links it into the repository, as a monolithic push would
    pub async fn put_blob(&self, name: &RepositoryName, bytes: &[u8]) -> RegistryResult<Digest> {
        let digest = Digest::of(Algorithm::Sha256, bytes);
        self.blobs.write(&digest, bytes).await?;
        self.link_blob(name, &digest, bytes.len() as u64).await?;
        Ok(digest)
    }

    /// Cross-repository mount: links `digest` from `from` (or, with no `from`, from
    /// anywhere the caller may pull it) into `name`; `false` when it cannot be mounted
    pub async fn mount(
        &self,
        caller: Option<&Principal>,
        name: &RepositoryName,
        digest: &Digest,
        from: Option<&RepositoryName>,
        who: &str,
    ) -> RegistryResult<bool> {
        let Some(size) = self.blobs.size(digest).await? else {
            return Ok(false);
        };
        let source = match from {
            Some(from) => self
                .store()
                .get(&blob_key(from, digest))
                .await?
                .map(|_| from.clone()),
            None => {
                // Automatic mount: any repository holding the blob that the caller can read.
                let mut found = None;
                for entry in self.store().list_all("reg/blob/").await? {
                    if let Some((repo, d)) =
                        entry.key.trim_start_matches("reg/blob/").rsplit_once('@')
                        && d == digest.to_string()
                        && let Ok(repo) = RepositoryName::parse(repo)
                        && self.authorize(caller, &repo, Access::Pull).await.is_ok()
                    {
                        found = Some(repo);
                        break;
                    }
                }
                found
            }
        };
        let Some(source) = source else {
            return Ok(false);
        };
        if self.authorize(caller, &source, Access::Pull).await.is_err() {
            return Ok(false);
        }
        self.ensure_repository(name, who, None).await?;
        self.link_blob(name, digest, size).await?;
        Ok(true)
    }

    // ----- uploads ----------------------------------------------------------------------

    /// Opens an upload session and returns its id. A session lives in this server's
    /// `uploads/` directory (its data, and a `.session` file naming its repository), not in
    /// the store: a push costs one store commit, when its blob is linked.
    pub async fn start_upload(&self, name: &RepositoryName) -> RegistryResult<String> {
        let session = blobs::random_name();
        let record = UploadRecord {
            name: name.to_string(),
            time_started: now(),
        };
        tokio::fs::write(self.blobs.session_path(&session), encode(&record)?).await?;
        tokio::fs::File::create(self.blobs.upload_path(&session)).await?;
        Ok(session)
    }

    async fn session(&self, name: &RepositoryName, session: &str) -> RegistryResult<u64> {
        let unknown = || spec(Code::BlobUploadUnknown, "blob upload unknown to registry");
        if session.is_empty() || !session.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-') {
            return Err(unknown());
        }
        let record: UploadRecord = match tokio::fs::read(self.blobs.session_path(session)).await {
            Ok(bytes) => decode(&bytes).map_err(|_| unknown())?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(unknown()),
            Err(e) => return Err(e.into()),
        };
        if record.name != name.as_str() {
            return Err(unknown());
        }
        match tokio::fs::metadata(self.blobs.upload_path(session)).await {
            Ok(meta) => Ok(meta.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(unknown()),
            Err(e) => Err(e.into()),
        }
    }

    /// How many bytes a session holds (for `Range: 0-<n-1>`)
    pub async fn upload_offset(&self, name: &RepositoryName, session: &str) -> RegistryResult<u64> {
        self.session(name, session).await
    }

    /// The session's hasher, re-hashing its file if this process has none (after a restart)
    async fn take_hasher(&self, session: &str, algorithm: Algorithm) -> RegistryResult<Hasher> {
        let existing = self.hashers.lock().ok().and_then(|mut h| h.remove(session));
        if let Some(hasher) = existing {
            return Ok(hasher);
        }
        let path = self.blobs.upload_path(session);
        tokio::task::spawn_blocking(move || -> std::io::Result<Hasher> {
            use std::io::Read as _;
            let mut hasher = Hasher::new(algorithm);
            let mut file = std::fs::File::open(path)?;
            let mut buffer = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut buffer)?;
                if n == 0 {
                    return Ok(hasher);
                }
                hasher.update(buffer.get(..n).unwrap_or_default());
            }
        })
        .await
        .map_err(std::io::Error::other)?
        .map_err(RegistryError::from)
    }

    /// Appends a chunk; `range`, when given, must start where the session ends (else 416).
    /// Returns the new size.
    pub async fn append<S, E>(
        &self,
        name: &RepositoryName,
        session: &str,
        range: Option<ByteRange>,
        body: S,
    ) -> RegistryResult<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let offset = self.session(name, session).await?;
        if let Some(range) = range
            && range.start != offset
        {
            return Err(spec(
                Code::RangeInvalid,
                format!(
                    "the chunk starts at {}, but the upload holds {offset} bytes",
                    range.start
                ),
            ));
        }
        // Uploads are hashed with sha256 as they arrive; a sha512 digest re-hashes at the end.
        let hasher = self.take_hasher(session, Algorithm::Sha256).await?;
        let (hasher, _) = self
            .write_stream(session, hasher, body, range.map(|r| r.len()))
            .await?;
        if let Ok(mut hashers) = self.hashers.lock() {
            hashers.insert(session.to_owned(), hasher);
        }
        self.session(name, session).await
    }

    /// Appends `body` to the session's file, hashing as it goes. Chunks are gathered into
    /// 8 MiB batches (by reference, not copied); each batch is hashed on one blocking thread
    /// and written on another while the next one is received, so TLS and HTTP (here),
    /// SHA-256 and the page cache each get a core when there is one.
    /// On error the hasher is dropped; the next use re-hashes the file, whatever it holds.
    async fn write_stream<S, E>(
        &self,
        session: &str,
        hasher: Hasher,
        mut body: S,
        expected: Option<u64>,
    ) -> RegistryResult<(Hasher, u64)>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        const BATCH: usize = 8 * 1024 * 1024;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(self.blobs.upload_path(session))?;
        let writer = BatchWriter::new(file, hasher)?;
        let mut batch: Vec<Bytes> = Vec::new();
        let mut batched = 0usize;
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    // Whatever arrived is kept, so the client can resume from the
                    // session's offset; the hasher is rebuilt from the file.
                    if !batch.is_empty() {
                        writer.submit(std::mem::take(&mut batch)).await.ok();
                    }
                    writer.finish().await.ok();
                    return Err(spec(
                        Code::BlobUploadInvalid,
                        format!("the upload was interrupted: {e}"),
                    ));
                }
            };
            written = written.saturating_add(chunk.len() as u64);
            batched = batched.saturating_add(chunk.len());
            batch.push(chunk);
            if batched >= BATCH {
                if let Err(e) = writer.submit(std::mem::take(&mut batch)).await {
                    // A stopped thread's own error says more than the closed queue.
                    return Err(writer.finish().await.err().unwrap_or(e));
                }
                batched = 0;
            }
        }
        if !batch.is_empty()
            && let Err(e) = writer.submit(batch).await
        {
            return Err(writer.finish().await.err().unwrap_or(e));
        }
        let hasher = writer.finish().await?;
        if let Some(expected) = expected
            && expected != written
        {
            return Err(spec(
                Code::SizeInvalid,
                format!("Content-Range announced {expected} bytes but {written} arrived"),
            ));
        }
        Ok((hasher, written))
    }

    /// Completes an upload: appends the last bytes, checks the digest, commits the blob
    pub async fn finish_upload<S, E>(
        &self,
        name: &RepositoryName,
        session: &str,
        digest: &Digest,
        body: S,
        who: &str,
    ) -> RegistryResult<()>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.session(name, session).await?;
        let hasher = self.take_hasher(session, Algorithm::Sha256).await?;
        let (hasher, _) = self.write_stream(session, hasher, body, None).await?;
        let actual = if digest.algorithm() == Algorithm::Sha256 {
            hasher.finish()
        } else {
            self.take_hasher(session, digest.algorithm())
                .await?
                .finish()
        };
        let path = self.blobs.upload_path(session);
        if let Err(e) = verify(digest, &actual) {
            // The session stays open: the client may fix its digest and PUT again.
            return Err(e.into());
        }
        let size = tokio::fs::metadata(&path).await?.len();
        tokio::fs::File::open(&path).await?.sync_all().await?;
        self.blobs.commit_file(&path, digest).await?;
        self.ensure_repository(name, who, None).await?;
        self.link_blob(name, digest, size).await?;
        tokio::fs::remove_file(self.blobs.session_path(session))
            .await
            .ok();
        Ok(())
    }

    /// Cancels an upload session
    pub async fn cancel_upload(&self, name: &RepositoryName, session: &str) -> RegistryResult<()> {
        self.session(name, session).await?;
        if let Ok(mut hashers) = self.hashers.lock() {
            hashers.remove(session);
        }
        tokio::fs::remove_file(self.blobs.upload_path(session))
            .await
            .ok();
        tokio::fs::remove_file(self.blobs.session_path(session))
            .await
            .ok();
        Ok(())
    }

    // ----- manifests and tags -----------------------------------------------------------

    async fn resolve(
        &self,
        name: &RepositoryName,
        reference: &Reference,
    ) -> RegistryResult<Digest> {
        let unknown = || spec(Code::ManifestUnknown, "manifest unknown to registry");
        match reference {
            Reference::Digest(digest) => Ok(digest.clone()),
            Reference::Tag(tag) => {
                let entry = self
                    .store()
                    .get(&format!("{}{tag}", tag_prefix(name)))
                    .await?
                    .ok_or_else(unknown)?;
                let text = String::from_utf8(entry.value).map_err(|_| unknown())?;
                Ok(Digest::parse(&text)?)
            }
        }
    }

    /// Every repository, for services that act across them (scanning); no authorization
    pub async fn repositories(&self) -> RegistryResult<Vec<Repository>> {
        let mut out = Vec::new();
        for entry in self.store().list_all("reg/repo/").await? {
            out.push(decode(&entry.value)?);
        }
        Ok(out)
    }

    /// A repository's manifests with their records, in key order; no authorization
    pub async fn manifests(
        &self,
        name: &RepositoryName,
    ) -> RegistryResult<Vec<(Digest, ManifestRecord)>> {
        let mut out = Vec::new();
        for entry in self
            .store()
            .list_all(&format!("{MANIFEST_PREFIX}{name}@"))
            .await?
        {
            if let Some((_, digest)) = manifest_of_key(&entry.key) {
                out.push((digest, decode(&entry.value)?));
            }
        }
        Ok(out)
    }

    /// A manifest by tag or digest
    pub async fn manifest(
        &self,
        name: &RepositoryName,
        reference: &Reference,
    ) -> RegistryResult<FetchedManifest> {
        let digest = self.resolve(name, reference).await?;
        let Some(entry) = self.store().get(&manifest_key(name, &digest)).await? else {
            return Err(spec(Code::ManifestUnknown, "manifest unknown to registry"));
        };
        let record: ManifestRecord = decode(&entry.value)?;
        let bytes = tokio::fs::read(self.blobs.path(&digest)).await?;
        Ok(FetchedManifest {
            media_type: record.media_type,
            digest,
            bytes,
            image_id: record.image_id,
        })
    }

    /// Stores a manifest under a tag or its digest
    pub async fn put_manifest(
        &self,
        name: &RepositoryName,
        reference: &Reference,
        content_type: Option<&str>,
        bytes: &[u8],
        who: &str,
    ) -> RegistryResult<Pushed> {
        let parsed = manifest::parse(bytes, content_type)?;
        let digest = match reference {
            Reference::Digest(claimed) => {
                let actual = Digest::of(claimed.algorithm(), bytes);
                verify(claimed, &actual)?;
                actual
            }
            Reference::Tag(_) => Digest::of(Algorithm::Sha256, bytes),
        };
        // Held until the manifest is committed: a sweep must not remove what it references.
        let _sweep = self.sweep.read().await;
        self.check_references(name, &parsed.kind, &parsed.references)
            .await?;
        let repository = self.repository(name).await?;
        if let (Reference::Tag(tag), Some(repo)) = (reference, &repository)
            && repo.is_immutable
            && let Ok(existing) = self.resolve(name, reference).await
            && existing != digest
        {
            return Err(spec(
                Code::Denied,
                format!("repository {name} is immutable: tag {tag} cannot be moved"),
            ));
        }
        self.blobs.write(&digest, bytes).await?;
        let mut repo = self.ensure_repository(name, who, repository).await?;
        let existing: Option<ManifestRecord> =
            match self.store().get(&manifest_key(name, &digest)).await? {
                Some(entry) => Some(decode(&entry.value)?),
                None => None,
            };
        let record = ManifestRecord {
            media_type: parsed.media_type.clone(),
            size: bytes.len() as u64,
            subject: parsed.subject.as_ref().map(|s| s.digest.clone()),
            time_created: existing
                .as_ref()
                .map_or_else(now, |e| e.time_created.clone()),
            image_id: existing.map_or_else(
                || Ocid::generate("containerimage", Some(self.identity.region())).into_string(),
                |e| e.image_id,
            ),
        };
        let mut txn = Txn::new()
            .put(manifest_key(name, &digest), encode(&record)?)
            .put(
                image_key(&record.image_id),
                format!("{name}@{digest}").into_bytes(),
            );
        repo.time_last_pushed = Some(now());
        txn = txn.put(repo_key(name), encode(&repo)?);
        if let Reference::Tag(tag) = reference {
            txn = txn.put(
                format!("{}{tag}", tag_prefix(name)),
                digest.to_string().into_bytes(),
            );
        }
        if let Some(subject) = &parsed.subject {
            let descriptor = parsed.referrer(&digest, bytes.len() as u64);
            txn = txn.put(
                format!("{}{digest}", referrer_prefix(name, &subject.digest)),
                serde_json::to_vec(&descriptor)
                    .map_err(|e| std::io::Error::other(e.to_string()))?,
            );
        }
        self.store().commit(txn).await?;
        Ok(Pushed {
            digest,
            subject: record.subject,
        })
    }

    /// Counts a pull of an image (its manifest fetched with GET) and when it happened
    pub async fn record_pull(&self, image_id: &str) -> RegistryResult<()> {
        let key = format!("reg/pulls/{image_id}");
        let mut pulls: Pulls = match self.store().get(&key).await? {
            Some(entry) => decode(&entry.value)?,
            None => Pulls::default(),
        };
        pulls.count = pulls.count.saturating_add(1);
        pulls.time_last_pulled = Some(now());
        self.store()
            .commit(Txn::new().put(key, encode(&pulls)?))
            .await?;
        Ok(())
    }

    /// Refuses a manifest that names content the repository does not have
    async fn check_references(
        &self,
        name: &RepositoryName,
        kind: &Kind,
        references: &[Descriptor],
    ) -> RegistryResult<()> {
        for descriptor in references {
            let digest = Digest::parse(&descriptor.digest)?;
            let present = match kind {
                Kind::Image => self.store().get(&blob_key(name, &digest)).await?.is_some(),
                Kind::Index => self
                    .store()
                    .get(&manifest_key(name, &digest))
                    .await?
                    .is_some(),
            };
            if !present {
                return Err(RegistryError::Distribution(
                    DistributionError::new(
                        Code::ManifestBlobUnknown,
                        format!(
                            "the manifest references {digest}, which this repository does not have"
                        ),
                    )
                    .with_detail(serde_json::json!({"digest": digest.to_string()})),
                ));
            }
        }
        Ok(())
    }

    /// Deletes a tag, or a manifest and every tag pointing at it
    pub async fn delete_manifest(
        &self,
        name: &RepositoryName,
        reference: &Reference,
    ) -> RegistryResult<()> {
        match reference {
            Reference::Tag(tag) => {
                let key = format!("{}{tag}", tag_prefix(name));
                if self.store().get(&key).await?.is_none() {
                    return Err(spec(Code::ManifestUnknown, "manifest unknown to registry"));
                }
                self.store().commit(Txn::new().delete(key)).await?;
            }
            Reference::Digest(digest) => {
                let Some(entry) = self.store().get(&manifest_key(name, digest)).await? else {
                    return Err(spec(Code::ManifestUnknown, "manifest unknown to registry"));
                };
                let record: ManifestRecord = decode(&entry.value)?;
                let mut txn = Txn::new()
                    .delete(manifest_key(name, digest))
                    .delete(image_key(&record.image_id))
                    .delete(format!("reg/pulls/{}", record.image_id));
                for tag in self.store().list_all(&tag_prefix(name)).await? {
                    if tag.value == digest.to_string().into_bytes() {
                        txn = txn.delete(tag.key);
                    }
                }
                if let Some(subject) = record.subject {
                    txn = txn.delete(format!("{}{digest}", referrer_prefix(name, &subject)));
                }
                self.store().commit(txn).await?;
            }
        }
        Ok(())
    }

    /// Every tag of the repository, sorted
    pub async fn tags(&self, name: &RepositoryName) -> RegistryResult<Vec<String>> {
        let prefix = tag_prefix(name);
        let mut tags: Vec<String> = self
            .store()
            .list_all(&prefix)
            .await?
            .into_iter()
            .filter_map(|e| e.key.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        if tags.is_empty() && self.repository(name).await?.is_none() {
            return Err(spec(
                Code::NameUnknown,
                format!("repository name not known to registry: {name}"),
            ));
        }
        tags.sort();
        Ok(tags)
    }

    /// The manifests whose subject is `digest`
    pub async fn referrers(
        &self,
        name: &RepositoryName,
        digest: &Digest,
    ) -> RegistryResult<Vec<Descriptor>> {
        let mut found = Vec::new();
        for entry in self
            .store()
            .list_all(&referrer_prefix(name, &digest.to_string()))
            .await?
        {
            let descriptor: Descriptor = serde_json::from_slice(&entry.value)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            found.push(descriptor);
        }
        Ok(found)
    }
}

/// One upload's hashing and file writing, each on its own blocking thread fed by a bounded
/// queue: the receiver hands over a batch and goes back to the socket, and stops reading
/// only when both threads are [`BatchWriter::DEPTH`] batches behind.
struct BatchWriter {
    to_hash: tokio::sync::mpsc::Sender<Arc<Vec<Bytes>>>,
    to_write: tokio::sync::mpsc::Sender<Arc<Vec<Bytes>>>,
    hashed: tokio::task::JoinHandle<Hasher>,
    written: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl BatchWriter {
    /// Batches queued per thread before the receiver waits
    const DEPTH: usize = 4;

    /// Starts the two threads; `file` is positioned at its end (appends go through `seek`,
    /// not `O_APPEND`, which ext4 serialises more heavily).
    fn new(mut file: std::fs::File, mut hasher: Hasher) -> std::io::Result<BatchWriter> {
        use std::io::Seek as _;
        file.seek(std::io::SeekFrom::End(0))?;
        let (to_hash, mut hash_queue) = tokio::sync::mpsc::channel::<Arc<Vec<Bytes>>>(Self::DEPTH);
        let (to_write, mut write_queue) =
            tokio::sync::mpsc::channel::<Arc<Vec<Bytes>>>(Self::DEPTH);
        let hashed = tokio::task::spawn_blocking(move || {
            while let Some(batch) = hash_queue.blocking_recv() {
                for chunk in batch.iter() {
                    hasher.update(chunk);
                }
            }
            hasher
        });
        let written = tokio::task::spawn_blocking(move || {
            while let Some(batch) = write_queue.blocking_recv() {
                write_all_vectored(&mut file, &batch)?;
                flush_behind(&file);
            }
            Ok(())
        });
        Ok(BatchWriter {
            to_hash,
            to_write,
            hashed,
            written,
        })
    }

    /// Queues `batch` for both threads
    async fn submit(&self, batch: Vec<Bytes>) -> RegistryResult<()> {
        let batch = Arc::new(batch);
        let lost = || std::io::Error::other("the upload's writer stopped");
        self.to_write
            .send(Arc::clone(&batch))
            .await
            .map_err(|_| lost())?;
        self.to_hash.send(batch).await.map_err(|_| lost())?;
        Ok(())
    }

    /// Waits for both threads to drain their queues; returns the hasher once the file
    /// holds every byte it has seen
    async fn finish(self) -> RegistryResult<Hasher> {
        let BatchWriter {
            to_hash,
            to_write,
            hashed,
            written,
        } = self;
        drop((to_hash, to_write));
        let hasher = hashed.await.map_err(std::io::Error::other)?;
        written.await.map_err(std::io::Error::other)??;
        Ok(hasher)
    }
}

/// Writes every chunk, up to 1,024 per system call
fn write_all_vectored(file: &mut std::fs::File, chunks: &[Bytes]) -> std::io::Result<()> {
    use std::io::{IoSlice, Write as _};
    for group in chunks.chunks(1024) {
        let mut slices: Vec<IoSlice<'_>> = group.iter().map(|c| IoSlice::new(c)).collect();
        let mut remaining: &mut [IoSlice<'_>] = &mut slices;
        IoSlice::advance_slices(&mut remaining, 0);
        while !remaining.is_empty() {
            match file.write_vectored(remaining) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut remaining, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Starts writing an upload's dirty pages to disk while more arrive: a background
/// `fdatasync` on a second handle, at most one at a time per process. The commit's own
/// `fsync` then waits for the tail only, instead of for the whole blob.
fn flush_behind(file: &std::fs::File) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static FLUSHING: AtomicBool = AtomicBool::new(false);
    if FLUSHING.swap(true, Ordering::AcqRel) {
        return;
    }
    match file.try_clone() {
        Ok(handle) => {
            std::thread::spawn(move || {
                // Best effort: durability comes from the commit's fsync, not from this.
                handle.sync_data().ok();
                FLUSHING.store(false, Ordering::Release);
            });
        }
        Err(_) => FLUSHING.store(false, Ordering::Release),
    }
}

/// Parses a repository name, or a 400 `NAME_INVALID`
pub fn repository_name(name: &str) -> DistributionResult<RepositoryName> {
    RepositoryName::parse(name)
}
