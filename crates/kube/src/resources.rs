//! The resource types each cluster serves, as discovery describes them.

/// One resource type
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ResourceType {
    /// API group (`""` for core)
    pub group: &'static str,
    /// Version
    pub version: &'static str,
    /// Plural resource name (`deployments`)
    pub resource: &'static str,
    /// Singular (`deployment`)
    pub singular: &'static str,
    /// Kind (`Deployment`)
    pub kind: &'static str,
    /// Namespaced or cluster-scoped
    pub namespaced: bool,
    /// Short names for `kubectl get`
    pub short_names: &'static [&'static str],
    /// Whether objects are stored (review types are create-only and answered, not kept)
    pub stored: bool,
}

impl ResourceType {
    /// `v1` or `apps/v1`
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps` (or `secrets` for core), as error messages name it
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    /// The verbs discovery advertises
    pub fn verbs(&self) -> &'static [&'static str] {
        if self.stored {
            &[
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ]
        } else {
            &["create"]
        }
    }
}

const fn stored(
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
) -> ResourceType {
    ResourceType {
        group,
        version,
        resource,
        singular,
        kind,
        namespaced,
        short_names,
        stored: true,
    }
}

const fn review(
    group: &'static str,
    resource: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> ResourceType {
    ResourceType {
        group,
        version: "v1",
        resource,
        singular,
        kind,
        namespaced,
        short_names: &[],
        stored: false,
    }
}

/// Every resource type, by group-version
pub static RESOURCES: &[ResourceType] = &[
    stored(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        false,
        &["ns"],
    ),
    stored("", "v1", "secrets", "secret", "Secret", true, &[]),
    stored(
        "",
        "v1",
        "configmaps",
        "configmap",
        "ConfigMap",
        true,
        &["cm"],
    ),
    stored(
        "",
        "v1",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        true,
        &["sa"],
    ),
    stored("", "v1", "pods", "pod", "Pod", true, &["po"]),
    stored(
        "apps",
        "v1",
        "deployments",
        "deployment",
        "Deployment",
        true,
        &["deploy"],
    ),
    stored(
        "apps",
        "v1",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        true,
        &["rs"],
    ),
    stored(
        "apps",
        "v1",
        "statefulsets",
        "statefulset",
        "StatefulSet",
        true,
        &["sts"],
    ),
    stored(
        "apps",
        "v1",
        "daemonsets",
        "daemonset",
        "DaemonSet",
        true,
        &["ds"],
    ),
    stored("batch", "v1", "jobs", "job", "Job", true, &[]),
    stored(
        "batch",
        "v1",
        "cronjobs",
        "cronjob",
        "CronJob",
        true,
        &["cj"],
    ),
    stored(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "role",
        "Role",
        true,
        &[],
    ),
    stored(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        true,
        &[],
    ),
    stored(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "clusterrole",
        "ClusterRole",
        false,
        &[],
    ),
    stored(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        false,
        &[],
    ),
    review(
        "authentication.k8s.io",
        "tokenreviews",
        "tokenreview",
        "TokenReview",
        false,
    ),
    review(
        "authentication.k8s.io",
        "selfsubjectreviews",
        "selfsubjectreview",
        "SelfSubjectReview",
        false,
    ),
    review(
        "authorization.k8s.io",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        false,
    ),
    review(
        "authorization.k8s.io",
        "selfsubjectrulesreviews",
        "selfsubjectrulesreview",
        "SelfSubjectRulesReview",
        false,
    ),
    review(
        "authorization.k8s.io",
        "subjectaccessreviews",
        "subjectaccessreview",
        "SubjectAccessReview",
        false,
    ),
    review(
        "authorization.k8s.io",
        "localsubjectaccessreviews",
        "localsubjectaccessreview",
        "LocalSubjectAccessReview",
        true,
    ),
];

/// A subresource discovery lists as `<resource>/<sub>`
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Subresource {
    /// The parent's API group
    pub group: &'static str,
    /// The parent resource
    pub resource: &'static str,
    /// The subresource
    pub subresource: &'static str,
    /// The group of the kind it takes
    pub kind_group: &'static str,
    /// The kind it takes
    pub kind: &'static str,
    /// Its verbs
    pub verbs: &'static [&'static str],
}

/// Subresources discovery lists
pub static SUBRESOURCES: &[Subresource] = &[Subresource {
    group: "",
    resource: "serviceaccounts",
    subresource: "token",
    kind_group: "authentication.k8s.io",
    kind: "TokenRequest",
    verbs: &["create"],
}];

/// Looks up a resource type by group, version and plural name
pub fn find(group: &str, version: &str, resource: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.resource == resource)
}

/// Looks up a resource type by group and kind
pub fn by_kind(group: &str, kind: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.kind == kind)
}

/// The API groups other than core, in discovery order
pub fn groups() -> Vec<&'static str> {
    let mut groups: Vec<&'static str> = Vec::new();
    for r in RESOURCES {
        if !r.group.is_empty() && !groups.contains(&r.group) {
            groups.push(r.group);
        }
    }
    groups
}
