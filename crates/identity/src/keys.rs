//! The identity service's key layout in the store.
//!
//! Records live at `iam/<kind>/<ocid>`. Secondary keys keep the invariants OCI promises,
//! enforced by transaction preconditions rather than by reads: name uniqueness
//! (`iam/name/...`), what lives in a compartment (`iam/child/<compartment>/...`), and group
//! membership in both directions. A `generation` key per object changes whenever something is
//! attached to it, so a delete that checked "empty" conflicts with a concurrent attach.

pub(crate) const TENANCY: &str = "iam/tenancy";

pub(crate) fn compartment(id: &str) -> String {
    format!("iam/compartment/{id}")
}

pub(crate) const COMPARTMENTS: &str = "iam/compartment/";

pub(crate) fn user(id: &str) -> String {
    format!("iam/user/{id}")
}

pub(crate) const USERS: &str = "iam/user/";

pub(crate) fn group(id: &str) -> String {
    format!("iam/group/{id}")
}

pub(crate) const GROUPS: &str = "iam/group/";

pub(crate) fn dynamic_group(id: &str) -> String {
    format!("iam/dynamic-group/{id}")
}

pub(crate) const DYNAMIC_GROUPS: &str = "iam/dynamic-group/";

pub(crate) fn policy(id: &str) -> String {
    format!("iam/policy/{id}")
}

pub(crate) const POLICIES: &str = "iam/policy/";

pub(crate) fn membership(id: &str) -> String {
    format!("iam/membership/{id}")
}

pub(crate) const MEMBERSHIPS: &str = "iam/membership/";

/// `iam/member/<user>/<group>` → membership id
pub(crate) fn member(user: &str, group: &str) -> String {
    format!("iam/member/{user}/{group}")
}

pub(crate) fn member_prefix(user: &str) -> String {
    format!("iam/member/{user}/")
}

/// `iam/group-member/<group>/<user>` → membership id
pub(crate) fn group_member(group: &str, user: &str) -> String {
    format!("iam/group-member/{group}/{user}")
}

pub(crate) fn group_member_prefix(group: &str) -> String {
    format!("iam/group-member/{group}/")
}

pub(crate) fn api_key(user: &str, fingerprint: &str) -> String {
    format!("iam/api-key/{user}/{fingerprint}")
}

pub(crate) fn api_key_prefix(user: &str) -> String {
    format!("iam/api-key/{user}/")
}

pub(crate) fn auth_token(user: &str, id: &str) -> String {
    format!("iam/auth-token/{user}/{id}")
}

pub(crate) fn auth_token_prefix(user: &str) -> String {
    format!("iam/auth-token/{user}/")
}

/// Names of users are unique in the tenancy, case-insensitively
pub(crate) fn user_name(name: &str) -> String {
    format!("iam/name/user/{}", name.to_lowercase())
}

/// Groups and dynamic groups share one namespace
pub(crate) fn group_name(name: &str) -> String {
    format!("iam/name/group/{}", name.to_lowercase())
}

/// Policy names are unique in the tenancy
pub(crate) fn policy_name(name: &str) -> String {
    format!("iam/name/policy/{}", name.to_lowercase())
}

/// Compartment names are unique among siblings
pub(crate) fn compartment_name(parent: &str, name: &str) -> String {
    format!("iam/name/compartment/{parent}/{}", name.to_lowercase())
}

/// `iam/child/<compartment>/<kind>/<id>`: something that lives in a compartment
pub(crate) fn child(compartment: &str, kind: &str, id: &str) -> String {
    format!("iam/child/{compartment}/{kind}/{id}")
}

pub(crate) fn child_prefix(compartment: &str) -> String {
    format!("iam/child/{compartment}/")
}

/// Changes whenever something is attached to the object `id`
pub(crate) fn generation(id: &str) -> String {
    format!("iam/generation/{id}")
}

/// Keys whose change alters what the authorizer knows
pub(crate) fn affects_authorizer(key: &str) -> bool {
    [TENANCY, COMPARTMENTS, GROUPS, DYNAMIC_GROUPS, POLICIES]
        .iter()
        .any(|p| key.starts_with(p))
}
