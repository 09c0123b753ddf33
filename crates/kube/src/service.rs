//! Object storage with kube-apiserver's semantics, over the Portcullis store.
//!
//! Objects are JSON under `k8s/<cluster>/<group>/<resource>/<namespace>/<name>` (`~` stands
//! for "no namespace"). The store's revision of an object is its `resourceVersion`, injected
//! on every read, so optimistic concurrency is the store's compare-and-swap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_store::{Entry, Store, StoreError, Txn};
use serde_json::{Value, json};

use crate::objects::{self, prepare_create, prepare_update};
use crate::resources::{self, RESOURCES, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::tokens::{
    self, AccountClaims, DEFAULT_EXPIRATION_SECONDS, MIN_EXPIRATION_SECONDS, RootKey, SigningKey,
};
use crate::{KubeError, KubeUser};

/// How long a deleted namespace stays Terminating before its contents go (kubectl deletes the
/// objects of a manifest one by one after the namespace, and expects them to still exist)
pub const NAMESPACE_GRACE_MILLIS: i64 = 2_000;

const FINALIZE_PREFIX: &str = "k8s-finalize/";

fn finalizer_key(cluster: &str, namespace: &str) -> String {
    format!("{FINALIZE_PREFIX}{cluster}/{namespace}")
}

/// Namespaces every cluster starts with
pub const INITIAL_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Kubernetes objects for every cluster
pub struct KubeService {
    store: Arc<dyn Store>,
    root: RootKey,
    keys: Mutex<HashMap<String, Arc<SigningKey>>>,
    bootstrapped: Mutex<std::collections::HashSet<String>>,
    pub(crate) rbac: crate::access::RbacCache,
    /// Encryption of Secrets at rest, once the vault is wired in
    at_rest: std::sync::OnceLock<Arc<dyn crate::at_rest::SecretsAtRest>>,
    admission: std::sync::OnceLock<Arc<dyn crate::admission::Admission>>,
}

impl std::fmt::Debug for KubeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeService").finish_non_exhaustive()
    }
}

fn group_segment(resource: &ResourceType) -> &'static str {
    if resource.group.is_empty() {
        "core"
    } else {
        resource.group
    }
}

/// The store key of an object
pub fn object_key(
    cluster: &str,
    resource: &ResourceType,
    namespace: Option<&str>,
    name: &str,
) -> String {
    format!(
        "k8s/{cluster}/{}/{}/{}/{name}",
        group_segment(resource),
        resource.resource,
        namespace.unwrap_or("~")
    )
}

/// The store prefix of a resource type, optionally narrowed to a namespace
pub fn object_prefix(cluster: &str, resource: &ResourceType, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!(
            "k8s/{cluster}/{}/{}/{ns}/",
            group_segment(resource),
            resource.resource
        ),
        None => format!(
            "k8s/{cluster}/{}/{}/",
            group_segment(resource),
            resource.resource
        ),
    }
}

/// Decodes a stored object and sets its `resourceVersion`
pub fn from_entry(entry: &Entry) -> Result<Value, KubeError> {
    let mut object: Value = serde_json::from_slice(&entry.value)
        .map_err(|e| KubeError::Internal(format!("stored object is corrupt: {e}")))?;
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(
            "resourceVersion".into(),
            Value::String(entry.mod_revision.to_string()),
        );
    }
    Ok(object)
}

pub(crate) fn encode(object: &Value) -> Result<Vec<u8>, KubeError> {
    let mut stored = object.clone();
    if let Some(meta) = stored.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    serde_json::to_vec(&stored).map_err(|e| KubeError::Internal(e.to_string()))
}

fn with_version(mut object: Value, revision: u64) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(
            "resourceVersion".into(),
            Value::String(revision.to_string()),
        );
    }
    object
}

/// The Namespace type (first in the table, always present)
static NAMESPACES: ResourceType = ResourceType {
    group: "",
    version: "v1",
    resource: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    namespaced: false,
    short_names: &["ns"],
    stored: true,
};

fn namespaces() -> &'static ResourceType {
    &NAMESPACES
}

pub(crate) fn lookup(group: &str, resource: &str) -> &'static ResourceType {
    resources::find(group, "v1", resource).unwrap_or(namespaces())
}

