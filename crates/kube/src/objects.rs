//! Object rules kube-apiserver enforces on write: names, metadata the server owns, and the
//! per-kind checks and defaults kubectl users rely on.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::KubeError;
use crate::resources::ResourceType;

/// Secrets and ConfigMaps may hold at most this much data
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

/// A DNS-1123 subdomain: lowercase alphanumerics, `-` and `.`, at most 253 characters
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && !name.is_empty() && name.split('.').all(is_label_shape)
}

/// A DNS-1123 label: lowercase alphanumerics and `-`, at most 63 characters
pub fn is_dns_label(name: &str) -> bool {
    name.len() <= 63 && is_label_shape(name)
}

fn is_label_shape(part: &str) -> bool {
    !part.is_empty()
        && part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !part.starts_with('-')
        && !part.ends_with('-')
}

/// Keys of Secret and ConfigMap data: alphanumerics, `-`, `_` and `.`
fn is_config_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks an object name for `resource`
pub fn check_name(resource: &ResourceType, name: &str) -> Result<(), KubeError> {
    let (valid, rule) = match (resource.group, resource.resource) {
        ("", "namespaces") => (
            is_dns_label(name),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        ),
        ("rbac.authorization.k8s.io", _) => (
            !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '%']),
            "may not be '.' or '..' and may not contain '/' or '%'",
        ),
        _ => (
            is_dns_subdomain(name),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ),
    };
    if valid {
        Ok(())
    } else {
        Err(KubeError::invalid(
            resource,
            name,
            "metadata.name",
            "FieldValueInvalid",
            format!("Invalid value: {name:?}: {rule}"),
        ))
    }
}

/// A random RFC 4122 version-4 UUID
pub fn new_uid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8).unwrap_or(""),
        hex.get(8..12).unwrap_or(""),
        hex.get(12..16).unwrap_or(""),
        hex.get(16..20).unwrap_or(""),
        hex.get(20..32).unwrap_or("")
    )
}

/// RFC 3339 to the second, as Kubernetes writes timestamps
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `generateName` + five random characters
fn generated_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let suffix: String = (0..5)
        .map(|_| {
            let i = rand::random::<u8>() as usize % ALPHABET.len();
            char::from(ALPHABET.get(i).copied().unwrap_or(b'x'))
        })
        .collect();
    format!("{prefix}{suffix}")
}

fn metadata_mut(object: &mut Value) -> Result<&mut Map<String, Value>, KubeError> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| KubeError::BadRequest("the object must be a JSON object".into()))?;
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    meta.as_object_mut()
        .ok_or_else(|| KubeError::BadRequest("metadata must be an object".into()))
}

/// Checks `apiVersion`/`kind` against the URL, filling them in when absent
pub fn check_type(resource: &ResourceType, object: &mut Value) -> Result<(), KubeError> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| KubeError::BadRequest("the object must be a JSON object".into()))?;
    let expected_version = resource.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None => {
            map.insert("apiVersion".into(), Value::String(expected_version));
        }
        Some(v) if v == expected_version => {}
        Some(v) => {
            return Err(KubeError::BadRequest(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_version})"
            )));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None => {
            map.insert("kind".into(), Value::String(resource.kind.to_owned()));
        }
        Some(k) if k == resource.kind => {}
        Some(k) => {
            return Err(KubeError::BadRequest(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                resource.kind
            )));
        }
    }
    Ok(())
}

/// Prepares a new object: type, name (or `generateName`), namespace, server-owned metadata,
/// kind defaults and checks. Returns the object's name.
pub fn prepare_create(
    resource: &ResourceType,
    namespace: Option<&str>,
    object: &mut Value,
) -> Result<String, KubeError> {
    check_type(resource, object)?;
    let meta = metadata_mut(object)?;
    let name = match meta
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        Some(n) => n.to_owned(),
        None => match meta
            .get("generateName")
            .and_then(Value::as_str)
            .filter(|g| !g.is_empty())
        {
            Some(prefix) => generated_name(prefix),
            None => {
                return Err(KubeError::invalid(
                    resource,
                    "",
                    "metadata.name",
                    "FieldValueRequired",
                    "Required value: name or generateName is required",
                ));
            }
        },
    };
    check_name(resource, &name)?;
    meta.insert("name".into(), Value::String(name.clone()));
    match (resource.namespaced, namespace) {
        (true, Some(ns)) => {
            if let Some(given) = meta.get("namespace").and_then(Value::as_str)
                && !given.is_empty()
                && given != ns
            {
                return Err(KubeError::BadRequest(
                    "the namespace of the provided object does not match the namespace sent on the request".into(),
                ));
            }
            meta.insert("namespace".into(), Value::String(ns.to_owned()));
        }
        (true, None) => {
            return Err(KubeError::BadRequest(format!(
                "{} must be created in a namespace",
                resource.resource
            )));
        }
        (false, _) => {
            meta.remove("namespace");
        }
    }
    meta.insert("uid".into(), Value::String(new_uid()));
    meta.insert("creationTimestamp".into(), Value::String(now_rfc3339()));
    meta.remove("resourceVersion");
    meta.remove("deletionTimestamp");
    meta.remove("selfLink");
    if !["namespaces", "secrets", "configmaps", "serviceaccounts"].contains(&resource.resource)
        && resource.group != "rbac.authorization.k8s.io"
    {
        meta.insert("generation".into(), json!(1));
    }
    apply_kind_rules(resource, &name, object, None)?;
    Ok(name)
}

