//! Vulnerability scanning of container images. The layers are applied in order (with
//! whiteouts), the package databases still present are read, and every package is matched
//! against the advisory database in its ecosystem's own version order.
//!
//! The layer walker never writes to disk or follows a link; files are read into memory up to
//! [`layers::MAX_FILE_BYTES`] each and parsed at once, so memory stays bounded by the
//! largest database, not by the image.

pub mod allowlist;
pub mod image;
pub mod layers;
pub mod sarif;

use std::collections::{BTreeMap, BTreeSet};

use portcullis_osv::{EcosystemKey, Severity};
use portcullis_packages::Ecosystem;
use portcullis_vulndb::VulnDb;
use serde::{Deserialize, Serialize};

pub use layers::{Installed, Inventory, Layers};

/// What went wrong
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The image could not be read
    #[error("cannot read the image: {0}")]
    Image(String),
    /// The advisory database failed
    #[error(transparent)]
    Database(#[from] portcullis_vulndb::VulnDbError),
}

/// One vulnerability in one package of the image
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The advisory (`GHSA-…`, `PYSEC-…`, `DEBIAN-CVE-…`)
    pub id: String,
    /// The CVE ids it is about
    pub cves: Vec<String>,
    /// Every other id of the same vulnerability (GHSA, PYSEC, …)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Its severity
    pub severity: Severity,
    /// The CVSS base score, when a vector gave it
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The vector, or where the severity came from
    pub severity_source: String,
    /// One line
    pub summary: String,
    /// Where to read the advisory
    pub url: String,
    /// The OSV ecosystem the advisory was matched in (`Debian:12`, `PyPI`, …)
    pub ecosystem: String,
    /// The installed package
    pub package: String,
    /// Its installed version
    pub version: String,
    /// The source package the advisory names, when it differs from the package
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_package: Option<String>,
    /// The lowest version that fixes it, when known
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// The file the package was read from
    pub path: String,
    /// The layer that put that file there
    pub layer: String,
}

/// The result of one scan
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `PRETTY_NAME` of the image's OS, when it has one
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// The OSV ecosystem of its OS packages (`Debian:12`)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_ecosystem: Option<String>,
    /// Packages found
    pub packages: usize,
    /// Findings, most severe first
    pub findings: Vec<Finding>,
    /// What could not be read or matched: the result is partial there
    pub warnings: Vec<String>,
    /// The advisory database generation the findings come from
    pub database_generation: u64,
    /// Findings an allowlist entry covers, with the entry: left out of `findings`, kept in
    /// the report so acceptances stay visible
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<allowlist::Suppressed>,
}

impl Report {
    /// The most severe finding's severity, `NONE` without findings
    pub fn highest(&self) -> Severity {
        self.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::None)
    }
}

/// The advisory ecosystem and package name an installed package is looked up under, and
/// the version to compare. Debian and Alpine advisories name source packages.
pub fn lookup_key(
    installed: &Installed,
    os_ecosystem: Option<&str>,
) -> Option<(EcosystemKey, String)> {
    let package = &installed.package;
    let (ecosystem, name, version) = match package.ecosystem {
        Ecosystem::Rpm => (
            os_ecosystem?.to_owned(),
            package
                .source
                .as_ref()
                .map_or(package.name.as_str(), |s| s.name.as_str()),
            // The source rpm's file name carries no epoch; the binary's version does.
            package.version.as_str(),
        ),
        Ecosystem::Debian | Ecosystem::Alpine => {
            let source = package.source.as_ref();
            (
                os_ecosystem?.to_owned(),
                source.map_or(package.name.as_str(), |s| s.name.as_str()),
                // Debian's binNMUs (`+b1`) carry the source version in `Source:`.
                source
                    .and_then(|s| s.version.as_deref())
                    .unwrap_or(package.version.as_str()),
            )
        }
        Ecosystem::PyPI => (
            "PyPI".to_owned(),
            package.name.as_str(),
            package.version.as_str(),
        ),
        Ecosystem::Npm => (
            "npm".to_owned(),
            package.name.as_str(),
            package.version.as_str(),
        ),
        Ecosystem::CratesIo => (
            "crates.io".to_owned(),
            package.name.as_str(),
            package.version.as_str(),
        ),
        Ecosystem::Go => (
            "Go".to_owned(),
            package.name.as_str(),
            package.version.as_str(),
        ),
    };
    Some((EcosystemKey::new(&ecosystem, name), version.to_owned()))
}

