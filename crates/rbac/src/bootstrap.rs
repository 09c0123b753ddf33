//! The default ClusterRoles and ClusterRoleBindings of Kubernetes 1.32 (`k8s-interfaces.md`
//! §1.6), and their reconciliation on start.
//!
//! The data is in `bootstrap.yaml`; `admin`, `edit` and `view` start empty and are filled by
//! [`crate::aggregation`]. Reconciliation follows upstream's `autoupdate` contract: a default
//! object whose `rbac.authorization.kubernetes.io/autoupdate` annotation is not `"false"`
//! regains missing rules, labels and subjects; nothing a user added is removed.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::RBAC_GROUP;
use crate::model::{AggregationRule, Meta, PolicyRule, Role, Subject};

/// The label every default object carries
pub const BOOTSTRAPPING_LABEL: (&str, &str) = ("kubernetes.io/bootstrapping", "rbac-defaults");

/// The annotation that lets reconciliation update a default object
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";

/// The embedded data did not parse (a build defect, caught by the unit tests)
#[derive(Debug, thiserror::Error)]
#[error("the default RBAC roles do not parse: {0}")]
pub struct BootstrapError(String);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Defaults {
    cluster_roles: Vec<DefaultRole>,
    cluster_role_bindings: Vec<DefaultBinding>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DefaultRole {
    name: String,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    aggregation_rule: Option<AggregationRule>,
    #[serde(default)]
    rules: Vec<PolicyRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DefaultBinding {
    name: String,
    role_ref: String,
    subjects: Vec<Subject>,
}

fn defaults() -> Result<Defaults, BootstrapError> {
    serde_saphyr::from_str(include_str!("bootstrap.yaml"))
        .map_err(|e| BootstrapError(e.to_string()))
}

/// The default ClusterRoles, as roles (aggregated ones with empty rules)
pub fn cluster_roles() -> Result<Vec<Role>, BootstrapError> {
    Ok(defaults()?
        .cluster_roles
        .into_iter()
        .map(|d| {
            let mut labels = d.labels;
            labels.insert(BOOTSTRAPPING_LABEL.0.into(), BOOTSTRAPPING_LABEL.1.into());
            Role {
                metadata: Meta {
                    name: d.name,
                    namespace: String::new(),
                    labels,
                },
                rules: d.rules,
                aggregation_rule: d.aggregation_rule,
            }
        })
        .collect())
}

fn metadata(name: &str, labels: &std::collections::BTreeMap<String, String>) -> Value {
    json!({
        "name": name,
        "labels": labels,
        "annotations": {AUTOUPDATE_ANNOTATION: "true"},
    })
}

/// The default ClusterRoles as API objects (without uid and timestamps)
pub fn cluster_role_objects() -> Result<Vec<Value>, BootstrapError> {
    Ok(cluster_roles()?
        .into_iter()
        .map(|role| {
            let mut object = json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": metadata(&role.metadata.name, &role.metadata.labels),
                "rules": role.rules,
            });
            if let (Some(rule), Some(map)) = (&role.aggregation_rule, object.as_object_mut()) {
                map.insert("aggregationRule".into(), json!(rule));
            }
            object
        })
        .collect())
}

/// The default ClusterRoleBindings as API objects (without uid and timestamps)
pub fn cluster_role_binding_objects() -> Result<Vec<Value>, BootstrapError> {
    let labels = [(
        BOOTSTRAPPING_LABEL.0.to_owned(),
        BOOTSTRAPPING_LABEL.1.to_owned(),
    )]
    .into_iter()
    .collect();
    Ok(defaults()?
        .cluster_role_bindings
        .into_iter()
        .map(|b| {
            let subjects: Vec<Value> = b
                .subjects
                .into_iter()
                .map(|s| json!({"apiGroup": RBAC_GROUP, "kind": s.kind, "name": s.name}))
                .collect();
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": metadata(&b.name, &labels),
                "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": b.role_ref},
                "subjects": subjects,
            })
        })
        .collect())
}

fn autoupdate(existing: &Value) -> bool {
    existing
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(AUTOUPDATE_ANNOTATION))
        .and_then(Value::as_str)
        != Some("false")
}

