//! Who is asking: users, resource principals (a cluster, an instance, a workload) and services.

use std::collections::BTreeMap;

/// The authenticated caller of a request
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Principal {
    /// An IAM user, signing with an API key or presenting an auth token
    User(UserPrincipal),
    /// A resource acting as itself: a cluster, an instance, a workload
    Resource(ResourcePrincipal),
    /// An OCI service acting on the tenancy's behalf (`allow service <name> ...`)
    Service(String),
}

/// An IAM user and the groups it belongs to
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct UserPrincipal {
    /// The user's OCID
    pub id: String,
    /// The user's name
    pub name: String,
    /// The OCIDs of the user's groups
    pub group_ids: Vec<String>,
    /// Whether the user proved a TOTP second factor for this session
    pub mfa_verified: bool,
}

/// A resource principal, described by the attributes dynamic-group rules and
/// `request.principal.*` conditions test
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct ResourcePrincipal {
    /// The resource's OCID
    pub id: String,
    /// `cluster`, `instance`, `workload`, `nodepool`, ...
    pub resource_type: String,
    /// The compartment the resource lives in
    pub compartment_id: String,
    /// Extra `request.principal.<name>` attributes, e.g. a workload's `namespace`,
    /// `service_account` and `cluster_id`
    pub attributes: BTreeMap<String, String>,
    /// Defined tags as `<namespace>.<key>` → value, for `tag.<ns>.<key>.value` rules
    pub tags: BTreeMap<String, String>,
}

impl Principal {
    /// The principal's OCID (`request.user.id`), or the service name
    pub fn id(&self) -> &str {
        match self {
            Principal::User(u) => &u.id,
            Principal::Resource(r) => &r.id,
            Principal::Service(name) => name,
        }
    }

    /// `request.principal.type`
    pub fn principal_type(&self) -> &str {
        match self {
            Principal::User(_) => "user",
            Principal::Resource(r) => &r.resource_type,
            Principal::Service(_) => "service",
        }
    }

    /// A short description for audit records: `user <name> (<ocid>)`
    pub fn describe(&self) -> String {
        match self {
            Principal::User(u) => format!("user {} ({})", u.name, u.id),
            Principal::Resource(r) => format!("{} {}", r.resource_type, r.id),
            Principal::Service(name) => format!("service {name}"),
        }
    }
}
