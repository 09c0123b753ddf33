//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes
//! strategic merge patch, which `kubectl apply` sends for built-in kinds.

use serde_json::{Map, Value};

/// Why a patch could not be applied
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The patch document is malformed
    #[error("invalid patch: {0}")]
    Malformed(String),
    /// A JSON patch operation does not apply (missing path, failed `test`)
    #[error("the patch does not apply: {0}")]
    DoesNotApply(String),
}

/// Nesting deeper than this is refused rather than risking the stack
const MAX_DEPTH: usize = 64;

/// RFC 7386: objects merge recursively, `null` deletes, anything else replaces
pub fn merge_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    merge_patch_at(target, patch, 0)
}

fn merge_patch_at(target: &Value, patch: &Value, depth: usize) -> Result<Value, PatchError> {
    if depth > MAX_DEPTH {
        return Err(PatchError::Malformed("nested too deeply".into()));
    }
    let Value::Object(patch) = patch else {
        return Ok(patch.clone());
    };
    let mut result = match target {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            result.remove(key);
        } else {
            let merged = merge_patch_at(result.get(key).unwrap_or(&Value::Null), value, depth + 1)?;
            result.insert(key.clone(), merged);
        }
    }
    Ok(Value::Object(result))
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn pointer_parts(path: &str) -> Result<Vec<String>, PatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| PatchError::Malformed(format!("path {path:?} must start with `/`")))?;
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_and_last<'d>(
    doc: &'d mut Value,
    parts: &[String],
) -> Result<(&'d mut Value, String), PatchError> {
    let Some((last, parents)) = parts.split_last() else {
        return Err(PatchError::DoesNotApply(
            "cannot address the document root here".into(),
        ));
    };
    let mut node = doc;
    for part in parents {
        node = match node {
            Value::Object(map) => map
                .get_mut(part)
                .ok_or_else(|| PatchError::DoesNotApply(format!("missing key {part:?}")))?,
            Value::Array(items) => {
                let index: usize = part
                    .parse()
                    .map_err(|_| PatchError::DoesNotApply(format!("bad index {part:?}")))?;
                items.get_mut(index).ok_or_else(|| {
                    PatchError::DoesNotApply(format!("index {index} out of range"))
                })?
            }
            _ => {
                return Err(PatchError::DoesNotApply(format!(
                    "{part:?} is not a container"
                )));
            }
        };
    }
    Ok((node, last.clone()))
}

fn get_at(doc: &Value, parts: &[String]) -> Option<Value> {
    let mut node = doc;
    for part in parts {
        node = match node {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node.clone())
}

fn add_at(doc: &mut Value, parts: &[String], value: Value) -> Result<(), PatchError> {
    if parts.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = parent_and_last(doc, parts)?;
    match parent {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            let index = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>()
                    .map_err(|_| PatchError::DoesNotApply(format!("bad index {last:?}")))?
            };
            if index > items.len() {
                return Err(PatchError::DoesNotApply(format!(
                    "index {index} out of range"
                )));
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(PatchError::DoesNotApply(
            "the parent is not a container".into(),
        )),
    }
}

fn remove_at(doc: &mut Value, parts: &[String]) -> Result<Value, PatchError> {
    let (parent, last) = parent_and_last(doc, parts)?;
    match parent {
        Value::Object(map) => map
            .remove(&last)
            .ok_or_else(|| PatchError::DoesNotApply(format!("missing key {last:?}"))),
        Value::Array(items) => {
            let index: usize = last
                .parse()
                .map_err(|_| PatchError::DoesNotApply(format!("bad index {last:?}")))?;
            if index >= items.len() {
                return Err(PatchError::DoesNotApply(format!(
                    "index {index} out of range"
                )));
            }
            Ok(items.remove(index))
        }
        _ => Err(PatchError::DoesNotApply(
            "the parent is not a container".into(),
        )),
    }
}

/// RFC 6902: `add`, `remove`, `replace`, `move`, `copy` and `test`, applied in order
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Array(operations) = patch else {
        return Err(PatchError::Malformed(
            "a JSON patch is an array of operations".into(),
        ));
    };
    let mut doc = target.clone();
    for operation in operations {
        let op = operation
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| PatchError::Malformed("an operation lacks `op`".into()))?;
        let path = operation
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| PatchError::Malformed("an operation lacks `path`".into()))?;
        let parts = pointer_parts(path)?;
        let value = || {
            operation
                .get("value")
                .cloned()
                .ok_or_else(|| PatchError::Malformed(format!("`{op}` needs a `value`")))
        };
        let from = || {
            operation
                .get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| PatchError::Malformed(format!("`{op}` needs a `from`")))
                .and_then(pointer_parts)
        };
        match op {
            "add" => add_at(&mut doc, &parts, value()?)?,
            "remove" => {
                remove_at(&mut doc, &parts)?;
            }
            "replace" => {
                remove_at(&mut doc, &parts)?;
                add_at(&mut doc, &parts, value()?)?;
            }
            "move" => {
                let from = from()?;
                let moved = remove_at(&mut doc, &from)?;
                add_at(&mut doc, &parts, moved)?;
            }
            "copy" => {
                let copied = get_at(&doc, &from()?)
                    .ok_or_else(|| PatchError::DoesNotApply("`from` does not exist".into()))?;
                add_at(&mut doc, &parts, copied)?;
            }
            "test" => {
                if get_at(&doc, &parts) != Some(value()?) {
                    return Err(PatchError::DoesNotApply(format!("test failed at {path:?}")));
                }
            }
            other => return Err(PatchError::Malformed(format!("unknown op {other:?}"))),
        }
    }
    Ok(doc)
}

