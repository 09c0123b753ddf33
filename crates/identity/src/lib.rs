//! The Portcullis identity service: OCI IAM's objects and their invariants over the store,
//! and the authorization gate every API route passes through.
//!
//! Every operation takes the calling [`Principal`] and asks [`IdentityService::authorize`]
//! before it touches anything, so a route cannot forget to authorize. Denials and missing
//! resources look the same to the caller (404 `NotAuthorizedOrNotFound`, as OCI does); the
//! audit log records who was denied what and why.

use std::sync::{Arc, RwLock};

use portcullis_auth::{ApiPublicKey, KeyId};
use portcullis_iam::catalog::operation_permissions;
use portcullis_iam::{
    Authorizer, Decision, Directory, MatchingRule, Ocid, Permission, PolicyInput, Principal,
    Request, UserPrincipal, Variables,
};
use portcullis_store::{Store, StoreError, Txn};
use serde::Serialize;
use serde::de::DeserializeOwned;

mod bootstrap;
mod compartments;
mod error;
mod groups;
mod keys;
mod listing;
pub mod model;
mod policies;
mod users;

pub use bootstrap::{ADMIN_STATEMENT, Bootstrap, bootstrap};
pub use error::IdentityError;
pub use listing::{
    DEFAULT_LIMIT, ListQuery, Listable, Listing, MAX_LIMIT, SortBy, SortOrder, page,
};
pub use policies::MAX_STATEMENTS;
pub use policies::{
    SimulatedGrant, SimulatedNearMiss, SimulatedPrincipal, SimulatedStatement, Simulation,
    SimulationInput,
};
pub use users::{MAX_API_KEYS, MAX_AUTH_TOKENS};

use model::Tenancy;

/// A value with the `etag` of the revision it was read at
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Versioned<T> {
    /// The value
    pub value: T,
    /// Its etag
    pub etag: String,
}

/// The result of an operation, shaped for OCI responses
pub type IdentityResult<T> = Result<T, IdentityError>;

/// The identity service
#[derive(Debug)]
pub struct IdentityService {
    store: Arc<dyn Store>,
    tenancy: Tenancy,
    region: String,
    authorizer: RwLock<Arc<Authorizer>>,
}

/// The etag for a store revision
pub fn etag(revision: u64) -> String {
    format!("{revision:x}")
}

fn parse_etag(text: &str) -> Option<u64> {
    u64::from_str_radix(text.trim().trim_matches('"'), 16).ok()
}

/// OCI's three-letter region key for a region identifier (`us-ashburn-1` → `IAD`)
pub fn region_key(region: &str) -> String {
    const KNOWN: &[(&str, &str)] = &[
        ("us-ashburn-1", "IAD"),
        ("us-phoenix-1", "PHX"),
        ("us-sanjose-1", "SJC"),
        ("us-chicago-1", "ORD"),
        ("eu-frankfurt-1", "FRA"),
        ("eu-amsterdam-1", "AMS"),
        ("uk-london-1", "LHR"),
        ("ap-tokyo-1", "NRT"),
        ("ap-sydney-1", "SYD"),
        ("ca-toronto-1", "YYZ"),
        ("sa-saopaulo-1", "GRU"),
    ];
    KNOWN
        .iter()
        .find(|(r, _)| r.eq_ignore_ascii_case(region))
        .map(|(_, k)| (*k).to_owned())
        .unwrap_or_else(|| {
            region
                .chars()
                .filter(char::is_ascii_alphabetic)
                .take(3)
                .collect::<String>()
                .to_ascii_uppercase()
        })
}

impl IdentityService {
    /// Opens the service over a bootstrapped store and builds the first authorizer snapshot
    pub async fn open(store: Arc<dyn Store>, region: &str) -> IdentityResult<Arc<Self>> {
        let tenancy: Tenancy = read_json(&*store, keys::TENANCY)
            .await?
            .map(|(t, _)| t)
            .ok_or_else(|| {
                IdentityError::Store(StoreError::Corrupt(
                    "the store has no tenancy; bootstrap it first".into(),
                ))
            })?;
        let directory = Directory::new(&tenancy.id, &tenancy.name);
        let service = Arc::new(IdentityService {
            store,
            tenancy,
            region: region.to_owned(),
            authorizer: RwLock::new(Arc::new(Authorizer::build(directory, []))),
        });
        service.reload().await?;
        Ok(service)
    }

