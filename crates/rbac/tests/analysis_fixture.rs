//! who-can and the audit over a generated cluster of 200 roles and bindings, checked
//! against brute force: the authorizer asked for every subject in the world.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test loudly"
)]

use std::collections::BTreeSet;

use portcullis_rbac::analysis::{KnownSubjects, Risk, audit, who_can};
use portcullis_rbac::authorizer::{Attributes, Rbac, Target, UserInfo};
use serde_json::{Value, json};

/// A small deterministic generator, so failures reproduce
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() as usize) % items.len()]
    }

    fn some<T: Clone>(&mut self, items: &[T], most: usize) -> Vec<T> {
        let count = 1 + (self.next() as usize) % most;
        (0..count).map(|_| self.pick(items).clone()).collect()
    }
}

const NAMESPACES: [&str; 5] = ["ns0", "ns1", "ns2", "ns3", "ns4"];
const VERBS: [&str; 11] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "delete",
    "deletecollection",
    "escalate",
    "bind",
    "impersonate",
    "*",
];
/// (group, resource) pairs rules name
const RESOURCES: [(&str, &str); 9] = [
    ("", "pods"),
    ("", "pods/log"),
    ("", "secrets"),
    ("", "configmaps"),
    ("apps", "deployments"),
    ("apps", "*/scale"),
    ("*", "*"),
    ("rbac.authorization.k8s.io", "roles"),
    ("", "*"),
];

fn users() -> Vec<String> {
    (0..20).map(|i| format!("u{i}")).collect()
}

fn groups() -> Vec<String> {
    (0..10).map(|i| format!("g{i}")).collect()
}

fn service_accounts() -> Vec<(String, String)> {
    NAMESPACES
        .iter()
        .flat_map(|ns| (0..3).map(move |i| ((*ns).to_owned(), format!("sa{i}"))))
        .collect()
}

fn rule(rng: &mut Lcg) -> Value {
    let (group, resource) = *rng.pick(&RESOURCES);
    let verbs: Vec<&str> = rng.some(&VERBS, 3);
    if rng.next().is_multiple_of(10) {
        return json!({"verbs": verbs, "apiGroups": [group], "resources": [resource], "resourceNames": ["special"]});
    }
    json!({"verbs": verbs, "apiGroups": [group], "resources": [resource]})
}

fn subjects(rng: &mut Lcg) -> Value {
    let count = 1 + rng.next() % 3;
    let list: Vec<Value> = (0..count)
        .map(|_| match rng.next() % 3 {
            0 => json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": rng.pick(&users())}),
            1 => json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": rng.pick(&groups())}),
            _ => {
                let (ns, name) = rng.pick(&service_accounts()).clone();
                json!({"kind": "ServiceAccount", "name": name, "namespace": ns})
            }
        })
        .collect();
    Value::Array(list)
}

/// 50 ClusterRoles, 50 Roles, 50 ClusterRoleBindings, 50 RoleBindings; some bindings name
/// roles that do not exist
fn fixture(seed: u64) -> (Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>) {
    let mut rng = Lcg(seed);
    let cluster_roles: Vec<Value> = (0..50)
        .map(|i| {
            let rules: Vec<Value> = (0..1 + rng.next() % 3).map(|_| rule(&mut rng)).collect();
            json!({"metadata": {"name": format!("cr{i}")}, "rules": rules})
        })
        .collect();
    let roles: Vec<Value> = (0..50)
        .map(|i| {
            let rules: Vec<Value> = (0..1 + rng.next() % 3).map(|_| rule(&mut rng)).collect();
            json!({"metadata": {"name": format!("r{i}"), "namespace": NAMESPACES[i % 5]}, "rules": rules})
        })
        .collect();
    let cluster_bindings: Vec<Value> = (0..50)
        .map(|i| {
            let role = format!("cr{}", rng.next() % 55);
            json!({"metadata": {"name": format!("crb{i}")}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}, "subjects": subjects(&mut rng)})
        })
        .collect();
    let bindings: Vec<Value> = (0..50)
        .map(|i| {
            let (kind, role) = if rng.next().is_multiple_of(2) {
                ("ClusterRole", format!("cr{}", rng.next() % 55))
            } else {
                ("Role", format!("r{}", rng.next() % 55))
            };
            json!({"metadata": {"name": format!("rb{i}"), "namespace": NAMESPACES[(rng.next() % 5) as usize]},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role}, "subjects": subjects(&mut rng)})
        })
        .collect();
    (roles, cluster_roles, bindings, cluster_bindings)
}

