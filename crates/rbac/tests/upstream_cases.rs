//! Kubernetes' own RBAC test cases, restated as data in `tests/upstream/*.yaml` (each case
//! names the upstream test it comes from), run against this crate.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use std::cell::Cell;

use portcullis_rbac::authorizer::{Attributes, Rbac, Target, UserInfo, applies_to};
use portcullis_rbac::covers::{compact, covers};
use portcullis_rbac::escalation::{Change, Writer};
use portcullis_rbac::model::{Binding, PolicyRule, Role, Subject};
use portcullis_rbac::validation::{ErrorType, validate_binding, validate_role};
use serde_json::{Value, json};

fn cases(file: &str) -> Vec<Value> {
    let path = format!("{}/tests/upstream/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let value: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    value.as_array().cloned().unwrap_or_default()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

fn rules(value: &Value) -> Vec<PolicyRule> {
    serde_json::from_value(if value.is_null() {
        json!([])
    } else {
        value.clone()
    })
    .unwrap()
}

/// The world a case describes: roles and bindings written flat (`name`, `namespace` beside
/// `rules`), as the data files do
fn world(case: &Value) -> Rbac {
    let object = |item: &Value| {
        let mut object = item.clone();
        let metadata = json!({
            "name": text(item, "name"),
            "namespace": text(item, "namespace"),
            "labels": item.get("labels").cloned().unwrap_or(json!({})),
        });
        object["metadata"] = metadata;
        object
    };
    let list = |key: &str| -> Vec<Value> {
        case.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(object).collect())
            .unwrap_or_default()
    };
    Rbac::from_objects(
        &list("roles"),
        &list("clusterRoles"),
        &list("roleBindings"),
        &list("clusterRoleBindings"),
    )
}

fn sorted(mut rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    rules.sort();
    rules
}

#[test]
fn authorize() {
    let mut requests = 0;
    for case in cases("authorize.yaml") {
        let rbac = world(&case);
        for request in case["requests"].as_array().unwrap() {
            let groups = strings(&request["groups"]);
            let path = text(request, "path");
            let target = if path.is_empty() {
                Target::Resource {
                    namespace: text(request, "namespace"),
                    api_group: text(request, "apiGroup"),
                    resource: text(request, "resource"),
                    subresource: text(request, "subresource"),
                    name: text(request, "name"),
                }
            } else {
                Target::NonResource { path }
            };
            let decision = rbac.authorize(&Attributes {
                user: UserInfo {
                    name: text(request, "user"),
                    groups: &groups,
                },
                verb: text(request, "verb"),
                target,
            });
            assert_eq!(
                decision.is_allowed(),
                request["allowed"].as_bool().unwrap(),
                "{}: {request}: {decision:?}",
                case["name"]
            );
            requests += 1;
        }
    }
    assert!(requests >= 100, "{requests} requests");
}

#[test]
fn resolve() {
    for case in cases("resolve.yaml") {
        let rbac = world(&case);
        let groups = strings(&case["groups"]);
        let (found, _) = rbac.rules_for(
            &UserInfo {
                name: text(&case, "user"),
                groups: &groups,
            },
            text(&case, "namespace"),
        );
        assert_eq!(
            sorted(found),
            sorted(rules(&case["rules"])),
            "{}",
            case["name"]
        );
    }
}

#[test]
fn applies_to_user() {
    for case in cases("applies_to.yaml") {
        let subjects: Vec<Subject> = serde_json::from_value(case["subjects"].clone()).unwrap();
        let groups = strings(&case["groups"]);
        let user = UserInfo {
            name: text(&case, "user"),
            groups: &groups,
        };
        let namespace = text(&case, "bindingNamespace");
        let first = subjects
            .iter()
            .position(|s| applies_to(s, namespace, &user));
        assert_eq!(
            first.is_some(),
            case["applies"].as_bool().unwrap(),
            "{}",
            case["name"]
        );
        if let Some(index) = case["index"].as_u64() {
            assert_eq!(first.unwrap_or(0) as u64, index, "{}", case["name"]);
        }
    }
}

#[test]
fn covers_cases() {
    for case in cases("covers.yaml") {
        let (covered, missing) = covers(&rules(&case["owner"]), &rules(&case["servant"]));
        assert_eq!(
            covered,
            case["covered"].as_bool().unwrap(),
            "{}",
            case["name"]
        );
        assert_eq!(
            sorted(missing),
            sorted(rules(&case["missing"])),
            "{}",
            case["name"]
        );
    }
}

#[test]
fn compact_cases() {
    for case in cases("compact.yaml") {
        let compacted = compact(&rules(&case["rules"]));
        assert_eq!(
            sorted(compacted),
            sorted(rules(&case["compacted"])),
            "{}",
            case["name"]
        );
    }
}

#[test]
fn escalation() {
    for case in cases("escalation.yaml") {
        let rbac = world(&case);
        let groups = strings(&case["groups"]);
        let forced = case["authorizerAllows"].as_bool();
        let called = Cell::new(false);
        let authorize = |a: &Attributes<'_>| {
            called.set(true);
            forced.unwrap_or_else(|| rbac.authorize(a).is_allowed())
        };
        let writer = Writer {
            rbac: &rbac,
            user: UserInfo {
                name: text(&case, "user"),
                groups: &groups,
            },
            authorize: &authorize,
        };
        let write = &case["write"];
        let object = &write["object"];
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("");
        let change = if text(&case, "operation") == "update" {
            Change::Update
        } else {
            Change::Create
        };
        let outcome = match text(write, "kind") {
            "Role" | "ClusterRole" => {
                let mut role = Role::from_value(object).unwrap();
                role.metadata.namespace = namespace.to_owned();
                let old = write.get("old").and_then(Role::from_value);
                writer.confirm_role(&role, old.as_ref(), change, "")
            }
            _ => {
                let mut binding = Binding::from_value(object).unwrap();
                binding.metadata.namespace = namespace.to_owned();
                writer.confirm_binding(&binding, change)
            }
        };
        assert_eq!(
            outcome.is_ok(),
            case["allowed"].as_bool().unwrap(),
            "{}: {outcome:?}",
            case["name"]
        );
        if let Some(expected) = case["authorizerCalled"].as_bool() {
            assert_eq!(
                called.get(),
                expected,
                "{}: authorizer called",
                case["name"]
            );
        }
    }
}