/// Options of a list
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// `labelSelector`
    pub labels: LabelSelector,
    /// `fieldSelector`
    pub fields: FieldSelector,
}

impl KubeService {
    /// A service over `store`, sealing signing keys with `root`
    pub fn new(store: Arc<dyn Store>, root: RootKey) -> Self {
        KubeService {
            store,
            root,
            keys: Mutex::new(HashMap::new()),
            bootstrapped: Mutex::new(std::collections::HashSet::new()),
            rbac: crate::access::RbacCache::default(),
            at_rest: std::sync::OnceLock::new(),
            admission: std::sync::OnceLock::new(),
        }
    }

    /// Runs `admission` on every create and replace from now on (set once, at start)
    pub fn admit_with(&self, admission: Arc<dyn crate::admission::Admission>) {
        if self.admission.set(admission).is_err() {
            tracing::warn!("admission was already set; keeping the first");
        }
    }

    async fn admit(
        &self,
        cluster: &str,
        resource: &ResourceType,
        namespace: Option<&str>,
        object: &Value,
    ) -> Result<(), KubeError> {
        match self.admission.get() {
            Some(admission) => {
                admission
                    .admit(cluster, resource.kind, namespace, object)
                    .await
            }
            None => Ok(()),
        }
    }

    /// Encrypts every cluster's Secrets at rest with `at_rest` from now on (set once, at
    /// start-up; a second call is ignored)
    pub fn encrypt_secrets_with(&self, at_rest: Arc<dyn crate::at_rest::SecretsAtRest>) {
        if self.at_rest.set(at_rest).is_err() {
            tracing::warn!("Secret encryption at rest was already configured");
        }
    }

    /// The bytes to store for `object` under `key`: sealed if it is a Secret
    pub(crate) async fn to_storage(
        &self,
        cluster: &str,
        key: &str,
        object: &Value,
    ) -> Result<Vec<u8>, KubeError> {
        let bytes = encode(object)?;
        match self.at_rest.get() {
            Some(at_rest) if crate::at_rest::is_secret_key(key) => {
                at_rest.seal(cluster, key, &bytes).await
            }
            _ => Ok(bytes),
        }
    }

    /// Decodes a stored object (opening it if sealed) and sets its `resourceVersion`
    pub async fn decode_entry(&self, cluster: &str, entry: &Entry) -> Result<Value, KubeError> {
        if !crate::at_rest::is_encrypted(&entry.value) {
            return from_entry(entry);
        }
        let at_rest = self.at_rest.get().ok_or_else(|| {
            KubeError::Encryption(format!(
                "{} is encrypted, and this server has no vault configured to decrypt it",
                entry.key
            ))
        })?;
        let plaintext = at_rest.open(cluster, &entry.key, &entry.value).await?;
        from_entry(&Entry {
            key: String::new(),
            value: plaintext,
            create_revision: entry.create_revision,
            mod_revision: entry.mod_revision,
        })
    }

