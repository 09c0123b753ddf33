//! The part of the OSV schema (1.7) a scanner reads. Unknown fields are ignored, so newer
//! records still load; what the schema requires of ranges and events is checked, so a broken
//! record is refused whole instead of matching wrongly.

use serde::{Deserialize, Serialize};

/// Why a record was refused
#[derive(Debug, thiserror::Error)]
pub enum OsvError {
    /// Not JSON, or JSON of the wrong shape
    #[error("not an OSV record: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON of the right shape that breaks a rule of the schema
    #[error("OSV record {id}: {reason}")]
    Invalid {
        /// The record's id, or `?` when it has none
        id: String,
        /// The rule it breaks
        reason: String,
    },
}

/// One advisory
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// `<DB>-<ENTRYID>`, e.g. `GHSA-…`, `PYSEC-…`, `DEBIAN-CVE-…`
    pub id: String,
    /// RFC 3339; a newer `modified` replaces the stored record on import
    pub modified: String,
    /// RFC 3339
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// RFC 3339; a withdrawn record no longer matches anything
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// Other ids of the same vulnerability (CVE, GHSA, …)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Ids this record was derived from (Debian and Alpine name their CVE here)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    /// Related but different vulnerabilities (for example a DSA)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    /// One line
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Markdown
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Scores for the whole record (absent when the affected entries carry their own)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<Score>,
    /// The packages and versions it concerns
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    /// Links
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// Free-form data of the source database (GHSA keeps its own severity here)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// A severity score: a CVSS vector or an ecosystem's own rating
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector or rating
    pub score: String,
}

/// A link
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// `ADVISORY`, `WEB`, `FIX`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The address
    pub url: String,
}

/// One affected package and the versions of it the record covers
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// Absent only for records that name commits, not packages
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    /// Scores for this package only
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<Score>,
    /// Affected if in any range …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    /// … or in this list
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// Free-form data of the ecosystem
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
    /// Free-form data of the source database (RustSec marks informational notices here)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

impl Affected {
    /// RustSec's notices (unmaintained, unsound, …): worth knowing, not a vulnerability
    /// in a version, so scanners leave them out, as Trivy and Grype do.
    pub fn is_informational(&self) -> bool {
        self.database_specific
            .as_ref()
            .and_then(|d| d.get("informational"))
            .is_some_and(|v| !v.is_null())
    }
}

/// A package in an ecosystem
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// `Debian:12`, `Alpine:v3.18`, `PyPI`, `npm`, `crates.io`, `Go`, …
    pub ecosystem: String,
    /// As the ecosystem names it (Debian and Alpine: the source package)
    pub name: String,
    /// The package URL without a version
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// How a range's versions are ordered
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RangeKind {
    /// SemVer 2.0 precedence
    Semver,
    /// The ecosystem's own order
    Ecosystem,
    /// Commits of a repository: not matched against installed versions
    Git,
}

/// A range of versions, as a sequence of events
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// The order its versions follow
    #[serde(rename = "type")]
    pub kind: RangeKind,
    /// The repository of a `GIT` range
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// Introduced, fixed, last affected and limit events
    pub events: Vec<Event>,
}

/// One event of a range: an object with exactly one key
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EventObject", into = "EventObject")]
pub enum Event {
    /// Vulnerable from this version on (`"0"`: from the first)
    Introduced(String),
    /// Not vulnerable from this version on
    Fixed(String),
    /// Vulnerable up to and including this version
    LastAffected(String),
    /// Only versions below this one are considered (`"*"`: no limit)
    Limit(String),
}

#[derive(Serialize, Deserialize)]
struct EventObject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_affected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<String>,
}

impl TryFrom<EventObject> for Event {
    type Error = String;

    fn try_from(object: EventObject) -> Result<Event, String> {
        match (
            object.introduced,
            object.fixed,
            object.last_affected,
            object.limit,
        ) {
            (Some(v), None, None, None) => Ok(Event::Introduced(v)),
            (None, Some(v), None, None) => Ok(Event::Fixed(v)),
            (None, None, Some(v), None) => Ok(Event::LastAffected(v)),
            (None, None, None, Some(v)) => Ok(Event::Limit(v)),
            _ => Err(
                "an event must have exactly one of introduced, fixed, last_affected, limit".into(),
            ),
        }
    }
}

impl From<Event> for EventObject {
    fn from(event: Event) -> EventObject {
        let mut object = EventObject {
            introduced: None,
            fixed: None,
            last_affected: None,
            limit: None,
        };
        match event {
            Event::Introduced(v) => object.introduced = Some(v),
            Event::Fixed(v) => object.fixed = Some(v),
            Event::LastAffected(v) => object.last_affected = Some(v),
            Event::Limit(v) => object.limit = Some(v),
        }
        object
    }
}

impl Record {
    /// Parses one record and checks the rules of the schema a matcher depends on
    pub fn parse(bytes: &[u8]) -> Result<Record, OsvError> {
        let record: Record = serde_json::from_slice(bytes)?;
        record.validate()?;
        Ok(record)
    }