/// Adds what `default` has and `existing` lacks under `key` (an array), deep-equal items once
fn union_array(existing: &mut Value, default: &Value, key: &str) -> bool {
    let wanted = default
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let Some(map) = existing.as_object_mut() else {
        return false;
    };
    let slot = map.entry(key).or_insert_with(|| json!([]));
    if !slot.is_array() {
        *slot = json!([]);
    }
    let Some(items) = slot.as_array_mut() else {
        return false;
    };
    let mut changed = false;
    for item in wanted {
        if !items.contains(&item) {
            items.push(item);
            changed = true;
        }
    }
    changed
}

fn union_map(existing: &mut Value, default: &Value, key: &str) -> bool {
    let wanted = default
        .pointer(&format!("/metadata/{key}"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let Some(meta) = existing.get_mut("metadata").and_then(Value::as_object_mut) else {
        return false;
    };
    let slot = meta.entry(key).or_insert_with(|| json!({}));
    let Some(map) = slot.as_object_mut() else {
        return false;
    };
    let mut changed = false;
    for (k, v) in wanted {
        if !map.contains_key(&k) {
            map.insert(k, v);
            changed = true;
        }
    }
    changed
}

/// What a stored default ClusterRole should become, if anything: missing rules, labels,
/// annotations and aggregation rule are added unless autoupdate is off. Rules of aggregated
/// roles are left to aggregation.
pub fn reconcile_role(existing: &Value, default: &Value) -> Option<Value> {
    if !autoupdate(existing) {
        return None;
    }
    let mut updated = existing.clone();
    let mut changed = union_map(&mut updated, default, "labels");
    changed |= union_map(&mut updated, default, "annotations");
    match default.get("aggregationRule") {
        Some(rule) => {
            if updated.get("aggregationRule") != Some(rule)
                && let Some(map) = updated.as_object_mut()
            {
                map.insert("aggregationRule".into(), rule.clone());
                changed = true;
            }
        }
        None => changed |= union_array(&mut updated, default, "rules"),
    }
    changed.then_some(updated)
}

/// What a stored default ClusterRoleBinding should become, if anything: missing subjects,
/// labels and annotations are added unless autoupdate is off
pub fn reconcile_binding(existing: &Value, default: &Value) -> Option<Value> {
    if !autoupdate(existing) {
        return None;
    }
    let mut updated = existing.clone();
    let mut changed = union_map(&mut updated, default, "labels");
    changed |= union_map(&mut updated, default, "annotations");
    changed |= union_array(&mut updated, default, "subjects");
    changed.then_some(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_name_what_upstream_names() {
        let roles = cluster_role_objects().unwrap();
        let names: Vec<&str> = roles
            .iter()
            .filter_map(|r| r.pointer("/metadata/name").and_then(Value::as_str))
            .collect();
        for expected in [
            "cluster-admin",
            "admin",
            "edit",
            "view",
            "system:discovery",
            "system:basic-user",
            "system:public-info-viewer",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let bindings = cluster_role_binding_objects().unwrap();
        let discovery = bindings
            .iter()
            .find(|b| b["metadata"]["name"] == "system:discovery")
            .unwrap();
        assert_eq!(discovery["subjects"][0]["name"], "system:authenticated");
        assert_eq!(
            discovery["metadata"]["labels"]["kubernetes.io/bootstrapping"],
            "rbac-defaults"
        );
    }

    #[test]
    fn reconciliation_adds_and_respects_autoupdate() {
        let default = json!({"metadata": {"name": "r", "labels": {"a": "1"}, "annotations": {AUTOUPDATE_ANNOTATION: "true"}},
                             "rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]});
        let trimmed = json!({"metadata": {"name": "r", "labels": {"mine": "2"}}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/mine"]}]});
        let fixed = reconcile_role(&trimmed, &default).unwrap();
        assert_eq!(fixed["rules"].as_array().unwrap().len(), 2);
        assert_eq!(fixed["metadata"]["labels"]["mine"], "2");
        assert!(reconcile_role(&fixed, &default).is_none());
        let frozen = json!({"metadata": {"name": "r", "annotations": {AUTOUPDATE_ANNOTATION: "false"}}, "rules": []});
        assert!(reconcile_role(&frozen, &default).is_none());
    }
}
