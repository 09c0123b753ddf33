//! What kube-apiserver refuses in RBAC objects (`k8s-interfaces.md` §1.4), as field errors
//! in upstream's words.

use serde_json::Value;

use crate::RBAC_GROUP;

/// How a field is wrong, with the `reason` a `Status` cause carries
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ErrorType {
    /// `FieldValueRequired`
    Required,
    /// `FieldValueInvalid`
    Invalid,
    /// `FieldValueNotSupported`
    NotSupported,
}

impl ErrorType {
    /// The cause's `reason`
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
        }
    }
}

/// One invalid field
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct FieldError {
    /// `roleRef.kind`, `rules[0].verbs`, `subjects[1].namespace`
    pub field: String,
    /// How it is wrong
    pub kind: ErrorType,
    /// Upstream's text after the field: `Required value`, `Unsupported value: "Role":
    /// supported values: "ClusterRole"`
    pub message: String,
}

fn required(field: String, detail: &str) -> FieldError {
    let message = if detail.is_empty() {
        "Required value".to_owned()
    } else {
        format!("Required value: {detail}")
    };
    FieldError {
        field,
        kind: ErrorType::Required,
        message,
    }
}

fn quote(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

fn not_supported(field: String, value: &str, supported: &[&str]) -> FieldError {
    let listed: Vec<String> = supported.iter().map(|s| quote(s)).collect();
    FieldError {
        field,
        kind: ErrorType::NotSupported,
        message: format!(
            "Unsupported value: {}: supported values: {}",
            quote(value),
            listed.join(", ")
        ),
    }
}

fn invalid(field: String, value: &str, detail: &str) -> FieldError {
    FieldError {
        field,
        kind: ErrorType::Invalid,
        message: format!("Invalid value: {}: {detail}", quote(value)),
    }
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Why a name cannot be a path segment (`path.IsValidPathSegmentName`), if it cannot
pub fn path_segment_problem(name: &str) -> Option<String> {
    if name == "." || name == ".." {
        return Some(format!("may not be '{name}'"));
    }
    ["/", "%"]
        .iter()
        .find(|bad| name.contains(**bad))
        .map(|bad| format!("may not contain '{bad}'"))
}

/// Whether `name` is a DNS-1123 subdomain (what service-account names must be)
pub fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// ObjectMeta's rules for RBAC objects: a name that is a valid path segment, and a
/// namespace exactly when the kind is namespaced
fn validate_metadata(object: &Value, namespaced: bool, errors: &mut Vec<FieldError>) {
    let meta = object.get("metadata").unwrap_or(&Value::Null);
    let name = text(meta, "name");
    if name.is_empty() && text(meta, "generateName").is_empty() {
        errors.push(required(
            "metadata.name".into(),
            "name or generateName is required",
        ));
    } else if let Some(problem) = path_segment_problem(name) {
        errors.push(invalid("metadata.name".into(), name, &problem));
    }
    let namespace = text(meta, "namespace");
    if namespaced && namespace.is_empty() {
        errors.push(required("metadata.namespace".into(), ""));
    }
    if !namespaced && !namespace.is_empty() {
        errors.push(FieldError {
            field: "metadata.namespace".into(),
            kind: ErrorType::Invalid,
            message: "Forbidden: not allowed on this type".into(),
        });
    }
}

fn validate_rules(object: &Value, namespaced: bool, errors: &mut Vec<FieldError>) {
    let Some(rules) = object.get("rules").and_then(Value::as_array) else {
        return;
    };
    for (i, rule) in rules.iter().enumerate() {
        let path = |field: &str| format!("rules[{i}].{field}");
        if strings(rule.get("verbs")).is_empty() {
            errors.push(required(
                path("verbs"),
                "verbs must contain at least one value",
            ));
        }
        let urls = strings(rule.get("nonResourceURLs"));
        if !urls.is_empty() {
            if namespaced {
                errors.push(invalid(
                    path("nonResourceURLs"),
                    &urls.join(","),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            let has_resources = ["apiGroups", "resources", "resourceNames"]
                .iter()
                .any(|f| !strings(rule.get(*f)).is_empty());
            if has_resources {
                errors.push(invalid(
                    path("nonResourceURLs"),
                    &urls.join(","),
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if strings(rule.get("apiGroups")).is_empty() {
            errors.push(required(
                path("apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if strings(rule.get("resources")).is_empty() {
            errors.push(required(
                path("resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
}

/// Validates a Role or ClusterRole (its rules and aggregation rule)
pub fn validate_role(object: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    validate_metadata(object, namespaced, &mut errors);
    validate_rules(object, namespaced, &mut errors);
    if !namespaced
        && let Some(rule) = object.get("aggregationRule").filter(|v| !v.is_null())
        && rule
            .get("clusterRoleSelectors")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
    {
        errors.push(required(
            "aggregationRule.clusterRoleSelectors".into(),
            "at least one clusterRoleSelector required if aggregationRule is non-nil",
        ));
    }
    errors
}

/// Validates a RoleBinding or ClusterRoleBinding; `previous` is the stored object on update
/// (`roleRef` cannot change)
pub fn validate_binding(
    object: &Value,
    namespaced: bool,
    previous: Option<&Value>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    validate_metadata(object, namespaced, &mut errors);
    let role_ref = object.get("roleRef").unwrap_or(&Value::Null);
    let group = text(role_ref, "apiGroup");
    if group != RBAC_GROUP {
        errors.push(not_supported(
            "roleRef.apiGroup".into(),
            group,
            &[RBAC_GROUP],
        ));
    }
    let kind = text(role_ref, "kind");
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&kind) {
        errors.push(not_supported("roleRef.kind".into(), kind, kinds));
    }
    let name = text(role_ref, "name");
    if name.is_empty() {
        errors.push(required("roleRef.name".into(), ""));
    } else if let Some(problem) = path_segment_problem(name) {
        errors.push(invalid("roleRef.name".into(), name, &problem));
    }
    if let Some(old) = previous
        && old.get("roleRef") != object.get("roleRef")
    {
        errors.push(FieldError {
            field: "roleRef".into(),
            kind: ErrorType::Invalid,
            message: "Invalid value: the roleRef: cannot change roleRef".into(),
        });
    }
    let subjects = object
        .get("subjects")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, subject) in subjects.iter().enumerate() {
        let path = |field: &str| format!("subjects[{i}].{field}");
        let name = text(subject, "name");
        if name.is_empty() {
            errors.push(required(path("name"), ""));
        }
        let group = text(subject, "apiGroup");
        match text(subject, "kind") {
            "ServiceAccount" => {
                if !group.is_empty() {
                    errors.push(not_supported(path("apiGroup"), group, &[""]));
                }
                if !name.is_empty() && !is_dns_subdomain(name) {
                    errors.push(invalid(
                        path("name"),
                        name,
                        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
                    ));
                }
                if !namespaced && text(subject, "namespace").is_empty() {
                    errors.push(required(path("namespace"), ""));
                }
            }
            "User" | "Group" => {
                if group != RBAC_GROUP {
                    errors.push(not_supported(path("apiGroup"), group, &[RBAC_GROUP]));
                }
                if let Some(problem) = path_segment_problem(name).filter(|_| !name.is_empty()) {
                    errors.push(invalid(path("name"), name, &problem));
                }
            }
            other => errors.push(not_supported(
                path("kind"),
                other,
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn cluster_role_bindings_cannot_name_roles() {
        let mut binding = json!({"metadata": {"name": "b"}, "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "r"}, "subjects": [{"kind": "ServiceAccount", "name": "ci"}]});
        let errors = validate_binding(&binding, false, None);
        assert_eq!(fields(&errors), ["roleRef.kind", "subjects[0].namespace"]);
        assert_eq!(
            errors[0].message,
            "Unsupported value: \"Role\": supported values: \"ClusterRole\""
        );
        binding["metadata"]["namespace"] = json!("ns");
        assert!(validate_binding(&binding, true, None).is_empty());
    }

    #[test]
    fn rules_and_aggregation() {
        let role = json!({"metadata": {"name": "r", "namespace": "ns"}, "rules": [
            {"verbs": [], "apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["get"], "nonResourceURLs": ["/x"], "resources": ["pods"]},
            {"verbs": ["get"]}
        ]});
        assert_eq!(
            fields(&validate_role(&role, true)),
            [
                "rules[0].verbs",
                "rules[1].nonResourceURLs",
                "rules[1].nonResourceURLs",
                "rules[2].apiGroups",
                "rules[2].resources"
            ]
        );
        let aggregated =
            json!({"metadata": {"name": "a"}, "aggregationRule": {"clusterRoleSelectors": []}});
        assert_eq!(
            fields(&validate_role(&aggregated, false)),
            ["aggregationRule.clusterRoleSelectors"]
        );
    }

    #[test]
    fn role_ref_is_immutable_and_subjects_need_names() {
        let old =
            json!({"roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "view"}});
        let new = json!({"metadata": {"name": "b", "namespace": "ns"}, "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "edit"}, "subjects": [{"kind": "User", "apiGroup": RBAC_GROUP, "name": ""}]});
        assert_eq!(
            fields(&validate_binding(&new, true, Some(&old))),
            ["roleRef", "subjects[0].name"]
        );
        assert!(!is_dns_subdomain("Bad_Name"));
        assert_eq!(
            path_segment_problem("a/b"),
            Some("may not contain '/'".into())
        );
    }
}