    /// The tenancy
    pub fn tenancy(&self) -> &Tenancy {
        &self.tenancy
    }

    /// The region identifier this server presents (`us-ashburn-1`)
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The store
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The current authorizer snapshot
    pub fn authorizer(&self) -> Arc<Authorizer> {
        match self.authorizer.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rebuilds the authorizer from the store: compartments, groups, dynamic groups, policies
    pub async fn reload(&self) -> IdentityResult<()> {
        let mut directory = Directory::new(&self.tenancy.id, &self.tenancy.name);
        for entry in self.store.list_all(keys::COMPARTMENTS).await? {
            let c: model::Compartment = decode(&entry.value)?;
            if c.lifecycle_state == model::LifecycleState::Active {
                directory.add_compartment(&c.id, &c.compartment_id, &c.name);
            }
        }
        for entry in self.store.list_all(keys::GROUPS).await? {
            let g: model::Group = decode(&entry.value)?;
            directory.add_group(&g.id, &g.name);
        }
        for entry in self.store.list_all(keys::DYNAMIC_GROUPS).await? {
            let g: model::DynamicGroup = decode(&entry.value)?;
            match MatchingRule::parse(&g.matching_rule) {
                Ok(rule) => directory.add_dynamic_group(&g.id, &g.name, rule),
                Err(e) => {
                    tracing::warn!(dynamic_group = %g.id, error = %e, "skipping a dynamic group whose rule no longer parses")
                }
            }
        }
        let mut records = Vec::new();
        for entry in self.store.list_all(keys::POLICIES).await? {
            let p: model::PolicyRecord = decode(&entry.value)?;
            records.push(p);
        }
        let authorizer = Authorizer::build(
            directory,
            records.iter().map(|r| PolicyInput {
                id: &r.policy.id,
                name: &r.policy.name,
                compartment_id: &r.policy.compartment_id,
                statements: &r.policy.statements,
                bindings: Some(&r.bindings),
            }),
        );
        for skipped in authorizer.skipped() {
            tracing::warn!(%skipped, "policy statement skipped");
        }
        let authorizer = Arc::new(authorizer);
        match self.authorizer.write() {
            Ok(mut guard) => *guard = authorizer,
            Err(poisoned) => *poisoned.into_inner() = authorizer,
        }
        Ok(())
    }

    /// Follows the store's change feed and rebuilds the authorizer when IAM objects change
    /// elsewhere (another Portcullis sharing the etcd cluster)
    pub fn spawn_watcher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = Arc::downgrade(self);
        tokio::spawn(async move {
            use futures::StreamExt as _;
            loop {
                let Some(this) = service.upgrade() else {
                    return;
                };
                let from = this.store.revision().await.ok();
                let mut feed = match this.store.watch("iam/", from).await {
                    Ok(feed) => feed,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot watch IAM changes; retrying");
                        drop(this);
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                        continue;
                    }
                };
                drop(this);
                while let Some(event) = feed.next().await {
                    let Some(this) = service.upgrade() else {
                        return;
                    };
                    let relevant = match &event {
                        Ok(e) => keys::affects_authorizer(e.key()),
                        Err(_) => true,
                    };
                    if relevant && let Err(e) = this.reload().await {
                        tracing::warn!(error = %e, "reloading the authorizer failed");
                    }
                    if event.is_err() {
                        break;
                    }
                }
            }
        })
    }

    /// The one authorization gate: may `principal` perform `operation` on something in
    /// `compartment_id`? Denials are audited with who, what and why.
    pub fn authorize(
        &self,
        principal: &Principal,
        operation: &str,
        compartment_id: &str,
        variables: &Variables,
    ) -> IdentityResult<Decision> {
        let Some((operation, permissions)) = operation_permissions(operation) else {
            tracing::error!(operation, "authorization asked about an unknown operation");
            return Err(IdentityError::NotAuthorizedOrNotFound);
        };
        self.authorize_permissions(
            principal,
            operation,
            &permissions,
            compartment_id,
            variables,
        )
    }

    /// Asks the gate without auditing a denial: for callers where IAM is only the first of
    /// several authorizers (the Kubernetes endpoint falls back to RBAC)
    pub fn allows(
        &self,
        principal: &Principal,
        operation: &str,
        compartment_id: &str,
        variables: &Variables,
    ) -> bool {
        let Some((operation, permissions)) = operation_permissions(operation) else {
            return false;
        };
        let key = region_key(&self.region);
        self.authorizer()
            .authorize(
                &Request::new(principal, &permissions, compartment_id)
                    .operation(operation)
                    .variables(variables)
                    .region(&key),
            )
            .is_allowed()
    }

    /// The text of the statement that grants `operation`, if one does; quiet like
    /// [`IdentityService::allows`], for callers that explain their decisions
    pub fn allowing_statement(
        &self,
        principal: &Principal,
        operation: &str,
        compartment_id: &str,
        variables: &Variables,
    ) -> Option<String> {
        let (operation, permissions) = operation_permissions(operation)?;
        let key = region_key(&self.region);
        let decision = self.authorizer().authorize(
            &Request::new(principal, &permissions, compartment_id)
                .operation(operation)
                .variables(variables)
                .region(&key),
        );
        if !decision.is_allowed() {
            return None;
        }
        Some(
            decision
                .grants()
                .first()
                .and_then(|g| g.statements.first())
                .map(|s| s.text.to_string())
                .unwrap_or_default(),
        )
    }

    /// [`IdentityService::authorize`] for an explicit permission set
    pub fn authorize_permissions(
        &self,
        principal: &Principal,
        operation: &str,
        permissions: &[Permission],
        compartment_id: &str,
        variables: &Variables,
    ) -> IdentityResult<Decision> {
        let authorizer = self.authorizer();
        let key = region_key(&self.region);
        let decision = authorizer.authorize(
            &Request::new(principal, permissions, compartment_id)
                .operation(operation)
                .variables(variables)
                .region(&key),
        );
        if decision.is_allowed() {
            tracing::debug!(
                target: "portcullis::audit",
                principal = %principal.describe(),
                operation,
                compartment = compartment_id,
                statement = decision.grants().first().and_then(|g| g.statements.first()).map(|s| s.text.to_string()).unwrap_or_default(),
                "allowed"
            );
            Ok(decision)
        } else {
            let missing: Vec<&str> = decision.missing().iter().map(|p| p.name()).collect();
            tracing::warn!(
                target: "portcullis::audit",
                principal = %principal.describe(),
                operation,
                compartment = compartment_id,
                missing = %missing.join(","),
                reason = "no policy statement grants the missing permissions",
                "denied"
            );
            Err(IdentityError::NotAuthorizedOrNotFound)
        }
    }

    /// Allows a user to manage their own credentials, as OCI does, and otherwise asks the gate
    fn authorize_self_or(
        &self,
        principal: &Principal,
        user_id: &str,
        operation: &str,
        variables: &Variables,
    ) -> IdentityResult<()> {
        if let Principal::User(u) = principal
            && u.id == user_id
        {
            tracing::debug!(target: "portcullis::audit", principal = %principal.describe(), operation, "allowed: own credentials");
            return Ok(());
        }
        self.authorize(principal, operation, &self.tenancy.id, variables)
            .map(|_| ())
    }

    /// The active API key `key_id` names, for verifying a request signature
    pub async fn api_key(&self, key_id: &KeyId) -> IdentityResult<Option<ApiPublicKey>> {
        if key_id.tenancy != self.tenancy.id || key_id.user.parse::<Ocid>().is_err() {
            return Ok(None);
        }
        let Some((key, _)) = read_json::<model::ApiKey>(
            &*self.store,
            &keys::api_key(&key_id.user, &key_id.fingerprint),
        )
        .await?
        else {
            return Ok(None);
        };
        if key.lifecycle_state != model::LifecycleState::Active {
            return Ok(None);
        }
        Ok(ApiPublicKey::from_pem(&key.key_value).ok())
    }

    /// The principal for an active user, with its groups
    pub async fn user_principal(&self, user_id: &str) -> IdentityResult<Option<Principal>> {
        if user_id.parse::<Ocid>().is_err() {
            return Ok(None);
        }
        let Some((user, _)) = read_json::<model::User>(&*self.store, &keys::user(user_id)).await?
        else {
            return Ok(None);
        };
        if user.lifecycle_state != model::LifecycleState::Active {
            return Ok(None);
        }
        let group_ids = self
            .store
            .list_all(&keys::member_prefix(user_id))
            .await?
            .into_iter()
            .filter_map(|e| e.key.rsplit('/').next().map(str::to_owned))
            .collect();
        Ok(Some(Principal::User(UserPrincipal {
            id: user.id,
            name: user.name,
            group_ids,
            mfa_verified: false,
        })))
    }

    /// Every active user with their groups, and every group as `(id, name)`: for questions
    /// about who holds access (`ce cluster who-can`), asked after the caller was authorized
    pub async fn everyone(&self) -> IdentityResult<(Vec<UserPrincipal>, Vec<(String, String)>)> {
        let mut users = Vec::new();
        for entry in self.store.list_all(keys::USERS).await? {
            let user: model::User = decode(&entry.value)?;
            if user.lifecycle_state != model::LifecycleState::Active {
                continue;
            }
            if let Some(Principal::User(principal)) = self.user_principal(&user.id).await? {
                users.push(principal);
            }
        }
        let mut groups = Vec::new();
        for entry in self.store.list_all(keys::GROUPS).await? {
            let group: model::Group = decode(&entry.value)?;
            groups.push((group.id, group.name));
        }
        Ok((users, groups))
    }

    /// Finds a user by name (for `<tenancy>/<user name>` registry logins)
    pub async fn user_by_name(&self, name: &str) -> IdentityResult<Option<model::User>> {
        let Some(entry) = self.store.get(&keys::user_name(name)).await? else {
            return Ok(None);
        };
        let id = String::from_utf8_lossy(&entry.value).into_owned();
        Ok(read_json(&*self.store, &keys::user(&id))
            .await?
            .map(|(u, _)| u))
    }

    /// Checks a presented auth token against the user's stored token hashes
    pub async fn check_auth_token(&self, user_id: &str, token: &str) -> IdentityResult<bool> {
        for entry in self
            .store
            .list_all(&keys::auth_token_prefix(user_id))
            .await?
        {
            let record: model::AuthTokenRecord = decode(&entry.value)?;
            if record.token.lifecycle_state == model::LifecycleState::Active
                && portcullis_auth::TokenHash::from_stored(record.hash).matches(token)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The compartment (or the tenancy) with this id, if active
    pub async fn active_compartment(&self, id: &str) -> IdentityResult<Option<u64>> {
        if id == self.tenancy.id {
            return Ok(self.store.get(keys::TENANCY).await?.map(|e| e.mod_revision));
        }
        Ok(
            read_json::<model::Compartment>(&*self.store, &keys::compartment(id))
                .await?
                .filter(|(c, _)| c.lifecycle_state == model::LifecycleState::Active)
                .map(|(_, r)| r),
        )
    }

    /// Adds to `txn` what attaching `kind`/`id` to `compartment_id` requires: the compartment
    /// still active at `revision`, the child index entry, and a new generation so a concurrent
    /// delete of the compartment conflicts
    pub fn attach_to_compartment(
        &self,
        txn: Txn,
        compartment_id: &str,
        compartment_revision: u64,
        kind: &str,
        id: &str,
    ) -> Txn {
        let record = if compartment_id == self.tenancy.id {
            keys::TENANCY.to_owned()
        } else {
            keys::compartment(compartment_id)
        };
        txn.require_revision(record, compartment_revision)
            .put(keys::child(compartment_id, kind, id), Vec::new())
            .put(keys::generation(compartment_id), new_generation())
    }

    /// Adds to `txn` the removal of `kind`/`id` from `compartment_id`'s child index
    pub fn detach_from_compartment(
        &self,
        txn: Txn,
        compartment_id: &str,
        kind: &str,
        id: &str,
    ) -> Txn {
        txn.delete(keys::child(compartment_id, kind, id))
    }
}

fn new_generation() -> Vec<u8> {
    Ocid::generate("generation", None)
        .into_string()
        .into_bytes()
}

/// Decodes a stored JSON record
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> IdentityResult<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| IdentityError::Store(StoreError::Corrupt(format!("undecodable record: {e}"))))
}

