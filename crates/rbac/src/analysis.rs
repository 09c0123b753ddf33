//! Questions upstream RBAC does not answer directly: who may do something, and which grants
//! deserve a reviewer's attention.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::authorizer::{Rbac, Target, rule_allows};
use crate::covers::rule_covers;
use crate::model::{Binding, PolicyRule, Subject};

/// The verbs Kubernetes authorizes: the built-in API verbs and those built-in APIs check
/// (`bind`, `escalate`, `impersonate`, `use`, `approve`, `sign`), and `*`
pub const KNOWN_VERBS: [&str; 16] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "proxy",
    "bind",
    "escalate",
    "impersonate",
    "use",
    "approve",
    "sign",
    "*",
];

/// One subject allowed by one binding
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    /// `User`, `Group` or `ServiceAccount`
    pub kind: String,
    /// The user, group or service account name
    pub name: String,
    /// A service account's namespace
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// `ClusterRoleBinding "x"` or `RoleBinding "x/ns"`
    pub binding: String,
    /// `ClusterRole "view"` or `Role "pod-reader"`
    pub role: String,
    /// The first rule of the role that allows the request
    pub rule: PolicyRule,
}

/// Every subject RBAC allows `verb` on `target`, each with the binding and rule that allow it
/// (a subject allowed by several bindings appears once per binding)
pub fn who_can(rbac: &Rbac, verb: &str, target: &Target<'_>) -> Vec<Grant> {
    let namespace = match target {
        Target::Resource { namespace, .. } => *namespace,
        Target::NonResource { .. } => "",
    };
    let mut grants = Vec::new();
    for binding in rbac.bindings() {
        let binding_namespace = binding.metadata.namespace.as_str();
        // A RoleBinding grants only inside its namespace, and never cluster-wide.
        if !binding_namespace.is_empty() && binding_namespace != namespace {
            continue;
        }
        let Ok(rules) = rbac.role_ref_rules(binding) else {
            continue;
        };
        let Some(rule) = rules.iter().find(|r| rule_allows(r, verb, target)) else {
            continue;
        };
        for subject in &binding.subjects {
            let namespace = match subject.kind.as_str() {
                "ServiceAccount" if subject.namespace.is_empty() => binding_namespace,
                "ServiceAccount" => &subject.namespace,
                "User" | "Group" => "",
                _ => continue,
            };
            if subject.kind == "ServiceAccount" && namespace.is_empty() {
                continue;
            }
            grants.push(Grant {
                kind: subject.kind.clone(),
                name: subject.name.clone(),
                namespace: namespace.to_owned(),
                binding: binding.describe(),
                role: format!("{} \"{}\"", binding.role_ref.kind, binding.role_ref.name),
                rule: rule.clone(),
            });
        }
    }
    grants
}

/// What kind of risk a finding is
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Risk {
    /// `*` in verbs, API groups or resources
    Wildcard,
    /// `escalate`, `bind` or `impersonate`: ways around RBAC's own limits
    PrivilegeVerb,
    /// Reading Secrets in every namespace
    ClusterWideSecrets,
    /// Cluster-admin powers bound to a group or service account
    ClusterAdminToGroupOrServiceAccount,
    /// A binding naming a user, group or service account that does not exist
    MissingSubject,
    /// A binding naming a role that does not exist
    MissingRole,
}

/// One risky grant
#[derive(Clone, Debug, Eq, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The kind of risk
    pub risk: Risk,
    /// `ClusterRole "x"`, `Role "x/ns"`, `ClusterRoleBinding "y"`, `RoleBinding "y/ns"`
    pub object: String,
    /// What exactly, in a sentence
    pub detail: String,
}

/// The identities that exist, for spotting bindings to nobody. Groups and users under
/// `system:` are Kubernetes' own and always exist.
#[derive(Clone, Debug, Default)]
pub struct KnownSubjects {
    /// User names (IAM user OCIDs)
    pub users: BTreeSet<String>,
    /// Group names (IAM group OCIDs)
    pub groups: BTreeSet<String>,
    /// Service accounts as `(namespace, name)`
    pub service_accounts: BTreeSet<(String, String)>,
}

