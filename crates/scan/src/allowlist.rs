//! Accepted risks: advisories a team has looked at and chosen to live with for a while.
//! Every entry says who accepted it, why, and until when; an expired entry stops applying
//! and is reported, and so is an entry that no longer matches anything, so the list does not
//! silently rot (what Harbor, Trivy and Grype users ask for).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Finding, Report};

/// One accepted advisory
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowEntry {
    /// The advisory id or any of its aliases (`CVE-2023-1234`, `GHSA-…`)
    pub id: String,
    /// Only findings in this package (any package when absent)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// RFC 3339; the entry stops applying then
    pub expires: String,
    /// Who accepted the risk
    pub author: String,
    /// Why
    pub reason: String,
}

/// A list of accepted advisories
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Allowlist {
    /// The entries
    #[serde(default)]
    pub entries: Vec<AllowEntry>,
}

/// Why an allowlist was refused
#[derive(Debug, thiserror::Error)]
pub enum AllowlistError {
    /// An entry is incomplete or its expiry is not a time
    #[error("allowlist entry {index} ({id:?}): {reason}")]
    Entry {
        /// Its position, from 0
        index: usize,
        /// Its advisory id
        id: String,
        /// What is wrong
        reason: String,
    },
}

/// A finding the allowlist covers, and the entry that covers it
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suppressed {
    /// The finding
    pub finding: Finding,
    /// The entry
    pub entry: AllowEntry,
}

impl Allowlist {
    /// Checks every entry: an id, an author, a reason and an RFC 3339 expiry are required,
    /// because an acceptance nobody can trace back is worse than none
    pub fn validate(&self) -> Result<(), AllowlistError> {
        for (index, entry) in self.entries.iter().enumerate() {
            let problem = |reason: &str| AllowlistError::Entry {
                index,
                id: entry.id.clone(),
                reason: reason.to_owned(),
            };
            if entry.id.trim().is_empty() {
                return Err(problem("an entry needs an advisory id"));
            }
            if entry.author.trim().is_empty() {
                return Err(problem("an entry needs an author"));
            }
            if entry.reason.trim().is_empty() {
                return Err(problem("an entry needs a reason"));
            }
            if entry.expires.parse::<Timestamp>().is_err() {
                return Err(problem(
                    "expires must be an RFC 3339 time, e.g. 2027-01-31T00:00:00Z",
                ));
            }
        }
        Ok(())
    }

    fn covers(entry: &AllowEntry, finding: &Finding) -> bool {
        let names_it = entry.id == finding.id
            || finding
                .cves
                .iter()
                .chain(&finding.aliases)
                .any(|id| *id == entry.id);
        // PyPI spells one package several ways; compare as the ecosystem does.
        let package = |name: &str| portcullis_osv::normalize_name(&finding.ecosystem, name);
        names_it
            && entry
                .package
                .as_ref()
                .is_none_or(|p| package(p) == package(&finding.package))
    }

    /// Moves the findings live entries cover out of `report.findings` into
    /// `report.suppressed`, and warns in the report about expired entries and entries that
    /// match nothing
    pub fn apply(&self, report: &mut Report, now: Timestamp) {
        let live: Vec<&AllowEntry> = self
            .entries
            .iter()
            .filter(|e| e.expires.parse::<Timestamp>().is_ok_and(|t| t > now))
            .collect();
        let mut suppressed = Vec::new();
        let mut kept = Vec::with_capacity(report.findings.len());
        for finding in std::mem::take(&mut report.findings) {
            match live.iter().find(|e| Self::covers(e, &finding)) {
                Some(entry) => suppressed.push(Suppressed {
                    finding,
                    entry: (*entry).clone(),
                }),
                None => kept.push(finding),
            }
        }
        report.findings = kept;
        for entry in &self.entries {
            let expired = !live.contains(&entry);
            let matches = report.findings.iter().any(|f| Self::covers(entry, f))
                || suppressed.iter().any(|s| Self::covers(entry, &s.finding));
            if expired && matches {
                report.warnings.push(format!(
                    "allowlist entry {} (by {}) expired at {} and no longer applies",
                    entry.id, entry.author, entry.expires
                ));
            } else if expired {
                report.warnings.push(format!(
                    "allowlist entry {} (by {}) expired at {}; it matches nothing now and can go",
                    entry.id, entry.author, entry.expires
                ));
            } else if !matches {
                report.warnings.push(format!(
                    "allowlist entry {} (by {}) matches no finding; it can go",
                    entry.id, entry.author
                ));
            }
        }
        report.suppressed.extend(suppressed);
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
    use portcullis_osv::Severity;

    fn finding(id: &str, cve: &str, package: &str) -> Finding {
        Finding {
            id: id.into(),
            cves: vec![cve.into()],
            aliases: Vec::new(),
            severity: Severity::High,
            score: None,
            severity_source: String::new(),
            summary: String::new(),
            url: String::new(),
            ecosystem: "npm".into(),
            package: package.into(),
            version: "1.0.0".into(),
            source_package: None,
            fixed_version: None,
            path: "p".into(),
            layer: "l".into(),
        }
    }

    fn entry(id: &str, package: Option<&str>, expires: &str) -> AllowEntry {
        AllowEntry {
            id: id.into(),
            package: package.map(str::to_owned),
            expires: expires.into(),
            author: "alice".into(),
            reason: "not reachable".into(),
        }
    }

    #[test]
    fn live_entries_suppress_by_id_or_alias_and_expired_ones_are_reported() {
        let now: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let mut report = Report {
            findings: vec![
                finding("GHSA-1", "CVE-2020-1", "lodash"),
                finding("GHSA-2", "CVE-2020-2", "qs"),
                finding("GHSA-3", "CVE-2020-3", "qs"),
                finding("GHSA-4", "CVE-2020-4", "marked"),
            ],
            ..Report::default()
        };
        let list = Allowlist {
            entries: vec![
                entry("CVE-2020-1", None, "2027-01-01T00:00:00Z"),
                entry("GHSA-2", Some("qs"), "2027-01-01T00:00:00Z"),
                entry("GHSA-3", Some("other"), "2027-01-01T00:00:00Z"),
                entry("GHSA-4", None, "2026-01-01T00:00:00Z"),
                entry("CVE-1999-0001", None, "2027-01-01T00:00:00Z"),
            ],
        };
        list.validate().unwrap();
        list.apply(&mut report, now);
        let ids: Vec<&str> = report
            .suppressed
            .iter()
            .map(|s| s.finding.id.as_str())
            .collect();
        assert_eq!(ids, ["GHSA-1", "GHSA-2"]);
        let kept: Vec<&str> = report.findings.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(kept, ["GHSA-3", "GHSA-4"]);
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains("GHSA-4") && w.contains("no longer applies"))
        );
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains("CVE-1999-0001") && w.contains("matches no finding"))
        );
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains("GHSA-3") && w.contains("matches no finding"))
        );
    }

    #[test]
    fn incomplete_entries_are_refused() {
        for (bad, expected) in [
            (entry("", None, "2027-01-01T00:00:00Z"), "advisory id"),
            (
                AllowEntry {
                    author: " ".into(),
                    ..entry("X", None, "2027-01-01T00:00:00Z")
                },
                "author",
            ),
            (
                AllowEntry {
                    reason: String::new(),
                    ..entry("X", None, "2027-01-01T00:00:00Z")
                },
                "reason",
            ),
            (entry("X", None, "next year"), "RFC 3339"),
        ] {
            let error = Allowlist { entries: vec![bad] }
                .validate()
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error}");
        }
    }
}
