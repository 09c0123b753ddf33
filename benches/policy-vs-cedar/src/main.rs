//! Decisions per second: the Portcullis IAM authorizer and cedar-policy on equivalent
//! policies, measured in the same process.
//!
//! The world: a tenancy with 100 compartments (10 top-level, 9 children each) and 1,000
//! groups. Statement `i` is `Allow group g<i mod 1000> to <verb> <type> in compartment
//! <c(i mod 100)>`; Cedar gets one `permit` per statement with the same principal group,
//! actions (the permissions the verb grants) and resource compartment. The request comes
//! from a user in five groups, one of which the *last* statement names, for a permission that
//! statement grants in a child of its compartment, so both engines must find it.

use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

use cedar_policy::{
    Authorizer as CedarAuthorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName,
    EntityUid, PolicySet, Request as CedarRequest,
};
use portcullis_iam::catalog::{ResourceScope, resolve_resource};
use portcullis_iam::{
    Authorizer, Directory, Permission, PolicyInput, Principal, Request, UserPrincipal, Verb,
    validate_policy,
};

const TENANCY: &str = "ocid1.tenancy.oc1..aaaabench";
const TYPES: [&str; 5] = ["repos", "clusters", "keys", "secrets", "vaults"];
const VERBS: [Verb; 4] = [Verb::Inspect, Verb::Read, Verb::Use, Verb::Manage];

fn compartment_id(i: usize) -> String {
    format!("ocid1.compartment.oc1..aaaac{i:03}")
}

fn group_id(i: usize) -> String {
    format!("ocid1.group.oc1..aaaag{i:04}")
}

/// Compartment `i`: 0..10 under the tenancy, the rest under `i / 10 - 1` (so 9 has none)
fn parent(i: usize) -> Option<usize> {
    if i < 10 { None } else { Some(i / 10 - 1) }
}

fn path(i: usize) -> String {
    match parent(i) {
        None => format!("c{i:03}"),
        Some(p) => format!("{}:c{i:03}", path(p)),
    }
}

struct Statement {
    group: usize,
    verb: Verb,
    resource: &'static str,
    compartment: usize,
}

fn statements(n: usize) -> Vec<Statement> {
    (0..n)
        .map(|i| Statement {
            group: i % 1000,
            verb: VERBS[(i / 7) % 4],
            resource: TYPES[i % TYPES.len()],
            compartment: i % 100,
        })
        .collect()
}

/// The request every engine answers: the last statement's group, a permission it grants, a
/// child of its compartment
fn target(statements: &[Statement]) -> (usize, &'static str, usize) {
    let last = statements.last().expect("statements");
    let permission = match resolve_resource(last.resource) {
        Some(ResourceScope::Types(types)) => {
            let granted = types[0].permissions(last.verb);
            *granted.last().expect("a permission")
        }
        _ => unreachable!(),
    };
    // Compartments 0..9 are top-level and 0..8 have children (10 + 10k .. 19 + 10k).
    let compartment = if last.compartment < 9 {
        (last.compartment + 1) * 10
    } else {
        last.compartment
    };
    (last.group, permission, compartment)
}

fn build_portcullis(statements: &[Statement]) -> Authorizer {
    let mut directory = Directory::new(TENANCY, "bench");
    for i in 0..100 {
        let parent = parent(i).map_or(TENANCY.to_owned(), compartment_id);
        directory.add_compartment(&compartment_id(i), &parent, &format!("c{i:03}"));
    }
    for g in 0..1000 {
        directory.add_group(&group_id(g), &format!("g{g:04}"));
    }
    // Policies of at most 50 statements, as OCI allows
    let texts: Vec<String> = statements
        .iter()
        .map(|s| {
            format!(
                "Allow group g{:04} to {} {} in compartment {}",
                s.group,
                s.verb,
                s.resource,
                path(s.compartment)
            )
        })
        .collect();
    let chunks: Vec<(String, Vec<String>)> = texts
        .chunks(50)
        .enumerate()
        .map(|(i, c)| (format!("ocid1.policy.oc1..aaaap{i:05}"), c.to_vec()))
        .collect();
    let bindings: Vec<_> = chunks
        .iter()
        .map(|(_, c)| validate_policy(&directory, c, TENANCY).expect("valid"))
        .collect();
    Authorizer::build(
        directory,
        chunks
            .iter()
            .zip(&bindings)
            .map(|((id, c), b)| PolicyInput {
                id,
                name: id,
                compartment_id: TENANCY,
                statements: c,
                bindings: Some(b),
            }),
    )
}

fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(kind).expect("type"),
        EntityId::new(id),
    )
}