/// Prepares a replacement: the name must match, and server-owned metadata comes from the
/// stored object
pub fn prepare_update(
    resource: &ResourceType,
    name: &str,
    current: &Value,
    object: &mut Value,
) -> Result<(), KubeError> {
    check_type(resource, object)?;
    let meta = metadata_mut(object)?;
    match meta.get("name").and_then(Value::as_str) {
        Some(n) if n == name => {}
        Some(n) if !n.is_empty() => {
            return Err(KubeError::BadRequest(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        _ => {
            meta.insert("name".into(), Value::String(name.to_owned()));
        }
    }
    for owned in ["uid", "creationTimestamp", "namespace"] {
        match current.pointer(&format!("/metadata/{owned}")) {
            Some(v) => {
                meta.insert(owned.into(), v.clone());
            }
            None => {
                meta.remove(owned);
            }
        }
    }
    let spec_changed = current.get("spec") != object.get("spec");
    if let Some(generation) = current
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
    {
        let next = if spec_changed {
            generation + 1
        } else {
            generation
        };
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("generation".into(), json!(next));
        }
    }
    apply_kind_rules(resource, name, object, Some(current))
}

fn apply_kind_rules(
    resource: &ResourceType,
    name: &str,
    object: &mut Value,
    previous: Option<&Value>,
) -> Result<(), KubeError> {
    match (resource.group, resource.kind) {
        ("", "Secret") => secret_rules(resource, name, object),
        ("", "ConfigMap") => config_map_rules(resource, name, object),
        ("", "Namespace") => {
            if let Some(map) = object.as_object_mut() {
                map.entry("spec")
                    .or_insert_with(|| json!({"finalizers": ["kubernetes"]}));
                map.insert("status".into(), json!({"phase": "Active"}));
            }
            Ok(())
        }
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            workload_rules(resource, name, object, "spec.template")
        }
        ("rbac.authorization.k8s.io", kind) => {
            use portcullis_rbac::validation;
            let errors = match kind {
                "Role" => validation::validate_role(object, true),
                "ClusterRole" => validation::validate_role(object, false),
                "RoleBinding" => validation::validate_binding(object, true, previous),
                "ClusterRoleBinding" => validation::validate_binding(object, false, previous),
                _ => Vec::new(),
            };
            if errors.is_empty() {
                return Ok(());
            }
            Err(KubeError::Invalid {
                kind: format!("{}.{}", resource.kind, resource.group),
                name: name.to_owned(),
                causes: errors
                    .into_iter()
                    .map(|e| crate::Cause {
                        reason: e.kind.reason(),
                        field: e.field,
                        message: e.message,
                    })
                    .collect(),
            })
        }
        _ => Ok(()),
    }
}

fn secret_rules(resource: &ResourceType, name: &str, object: &mut Value) -> Result<(), KubeError> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| KubeError::BadRequest("the object must be a JSON object".into()))?;
    // stringData is write-only: it is folded into data, as kube-apiserver does.
    let string_data = map.remove("stringData");
    let data = map.entry("data").or_insert_with(|| json!({}));
    if data.is_null() {
        *data = json!({});
    }
    let data = data.as_object_mut().ok_or_else(|| {
        KubeError::invalid(
            resource,
            name,
            "data",
            "FieldValueInvalid",
            "must be a map of strings",
        )
    })?;
    if let Some(Value::Object(extra)) = string_data {
        for (k, v) in extra {
            let text = v.as_str().ok_or_else(|| {
                KubeError::invalid(
                    resource,
                    name,
                    &format!("stringData[{k}]"),
                    "FieldValueInvalid",
                    "must be a string",
                )
            })?;
            data.insert(k, Value::String(STANDARD.encode(text)));
        }
    }
    let mut total = 0usize;
    for (k, v) in data.iter() {
        if !is_config_key(k) {
            return Err(KubeError::invalid(
                resource,
                name,
                &format!("data[{k}]"),
                "FieldValueInvalid",
                format!(
                    "Invalid value: {k:?}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
                ),
            ));
        }
        let decoded = v
            .as_str()
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or_else(|| {
                KubeError::BadRequest(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data in data[{k}]"
                ))
            })?;
        total += decoded.len();
    }
    if total > MAX_DATA_BYTES {
        return Err(KubeError::invalid(
            resource,
            name,
            "data",
            "FieldValueTooLong",
            format!("Too long: may not be more than {MAX_DATA_BYTES} bytes"),
        ));
    }
    if !map.contains_key("type") {
        map.insert("type".into(), Value::String("Opaque".into()));
    }
    Ok(())
}

