//! The default ClusterRoles and ClusterRoleBindings every cluster starts with: Kubernetes
//! 1.32's, from [`portcullis_rbac::bootstrap`], with the aggregated roles already filled.

use portcullis_rbac::model::Role;
use serde_json::{Value, json};

use crate::KubeError;

fn stamped(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("uid".into(), Value::String(crate::objects::new_uid()));
        meta.insert(
            "creationTimestamp".into(),
            Value::String(crate::objects::now_rfc3339()),
        );
    }
    object
}

fn internal(error: impl std::fmt::Display) -> KubeError {
    KubeError::Internal(error.to_string())
}

/// The default ClusterRoles as objects to store, `admin`, `edit` and `view` aggregated
pub fn cluster_roles() -> Result<Vec<Value>, KubeError> {
    let mut objects = portcullis_rbac::bootstrap::cluster_role_objects().map_err(internal)?;
    let roles: Vec<Role> = objects.iter().filter_map(Role::from_value).collect();
    for (name, rules) in portcullis_rbac::aggregation::aggregate(&roles) {
        if let Some(object) = objects
            .iter_mut()
            .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(&name))
            && let Some(map) = object.as_object_mut()
        {
            map.insert("rules".into(), json!(rules));
        }
    }
    Ok(objects.into_iter().map(stamped).collect())
}

/// The default ClusterRoleBindings as objects to store
pub fn cluster_role_bindings() -> Result<Vec<Value>, KubeError> {
    Ok(portcullis_rbac::bootstrap::cluster_role_binding_objects()
        .map_err(internal)?
        .into_iter()
        .map(stamped)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_defaults_are_filled() {
        let roles = cluster_roles().unwrap();
        let view = roles
            .iter()
            .find(|r| r["metadata"]["name"] == "view")
            .unwrap();
        assert!(!view["rules"].as_array().unwrap().is_empty());
        assert!(view["metadata"]["uid"].is_string());
        assert!(!cluster_role_bindings().unwrap().is_empty());
    }
}
