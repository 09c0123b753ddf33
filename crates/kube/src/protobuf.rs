//! Decoding Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into
//! the same JSON objects a JSON body would give.
//!
//! kubectl 1.32's typed clients (`create namespace|secret|configmap|serviceaccount|token|
//! role|...`, `auth can-i`) send protobuf; answers are always JSON. The body is the magic
//! `k8s\0` followed by a `runtime.Unknown` whose `raw` holds the object's own message.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use prost::Message as _;
use serde_json::{Map, Value, json};

use crate::KubeError;

mod workloads;

#[allow(
    clippy::all,
    clippy::allow_attributes_without_reason,
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    reason = "generated protobuf code"
)]
mod pb {
    include!(concat!(env!("OUT_DIR"), "/k8s.rs"));
}

/// The four bytes every Kubernetes protobuf body starts with
pub const MAGIC: [u8; 4] = [0x6b, 0x38, 0x73, 0x00];

/// Bodies larger than this are refused before decoding
pub const MAX_BODY: usize = 3 * 1024 * 1024;

fn bad(message: impl Into<String>) -> KubeError {
    KubeError::BadRequest(message.into())
}

fn insert(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

fn string(value: &Option<String>) -> Option<Value> {
    value.as_ref().map(|v| Value::String(v.clone()))
}

fn strings(values: &[String]) -> Option<Value> {
    (!values.is_empty()).then(|| json!(values))
}

fn string_map(map: &BTreeMap<String, String>) -> Option<Value> {
    (!map.is_empty()).then(|| json!(map))
}

fn bytes_map(map: &BTreeMap<String, Vec<u8>>) -> Option<Value> {
    (!map.is_empty()).then(|| {
        Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), Value::String(STANDARD.encode(v))))
                .collect(),
        )
    })
}

fn metadata(meta: &Option<pb::ObjectMeta>) -> Value {
    let mut out = Map::new();
    if let Some(m) = meta {
        insert(&mut out, "name", string(&m.name));
        insert(&mut out, "generateName", string(&m.generate_name));
        insert(&mut out, "namespace", string(&m.namespace));
        insert(&mut out, "uid", string(&m.uid));
        insert(&mut out, "resourceVersion", string(&m.resource_version));
        insert(&mut out, "generation", m.generation.map(|g| json!(g)));
        insert(&mut out, "labels", string_map(&m.labels));
        insert(&mut out, "annotations", string_map(&m.annotations));
        insert(&mut out, "finalizers", strings(&m.finalizers));
        if !m.owner_references.is_empty() {
            out.insert(
                "ownerReferences".into(),
                Value::Array(
                    m.owner_references
                        .iter()
                        .map(|o| {
                            let mut r = Map::new();
                            insert(&mut r, "apiVersion", string(&o.api_version));
                            insert(&mut r, "kind", string(&o.kind));
                            insert(&mut r, "name", string(&o.name));
                            insert(&mut r, "uid", string(&o.uid));
                            insert(&mut r, "controller", o.controller.map(Value::Bool));
                            insert(
                                &mut r,
                                "blockOwnerDeletion",
                                o.block_owner_deletion.map(Value::Bool),
                            );
                            Value::Object(r)
                        })
                        .collect(),
                ),
            );
        }
    }
    Value::Object(out)
}

/// A structured label selector
fn label_selector(s: &pb::LabelSelector) -> Value {
    let mut out = Map::new();
    insert(&mut out, "matchLabels", string_map(&s.match_labels));
    if !s.match_expressions.is_empty() {
        out.insert(
            "matchExpressions".into(),
            Value::Array(
                s.match_expressions
                    .iter()
                    .map(|e| json!({"key": e.key, "operator": e.operator, "values": e.values}))
                    .collect(),
            ),
        );
    }
    Value::Object(out)
}

fn object(api_version: &str, kind: &str, meta: &Option<pb::ObjectMeta>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(api_version.to_owned()));
    out.insert("kind".into(), Value::String(kind.to_owned()));
    out.insert("metadata".into(), metadata(meta));
    out
}

fn rules(rules: &[pb::PolicyRule]) -> Value {
    Value::Array(
        rules
            .iter()
            .map(|r| {
                let mut out = Map::new();
                out.insert("verbs".into(), json!(r.verbs));
                insert(&mut out, "apiGroups", strings(&r.api_groups));
                insert(&mut out, "resources", strings(&r.resources));
                insert(&mut out, "resourceNames", strings(&r.resource_names));
                insert(&mut out, "nonResourceURLs", strings(&r.non_resource_ur_ls));
                Value::Object(out)
            })
            .collect(),
    )
}