fn config_map_rules(
    resource: &ResourceType,
    name: &str,
    object: &mut Value,
) -> Result<(), KubeError> {
    let mut total = 0usize;
    for field in ["data", "binaryData"] {
        if let Some(Value::Object(data)) = object.get(field) {
            for (k, v) in data {
                if !is_config_key(k) {
                    return Err(KubeError::invalid(
                        resource,
                        name,
                        &format!("{field}[{k}]"),
                        "FieldValueInvalid",
                        format!(
                            "Invalid value: {k:?}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
                        ),
                    ));
                }
                total += v.as_str().map_or(0, str::len);
            }
        }
    }
    if total > MAX_DATA_BYTES {
        return Err(KubeError::invalid(
            resource,
            name,
            "data",
            "FieldValueTooLong",
            format!("Too long: may not be more than {MAX_DATA_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn workload_rules(
    resource: &ResourceType,
    name: &str,
    object: &Value,
    template: &str,
) -> Result<(), KubeError> {
    let pointer = format!("/{}", template.replace('.', "/"));
    let containers = object.pointer(&format!("{pointer}/spec/containers"));
    if containers
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        return Err(KubeError::invalid(
            resource,
            name,
            &format!("{template}.spec.containers"),
            "FieldValueRequired",
            "Required value",
        ));
    }
    if resource.kind != "DaemonSet" || object.pointer("/spec/selector").is_some() {
        let Some(selector) = object.pointer("/spec/selector") else {
            return Err(KubeError::invalid(
                resource,
                name,
                "spec.selector",
                "FieldValueRequired",
                "Required value",
            ));
        };
        // The selector must select the template's labels.
        if let Some(Value::Object(wanted)) = selector.get("matchLabels") {
            let labels = object.pointer(&format!("{pointer}/metadata/labels"));
            for (k, v) in wanted {
                if labels.and_then(|l| l.get(k)) != Some(v) {
                    return Err(KubeError::invalid(
                        resource,
                        name,
                        &format!("{template}.metadata.labels"),
                        "FieldValueInvalid",
                        "Invalid value: `selector` does not match template `labels`",
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;

    #[test]
    fn names() {
        assert!(is_dns_label("default"));
        assert!(!is_dns_label("Default"));
        assert!(!is_dns_label("-x"));
        assert!(is_dns_subdomain("a.b-c.d"));
        assert!(!is_dns_subdomain("a..b"));
        let ns = find("", "v1", "namespaces").unwrap();
        assert!(check_name(ns, "a.b").is_err());
        let role = find("rbac.authorization.k8s.io", "v1", "clusterroles").unwrap();
        assert!(check_name(role, "system:discovery").is_ok());
        assert!(check_name(role, "..").is_err());
        assert_eq!(new_uid().len(), 36);
    }

    #[test]
    fn secrets_fold_string_data_and_check_base64() {
        let secret = find("", "v1", "secrets").unwrap();
        let mut object = json!({"metadata": {"name": "s"}, "stringData": {"user": "admin"}});
        prepare_create(secret, Some("default"), &mut object).unwrap();
        assert_eq!(object["data"]["user"], "YWRtaW4=");
        assert_eq!(object["type"], "Opaque");
        assert!(object.get("stringData").is_none());
        let mut bad = json!({"metadata": {"name": "s"}, "data": {"k": "!!"}});
        assert!(prepare_create(secret, Some("default"), &mut bad).is_err());
        let mut wrong_ns = json!({"metadata": {"name": "s", "namespace": "other"}});
        assert!(prepare_create(secret, Some("default"), &mut wrong_ns).is_err());
    }
}
