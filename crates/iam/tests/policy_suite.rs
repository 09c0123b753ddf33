#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::unreachable,
    reason = "test code: a panic is a failed test"
)]
//! The table-driven policy suite: every grammar form and evaluation rule, and every example
//! statement in `oci-reference.md` §2–§6, each with concrete requests and expected decisions.

use std::collections::HashMap;

use portcullis_iam::catalog::operation_permissions;
use portcullis_iam::policy::parse_statement;
use portcullis_iam::{
    Authorizer, Binding, Directory, MatchingRule, Permission, PolicyInput, Principal, Request,
    ResourcePrincipal, UserPrincipal, Variables, validate_policy,
};

/// A tenancy with a compartment tree, groups, users and principals the cases refer to by name
struct World {
    ids: HashMap<&'static str, String>,
    directory: Directory,
}

const TENANCY: &str = "ocid1.tenancy.oc1..aaaaaaaatenancy";

impl World {
    fn new() -> Self {
        let mut ids = HashMap::new();
        let mut directory = Directory::new(TENANCY, "acme");
        ids.insert("tenancy", TENANCY.to_owned());
        // name, parent
        let compartments: &[(&str, &str)] = &[
            ("Project-A", "tenancy"),
            ("Project-A2", "Project-A"),
            ("Project-B", "tenancy"),
            ("CompartmentA", "tenancy"),
            ("CompartmentB", "CompartmentA"),
            ("CompartmentC", "CompartmentB"),
            ("finance", "tenancy"),
            ("c1", "tenancy"),
            ("example", "tenancy"),
        ];
        for (name, parent) in compartments {
            let id = format!("ocid1.compartment.oc1..aaaa{}", slug(name));
            let parent_id = ids[parent].clone();
            directory.add_compartment(&id, &parent_id, name);
            ids.insert(name, id);
        }
        for group in [
            "Administrators",
            "GroupAdmins",
            "NetworkAdmins",
            "XYZ",
            "GroupA",
            "Contractors",
            "acme-pullers",
            "acme-pushers",
            "A-Admins",
            "B-Admins",
            "ClusterUsers",
            "Auditors",
            "KeyUsers",
        ] {
            let id = format!("ocid1.group.oc1..aaaa{}", slug(group));
            directory.add_group(&id, group);
            ids.insert(group, id);
        }
        let c1 = ids["c1"].clone();
        let finance = ids["finance"].clone();
        let dynamic_groups = [
            (
                "dg-clusters",
                format!("ALL {{resource.type = 'cluster', resource.compartment.id = '{c1}'}}"),
            ),
            (
                "dg-name",
                format!(
                    "ANY {{ALL {{instance.compartment.id = '{finance}'}}, ALL {{resource.type = 'cluster', resource.compartment.id = '{finance}'}}}}"
                ),
            ),
            (
                "dg-one-cluster",
                "resource.id = 'ocid1.cluster.oc1.iad.aaaaclusterone'".to_owned(),
            ),
        ];
        for (name, rule) in dynamic_groups {
            let id = format!("ocid1.dynamicgroup.oc1..aaaa{}", slug(name));
            directory.add_dynamic_group(&id, name, MatchingRule::parse(&rule).unwrap());
            ids.insert(name, id);
        }
        ids.insert("key1", "ocid1.key.oc1.iad.aaaakeyone".to_owned());
        ids.insert("key2", "ocid1.key.oc1.iad.aaaakeytwo".to_owned());
        ids.insert("vault1", "ocid1.vault.oc1.iad.aaaavaultone".to_owned());
        ids.insert(
            "cluster1",
            "ocid1.cluster.oc1.iad.aaaaclusterone".to_owned(),
        );
        ids.insert(
            "cluster2",
            "ocid1.cluster.oc1.iad.aaaaclustertwo".to_owned(),
        );
        World { ids, directory }
    }

    /// Replaces `{name}` with the OCID of `name`
    fn expand(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, id) in &self.ids {
            out = out.replace(&format!("{{{name}}}"), id);
        }
        assert!(!out.contains("{c"), "unexpanded placeholder in {out}");
        out
    }

    fn user(&self, name: &str, groups: &[&str]) -> Principal {
        Principal::User(UserPrincipal {
            id: format!("ocid1.user.oc1..aaaa{}", slug(name)),
            name: name.to_owned(),
            group_ids: groups.iter().map(|g| self.ids[g].clone()).collect(),
            mfa_verified: false,
        })
    }

    fn cluster(&self, which: &str, compartment: &str) -> Principal {
        Principal::Resource(ResourcePrincipal {
            id: self.ids[which].clone(),
            resource_type: "cluster".to_owned(),
            compartment_id: self.ids[compartment].clone(),
            ..Default::default()
        })
    }

    fn instance(&self, compartment: &str) -> Principal {
        Principal::Resource(ResourcePrincipal {
            id: "ocid1.instance.oc1.iad.aaaainstance".to_owned(),
            resource_type: "instance".to_owned(),
            compartment_id: self.ids[compartment].clone(),
            ..Default::default()
        })
    }

    fn workload(&self, namespace: &str, service_account: &str, cluster: &str) -> Principal {
        Principal::Resource(ResourcePrincipal {
            id: "ocid1.workload.oc1.iad.aaaaworkload".to_owned(),
            resource_type: "workload".to_owned(),
            compartment_id: self.ids["c1"].clone(),
            attributes: [
                ("namespace".to_owned(), namespace.to_owned()),
                ("service_account".to_owned(), service_account.to_owned()),
                ("cluster_id".to_owned(), cluster.to_owned()),
            ]
            .into(),
            tags: Default::default(),
        })
    }

    fn authorizer(&self, policies: &[(&str, &[&str])]) -> Authorizer {
        let expanded: Vec<(String, Vec<String>, Vec<Binding>)> = policies
            .iter()
            .map(|(attached, statements)| {
                let attached = self.ids[attached].clone();
                let statements: Vec<String> = statements.iter().map(|s| self.expand(s)).collect();
                let bindings = validate_policy(&self.directory, &statements, &attached)
                    .unwrap_or_else(|e| panic!("{statements:?}: {e}"));
                (attached, statements, bindings)
            })
            .collect();
        Authorizer::build(
            self.directory.clone(),
            expanded
                .iter()
                .enumerate()
                .map(|(i, (attached, statements, bindings))| PolicyInput {
                    id: Box::leak(format!("ocid1.policy.oc1..aaaa{i}").into_boxed_str()),
                    name: Box::leak(format!("policy-{i}").into_boxed_str()),
                    compartment_id: attached,
                    statements,
                    bindings: Some(bindings),
                }),
        )
    }
}

