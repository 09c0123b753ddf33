//! What changes between two scans of one image, which images a new scanner starts with, and
//! which results have outlived their retention. The scan worker calls these with what it
//! read from the store; nothing here does I/O.

use std::collections::BTreeMap;

use jiff::{Timestamp, ToSpan as _, tz::TimeZone};
use portcullis_osv::Severity;
use portcullis_scan::{Finding, Report};

use crate::model::{Problem, ProblemState, VulnerablePackage};

/// Already pushed images a new scanner scans at once (OCIR: "the four most recently pushed")
pub const INITIAL_IMAGES: usize = 4;

/// Results are kept this many months (OCIR: 13)
pub const RETENTION_MONTHS: i32 = 13;

/// A problem's name: the CVE when the advisory names one (what OCIR shows and links), else
/// the advisory's own id
fn problem_name(finding: &Finding) -> String {
    finding
        .cves
        .first()
        .cloned()
        .unwrap_or_else(|| finding.id.clone())
}

fn package_of(finding: &Finding) -> VulnerablePackage {
    VulnerablePackage {
        name: finding.package.clone(),
        version: finding.version.clone(),
        cve_fix_version: finding.fixed_version.clone(),
        kind: finding.ecosystem.clone(),
        locations: vec![format!("{} (layer {})", finding.path, finding.layer)],
    }
}

/// Folds findings into one problem per name, the most severe rating winning
fn group<'a>(
    findings: impl Iterator<Item = &'a Finding>,
    state: ProblemState,
    now: &str,
) -> BTreeMap<String, Problem> {
    let mut problems: BTreeMap<String, Problem> = BTreeMap::new();
    for finding in findings {
        let name = problem_name(finding);
        let problem = problems.entry(name.clone()).or_insert_with(|| Problem {
            name,
            description: Some(if finding.summary.is_empty() {
                format!("{} ({})", finding.id, finding.url)
            } else {
                format!("{} ({}, {})", finding.summary, finding.id, finding.url)
            }),
            severity: finding.severity,
            state,
            cve_reference: finding.cves.first().cloned(),
            time_first_detected: now.to_owned(),
            time_last_detected: now.to_owned(),
            vulnerable_packages: Vec::new(),
        });
        problem.severity = problem.severity.max(finding.severity);
        let package = package_of(finding);
        match problem.vulnerable_packages.iter_mut().find(|p| {
            p.name == package.name && p.version == package.version && p.kind == package.kind
        }) {
            Some(existing) => existing.locations.extend(package.locations),
            None => problem.vulnerable_packages.push(package),
        }
    }
    problems
}

/// The problems of a new scan at `now`, given the previous scan's. A problem found again
/// keeps when it was first seen; one the previous scan had and this one does not is `FIXED`
/// (and stays so, with its last sighting); findings an allowlist covers are
/// `NOT_APPLICABLE`. Open problems come first, most severe first.
pub fn next_problems(previous: &[Problem], report: &Report, now: &str) -> Vec<Problem> {
    let mut problems = group(report.findings.iter(), ProblemState::Open, now);
    for (name, accepted) in group(
        report.suppressed.iter().map(|s| &s.finding),
        ProblemState::NotApplicable,
        now,
    ) {
        problems.entry(name).or_insert(accepted);
    }
    for earlier in previous {
        match problems.get_mut(&earlier.name) {
            Some(problem) => problem
                .time_first_detected
                .clone_from(&earlier.time_first_detected),
            None => {
                let mut gone = earlier.clone();
                gone.state = ProblemState::Fixed;
                problems.insert(gone.name.clone(), gone);
            }
        }
    }
    let mut problems: Vec<Problem> = problems.into_values().collect();
    let order = |p: &Problem| match p.state {
        ProblemState::Open => 0,
        ProblemState::NotApplicable => 1,
        ProblemState::Fixed => 2,
    };
    problems.sort_by(|a, b| {
        order(a)
            .cmp(&order(b))
            .then_with(|| b.severity.cmp(&a.severity))
            .then_with(|| a.name.cmp(&b.name))
    });
    problems
}

