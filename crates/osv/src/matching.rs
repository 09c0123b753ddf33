//! Whether an installed version is one an advisory covers, by OSV's evaluation rules
//! (schema.md "Evaluation"), in the order of the package's ecosystem.

use portcullis_version::{Scheme, Version, VersionError};

use crate::record::{Affected, Event, Range, RangeKind};

/// Why a version could not be checked against an affected entry
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    /// No version order is known for the ecosystem
    #[error("no version order is known for the ecosystem {0:?}")]
    UnsupportedEcosystem(String),
    /// The installed version, or a version in the advisory, does not parse
    #[error(transparent)]
    Version(#[from] VersionError),
}

/// Whether `version` of the entry's package is affected: in any `SEMVER` or `ECOSYSTEM`
/// range, or listed in `versions`. `GIT` ranges name commits and never match a version.
///
/// A range whose own versions do not parse is skipped; if nothing else matched, its error
/// is returned so the caller can warn instead of silently reporting nothing.
pub fn affects(affected: &Affected, version: &str) -> Result<bool, MatchError> {
    let ecosystem = affected
        .package
        .as_ref()
        .map(|p| p.ecosystem.as_str())
        .unwrap_or_default();
    let scheme = Scheme::for_ecosystem(ecosystem)
        .ok_or_else(|| MatchError::UnsupportedEcosystem(ecosystem.to_owned()))?;
    // Listed exactly: a match even when the version means nothing to the ecosystem's order.
    if affected.versions.iter().any(|listed| listed == version) {
        return Ok(true);
    }
    let installed = scheme.parse(version)?;
    if affected
        .versions
        .iter()
        .any(|listed| scheme.parse(listed).is_ok_and(|v| v == installed))
    {
        return Ok(true);
    }
    let mut skipped = None;
    for range in &affected.ranges {
        let order = match range.kind {
            RangeKind::Git => continue,
            RangeKind::Ecosystem => scheme,
            // SEMVER ranges are SemVer 2.0 whatever the ecosystem; Go's scheme is SemVer
            // that also reads Go's `v` prefixes and toolchain versions.
            RangeKind::Semver if scheme == Scheme::Go => Scheme::Go,
            RangeKind::Semver => Scheme::Semver,
        };
        let installed = if order == scheme {
            installed.clone()
        } else {
            match order.parse(version) {
                Ok(v) => v,
                Err(e) => {
                    skipped.get_or_insert(MatchError::from(e));
                    continue;
                }
            }
        };
        match in_range(range, order, &installed) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) => {
                skipped.get_or_insert(MatchError::from(e));
            }
        }
    }
    match skipped {
        Some(error) => Err(error),
        None => Ok(false),
    }
}

/// The lowest `fixed` version above `version` in the entry's ranges: what to upgrade to.
/// `None` when no fix is known (or the versions do not parse).
pub fn fixed_in(affected: &Affected, version: &str) -> Option<String> {
    let ecosystem = affected.package.as_ref()?.ecosystem.as_str();
    let scheme = Scheme::for_ecosystem(ecosystem)?;
    let installed = scheme.parse(version).ok()?;
    affected
        .ranges
        .iter()
        .filter(|r| r.kind != RangeKind::Git)
        .flat_map(|r| r.events.iter())
        .filter_map(|event| match event {
            Event::Fixed(fixed) => Some(fixed),
            _ => None,
        })
        .filter_map(|fixed| Some((scheme.parse(fixed).ok()?, fixed)))
        .filter(|(parsed, _)| *parsed > installed)
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, fixed)| fixed.clone())
}

/// The position of an event in the range's order: `introduced: "0"` comes first
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum At {
    Start,
    Version(Version),
}

fn in_range(range: &Range, order: Scheme, v: &Version) -> Result<bool, VersionError> {
    let mut limits = Vec::new();
    let mut events = Vec::with_capacity(range.events.len());
    for event in &range.events {
        match event {
            Event::Limit(limit) if limit == "*" => limits.push(None),
            Event::Limit(limit) => limits.push(Some(order.parse(limit)?)),
            Event::Introduced(at) if at == "0" => events.push((At::Start, event)),
            Event::Introduced(at) | Event::Fixed(at) | Event::LastAffected(at) => {
                events.push((At::Version(order.parse(at)?), event));
            }
        }
    }
    if !limits.is_empty()
        && !limits
            .iter()
            .any(|limit| limit.as_ref().is_none_or(|l| v < l))
    {
        return Ok(false);
    }
    // The schema leaves the order of events at one version open; a fixed order (introduced,
    // then last_affected, then fixed) makes the answer independent of how a record lists
    // them: `introduced X, fixed X` covers nothing, `introduced X, last_affected X` covers X.
    let rank = |event: &Event| match event {
        Event::Introduced(_) => 0,
        Event::LastAffected(_) => 1,
        Event::Fixed(_) | Event::Limit(_) => 2,
    };
    events.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| rank(a.1).cmp(&rank(b.1))));
    let mut vulnerable = false;
    for (at, event) in events {
        let reached = match &at {
            At::Start => true,
            At::Version(at) => v >= at,
        };
        match event {
            Event::Introduced(_) if reached => vulnerable = true,
            Event::Fixed(_) if reached => vulnerable = false,
            Event::LastAffected(_) if matches!(&at, At::Version(last) if v > last) => {
                vulnerable = false;
            }
            _ => {}
        }
    }
    Ok(vulnerable)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]