#[test]
fn validation() {
    for case in cases("validation.yaml") {
        let object = &case["object"];
        let old = case.get("old");
        let errors = match text(&case, "kind") {
            "Role" => validate_role(object, true),
            "ClusterRole" => validate_role(object, false),
            "RoleBinding" => validate_binding(object, true, old),
            "ClusterRoleBinding" => validate_binding(object, false, old),
            other => panic!("unknown kind {other}"),
        };
        if case["valid"].as_bool().unwrap() {
            assert!(errors.is_empty(), "{}: {errors:?}", case["name"]);
            continue;
        }
        let field = text(&case, "field");
        let kind = match text(&case, "errorType") {
            "Required" => Some(ErrorType::Required),
            "Invalid" => Some(ErrorType::Invalid),
            "NotSupported" => Some(ErrorType::NotSupported),
            _ => None,
        };
        assert!(
            errors
                .iter()
                .any(|e| e.field == field && kind.is_none_or(|k| e.kind == k)),
            "{}: expected {field} ({kind:?}), got {errors:?}",
            case["name"]
        );
    }
}

#[test]
fn at_least_sixty_upstream_cases() {
    let total: usize = [
        "authorize.yaml",
        "resolve.yaml",
        "applies_to.yaml",
        "covers.yaml",
        "compact.yaml",
        "escalation.yaml",
        "validation.yaml",
    ]
    .iter()
    .map(|f| {
        cases(f)
            .iter()
            .filter(|c| text(c, "source") != "portcullis")
            .count()
    })
    .sum();
    assert!(total >= 60, "{total} upstream cases");
}
