//! The RBAC authorizer: which bindings apply to a user, and whether any of their rules allows
//! a request (`k8s-interfaces.md` §1.2–§1.3).
//!
//! RBAC only adds: the first rule that allows a request decides, and otherwise RBAC has no
//! opinion (it never denies). A cluster's objects are indexed once per change: bindings by
//! the username (users and service accounts) or group they name, per namespace, and roles by
//! name, so a decision costs a few hash lookups and the rules of the bindings that name the
//! caller — never a scan of every binding.

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::model::{Binding, PolicyRule, Role, Subject};

/// The identity being authorized
#[derive(Clone, Copy, Debug)]
pub struct UserInfo<'a> {
    /// `ocid1.user...`, `system:serviceaccount:<ns>:<name>`, or any name
    pub name: &'a str,
    /// Groups, including `system:authenticated` where it applies
    pub groups: &'a [String],
}

/// What a request touches
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// A resource request; empty strings stand for "none" as they do upstream
    Resource {
        /// `""` for cluster-scoped requests
        namespace: &'a str,
        /// `""` is the core group
        api_group: &'a str,
        /// `pods`
        resource: &'a str,
        /// `log`, `status`, `scale`...
        subresource: &'a str,
        /// The object's name; `""` for list, watch, create, deletecollection
        name: &'a str,
    },
    /// A non-resource request (`/healthz`, `/apis`)
    NonResource {
        /// The URL path
        path: &'a str,
    },
}

/// A request to authorize
#[derive(Clone, Copy, Debug)]
pub struct Attributes<'a> {
    /// Who asks
    pub user: UserInfo<'a>,
    /// `get`, `list`, `create`, `escalate`, `impersonate`...
    pub verb: &'a str,
    /// What it touches
    pub target: Target<'a>,
}

impl Attributes<'_> {
    /// The request's namespace (`""` for cluster-scoped and non-resource requests)
    pub fn namespace(&self) -> &str {
        match self.target {
            Target::Resource { namespace, .. } => namespace,
            Target::NonResource { .. } => "",
        }
    }
}

/// RBAC's answer
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Decision {
    /// Allowed: `RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "z"`
    Allow(String),
    /// No rule allows it; the reason lists resolution errors (missing roles), if any
    NoOpinion(String),
}

impl Decision {
    /// Whether the request is allowed
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

fn resource_matches(rule: &PolicyRule, resource: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|r| {
        if r == "*" {
            return true;
        }
        if subresource.is_empty() {
            return r == resource;
        }
        // `pods/log` names the combined resource; `*/scale` any resource's subresource.
        r.strip_prefix(resource)
            .and_then(|rest| rest.strip_prefix('/'))
            == Some(subresource)
            || r.strip_prefix("*/") == Some(subresource)
    })
}

/// Whether one rule allows a request (upstream's `RuleAllows`)
pub fn rule_allows(rule: &PolicyRule, verb: &str, target: &Target<'_>) -> bool {
    match *target {
        Target::Resource {
            api_group,
            resource,
            subresource,
            name,
            ..
        } => {
            verb_matches(rule, verb)
                && rule.api_groups.iter().any(|g| g == "*" || g == api_group)
                && resource_matches(rule, resource, subresource)
                && (rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name))
        }
        Target::NonResource { path } => {
            verb_matches(rule, verb)
                && rule.non_resource_urls.iter().any(|u| {
                    u == "*"
                        || u == path
                        || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
                })
        }
    }
}

/// The username a service-account subject stands for, or `None` when it names no namespace
fn service_account_username(subject: &Subject, binding_namespace: &str) -> Option<String> {
    let namespace = if subject.namespace.is_empty() {
        binding_namespace
    } else {
        &subject.namespace
    };
    (!namespace.is_empty()).then(|| format!("system:serviceaccount:{namespace}:{}", subject.name))
}

/// Whether a subject names this user (upstream's `appliesToUser`)
pub fn applies_to(subject: &Subject, binding_namespace: &str, user: &UserInfo<'_>) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == user.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => service_account_username(subject, binding_namespace)
            .is_some_and(|username| username == user.name),
        _ => false,
    }
}