    fn validate(&self) -> Result<(), OsvError> {
        let invalid = |reason: String| OsvError::Invalid {
            id: if self.id.is_empty() {
                "?".into()
            } else {
                self.id.clone()
            },
            reason,
        };
        if self.id.is_empty()
            || self.id.len() > 256
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:+".contains(c))
        {
            return Err(invalid(format!("the id {:?} is not an OSV id", self.id)));
        }
        for (field, value) in [
            ("modified", Some(&self.modified)),
            ("published", self.published.as_ref()),
            ("withdrawn", self.withdrawn.as_ref()),
        ] {
            if let Some(value) = value
                && value.parse::<jiff::Timestamp>().is_err()
            {
                return Err(invalid(format!(
                    "{field} {value:?} is not an RFC 3339 time"
                )));
            }
        }
        for affected in &self.affected {
            if let Some(package) = &affected.package {
                if package.ecosystem.is_empty() || package.name.is_empty() {
                    return Err(invalid("a package needs an ecosystem and a name".into()));
                }
                // The database keys packages by these strings with separators between them.
                if [&package.ecosystem, &package.name]
                    .iter()
                    .any(|s| s.chars().any(char::is_control))
                {
                    return Err(invalid(
                        "package names and ecosystems may not hold control characters".into(),
                    ));
                }
            }
            for range in &affected.ranges {
                if !range
                    .events
                    .iter()
                    .any(|e| matches!(e, Event::Introduced(_)))
                {
                    return Err(invalid("a range needs an introduced event".into()));
                }
                let fixed = range.events.iter().any(|e| matches!(e, Event::Fixed(_)));
                let last = range
                    .events
                    .iter()
                    .any(|e| matches!(e, Event::LastAffected(_)));
                if fixed && last {
                    return Err(invalid(
                        "a range may not have both fixed and last_affected events".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The CVE ids this record is about: its own id, its aliases and upstream ids
    pub fn cves(&self) -> Vec<&str> {
        let mut cves: Vec<&str> = std::iter::once(self.id.as_str())
            .chain(self.aliases.iter().map(String::as_str))
            .chain(self.upstream.iter().map(String::as_str))
            .filter_map(|id| {
                // Debian's and Alpine's records are `DEBIAN-CVE-…` and `ALPINE-CVE-…`.
                id.find("CVE-").and_then(|at| id.get(at..))
            })
            .collect();
        cves.sort_unstable();
        cves.dedup();
        cves
    }

    /// Whether the record has been withdrawn
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }

    /// The address to read the advisory at
    pub fn url(&self) -> String {
        if let Some(url) = self
            .database_specific
            .as_ref()
            .and_then(|d| d.get("url"))
            .and_then(|u| u.as_str())
        {
            return url.to_owned();
        }
        match self.references.iter().find(|r| r.kind == "ADVISORY") {
            Some(reference) => reference.url.clone(),
            None => format!("https://osv.dev/vulnerability/{}", self.id),
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"id":"PYSEC-2021-1","modified":"2021-08-27T03:22:48.421612Z",
        "aliases":["CVE-2021-1","GHSA-aaaa-bbbb-cccc"],"credits":[{"name":"ignored"}],
        "affected":[{"package":{"ecosystem":"PyPI","name":"Pillow"},
          "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"8.2.0"}]}],
          "versions":["8.1.0"]}]}"#;

    #[test]
    fn a_record_parses_and_round_trips_in_osv_form() {
        let record = Record::parse(RECORD.as_bytes()).unwrap();
        assert_eq!(
            record.affected[0].ranges[0].events[1],
            Event::Fixed("8.2.0".into())
        );
        assert_eq!(record.cves(), vec!["CVE-2021-1"]);
        let again = Record::parse(serde_json::to_string(&record).unwrap().as_bytes()).unwrap();
        assert_eq!(again, record);
        assert!(
            serde_json::to_string(&record)
                .unwrap()
                .contains(r#"{"fixed":"8.2.0"}"#)
        );
    }

    #[test]
    fn broken_records_are_refused_with_a_reason() {
        for (record, expected) in [
            (r#"{"id":"X-1"}"#, "not an OSV record"),
            (
                r#"{"id":"X 1","modified":"2021-01-01T00:00:00Z"}"#,
                "not an OSV id",
            ),
            (r#"{"id":"X-1","modified":"yesterday"}"#, "RFC 3339"),
            (
                r#"{"id":"X-1","modified":"2021-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"fixed":"1.0.0"}]}]}]}"#,
                "introduced",
            ),
            (
                r#"{"id":"X-1","modified":"2021-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0.0"}]}]}]}"#,
                "exactly one",
            ),
            (
                r#"{"id":"X-1","modified":"2021-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1"},{"last_affected":"2"}]}]}]}"#,
                "both fixed and last_affected",
            ),
            (
                r#"{"id":"X-1","modified":"2021-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SVN","events":[{"introduced":"0"}]}]}]}"#,
                "not an OSV record",
            ),
        ] {
            let error = Record::parse(record.as_bytes()).unwrap_err().to_string();
            assert!(error.contains(expected), "{record}: {error}");
        }
    }

    #[test]
    fn cves_come_from_ids_aliases_and_upstream() {
        let record = Record::parse(
            br#"{"id":"DEBIAN-CVE-2023-0001","modified":"2023-07-14T07:39:10Z","upstream":["CVE-2023-0001"],"related":["DSA-1"]}"#,
        )
        .unwrap();
        assert_eq!(record.cves(), vec!["CVE-2023-0001"]);
        assert_eq!(
            record.url(),
            "https://osv.dev/vulnerability/DEBIAN-CVE-2023-0001"
        );
    }

    proptest::proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = Record::parse(&bytes);
        }

        #[test]
        fn parsing_mutated_records_never_panics(at in 0usize..600, byte in proptest::num::u8::ANY) {
            let mut bytes = RECORD.as_bytes().to_vec();
            if let Some(b) = bytes.get_mut(at % RECORD.len()) {
                *b = byte;
            }
            let _ = Record::parse(&bytes);
        }
    }
}