    /// The store
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Creates a cluster's initial namespaces, service accounts and default RBAC objects, once
    pub async fn bootstrap(&self, cluster: &str) -> Result<(), KubeError> {
        if self
            .bootstrapped
            .lock()
            .map_err(|_| KubeError::Internal("bootstrap cache poisoned".into()))?
            .contains(cluster)
        {
            return Ok(());
        }
        let marker = format!("k8s/{cluster}/bootstrapped");
        if self.store.get(&marker).await?.is_some() {
            // First use since this server started: bring the default roles up to date, as
            // kube-apiserver does on start.
            match self.reconcile_defaults(cluster).await {
                Ok(0) => {}
                Ok(written) => tracing::info!(cluster, written, "reconciled default RBAC objects"),
                Err(error) => {
                    tracing::warn!(cluster, %error, "reconciling default RBAC objects failed")
                }
            }
            self.remember_bootstrapped(cluster);
            return Ok(());
        }
        let mut txn = Txn::new()
            .require_absent(&marker)
            .put(&marker, b"1".to_vec());
        let now = objects::now_rfc3339();
        for ns in INITIAL_NAMESPACES {
            let namespace = json!({
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "uid": objects::new_uid(), "creationTimestamp": now,
                             "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}
            });
            txn = txn.put(
                object_key(cluster, namespaces(), None, ns),
                encode(&namespace)?,
            );
            let account = default_account(ns, &now);
            txn = txn.put(
                object_key(cluster, lookup("", "serviceaccounts"), Some(ns), "default"),
                encode(&account)?,
            );
        }
        for role in crate::defaults::cluster_roles()? {
            let name = role
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            txn = txn.put(
                object_key(
                    cluster,
                    lookup("rbac.authorization.k8s.io", "clusterroles"),
                    None,
                    name,
                ),
                encode(&role)?,
            );
        }
        for binding in crate::defaults::cluster_role_bindings()? {
            let name = binding
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            txn = txn.put(
                object_key(
                    cluster,
                    lookup("rbac.authorization.k8s.io", "clusterrolebindings"),
                    None,
                    name,
                ),
                encode(&binding)?,
            );
        }
        match self.store.commit(txn).await {
            Ok(_) | Err(StoreError::Conflict) => {
                self.remember_bootstrapped(cluster);
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn remember_bootstrapped(&self, cluster: &str) {
        if let Ok(mut set) = self.bootstrapped.lock() {
            set.insert(cluster.to_owned());
        }
    }

    /// Reads one object
    pub async fn get(
        &self,
        cluster: &str,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, KubeError> {
        let key = object_key(cluster, resource, namespace, name);
        match self.store.get(&key).await? {
            Some(entry) => self.decode_entry(cluster, &entry).await,
            None => Err(KubeError::not_found(resource, name)),
        }
    }

    async fn require_namespace(&self, cluster: &str, namespace: &str) -> Result<u64, KubeError> {
        match self
            .store
            .get(&object_key(cluster, namespaces(), None, namespace))
            .await?
        {
            Some(entry) => {
                if from_entry(&entry)?
                    .pointer("/metadata/deletionTimestamp")
                    .is_some()
                {
                    return Err(KubeError::Forbidden(format!(
                        "unable to create new content in namespace {namespace} because it is being terminated"
                    )));
                }
                Ok(entry.mod_revision)
            }
            None => Err(KubeError::not_found(namespaces(), namespace)),
        }
    }

    /// Lists objects (in one namespace, or all) with the store's current revision
    pub async fn list(
        &self,
        cluster: &str,
        resource: &ResourceType,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<(Vec<Value>, u64), KubeError> {
        let revision = self.store.revision().await?;
        let mut items = Vec::new();
        for entry in self
            .store
            .list_all(&object_prefix(cluster, resource, namespace))
            .await?
        {
            let object = self.decode_entry(cluster, &entry).await?;
            if options.labels.matches(&object) && options.fields.matches(&object) {
                items.push(object);
            }
        }
        Ok((items, revision))
    }

    /// Creates an object; `user` is the creator (service-account token Secrets are filled)
    pub async fn create(
        &self,
        cluster: &str,
        resource: &ResourceType,
        namespace: Option<&str>,
        mut object: Value,
        issuer: &str,
        ca_pem: Option<&str>,
    ) -> Result<Value, KubeError> {
        let name = prepare_create(resource, namespace, &mut object)?;
        self.admit(cluster, resource, namespace, &object).await?;
        let key = object_key(cluster, resource, namespace, &name);
        let mut txn = Txn::new().require_absent(&key);
        if let Some(ns) = namespace.filter(|_| resource.namespaced) {
            let revision = self.require_namespace(cluster, ns).await?;
            txn = txn.require_revision(object_key(cluster, namespaces(), None, ns), revision);
        }
        if resource.kind == "Secret"
            && object.get("type").and_then(Value::as_str)
                == Some("kubernetes.io/service-account-token")
        {
            self.fill_account_token(
                cluster,
                namespace.unwrap_or("default"),
                &name,
                &mut object,
                issuer,
                ca_pem,
            )
            .await?;
        }
        let mut extra = Vec::new();
        if resource.kind == "Namespace" {
            // The service-account controller's work: every namespace gets `default`.
            let account = default_account(&name, &objects::now_rfc3339());
            extra.push((
                object_key(
                    cluster,
                    lookup("", "serviceaccounts"),
                    Some(&name),
                    "default",
                ),
                encode(&account)?,
            ));
            if let Some(labels) = object
                .pointer_mut("/metadata")
                .and_then(Value::as_object_mut)
                .map(|m| m.entry("labels").or_insert_with(|| json!({})))
                .and_then(Value::as_object_mut)
            {
                labels.insert(
                    "kubernetes.io/metadata.name".into(),
                    Value::String(name.clone()),
                );
            }
        }
        txn = txn.put(&key, self.to_storage(cluster, &key, &object).await?);
        for (k, v) in extra {
            txn = txn.put(k, v);
        }
        match self.store.commit(txn).await {
            Ok(revision) => {
                self.rbac_written(cluster, resource).await;
                Ok(with_version(object, revision))
            }
            Err(StoreError::Conflict) => {
                if self.store.get(&key).await?.is_some() {
                    Err(KubeError::already_exists(resource, &name))
                } else {
                    Err(KubeError::not_found(namespaces(), namespace.unwrap_or("")))
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces an object; a non-empty `metadata.resourceVersion` must be current
    pub async fn update(
        &self,
        cluster: &str,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        mut object: Value,
    ) -> Result<Value, KubeError> {
        let key = object_key(cluster, resource, namespace, name);
        let entry = self
            .store
            .get(&key)
            .await?
            .ok_or_else(|| KubeError::not_found(resource, name))?;
        let current = self.decode_entry(cluster, &entry).await?;
        let requested = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        if let Some(requested) = requested
            && requested != entry.mod_revision.to_string()
        {
            return Err(KubeError::conflict(resource, name));
        }
        prepare_update(resource, name, &current, &mut object)?;
        self.admit(cluster, resource, namespace, &object).await?;
        if resource.kind == "Namespace" {
            // Namespace status is the server's.
            if let (Some(map), Some(status)) = (object.as_object_mut(), current.get("status")) {
                map.insert("status".into(), status.clone());
            }
        }
        let txn = Txn::new()
            .require_revision(&key, entry.mod_revision)
            .put(&key, self.to_storage(cluster, &key, &object).await?);
        match self.store.commit(txn).await {
            Ok(revision) => {
                self.rbac_written(cluster, resource).await;
                Ok(with_version(object, revision))
            }
            Err(StoreError::Conflict) => Err(KubeError::conflict(resource, name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes an object (a namespace takes everything in it along), returning it
    pub async fn delete(
        &self,
        cluster: &str,
        resource: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        precondition_uid: Option<&str>,
    ) -> Result<Value, KubeError> {
        let key = object_key(cluster, resource, namespace, name);
        let entry = self
            .store
            .get(&key)
            .await?
            .ok_or_else(|| KubeError::not_found(resource, name))?;
        let object = self.decode_entry(cluster, &entry).await?;
        if let Some(uid) = precondition_uid
            && object.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid)
        {
            return Err(KubeError::conflict(resource, name));
        }
        if resource.kind == "Namespace" {
            // As in Kubernetes, a namespace first turns Terminating; the namespace finalizer
            // removes its contents and then the namespace itself, shortly after.
            if object.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok(object);
            }
            let mut terminating = object.clone();
            if let Some(meta) = terminating
                .get_mut("metadata")
                .and_then(Value::as_object_mut)
            {
                meta.insert(
                    "deletionTimestamp".into(),
                    Value::String(objects::now_rfc3339()),
                );
            }
            if let Some(map) = terminating.as_object_mut() {
                map.insert("status".into(), json!({"phase": "Terminating"}));
            }
            let due = jiff::Timestamp::now().as_millisecond() + NAMESPACE_GRACE_MILLIS;
            let txn = Txn::new()
                .require_revision(&key, entry.mod_revision)
                .put(&key, encode(&terminating)?)
                .put(finalizer_key(cluster, name), due.to_string().into_bytes());
            return match self.store.commit(txn).await {
                Ok(revision) => Ok(with_version(terminating, revision)),
                Err(StoreError::Conflict) => Err(KubeError::conflict(resource, name)),
                Err(e) => Err(e.into()),
            };
        }
        let txn = Txn::new()
            .require_revision(&key, entry.mod_revision)
            .delete(&key);
        match self.store.commit(txn).await {
            Ok(_) => {
                self.rbac_written(cluster, resource).await;
                Ok(object)
            }
            Err(StoreError::Conflict) => Err(KubeError::conflict(resource, name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Finishes namespaces whose grace period has passed: deletes their contents, then them
    pub async fn finalize_namespaces(&self) -> Result<usize, KubeError> {
        let now = jiff::Timestamp::now().as_millisecond();
        let mut finished = 0;
        for entry in self.store.list_all(FINALIZE_PREFIX).await? {
            let due: i64 = String::from_utf8_lossy(&entry.value).parse().unwrap_or(0);
            if due > now {
                continue;
            }
            let Some((cluster, namespace)) = entry
                .key
                .strip_prefix(FINALIZE_PREFIX)
                .and_then(|rest| rest.split_once('/'))
            else {
                self.store.delete(&entry.key, None).await.ok();
                continue;
            };
            for kind in RESOURCES.iter().filter(|r| r.namespaced && r.stored) {
                let contents = self
                    .store
                    .list_all(&object_prefix(cluster, kind, Some(namespace)))
                    .await?;
                for chunk in contents.chunks(100) {
                    let mut txn = Txn::new();
                    for e in chunk {
                        txn = txn.delete(e.key.clone());
                    }
                    self.store.commit(txn).await?;
                }
            }
            let txn = Txn::new()
                .require_revision(&entry.key, entry.mod_revision)
                .delete(&entry.key)
                .delete(object_key(cluster, namespaces(), None, namespace));
            self.rbac.invalidate(cluster);
            match self.store.commit(txn).await {
                Ok(_) => finished += 1,
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(finished)
    }

    /// Deletes every matching object in a namespace (or cluster-wide), returning them
    pub async fn delete_collection(
        &self,
        cluster: &str,
        resource: &ResourceType,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<Vec<Value>, KubeError> {
        let (items, _) = self.list(cluster, resource, namespace, options).await?;
        let mut deleted = Vec::new();
        for item in items {
            let name = item
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let ns = item
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_owned);
            match self
                .delete(cluster, resource, ns.as_deref(), &name, None)
                .await
            {
                Ok(object) => deleted.push(object),
                Err(KubeError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }

    /// Removes everything a deleted cluster held
    pub async fn purge(&self, cluster: &str) -> Result<(), KubeError> {
        let entries = self.store.list_all(&format!("k8s/{cluster}/")).await?;
        for chunk in entries.chunks(100) {
            let mut txn = Txn::new();
            for e in chunk {
                txn = txn.delete(e.key.clone());
            }
            self.store.commit(txn).await?;
        }
        self.rbac.invalidate(cluster);
        self.keys
            .lock()
            .map_err(|_| KubeError::Internal("key cache poisoned".into()))?
            .remove(cluster);
        Ok(())
    }

    /// The cluster's token signing key, made and sealed under the root key on first use
    pub async fn signing_key(&self, cluster: &str) -> Result<Arc<SigningKey>, KubeError> {
        if let Some(key) = self
            .keys
            .lock()
            .map_err(|_| KubeError::Internal("key cache poisoned".into()))?
            .get(cluster)
        {
            return Ok(key.clone());
        }
        let store_key = format!("k8s/{cluster}/signing-key");
        let context = format!("portcullis/service-account-signing-key/{cluster}");
        let key = match self.store.get(&store_key).await? {
            Some(entry) => SigningKey::from_pkcs8(&self.root.open(&entry.value, &context)?)?,
            None => {
                let (pkcs8, key) = SigningKey::generate()?;
                let sealed = self.root.seal(&pkcs8, &context)?;
                match self.store.create(&store_key, sealed).await {
                    Ok(_) => key,
                    // Another request won the race; use its key.
                    Err(StoreError::Conflict) => {
                        let entry =
                            self.store.get(&store_key).await?.ok_or_else(|| {
                                KubeError::Internal("signing key vanished".into())
                            })?;
                        SigningKey::from_pkcs8(&self.root.open(&entry.value, &context)?)?
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let key = Arc::new(key);
        self.keys
            .lock()
            .map_err(|_| KubeError::Internal("key cache poisoned".into()))?
            .insert(cluster.to_owned(), key.clone());
        Ok(key)
    }

    async fn fill_account_token(
        &self,
        cluster: &str,
        namespace: &str,
        secret: &str,
        object: &mut Value,
        _issuer: &str,
        ca_pem: Option<&str>,
    ) -> Result<(), KubeError> {
        let Some(account) = object
            .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Err(KubeError::invalid(
                lookup("", "secrets"),
                secret,
                "metadata.annotations[kubernetes.io/service-account.name]",
                "FieldValueRequired",
                "Required value",
            ));
        };
        let sa = self
            .get(
                cluster,
                lookup("", "serviceaccounts"),
                Some(namespace),
                &account,
            )
            .await
            .map_err(|_| {
                KubeError::invalid(
                    lookup("", "secrets"),
                    secret,
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "FieldValueInvalid",
                    format!("serviceaccounts \"{account}\" not found"),
                )
            })?;
        let uid = sa
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let token = self
            .signing_key(cluster)
            .await?
            .sign(&tokens::legacy_claims(namespace, secret, &account, &uid))?;
        if let Some(annotations) = object
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            annotations.insert(
                "kubernetes.io/service-account.uid".into(),
                Value::String(uid),
            );
        }
        if let Some(data) = object.get_mut("data").and_then(Value::as_object_mut) {
            data.insert("token".into(), Value::String(STANDARD.encode(&token)));
            data.insert(
                "namespace".into(),
                Value::String(STANDARD.encode(namespace)),
            );
            if let Some(ca) = ca_pem {
                data.insert("ca.crt".into(), Value::String(STANDARD.encode(ca)));
            }
        }
        Ok(())
    }

    /// TokenRequest: a bound, expiring token for a ServiceAccount
    pub async fn request_token(
        &self,
        cluster: &str,
        namespace: &str,
        account: &str,
        request: &Value,
        issuer: &str,
    ) -> Result<Value, KubeError> {
        let token_request = resources::ResourceType {
            group: "authentication.k8s.io",
            version: "v1",
            resource: "tokenrequests",
            singular: "tokenrequest",
            kind: "TokenRequest",
            namespaced: true,
            short_names: &[],
            stored: false,
        };
        let sa = self
            .get(
                cluster,
                lookup("", "serviceaccounts"),
                Some(namespace),
                account,
            )
            .await?;
        let seconds = match request.pointer("/spec/expirationSeconds") {
            None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
            Some(v) => v.as_i64().ok_or_else(|| {
                KubeError::BadRequest("spec.expirationSeconds must be an integer".into())
            })?,
        };
        if seconds < MIN_EXPIRATION_SECONDS {
            return Err(KubeError::invalid(
                &token_request,
                "",
                "spec.expirationSeconds",
                "FieldValueInvalid",
                format!(
                    "Invalid value: {seconds}: may not specify a duration less than 10 minutes"
                ),
            ));
        }
        if seconds > 1 << 32 {
            return Err(KubeError::invalid(
                &token_request,
                "",
                "spec.expirationSeconds",
                "FieldValueInvalid",
                format!(
                    "Invalid value: {seconds}: may not specify a duration larger than 2^32 seconds"
                ),
            ));
        }
        let audiences: Vec<String> = match request.pointer("/spec/audiences") {
            Some(Value::Array(list)) if !list.is_empty() => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => vec![issuer.to_owned()],
        };
        let now = jiff::Timestamp::now().as_second();
        let expires = now + seconds;
        let uid = sa
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut kubernetes = json!({
            "namespace": namespace,
            "serviceaccount": {"name": account, "uid": uid},
        });
        if let Some(bound) = request
            .pointer("/spec/boundObjectRef")
            .filter(|b| !b.is_null())
        {
            let kind = bound.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = bound.get("name").and_then(Value::as_str).unwrap_or("");
            let field = match kind {
                "Secret" => "secret",
                "Pod" => "pod",
                "Node" => "node",
                other => {
                    return Err(KubeError::invalid(
                        &token_request,
                        "",
                        "spec.boundObjectRef.kind",
                        "FieldValueNotSupported",
                        format!(
                            "Unsupported value: {other:?}: supported values: \"Pod\", \"Secret\", \"Node\""
                        ),
                    ));
                }
            };
            if let Some(map) = kubernetes.as_object_mut() {
                map.insert(
                    field.into(),
                    json!({"name": name, "uid": bound.get("uid").cloned().unwrap_or(Value::Null)}),
                );
            }
        }
        let claims = json!({
            "aud": audiences,
            "exp": expires,
            "iat": now,
            "nbf": now,
            "iss": issuer,
            "jti": objects::new_uid(),
            "kubernetes.io": kubernetes,
            "sub": format!("system:serviceaccount:{namespace}:{account}"),
        });
        let token = self.signing_key(cluster).await?.sign(&claims)?;
        let expiration = jiff::Timestamp::from_second(expires)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        let mut response = request.clone();
        if let Some(map) = response.as_object_mut() {
            map.insert("apiVersion".into(), json!("authentication.k8s.io/v1"));
            map.insert("kind".into(), json!("TokenRequest"));
            let spec = map.entry("spec").or_insert_with(|| json!({}));
            if let Some(spec) = spec.as_object_mut() {
                spec.insert(
                    "audiences".into(),
                    claims.get("aud").cloned().unwrap_or(Value::Null),
                );
                spec.insert("expirationSeconds".into(), json!(seconds));
            }
            map.insert(
                "status".into(),
                json!({"token": token, "expirationTimestamp": expiration}),
            );
            map.entry("metadata").or_insert_with(|| json!({}));
        }
        Ok(response)
    }

    /// Authenticates a service-account token: signature, issuer, expiry, audience, and the
    /// account (and for legacy tokens the Secret holding it) still existing
    pub async fn authenticate_account_token(
        &self,
        cluster: &str,
        token: &str,
        issuer: &str,
        audiences: &[String],
    ) -> Result<KubeUser, KubeError> {
        let key = self.signing_key(cluster).await?;
        let claims = key.verify(token).ok_or(KubeError::Unauthorized)?;
        let AccountClaims {
            namespace,
            account,
            account_uid,
            secret,
            audiences: token_audiences,
        } = tokens::account_claims(&claims, issuer, jiff::Timestamp::now().as_second())
            .ok_or(KubeError::Unauthorized)?;
        let legacy = claims.get("iss").and_then(Value::as_str) == Some(tokens::LEGACY_ISSUER);
        if !legacy && !token_audiences.iter().any(|a| audiences.contains(a)) {
            return Err(KubeError::Unauthorized);
        }
        let sa = self
            .get(
                cluster,
                lookup("", "serviceaccounts"),
                Some(&namespace),
                &account,
            )
            .await
            .map_err(|_| KubeError::Unauthorized)?;
        if sa.pointer("/metadata/uid").and_then(Value::as_str) != Some(account_uid.as_str()) {
            return Err(KubeError::Unauthorized);
        }
        if legacy {
            let secret_name = secret.ok_or(KubeError::Unauthorized)?;
            let stored = self
                .get(
                    cluster,
                    lookup("", "secrets"),
                    Some(&namespace),
                    &secret_name,
                )
                .await
                .map_err(|_| KubeError::Unauthorized)?;
            let held = stored
                .pointer("/data/token")
                .and_then(Value::as_str)
                .and_then(|t| STANDARD.decode(t).ok());
            let same = held.is_some_and(|h| {
                h.len() == token.len()
                    && aws_lc_rs::constant_time::verify_slices_are_equal(&h, token.as_bytes())
                        .is_ok()
            });
            if !same {
                return Err(KubeError::Unauthorized);
            }
        } else if let Some(bound_secret) = claims
            .pointer("/kubernetes.io/secret/name")
            .and_then(Value::as_str)
            && self
                .get(
                    cluster,
                    lookup("", "secrets"),
                    Some(&namespace),
                    bound_secret,
                )
                .await
                .is_err()
        {
            return Err(KubeError::Unauthorized);
        }
        Ok(KubeUser {
            username: format!("system:serviceaccount:{namespace}:{account}"),
            uid: account_uid,
            groups: vec![
                "system:serviceaccounts".to_owned(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".to_owned(),
            ],
            extra: Default::default(),
            principal: None,
        })
    }
}

fn default_account(namespace: &str, now: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": namespace, "uid": objects::new_uid(), "creationTimestamp": now}
    })
}