/// Bindings by the username or group their subjects name
#[derive(Debug, Default)]
struct SubjectIndex {
    by_user: FxHashMap<String, Vec<usize>>,
    by_group: FxHashMap<String, Vec<usize>>,
}

impl SubjectIndex {
    fn insert(&mut self, binding: &Binding, id: usize) {
        for subject in &binding.subjects {
            let (map, key) = match subject.kind.as_str() {
                "User" => (&mut self.by_user, subject.name.clone()),
                "Group" => (&mut self.by_group, subject.name.clone()),
                "ServiceAccount" => {
                    match service_account_username(subject, &binding.metadata.namespace) {
                        Some(username) => (&mut self.by_user, username),
                        None => continue,
                    }
                }
                _ => continue,
            };
            let ids = map.entry(key).or_default();
            if ids.last() != Some(&id) {
                ids.push(id);
            }
        }
    }

    /// The bindings naming the user, in the order they were loaded, each once
    fn candidates(&self, user: &UserInfo<'_>, out: &mut Vec<usize>) {
        let start = out.len();
        if let Some(ids) = self.by_user.get(user.name) {
            out.extend_from_slice(ids);
        }
        for group in user.groups {
            if let Some(ids) = self.by_group.get(group.as_str()) {
                out.extend_from_slice(ids);
            }
        }
        if let Some(tail) = out.get_mut(start..) {
            tail.sort_unstable();
        }
        out.dedup();
    }
}

/// A cluster's RBAC objects, indexed for decisions
#[derive(Debug, Default)]
pub struct Rbac {
    roles: Vec<Role>,
    /// namespace → name → index into `roles`
    namespaced_roles: FxHashMap<String, FxHashMap<String, usize>>,
    cluster_roles: FxHashMap<String, usize>,
    bindings: Vec<Binding>,
    cluster_bindings: SubjectIndex,
    namespaced_bindings: FxHashMap<String, SubjectIndex>,
}

impl Rbac {
    /// Indexes roles (a role with no namespace is a ClusterRole) and bindings (a binding with
    /// no namespace is a ClusterRoleBinding)
    pub fn new(roles: Vec<Role>, bindings: Vec<Binding>) -> Self {
        let mut rbac = Rbac::default();
        for role in roles {
            let id = rbac.roles.len();
            // Names are unique in a store; should two arrive anyway, the first one counts,
            // as a scan in load order would find it.
            if role.metadata.namespace.is_empty() {
                rbac.cluster_roles
                    .entry(role.metadata.name.clone())
                    .or_insert(id);
            } else {
                rbac.namespaced_roles
                    .entry(role.metadata.namespace.clone())
                    .or_default()
                    .entry(role.metadata.name.clone())
                    .or_insert(id);
            }
            rbac.roles.push(role);
        }
        for binding in bindings {
            let id = rbac.bindings.len();
            if binding.metadata.namespace.is_empty() {
                rbac.cluster_bindings.insert(&binding, id);
            } else {
                rbac.namespaced_bindings
                    .entry(binding.metadata.namespace.clone())
                    .or_default()
                    .insert(&binding, id);
            }
            rbac.bindings.push(binding);
        }
        rbac
    }

    /// Builds from stored objects of the four kinds; objects not shaped like their kind are
    /// skipped, Roles without a namespace too
    pub fn from_objects(
        roles: &[Value],
        cluster_roles: &[Value],
        role_bindings: &[Value],
        cluster_role_bindings: &[Value],
    ) -> Self {
        let mut all_roles: Vec<Role> = roles
            .iter()
            .filter_map(Role::from_value)
            .filter(|r| !r.metadata.namespace.is_empty())
            .collect();
        all_roles.extend(
            cluster_roles
                .iter()
                .filter_map(Role::from_value)
                .map(|mut r| {
                    r.metadata.namespace.clear();
                    r
                }),
        );
        let mut bindings: Vec<Binding> = role_bindings
            .iter()
            .filter_map(Binding::from_value)
            .filter(|b| !b.metadata.namespace.is_empty())
            .collect();
        bindings.extend(
            cluster_role_bindings
                .iter()
                .filter_map(Binding::from_value)
                .map(|mut b| {
                    b.metadata.namespace.clear();
                    b
                }),
        );
        Rbac::new(all_roles, bindings)
    }