/// The highest severity and the count of the open problems: a result's risk
pub fn summarize(problems: &[Problem]) -> (Severity, u32) {
    let open = problems.iter().filter(|p| p.state == ProblemState::Open);
    let highest = open
        .clone()
        .map(|p| p.severity)
        .max()
        .unwrap_or(Severity::None);
    (highest, u32::try_from(open.count()).unwrap_or(u32::MAX))
}

/// The `count` most recently pushed of `images` (digest, RFC 3339 push time), newest first;
/// images with an unreadable time come last
pub fn initial_images(images: &[(String, String)], count: usize) -> Vec<String> {
    let mut dated: Vec<(Option<Timestamp>, &String)> = images
        .iter()
        .map(|(digest, pushed)| (pushed.parse().ok(), digest))
        .collect();
    dated.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    dated
        .into_iter()
        .take(count)
        .map(|(_, digest)| digest.clone())
        .collect()
}

/// The ids of results (id, RFC 3339 finish time) older than [`RETENTION_MONTHS`] at `now`.
/// Months are calendar months in UTC, as "13 months of history" reads.
pub fn pruned(results: &[(String, String)], now: Timestamp) -> Vec<String> {
    let Ok(cutoff) = now
        .to_zoned(TimeZone::UTC)
        .checked_sub(RETENTION_MONTHS.months())
        .map(|z| z.timestamp())
    else {
        return Vec::new();
    };
    results
        .iter()
        .filter(|(_, finished)| finished.parse::<Timestamp>().is_ok_and(|t| t < cutoff))
        .map(|(id, _)| id.clone())
        .collect()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]
mod tests {
    use super::*;
    use portcullis_scan::allowlist::{AllowEntry, Suppressed};