/// The merge key of lists that strategic merge patch merges element by element
/// (from the `patchMergeKey` tags of the built-in types this server serves)
fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "secrets"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ports" => "containerPort",
        "hostAliases" => "ip",
        "ownerReferences" => "uid",
        "conditions" => "type",
        "topologySpreadConstraints" => "topologyKey",
        _ => return None,
    })
}

/// Primitive lists that strategic merge patch unions instead of replacing
fn merges_primitives(field: &str) -> bool {
    matches!(field, "finalizers")
}

/// Kubernetes strategic merge patch for the built-in kinds: maps merge, `null` deletes, lists
/// with a merge key merge by it, other lists replace; understands `$patch`,
/// `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys`
pub fn strategic_merge_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    strategic_at(target, patch, 0)
}

fn strategic_at(target: &Value, patch: &Value, depth: usize) -> Result<Value, PatchError> {
    if depth > MAX_DEPTH {
        return Err(PatchError::Malformed("nested too deeply".into()));
    }
    let Value::Object(patch) = patch else {
        return Ok(patch.clone());
    };
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replacement = patch.clone();
            replacement.remove("$patch");
            return Ok(Value::Object(replacement));
        }
        Some("delete") => return Ok(Value::Null),
        Some(other) => return Err(PatchError::Malformed(format!("unknown $patch {other:?}"))),
        None => {}
    }
    let mut result = match target {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    if let Some(Value::Array(retain)) = patch.get("$retainKeys") {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        result.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            result.remove(key);
            continue;
        }
        let current = result.get(key).cloned().unwrap_or(Value::Null);
        let merged = match (value, &current) {
            (Value::Array(items), Value::Array(existing)) => {
                merge_list(key, existing, items, depth)?
            }
            (Value::Array(items), _) => Value::Array(
                items
                    .iter()
                    .filter(|i| i.get("$patch").is_none())
                    .cloned()
                    .collect(),
            ),
            (Value::Object(_), _) => strategic_at(&current, value, depth + 1)?,
            _ => value.clone(),
        };
        if merged.is_null() {
            result.remove(key);
        } else {
            result.insert(key.clone(), merged);
        }
    }
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix("$deleteFromPrimitiveList/")
            && let (Value::Array(remove), Some(Value::Array(items))) = (value, result.get_mut(list))
        {
            items.retain(|i| !remove.contains(i));
        }
    }
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix("$setElementOrder/")
            && let (Value::Array(order), Some(Value::Array(items))) = (value, result.get_mut(list))
        {
            reorder(list, items, order);
        }
    }
    Ok(Value::Object(result))
}