fn slug(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// What a request asks for: an operation name or a comma-separated list of permissions
fn permissions(what: &str) -> (Option<&str>, Vec<Permission>) {
    if let Some((name, perms)) = operation_permissions(what) {
        return (Some(name), perms);
    }
    let perms = what
        .split(',')
        .map(|p| Permission::lookup(p.trim()).unwrap_or_else(|| panic!("unknown permission {p}")))
        .collect();
    (None, perms)
}

struct Ask<'a> {
    who: Principal,
    what: &'a str,
    compartment: &'a str,
    vars: &'a [(&'a str, &'a str)],
    at: Option<&'a str>,
    allow: bool,
}

fn ask<'a>(who: Principal, what: &'a str, compartment: &'a str, allow: bool) -> Ask<'a> {
    Ask {
        who,
        what,
        compartment,
        vars: &[],
        at: None,
        allow,
    }
}

impl<'a> Ask<'a> {
    fn vars(mut self, vars: &'a [(&'a str, &'a str)]) -> Self {
        self.vars = vars;
        self
    }

    fn at(mut self, at: &'a str) -> Self {
        self.at = Some(at);
        self
    }
}

fn run(world: &World, policies: &[(&str, &[&str])], asks: Vec<Ask<'_>>) {
    let authorizer = world.authorizer(policies);
    assert!(
        authorizer.skipped().is_empty(),
        "{:?}",
        authorizer.skipped()
    );
    for ask in asks {
        let (operation, perms) = permissions(ask.what);
        let compartment = world.ids[ask.compartment].clone();
        let mut variables = Variables::new();
        for (k, v) in ask.vars {
            variables.set(k, world.expand(v));
        }
        let mut request = Request::new(&ask.who, &perms, &compartment)
            .variables(&variables)
            .region("IAD");
        if let Some(op) = operation {
            request = request.operation(op);
        }
        if let Some(at) = ask.at {
            request = request.time(at.parse().unwrap());
        }
        let decision = authorizer.authorize(&request);
        assert_eq!(
            decision.is_allowed(),
            ask.allow,
            "policies {policies:?}\nprincipal {:?}\nasks {} in {} with {:?}\nmissing {:?}",
            ask.who,
            ask.what,
            ask.compartment,
            ask.vars,
            decision.missing()
        );
        if ask.allow {
            // The one function also says which statements allowed it.
            assert!(decision.grants().iter().all(|g| !g.statements.is_empty()));
        }
        let explained = authorizer.explain(&request);
        assert_eq!(explained.is_allowed(), ask.allow);
    }
}

#[test]
fn reference_section_3_1_examples() {
    let w = World::new();
    let admin = w.user("ga", &["GroupAdmins"]);
    // 1: pattern condition on the target group's name
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group GroupAdmins to manage groups in tenancy where target.group.name = /A-Users-*/",
            ],
        )],
        vec![
            ask(admin.clone(), "UpdateGroup", "tenancy", true)
                .vars(&[("target.group.name", "A-Users-East")]),
            ask(admin.clone(), "UpdateGroup", "tenancy", false)
                .vars(&[("target.group.name", "B-Users")]),
            // Inapplicable variable (no target group on a list): the statement declines.
            ask(admin.clone(), "ListGroups", "tenancy", false),
        ],
    );
    // 2: != on the compartment
    let net = w.user("na", &["NetworkAdmins"]);
    run(
        &w,
        &[
            (
                "tenancy",
                &[
                    "Allow group NetworkAdmins to manage virtual-network-family in tenancy where target.compartment.id != 'ocid1.compartment.oc1..aaaaaaaaexampleocid'",
                ],
            ),
            (
                "tenancy",
                &[
                    "Allow group NetworkAdmins to manage compartments in tenancy where target.compartment.id != '{example}'",
                ],
            ),
        ],
        vec![
            ask(net.clone(), "UpdateCompartment", "finance", true),
            ask(net.clone(), "UpdateCompartment", "example", false),
        ],
    );
    // 3: all {} with a pattern and an exclusion
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group GroupAdmins to manage groups in tenancy where all {target.group.name=/A-*/,target.group.name!='A-Admins'}",
            ],
        )],
        vec![
            ask(admin.clone(), "DeleteGroup", "tenancy", true)
                .vars(&[("target.group.name", "A-Users")]),
            ask(admin.clone(), "DeleteGroup", "tenancy", false)
                .vars(&[("target.group.name", "A-Admins")]),
            ask(admin.clone(), "DeleteGroup", "tenancy", false)
                .vars(&[("target.group.name", "a-admins")]),
            ask(admin.clone(), "DeleteGroup", "tenancy", false)
                .vars(&[("target.group.name", "B-Users")]),
        ],
    );
    // 4: any {} over request.permission
    let xyz = w.user("x", &["XYZ"]);
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group XYZ to manage groups in tenancy where any {request.permission='GROUP_INSPECT', request.permission='GROUP_CREATE', request.permission='GROUP_UPDATE'}",
            ],
        )],
        vec![
            ask(xyz.clone(), "ListGroups", "tenancy", true),
            ask(xyz.clone(), "CreateGroup", "tenancy", true),
            ask(xyz.clone(), "UpdateGroup", "tenancy", true),
            ask(xyz.clone(), "DeleteGroup", "tenancy", false),
            ask(xyz.clone(), "GetGroup", "tenancy", false),
        ],
    );
    // 5: != on request.permission
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group XYZ to manage groups in tenancy where request.permission != 'GROUP_DELETE'",
            ],
        )],
        vec![
            ask(xyz.clone(), "CreateGroup", "tenancy", true),
            ask(xyz.clone(), "DeleteGroup", "tenancy", false),
        ],
    );
    // 6: all {} over permission and operation
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group XYZ to manage groups in tenancy where all {request.permission='GROUP_INSPECT', request.operation='ListGroups'}",
            ],
        )],
        vec![
            ask(xyz.clone(), "ListGroups", "tenancy", true),
            ask(xyz.clone(), "GROUP_INSPECT", "tenancy", false),
            ask(xyz.clone(), "GetGroup", "tenancy", false),
        ],
    );
    // 7: a network source; object-family is not enforced here, so it parses and grants nothing
    let group_a = w.user("a", &["GroupA"]);
    run(
        &w,
        &[(
            "tenancy",
            &[
                "allow group GroupA to manage object-family in tenancy where request.networkSource.name='corpnet'",
                "allow group GroupA to read repos in tenancy where request.networkSource.name='corpnet'",
            ],
        )],
        vec![
            ask(group_a.clone(), "PullImage", "tenancy", true)
                .vars(&[("request.networkSource.name", "CORPNET")]),
            ask(group_a.clone(), "PullImage", "tenancy", false)
                .vars(&[("request.networkSource.name", "cafe")]),
            ask(group_a.clone(), "PullImage", "tenancy", false),
        ],
    );
    // 8: before on the request time
    let contractor = w.user("c", &["Contractors"]);
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group Contractors to manage instance-family in tenancy where request.utc-timestamp before '2022-01-01T00:00Z'",
                "Allow group Contractors to manage clusters in tenancy where request.utc-timestamp before '2022-01-01T00:00Z'",
            ],
        )],
        vec![
            ask(contractor.clone(), "UpdateCluster", "tenancy", true).at("2021-12-31T23:59:00Z"),
            ask(contractor.clone(), "UpdateCluster", "tenancy", false).at("2022-01-01T00:01:00Z"),
        ],
    );
}