fn allowed(rbac: &Rbac, name: &str, groups: &[String], verb: &str, target: Target<'_>) -> bool {
    rbac.authorize(&Attributes {
        user: UserInfo { name, groups },
        verb,
        target,
    })
    .is_allowed()
}

#[test]
fn who_can_matches_brute_force() {
    for seed in [1_u64, 2, 3] {
        let (roles, cluster_roles, bindings, cluster_bindings) = fixture(seed);
        assert_eq!(
            roles.len() + cluster_roles.len() + bindings.len() + cluster_bindings.len(),
            200
        );
        let rbac = Rbac::from_objects(&roles, &cluster_roles, &bindings, &cluster_bindings);
        let mut questions = 0;
        for namespace in NAMESPACES.iter().copied().chain([""]) {
            for verb in ["get", "list", "delete", "escalate", "impersonate"] {
                for (group, resource, sub, name) in [
                    ("", "pods", "", ""),
                    ("", "pods", "log", ""),
                    ("", "secrets", "", "special"),
                    ("apps", "deployments", "scale", ""),
                    ("rbac.authorization.k8s.io", "roles", "", ""),
                ] {
                    let target = Target::Resource {
                        namespace,
                        api_group: group,
                        resource,
                        subresource: sub,
                        name,
                    };
                    let listed: BTreeSet<(String, String, String)> = who_can(&rbac, verb, &target)
                        .into_iter()
                        .map(|g| (g.kind, g.name, g.namespace))
                        .collect();
                    for user in users() {
                        let brute = allowed(&rbac, &user, &[], verb, target);
                        let key = ("User".to_owned(), user.clone(), String::new());
                        assert_eq!(
                            listed.contains(&key),
                            brute,
                            "seed {seed}: {verb} {target:?} {user}"
                        );
                    }
                    for group in groups() {
                        let brute =
                            allowed(&rbac, "nobody", std::slice::from_ref(&group), verb, target);
                        let key = ("Group".to_owned(), group.clone(), String::new());
                        assert_eq!(
                            listed.contains(&key),
                            brute,
                            "seed {seed}: {verb} {target:?} {group}"
                        );
                    }
                    for (ns, sa) in service_accounts() {
                        let username = format!("system:serviceaccount:{ns}:{sa}");
                        let brute = allowed(&rbac, &username, &[], verb, target);
                        let key = ("ServiceAccount".to_owned(), sa.clone(), ns.clone());
                        assert_eq!(
                            listed.contains(&key),
                            brute,
                            "seed {seed}: {verb} {target:?} {username}"
                        );
                    }
                    questions += 1;
                }
            }
        }
        assert_eq!(questions, 150);
    }
}