/// Encodes a record for the store
pub fn encode<T: Serialize>(value: &T) -> IdentityResult<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| IdentityError::Store(StoreError::Corrupt(format!("unencodable record: {e}"))))
}

/// Reads and decodes a stored JSON record with its revision
pub async fn read_json<T: DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> IdentityResult<Option<(T, u64)>> {
    match store.get(key).await? {
        Some(entry) => Ok(Some((decode(&entry.value)?, entry.mod_revision))),
        None => Ok(None),
    }
}

/// Checks an `if-match` header against the revision read
pub fn check_if_match(if_match: Option<&str>, revision: u64) -> IdentityResult<()> {
    match if_match {
        None => Ok(()),
        Some(tag) if tag.trim() == "*" => Ok(()),
        Some(tag) if parse_etag(tag) == Some(revision) => Ok(()),
        Some(_) => Err(IdentityError::EtagMismatch),
    }
}

/// Parses a required OCID parameter
pub fn require_ocid(value: Option<&str>, name: &str) -> IdentityResult<String> {
    let value = value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| IdentityError::MissingParameter(format!("`{name}` is required")))?;
    parse_ocid(value, name)
}

/// Parses an OCID parameter
pub fn parse_ocid(value: &str, name: &str) -> IdentityResult<String> {
    value
        .parse::<Ocid>()
        .map(Ocid::into_string)
        .map_err(|e| IdentityError::InvalidParameter(format!("`{name}`: {e}")))
}

