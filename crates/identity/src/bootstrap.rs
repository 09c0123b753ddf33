//! First start: a tenancy, the `Administrators` group, the `admin` user with an API key, and
//! OCI's built-in `Allow group Administrators to manage all-resources in tenancy`.

use portcullis_auth::ApiPrivateKey;
use portcullis_iam::{Directory, Ocid, validate_policy};
use portcullis_store::{Store, Txn};

use crate::model::{
    ApiKey, Group, LifecycleState, Policy, PolicyRecord, Tenancy, User, UserCapabilities,
    UserGroupMembership, now,
};
use crate::{IdentityError, IdentityResult, encode, keys, read_json, region_key};

/// The policy every tenancy starts with
pub const ADMIN_STATEMENT: &str = "Allow group Administrators to manage all-resources in tenancy";

/// What bootstrapping found or made
#[derive(Debug)]
pub struct Bootstrap {
    /// Whether this call created the tenancy (false: it already existed)
    pub created: bool,
    /// The tenancy
    pub tenancy: Tenancy,
    /// The admin user's OCID, when created now
    pub admin_user_id: Option<String>,
    /// The admin key's fingerprint, when created now
    pub admin_fingerprint: Option<String>,
}

/// Creates the tenancy and its administrator unless the store already has a tenancy
///
/// `persist` receives the admin's new private key, the tenancy and the user's OCID before
/// anything is committed, so a crash can never leave an administrator whose key was lost.
pub async fn bootstrap(
    store: &dyn Store,
    tenancy_name: &str,
    region: &str,
    persist: impl FnOnce(&ApiPrivateKey, &Tenancy, &str, &str) -> Result<(), String>,
) -> IdentityResult<Bootstrap> {
    if let Some((tenancy, _)) = read_json::<Tenancy>(store, keys::TENANCY).await? {
        return Ok(Bootstrap {
            created: false,
            tenancy,
            admin_user_id: None,
            admin_fingerprint: None,
        });
    }
    let tenancy = Tenancy {
        id: Ocid::generate("tenancy", None).into_string(),
        name: tenancy_name.to_owned(),
        description: "Portcullis tenancy".to_owned(),
        home_region_key: region_key(region),
        freeform_tags: Default::default(),
        defined_tags: Default::default(),
    };
    let created = now();
    let group = Group {
        id: Ocid::generate("group", None).into_string(),
        compartment_id: tenancy.id.clone(),
        name: "Administrators".to_owned(),
        description: "Tenancy administrators".to_owned(),
        time_created: created.clone(),
        lifecycle_state: LifecycleState::Active,
        freeform_tags: Default::default(),
        defined_tags: Default::default(),
    };
    let user = User {
        id: Ocid::generate("user", None).into_string(),
        compartment_id: tenancy.id.clone(),
        name: "admin".to_owned(),
        description: "Tenancy administrator created at first start".to_owned(),
        email: None,
        email_verified: false,
        time_created: created.clone(),
        lifecycle_state: LifecycleState::Active,
        is_mfa_activated: false,
        capabilities: UserCapabilities::default(),
        freeform_tags: Default::default(),
        defined_tags: Default::default(),
    };
    let membership = UserGroupMembership {
        id: Ocid::generate("groupmembership", None).into_string(),
        compartment_id: tenancy.id.clone(),
        group_id: group.id.clone(),
        user_id: user.id.clone(),
        time_created: created.clone(),
        lifecycle_state: LifecycleState::Active,
    };
    let mut directory = Directory::new(&tenancy.id, &tenancy.name);
    directory.add_group(&group.id, &group.name);
    let statements = vec![ADMIN_STATEMENT.to_owned()];
    let bindings = validate_policy(&directory, &statements, &tenancy.id)
        .map_err(|e| IdentityError::InvalidParameter(e.to_string()))?;
    let policy = PolicyRecord {
        policy: Policy {
            id: Ocid::generate("policy", None).into_string(),
            compartment_id: tenancy.id.clone(),
            name: "Tenant Admin Policy".to_owned(),
            statements,
            description: "Tenant Admin Policy".to_owned(),
            time_created: created.clone(),
            lifecycle_state: LifecycleState::Active,
            version_date: None,
            freeform_tags: Default::default(),
            defined_tags: Default::default(),
        },
        bindings,
    };
    let key = ApiPrivateKey::generate()
        .map_err(|e| IdentityError::InvalidParameter(format!("generating the admin key: {e}")))?;
    let public = key
        .public_key()
        .map_err(|e| IdentityError::InvalidParameter(format!("generating the admin key: {e}")))?;
    let fingerprint = public.fingerprint();
    let api_key = ApiKey {
        key_id: format!("{}/{}/{}", tenancy.id, user.id, fingerprint),
        key_value: public.to_pem(),
        fingerprint: fingerprint.clone(),
        user_id: user.id.clone(),
        time_created: created,
        lifecycle_state: LifecycleState::Active,
    };
    persist(&key, &tenancy, &user.id, &fingerprint).map_err(|e| {
        IdentityError::Store(portcullis_store::StoreError::Unavailable(format!(
            "writing the admin credentials: {e}"
        )))
    })?;
    let txn = Txn::new()
        .require_absent(keys::TENANCY)
        .put(keys::TENANCY, encode(&tenancy)?)
        .put(keys::group(&group.id), encode(&group)?)
        .put(keys::group_name(&group.name), group.id.clone().into_bytes())
        .put(keys::user(&user.id), encode(&user)?)
        .put(keys::user_name(&user.name), user.id.clone().into_bytes())
        .put(keys::membership(&membership.id), encode(&membership)?)
        .put(
            keys::member(&user.id, &group.id),
            membership.id.clone().into_bytes(),
        )
        .put(
            keys::group_member(&group.id, &user.id),
            membership.id.clone().into_bytes(),
        )
        .put(keys::policy(&policy.policy.id), encode(&policy)?)
        .put(
            keys::policy_name(&policy.policy.name),
            policy.policy.id.clone().into_bytes(),
        )
        .put(
            keys::child(&tenancy.id, "policy", &policy.policy.id),
            Vec::new(),
        )
        .put(keys::api_key(&user.id, &fingerprint), encode(&api_key)?);
    store.commit(txn).await?;
    Ok(Bootstrap {
        created: true,
        tenancy,
        admin_user_id: Some(user.id),
        admin_fingerprint: Some(fingerprint),
    })
}
