//! The in-process cost of one RBAC decision in a cluster with 1,000 roles and 1,000
//! bindings: allowed by a RoleBinding, allowed through a group's ClusterRoleBinding, and no
//! opinion (the worst case: every binding naming the caller is tried).
//!
//! `cargo bench -p portcullis-rbac --bench decision`

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark driver: a panic is a failed run"
)]

use std::hint::black_box;
use std::time::Instant;

use portcullis_rbac::{Attributes, Rbac, Target, UserInfo};
use serde_json::json;

fn world() -> Rbac {
    let mut roles = Vec::new();
    let mut cluster_roles = Vec::new();
    let mut bindings = Vec::new();
    let mut cluster_bindings = Vec::new();
    for i in 0..500 {
        let ns = format!("ns{}", i % 50);
        roles.push(json!({"metadata": {"name": format!("r{i}"), "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["pods", "configmaps"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale"], "verbs": ["get", "update"]}]}));
        cluster_roles.push(json!({"metadata": {"name": format!("cr{i}")},
            "rules": [{"apiGroups": ["example.com"], "resources": [format!("widgets{i}")], "verbs": ["get", "list"]},
                      {"nonResourceURLs": [format!("/custom/{i}/*")], "verbs": ["get"]}]}));
        bindings.push(json!({"metadata": {"name": format!("rb{i}"), "namespace": ns},
            "roleRef": {"kind": "Role", "name": format!("r{i}")},
            "subjects": [{"kind": "User", "name": format!("user{i}")}, {"kind": "ServiceAccount", "name": "ci", "namespace": ns}]}));
        cluster_bindings.push(json!({"metadata": {"name": format!("crb{i}")},
            "roleRef": {"kind": "ClusterRole", "name": format!("cr{i}")},
            "subjects": [{"kind": "Group", "name": format!("group{i}")}]}));
    }
    Rbac::from_objects(&roles, &cluster_roles, &bindings, &cluster_bindings)
}

fn measure(name: &str, rbac: &Rbac, attrs: &Attributes<'_>, expect: bool) {
    assert_eq!(rbac.authorize(attrs).is_allowed(), expect, "{name}");
    let rounds = 2_000_000;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..rounds {
            black_box(rbac.authorize(black_box(attrs)));
        }
        best = best.min(started.elapsed().as_secs_f64() * 1e9 / rounds as f64);
    }
    println!("| {name} | {best:.0} ns | {:.2} M/s |", 1e3 / best);
}

fn main() {
    let rbac = world();
    assert_eq!(rbac.roles().len(), 1_000);
    assert_eq!(rbac.bindings().len(), 1_000);
    let groups: Vec<String> = [
        "group7",
        "group300",
        "team-x",
        "system:authenticated",
        "ocid1.group.oc1..aaaa",
    ]
    .iter()
    .map(|g| (*g).to_owned())
    .collect();
    let pods = Target::Resource {
        namespace: "ns7",
        api_group: "",
        resource: "pods",
        subresource: "",
        name: "web-1",
    };
    println!("## RBAC decisions, 1,000 roles and 1,000 bindings, user in 5 groups");
    println!();
    println!("| request | per decision | decisions/s |");
    println!("|---|---:|---:|");
    measure(
        "allowed by a RoleBinding (get pods)",
        &rbac,
        &Attributes {
            user: UserInfo {
                name: "user7",
                groups: &groups,
            },
            verb: "get",
            target: pods,
        },
        true,
    );
    measure(
        "allowed by a group's ClusterRoleBinding (list widgets300)",
        &rbac,
        &Attributes {
            user: UserInfo {
                name: "user7",
                groups: &groups,
            },
            verb: "list",
            target: Target::Resource {
                namespace: "ns7",
                api_group: "example.com",
                resource: "widgets300",
                subresource: "",
                name: "",
            },
        },
        true,
    );
    measure(
        "no opinion (delete secrets)",
        &rbac,
        &Attributes {
            user: UserInfo {
                name: "user7",
                groups: &groups,
            },
            verb: "delete",
            target: Target::Resource {
                namespace: "ns7",
                api_group: "",
                resource: "secrets",
                subresource: "",
                name: "x",
            },
        },
        false,
    );
    measure(
        "service account, allowed (get deployments/scale)",
        &rbac,
        &Attributes {
            user: UserInfo {
                name: "system:serviceaccount:ns7:ci",
                groups: &[],
            },
            verb: "get",
            target: Target::Resource {
                namespace: "ns7",
                api_group: "apps",
                resource: "deployments",
                subresource: "scale",
                name: "web",
            },
        },
        true,
    );
}