/// Validates a name: length and characters (letters, digits, `-_.` and `extra`)
pub fn check_name(value: Option<&str>, what: &str, extra: &[char]) -> IdentityResult<String> {
    let name = value.ok_or_else(|| {
        IdentityError::MissingParameter(format!("`name` is required for a {what}"))
    })?;
    let count = name.chars().count();
    if count == 0 || count > 100 {
        return Err(IdentityError::InvalidParameter(format!(
            "a {what} name must be 1 to 100 characters"
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.') || extra.contains(c)))
    {
        return Err(IdentityError::InvalidParameter(format!(
            "a {what} name may not contain `{bad}`"
        )));
    }
    Ok(name.to_owned())
}

/// Validates a description
pub(crate) fn check_description(value: Option<&str>, what: &str) -> IdentityResult<String> {
    let description = value.ok_or_else(|| {
        IdentityError::MissingParameter(format!("`description` is required for a {what}"))
    })?;
    if description.chars().count() > 400 {
        return Err(IdentityError::InvalidParameter(
            "a description may be at most 400 characters".into(),
        ));
    }
    Ok(description.to_owned())
}

/// Commits, mapping a precondition failure to `conflict`
pub async fn commit_or(
    store: &dyn Store,
    txn: Txn,
    conflict: impl FnOnce() -> IdentityError,
) -> IdentityResult<u64> {
    match store.commit(txn).await {
        Ok(revision) => Ok(revision),
        Err(StoreError::Conflict) => Err(conflict()),
        Err(e) => Err(IdentityError::Store(e)),
    }
}