#[test]
fn subjects() {
    let w = World::new();
    let a = w.user("a", &["A-Admins"]);
    let b = w.user("b", &["B-Admins"]);
    let other = w.user("o", &["Auditors"]);
    // Several groups, comma separated
    run(
        &w,
        &[(
            "tenancy",
            &["Allow group A-Admins, B-Admins to read repos in tenancy"],
        )],
        vec![
            ask(a.clone(), "PullImage", "tenancy", true),
            ask(b.clone(), "PullImage", "tenancy", true),
            ask(other.clone(), "PullImage", "tenancy", false),
        ],
    );
    // Group ids, and a list of ids
    run(
        &w,
        &[(
            "tenancy",
            &["Allow group id {A-Admins}, id {B-Admins} to inspect repos in tenancy"],
        )],
        vec![
            ask(a.clone(), "ListContainerRepositories", "tenancy", true),
            ask(b.clone(), "ListContainerRepositories", "tenancy", true),
            ask(other.clone(), "ListContainerRepositories", "tenancy", false),
        ],
    );
    // Domain-qualified names, quoted and bare; names are case-insensitive
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group 'Default'/'A-Admins' to read keys in tenancy",
                "Allow group default/b-admins to read keys in tenancy",
            ],
        )],
        vec![
            ask(a.clone(), "GetKey", "tenancy", true),
            ask(b.clone(), "GetKey", "tenancy", true),
            ask(other.clone(), "GetKey", "tenancy", false),
        ],
    );
    // Mixed group and dynamic-group list
    run(
        &w,
        &[(
            "tenancy",
            &["Allow group A-Admins, dynamic-group dg-clusters to read clusters in tenancy"],
        )],
        vec![
            ask(a.clone(), "GetCluster", "tenancy", true),
            ask(w.cluster("cluster1", "c1"), "GetCluster", "tenancy", true),
            ask(
                w.cluster("cluster1", "finance"),
                "GetCluster",
                "tenancy",
                false,
            ),
        ],
    );
    // any-user covers users, resource principals and services; any-group not services
    run(
        &w,
        &[(
            "tenancy",
            &["Allow any-user to inspect clusters in tenancy"],
        )],
        vec![
            ask(other.clone(), "ListClusters", "tenancy", true),
            ask(
                w.cluster("cluster2", "finance"),
                "ListClusters",
                "tenancy",
                true,
            ),
            ask(
                Principal::Service("some-service".into()),
                "ListClusters",
                "tenancy",
                true,
            ),
        ],
    );
    run(
        &w,
        &[(
            "tenancy",
            &["Allow any-group to inspect clusters in tenancy"],
        )],
        vec![
            ask(other.clone(), "ListClusters", "tenancy", true),
            ask(
                w.cluster("cluster2", "finance"),
                "ListClusters",
                "tenancy",
                true,
            ),
            ask(
                Principal::Service("some-service".into()),
                "ListClusters",
                "tenancy",
                false,
            ),
        ],
    );
    // A user in no group still matches any-user
    run(
        &w,
        &[(
            "tenancy",
            &["Allow any-user to inspect compartments in tenancy"],
        )],
        vec![ask(
            w.user("lonely", &[]),
            "ListCompartments",
            "tenancy",
            true,
        )],
    );
    // Dynamic groups never match users
    run(
        &w,
        &[(
            "tenancy",
            &["Allow dynamic-group dg-clusters to read repos in tenancy"],
        )],
        vec![
            ask(a.clone(), "PullImage", "tenancy", false),
            ask(w.cluster("cluster1", "c1"), "PullImage", "tenancy", true),
        ],
    );
    // Dynamic group by id
    run(
        &w,
        &[(
            "tenancy",
            &["Allow dynamic-group id {dg-one-cluster} to read repos in tenancy"],
        )],
        vec![
            ask(
                w.cluster("cluster1", "finance"),
                "PullImage",
                "tenancy",
                true,
            ),
            ask(
                w.cluster("cluster2", "finance"),
                "PullImage",
                "tenancy",
                false,
            ),
        ],
    );
}

#[test]
fn service_subjects_reference_section_5() {
    let w = World::new();
    let scanner = Principal::Service("vulnerability-scanning-service".into());
    run(
        &w,
        &[(
            "tenancy",
            &[
                "allow service vulnerability-scanning-service to read repos in tenancy",
                "allow service vulnerability-scanning-service to read compartments in tenancy",
            ],
        )],
        vec![
            ask(scanner.clone(), "PullImage", "finance", true),
            ask(scanner.clone(), "GetCompartment", "finance", true),
            ask(scanner.clone(), "PushImage", "finance", false),
            ask(
                Principal::Service("other".into()),
                "PullImage",
                "finance",
                false,
            ),
            ask(w.user("u", &["Auditors"]), "PullImage", "finance", false),
        ],
    );
    // Several services in one statement
    run(
        &w,
        &[(
            "tenancy",
            &["allow service objectstorage-us-ashburn-1, blockstorage to use keys in tenancy"],
        )],
        vec![
            ask(
                Principal::Service("blockstorage".into()),
                "Encrypt",
                "tenancy",
                true,
            ),
            ask(
                Principal::Service("ObjectStorage-US-Ashburn-1".into()),
                "Decrypt",
                "tenancy",
                true,
            ),
        ],
    );
}