fn binding(api_version: &str, kind: &str, b: &pb::RoleBinding) -> Value {
    let mut out = object(api_version, kind, &b.metadata);
    out.insert(
        "subjects".into(),
        Value::Array(
            b.subjects
                .iter()
                .map(|s| {
                    let mut subject = Map::new();
                    insert(&mut subject, "kind", string(&s.kind));
                    insert(&mut subject, "apiGroup", string(&s.api_group));
                    insert(&mut subject, "name", string(&s.name));
                    insert(&mut subject, "namespace", string(&s.namespace));
                    Value::Object(subject)
                })
                .collect(),
        ),
    );
    if let Some(r) = &b.role_ref {
        let mut role_ref = Map::new();
        insert(&mut role_ref, "apiGroup", string(&r.api_group));
        insert(&mut role_ref, "kind", string(&r.kind));
        insert(&mut role_ref, "name", string(&r.name));
        out.insert("roleRef".into(), Value::Object(role_ref));
    }
    Value::Object(out)
}

fn decode<M: prost::Message + Default>(raw: &[u8]) -> Result<M, KubeError> {
    M::decode(raw).map_err(|e| bad(format!("the protobuf body does not decode: {e}")))
}

/// Whether a body carries the protobuf magic
pub fn is_protobuf(body: &[u8]) -> bool {
    body.starts_with(&MAGIC)
}

