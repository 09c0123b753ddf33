//! Property tests for the policy language and the authorizer; these run in CI on every push
//! (the cargo-fuzz targets in `fuzz/` explore the same parsers for longer).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

use portcullis_iam::policy::{
    AllowStatement, Comparison, Condition, GroupRef, Location, Operator, Statement, Subject,
    SubjectItem, Value, parse_statement,
};
use portcullis_iam::{
    Authorizer, Directory, MatchingRule, Ocid, Permission, PolicyInput, Principal, Request,
    UserPrincipal, Verb, validate_policy,
};
use proptest::prelude::*;

fn bare_name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_.@+-]{0,10}"
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        bare_name(),
        // Quoted names may hold spaces, colons and slashes.
        "[A-Za-z0-9][A-Za-z0-9 :/_-]{0,10}",
        Just("to".to_owned()),
        Just("any".to_owned()),
        Just("it's".to_owned()),
    ]
}

fn ocid() -> impl Strategy<Value = String> {
    "[a-z0-9]{4,12}".prop_map(|u| format!("ocid1.group.oc1..{u}"))
}

fn group_ref() -> impl Strategy<Value = GroupRef> {
    prop_oneof![
        ocid().prop_map(GroupRef::Id),
        (proptest::option::of(name()), name())
            .prop_map(|(domain, name)| GroupRef::Name { domain, name }),
    ]
}

fn subject() -> impl Strategy<Value = Subject> {
    prop_oneof![
        Just(Subject::AnyUser),
        Just(Subject::AnyGroup),
        prop::collection::vec(name(), 1..3).prop_map(Subject::Services),
        prop::collection::vec(
            prop_oneof![
                group_ref().prop_map(SubjectItem::Group),
                group_ref().prop_map(SubjectItem::DynamicGroup),
            ],
            1..4
        )
        .prop_map(Subject::Principals),
    ]
}

fn location() -> impl Strategy<Value = Location> {
    prop_oneof![
        Just(Location::Tenancy),
        "[a-z0-9]{4,12}"
            .prop_map(|u| Location::CompartmentId(format!("ocid1.compartment.oc1..{u}"))),
        prop::collection::vec(name(), 1..4).prop_map(Location::CompartmentPath),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[A-Za-z0-9 _.:'-]{0,12}".prop_map(Value::Literal),
        "[A-Za-z0-9 _.*-]{1,12}".prop_map(Value::Pattern),
    ]
}

fn comparison() -> impl Strategy<Value = Comparison> {
    let variable = prop_oneof![
        Just("request.permission"),
        Just("request.operation"),
        Just("target.repo.name"),
        Just("request.user.id"),
        Just("target.compartment.id"),
        Just("request.principal.namespace"),
    ]
    .prop_map(str::to_owned);
    prop_oneof![
        (variable.clone(), value()).prop_map(|(variable, v)| Comparison {
            variable,
            operator: Operator::Equal(v)
        }),
        (variable.clone(), value()).prop_map(|(variable, v)| Comparison {
            variable,
            operator: Operator::NotEqual(v)
        }),
        (variable, prop::collection::vec(value(), 1..3)).prop_map(|(variable, v)| Comparison {
            variable,
            operator: Operator::In(v)
        }),
        Just(Comparison {
            variable: "request.utc-timestamp".to_owned(),
            operator: Operator::Before(Value::Literal("2022-01-01T00:00Z".to_owned())),
        }),
        Just(Comparison {
            variable: "request.utc-timestamp.time-of-day".to_owned(),
            operator: Operator::Between(
                Value::Literal("22:00:00Z".to_owned()),
                Value::Literal("04:00Z".to_owned())
            ),
        }),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    comparison()
        .prop_map(Condition::Compare)
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(Condition::All),
                prop::collection::vec(inner, 1..4).prop_map(Condition::Any),
            ]
        })
}