fn build_cedar(statements: &[Statement]) -> PolicySet {
    let mut text = String::new();
    for s in statements {
        let Some(ResourceScope::Types(types)) = resolve_resource(s.resource) else {
            continue;
        };
        let actions: Vec<String> = types[0]
            .permissions(s.verb)
            .iter()
            .map(|p| format!("Action::\"{p}\""))
            .collect();
        text.push_str(&format!(
            "permit(principal in Group::\"g{:04}\", action in [{}], resource in Compartment::\"c{:03}\");\n",
            s.group,
            actions.join(", "),
            s.compartment
        ));
    }
    PolicySet::from_str(&text).expect("cedar policies parse")
}

fn cedar_entities(groups: &[usize], compartment: usize) -> Entities {
    let mut entities = Vec::new();
    let group_uids: Vec<EntityUid> = groups
        .iter()
        .map(|g| uid("Group", &format!("g{g:04}")))
        .collect();
    for g in &group_uids {
        entities.push(Entity::new_no_attrs(g.clone(), Default::default()));
    }
    entities.push(Entity::new_no_attrs(
        uid("User", "u"),
        group_uids.into_iter().collect(),
    ));
    let mut c = Some(compartment);
    let mut chain = Vec::new();
    while let Some(i) = c {
        chain.push(i);
        c = parent(i);
    }
    for (k, i) in chain.iter().enumerate() {
        let parents = chain
            .get(k + 1)
            .map(|p| uid("Compartment", &format!("c{p:03}")))
            .into_iter()
            .collect();
        entities.push(Entity::new_no_attrs(
            uid("Compartment", &format!("c{i:03}")),
            parents,
        ));
    }
    entities.push(Entity::new_no_attrs(
        uid("Repo", "r"),
        [uid("Compartment", &format!("c{compartment:03}"))]
            .into_iter()
            .collect(),
    ));
    Entities::from_entities(entities, None).expect("entities")
}

/// Runs `f` repeatedly for about `budget`, in rounds; returns the median ns per call
fn measure(budget: Duration, expected: bool, mut f: impl FnMut() -> bool) -> f64 {
    // Warm up, and check the answer.
    assert_eq!(f(), expected, "wrong decision");
    let mut per_call = Vec::new();
    let start = Instant::now();
    let mut batch = 1u64;
    while start.elapsed() < budget || per_call.len() < 5 {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        let elapsed = t.elapsed();
        if elapsed < Duration::from_millis(20) {
            batch *= 2;
            continue;
        }
        per_call.push(elapsed.as_nanos() as f64 / batch as f64);
    }
    per_call.sort_by(f64::total_cmp);
    per_call[per_call.len() / 2]
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("BENCH_MILLIS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2000),
    );
    println!(
        "| statements | decision | Portcullis ns/decision | Portcullis decisions/s | Cedar ns/decision | Cedar decisions/s | speed-up |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for n in [10usize, 1_000, 10_000] {
        for allow in [true, false] {
            let statements = statements(n);
            let (group, permission, compartment) = target(&statements);
            let groups = [
                group,
                (group + 1) % 1000,
                (group + 333) % 1000,
                (group + 500) % 1000,
                (group + 999) % 1000,
            ];

            let ours = build_portcullis(&statements);
            let principal = Principal::User(UserPrincipal {
                id: "ocid1.user.oc1..aaaau".into(),
                name: "u".into(),
                group_ids: groups.iter().map(|g| group_id(*g)).collect(),
                mfa_verified: false,
            });
            // The denied request asks for a permission no statement's type has.
            let permission = if allow {
                permission
            } else {
                "DYNAMIC_GROUP_DELETE"
            };
            let permissions = [Permission::lookup(permission).expect("permission")];
            let target_compartment = compartment_id(compartment);
            let ours_ns = measure(budget, allow, || {
                ours.authorize(&Request::new(
                    black_box(&principal),
                    black_box(&permissions),
                    black_box(&target_compartment),
                ))
                .is_allowed()
            });

            let cedar = build_cedar(&statements);
            let entities = cedar_entities(&groups, compartment);
            let authorizer = CedarAuthorizer::new();
            let request = CedarRequest::new(
                uid("User", "u"),
                uid("Action", permission),
                uid("Repo", "r"),
                Context::empty(),
                None,
            )
            .expect("cedar request");
            let cedar_ns = measure(budget, allow, || {
                authorizer
                    .is_authorized(black_box(&request), black_box(&cedar), black_box(&entities))
                    .decision()
                    == Decision::Allow
            });
            println!(
                "| {n} | {} | {ours_ns:.0} | {:.0} | {cedar_ns:.0} | {:.0} | {:.0}x |",
                if allow { "allow" } else { "deny" },
                1e9 / ours_ns,
                1e9 / cedar_ns,
                cedar_ns / ours_ns
            );
        }
    }
}