#[test]
fn audit_matches_brute_force() {
    let (roles, cluster_roles, bindings, cluster_bindings) = fixture(7);
    let rbac = Rbac::from_objects(&roles, &cluster_roles, &bindings, &cluster_bindings);
    // Half the users and groups exist; the rest are bound but gone.
    let known = KnownSubjects {
        users: users().into_iter().take(10).collect(),
        groups: groups().into_iter().take(5).collect(),
        service_accounts: service_accounts().into_iter().take(8).collect(),
    };
    let findings = audit(&rbac, &known);
    let flagged = |risk: Risk| -> BTreeSet<String> {
        findings
            .iter()
            .filter(|f| f.risk == risk)
            .map(|f| f.object.clone())
            .collect()
    };
    // Cluster-wide Secret reads: a ClusterRoleBinding whose subjects, asked one by one,
    // may read Secrets in every namespace through it alone.
    let mut secret_readers = BTreeSet::new();
    let mut missing_roles = BTreeSet::new();
    let mut missing_subjects = BTreeSet::new();
    for binding in cluster_bindings.iter().chain(&bindings) {
        let alone = if binding["metadata"]["namespace"].is_string() {
            Rbac::from_objects(&roles, &cluster_roles, std::slice::from_ref(binding), &[])
        } else {
            Rbac::from_objects(&roles, &cluster_roles, &[], std::slice::from_ref(binding))
        };
        let namespace = binding["metadata"]["namespace"].as_str().unwrap_or("");
        let object = if namespace.is_empty() {
            format!(
                "ClusterRoleBinding \"{}\"",
                binding["metadata"]["name"].as_str().unwrap()
            )
        } else {
            format!(
                "RoleBinding \"{}/{namespace}\"",
                binding["metadata"]["name"].as_str().unwrap()
            )
        };
        let role_name = binding["roleRef"]["name"].as_str().unwrap();
        let role_exists = if binding["roleRef"]["kind"] == "ClusterRole" {
            cluster_roles
                .iter()
                .any(|r| r["metadata"]["name"] == role_name)
        } else {
            roles.iter().any(|r| {
                r["metadata"]["name"] == role_name && r["metadata"]["namespace"] == namespace
            })
        };
        if !role_exists {
            missing_roles.insert(object.clone());
        }
        for subject in binding["subjects"].as_array().unwrap() {
            let name = subject["name"].as_str().unwrap().to_owned();
            let (username, groups, exists) = match subject["kind"].as_str().unwrap() {
                "User" => (name.clone(), Vec::new(), known.users.contains(&name)),
                "Group" => (
                    "nobody".to_owned(),
                    vec![name.clone()],
                    known.groups.contains(&name),
                ),
                _ => {
                    let ns = subject["namespace"].as_str().unwrap().to_owned();
                    (
                        format!("system:serviceaccount:{ns}:{name}"),
                        Vec::new(),
                        known.service_accounts.contains(&(ns, name.clone())),
                    )
                }
            };
            if !exists {
                missing_subjects.insert(object.clone());
            }
            let reads = ["get", "list", "watch"].iter().any(|verb| {
                allowed(
                    &alone,
                    &username,
                    &groups,
                    verb,
                    Target::Resource {
                        namespace: "",
                        api_group: "",
                        resource: "secrets",
                        subresource: "",
                        name: "",
                    },
                )
            });
            if reads && namespace.is_empty() {
                secret_readers.insert(object.clone());
            }
        }
    }
    assert_eq!(flagged(Risk::ClusterWideSecrets), secret_readers);
    assert_eq!(flagged(Risk::MissingRole), missing_roles);
    assert_eq!(flagged(Risk::MissingSubject), missing_subjects);
    assert!(
        !secret_readers.is_empty() && !missing_roles.is_empty() && !missing_subjects.is_empty()
    );
    // Every role with a wildcard or a privilege verb is flagged, and only those.
    let wild_or_privileged = |risk: Risk, test: &dyn Fn(&Value) -> bool| {
        let expected: BTreeSet<String> = cluster_roles
            .iter()
            .chain(&roles)
            .filter(|r| r["rules"].as_array().unwrap().iter().any(test))
            .map(|r| match r["metadata"]["namespace"].as_str() {
                Some(ns) => format!("Role \"{}/{ns}\"", r["metadata"]["name"].as_str().unwrap()),
                None => format!(
                    "ClusterRole \"{}\"",
                    r["metadata"]["name"].as_str().unwrap()
                ),
            })
            .collect();
        assert_eq!(flagged(risk), expected, "{risk:?}");
    };
    let has = |rule: &Value, field: &str, values: &[&str]| {
        rule[field]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| values.contains(&v.as_str().unwrap_or(""))))
    };
    wild_or_privileged(Risk::Wildcard, &|rule| {
        ["verbs", "apiGroups", "resources"]
            .iter()
            .any(|f| has(rule, f, &["*"]))
    });
    wild_or_privileged(Risk::PrivilegeVerb, &|rule| {
        has(rule, "verbs", &["escalate", "bind", "impersonate"])
    });
}