    /// Every role and ClusterRole
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// Every binding and ClusterRoleBinding
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// A ClusterRole by name
    pub fn cluster_role(&self, name: &str) -> Option<&Role> {
        self.cluster_roles
            .get(name)
            .and_then(|id| self.roles.get(*id))
    }

    /// A Role by namespace and name
    pub fn role(&self, namespace: &str, name: &str) -> Option<&Role> {
        self.namespaced_roles
            .get(namespace)
            .and_then(|names| names.get(name))
            .and_then(|id| self.roles.get(*id))
    }

    /// The rules a binding grants, or why it grants none (upstream's
    /// `GetRoleReferenceRules`): a RoleBinding's `Role` is looked up in its own namespace
    pub fn role_ref_rules(&self, binding: &Binding) -> Result<&[PolicyRule], String> {
        let name = &binding.role_ref.name;
        match binding.role_ref.kind.as_str() {
            "ClusterRole" => self
                .cluster_role(name)
                .map(|r| r.rules.as_slice())
                .ok_or_else(|| {
                    format!("clusterrole.rbac.authorization.k8s.io \"{name}\" not found")
                }),
            "Role" => self
                .role(&binding.metadata.namespace, name)
                .map(|r| r.rules.as_slice())
                .ok_or_else(|| format!("role.rbac.authorization.k8s.io \"{name}\" not found")),
            other => Err(format!("unsupported role reference kind: \"{other}\"")),
        }
    }

    /// The bindings that apply to `user` for a request in `namespace`: every
    /// ClusterRoleBinding naming them, then, for a namespaced request, the RoleBindings in
    /// that namespace naming them
    pub fn applicable_bindings(&self, user: &UserInfo<'_>, namespace: &str) -> Vec<&Binding> {
        let mut ids = Vec::new();
        self.cluster_bindings.candidates(user, &mut ids);
        if !namespace.is_empty()
            && let Some(index) = self.namespaced_bindings.get(namespace)
        {
            // The two indexes hold different bindings, so per-index dedup leaves each once.
            index.candidates(user, &mut ids);
        }
        ids.iter().filter_map(|id| self.bindings.get(*id)).collect()
    }

    /// Decides a request
    pub fn authorize(&self, attrs: &Attributes<'_>) -> Decision {
        let mut errors = Vec::new();
        let mut ids = Vec::new();
        self.cluster_bindings.candidates(&attrs.user, &mut ids);
        let namespace = attrs.namespace();
        if !namespace.is_empty()
            && let Some(index) = self.namespaced_bindings.get(namespace)
        {
            index.candidates(&attrs.user, &mut ids);
        }
        for binding in ids.iter().filter_map(|id| self.bindings.get(*id)) {
            let rules = match self.role_ref_rules(binding) {
                Ok(rules) => rules,
                Err(error) => {
                    errors.push(error);
                    continue;
                }
            };
            if rules
                .iter()
                .any(|rule| rule_allows(rule, attrs.verb, &attrs.target))
            {
                let subject = binding
                    .subjects
                    .iter()
                    .find(|s| applies_to(s, &binding.metadata.namespace, &attrs.user))
                    .map(|s| s.describe(&binding.metadata.namespace))
                    .unwrap_or_default();
                return Decision::Allow(format!(
                    "RBAC: allowed by {} of {} \"{}\" to {subject}",
                    binding.describe(),
                    binding.role_ref.kind,
                    binding.role_ref.name
                ));
            }
        }
        Decision::NoOpinion(match errors.as_slice() {
            [] => String::new(),
            [one] => format!("RBAC: {one}"),
            many => format!("RBAC: [{}]", many.join(", ")),
        })
    }