mod tests {
    use super::*;
    use crate::record::Record;

    fn entry(ecosystem: &str, ranges: &str, versions: &str) -> Affected {
        let record = format!(
            r#"{{"id":"T-1","modified":"2024-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"{ecosystem}","name":"p"}},"ranges":{ranges},"versions":{versions}}}]}}"#
        );
        Record::parse(record.as_bytes()).unwrap().affected.remove(0)
    }

    #[test]
    fn introduced_and_fixed_bound_the_range_in_the_ecosystems_order() {
        let debian = entry(
            "Debian:12",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2.1-2.2+deb12u3"}]}]"#,
            "[]",
        );
        assert!(affects(&debian, "1.2.1-2.2+deb12u2").unwrap());
        assert!(affects(&debian, "1.2.1-2.2").unwrap());
        assert!(!affects(&debian, "1.2.1-2.2+deb12u3").unwrap());
        assert!(!affects(&debian, "1:0.1").unwrap(), "an epoch sorts above");
        let pypi = entry(
            "PyPI",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"fixed":"1.0.3"},{"introduced":"2.0rc1"},{"fixed":"2.1"}]}]"#,
            "[]",
        );
        for (version, expected) in [
            ("0.9", false),
            ("1.0", true),
            ("1.0.3", false),
            ("2.0b9", false),
            ("2.0rc1", true),
            ("2.0.post1", true),
            ("2.1", false),
        ] {
            assert_eq!(affects(&pypi, version).unwrap(), expected, "{version}");
        }
    }

    #[test]
    fn last_affected_includes_its_version_and_limit_caps_the_range() {
        let npm = entry(
            "npm",
            r#"[{"type":"SEMVER","events":[{"introduced":"0"},{"last_affected":"0.4.0"}]}]"#,
            "[]",
        );
        assert!(affects(&npm, "0.4.0").unwrap());
        assert!(!affects(&npm, "0.4.1").unwrap());
        let limited = entry(
            "crates.io",
            r#"[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"limit":"1.5.0"}]}]"#,
            "[]",
        );
        assert!(affects(&limited, "1.4.9").unwrap());
        assert!(!affects(&limited, "1.5.0").unwrap());
    }

    #[test]
    fn listed_versions_match_and_git_ranges_never_do() {
        let listed = entry(
            "PyPI",
            r#"[{"type":"GIT","repo":"https://example.com/r","events":[{"introduced":"0"},{"fixed":"abc"}]}]"#,
            r#"["1.0", "1.1"]"#,
        );
        assert!(affects(&listed, "1.1").unwrap());
        assert!(affects(&listed, "1.1.0").unwrap(), "PEP 440: 1.1 == 1.1.0");
        assert!(!affects(&listed, "1.2").unwrap());
    }

    #[test]
    fn events_at_one_version_mean_the_same_in_any_order() {
        for events in [
            r#"[{"introduced":"1.0.0"},{"fixed":"1.0.0"}]"#,
            r#"[{"fixed":"1.0.0"},{"introduced":"1.0.0"}]"#,
        ] {
            let npm = entry(
                "npm",
                &format!(r#"[{{"type":"SEMVER","events":{events}}}]"#),
                "[]",
            );
            assert!(!affects(&npm, "1.0.0").unwrap(), "{events}");
            assert!(!affects(&npm, "2.0.0").unwrap(), "{events}");
        }
        for events in [
            r#"[{"introduced":"1.0.0"},{"last_affected":"1.0.0"}]"#,
            r#"[{"last_affected":"1.0.0"},{"introduced":"1.0.0"}]"#,
        ] {
            let npm = entry(
                "npm",
                &format!(r#"[{{"type":"SEMVER","events":{events}}}]"#),
                "[]",
            );
            assert!(affects(&npm, "1.0.0").unwrap(), "{events}");
            assert!(!affects(&npm, "1.0.1").unwrap(), "{events}");
        }
        let listed = entry("Go", "[]", r#"["(devel)"]"#);
        assert!(
            affects(&listed, "(devel)").unwrap(),
            "an exact listing needs no parse"
        );
    }

    #[test]
    fn go_ranges_read_v_prefixed_versions() {
        let go = entry(
            "Go",
            r#"[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.9.3"},{"introduced":"1.10.0"},{"fixed":"1.10.1"}]}]"#,
            "[]",
        );
        assert!(affects(&go, "v1.9.2").unwrap());
        assert!(!affects(&go, "v1.9.3").unwrap());
        assert!(affects(&go, "v1.10.0").unwrap());
        assert!(!affects(&go, "v1.10.1").unwrap());
        assert_eq!(fixed_in(&go, "v1.9.2").as_deref(), Some("1.9.3"));
        assert_eq!(fixed_in(&go, "v1.10.0").as_deref(), Some("1.10.1"));
        assert_eq!(fixed_in(&go, "v1.10.1"), None);
    }

    #[test]
    fn unknown_ecosystems_and_broken_versions_are_errors_not_silence() {
        let other = entry(
            "Hackage",
            r#"[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]"#,
            "[]",
        );
        assert!(matches!(
            affects(&other, "1"),
            Err(MatchError::UnsupportedEcosystem(_))
        ));
        let broken = entry(
            "npm",
            r#"[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"not a version"}]}]"#,
            "[]",
        );
        assert!(affects(&broken, "1.0.0").is_err());
    }
}