impl KnownSubjects {
    fn exists(&self, subject: &Subject, binding_namespace: &str) -> bool {
        match subject.kind.as_str() {
            "User" => subject.name.starts_with("system:") || self.users.contains(&subject.name),
            "Group" => subject.name.starts_with("system:") || self.groups.contains(&subject.name),
            "ServiceAccount" => {
                let namespace = if subject.namespace.is_empty() {
                    binding_namespace
                } else {
                    &subject.namespace
                };
                self.service_accounts
                    .contains(&(namespace.to_owned(), subject.name.clone()))
            }
            _ => false,
        }
    }
}

fn is_default(labels: &std::collections::BTreeMap<String, String>) -> bool {
    labels
        .get(crate::bootstrap::BOOTSTRAPPING_LABEL.0)
        .map(String::as_str)
        == Some(crate::bootstrap::BOOTSTRAPPING_LABEL.1)
}

fn describe_role(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        format!("ClusterRole \"{name}\"")
    } else {
        format!("Role \"{name}/{namespace}\"")
    }
}

const PRIVILEGE_VERBS: [&str; 3] = ["escalate", "bind", "impersonate"];

fn grants_full_authority(rules: &[PolicyRule]) -> bool {
    let everything = PolicyRule::resource(&["*"], &["*"], &["*"]);
    rules.iter().any(|r| rule_covers(r, &everything))
}

fn reads_all_secrets(rules: &[PolicyRule]) -> bool {
    ["get", "list", "watch"].iter().any(|verb| {
        let target = Target::Resource {
            namespace: "",
            api_group: "",
            resource: "secrets",
            subresource: "",
            name: "",
        };
        rules.iter().any(|r| rule_allows(r, verb, &target))
    })
}

fn audit_binding(
    rbac: &Rbac,
    binding: &Binding,
    known: &KnownSubjects,
    findings: &mut Vec<Finding>,
) {
    let object = binding.describe();
    let defaults = is_default(&binding.metadata.labels);
    let rules = match rbac.role_ref_rules(binding) {
        Ok(rules) => rules,
        Err(error) => {
            findings.push(Finding {
                risk: Risk::MissingRole,
                object: object.clone(),
                detail: format!("grants nothing: {error}"),
            });
            &[]
        }
    };
    let cluster_wide = binding.metadata.namespace.is_empty();
    if !defaults && grants_full_authority(rules) {
        for subject in binding
            .subjects
            .iter()
            .filter(|s| s.kind == "Group" || s.kind == "ServiceAccount")
        {
            let scope = if cluster_wide {
                "in every namespace".to_owned()
            } else {
                format!("in namespace {}", binding.metadata.namespace)
            };
            findings.push(Finding {
                risk: Risk::ClusterAdminToGroupOrServiceAccount,
                object: object.clone(),
                detail: format!(
                    "gives {} full authority ({} \"{}\") {scope}",
                    subject.describe(&binding.metadata.namespace),
                    binding.role_ref.kind,
                    binding.role_ref.name
                ),
            });
        }
    }
    if cluster_wide && !defaults && reads_all_secrets(rules) && !binding.subjects.is_empty() {
        let who: Vec<String> = binding
            .subjects
            .iter()
            .map(|s| s.describe(&binding.metadata.namespace))
            .collect();
        findings.push(Finding {
            risk: Risk::ClusterWideSecrets,
            object: object.clone(),
            detail: format!(
                "lets {} read Secrets in every namespace through {} \"{}\"",
                who.join(", "),
                binding.role_ref.kind,
                binding.role_ref.name
            ),
        });
    }
    for subject in &binding.subjects {
        if !known.exists(subject, &binding.metadata.namespace) {
            findings.push(Finding {
                risk: Risk::MissingSubject,
                object: object.clone(),
                detail: format!(
                    "names {}, which does not exist",
                    subject.describe(&binding.metadata.namespace)
                ),
            });
        }
    }
}