#[test]
fn verbs_are_cumulative_and_per_type() {
    let w = World::new();
    let u = w.user("u", &["Auditors"]);
    run(
        &w,
        &[(
            "tenancy",
            &["Allow group Auditors to inspect clusters in tenancy"],
        )],
        vec![
            ask(u.clone(), "ListClusters", "tenancy", true),
            ask(u.clone(), "GetCluster", "tenancy", false),
            ask(u.clone(), "CreateKubeconfig", "tenancy", false),
        ],
    );
    run(
        &w,
        &[(
            "tenancy",
            &["Allow group Auditors to read clusters in tenancy"],
        )],
        vec![
            ask(u.clone(), "ListClusters", "tenancy", true),
            ask(u.clone(), "GetCluster", "tenancy", true),
            ask(u.clone(), "CreateKubeconfig", "tenancy", false),
        ],
    );
    // `use clusters` gives CreateKubeconfig (CLUSTER_USE) but not AdministerK8s (§2.2)
    run(
        &w,
        &[(
            "tenancy",
            &["Allow group Auditors to use clusters in tenancy"],
        )],
        vec![
            ask(u.clone(), "CreateKubeconfig", "tenancy", true),
            ask(u.clone(), "AdministerK8s", "tenancy", false),
            ask(u.clone(), "DeleteCluster", "tenancy", false),
        ],
    );
    run(
        &w,
        &[(
            "tenancy",
            &["Allow group Auditors to manage clusters in tenancy"],
        )],
        vec![
            ask(u.clone(), "AdministerK8s", "tenancy", true),
            ask(u.clone(), "UpdateCluster", "tenancy", true),
            // DeleteCluster also needs node-pool permissions, which `clusters` lacks
            ask(u.clone(), "DeleteCluster", "tenancy", false),
        ],
    );
    // `use repos` adds nothing over read: pushing needs manage (§3.4)
    run(
        &w,
        &[("tenancy", &["Allow group Auditors to use repos in tenancy"])],
        vec![
            ask(u.clone(), "PullImage", "tenancy", true),
            ask(u.clone(), "PushImage", "tenancy", false),
        ],
    );
    run(
        &w,
        &[(
            "tenancy",
            &["Allow group Auditors to manage repos in tenancy"],
        )],
        vec![
            ask(u.clone(), "PushImage", "tenancy", true),
            ask(u.clone(), "REPOSITORY_CREATE", "tenancy", true),
            // A statement on repos grants nothing on keys
            ask(u.clone(), "Sign", "tenancy", false),
        ],
    );
    // Keys: use = encrypt/decrypt/sign/verify, manage adds rotate (§3.4)
    run(
        &w,
        &[("tenancy", &["Allow group Auditors to use keys in tenancy"])],
        vec![
            ask(u.clone(), "Encrypt", "tenancy", true),
            ask(u.clone(), "Sign", "tenancy", true),
            ask(u.clone(), "GenerateDataEncryptionKey", "tenancy", true),
            ask(u.clone(), "CreateKeyVersion", "tenancy", false),
        ],
    );
    // Mixed case verbs and types
    run(
        &w,
        &[(
            "tenancy",
            &["ALLOW GROUP Auditors TO READ Secret-Bundles IN TENANCY"],
        )],
        vec![ask(u.clone(), "GetSecretBundle", "tenancy", true)],
    );
}

#[test]
fn families_and_all_resources() {
    let w = World::new();
    let u = w.user("u", &["ClusterUsers"]);
    // §2.1 catch-all: manage cluster-family
    run(
        &w,
        &[(
            "tenancy",
            &["Allow group ClusterUsers to manage cluster-family in tenancy"],
        )],
        vec![
            ask(u.clone(), "DeleteCluster", "tenancy", true),
            ask(u.clone(), "CLUSTER_NODE_POOL_CREATE", "tenancy", true),
            ask(
                u.clone(),
                "CLUSTER_WORKLOAD_MAPPING_CREATE",
                "tenancy",
                true,
            ),
            ask(u.clone(), "PullImage", "tenancy", false),
        ],
    );
    // §2.1 documented individual grants
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group ClusterUsers to use cluster-node-pools in tenancy",
                "Allow group ClusterUsers to read cluster-work-requests in tenancy",
                "Allow group ClusterUsers to read vaults in tenancy",
                "Allow group ClusterUsers to read keys in tenancy",
                "Allow group ClusterUsers to inspect compartments in tenancy",
            ],
        )],
        vec![
            ask(u.clone(), "CLUSTER_NODE_POOL_READ", "tenancy", true),
            ask(u.clone(), "CLUSTER_NODE_POOL_UPDATE", "tenancy", false),
            ask(u.clone(), "CLUSTER_WORK_REQUEST_READ", "tenancy", true),
            ask(u.clone(), "GetVault", "tenancy", true),
            ask(u.clone(), "GetKey", "tenancy", true),
            ask(u.clone(), "Encrypt", "tenancy", false),
            ask(u.clone(), "ListCompartments", "tenancy", true),
        ],
    );
    // §2.1 network prerequisites parse; they grant nothing Portcullis enforces
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group ClusterUsers to manage instance-family in tenancy",
                "Allow group ClusterUsers to use subnets in tenancy",
                "Allow group ClusterUsers to manage virtual-network-family in tenancy",
                "Allow group ClusterUsers to use vnics in tenancy",
                "Allow group ClusterUsers to use network-security-groups in tenancy",
                "Allow group ClusterUsers to use private-ips in tenancy",
                "Allow group ClusterUsers to manage public-ips in tenancy",
                "Allow group ClusterUsers to inspect clusters in tenancy",
            ],
        )],
        vec![
            ask(u.clone(), "ListClusters", "tenancy", true),
            ask(u.clone(), "GetCluster", "tenancy", false),
        ],
    );
    // key-family and secret-family
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group ClusterUsers to use key-family in tenancy",
                "Allow group ClusterUsers to read secret-family in tenancy",
            ],
        )],
        vec![
            ask(u.clone(), "Encrypt", "tenancy", true),
            ask(u.clone(), "VAULT_CREATE_KEY", "tenancy", true),
            ask(u.clone(), "KEY_ASSOCIATE", "tenancy", true),
            ask(u.clone(), "GetSecretBundle", "tenancy", true),
            ask(u.clone(), "GetSecret", "tenancy", true),
            ask(u.clone(), "UpdateSecret", "tenancy", false),
        ],
    );
    // §3.2 built-in administrators policy
    let admin = w.user("admin", &["Administrators"]);
    run(
        &w,
        &[(
            "tenancy",
            &["Allow group Administrators to manage all-resources in tenancy"],
        )],
        vec![
            ask(admin.clone(), "CreateCompartment", "CompartmentC", true),
            ask(admin.clone(), "PushImage", "finance", true),
            ask(admin.clone(), "AdministerK8s", "c1", true),
            ask(admin.clone(), "DeletePolicy", "tenancy", true),
            ask(admin.clone(), "AddUserToGroup", "tenancy", true),
            ask(u.clone(), "GetUser", "tenancy", false),
        ],
    );
}

