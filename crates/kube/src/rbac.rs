//! Kubernetes RBAC decisions with upstream's matching rules (`k8s-interfaces.md` §1.2):
//! purely additive, first matching rule allows, otherwise no opinion.

use serde::Deserialize;
use serde_json::Value;

/// A `PolicyRule`
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    /// Verbs, or `*`
    #[serde(default)]
    pub verbs: Vec<String>,
    /// API groups, or `*`; `""` is core
    #[serde(default)]
    pub api_groups: Vec<String>,
    /// Resources, `res/sub`, `*/sub` or `*`
    #[serde(default)]
    pub resources: Vec<String>,
    /// Names; empty means all
    #[serde(default)]
    pub resource_names: Vec<String>,
    /// Non-resource URLs; a trailing `*` is a prefix match
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

/// A binding subject
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`
    #[serde(default)]
    pub kind: String,
    /// The name
    #[serde(default)]
    pub name: String,
    /// For ServiceAccounts
    #[serde(default)]
    pub namespace: String,
}

/// A binding's `roleRef`
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    /// `Role` or `ClusterRole`
    #[serde(default)]
    pub kind: String,
    /// The role's name
    #[serde(default)]
    pub name: String,
}

/// What is being asked
#[derive(Clone, Debug)]
pub struct Attributes<'a> {
    /// The user's name
    pub user: &'a str,
    /// The user's groups
    pub groups: &'a [String],
    /// The verb
    pub verb: &'a str,
    /// The namespace, for namespaced requests
    pub namespace: Option<&'a str>,
    /// API group
    pub api_group: &'a str,
    /// Resource (empty for non-resource requests)
    pub resource: &'a str,
    /// Subresource
    pub subresource: Option<&'a str>,
    /// Object name
    pub name: Option<&'a str>,
    /// The URL path of a non-resource request
    pub path: Option<&'a str>,
}

/// Whether one rule allows the request
pub fn rule_allows(rule: &PolicyRule, attrs: &Attributes<'_>) -> bool {
    let verb = rule.verbs.iter().any(|v| v == "*" || v == attrs.verb);
    if let Some(path) = attrs.path {
        return verb
            && rule.non_resource_urls.iter().any(|u| {
                u == "*"
                    || u == path
                    || u.strip_suffix('*')
                        .is_some_and(|prefix| path.starts_with(prefix))
            });
    }
    let group = rule
        .api_groups
        .iter()
        .any(|g| g == "*" || g == attrs.api_group);
    let combined = match attrs.subresource {
        Some(sub) => format!("{}/{sub}", attrs.resource),
        None => attrs.resource.to_owned(),
    };
    let resource = rule.resources.iter().any(|r| {
        r == "*"
            || *r == combined
            || attrs.subresource.is_some_and(|sub| {
                r.len() == sub.len() + 2 && r.starts_with("*/") && r.ends_with(sub)
            })
    });
    let name = rule.resource_names.is_empty()
        || attrs
            .name
            .is_some_and(|n| rule.resource_names.iter().any(|r| r == n));
    verb && group && resource && name
}

fn subject_matches(
    subject: &Subject,
    binding_namespace: Option<&str>,
    attrs: &Attributes<'_>,
) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == attrs.user,
        "Group" => attrs.groups.contains(&subject.name),
        "ServiceAccount" => {
            let namespace = if subject.namespace.is_empty() {
                binding_namespace.unwrap_or("")
            } else {
                &subject.namespace
            };
            attrs.user == format!("system:serviceaccount:{namespace}:{}", subject.name)
        }
        _ => false,
    }
}

struct Binding {
    name: String,
    namespace: Option<String>,
    role_ref: RoleRef,
    subjects: Vec<Subject>,
}

struct Role {
    name: String,
    namespace: Option<String>,
    rules: Vec<PolicyRule>,
}

/// A snapshot of a cluster's RBAC objects
#[derive(Default)]
pub struct RbacSnapshot {
    roles: Vec<Role>,
    bindings: Vec<Binding>,
}

impl std::fmt::Debug for RbacSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RbacSnapshot")
            .field("roles", &self.roles.len())
            .field("bindings", &self.bindings.len())
            .finish()
    }
}

fn meta(object: &Value, field: &str) -> Option<String> {
    object
        .pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

impl RbacSnapshot {
    /// Builds a snapshot from Role, ClusterRole, RoleBinding and ClusterRoleBinding objects;
    /// malformed objects are skipped
    pub fn new(
        roles: &[Value],
        cluster_roles: &[Value],
        role_bindings: &[Value],
        cluster_role_bindings: &[Value],
    ) -> Self {
        let rules = |object: &Value| -> Vec<PolicyRule> {
            object
                .get("rules")
                .and_then(|r| serde_json::from_value(r.clone()).ok())
                .unwrap_or_default()
        };
        let mut snapshot = RbacSnapshot::default();
        for (objects, namespaced) in [(roles, true), (cluster_roles, false)] {
            for object in objects {
                snapshot.roles.push(Role {
                    name: meta(object, "name").unwrap_or_default(),
                    namespace: if namespaced {
                        meta(object, "namespace")
                    } else {
                        None
                    },
                    rules: rules(object),
                });
            }
        }
        for (objects, namespaced) in [(role_bindings, true), (cluster_role_bindings, false)] {
            for object in objects {
                let role_ref: RoleRef = object
                    .get("roleRef")
                    .and_then(|r| serde_json::from_value(r.clone()).ok())
                    .unwrap_or_default();
                // A ClusterRoleBinding may only reference a ClusterRole.
                if !namespaced && role_ref.kind != "ClusterRole" {
                    continue;
                }
                snapshot.bindings.push(Binding {
                    name: meta(object, "name").unwrap_or_default(),
                    namespace: if namespaced {
                        meta(object, "namespace")
                    } else {
                        None
                    },
                    role_ref,
                    subjects: object
                        .get("subjects")
                        .and_then(|s| serde_json::from_value(s.clone()).ok())
                        .unwrap_or_default(),
                });
            }
        }
        snapshot
    }

    fn role_rules(&self, role_ref: &RoleRef, namespace: Option<&str>) -> Option<&[PolicyRule]> {
        self.roles
            .iter()
            .find(|r| match role_ref.kind.as_str() {
                "ClusterRole" => r.namespace.is_none() && r.name == role_ref.name,
                "Role" => {
                    namespace.is_some()
                        && r.namespace.as_deref() == namespace
                        && r.name == role_ref.name
                }
                _ => false,
            })
            .map(|r| r.rules.as_slice())
    }

    /// Allows with a reason (`RBAC: allowed by ...`), or `None` for no opinion
    pub fn authorize(&self, attrs: &Attributes<'_>) -> Option<String> {
        for binding in &self.bindings {
            // A RoleBinding grants only inside its own namespace.
            if let Some(ns) = &binding.namespace
                && attrs.namespace != Some(ns.as_str())
            {
                continue;
            }
            if !binding
                .subjects
                .iter()
                .any(|s| subject_matches(s, binding.namespace.as_deref(), attrs))
            {
                continue;
            }
            let Some(rules) = self.role_rules(&binding.role_ref, binding.namespace.as_deref())
            else {
                continue;
            };
            if rules.iter().any(|rule| rule_allows(rule, attrs)) {
                let what = match &binding.namespace {
                    Some(ns) => format!("RoleBinding \"{}/{ns}\"", binding.name),
                    None => format!("ClusterRoleBinding \"{}\"", binding.name),
                };
                return Some(format!(
                    "RBAC: allowed by {what} of {} \"{}\"",
                    binding.role_ref.kind, binding.role_ref.name
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn attrs<'a>(
        user: &'a str,
        groups: &'a [String],
        verb: &'a str,
        ns: Option<&'a str>,
        resource: &'a str,
    ) -> Attributes<'a> {
        Attributes {
            user,
            groups,
            verb,
            namespace: ns,
            api_group: "",
            resource,
            subresource: None,
            name: None,
            path: None,
        }
    }

    #[test]
    fn matchers() {
        let rule = PolicyRule {
            verbs: vec!["get".into()],
            api_groups: vec!["".into()],
            resources: vec!["pods".into(), "*/scale".into()],
            ..Default::default()
        };
        let g = Vec::new();
        assert!(rule_allows(
            &rule,
            &attrs("u", &g, "get", Some("d"), "pods")
        ));
        assert!(!rule_allows(
            &rule,
            &attrs("u", &g, "list", Some("d"), "pods")
        ));
        let mut scale = attrs("u", &g, "get", Some("d"), "deployments");
        scale.subresource = Some("scale");
        assert!(rule_allows(&rule, &scale));
        let mut log = attrs("u", &g, "get", Some("d"), "pods");
        log.subresource = Some("log");
        assert!(!rule_allows(&rule, &log));
        let urls = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: vec!["/apis/*".into(), "/version".into()],
            ..Default::default()
        };
        let mut path = attrs("u", &g, "get", None, "");
        path.path = Some("/apis/apps/v1");
        assert!(rule_allows(&urls, &path));
        path.path = Some("/api");
        assert!(!rule_allows(&urls, &path));
    }

    #[test]
    fn bindings_and_service_accounts() {
        let cluster_admin = json!({"metadata": {"name": "cluster-admin"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]});
        let reader = json!({"metadata": {"name": "reader", "namespace": "kube-system"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]});
        let crb = json!({"metadata": {"name": "sa-admin"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
                         "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": "kube-system"}]});
        let rb = json!({"metadata": {"name": "read", "namespace": "kube-system"}, "roleRef": {"kind": "Role", "name": "reader"},
                        "subjects": [{"kind": "User", "name": "alice"}]});
        let bad = json!({"metadata": {"name": "bad"}, "roleRef": {"kind": "Role", "name": "reader"},
                         "subjects": [{"kind": "Group", "name": "everyone"}]});
        let snapshot = RbacSnapshot::new(&[reader], &[cluster_admin], &[rb], &[crb, bad]);
        let groups = vec!["everyone".to_owned()];
        let sa = "system:serviceaccount:kube-system:ci";
        assert!(
            snapshot
                .authorize(&attrs(sa, &groups, "delete", Some("x"), "secrets"))
                .is_some()
        );
        assert!(
            snapshot
                .authorize(&attrs(
                    "alice",
                    &groups,
                    "list",
                    Some("kube-system"),
                    "pods"
                ))
                .is_some()
        );
        assert!(
            snapshot
                .authorize(&attrs("alice", &groups, "list", Some("default"), "pods"))
                .is_none()
        );
        // A ClusterRoleBinding to a Role grants nothing.
        assert!(
            snapshot
                .authorize(&attrs("bob", &groups, "get", Some("kube-system"), "pods"))
                .is_none()
        );
    }
}