/// Decodes a protobuf body into JSON; `kind` is what the URL expects
pub fn decode_body(body: &[u8]) -> Result<Value, KubeError> {
    if body.len() > MAX_BODY {
        return Err(KubeError::TooLarge(MAX_BODY));
    }
    let envelope = body
        .strip_prefix(&MAGIC)
        .ok_or_else(|| bad("a protobuf body must start with the k8s\\0 magic"))?;
    let unknown: pb::Unknown = decode(envelope)?;
    if unknown
        .content_encoding
        .as_deref()
        .is_some_and(|e| !e.is_empty())
    {
        return Err(bad(
            "protobuf bodies with a content encoding are not supported",
        ));
    }
    let type_meta = unknown.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    if let Some(value) = workloads::decode_workload(&api_version, &kind, &raw)? {
        return Ok(value);
    }
    let value = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => {
            let m: pb::Namespace = decode(&raw)?;
            let mut out = object(&api_version, &kind, &m.metadata);
            if let Some(spec) = m.spec {
                out.insert("spec".into(), json!({"finalizers": spec.finalizers}));
            }
            Value::Object(out)
        }
        ("v1", "Secret") => {
            let m: pb::Secret = decode(&raw)?;
            let mut out = object(&api_version, &kind, &m.metadata);
            insert(&mut out, "data", bytes_map(&m.data));
            insert(&mut out, "stringData", string_map(&m.string_data));
            insert(&mut out, "type", string(&m.r#type));
            insert(&mut out, "immutable", m.immutable.map(Value::Bool));
            Value::Object(out)
        }
        ("v1", "ConfigMap") => {
            let m: pb::ConfigMap = decode(&raw)?;
            let mut out = object(&api_version, &kind, &m.metadata);
            insert(&mut out, "data", string_map(&m.data));
            insert(&mut out, "binaryData", bytes_map(&m.binary_data));
            insert(&mut out, "immutable", m.immutable.map(Value::Bool));
            Value::Object(out)
        }
        ("v1", "ServiceAccount") => {
            let m: pb::ServiceAccount = decode(&raw)?;
            let mut out = object(&api_version, &kind, &m.metadata);
            if !m.secrets.is_empty() {
                out.insert(
                    "secrets".into(),
                    Value::Array(
                        m.secrets
                            .iter()
                            .map(|s| {
                                let mut r = Map::new();
                                insert(&mut r, "kind", string(&s.kind));
                                insert(&mut r, "namespace", string(&s.namespace));
                                insert(&mut r, "name", string(&s.name));
                                insert(&mut r, "uid", string(&s.uid));
                                insert(&mut r, "apiVersion", string(&s.api_version));
                                Value::Object(r)
                            })
                            .collect(),
                    ),
                );
            }
            if !m.image_pull_secrets.is_empty() {
                out.insert(
                    "imagePullSecrets".into(),
                    Value::Array(
                        m.image_pull_secrets
                            .iter()
                            .map(|s| json!({"name": s.name}))
                            .collect(),
                    ),
                );
            }
            insert(
                &mut out,
                "automountServiceAccountToken",
                m.automount_service_account_token.map(Value::Bool),
            );
            Value::Object(out)
        }
        ("authentication.k8s.io/v1", "TokenRequest") => {
            let m: pb::TokenRequest = decode(&raw)?;
            let mut out = object(&api_version, &kind, &m.metadata);
            let spec = m.spec.unwrap_or_default();
            let mut s = Map::new();
            s.insert("audiences".into(), json!(spec.audiences));
            insert(
                &mut s,
                "expirationSeconds",
                spec.expiration_seconds.map(|e| json!(e)),
            );
            if let Some(b) = spec.bound_object_ref {
                let mut r = Map::new();
                insert(&mut r, "kind", string(&b.kind));
                insert(&mut r, "apiVersion", string(&b.api_version));
                insert(&mut r, "name", string(&b.name));
                insert(&mut r, "uid", string(&b.u_id));
                s.insert("boundObjectRef".into(), Value::Object(r));
            }
            out.insert("spec".into(), Value::Object(s));
            Value::Object(out)
        }
        ("rbac.authorization.k8s.io/v1", "Role") => {
            let m: pb::Role = decode(&raw)?;
            let mut out = object(&api_version, &kind, &m.metadata);
            out.insert("rules".into(), rules(&m.rules));
            Value::Object(out)
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
            let m: pb::ClusterRole = decode(&raw)?;
            let mut out = object(&api_version, &kind, &m.metadata);
            out.insert("rules".into(), rules(&m.rules));
            if let Some(aggregation) = m.aggregation_rule {
                let selectors: Vec<Value> = aggregation
                    .cluster_role_selectors
                    .iter()
                    .map(label_selector)
                    .collect();
                out.insert(
                    "aggregationRule".into(),
                    json!({"clusterRoleSelectors": selectors}),
                );
            }
            Value::Object(out)
        }
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => {
            binding(&api_version, &kind, &decode::<pb::RoleBinding>(&raw)?)
        }
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            let m: pb::SelfSubjectAccessReview = decode(&raw)?;
            let mut out = object(&api_version, &kind, &m.metadata);
            let spec = m.spec.unwrap_or_default();
            let mut s = Map::new();
            if let Some(r) = spec.resource_attributes {
                let mut a = Map::new();
                insert(&mut a, "namespace", string(&r.namespace));
                insert(&mut a, "verb", string(&r.verb));
                insert(&mut a, "group", string(&r.group));
                insert(&mut a, "version", string(&r.version));
                insert(&mut a, "resource", string(&r.resource));
                insert(&mut a, "subresource", string(&r.subresource));
                insert(&mut a, "name", string(&r.name));
                s.insert("resourceAttributes".into(), Value::Object(a));
            }
            if let Some(n) = spec.non_resource_attributes {
                let mut a = Map::new();
                insert(&mut a, "path", string(&n.path));
                insert(&mut a, "verb", string(&n.verb));
                s.insert("nonResourceAttributes".into(), Value::Object(a));
            }
            out.insert("spec".into(), Value::Object(s));
            Value::Object(out)
        }
        ("authentication.k8s.io/v1", "SelfSubjectReview") => {
            let m: pb::SelfSubjectReview = decode(&raw)?;
            Value::Object(object(&api_version, &kind, &m.metadata))
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => {
            let m: pb::SelfSubjectRulesReview = decode(&raw)?;
            let mut out = object(&api_version, &kind, &m.metadata);
            let namespace = m.spec.and_then(|s| s.namespace);
            out.insert("spec".into(), json!({"namespace": namespace}));
            Value::Object(out)
        }
        _ => {
            return Err(KubeError::UnsupportedMediaType(format!(
                "application/json (protobuf bodies are accepted for Namespace, Secret, ConfigMap, ServiceAccount, Pod, Deployment, Job, CronJob, TokenRequest, RBAC and review kinds, not {api_version:?} {kind:?})"
            )));
        }
    };
    Ok(value)
}

/// Encodes a JSON object back into protobuf (tests and benchmarks use this to produce what
/// kubectl sends)
pub fn encode_for_tests(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = pb::Unknown {
        type_meta: Some(pb::TypeMeta {
            api_version: Some(api_version.to_owned()),
            kind: Some(kind.to_owned()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

/// A protobuf-encoded Secret, as kubectl 1.32 sends for `kubectl create secret generic`
pub fn secret_for_tests(namespace: &str, name: &str, data: &[(&str, &[u8])]) -> Vec<u8> {
    let secret = pb::Secret {
        metadata: Some(pb::ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..Default::default()
        }),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect(),
        r#type: Some("Opaque".to_owned()),
        ..Default::default()
    };
    encode_for_tests("v1", "Secret", secret.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_secret() {
        let body = secret_for_tests("default", "s", &[("password", b"hunter2")]);
        let value = decode_body(&body).unwrap();
        assert_eq!(value["kind"], "Secret");
        assert_eq!(value["metadata"]["name"], "s");
        assert_eq!(value["data"]["password"], STANDARD.encode(b"hunter2"));
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode_body(b"{}").is_err());
        assert!(decode_body(&[0x6b, 0x38, 0x73, 0x00, 0xff, 0xff]).is_err());
        let unknown_kind = encode_for_tests("v1", "Service", Vec::new());
        assert!(matches!(
            decode_body(&unknown_kind),
            Err(KubeError::UnsupportedMediaType(_))
        ));
    }
}
