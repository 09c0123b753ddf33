//! The RBAC objects (`rbac.authorization.k8s.io/v1`), as much of them as decisions need.
//!
//! Deserialization is lenient on purpose: stored objects were validated when written, and
//! an authorizer that refused to load a cluster because one object was odd would lock
//! everyone out. Validation is [`crate::validation`]'s job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A `PolicyRule`: verbs on resources, or verbs on non-resource URLs
#[derive(Clone, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    /// Verbs, or `*`
    #[serde(default, deserialize_with = "null_as_empty")]
    pub verbs: Vec<String>,
    /// API groups, or `*`; `""` is the core group
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub api_groups: Vec<String>,
    /// Resources: `pods`, `pods/log`, `*/scale` or `*`
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resources: Vec<String>,
    /// Object names; empty means every name
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resource_names: Vec<String>,
    /// Non-resource URLs; a trailing `*` matches by prefix
    #[serde(
        default,
        rename = "nonResourceURLs",
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub non_resource_urls: Vec<String>,
}

impl PolicyRule {
    /// A resource rule
    pub fn resource(verbs: &[&str], api_groups: &[&str], resources: &[&str]) -> Self {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        PolicyRule {
            verbs: owned(verbs),
            api_groups: owned(api_groups),
            resources: owned(resources),
            ..PolicyRule::default()
        }
    }

    /// A non-resource rule
    pub fn non_resource(verbs: &[&str], urls: &[&str]) -> Self {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        PolicyRule {
            verbs: owned(verbs),
            non_resource_urls: owned(urls),
            ..PolicyRule::default()
        }
    }
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A binding's subject
#[derive(Clone, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`
    #[serde(default)]
    pub kind: String,
    /// `rbac.authorization.k8s.io` for users and groups, `""` for service accounts
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_group: String,
    /// The name
    #[serde(default)]
    pub name: String,
    /// A service account's namespace
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

impl Subject {
    /// How upstream describes a subject in decision reasons: `User "alice"`,
    /// `ServiceAccount "ci/team-a"` (name, then namespace)
    pub fn describe(&self, binding_namespace: &str) -> String {
        if self.kind == "ServiceAccount" {
            let namespace = if self.namespace.is_empty() {
                binding_namespace
            } else {
                &self.namespace
            };
            format!("{} \"{}/{namespace}\"", self.kind, self.name)
        } else {
            format!("{} \"{}\"", self.kind, self.name)
        }
    }
}

/// A binding's `roleRef`
#[derive(Clone, Debug, Default, Deserialize, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    /// `rbac.authorization.k8s.io`
    #[serde(default)]
    pub api_group: String,
    /// `Role` or `ClusterRole`
    #[serde(default)]
    pub kind: String,
    /// The role's name
    #[serde(default)]
    pub name: String,
}

/// One requirement of a structured label selector
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// The label key
    #[serde(default)]
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`
    #[serde(default)]
    pub operator: String,
    /// Values for `In` and `NotIn`
    #[serde(default, deserialize_with = "null_as_empty")]
    pub values: Vec<String>,
}

/// A structured label selector (`metav1.LabelSelector`)
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must be present with these values
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Further requirements
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

impl LabelSelector {
    /// Whether `labels` satisfy every requirement. An empty selector matches everything, as
    /// upstream's `LabelSelectorAsSelector` does; an unknown operator matches nothing.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator.as_str() {
                    "In" => value.is_some_and(|v| r.values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }
}

/// A ClusterRole's `aggregationRule`
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregationRule {
    /// ClusterRoles matching any selector contribute their rules
    #[serde(default, deserialize_with = "null_as_empty")]
    pub cluster_role_selectors: Vec<LabelSelector>,
}

/// The metadata decisions need
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// Name
    #[serde(default)]
    pub name: String,
    /// Namespace; empty for cluster-scoped objects
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Labels
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A Role (namespaced) or ClusterRole (`meta.namespace` empty)
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// Name, namespace, labels
    #[serde(default)]
    pub metadata: Meta,
    /// The rules
    #[serde(default, deserialize_with = "null_as_empty")]
    pub rules: Vec<PolicyRule>,
    /// ClusterRoles only
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation_rule: Option<AggregationRule>,
}

impl Role {
    /// Reads a stored object; `None` when it is not shaped like a role
    pub fn from_value(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }
}

/// A RoleBinding (namespaced) or ClusterRoleBinding (`meta.namespace` empty)
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    /// Name, namespace, labels
    #[serde(default)]
    pub metadata: Meta,
    /// Who is bound
    #[serde(default, deserialize_with = "null_as_empty")]
    pub subjects: Vec<Subject>,
    /// The role granted
    #[serde(default)]
    pub role_ref: RoleRef,
}

impl Binding {
    /// Reads a stored object; `None` when it is not shaped like a binding
    pub fn from_value(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }

    /// How upstream names a binding in decision reasons: `ClusterRoleBinding "x"` or
    /// `RoleBinding "x/ns"`
    pub fn describe(&self) -> String {
        if self.metadata.namespace.is_empty() {
            format!("ClusterRoleBinding \"{}\"", self.metadata.name)
        } else {
            format!(
                "RoleBinding \"{}/{}\"",
                self.metadata.name, self.metadata.namespace
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_reading() {
        let role = Role::from_value(&json!({
            "metadata": {"name": "r", "namespace": "ns"},
            "rules": [{"verbs": ["get"], "apiGroups": null, "resources": ["pods"]}]
        }))
        .unwrap();
        assert_eq!(role.rules[0].api_groups, Vec::<String>::new());
        assert!(Role::from_value(&json!({"rules": "nope"})).is_none());
        let rule = serde_json::to_value(PolicyRule::non_resource(&["get"], &["/healthz"])).unwrap();
        assert_eq!(
            rule,
            json!({"verbs": ["get"], "nonResourceURLs": ["/healthz"]})
        );
    }

    #[test]
    fn selectors() {
        let labels: BTreeMap<String, String> =
            [("a".to_owned(), "1".to_owned())].into_iter().collect();
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"a": "1"},
            "matchExpressions": [{"key": "b", "operator": "DoesNotExist"}]
        }))
        .unwrap();
        assert!(selector.matches(&labels));
        assert!(LabelSelector::default().matches(&labels));
        let odd: LabelSelector =
            serde_json::from_value(json!({"matchExpressions": [{"key": "a", "operator": "Near"}]}))
                .unwrap();
        assert!(!odd.matches(&labels));
    }

    #[test]
    fn descriptions() {
        let sa = Subject {
            kind: "ServiceAccount".into(),
            name: "ci".into(),
            ..Subject::default()
        };
        assert_eq!(sa.describe("team-a"), "ServiceAccount \"ci/team-a\"");
        let binding = Binding {
            metadata: Meta {
                name: "b".into(),
                namespace: "ns".into(),
                ..Meta::default()
            },
            ..Binding::default()
        };
        assert_eq!(binding.describe(), "RoleBinding \"b/ns\"");
    }
}