    /// Every rule that applies to `user` in `namespace` (`""`: cluster-wide rules only), and
    /// the resolution errors met on the way (upstream's `RulesFor`)
    pub fn rules_for(
        &self,
        user: &UserInfo<'_>,
        namespace: &str,
    ) -> (Vec<PolicyRule>, Vec<String>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for binding in self.applicable_bindings(user, namespace) {
            match self.role_ref_rules(binding) {
                Ok(found) => rules.extend(found.iter().cloned()),
                Err(error) => errors.push(error),
            }
        }
        (rules, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource<'a>(namespace: &'a str, resource: &'a str, subresource: &'a str) -> Target<'a> {
        Target::Resource {
            namespace,
            api_group: "",
            resource,
            subresource,
            name: "",
        }
    }

    #[test]
    fn matchers() {
        let rule = PolicyRule::resource(&["get"], &[""], &["pods", "*/scale"]);
        assert!(rule_allows(&rule, "get", &resource("d", "pods", "")));
        assert!(!rule_allows(&rule, "list", &resource("d", "pods", "")));
        assert!(rule_allows(
            &rule,
            "get",
            &resource("d", "deployments", "scale")
        ));
        assert!(!rule_allows(&rule, "get", &resource("d", "pods", "log")));
        let log = PolicyRule::resource(&["get"], &[""], &["pods/log"]);
        assert!(rule_allows(&log, "get", &resource("d", "pods", "log")));
        assert!(!rule_allows(&log, "get", &resource("d", "pods", "")));
        let urls = PolicyRule::non_resource(&["get"], &["/apis/*", "/version"]);
        assert!(rule_allows(
            &urls,
            "get",
            &Target::NonResource {
                path: "/apis/apps/v1"
            }
        ));
        assert!(!rule_allows(
            &urls,
            "get",
            &Target::NonResource { path: "/apis" }
        ));
    }

    #[test]
    fn bindings_namespaces_and_service_accounts() {
        let rbac = Rbac::from_objects(
            &[
                json!({"metadata": {"name": "reader", "namespace": "kube-system"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}),
            ],
            &[
                json!({"metadata": {"name": "cluster-admin"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
            ],
            &[
                json!({"metadata": {"name": "read", "namespace": "kube-system"}, "roleRef": {"kind": "Role", "name": "reader"}, "subjects": [{"kind": "User", "name": "alice"}]}),
            ],
            &[
                json!({"metadata": {"name": "sa-admin"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}, "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": "kube-system"}]}),
                json!({"metadata": {"name": "bad"}, "roleRef": {"kind": "Role", "name": "reader"}, "subjects": [{"kind": "Group", "name": "everyone"}]}),
            ],
        );
        let groups = vec!["everyone".to_owned()];
        let ask = |user: &str, verb: &str, namespace: &str| {
            rbac.authorize(&Attributes {
                user: UserInfo {
                    name: user,
                    groups: &groups,
                },
                verb,
                target: resource(namespace, "pods", ""),
            })
        };
        assert_eq!(
            ask("system:serviceaccount:kube-system:ci", "delete", "x"),
            Decision::Allow("RBAC: allowed by ClusterRoleBinding \"sa-admin\" of ClusterRole \"cluster-admin\" to ServiceAccount \"ci/kube-system\"".into())
        );
        assert!(ask("alice", "list", "kube-system").is_allowed());
        assert!(!ask("alice", "list", "default").is_allowed());
        // A ClusterRoleBinding to a Role grants nothing and says why.
        assert_eq!(
            ask("bob", "get", "kube-system"),
            Decision::NoOpinion("RBAC: role.rbac.authorization.k8s.io \"reader\" not found".into())
        );
        let (rules, errors) = rbac.rules_for(
            &UserInfo {
                name: "alice",
                groups: &[],
            },
            "kube-system",
        );
        assert_eq!(rules.len(), 1);
        assert!(errors.is_empty());
    }
}