#[test]
fn locations_and_inheritance() {
    let w = World::new();
    let u = w.user("u", &["ClusterUsers"]);
    // A compartment statement covers it and its descendants, not siblings or parents
    run(
        &w,
        &[(
            "tenancy",
            &["Allow group ClusterUsers to use clusters in compartment Project-A"],
        )],
        vec![
            ask(u.clone(), "CreateKubeconfig", "Project-A", true),
            ask(u.clone(), "CreateKubeconfig", "Project-A2", true),
            ask(u.clone(), "CreateKubeconfig", "Project-B", false),
            ask(u.clone(), "CreateKubeconfig", "tenancy", false),
        ],
    );
    // §3.1 colon paths relative to the attachment
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group ClusterUsers to read repos in compartment Project-A:Project-A2",
                "Allow group ClusterUsers to read keys in compartment CompartmentA:CompartmentB:CompartmentC",
            ],
        )],
        vec![
            ask(u.clone(), "PullImage", "Project-A2", true),
            ask(u.clone(), "PullImage", "Project-A", false),
            ask(u.clone(), "GetKey", "CompartmentC", true),
            ask(u.clone(), "GetKey", "CompartmentB", false),
        ],
    );
    // A policy attached to a compartment names children relative to it
    run(
        &w,
        &[(
            "CompartmentA",
            &["Allow group ClusterUsers to read repos in compartment CompartmentB:CompartmentC"],
        )],
        vec![
            ask(u.clone(), "PullImage", "CompartmentC", true),
            ask(u.clone(), "PullImage", "CompartmentB", false),
        ],
    );
    // compartment id, and quoted names; compartment names are case-insensitive
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group ClusterUsers to read clusters in compartment id {finance}",
                "Allow group ClusterUsers to read vaults in compartment 'project-b'",
            ],
        )],
        vec![
            ask(u.clone(), "GetCluster", "finance", true),
            ask(u.clone(), "GetCluster", "c1", false),
            ask(u.clone(), "GetVault", "Project-B", true),
        ],
    );
    // Unknown target compartment: denied
    let authorizer = w.authorizer(&[(
        "tenancy",
        &["Allow group ClusterUsers to read clusters in tenancy"],
    )]);
    let perms = [Permission::lookup("CLUSTER_READ").unwrap()];
    let decision = authorizer.authorize(&Request::new(&u, &perms, "ocid1.compartment.oc1..gone"));
    assert!(!decision.is_allowed());
}

#[test]
fn union_across_statements_and_policies() {
    let w = World::new();
    let u = w.user("u", &["GroupA", "XYZ"]);
    // AddUserToGroup needs USER_UPDATE and GROUP_MEMBERSHIP_UPDATE: from two policies
    run(
        &w,
        &[
            ("tenancy", &["Allow group GroupA to use users in tenancy"]),
            ("tenancy", &["Allow group XYZ to use groups in tenancy"]),
        ],
        vec![
            ask(u.clone(), "AddUserToGroup", "tenancy", true),
            ask(w.user("v", &["GroupA"]), "AddUserToGroup", "tenancy", false),
        ],
    );
}

#[test]
fn reference_section_3_4_registry_examples() {
    let w = World::new();
    let puller = w.user("p", &["acme-pullers"]);
    let pusher = w.user("q", &["acme-pushers"]);
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group acme-pullers to read repos in tenancy where all { target.repo.name=/acme-web-app*/ }",
                "Allow group acme-pushers to manage repos in tenancy where ANY {request.permission = 'REPOSITORY_READ', request.permission = 'REPOSITORY_UPDATE', request.permission = 'REPOSITORY_CREATE'}",
            ],
        )],
        vec![
            ask(puller.clone(), "PullImage", "tenancy", true)
                .vars(&[("target.repo.name", "acme-web-app/frontend")]),
            ask(puller.clone(), "PullImage", "tenancy", false)
                .vars(&[("target.repo.name", "other")]),
            ask(puller.clone(), "PushImage", "tenancy", false)
                .vars(&[("target.repo.name", "acme-web-app")]),
            ask(pusher.clone(), "PushImage", "tenancy", true),
            ask(
                pusher.clone(),
                "REPOSITORY_READ,REPOSITORY_UPDATE,REPOSITORY_CREATE",
                "finance",
                true,
            ),
            ask(
                pusher.clone(),
                "DeleteContainerRepository",
                "tenancy",
                false,
            ),
        ],
    );
}

