//! Discovery and OpenAPI documents: what kubectl reads before it acts.
//!
//! Legacy discovery (`/api`, `/apis`, one `APIResourceList` per group-version) with short
//! names, and OpenAPI v3 documents whose PATCH operations declare `fieldValidation`, so
//! `kubectl apply` uses server-side field validation (`k8s-interfaces.md` §6.3, §6.6).

use serde_json::{Value, json};

use crate::resources::{RESOURCES, ResourceType, SUBRESOURCES, groups};

/// `/version`
pub fn version(kubernetes_version: &str) -> Value {
    let trimmed = kubernetes_version.trim_start_matches('v');
    let mut parts = trimmed.split('.');
    let major = parts.next().unwrap_or("1");
    let minor = parts.next().unwrap_or("32");
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": format!("v{trimmed}"),
        "gitCommit": "portcullis",
        "gitTreeState": "clean",
        "buildDate": "2026-11-27T00:00:00Z",
        "goVersion": "go1.23",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api`
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

/// `/apis`
pub fn api_groups() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .map(|g| {
            let gv = json!({"groupVersion": format!("{g}/v1"), "version": "v1"});
            json!({"name": g, "versions": [gv], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`
pub fn api_group(group: &str) -> Option<Value> {
    groups().into_iter().find(|g| *g == group).map(|g| {
        let gv = json!({"groupVersion": format!("{g}/v1"), "version": "v1"});
        json!({"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": [gv], "preferredVersion": gv})
    })
}

/// `/api/v1` or `/apis/<group>/<version>`
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let matching: Vec<&ResourceType> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if matching.is_empty() {
        return None;
    }
    let mut resources: Vec<Value> = matching
        .iter()
        .map(|r| {
            let mut entry = json!({
                "name": r.resource,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": r.verbs(),
            });
            if !r.short_names.is_empty()
                && let Some(map) = entry.as_object_mut()
            {
                map.insert("shortNames".into(), json!(r.short_names));
            }
            entry
        })
        .collect();
    for sub in SUBRESOURCES.iter().filter(|s| s.group == group) {
        resources.push(json!({
            "name": format!("{}/{}", sub.resource, sub.subresource),
            "singularName": "",
            "namespaced": true,
            "group": sub.kind_group,
            "version": "v1",
            "kind": sub.kind,
            "verbs": sub.verbs,
        }));
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

fn gv_path(group: &str) -> String {
    if group.is_empty() {
        "api/v1".to_owned()
    } else {
        format!("apis/{group}/v1")
    }
}

/// `/openapi/v3`: one entry per group-version
pub fn openapi_v3_index() -> Value {
    let mut paths = serde_json::Map::new();
    for group in std::iter::once("").chain(groups()) {
        let path = gv_path(group);
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash=portcullis-{}", env!("CARGO_PKG_VERSION"))}),
        );
    }
    json!({"paths": paths})
}

/// The OpenAPI v3 document of a group-version (`api/v1`, `apis/apps/v1`)
pub fn openapi_v3_document(path: &str) -> Option<Value> {
    let group = match path.trim_matches('/') {
        "api/v1" => "",
        other => other.strip_prefix("apis/")?.strip_suffix("/v1")?,
    };
    let resources: Vec<&ResourceType> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.stored)
        .collect();
    if resources.is_empty() && !groups().contains(&group) && !group.is_empty() {
        return None;
    }
    let mut paths = serde_json::Map::new();
    let field_validation = json!({
        "name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true},
        "description": "Ignore, Warn or Strict: how the server treats unknown and duplicate fields"
    });
    for r in resources {
        let base = format!("/{}", gv_path(group));
        let item = if r.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", r.resource)
        } else {
            format!("{base}/{}/{{name}}", r.resource)
        };
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let reference = json!({"$ref": format!("#/components/schemas/{}", schema_name(r))});
        paths.insert(
            item,
            json!({
                "get": {"x-kubernetes-action": "get", "x-kubernetes-group-version-kind": gvk,
                        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}}},
                "put": {"x-kubernetes-action": "put", "x-kubernetes-group-version-kind": gvk,
                        "parameters": [field_validation],
                        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}}},
                "patch": {"x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk,
                          "parameters": [field_validation],
                          "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}}},
                "delete": {"x-kubernetes-action": "delete", "x-kubernetes-group-version-kind": gvk,
                           "responses": {"200": {"description": "OK"}}}
            }),
        );
    }
    let mut schemas = serde_json::Map::new();
    for r in RESOURCES.iter().filter(|r| r.group == group && r.stored) {
        schemas.insert(
            schema_name(r),
            json!({
                "type": "object",
                "x-kubernetes-group-version-kind": [{"group": r.group, "version": r.version, "kind": r.kind}],
                "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                               "metadata": {"type": "object"}}
            }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas}
    }))
}

fn schema_name(r: &ResourceType) -> String {
    let group = if r.group.is_empty() {
        "core".to_owned()
    } else {
        r.group.split('.').rev().collect::<Vec<_>>().join(".")
    };
    format!("io.k8s.api.{group}.{}.{}", r.version, r.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_lists_short_names_and_token_subresource() {
        let core = resource_list("", "v1").unwrap();
        let resources = core["resources"].as_array().unwrap();
        assert!(
            resources
                .iter()
                .any(|r| r["name"] == "namespaces" && r["shortNames"][0] == "ns")
        );
        assert!(
            resources
                .iter()
                .any(|r| r["name"] == "serviceaccounts/token" && r["kind"] == "TokenRequest")
        );
        assert!(resource_list("nope", "v1").is_none());
        assert!(api_groups()["groups"].as_array().unwrap().len() >= 4);
    }

    #[test]
    fn openapi_declares_field_validation_on_patch() {
        let index = openapi_v3_index();
        assert!(
            index["paths"]["apis/apps/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/apis/apps/v1")
        );
        let doc = openapi_v3_document("apis/apps/v1").unwrap();
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert_eq!(patch["parameters"][0]["name"], "fieldValidation");
        assert!(openapi_v3_document("apis/nope/v1").is_none());
    }
}