/// The OSV ecosystem of the inventory's OS packages
pub fn os_ecosystem(inventory: &Inventory) -> Option<String> {
    let os = inventory.os.as_ref()?;
    portcullis_osv::os_ecosystem(&os.id, os.version_id.as_deref())
}

/// Matches every package of `inventory` against `db`
pub fn match_inventory(inventory: &Inventory, db: &VulnDb) -> Result<Report, ScanError> {
    let os_ecosystem = os_ecosystem(inventory);
    let mut report = Report {
        os: inventory
            .os
            .as_ref()
            .map(|os| os.pretty_name.clone().unwrap_or_else(|| os.id.clone())),
        os_ecosystem: os_ecosystem.clone(),
        packages: inventory.packages.len(),
        warnings: inventory.warnings.clone(),
        database_generation: db.status()?.generation,
        ..Report::default()
    };
    let has_os_packages = inventory.packages.iter().any(|i| {
        matches!(
            i.package.ecosystem,
            Ecosystem::Debian | Ecosystem::Alpine | Ecosystem::Rpm
        )
    });
    if has_os_packages && os_ecosystem.is_none() {
        report.warnings.push(match &inventory.os {
            Some(os) => format!(
                "no advisory data is known for the OS {:?}; its packages were not matched",
                os.id
            ),
            None => "OS packages but no /etc/os-release; they were not matched".to_owned(),
        });
    }
    // One lookup per package name, however many files name it.
    let mut cache: BTreeMap<EcosystemKey, Vec<portcullis_osv::Record>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut problems = BTreeSet::new();
    for installed in &inventory.packages {
        let Some((key, version)) = lookup_key(installed, os_ecosystem.as_deref()) else {
            continue;
        };
        if !cache.contains_key(&key) {
            let records = db.lookup(&key)?;
            cache.insert(key.clone(), records);
        }
        for record in cache.get(&key).into_iter().flatten() {
            for affected in &record.affected {
                let Some(package) = &affected.package else {
                    continue;
                };
                if EcosystemKey::new(&package.ecosystem, &package.name) != key
                    || affected.is_informational()
                {
                    continue;
                }
                match portcullis_osv::affects(affected, &version) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        problems.insert(format!("{}: {} {version}: {e}", record.id, key.name));
                        continue;
                    }
                }
                if !seen.insert((
                    record.id.clone(),
                    installed.path.clone(),
                    installed.package.name.clone(),
                )) {
                    continue;
                }
                let rated = portcullis_osv::rate(record, Some(affected));
                report.findings.push(Finding {
                    id: record.id.clone(),
                    cves: record.cves().into_iter().map(str::to_owned).collect(),
                    aliases: record
                        .aliases
                        .iter()
                        .chain(&record.upstream)
                        .cloned()
                        .collect(),
                    severity: rated.severity,
                    score: rated.score,
                    severity_source: rated.source,
                    summary: record
                        .summary
                        .clone()
                        .or_else(|| record.details.as_ref().map(|d| first_line(d)))
                        .unwrap_or_default(),
                    url: record.url(),
                    ecosystem: package.ecosystem.clone(),
                    package: installed.package.name.clone(),
                    version: installed.package.version.clone(),
                    source_package: (key.name != installed.package.name).then(|| key.name.clone()),
                    fixed_version: portcullis_osv::fixed_in(affected, &version),
                    path: installed.path.clone(),
                    layer: installed.layer.clone(),
                });
                break;
            }
        }
    }
    report.warnings.extend(problems.into_iter().take(100));
    report.findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(report)
}

fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    line.chars().take(200).collect()
}
