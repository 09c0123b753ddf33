//! A scan report as SARIF 2.1.0, the format code-scanning dashboards (GitHub, GitLab) read:
//! one rule per advisory, one result per finding, located at the file the package came from.

use std::collections::BTreeMap;

use portcullis_osv::Severity;
use serde_json::{Value, json};

use crate::Report;

/// The SARIF log of `report`; `image` names what was scanned
pub fn to_sarif(report: &Report, image: &str) -> Value {
    let mut rules = BTreeMap::new();
    let mut results = Vec::new();
    let suppressed = report
        .suppressed
        .iter()
        .map(|s| (&s.finding, Some(&s.entry)));
    for (finding, accepted) in report.findings.iter().map(|f| (f, None)).chain(suppressed) {
        rules.entry(finding.id.clone()).or_insert_with(|| {
            // GitHub ranks alerts by `security-severity`; it is a string by their convention.
            let properties = match finding.score {
                Some(score) => json!({
                    "tags": ["vulnerability", "security"],
                    "security-severity": format!("{score:.1}"),
                }),
                None => json!({ "tags": ["vulnerability", "security"] }),
            };
            json!({
                "id": finding.id,
                "name": finding.cves.first().unwrap_or(&finding.id),
                "shortDescription": { "text": if finding.summary.is_empty() { &finding.id } else { &finding.summary } },
                "helpUri": finding.url,
                "properties": properties,
            })
        });
        let fix = finding.fixed_version.as_ref().map_or_else(
            || "no fixed version is known".to_owned(),
            |v| format!("fixed in {v}"),
        );
        let suppressions = match accepted {
            Some(entry) => json!([{
                "kind": "external",
                "status": "accepted",
                "justification": format!("{} (accepted by {} until {})", entry.reason, entry.author, entry.expires),
            }]),
            None => json!([]),
        };
        results.push(json!({
            "suppressions": suppressions,
            "ruleId": finding.id,
            "level": level(finding.severity),
            "message": { "text": format!(
                "{} {} in {} ({}): {}, {fix}",
                finding.package, finding.version, image, finding.severity.as_str(), finding.id
            )},
            "locations": [{
                "physicalLocation": { "artifactLocation": { "uri": finding.path } },
                "message": { "text": format!("layer {}", finding.layer) },
            }],
        }));
    }
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": { "driver": {
                "name": "portcullis",
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Unknown | Severity::None => "note",
    }
}
