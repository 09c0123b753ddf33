//! A finding's severity. A CVSS base score is computed from the vector and banded as Trivy
//! does, so our findings line up with what users see in other tools; without a vector the
//! source database's own rating is used; without either, `UNKNOWN`.

use std::str::FromStr as _;

use serde::{Deserialize, Serialize};

use crate::record::{Affected, Record, Score};

/// Severity, lowest first. `NONE` to `CRITICAL` are the Vulnerability Scanning API's values;
/// `UNKNOWN` (no score and no rating) ranks above `NONE` and below `LOW`, so an unrated
/// finding is never hidden as "no problem" and never fails a `LOW` gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// No problem (CVSS 0.0, or a scan with no findings)
    None,
    /// Not rated
    Unknown,
    /// CVSS 0.1–3.9
    Low,
    /// CVSS 4.0–6.9
    Medium,
    /// CVSS 7.0–8.9
    High,
    /// CVSS 9.0–10.0
    Critical,
}

impl Severity {
    /// The API's spelling
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "NONE",
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    /// Reads a rating as databases write them (`MODERATE` is GHSA's `MEDIUM`; Ubuntu's
    /// `negligible` is `LOW`), case-insensitively
    pub fn parse(rating: &str) -> Option<Severity> {
        match rating.trim().to_ascii_uppercase().as_str() {
            "NONE" => Some(Severity::None),
            "UNKNOWN" => Some(Severity::Unknown),
            "LOW" | "NEGLIGIBLE" | "MINOR" => Some(Severity::Low),
            "MEDIUM" | "MODERATE" => Some(Severity::Medium),
            "HIGH" | "IMPORTANT" => Some(Severity::High),
            "CRITICAL" => Some(Severity::Critical),
            _ => None,
        }
    }

    /// The band of a CVSS base score
    pub fn of_score(score: f64) -> Severity {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else if score > 0.0 {
            Severity::Low
        } else {
            Severity::None
        }
    }
}

/// How a finding's severity was decided
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rated {
    /// The severity
    pub severity: Severity,
    /// The CVSS base score, when it came from a vector
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The vector, or where the rating came from (`database_specific.severity`)
    pub source: String,
}

/// The severity of `record` for one of its affected entries: CVSS v3 first (what NVD and
/// most tools show), then CVSS v4, from the entry's own scores before the record's; then
/// the database's own rating; else `UNKNOWN`.
pub fn rate(record: &Record, affected: Option<&Affected>) -> Rated {
    let scores: Vec<&Score> = affected
        .map(|a| a.severity.iter().collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| record.severity.iter().collect());
    for kind in ["CVSS_V3", "CVSS_V4"] {
        for score in scores.iter().filter(|s| s.kind == kind) {
            if let Ok(vector) = cvss::Cvss::from_str(score.score.trim()) {
                let value = vector.score();
                return Rated {
                    severity: Severity::of_score(value),
                    score: Some(value),
                    source: score.score.clone(),
                };
            }
        }
    }
    if let Some(rating) = scores
        .iter()
        .find(|s| s.kind == "Ubuntu")
        .and_then(|s| Severity::parse(&s.score))
    {
        return Rated {
            severity: rating,
            score: None,
            source: "Ubuntu priority".into(),
        };
    }
    let specific = [
        affected.and_then(|a| a.ecosystem_specific.as_ref()),
        affected.and_then(|a| a.database_specific.as_ref()),
        record.database_specific.as_ref(),
    ];
    for data in specific.into_iter().flatten() {
        if let Some(rating) = data
            .get("severity")
            .and_then(|s| s.as_str())
            .and_then(Severity::parse)
        {
            return Rated {
                severity: rating,
                score: None,
                source: "database_specific.severity".into(),
            };
        }
    }
    Rated {
        severity: Severity::Unknown,
        score: None,
        source: "none".into(),
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

    fn record(json: &str) -> Record {
        Record::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn cvss_vectors_are_scored_and_banded() {
        // Base scores as the CVSS 3.1 and 4.0 calculators give them.
        for (vector, score, severity) in [
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                9.8,
                Severity::Critical,
            ),
            (
                "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N",
                7.4,
                Severity::High,
            ),
            (
                "CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H",
                9.9,
                Severity::Critical,
            ),
            (
                "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
                1.8,
                Severity::Low,
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
                6.1,
                Severity::Medium,
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                9.3,
                Severity::Critical,
            ),
        ] {
            let kind = if vector.starts_with("CVSS:4") {
                "CVSS_V4"
            } else {
                "CVSS_V3"
            };
            let rated = rate(
                &record(&format!(
                    r#"{{"id":"T-1","modified":"2024-01-01T00:00:00Z","severity":[{{"type":"{kind}","score":"{vector}"}}]}}"#
                )),
                None,
            );
            assert_eq!(rated.score, Some(score), "{vector}");
            assert_eq!(rated.severity, severity, "{vector}");
        }
    }

    #[test]
    fn v3_wins_over_v4_and_the_entry_over_the_record() {
        let both = record(
            r#"{"id":"T-1","modified":"2024-01-01T00:00:00Z","severity":[
                {"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"},
                {"type":"CVSS_V3","score":"CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"}]}"#,
        );
        assert_eq!(rate(&both, None).severity, Severity::Low);
        let entry = record(
            r#"{"id":"T-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"a"},
               "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}]}"#,
        );
        assert_eq!(
            rate(&entry, entry.affected.first()).severity,
            Severity::Critical
        );
    }

    #[test]
    fn without_a_vector_the_databases_rating_then_unknown() {
        let ghsa = record(
            r#"{"id":"GHSA-1","modified":"2024-01-01T00:00:00Z","database_specific":{"severity":"MODERATE"}}"#,
        );
        assert_eq!(rate(&ghsa, None).severity, Severity::Medium);
        let broken = record(
            r#"{"id":"T-1","modified":"2024-01-01T00:00:00Z","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:X"}]}"#,
        );
        assert_eq!(rate(&broken, None).severity, Severity::Unknown);
        assert!(Severity::Unknown < Severity::Low && Severity::None < Severity::Unknown);
    }
}
