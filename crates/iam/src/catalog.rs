//! What verbs grant: resource types, families, permissions and API operations.
//!
//! The tables follow OCI's policy reference (see `oci-reference.md` §2.1, §3.3, §3.4). A verb
//! grants its own permissions plus those of every lower verb, so each table lists only what a
//! verb adds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A policy verb; the order is OCI's: each verb includes the ones before it
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    /// List resources without confidential detail
    Inspect,
    /// Inspect, plus get the resource and its metadata
    Read,
    /// Read, plus work with existing resources
    Use,
    /// Every permission of the resource type
    Manage,
}

impl Verb {
    /// All verbs, weakest first
    pub const ALL: [Verb; 4] = [Verb::Inspect, Verb::Read, Verb::Use, Verb::Manage];

    /// The keyword as written in policies
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Inspect => "inspect",
            Verb::Read => "read",
            Verb::Use => "use",
            Verb::Manage => "manage",
        }
    }

    fn tier(self) -> usize {
        match self {
            Verb::Inspect => 0,
            Verb::Read => 1,
            Verb::Use => 2,
            Verb::Manage => 3,
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verb {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verb::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

/// An individual resource type whose permissions Portcullis knows
#[derive(Debug)]
struct TypeTable {
    name: &'static str,
    /// Permissions each verb adds, indexed inspect, read, use, manage
    adds: [&'static [&'static str]; 4],
}

const fn table(name: &'static str, adds: [&'static [&'static str]; 4]) -> TypeTable {
    TypeTable { name, adds }
}

static TYPES: &[TypeTable] = &[
    // Kubernetes Engine (oci-reference.md §2.1)
    table(
        "clusters",
        [
            &["CLUSTER_INSPECT"],
            &["CLUSTER_READ"],
            &["CLUSTER_USE"],
            &[
                "CLUSTER_CREATE",
                "CLUSTER_DELETE",
                "CLUSTER_UPDATE",
                "CLUSTER_MANAGE",
                "CLUSTER_JOIN",
            ],
        ],
    ),
    table(
        "cluster-node-pools",
        [
            &["CLUSTER_NODE_POOL_INSPECT"],
            &["CLUSTER_NODE_POOL_READ"],
            &[],
            &[
                "CLUSTER_NODE_POOL_CREATE",
                "CLUSTER_NODE_POOL_DELETE",
                "CLUSTER_NODE_POOL_UPDATE",
            ],
        ],
    ),
    table(
        "cluster-pod-shapes",
        [&["CLUSTER_POD_SHAPE_INSPECT"], &[], &[], &[]],
    ),
    table(
        "cluster-virtual-node-pools",
        [
            &["CLUSTER_VIRTUAL_NODE_POOL_INSPECT"],
            &["CLUSTER_VIRTUAL_NODE_POOL_READ"],
            &[],
            &[
                "CLUSTER_VIRTUAL_NODE_POOL_CREATE",
                "CLUSTER_VIRTUAL_NODE_POOL_UPDATE",
                "CLUSTER_VIRTUAL_NODE_POOL_DELETE",
            ],
        ],
    ),
    table(
        "cluster-work-requests",
        [
            &["CLUSTER_WORK_REQUEST_INSPECT"],
            &["CLUSTER_WORK_REQUEST_READ"],
            &[],
            &["CLUSTER_WORK_REQUEST_DELETE"],
        ],
    ),
    table(
        "cluster-workload-mappings",
        [
            &["CLUSTER_WORKLOAD_MAPPING_INSPECT"],
            &["CLUSTER_WORKLOAD_MAPPING_READ"],
            &[
                "CLUSTER_WORKLOAD_MAPPING_UPDATE",
                "CLUSTER_WORKLOAD_COMPARTMENT_BIND",
                "CLUSTER_WORKLOAD_COMPARTMENT_UNBIND",
            ],
            &[
                "CLUSTER_WORKLOAD_MAPPING_CREATE",
                "CLUSTER_WORKLOAD_MAPPING_DELETE",
            ],
        ],
    ),
    // Container Registry (§3.4): `use` adds nothing, so pushing needs `manage`.
    table(
        "repos",
        [
            &["REPOSITORY_INSPECT"],
            &["REPOSITORY_READ"],
            &[],
            &[
                "REPOSITORY_CREATE",
                "REPOSITORY_DELETE",
                "REPOSITORY_UPDATE",
                "REPOSITORY_MANAGE",
            ],
        ],
    ),
    // Vulnerability Scanning (its IAM policy page): `vss-family` below covers these. Scans
    // themselves run as the service, so results are never updated by callers.
    table(
        "container-scan-recipes",
        [
            &["VSS_CONTAINERSCANRECIPE_INSPECT"],
            &["VSS_CONTAINERSCANRECIPE_READ"],
            &["VSS_CONTAINERSCANRECIPE_UPDATE"],
            &[
                "VSS_CONTAINERSCANRECIPE_CREATE",
                "VSS_CONTAINERSCANRECIPE_DELETE",
                "VSS_CONTAINERSCANRECIPE_MOVE",
            ],
        ],
    ),
    table(
        "container-scan-targets",
        [
            &["VSS_CONTAINERSCANTARGET_INSPECT"],
            &["VSS_CONTAINERSCANTARGET_READ"],
            &["VSS_CONTAINERSCANTARGET_UPDATE"],
            &[
                "VSS_CONTAINERSCANTARGET_CREATE",
                "VSS_CONTAINERSCANTARGET_DELETE",
                "VSS_CONTAINERSCANTARGET_MOVE",
            ],
        ],
    ),
    table(
        "container-scan-results",
        [
            &["VSS_CONTAINERSCANRESULT_INSPECT"],
            &["VSS_CONTAINERSCANRESULT_READ"],
            &[],
            &["VSS_CONTAINERSCANRESULT_DELETE"],
        ],
    ),
    // Vault (§3.4)
    table(
        "vaults",
        [
            &["VAULT_INSPECT"],
            &["VAULT_READ"],
            &[
                "VAULT_CREATE_KEY",
                "VAULT_IMPORT_KEY",
                "VAULT_CREATE_SECRET",
            ],
            &[
                "VAULT_CREATE",
                "VAULT_UPDATE",
                "VAULT_DELETE",
                "VAULT_MOVE",
                "VAULT_BACKUP",
                "VAULT_RESTORE",
                "VAULT_REPLICATE",
            ],
        ],
    ),
    table(
        "keys",
        [
            &["KEY_INSPECT"],
            &["KEY_READ"],
            &[
                "KEY_ENCRYPT",
                "KEY_DECRYPT",
                "KEY_EXPORT",
                "KEY_SIGN",
                "KEY_VERIFY",
            ],
            &[
                "KEY_CREATE",
                "KEY_UPDATE",
                "KEY_ROTATE",
                "KEY_DELETE",
                "KEY_MOVE",
                "KEY_IMPORT",
                "KEY_BACKUP",
                "KEY_RESTORE",
            ],
        ],
    ),
    table(
        "key-delegate",
        [&[], &[], &["KEY_ASSOCIATE", "KEY_DISASSOCIATE"], &[]],
    ),
    table(
        "secrets",
        [
            &["SECRET_INSPECT"],
            &["SECRET_READ"],
            &["SECRET_UPDATE"],
            &["SECRET_CREATE", "SECRET_DELETE", "SECRET_MOVE"],
        ],
    ),
    table(
        "secret-versions",
        [
            &["SECRET_VERSION_INSPECT"],
            &["SECRET_VERSION_READ"],
            &[],
            &["SECRET_VERSION_MANAGE"],
        ],
    ),
    table("secret-bundles", [&[], &["SECRET_BUNDLE_READ"], &[], &[]]),
    // Identity (OCI's IAM policy reference)
    table(
        "compartments",
        [
            &["COMPARTMENT_INSPECT"],
            &["COMPARTMENT_READ"],
            &[],
            &[
                "COMPARTMENT_CREATE",
                "COMPARTMENT_DELETE",
                "COMPARTMENT_UPDATE",
                "COMPARTMENT_RECOVER",
                "COMPARTMENT_MOVE",
            ],
        ],
    ),
    table(
        "users",
        [
            &["USER_INSPECT"],
            &["USER_READ"],
            &[
                "USER_UPDATE",
                "USER_UIPASS_SET",
                "USER_UIPASS_RESET",
                "USER_APIKEY_ADD",
                "USER_APIKEY_REMOVE",
                "USER_AUTHTOKEN_SET",
                "USER_AUTHTOKEN_RESET",
            ],
            &["USER_CREATE", "USER_DELETE", "USER_UNBLOCK"],
        ],
    ),
    table(
        "groups",
        [
            &["GROUP_INSPECT"],
            &["GROUP_READ"],
            &["GROUP_UPDATE", "GROUP_MEMBERSHIP_UPDATE"],
            &["GROUP_CREATE", "GROUP_DELETE"],
        ],
    ),
    // `inspect policies` returns the statements themselves (§3.3).
    table(
        "policies",
        [
            &["POLICY_READ"],
            &[],
            &[],
            &[
                "POLICY_CREATE",
                "POLICY_DELETE",
                "POLICY_UPDATE",
                "POLICY_MOVE",
            ],
        ],
    ),
    table(
        "dynamic-groups",
        [
            &["DYNAMIC_GROUP_INSPECT"],
            &["DYNAMIC_GROUP_READ"],
            &[],
            &[
                "DYNAMIC_GROUP_CREATE",
                "DYNAMIC_GROUP_DELETE",
                "DYNAMIC_GROUP_UPDATE",
            ],
        ],
    ),
    table(
        "tenancies",
        [&["TENANCY_INSPECT"], &[], &[], &["TENANCY_UPDATE"]],
    ),
];

/// Families: a `<verb> <family>` statement is one statement per member type.
static FAMILIES: &[(&str, &[&str])] = &[
    (
        "cluster-family",
        &[
            "clusters",
            "cluster-node-pools",
            "cluster-pod-shapes",
            "cluster-virtual-node-pools",
            "cluster-work-requests",
            "cluster-workload-mappings",
        ],
    ),
    ("key-family", &["vaults", "keys", "key-delegate"]),
    (
        "secret-family",
        &["secrets", "secret-versions", "secret-bundles"],
    ),
    (
        "vss-family",
        &[
            "container-scan-recipes",
            "container-scan-targets",
            "container-scan-results",
        ],
    ),
];

/// Other names OCI accepts; statements naming them parse but grant nothing Portcullis checks.
static OTHER_TYPES: &[&str] = &[
    "instance-family",
    "instances",
    "instance-images",
    "instance-configurations",
    "instance-pools",
    "console-histories",
    "instance-console-connection",
    "volume-family",
    "volumes",
    "volume-attachments",
    "volume-backups",
    "boot-volume-backups",
    "virtual-network-family",
    "vcns",
    "subnets",
    "route-tables",
    "security-lists",
    "network-security-groups",
    "vnics",
    "vnic-attachments",
    "private-ips",
    "public-ips",
    "internet-gateways",
    "nat-gateways",
    "service-gateways",
    "drgs",
    "object-family",
    "buckets",
    "objects",
    "database-family",
    "autonomous-database-family",
    "file-family",
    "load-balancers",
    "dns",
    "generic-artifacts",
    "artifact-family",
    "hsm-cluster",
    "hsm-partitions",
    "identity-providers",
    "network-sources",
    "tag-namespaces",
    "tag-defaults",
    "authentication-policies",
    "domains",
    "work-requests",
    "vulnerability-scanning-family",
    "host-scan-recipes",
    "host-scan-targets",
    "host-agent-scan-results",
    "host-port-scan-results",
    "host-cis-benchmark-scan-results",
    "host-vulnerabilities",
    "vss-vulnerabilities",
    "vss-work-requests",
    "logging-family",
    "metrics",
    "alarms",
    "ons-family",
    "functions-family",
    "devops-family",
    "cloud-shell",
    "cloudevents-rules",
    "audit-events",
    "usage-budgets",
];

/// Spelling variants OCI's own pages use for the same type
static ALIASES: &[(&str, &str)] = &[("cluster-virtualnode-pools", "cluster-virtual-node-pools")];

/// Every individual resource type with a permission table
pub fn all_types() -> impl Iterator<Item = ResourceTypeId> {
    (0..TYPES.len())
        .filter_map(|i| u16::try_from(i).ok())
        .map(ResourceTypeId)
}

/// An individual resource type with a permission table, as an index into the catalog
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct ResourceTypeId(u16);

impl ResourceTypeId {
    /// Index of the type, dense from 0
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// The type's policy name (`repos`, `keys`, ...)
    pub fn name(self) -> &'static str {
        TYPES.get(self.index()).map_or("", |t| t.name)
    }

    /// Permissions `verb` grants on this type, cumulatively
    pub fn permissions(self, verb: Verb) -> Vec<&'static str> {
        TYPES
            .get(self.index())
            .map(|t| {
                t.adds
                    .iter()
                    .take(verb.tier() + 1)
                    .flat_map(|p| p.iter().copied())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What a resource-type word in a policy statement names
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum ResourceScope {
    /// `all-resources`
    All,
    /// One family or individual type with a table: the types it covers
    Types(Vec<ResourceTypeId>),
    /// A type OCI knows that Portcullis does not enforce; it covers nothing here
    Untracked,
}

/// Resolves a resource-type word (case-insensitive); `None` when OCI has no such type
pub fn resolve_resource(word: &str) -> Option<ResourceScope> {
    let lower = word.to_ascii_lowercase();
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| *alias == lower)
        .map_or(lower.as_str(), |(_, to)| to);
    if canonical == "all-resources" {
        return Some(ResourceScope::All);
    }
    if let Some(id) = type_id(canonical) {
        return Some(ResourceScope::Types(vec![id]));
    }
    if let Some((_, members)) = FAMILIES.iter().find(|(name, _)| *name == canonical) {
        return Some(ResourceScope::Types(
            members.iter().filter_map(|m| type_id(m)).collect(),
        ));
    }
    if OTHER_TYPES.contains(&canonical) {
        return Some(ResourceScope::Untracked);
    }
    None
}

fn type_id(name: &str) -> Option<ResourceTypeId> {
    TYPES
        .iter()
        .position(|t| t.name == name)
        .and_then(|i| u16::try_from(i).ok())
        .map(ResourceTypeId)
}

/// A permission, with the type it belongs to and the weakest verb that grants it
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Permission {
    name: &'static str,
    resource_type: ResourceTypeId,
    verb: Verb,
}

impl Permission {
    /// Looks up a permission by its UPPER_SNAKE name (case-insensitive)
    pub fn lookup(name: &str) -> Option<Permission> {
        TYPES.iter().enumerate().find_map(|(i, t)| {
            t.adds.iter().zip(Verb::ALL).find_map(|(perms, verb)| {
                perms
                    .iter()
                    .find(|p| p.eq_ignore_ascii_case(name))
                    .and_then(|p| {
                        Some(Permission {
                            name: p,
                            resource_type: ResourceTypeId(u16::try_from(i).ok()?),
                            verb,
                        })
                    })
            })
        })
    }

    /// The permission's name
    pub fn name(self) -> &'static str {
        self.name
    }

    /// The resource type it belongs to
    pub fn resource_type(self) -> ResourceTypeId {
        self.resource_type
    }

    /// The weakest verb that grants it
    pub fn verb(self) -> Verb {
        self.verb
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// API operations and the permissions each needs (all of them)
static OPERATIONS: &[(&str, &[&str])] = &[
    // Identity
    ("GetTenancy", &["TENANCY_INSPECT"]),
    ("ListCompartments", &["COMPARTMENT_INSPECT"]),
    ("GetCompartment", &["COMPARTMENT_INSPECT"]),
    ("CreateCompartment", &["COMPARTMENT_CREATE"]),
    ("UpdateCompartment", &["COMPARTMENT_UPDATE"]),
    ("DeleteCompartment", &["COMPARTMENT_DELETE"]),
    ("ListUsers", &["USER_INSPECT"]),
    ("GetUser", &["USER_READ"]),
    ("CreateUser", &["USER_CREATE"]),
    ("UpdateUser", &["USER_UPDATE"]),
    ("DeleteUser", &["USER_DELETE"]),
    ("ListGroups", &["GROUP_INSPECT"]),
    ("GetGroup", &["GROUP_READ"]),
    ("CreateGroup", &["GROUP_CREATE"]),
    ("UpdateGroup", &["GROUP_UPDATE"]),
    ("DeleteGroup", &["GROUP_DELETE"]),
    ("ListUserGroupMemberships", &["GROUP_INSPECT"]),
    ("GetUserGroupMembership", &["GROUP_READ"]),
    (
        "AddUserToGroup",
        &["USER_UPDATE", "GROUP_MEMBERSHIP_UPDATE"],
    ),
    (
        "RemoveUserFromGroup",
        &["USER_UPDATE", "GROUP_MEMBERSHIP_UPDATE"],
    ),
    ("ListDynamicGroups", &["DYNAMIC_GROUP_INSPECT"]),
    ("GetDynamicGroup", &["DYNAMIC_GROUP_READ"]),
    ("CreateDynamicGroup", &["DYNAMIC_GROUP_CREATE"]),
    ("UpdateDynamicGroup", &["DYNAMIC_GROUP_UPDATE"]),
    ("DeleteDynamicGroup", &["DYNAMIC_GROUP_DELETE"]),
    ("ListPolicies", &["POLICY_READ"]),
    ("GetPolicy", &["POLICY_READ"]),
    ("CreatePolicy", &["POLICY_CREATE"]),
    ("UpdatePolicy", &["POLICY_UPDATE"]),
    ("DeletePolicy", &["POLICY_DELETE"]),
    ("ListApiKeys", &["USER_READ"]),
    ("UploadApiKey", &["USER_APIKEY_ADD"]),
    ("DeleteApiKey", &["USER_APIKEY_REMOVE"]),
    ("ListAuthTokens", &["USER_READ"]),
    ("CreateAuthToken", &["USER_AUTHTOKEN_SET"]),
    ("UpdateAuthToken", &["USER_AUTHTOKEN_SET"]),
    ("DeleteAuthToken", &["USER_AUTHTOKEN_RESET"]),
    // Kubernetes Engine (§2.1)
    ("ListClusters", &["CLUSTER_INSPECT"]),
    ("GetCluster", &["CLUSTER_READ"]),
    ("CreateKubeconfig", &["CLUSTER_USE"]),
    ("CreateCluster", &["CLUSTER_CREATE"]),
    ("UpdateCluster", &["CLUSTER_UPDATE"]),
    (
        "DeleteCluster",
        &["CLUSTER_DELETE", "CLUSTER_NODE_POOL_DELETE"],
    ),
    ("AdministerK8s", &["CLUSTER_MANAGE"]),
    ("JoinCluster", &["CLUSTER_MANAGE"]),
    ("GetWorkRequest", &["CLUSTER_WORK_REQUEST_READ"]),
    ("ListWorkRequests", &["CLUSTER_WORK_REQUEST_INSPECT"]),
    // Container Registry (§3.4)
    ("ListContainerRepositories", &["REPOSITORY_INSPECT"]),
    ("GetContainerRepository", &["REPOSITORY_READ"]),
    ("CreateContainerRepository", &["REPOSITORY_CREATE"]),
    ("DeleteContainerRepository", &["REPOSITORY_DELETE"]),
    ("UpdateContainerRepository", &["REPOSITORY_MANAGE"]),
    ("ListContainerImages", &["REPOSITORY_INSPECT"]),
    ("GetContainerImage", &["REPOSITORY_READ"]),
    ("DeleteContainerImage", &["REPOSITORY_UPDATE"]),
    ("ListContainerImageSignatures", &["REPOSITORY_INSPECT"]),
    ("GetContainerImageSignature", &["REPOSITORY_READ"]),
    ("CreateContainerImageSignature", &["REPOSITORY_UPDATE"]),
    ("DeleteContainerImageSignature", &["REPOSITORY_UPDATE"]),
    ("PullImage", &["REPOSITORY_READ"]),
    ("PushImage", &["REPOSITORY_READ", "REPOSITORY_UPDATE"]),
    // Vulnerability Scanning
    (
        "ListContainerScanRecipes",
        &["VSS_CONTAINERSCANRECIPE_INSPECT"],
    ),
    ("GetContainerScanRecipe", &["VSS_CONTAINERSCANRECIPE_READ"]),
    (
        "UpdateContainerScanRecipe",
        &["VSS_CONTAINERSCANRECIPE_UPDATE"],
    ),
    (
        "CreateContainerScanRecipe",
        &["VSS_CONTAINERSCANRECIPE_CREATE"],
    ),
    (
        "DeleteContainerScanRecipe",
        &["VSS_CONTAINERSCANRECIPE_DELETE"],
    ),
    (
        "ListContainerScanTargets",
        &["VSS_CONTAINERSCANTARGET_INSPECT"],
    ),
    ("GetContainerScanTarget", &["VSS_CONTAINERSCANTARGET_READ"]),
    (
        "UpdateContainerScanTarget",
        &["VSS_CONTAINERSCANTARGET_UPDATE"],
    ),
    (
        "CreateContainerScanTarget",
        &[
            "VSS_CONTAINERSCANTARGET_CREATE",
            "VSS_CONTAINERSCANRECIPE_READ",
        ],
    ),
    (
        "DeleteContainerScanTarget",
        &["VSS_CONTAINERSCANTARGET_DELETE"],
    ),
    (
        "ListContainerScanResults",
        &["VSS_CONTAINERSCANRESULT_INSPECT"],
    ),
    ("GetContainerScanResult", &["VSS_CONTAINERSCANRESULT_READ"]),
    (
        "DeleteContainerScanResult",
        &["VSS_CONTAINERSCANRESULT_DELETE"],
    ),
    // Vault (§3.4, §7)
    ("ListVaults", &["VAULT_INSPECT"]),
    ("GetVault", &["VAULT_READ"]),
    ("CreateVault", &["VAULT_CREATE"]),
    ("UpdateVault", &["VAULT_UPDATE"]),
    ("ScheduleVaultDeletion", &["VAULT_DELETE"]),
    ("CancelVaultDeletion", &["VAULT_DELETE"]),
    ("ListKeys", &["KEY_INSPECT"]),
    ("GetKey", &["KEY_READ"]),
    ("CreateKey", &["KEY_CREATE", "VAULT_CREATE_KEY"]),
    ("ImportKey", &["KEY_IMPORT", "VAULT_IMPORT_KEY"]),
    ("ImportKeyVersion", &["KEY_IMPORT"]),
    // Only an importer needs the wrapping key, and importing needs `use vaults`.
    ("GetWrappingKey", &["VAULT_IMPORT_KEY"]),
    ("UpdateKey", &["KEY_UPDATE"]),
    ("EnableKey", &["KEY_UPDATE"]),
    ("DisableKey", &["KEY_UPDATE"]),
    ("CreateKeyVersion", &["KEY_ROTATE"]),
    ("ListKeyVersions", &["KEY_READ"]),
    ("GetKeyVersion", &["KEY_READ"]),
    ("Encrypt", &["KEY_ENCRYPT"]),
    ("Decrypt", &["KEY_DECRYPT"]),
    ("GenerateDataEncryptionKey", &["KEY_ENCRYPT"]),
    ("Sign", &["KEY_SIGN"]),
    ("Verify", &["KEY_VERIFY"]),
    ("ExportKey", &["KEY_EXPORT"]),
    ("ScheduleKeyDeletion", &["KEY_DELETE"]),
    ("CancelKeyDeletion", &["KEY_DELETE"]),
    ("ListSecrets", &["SECRET_INSPECT"]),
    ("GetSecret", &["SECRET_READ"]),
    (
        "CreateSecret",
        &[
            "KEY_ENCRYPT",
            "KEY_DECRYPT",
            "SECRET_CREATE",
            "VAULT_CREATE_SECRET",
        ],
    ),
    ("UpdateSecret", &["SECRET_UPDATE"]),
    ("ScheduleSecretDeletion", &["SECRET_DELETE"]),
    ("CancelSecretDeletion", &["SECRET_DELETE"]),
    ("ListSecretVersions", &["SECRET_VERSION_INSPECT"]),
    ("GetSecretVersion", &["SECRET_VERSION_READ"]),
    ("GetSecretBundle", &["SECRET_BUNDLE_READ"]),
    ("GetSecretBundleByName", &["SECRET_BUNDLE_READ"]),
];

/// The permissions an API operation needs (case-insensitive name), or `None` if unknown
pub fn operation_permissions(operation: &str) -> Option<(&'static str, Vec<Permission>)> {
    OPERATIONS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(operation))
        .map(|(name, perms)| {
            (
                *name,
                perms.iter().filter_map(|p| Permission::lookup(p)).collect(),
            )
        })
}

/// Every operation name the catalog knows
pub fn operations() -> impl Iterator<Item = &'static str> {
    OPERATIONS.iter().map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_cumulative() {
        let repos = match resolve_resource("repos") {
            Some(ResourceScope::Types(t)) => t[0],
            other => panic!("{other:?}"),
        };
        assert_eq!(repos.permissions(Verb::Inspect), ["REPOSITORY_INSPECT"]);
        assert_eq!(
            repos.permissions(Verb::Use),
            ["REPOSITORY_INSPECT", "REPOSITORY_READ"]
        );
        assert_eq!(repos.permissions(Verb::Manage).len(), 6);
    }

    #[test]
    fn every_operation_names_known_permissions() {
        for (name, perms) in OPERATIONS {
            for p in *perms {
                assert!(Permission::lookup(p).is_some(), "{name}: {p}");
            }
        }
    }

    #[test]
    fn permissions_are_unique_across_types() {
        let mut seen = std::collections::HashSet::new();
        for t in TYPES {
            for p in t.adds.iter().flat_map(|a| a.iter()) {
                assert!(seen.insert(*p), "{p} appears twice");
            }
        }
    }

    #[test]
    fn families_expand() {
        let Some(ResourceScope::Types(types)) = resolve_resource("Cluster-Family") else {
            panic!()
        };
        assert_eq!(types.len(), 6);
        assert_eq!(
            resolve_resource("cluster-virtualnode-pools"),
            resolve_resource("cluster-virtual-node-pools")
        );
        assert_eq!(
            resolve_resource("virtual-network-family"),
            Some(ResourceScope::Untracked)
        );
        assert_eq!(resolve_resource("all-resources"), Some(ResourceScope::All));
        assert_eq!(resolve_resource("no-such-thing"), None);
        let p = Permission::lookup("cluster_use").unwrap();
        assert_eq!(p.verb(), Verb::Use);
        assert_eq!(p.resource_type().name(), "clusters");
    }
}
