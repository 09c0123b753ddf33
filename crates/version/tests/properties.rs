//! Order laws of every scheme, on generated version-like strings: parsing never panics, and
//! each scheme's comparison is a total order whose equality and hash agree with it.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use portcullis_version::{Scheme, Version};
use proptest::prelude::*;
use std::cmp::Ordering;
use std::hash::{BuildHasher, RandomState};

const SCHEMES: [Scheme; 6] = [
    Scheme::Dpkg,
    Scheme::Apk,
    Scheme::Rpm,
    Scheme::Pep440,
    Scheme::Semver,
    Scheme::Go,
];

/// Version-like strings of one scheme, dense in the characters its order treats specially.
fn versions(scheme: Scheme) -> BoxedStrategy<String> {
    let pattern = match scheme {
        Scheme::Dpkg => "([0-9]{1,2}:)?[0-9][0-9a-zA-Z.+~]{0,7}(-[0-9a-z.+~]{1,5})?",
        Scheme::Apk => {
            "[0-9]{1,3}(\\.0?[0-9]{1,2}){0,3}[a-c]?(_(alpha|beta|pre|rc|p|git|cvs|x)[0-9]?){0,2}(~[0-9a-f]{1,3})?(-r[0-9]{1,2})?[.a_-]?"
        }
        Scheme::Rpm => "([0-9]:)?[0-9a-z.~^_+]{1,8}(-[0-9a-z.~^]{1,5})?",
        Scheme::Pep440 => {
            "[vV]?([0-9]!)?[0-9]{1,2}(\\.[0-9]{1,2}){0,2}((a|b|rc|c|alpha|pre)[0-9]?)?([.-]post[0-9]?|-[0-9])?(\\.dev[0-9]?)?(\\+[a-z0-9]{1,3}(\\.[0-9a-z]{1,2})?)?"
        }
        Scheme::Semver => {
            "[v=]?[0-9]{1,2}(\\.[0-9]{1,2}){0,2}(-(alpha|beta|rc|0|1|11|x-y)(\\.(0|1|2|11|a)){0,2})?(\\+[a-z0-9.]{1,4})?"
        }
        Scheme::Go => {
            "(v|go)?[0-9]{1,2}(\\.[0-9]{1,2}){0,2}((rc|beta)[0-9]|-(0\\.[0-9]{14}-[0-9a-f]{12}|rc\\.[0-9]|pre))?(\\+incompatible)?"
        }
    };
    proptest::string::string_regex(pattern).unwrap().boxed()
}

fn parsed(scheme: Scheme) -> impl Strategy<Value = Version> {
    versions(scheme).prop_filter_map("not a version", move |v| scheme.parse(&v).ok())
}

fn hash(v: &Version, state: &RandomState) -> u64 {
    state.hash_one(v)
}

fn laws(mut vs: Vec<Version>) -> Result<(), TestCaseError> {
    let state = RandomState::new();
    for a in &vs {
        prop_assert_eq!(a.cmp(a), Ordering::Equal);
        for b in &vs {
            prop_assert_eq!(a.cmp(b), b.cmp(a).reverse(), "{} vs {}", a, b);
            prop_assert_eq!(a == b, a.cmp(b).is_eq(), "{} vs {}", a, b);
            if a == b {
                prop_assert_eq!(hash(a, &state), hash(b, &state), "{} = {}", a, b);
            }
        }
    }
    // Sorting with a non-transitive order leaves some earlier element above a later one.
    vs.sort();
    for (i, a) in vs.iter().enumerate() {
        for b in &vs[i..] {
            prop_assert_ne!(a.cmp(b), Ordering::Greater, "sorted {} before {}", a, b);
        }
    }
    Ok(())
}

fn scheme() -> impl Strategy<Value = Scheme> {
    proptest::sample::select(&SCHEMES[..])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics(s in any::<String>(), scheme in scheme()) {
        let _ = scheme.parse(&s);
    }

    #[test]
    fn parse_never_panics_on_version_like(scheme in scheme(), s in "[0-9a-zA-Z.:~^+_!=-]{0,12}") {
        if let Ok(v) = scheme.parse(&s) {
            prop_assert_eq!(v.as_str(), s.as_str());
            prop_assert_eq!(v.scheme(), scheme);
        }
    }

    #[test]
    fn dpkg_total_order(vs in proptest::collection::vec(parsed(Scheme::Dpkg), 2..8)) { laws(vs)?; }

    #[test]
    fn apk_total_order(vs in proptest::collection::vec(parsed(Scheme::Apk), 2..8)) { laws(vs)?; }

    #[test]
    fn rpm_total_order(vs in proptest::collection::vec(parsed(Scheme::Rpm), 2..8)) { laws(vs)?; }

    #[test]
    fn pep440_total_order(vs in proptest::collection::vec(parsed(Scheme::Pep440), 2..8)) { laws(vs)?; }

    #[test]
    fn semver_total_order(vs in proptest::collection::vec(parsed(Scheme::Semver), 2..8)) { laws(vs)?; }

    #[test]
    fn go_total_order(vs in proptest::collection::vec(parsed(Scheme::Go), 2..8)) { laws(vs)?; }

    #[test]
    fn mixed_schemes_order_by_scheme(a in parsed(Scheme::Dpkg), b in parsed(Scheme::Apk)) {
        prop_assert_eq!(a.cmp(&b), Ordering::Less);
        prop_assert!(a != b);
    }
}

#[test]
fn every_scheme_accepts_zero() {
    for scheme in SCHEMES {
        assert!(scheme.parse("0").is_ok(), "{scheme} rejects \"0\"");
    }
}

#[test]
fn ecosystems() {
    let cases = [
        ("Debian", Some(Scheme::Dpkg)),
        ("Debian:12", Some(Scheme::Dpkg)),
        ("Ubuntu:22.04:LTS", Some(Scheme::Dpkg)),
        ("Ubuntu:Pro:18.04:LTS", Some(Scheme::Dpkg)),
        ("Alpine:v3.18", Some(Scheme::Apk)),
        ("Wolfi", Some(Scheme::Apk)),
        ("Chainguard", Some(Scheme::Apk)),
        ("Red Hat:enterprise_linux:9::appstream", Some(Scheme::Rpm)),
        ("Rocky Linux:9", Some(Scheme::Rpm)),
        ("AlmaLinux:8", Some(Scheme::Rpm)),
        ("openSUSE:Leap 15.5", Some(Scheme::Rpm)),
        ("SUSE:Linux Enterprise Server 15 SP5", Some(Scheme::Rpm)),
        ("PyPI", Some(Scheme::Pep440)),
        ("npm", Some(Scheme::Semver)),
        ("crates.io", Some(Scheme::Semver)),
        ("Go", Some(Scheme::Go)),
        ("Maven", None),
        ("debian", None),
        ("", None),
    ];
    for (ecosystem, want) in cases {
        assert_eq!(Scheme::for_ecosystem(ecosystem), want, "{ecosystem}");
    }
    let names: Vec<&str> = SCHEMES.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["dpkg", "apk", "rpm", "pep440", "semver", "go"]);
}

#[test]
fn error_message_names_scheme_and_version() {
    let err = Scheme::Pep440.parse("not a version").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("invalid pep440 version \"not a version\": "),
        "{text}"
    );
}