/// Flags risky grants: wildcards and `escalate`/`bind`/`impersonate` in roles, cluster-wide
/// Secret reads, full authority bound to groups or service accounts, and bindings to
/// subjects or roles that do not exist. Kubernetes' own defaults are not flagged for what
/// they are by design (`cluster-admin` has wildcards), but bindings to missing subjects are.
pub fn audit(rbac: &Rbac, known: &KnownSubjects) -> Vec<Finding> {
    let mut findings = Vec::new();
    for role in rbac.roles() {
        if is_default(&role.metadata.labels) {
            continue;
        }
        let object = describe_role(&role.metadata.namespace, &role.metadata.name);
        for (i, rule) in role.rules.iter().enumerate() {
            let wild: Vec<&str> = [
                ("verbs", &rule.verbs),
                ("apiGroups", &rule.api_groups),
                ("resources", &rule.resources),
                ("nonResourceURLs", &rule.non_resource_urls),
            ]
            .iter()
            .filter(|(_, list)| list.iter().any(|v| v == "*"))
            .map(|(field, _)| *field)
            .collect();
            if !wild.is_empty() {
                findings.push(Finding {
                    risk: Risk::Wildcard,
                    object: object.clone(),
                    detail: format!("rules[{i}] has * in {}", wild.join(", ")),
                });
            }
            let verbs: Vec<&str> = PRIVILEGE_VERBS
                .iter()
                .copied()
                .filter(|v| rule.verbs.iter().any(|r| r == v))
                .collect();
            if !verbs.is_empty() {
                findings.push(Finding {
                    risk: Risk::PrivilegeVerb,
                    object: object.clone(),
                    detail: format!(
                        "rules[{i}] grants {} on {}",
                        verbs.join(", "),
                        rule.resources.join(", ")
                    ),
                });
            }
        }
    }
    for binding in rbac.bindings() {
        audit_binding(rbac, binding, known, &mut findings);
    }
    findings.sort();
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorizer::{Attributes, UserInfo};
    use serde_json::json;

    #[test]
    fn who_can_lists_subjects_with_their_binding() {
        let rbac = Rbac::from_objects(
            &[
                json!({"metadata": {"name": "pod-reader", "namespace": "kube-system"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "list"]}]}),
            ],
            &[],
            &[
                json!({"metadata": {"name": "read-pods", "namespace": "kube-system"}, "roleRef": {"kind": "Role", "name": "pod-reader"},
                     "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "ci"}]}),
            ],
            &[],
        );
        let target = Target::Resource {
            namespace: "kube-system",
            api_group: "",
            resource: "pods",
            subresource: "",
            name: "",
        };
        let grants = who_can(&rbac, "list", &target);
        assert_eq!(grants.len(), 2);
        assert_eq!(grants[1].namespace, "kube-system");
        assert_eq!(grants[0].binding, "RoleBinding \"read-pods/kube-system\"");
        let elsewhere = Target::Resource {
            namespace: "default",
            api_group: "",
            resource: "pods",
            subresource: "",
            name: "",
        };
        assert!(who_can(&rbac, "list", &elsewhere).is_empty());
        // Agrees with the authorizer.
        let allowed = rbac.authorize(&Attributes {
            user: UserInfo {
                name: "system:serviceaccount:kube-system:ci",
                groups: &[],
            },
            verb: "list",
            target,
        });
        assert!(allowed.is_allowed());
    }

    #[test]
    fn audit_flags_risky_grants() {
        let rbac = Rbac::from_objects(
            &[],
            &[
                json!({"metadata": {"name": "everything"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
                json!({"metadata": {"name": "binder"}, "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind", "escalate"]}]}),
            ],
            &[],
            &[
                json!({"metadata": {"name": "ops"}, "roleRef": {"kind": "ClusterRole", "name": "everything"}, "subjects": [{"kind": "Group", "name": "ops"}]}),
                json!({"metadata": {"name": "ghost"}, "roleRef": {"kind": "ClusterRole", "name": "gone"}, "subjects": [{"kind": "User", "name": "nobody"}]}),
            ],
        );
        let known = KnownSubjects {
            groups: ["ops".to_owned()].into(),
            ..KnownSubjects::default()
        };
        let risks: Vec<Risk> = audit(&rbac, &known).iter().map(|f| f.risk).collect();
        assert_eq!(
            risks,
            [
                Risk::Wildcard,
                Risk::PrivilegeVerb,
                Risk::ClusterWideSecrets,
                Risk::ClusterAdminToGroupOrServiceAccount,
                Risk::MissingSubject,
                Risk::MissingRole,
            ]
        );
    }
}