fn statement() -> impl Strategy<Value = Statement> {
    let resource = prop_oneof![
        Just("repos"),
        Just("cluster-family"),
        Just("all-resources"),
        Just("keys"),
        Just("virtual-network-family"),
    ]
    .prop_map(str::to_owned);
    let verb = prop_oneof![
        Just(Verb::Inspect),
        Just(Verb::Read),
        Just(Verb::Use),
        Just(Verb::Manage)
    ];
    (
        subject(),
        verb,
        resource,
        location(),
        proptest::option::of(condition()),
    )
        .prop_map(|(subject, verb, resource, location, condition)| {
            Statement::Allow(AllowStatement {
                subject,
                verb,
                resource,
                location,
                condition,
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_is_identity(statement in statement()) {
        let printed = statement.to_string();
        let reparsed = parse_statement(&printed)
            .unwrap_or_else(|e| panic!("{printed}\n{e}"));
        prop_assert_eq!(&reparsed, &statement, "{}", printed);
        // And printing is stable.
        prop_assert_eq!(reparsed.to_string(), printed);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_statement(&text);
        let _ = MatchingRule::parse(&text);
        let _ = text.parse::<Ocid>();
    }

    #[test]
    fn mutated_statements_never_panic(
        statement in statement(),
        cut in 0usize..400,
        insert in "[ {}(),'\"/=!:a-z*\n]{0,3}",
    ) {
        let printed = statement.to_string();
        let mut chars: Vec<char> = printed.chars().collect();
        let at = cut.min(chars.len());
        chars.splice(at..at, insert.chars());
        let mutated: String = chars.into_iter().collect();
        if let Err(e) = parse_statement(&mutated) {
            // Errors always point inside (or just past) the text.
            prop_assert!(e.line() >= 1 && e.column() >= 1);
            prop_assert!(e.line() <= mutated.lines().count().max(1) + 1);
        }
    }

    #[test]
    fn adding_statements_never_takes_access_away(
        first in 0usize..6,
        second in 0usize..6,
        verb_index in 0usize..4,
    ) {
        let tenancy = "ocid1.tenancy.oc1..aaaaroot";
        let mut directory = Directory::new(tenancy, "root");
        directory.add_group("ocid1.group.oc1..aaaag", "G");
        directory.add_compartment("ocid1.compartment.oc1..aaaac", tenancy, "C");
        let pool = [
            "Allow group G to read repos in tenancy",
            "Allow group G to manage repos in compartment C where target.repo.name = /app*/",
            "Allow any-user to inspect repos in tenancy",
            "Allow group G to use keys in compartment C",
            "Allow group G to manage all-resources in compartment C where request.permission != 'REPOSITORY_DELETE'",
            "Allow group G to read cluster-family in tenancy",
        ];
        let user = Principal::User(UserPrincipal {
            id: "ocid1.user.oc1..aaaau".into(),
            name: "u".into(),
            group_ids: vec!["ocid1.group.oc1..aaaag".into()],
            mfa_verified: false,
        });
        let small = vec![pool[first].to_owned()];
        let large = vec![pool[first].to_owned(), pool[second].to_owned()];
        let build = |statements: &Vec<String>| {
            let bindings = validate_policy(&directory, statements, tenancy).unwrap();
            Authorizer::build(directory.clone(), [PolicyInput {
                id: "ocid1.policy.oc1..aaaap",
                name: "p",
                compartment_id: tenancy,
                statements,
                bindings: Some(&bindings),
            }])
        };
        let (a, b) = (build(&small), build(&large));
        let verb = Verb::ALL[verb_index];
        for permission in ["REPOSITORY_READ", "REPOSITORY_UPDATE", "KEY_ENCRYPT", "CLUSTER_READ", "REPOSITORY_DELETE"] {
            let permission = [Permission::lookup(permission).unwrap()];
            for compartment in [tenancy, "ocid1.compartment.oc1..aaaac"] {
                let vars = portcullis_iam::Variables::new().with("target.repo.name", "app-1");
                let request = Request::new(&user, &permission, compartment).variables(&vars);
                if a.authorize(&request).is_allowed() {
                    prop_assert!(b.authorize(&request).is_allowed());
                }
            }
        }
        let _ = verb;
    }
}
