//! Properties over generated worlds: the indexed authorizer decides exactly as a naive scan
//! of every binding would, Covers is sound (what an owner covers, it allows), and nothing
//! panics on odd input.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use portcullis_rbac::authorizer::{Attributes, Rbac, Target, UserInfo, applies_to, rule_allows};
use portcullis_rbac::covers::covers;
use portcullis_rbac::model::{Binding, PolicyRule, Role};
use proptest::prelude::*;
use serde_json::{Value, json};

fn word(options: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(options).prop_map(str::to_owned)
}

fn words(options: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(word(options), 0..3)
}

const VERBS: &[&str] = &["get", "list", "create", "*", "escalate"];
const GROUPS: &[&str] = &["", "apps", "*"];
const RESOURCES: &[&str] = &["pods", "pods/log", "*/log", "secrets", "*", "deployments"];
const NAMES: &[&str] = &["a", "b", ""];
const URLS: &[&str] = &["/healthz", "/apis/*", "/apis", "*", "/api/v1"];
const NAMESPACES: &[&str] = &["", "ns1", "ns2"];
const USERS: &[&str] = &["alice", "bob", "system:serviceaccount:ns1:ci", "*"];
const GROUP_NAMES: &[&str] = &["devs", "ops", "system:authenticated"];

fn rule() -> impl Strategy<Value = PolicyRule> {
    prop_oneof![
        (words(VERBS), words(GROUPS), words(RESOURCES), words(NAMES)).prop_map(
            |(verbs, api_groups, resources, resource_names)| PolicyRule {
                verbs,
                api_groups,
                resources,
                resource_names,
                non_resource_urls: Vec::new(),
            }
        ),
        (words(VERBS), words(URLS)).prop_map(|(verbs, urls)| PolicyRule {
            verbs,
            non_resource_urls: urls,
            ..PolicyRule::default()
        }),
    ]
}

fn subject() -> impl Strategy<Value = Value> {
    prop_oneof![
        word(USERS).prop_map(|n| json!({"kind": "User", "name": n})),
        word(GROUP_NAMES).prop_map(|n| json!({"kind": "Group", "name": n})),
        (word(&["ci", "other"]), word(NAMESPACES))
            .prop_map(|(n, ns)| json!({"kind": "ServiceAccount", "name": n, "namespace": ns})),
        Just(json!({"kind": "Robot", "name": "r2"})),
    ]
}

#[derive(Debug, Clone)]
struct World {
    roles: Vec<Value>,
    cluster_roles: Vec<Value>,
    bindings: Vec<Value>,
    cluster_bindings: Vec<Value>,
}

fn world() -> impl Strategy<Value = World> {
    let role = (
        0..3_usize,
        word(&["ns1", "ns2"]),
        proptest::collection::vec(rule(), 0..3),
    );
    let cluster_role = (0..3_usize, proptest::collection::vec(rule(), 0..3));
    let binding = (
        0..3_usize,
        word(&["ns1", "ns2"]),
        word(&["Role", "ClusterRole", "Other"]),
        0..4_usize,
        proptest::collection::vec(subject(), 0..3),
    );
    let cluster_binding = (
        0..3_usize,
        word(&["Role", "ClusterRole"]),
        0..4_usize,
        proptest::collection::vec(subject(), 0..3),
    );
    (
        proptest::collection::vec(role, 0..4),
        proptest::collection::vec(cluster_role, 0..4),
        proptest::collection::vec(binding, 0..5),
        proptest::collection::vec(cluster_binding, 0..5),
    )
        .prop_map(|(roles, cluster_roles, bindings, cluster_bindings)| World {
            roles: roles
                .into_iter()
                .map(|(i, ns, rules)| json!({"metadata": {"name": format!("r{i}"), "namespace": ns}, "rules": rules}))
                .collect(),
            cluster_roles: cluster_roles
                .into_iter()
                .map(|(i, rules)| json!({"metadata": {"name": format!("r{i}")}, "rules": rules}))
                .collect(),
            bindings: bindings
                .into_iter()
                .enumerate()
                .map(|(n, (_, ns, kind, role, subjects))| json!({"metadata": {"name": format!("b{n}"), "namespace": ns}, "roleRef": {"kind": kind, "name": format!("r{role}")}, "subjects": subjects}))
                .collect(),
            cluster_bindings: cluster_bindings
                .into_iter()
                .enumerate()
                .map(|(n, (_, kind, role, subjects))| json!({"metadata": {"name": format!("cb{n}")}, "roleRef": {"kind": kind, "name": format!("r{role}")}, "subjects": subjects}))
                .collect(),
        })
}

