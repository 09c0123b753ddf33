//! Users and their credentials: API keys (at most three) and auth tokens (at most two).
//!
//! Users live in the tenancy. Every user may manage their own credentials without a policy,
//! as in OCI.

use portcullis_auth::{ApiPublicKey, AuthToken as TokenSecret};
use portcullis_iam::{Ocid, Principal, Variables};
use portcullis_store::Txn;

use crate::listing::{self, ListQuery, Listing};
use crate::model::{
    ApiKey, AuthToken, AuthTokenDetails, AuthTokenRecord, CreateApiKeyDetails, CreateUserDetails,
    LifecycleState, UpdateUserDetails, User, UserCapabilities, now,
};
use crate::{
    IdentityError, IdentityResult, IdentityService, Versioned, check_description, check_if_match,
    check_name, commit_or, decode, encode, etag, keys, new_generation, read_json,
};

/// OCI's limit on API keys per user
pub const MAX_API_KEYS: usize = 3;

/// OCI's limit on auth tokens per user
pub const MAX_AUTH_TOKENS: usize = 2;

fn target(user: &User) -> Variables {
    Variables::new()
        .with("target.user.id", user.id.as_str())
        .with("target.user.name", user.name.as_str())
}

fn check_email(email: Option<&str>) -> IdentityResult<Option<String>> {
    match email {
        None => Ok(None),
        Some(e) if e.len() <= 100 && e.contains('@') && !e.contains(char::is_whitespace) => {
            Ok(Some(e.to_owned()))
        }
        Some(_) => Err(IdentityError::InvalidParameter(
            "`email` is not an email address".into(),
        )),
    }
}

impl IdentityService {
    pub(crate) fn require_tenancy(
        &self,
        compartment_id: Option<&str>,
        what: &str,
    ) -> IdentityResult<()> {
        let id = crate::require_ocid(compartment_id, "compartmentId")?;
        if id != self.tenancy.id {
            return Err(IdentityError::InvalidParameter(format!(
                "{what} live in the tenancy: `compartmentId` must be the tenancy's OCID"
            )));
        }
        Ok(())
    }