#[test]
fn reference_section_3_5_variables() {
    let w = World::new();
    let mut mfa = match w.user("m", &["Auditors"]) {
        Principal::User(u) => u,
        _ => unreachable!(),
    };
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group Auditors to read keys in tenancy where request.user.mfaTotpVerified='true'",
            ],
        )],
        vec![ask(
            Principal::User(mfa.clone()),
            "GetKey",
            "tenancy",
            false,
        )],
    );
    mfa.mfa_verified = true;
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group Auditors to read keys in tenancy where request.user.mfaTotpVerified='true'",
            ],
        )],
        vec![ask(Principal::User(mfa.clone()), "GetKey", "tenancy", true)],
    );
    // Workload identity triple (§3.5); objects are not enforced, secrets are
    let good = w.workload(
        "finance",
        "financeserviceaccount",
        "ocid1.cluster.oc1.iad.aaaaaaaaaf______jrd",
    );
    let wrong_ns = w.workload(
        "dev",
        "financeserviceaccount",
        "ocid1.cluster.oc1.iad.aaaaaaaaaf______jrd",
    );
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow any-user to manage objects in tenancy where all {request.principal.type = 'workload', request.principal.namespace = 'finance', request.principal.service_account = 'financeserviceaccount', request.principal.cluster_id = 'ocid1.cluster.oc1.iad.aaaaaaaaaf______jrd'}",
                "Allow any-user to read secret-bundles in tenancy where all {request.principal.type = 'workload', request.principal.namespace = 'finance', request.principal.service_account = 'financeserviceaccount', request.principal.cluster_id = 'ocid1.cluster.oc1.iad.aaaaaaaaaf______jrd'}",
            ],
        )],
        vec![
            ask(good.clone(), "GetSecretBundle", "finance", true),
            ask(wrong_ns.clone(), "GetSecretBundle", "finance", false),
            // A user has no request.principal.namespace: declined
            ask(
                w.user("u", &["Auditors"]),
                "GetSecretBundle",
                "finance",
                false,
            ),
        ],
    );
    // request.groups.id is a list; request.user.name; request.region; target.compartment.name
    let u = w.user("alice", &["Auditors", "GroupA"]);
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow any-user to read clusters in tenancy where request.groups.id = '{GroupA}'",
                "Allow any-user to read vaults in tenancy where request.user.name = 'ALICE'",
                "Allow any-user to read keys in tenancy where all {request.region = 'iad', target.compartment.name = /fin*/}",
                "Allow any-user to inspect clusters in tenancy where request.groups.id != '{GroupA}'",
            ],
        )],
        vec![
            ask(u.clone(), "GetCluster", "tenancy", true),
            ask(w.user("bob", &["Auditors"]), "GetCluster", "tenancy", false),
            ask(
                w.user("bob", &["Auditors"]),
                "ListClusters",
                "tenancy",
                true,
            ),
            // `read clusters` (granted through GroupA) includes inspect.
            ask(u.clone(), "ListClusters", "tenancy", true),
            ask(u.clone(), "GetVault", "tenancy", true),
            ask(w.user("bob", &["Auditors"]), "GetVault", "tenancy", false),
            ask(u.clone(), "GetKey", "finance", true),
            ask(u.clone(), "GetKey", "c1", false),
        ],
    );
}

#[test]
fn time_variables() {
    let w = World::new();
    let u = w.user("u", &["Contractors"]);
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow group Contractors to read repos in tenancy where request.utc-timestamp after '2024-06-01T00:00:00Z'",
                "Allow group Contractors to read keys in tenancy where request.utc-timestamp.month-of-year in ('1', '2', '12')",
                "Allow group Contractors to read vaults in tenancy where request.utc-timestamp.day-of-week = 'saturday'",
                "Allow group Contractors to read clusters in tenancy where request.utc-timestamp.time-of-day between '22:00:00Z' and '04:00:00Z'",
                "Allow group Contractors to read secrets in tenancy where request.utc-timestamp.month-of-year != '7'",
                "Allow group Contractors to inspect clusters in tenancy where request.utc-timestamp between '2025-01-01' and '2025-12-31T23:59:59Z'",
            ],
        )],
        vec![
            ask(u.clone(), "PullImage", "tenancy", true).at("2024-06-02T00:00:00Z"),
            ask(u.clone(), "PullImage", "tenancy", false).at("2024-05-31T00:00:00Z"),
            ask(u.clone(), "GetKey", "tenancy", true).at("2024-12-02T00:00:00Z"),
            ask(u.clone(), "GetKey", "tenancy", false).at("2024-07-02T00:00:00Z"),
            // 2024-06-01 was a Saturday
            ask(u.clone(), "GetVault", "tenancy", true).at("2024-06-01T12:00:00Z"),
            ask(u.clone(), "GetVault", "tenancy", false).at("2024-06-03T12:00:00Z"),
            // A window that wraps midnight
            ask(u.clone(), "GetCluster", "tenancy", true).at("2024-06-03T23:30:00Z"),
            ask(u.clone(), "GetCluster", "tenancy", true).at("2024-06-03T03:00:00Z"),
            ask(u.clone(), "GetCluster", "tenancy", false).at("2024-06-03T12:00:00Z"),
            ask(u.clone(), "GetSecret", "tenancy", false).at("2024-07-15T12:00:00Z"),
            ask(u.clone(), "GetSecret", "tenancy", true).at("2024-08-15T12:00:00Z"),
            ask(u.clone(), "ListClusters", "tenancy", true).at("2025-05-05T05:05:05Z"),
            ask(u.clone(), "ListClusters", "tenancy", false).at("2026-01-01T12:00:01Z"),
        ],
    );
}

#[test]
fn reference_section_4_and_6_cluster_principals() {
    let w = World::new();
    let in_c1 = w.cluster("cluster1", "c1");
    let other = w.cluster("cluster2", "finance");
    // §4.1 option A, and tightened to one cluster
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow any-user to use keys in compartment c1 where ALL {request.principal.type = 'cluster', target.key.id = '{key1}'}",
            ],
        )],
        vec![
            ask(in_c1.clone(), "Encrypt", "c1", true).vars(&[("target.key.id", "{key1}")]),
            ask(in_c1.clone(), "Encrypt", "c1", false).vars(&[("target.key.id", "{key2}")]),
            ask(w.user("u", &["KeyUsers"]), "Encrypt", "c1", false)
                .vars(&[("target.key.id", "{key1}")]),
        ],
    );
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow any-user to use keys in compartment c1 where ALL {request.principal.type = 'cluster', target.key.id = '{key1}', request.principal.id = '{cluster1}'}",
            ],
        )],
        vec![
            ask(in_c1.clone(), "Decrypt", "c1", true).vars(&[("target.key.id", "{key1}")]),
            ask(w.cluster("cluster2", "c1"), "Decrypt", "c1", false)
                .vars(&[("target.key.id", "{key1}")]),
        ],
    );
    // §4.1 option B: dynamic group of clusters in a compartment
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow dynamic-group dg-clusters to use keys in compartment c1 where target.key.id = '{key1}'",
            ],
        )],
        vec![
            ask(in_c1.clone(), "Encrypt", "c1", true).vars(&[("target.key.id", "{key1}")]),
            ask(other.clone(), "Encrypt", "c1", false).vars(&[("target.key.id", "{key1}")]),
        ],
    );
    // §4.2 instance principals through a dynamic group, and workloads through any-user
    run(
        &w,
        &[(
            "tenancy",
            &[
                "allow dynamic-group dg-name to use secret-family in compartment c1 where target.vault.id = '{vault1}'",
                "allow any-user to use secret-family in compartment finance where ALL {request.principal.type='workload', request.principal.namespace ='team', request.principal.service_account = 'oci-secrets-store-csi-driver-provider-sa', request.principal.cluster_id = '{cluster1}'}",
            ],
        )],
        vec![
            ask(w.instance("finance"), "GetSecretBundle", "c1", true)
                .vars(&[("target.vault.id", "{vault1}")]),
            ask(w.instance("c1"), "GetSecretBundle", "c1", false)
                .vars(&[("target.vault.id", "{vault1}")]),
            ask(
                w.workload(
                    "team",
                    "oci-secrets-store-csi-driver-provider-sa",
                    "ocid1.cluster.oc1.iad.aaaaclusterone",
                ),
                "GetSecretBundle",
                "finance",
                true,
            ),
            ask(
                w.workload("team", "default", "ocid1.cluster.oc1.iad.aaaaclusterone"),
                "GetSecretBundle",
                "finance",
                false,
            ),
        ],
    );
    // §6.2 image verification: the cluster authenticates as itself (request.user.id);
    // the reference writes the OCID unquoted
    run(
        &w,
        &[(
            "tenancy",
            &[
                "Allow any-user to use keys in tenancy where request.user.id={cluster1}",
                "Allow any-user to read repos in tenancy where request.user.id = '{cluster1}'",
            ],
        )],
        vec![
            ask(in_c1.clone(), "Verify", "finance", true),
            ask(in_c1.clone(), "PullImage", "finance", true),
            ask(other.clone(), "PullImage", "finance", false),
            ask(
                Principal::Service("svc".into()),
                "PullImage",
                "finance",
                false,
            ),
        ],
    );
}