#[derive(Debug, Clone)]
struct Request {
    user: String,
    groups: Vec<String>,
    verb: String,
    namespace: String,
    api_group: String,
    resource: String,
    subresource: String,
    name: String,
    path: Option<String>,
}

fn request() -> impl Strategy<Value = Request> {
    (
        word(USERS),
        words(GROUP_NAMES),
        word(&["get", "list", "create", "escalate", "delete"]),
        word(NAMESPACES),
        word(&["", "apps", "batch"]),
        word(&["pods", "secrets", "deployments"]),
        word(&["", "log", "scale"]),
        word(NAMES),
        proptest::option::of(word(&[
            "/healthz",
            "/apis",
            "/apis/apps",
            "/api/v1",
            "/version",
        ])),
    )
        .prop_map(
            |(user, groups, verb, namespace, api_group, resource, subresource, name, path)| {
                Request {
                    user,
                    groups,
                    verb,
                    namespace,
                    api_group,
                    resource,
                    subresource,
                    name,
                    path,
                }
            },
        )
}

impl Request {
    fn target(&self) -> Target<'_> {
        match &self.path {
            Some(path) => Target::NonResource { path },
            None => Target::Resource {
                namespace: &self.namespace,
                api_group: &self.api_group,
                resource: &self.resource,
                subresource: &self.subresource,
                name: &self.name,
            },
        }
    }
}

/// The reference: every binding, in order, with no index
fn naive(world: &World, request: &Request) -> bool {
    let roles: Vec<Role> = world.roles.iter().filter_map(Role::from_value).collect();
    let cluster_roles: Vec<Role> = world
        .cluster_roles
        .iter()
        .filter_map(Role::from_value)
        .collect();
    let user = UserInfo {
        name: &request.user,
        groups: &request.groups,
    };
    let namespace = if request.path.is_some() {
        ""
    } else {
        request.namespace.as_str()
    };
    let bindings = world
        .cluster_bindings
        .iter()
        .chain(&world.bindings)
        .filter_map(Binding::from_value);
    for binding in bindings {
        let binding_ns = binding.metadata.namespace.as_str();
        if !binding_ns.is_empty() && binding_ns != namespace {
            continue;
        }
        if !binding
            .subjects
            .iter()
            .any(|s| applies_to(s, binding_ns, &user))
        {
            continue;
        }
        let rules: &[PolicyRule] = match binding.role_ref.kind.as_str() {
            "ClusterRole" => cluster_roles
                .iter()
                .find(|r| r.metadata.name == binding.role_ref.name)
                .map(|r| r.rules.as_slice())
                .unwrap_or_default(),
            "Role" if !binding_ns.is_empty() => roles
                .iter()
                .find(|r| {
                    r.metadata.name == binding.role_ref.name && r.metadata.namespace == binding_ns
                })
                .map(|r| r.rules.as_slice())
                .unwrap_or_default(),
            _ => &[],
        };
        if rules
            .iter()
            .any(|r| rule_allows(r, &request.verb, &request.target()))
        {
            return true;
        }
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_index_decides_as_a_scan_does(world in world(), requests in proptest::collection::vec(request(), 1..8)) {
        let rbac = Rbac::from_objects(&world.roles, &world.cluster_roles, &world.bindings, &world.cluster_bindings);
        for request in &requests {
            let decision = rbac.authorize(&Attributes {
                user: UserInfo { name: &request.user, groups: &request.groups },
                verb: &request.verb,
                target: request.target(),
            });
            prop_assert_eq!(decision.is_allowed(), naive(&world, request), "{:?}", request);
        }
    }

    #[test]
    fn what_an_owner_covers_it_allows(owner in proptest::collection::vec(rule(), 0..4), servant in rule(), requests in proptest::collection::vec(request(), 1..16)) {
        if covers(&owner, std::slice::from_ref(&servant)).0 {
            for request in &requests {
                if rule_allows(&servant, &request.verb, &request.target()) {
                    prop_assert!(
                        owner.iter().any(|o| rule_allows(o, &request.verb, &request.target())),
                        "{:?} covered by {:?} but {:?} is not allowed", servant, owner, request
                    );
                }
            }
        }
    }

    #[test]
    fn odd_objects_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(value) = serde_json::from_slice::<Value>(&raw) {
            let rbac = Rbac::from_objects(std::slice::from_ref(&value), std::slice::from_ref(&value), std::slice::from_ref(&value), std::slice::from_ref(&value));
            let _ = rbac.rules_for(&UserInfo { name: "u", groups: &[] }, "ns");
            let _ = portcullis_rbac::validation::validate_role(&value, true);
            let _ = portcullis_rbac::validation::validate_binding(&value, false, Some(&value));
        }
    }
}