fn merge_list(
    field: &str,
    existing: &[Value],
    patch: &[Value],
    depth: usize,
) -> Result<Value, PatchError> {
    if patch
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(Value::Array(
            patch
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .cloned()
                .collect(),
        ));
    }
    if merges_primitives(field) {
        let mut out = existing.to_vec();
        for item in patch {
            if !out.contains(item) {
                out.push(item.clone());
            }
        }
        return Ok(Value::Array(out));
    }
    let Some(key) = merge_key(field) else {
        return Ok(Value::Array(patch.to_vec()));
    };
    let mut out = existing.to_vec();
    for item in patch {
        let id = item.get(key);
        let position = id.and_then(|id| out.iter().position(|e| e.get(key) == Some(id)));
        let deleting = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, deleting) {
            (Some(p), true) => {
                out.remove(p);
            }
            (None, true) => {}
            (Some(p), false) => {
                let merged = strategic_at(out.get(p).unwrap_or(&Value::Null), item, depth + 1)?;
                if let Some(slot) = out.get_mut(p) {
                    *slot = merged;
                }
            }
            (None, false) => out.push(strategic_at(&Value::Null, item, depth + 1)?),
        }
    }
    Ok(Value::Array(out))
}

fn reorder(field: &str, items: &mut [Value], order: &[Value]) {
    let Some(key) = merge_key(field) else {
        // Primitive lists: order by the given values.
        items.sort_by_key(|i| order.iter().position(|o| o == i).unwrap_or(usize::MAX));
        return;
    };
    items.sort_by_key(|i| {
        order
            .iter()
            .position(|o| o.get(key).is_some() && o.get(key) == i.get(key))
            .unwrap_or(usize::MAX)
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_rfc7386() {
        let target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        let patch = json!({"a": "z", "c": {"f": null}});
        assert_eq!(
            merge_patch(&target, &patch).unwrap(),
            json!({"a": "z", "c": {"d": "e"}})
        );
        assert_eq!(
            merge_patch(&json!([1]), &json!({"x": 1})).unwrap(),
            json!({"x": 1})
        );
    }

    #[test]
    fn json_patch_rfc6902() {
        let doc = json!({"foo": ["bar", "baz"], "x": {"y": 1}});
        let patch = json!([
            {"op": "add", "path": "/foo/1", "value": "qux"},
            {"op": "remove", "path": "/foo/0"},
            {"op": "replace", "path": "/x/y", "value": 2},
            {"op": "copy", "from": "/x", "path": "/z"},
            {"op": "move", "from": "/z/y", "path": "/w"},
            {"op": "add", "path": "/foo/-", "value": "end"},
            {"op": "test", "path": "/w", "value": 2}
        ]);
        assert_eq!(
            json_patch(&doc, &patch).unwrap(),
            json!({"foo": ["qux", "baz", "end"], "x": {"y": 2}, "z": {}, "w": 2})
        );
        assert!(json_patch(&doc, &json!([{"op": "test", "path": "/x/y", "value": 9}])).is_err());
        assert!(json_patch(&doc, &json!([{"op": "remove", "path": "/nope"}])).is_err());
        assert!(json_patch(&doc, &json!({"op": "add"})).is_err());
        assert!(json_patch(&doc, &json!([{"op": "add", "path": "/foo/9", "value": 1}])).is_err());
    }

    #[test]
    fn strategic_merges_containers_by_name() {
        let target = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "side:1"}
        ]}}}, "metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x"]}});
        let patch = json!({
            "metadata": {"labels": {"b": null, "c": "3"}, "finalizers": ["y"]},
            "spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                "containers": [
                    {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "2"}]},
                    {"name": "sidecar", "$patch": "delete"}
                ]
            }}}
        });
        let merged = strategic_merge_patch(&target, &patch).unwrap();
        assert_eq!(merged["metadata"]["labels"], json!({"a": "1", "c": "3"}));
        assert_eq!(merged["metadata"]["finalizers"], json!(["x", "y"]));
        let containers = merged["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        assert_eq!(containers.len(), 1);
        assert_eq!(containers[0]["image"], "app:2");
        assert_eq!(containers[0]["env"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn strategic_replaces_lists_without_keys_and_honours_directives() {
        let target = json!({"rules": [{"verbs": ["get"]}], "data": {"k": "v", "old": "x"}});
        let patch =
            json!({"rules": [{"verbs": ["list"]}], "data": {"$patch": "replace", "new": "y"}});
        let merged = strategic_merge_patch(&target, &patch).unwrap();
        assert_eq!(merged["rules"], json!([{"verbs": ["list"]}]));
        assert_eq!(merged["data"], json!({"new": "y"}));
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}});
        let merged =
            strategic_merge_patch(&json!({"metadata": {"finalizers": ["x", "y"]}}), &patch)
                .unwrap();
        assert_eq!(merged["metadata"]["finalizers"], json!(["y"]));
    }
}