#[test]
fn cross_tenancy_statements_parse_and_have_no_effect() {
    let w = World::new();
    let statements = [
        "Define tenancy KeyTenancy as ocid1.tenancy.oc1..aaaaaaaakeytenancy",
        "Define group RemoteAdmins as ocid1.group.oc1..aaaaaaaaremote",
        "Define dynamic-group RemoteClusters as ocid1.dynamicgroup.oc1..aaaaaaaaremote",
        "Endorse group KeyUsers to use keys in tenancy KeyTenancy",
        "Endorse any-user to use keys in any-tenancy",
        "Admit dynamic-group RemoteClusters of tenancy KeyTenancy to use keys in tenancy where target.key.id = '{key1}'",
    ];
    for s in &statements {
        let parsed = parse_statement(&w.expand(s)).unwrap();
        assert!(!parsed.has_effect(), "{s}");
    }
    let authorizer = w.authorizer(&[("tenancy", &statements)]);
    assert_eq!(authorizer.inert().len(), statements.len());
    assert_eq!(authorizer.statement_count(), 0);
    let u = w.user("u", &["KeyUsers"]);
    let perms = [Permission::lookup("KEY_ENCRYPT").unwrap()];
    assert!(
        !authorizer
            .authorize(&Request::new(&u, &perms, TENANCY))
            .is_allowed()
    );
}

#[test]
fn bindings_follow_ocids_not_names() {
    // A group deleted and recreated with the same name is a different group (§3.6).
    let mut before = Directory::new(TENANCY, "acme");
    before.add_group("ocid1.group.oc1..aaaaold", "Ops");
    let statements = vec!["Allow group Ops to read repos in tenancy".to_owned()];
    let bindings = validate_policy(&before, &statements, TENANCY).unwrap();
    let mut after = Directory::new(TENANCY, "acme");
    after.add_group("ocid1.group.oc1..aaaanew", "Ops");
    let authorizer = Authorizer::build(
        after,
        [PolicyInput {
            id: "ocid1.policy.oc1..aaaa",
            name: "p",
            compartment_id: TENANCY,
            statements: &statements,
            bindings: Some(&bindings),
        }],
    );
    let member = Principal::User(UserPrincipal {
        id: "ocid1.user.oc1..aaaau".into(),
        name: "u".into(),
        group_ids: vec!["ocid1.group.oc1..aaaanew".into()],
        mfa_verified: false,
    });
    let perms = [Permission::lookup("REPOSITORY_READ").unwrap()];
    assert!(
        !authorizer
            .authorize(&Request::new(&member, &perms, TENANCY))
            .is_allowed()
    );
    // A renamed compartment keeps its policies: the binding holds the OCID.
    let mut dir = Directory::new(TENANCY, "acme");
    dir.add_group("ocid1.group.oc1..aaaanew", "Ops");
    dir.add_compartment("ocid1.compartment.oc1..aaaadev", TENANCY, "dev");
    let statements = vec!["Allow group Ops to read repos in compartment dev".to_owned()];
    let bindings = validate_policy(&dir, &statements, TENANCY).unwrap();
    let mut renamed = Directory::new(TENANCY, "acme");
    renamed.add_group("ocid1.group.oc1..aaaanew", "Ops");
    renamed.add_compartment("ocid1.compartment.oc1..aaaadev", TENANCY, "development");
    let authorizer = Authorizer::build(
        renamed,
        [PolicyInput {
            id: "ocid1.policy.oc1..aaaa",
            name: "p",
            compartment_id: TENANCY,
            statements: &statements,
            bindings: Some(&bindings),
        }],
    );
    assert!(
        authorizer
            .authorize(&Request::new(
                &member,
                &perms,
                "ocid1.compartment.oc1..aaaadev"
            ))
            .is_allowed()
    );
}

#[test]
fn binding_errors() {
    let w = World::new();
    let cases: &[(&str, &str, &str)] = &[
        (
            "tenancy",
            "Allow group Nobody to read repos in tenancy",
            "group `Nobody` does not exist",
        ),
        (
            "tenancy",
            "Allow dynamic-group nope to read repos in tenancy",
            "dynamic group `nope` does not exist",
        ),
        (
            "tenancy",
            "Allow group 'Other'/'XYZ' to read repos in tenancy",
            "identity domain `Other`",
        ),
        (
            "tenancy",
            "Allow group id ocid1.group.oc1..aaaamissing to read repos in tenancy",
            "does not exist",
        ),
        (
            "tenancy",
            "Allow group XYZ to read repos in compartment Nowhere",
            "compartment `Nowhere` does not exist",
        ),
        (
            "tenancy",
            "Allow group XYZ to read repos in compartment Project-A:Nope",
            "`Project-A:Nope`",
        ),
        (
            "Project-A",
            "Allow group XYZ to read repos in tenancy",
            "only allowed in policies attached to the root",
        ),
        (
            "Project-A",
            "Allow group XYZ to read repos in compartment id {Project-B}",
            "outside the compartment",
        ),
        (
            "Project-A",
            "Allow group XYZ to read repos in compartment Project-B",
            "does not exist",
        ),
    ];
    for (attached, statement, message) in cases {
        let err =
            validate_policy(&w.directory, &[w.expand(statement)], &w.ids[attached]).unwrap_err();
        assert!(err.to_string().contains(message), "{statement}: {err}");
        assert!(err.to_string().starts_with("statement 1: "), "{err}");
    }
}

