//! The resources in the field names of OCI's Vulnerability Scanning API (the SDK's
//! `ContainerScanRecipe`, `ContainerScanTarget`, `ContainerScanResult`, `ContainerScanResultProblem`
//! and `Package` models), so the `oci` CLI and SDK read what we return.

use std::collections::BTreeMap;

use portcullis_osv::Severity;
use serde::{Deserialize, Serialize};

/// How deep a recipe scans
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ScanLevel {
    /// Scanning is off
    None,
    /// Packages against advisories
    Standard,
}

/// A recipe's settings
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanSettings {
    /// How deep
    pub scan_level: ScanLevel,
}

/// What to scan with; targets name one
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerScanRecipe {
    /// `ocid1.vsscontainerscanrecipe…`
    pub id: String,
    /// Name
    pub display_name: String,
    /// Compartment
    pub compartment_id: String,
    /// How many already pushed images a new target scans at once
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_count: Option<u32>,
    /// Settings
    pub scan_settings: ScanSettings,
    /// `ACTIVE`, `DELETED`, …
    pub lifecycle_state: String,
    /// RFC 3339
    pub time_created: String,
    /// RFC 3339
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_updated: Option<String>,
    /// Free-form tags
    #[serde(default)]
    pub freeform_tags: BTreeMap<String, String>,
    /// Defined tags
    #[serde(default)]
    pub defined_tags: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

/// The registry a target scans: OCIR repositories of one compartment
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRegistry {
    /// Always `OCIR`
    #[serde(rename = "type")]
    pub kind: String,
    /// The compartment whose repositories are scanned
    pub compartment_id: String,
    /// Repository names; absent or empty means every repository of the compartment
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repositories: Option<Vec<String>>,
    /// The registry's address
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl TargetRegistry {
    /// Whether this target covers `repository` of `compartment`
    pub fn covers(&self, compartment: &str, repository: &str) -> bool {
        self.compartment_id == compartment
            && self
                .repositories
                .as_ref()
                .is_none_or(|names| names.is_empty() || names.iter().any(|n| n == repository))
    }
}

/// A scanner added to repositories ("Add image scanner" on a repository)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerScanTarget {
    /// `ocid1.vsscontainerscantarget…`
    pub id: String,
    /// Name
    pub display_name: String,
    /// Description
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Compartment of the target itself
    pub compartment_id: String,
    /// What it scans
    pub target_registry: TargetRegistry,
    /// The recipe it scans with
    pub container_scan_recipe_id: String,
    /// `ACTIVE`, `DELETED`, …
    pub lifecycle_state: String,
    /// RFC 3339
    pub time_created: String,
    /// RFC 3339
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_updated: Option<String>,
    /// Free-form tags
    #[serde(default)]
    pub freeform_tags: BTreeMap<String, String>,
    /// Defined tags
    #[serde(default)]
    pub defined_tags: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

/// Whether a problem is still there
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProblemState {
    /// Found by this scan
    Open,
    /// Found by an earlier scan of the image, not by this one (an advisory was withdrawn or
    /// corrected)
    Fixed,
    /// Accepted: an allowlist entry covers it
    NotApplicable,
}

/// A package a problem was found in
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnerablePackage {
    /// Package name
    pub name: String,
    /// Installed version
    pub version: String,
    /// The version that fixes it, when known
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cve_fix_version: Option<String>,
    /// The OSV ecosystem (`Debian:12`, `PyPI`, …)
    #[serde(rename = "type")]
    pub kind: String,
    /// Where in the image: `<file> (layer <digest>)`
    #[serde(default)]
    pub locations: Vec<String>,
}

/// One vulnerability in a scanned image
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The CVE id when there is one, else the advisory id
    pub name: String,
    /// One line, and the advisory's address
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Severity (`UNKNOWN` when no source rates it)
    pub severity: Severity,
    /// Open, fixed or accepted
    pub state: ProblemState,
    /// The MITRE CVE id, when there is one
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cve_reference: Option<String>,
    /// RFC 3339: the first scan that found it
    pub time_first_detected: String,
    /// RFC 3339: the last scan that found it
    pub time_last_detected: String,
    /// The packages it was found in
    #[serde(default)]
    pub vulnerable_packages: Vec<VulnerablePackage>,
}

/// One scan of one image
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerScanResult {
    /// `ocid1.vsscontainerscanresult…`
    pub id: String,
    /// The registry's address
    pub registry_url: String,
    /// Repository name
    pub repository: String,
    /// Image digest
    pub image: String,
    /// The compartment the result lives in (the target's)
    pub compartment_id: String,
    /// The repository's compartment
    pub target_compartment_id: String,
    /// The target that asked for the scan
    pub container_scan_target_id: String,
    /// The most severe open problem, `NONE` without one
    pub highest_problem_severity: Severity,
    /// Open problems
    pub problem_count: u32,
    /// RFC 3339
    pub time_started: String,
    /// RFC 3339
    pub time_finished: String,
    /// Every problem, open, fixed or accepted
    pub problems: Vec<Problem>,
}

/// A result without its problems, as lists return it
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerScanResultSummary {
    /// Result id
    pub id: String,
    /// Repository name
    pub repository: String,
    /// Image digest
    pub image: String,
    /// Compartment
    pub compartment_id: String,
    /// The target
    pub container_scan_target_id: String,
    /// The most severe open problem
    pub highest_problem_severity: Severity,
    /// Open problems
    pub problem_count: u32,
    /// RFC 3339
    pub time_started: String,
    /// RFC 3339
    pub time_finished: String,
}

impl From<&ContainerScanResult> for ContainerScanResultSummary {
    fn from(result: &ContainerScanResult) -> ContainerScanResultSummary {
        ContainerScanResultSummary {
            id: result.id.clone(),
            repository: result.repository.clone(),
            image: result.image.clone(),
            compartment_id: result.compartment_id.clone(),
            container_scan_target_id: result.container_scan_target_id.clone(),
            highest_problem_severity: result.highest_problem_severity,
            problem_count: result.problem_count,
            time_started: result.time_started.clone(),
            time_finished: result.time_finished.clone(),
        }
    }
}