    async fn load_user(&self, id: &str) -> IdentityResult<(User, u64)> {
        read_json::<User>(&*self.store, &keys::user(id))
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)
    }

    /// `CreateUser`
    pub async fn create_user(
        &self,
        caller: &Principal,
        details: CreateUserDetails,
    ) -> IdentityResult<Versioned<User>> {
        self.require_tenancy(details.compartment_id.as_deref(), "users")?;
        let name = check_name(details.name.as_deref(), "user", &['@', '+'])?;
        let description = check_description(details.description.as_deref(), "user")?;
        let email = check_email(details.email.as_deref())?;
        self.authorize(
            caller,
            "CreateUser",
            &self.tenancy.id,
            &Variables::new().with("target.user.name", name.as_str()),
        )?;
        let user = User {
            id: Ocid::generate("user", None).into_string(),
            compartment_id: self.tenancy.id.clone(),
            name: name.clone(),
            description,
            email,
            email_verified: false,
            time_created: now(),
            lifecycle_state: LifecycleState::Active,
            is_mfa_activated: false,
            capabilities: UserCapabilities::default(),
            freeform_tags: details.freeform_tags.unwrap_or_default(),
            defined_tags: details.defined_tags.unwrap_or_default(),
        };
        let txn = Txn::new()
            .require_absent(keys::user_name(&name))
            .put(keys::user_name(&name), user.id.clone().into_bytes())
            .put(keys::user(&user.id), encode(&user)?);
        let revision = commit_or(&*self.store, txn, || {
            IdentityError::AlreadyExists(format!("a user named `{name}` already exists"))
        })
        .await?;
        Ok(Versioned {
            value: user,
            etag: etag(revision),
        })
    }

    /// `GetUser` (users may always read themselves)
    pub async fn get_user(&self, caller: &Principal, id: &str) -> IdentityResult<Versioned<User>> {
        let (user, revision) = self.load_user(id).await?;
        self.authorize_self_or(caller, id, "GetUser", &target(&user))?;
        Ok(Versioned {
            value: user,
            etag: etag(revision),
        })
    }

    /// `ListUsers`
    pub async fn list_users(
        &self,
        caller: &Principal,
        compartment_id: &str,
        query: &ListQuery,
    ) -> IdentityResult<Listing<User>> {
        self.require_tenancy(Some(compartment_id), "users")?;
        self.authorize(caller, "ListUsers", &self.tenancy.id, &Variables::new())?;
        let users = self
            .store
            .list_all(keys::USERS)
            .await?
            .iter()
            .map(|e| decode(&e.value))
            .collect::<IdentityResult<Vec<User>>>()?;
        listing::page(users, query)
    }

    /// `UpdateUser`
    pub async fn update_user(
        &self,
        caller: &Principal,
        id: &str,
        details: UpdateUserDetails,
        if_match: Option<&str>,
    ) -> IdentityResult<Versioned<User>> {
        let (mut user, revision) = self.load_user(id).await?;
        self.authorize(caller, "UpdateUser", &self.tenancy.id, &target(&user))?;
        check_if_match(if_match, revision)?;
        if let Some(d) = details.description.as_deref() {
            user.description = check_description(Some(d), "user")?;
        }
        if details.email.is_some() {
            user.email = check_email(details.email.as_deref())?;
        }
        if let Some(tags) = details.freeform_tags {
            user.freeform_tags = tags;
        }
        if let Some(tags) = details.defined_tags {
            user.defined_tags = tags;
        }
        let txn = Txn::new()
            .require_revision(keys::user(id), revision)
            .put(keys::user(id), encode(&user)?);
        let revision = commit_or(&*self.store, txn, || IdentityError::EtagMismatch).await?;
        Ok(Versioned {
            value: user,
            etag: etag(revision),
        })
    }

    /// `DeleteUser`: the user must belong to no group; its credentials go with it
    pub async fn delete_user(
        &self,
        caller: &Principal,
        id: &str,
        if_match: Option<&str>,
    ) -> IdentityResult<()> {
        let (user, revision) = self.load_user(id).await?;
        self.authorize(caller, "DeleteUser", &self.tenancy.id, &target(&user))?;
        check_if_match(if_match, revision)?;
        let generation = self.store.get(&keys::generation(id)).await?;
        if !self
            .store
            .list(&keys::member_prefix(id), None, 1)
            .await?
            .entries
            .is_empty()
        {
            return Err(IdentityError::IncorrectState(
                "the user still belongs to groups; remove it from them first".into(),
            ));
        }
        let mut txn = Txn::new()
            .require_revision(keys::user(id), revision)
            .delete(keys::user(id))
            .delete(keys::user_name(&user.name));
        txn = match &generation {
            Some(g) => txn
                .require_revision(keys::generation(id), g.mod_revision)
                .delete(keys::generation(id)),
            None => txn.require_absent(keys::generation(id)),
        };
        for entry in self.store.list_all(&keys::api_key_prefix(id)).await? {
            txn = txn.delete(entry.key);
        }
        for entry in self.store.list_all(&keys::auth_token_prefix(id)).await? {
            txn = txn.delete(entry.key);
        }
        commit_or(&*self.store, txn, || IdentityError::Conflict).await?;
        Ok(())
    }

    /// Adds the credential-count guard to `txn`: a new generation for the user, conditional
    /// on the one read, so two concurrent uploads cannot both pass the limit
    async fn guard_user(&self, txn: Txn, user_id: &str, user_revision: u64) -> IdentityResult<Txn> {
        let generation = self.store.get(&keys::generation(user_id)).await?;
        let txn = txn.require_revision(keys::user(user_id), user_revision);
        let txn = match generation {
            Some(g) => txn.require_revision(keys::generation(user_id), g.mod_revision),
            None => txn.require_absent(keys::generation(user_id)),
        };
        Ok(txn.put(keys::generation(user_id), new_generation()))
    }

    /// `UploadApiKey`: at most three keys per user, fingerprint unique
    pub async fn upload_api_key(
        &self,
        caller: &Principal,
        user_id: &str,
        details: CreateApiKeyDetails,
    ) -> IdentityResult<ApiKey> {
        let (user, revision) = self.load_user(user_id).await?;
        self.authorize_self_or(caller, user_id, "UploadApiKey", &target(&user))?;
        let pem = details
            .key
            .ok_or_else(|| IdentityError::MissingParameter("`key` is required".into()))?;
        let public = ApiPublicKey::from_pem(&pem)
            .map_err(|e| IdentityError::InvalidParameter(format!("`key`: {e}")))?;
        let fingerprint = public.fingerprint();
        let existing = self.store.list_all(&keys::api_key_prefix(user_id)).await?;
        if existing.len() >= MAX_API_KEYS {
            return Err(IdentityError::LimitExceeded(format!(
                "a user may have at most {MAX_API_KEYS} API keys; delete one first"
            )));
        }
        let key = ApiKey {
            key_id: format!("{}/{}/{}", self.tenancy.id, user_id, fingerprint),
            key_value: public.to_pem(),
            fingerprint: fingerprint.clone(),
            user_id: user_id.to_owned(),
            time_created: now(),
            lifecycle_state: LifecycleState::Active,
        };
        let record = keys::api_key(user_id, &fingerprint);
        let txn = Txn::new()
            .require_absent(&record)
            .put(record, encode(&key)?);
        let txn = self.guard_user(txn, user_id, revision).await?;
        commit_or(&*self.store, txn, || {
            IdentityError::AlreadyExists(format!(
                "the user already has the key {fingerprint}, or its keys changed meanwhile"
            ))
        })
        .await?;
        Ok(key)
    }

    /// `ListApiKeys`
    pub async fn list_api_keys(
        &self,
        caller: &Principal,
        user_id: &str,
    ) -> IdentityResult<Vec<ApiKey>> {
        let (user, _) = self.load_user(user_id).await?;
        self.authorize_self_or(caller, user_id, "ListApiKeys", &target(&user))?;
        self.store
            .list_all(&keys::api_key_prefix(user_id))
            .await?
            .iter()
            .map(|e| decode(&e.value))
            .collect()
    }

    /// `DeleteApiKey`
    pub async fn delete_api_key(
        &self,
        caller: &Principal,
        user_id: &str,
        fingerprint: &str,
    ) -> IdentityResult<()> {
        let (user, _) = self.load_user(user_id).await?;
        self.authorize_self_or(caller, user_id, "DeleteApiKey", &target(&user))?;
        let key = keys::api_key(user_id, &fingerprint.to_ascii_lowercase());
        match self.store.delete(&key, None).await {
            Ok(_) => Ok(()),
            Err(portcullis_store::StoreError::Conflict) => {
                Err(IdentityError::NotAuthorizedOrNotFound)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `CreateAuthToken`: at most two per user; the token is in this response only
    pub async fn create_auth_token(
        &self,
        caller: &Principal,
        user_id: &str,
        details: AuthTokenDetails,
    ) -> IdentityResult<AuthToken> {
        let (user, revision) = self.load_user(user_id).await?;
        self.authorize_self_or(caller, user_id, "CreateAuthToken", &target(&user))?;
        let description = check_description(details.description.as_deref(), "auth token")?;
        let existing = self
            .store
            .list_all(&keys::auth_token_prefix(user_id))
            .await?;
        if existing.len() >= MAX_AUTH_TOKENS {
            return Err(IdentityError::LimitExceeded(format!(
                "a user may have at most {MAX_AUTH_TOKENS} auth tokens; delete one first"
            )));
        }
        let secret = TokenSecret::generate().ok_or_else(|| {
            IdentityError::Store(portcullis_store::StoreError::Unavailable(
                "no secure randomness available".into(),
            ))
        })?;
        let token = AuthToken {
            token: None,
            id: Ocid::generate("credential", None).into_string(),
            user_id: user_id.to_owned(),
            description,
            time_created: now(),
            time_expires: None,
            lifecycle_state: LifecycleState::Active,
        };
        let record = AuthTokenRecord {
            token: token.clone(),
            hash: secret.hash().as_str().to_owned(),
        };
        let txn = Txn::new().put(keys::auth_token(user_id, &token.id), encode(&record)?);
        let txn = self.guard_user(txn, user_id, revision).await?;
        commit_or(&*self.store, txn, || IdentityError::Conflict).await?;
        Ok(AuthToken {
            token: Some(secret.expose().to_owned()),
            ..token
        })
    }

    /// `ListAuthTokens` (never includes the tokens themselves)
    pub async fn list_auth_tokens(
        &self,
        caller: &Principal,
        user_id: &str,
    ) -> IdentityResult<Vec<AuthToken>> {
        let (user, _) = self.load_user(user_id).await?;
        self.authorize_self_or(caller, user_id, "ListAuthTokens", &target(&user))?;
        self.store
            .list_all(&keys::auth_token_prefix(user_id))
            .await?
            .iter()
            .map(|e| decode::<AuthTokenRecord>(&e.value).map(|r| r.token))
            .collect()
    }

    /// `UpdateAuthToken`: the description only
    pub async fn update_auth_token(
        &self,
        caller: &Principal,
        user_id: &str,
        token_id: &str,
        details: AuthTokenDetails,
    ) -> IdentityResult<AuthToken> {
        let (user, _) = self.load_user(user_id).await?;
        self.authorize_self_or(caller, user_id, "UpdateAuthToken", &target(&user))?;
        let key = keys::auth_token(user_id, token_id);
        let (mut record, revision) = read_json::<AuthTokenRecord>(&*self.store, &key)
            .await?
            .ok_or(IdentityError::NotAuthorizedOrNotFound)?;
        if let Some(d) = details.description.as_deref() {
            record.token.description = check_description(Some(d), "auth token")?;
        }
        let txn = Txn::new()
            .require_revision(&key, revision)
            .put(&key, encode(&record)?);
        commit_or(&*self.store, txn, || IdentityError::Conflict).await?;
        Ok(record.token)
    }

    /// `DeleteAuthToken`
    pub async fn delete_auth_token(
        &self,
        caller: &Principal,
        user_id: &str,
        token_id: &str,
    ) -> IdentityResult<()> {
        let (user, _) = self.load_user(user_id).await?;
        self.authorize_self_or(caller, user_id, "DeleteAuthToken", &target(&user))?;
        match self
            .store
            .delete(&keys::auth_token(user_id, token_id), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(portcullis_store::StoreError::Conflict) => {
                Err(IdentityError::NotAuthorizedOrNotFound)
            }
            Err(e) => Err(e.into()),
        }
    }
}