#[test]
fn explain_reports_grants_and_near_misses() {
    let w = World::new();
    let authorizer = w.authorizer(&[(
        "tenancy",
        &[
            "Allow group XYZ to read repos in tenancy",
            "Allow group XYZ to manage repos in tenancy where target.repo.name = 'prod'",
            "Allow group XYZ to manage repos in compartment finance",
        ],
    )]);
    let u = w.user("u", &["XYZ"]);
    let (_, perms) = permissions("PushImage");
    let vars = Variables::new().with("target.repo.name", "dev");
    let request = Request::new(&u, &perms, &w.ids["c1"]).variables(&vars);
    let decision = authorizer.explain(&request);
    assert!(!decision.is_allowed());
    assert_eq!(decision.missing().len(), 1);
    assert_eq!(decision.missing()[0].name(), "REPOSITORY_UPDATE");
    assert_eq!(decision.grants()[0].statements[0].index, 0);
    let reasons: Vec<_> = decision
        .near_misses()
        .iter()
        .map(|m| (m.statement.index, m.reason))
        .collect();
    assert!(reasons.contains(&(0, portcullis_iam::MissReason::VerbTooWeak)));
    assert!(reasons.contains(&(1, portcullis_iam::MissReason::ConditionFalse)));
}

/// Malformed statements: each is rejected with its line, column and what was expected
#[test]
fn malformed_statements_name_their_position() {
    let cases: &[(&str, usize, usize, &str)] = &[
        (
            "Permit group A to read repos in tenancy",
            1,
            1,
            "`Allow`, `Define`, `Endorse` or `Admit`",
        ),
        ("Allow to manage repos in tenancy", 1, 7, "a subject"),
        ("Allow group A manage repos in tenancy", 1, 15, "`to`"),
        ("Allow group A to destroy repos in tenancy", 1, 18, "a verb"),
        (
            "Allow group A to manage spaceships in tenancy",
            1,
            25,
            "a resource type",
        ),
        ("Allow group A to manage repos", 1, 30, "`in`"),
        (
            "Allow group A to manage repos in galaxy",
            1,
            34,
            "`tenancy` or `compartment`",
        ),
        (
            "Allow group A to manage repos in compartment",
            1,
            45,
            "a compartment name",
        ),
        (
            "Allow group A to manage repos in compartment id ocid1.bad",
            1,
            49,
            "an OCID",
        ),
        (
            "Allow group id not-an-ocid to manage repos in tenancy",
            1,
            16,
            "an OCID",
        ),
        (
            "Allow group A to manage repos in tenancy extra",
            1,
            42,
            "`where` or the end",
        ),
        (
            "Allow group A to manage repos in tenancy where",
            1,
            47,
            "a condition",
        ),
        (
            "Allow group A to manage repos in tenancy where target.repo.name =",
            1,
            66,
            "a value",
        ),
        (
            "Allow group A to manage repos in tenancy where target.repo.name ~ 'a'",
            1,
            65,
            "an operator",
        ),
        (
            "Allow group A to manage repos in tenancy where target.repo.name = 'open",
            1,
            67,
            "a closing `'`",
        ),
        (
            "Allow group A to manage repos in tenancy where target.repo.name = /open*",
            1,
            67,
            "a closing `/`",
        ),
        (
            "Allow group A to manage repos in tenancy where all {target.repo.name = 'a'",
            1,
            75,
            "`,` or `}`",
        ),
        (
            "Allow group A to manage repos in tenancy where user.name = 'a'",
            1,
            48,
            "a condition",
        ),
        (
            "Allow group A to manage repos in tenancy where request.utc-timestamp before 'someday'",
            1,
            77,
            "an ISO 8601 UTC time",
        ),
        (
            "Allow group A to manage repos in tenancy where target.repo.name before '2022-01-01'",
            1,
            65,
            "`before`/`after` only with",
        ),
        (
            "Allow group A\nto manage repos\nin tenency",
            3,
            4,
            "`tenancy` or `compartment`",
        ),
        (
            "Allow group 'A'/ to manage repos in tenancy",
            1,
            18,
            "a group name after the identity domain",
        ),
        (
            "Allow group '' to manage repos in tenancy",
            1,
            13,
            "a group name",
        ),
        (
            "Define tenancy Other ocid1.tenancy.oc1..aaaa",
            1,
            22,
            "`as`",
        ),
        (
            "Endorse group A to use keys in somewhere",
            1,
            32,
            "`tenancy <alias>` or `any-tenancy`",
        ),
        ("Admit group A to use keys in tenancy", 1, 15, "`of`"),
        (
            "Allow group A to manage repos in tenancy where any {}",
            1,
            53,
            "a condition",
        ),
        ("", 1, 1, "`Allow`"),
    ];
    assert!(cases.len() >= 15);
    for (text, line, column, expected) in cases {
        let err = parse_statement(text).expect_err(text);
        assert_eq!(
            (err.line(), err.column()),
            (*line, *column),
            "{text}: {err}"
        );
        assert!(err.expected().contains(expected), "{text}: {err}");
        assert!(
            err.to_string()
                .starts_with(&format!("line {line}, column {column}: expected"))
        );
    }
    // Nesting deeper than the limit is an error, not a stack overflow.
    let deep = format!(
        "Allow group A to read repos in tenancy where {}target.repo.name = 'x'{}",
        "all {".repeat(40),
        "}".repeat(40)
    );
    assert!(
        parse_statement(&deep)
            .unwrap_err()
            .expected()
            .contains("levels of nested")
    );
}

#[test]
fn statement_count_meets_the_bar() {
    // The valid-statement cases above (everything before the malformed table) exercise at
    // least 60 distinct statements.
    let source = include_str!("policy_suite.rs");
    let valid = source
        .split("fn malformed_statements_name_their_position")
        .next()
        .unwrap();
    let mut statements: Vec<&str> = [
        "\"Allow ",
        "\"allow ",
        "\"ALLOW ",
        "\"Define ",
        "\"Endorse ",
        "\"Admit ",
    ]
    .iter()
    .flat_map(|prefix| valid.match_indices(prefix).map(|(i, _)| &valid[i..]))
    .map(|rest| &rest[..rest[1..].find('"').unwrap() + 1])
    .collect();
    statements.sort_unstable();
    statements.dedup();
    assert!(
        statements.len() >= 60,
        "only {} statements",
        statements.len()
    );
}