    fn finding(
        id: &str,
        cve: Option<&str>,
        package: &str,
        severity: Severity,
        path: &str,
    ) -> Finding {
        Finding {
            id: id.into(),
            cves: cve.map(|c| vec![c.to_owned()]).unwrap_or_default(),
            aliases: Vec::new(),
            severity,
            score: None,
            severity_source: String::new(),
            summary: format!("{id} summary"),
            url: format!("https://osv.dev/vulnerability/{id}"),
            ecosystem: "npm".into(),
            package: package.into(),
            version: "1.0.0".into(),
            source_package: None,
            fixed_version: Some("1.0.1".into()),
            path: path.into(),
            layer: "sha256:l1".into(),
        }
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            findings,
            ..Report::default()
        }
    }

    #[test]
    fn findings_become_one_problem_per_vulnerability() {
        let problems = next_problems(
            &[],
            &report(vec![
                finding(
                    "GHSA-1",
                    Some("CVE-2020-1"),
                    "a",
                    Severity::Medium,
                    "x/a/package.json",
                ),
                finding(
                    "GHSA-1",
                    Some("CVE-2020-1"),
                    "a",
                    Severity::High,
                    "y/a/package.json",
                ),
                finding(
                    "GHSA-1",
                    Some("CVE-2020-1"),
                    "b",
                    Severity::Medium,
                    "x/b/package.json",
                ),
                finding("RUSTSEC-2021-1", None, "c", Severity::Unknown, "Cargo.lock"),
            ]),
            "2026-01-01T00:00:00Z",
        );
        assert_eq!(problems.len(), 2);
        let cve = &problems[0];
        assert_eq!(
            (cve.name.as_str(), cve.severity, cve.state),
            ("CVE-2020-1", Severity::High, ProblemState::Open)
        );
        assert_eq!(cve.cve_reference.as_deref(), Some("CVE-2020-1"));
        assert_eq!(
            cve.vulnerable_packages.len(),
            2,
            "{:?}",
            cve.vulnerable_packages
        );
        assert_eq!(cve.vulnerable_packages[0].locations.len(), 2);
        assert_eq!(problems[1].name, "RUSTSEC-2021-1");
        assert_eq!(problems[1].cve_reference, None);
        assert_eq!(summarize(&problems), (Severity::High, 2));
    }

    #[test]
    fn a_problem_keeps_its_first_sighting_and_turns_fixed_when_gone() {
        let first = next_problems(
            &[],
            &report(vec![
                finding("GHSA-1", Some("CVE-2020-1"), "a", Severity::High, "p"),
                finding("GHSA-2", Some("CVE-2020-2"), "a", Severity::Critical, "p"),
            ]),
            "2026-01-01T00:00:00Z",
        );
        let second = next_problems(
            &first,
            &report(vec![finding(
                "GHSA-1",
                Some("CVE-2020-1"),
                "a",
                Severity::High,
                "p",
            )]),
            "2026-02-01T00:00:00Z",
        );
        assert_eq!(second.len(), 2);
        assert_eq!(second[0].name, "CVE-2020-1");
        assert_eq!(second[0].time_first_detected, "2026-01-01T00:00:00Z");
        assert_eq!(second[0].time_last_detected, "2026-02-01T00:00:00Z");
        assert_eq!(
            (second[1].name.as_str(), second[1].state),
            ("CVE-2020-2", ProblemState::Fixed)
        );
        assert_eq!(second[1].time_last_detected, "2026-01-01T00:00:00Z");
        assert_eq!(summarize(&second), (Severity::High, 1));
        // Fixed stays fixed; found again, it is open with its first sighting.
        let third = next_problems(&second, &report(vec![]), "2026-03-01T00:00:00Z");
        assert!(third.iter().all(|p| p.state == ProblemState::Fixed));
        assert_eq!(summarize(&third), (Severity::None, 0));
        let fourth = next_problems(
            &third,
            &report(vec![finding(
                "GHSA-2",
                Some("CVE-2020-2"),
                "a",
                Severity::Critical,
                "p",
            )]),
            "2026-04-01T00:00:00Z",
        );
        let again = fourth.iter().find(|p| p.name == "CVE-2020-2").unwrap();
        assert_eq!(
            (again.state, again.time_first_detected.as_str()),
            (ProblemState::Open, "2026-01-01T00:00:00Z")
        );
    }

    #[test]
    fn allowlisted_findings_are_not_applicable_and_do_not_count() {
        let mut scanned = report(vec![finding(
            "GHSA-1",
            Some("CVE-2020-1"),
            "a",
            Severity::High,
            "p",
        )]);
        scanned.suppressed.push(Suppressed {
            finding: finding("GHSA-9", Some("CVE-2020-9"), "a", Severity::Critical, "p"),
            entry: AllowEntry {
                id: "CVE-2020-9".into(),
                package: None,
                expires: "2999-01-01T00:00:00Z".into(),
                author: "alice".into(),
                reason: "not reachable".into(),
            },
        });
        let problems = next_problems(&[], &scanned, "2026-01-01T00:00:00Z");
        assert_eq!(problems[1].state, ProblemState::NotApplicable);
        assert_eq!(summarize(&problems), (Severity::High, 1));
    }

    #[test]
    fn the_most_recently_pushed_images_come_first() {
        let images: Vec<(String, String)> = [
            ("sha256:a", "2026-01-01T00:00:00Z"),
            ("sha256:b", "2026-03-01T00:00:00Z"),
            ("sha256:c", "not a time"),
            ("sha256:d", "2026-02-01T00:00:00Z"),
            ("sha256:e", "2026-04-01T00:00:00Z"),
            ("sha256:f", "2025-12-01T00:00:00Z"),
        ]
        .iter()
        .map(|(d, t)| ((*d).to_owned(), (*t).to_owned()))
        .collect();
        assert_eq!(
            initial_images(&images, INITIAL_IMAGES),
            ["sha256:e", "sha256:b", "sha256:d", "sha256:a"]
        );
        assert_eq!(
            initial_images(&images, 10).last().map(String::as_str),
            Some("sha256:c")
        );
    }

    #[test]
    fn results_older_than_thirteen_calendar_months_are_pruned() {
        let now: Timestamp = "2027-03-31T12:00:00Z".parse().unwrap();
        let results: Vec<(String, String)> = [
            ("kept-just-inside", "2026-02-28T12:00:01Z"),
            ("gone-just-outside", "2026-02-28T11:59:59Z"),
            ("gone-old", "2024-01-01T00:00:00Z"),
            ("kept-new", "2027-03-01T00:00:00Z"),
        ]
        .iter()
        .map(|(i, t)| ((*i).to_owned(), (*t).to_owned()))
        .collect();
        assert_eq!(pruned(&results, now), ["gone-just-outside", "gone-old"]);
    }
}
