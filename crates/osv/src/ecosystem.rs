//! Which advisories apply to an installed package: OSV names ecosystems with a release
//! (`Debian:12`, `Alpine:v3.18`) and some ecosystems spell one package several ways.

/// The key an advisory database indexes affected packages by, and a scanner looks them up by
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EcosystemKey {
    /// As OSV writes it: `Debian:12`, `Alpine:v3.18`, `PyPI`, `npm`, `crates.io`, `Go`
    pub ecosystem: String,
    /// Normalised with [`normalize_name`]
    pub name: String,
}

impl EcosystemKey {
    /// The key of `name` in `ecosystem`, normalised
    pub fn new(ecosystem: &str, name: &str) -> EcosystemKey {
        EcosystemKey {
            ecosystem: ecosystem.to_owned(),
            name: normalize_name(ecosystem, name),
        }
    }
}

/// A package name as its ecosystem compares names: PyPI per PEP 503 (case-insensitive,
/// runs of `-`, `_` and `.` are one `-`); every other ecosystem as written.
pub fn normalize_name(ecosystem: &str, name: &str) -> String {
    if ecosystem != "PyPI" {
        return name.to_owned();
    }
    let mut normalized = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
            continue;
        }
        if separator && !normalized.is_empty() {
            normalized.push('-');
        }
        separator = false;
        normalized.extend(c.to_lowercase());
    }
    normalized
}

/// The OSV ecosystem of an operating system's packages, from `/etc/os-release`'s `ID` and
/// `VERSION_ID`: `Debian:12`, `Alpine:v3.18`, `Ubuntu:22.04:LTS`. `None` for systems OSV
/// has no advisories for under that scheme.
pub fn os_ecosystem(id: &str, version_id: Option<&str>) -> Option<String> {
    let version = version_id.unwrap_or("").trim();
    match id.trim().to_ascii_lowercase().as_str() {
        "debian" => {
            // Debian's ecosystem names the major release; testing and sid have no VERSION_ID.
            let major = version.split('.').next().filter(|m| !m.is_empty())?;
            Some(format!("Debian:{major}"))
        }
        "alpine" => {
            let mut parts = version.split('.');
            let (major, minor) = (parts.next()?, parts.next()?);
            Some(format!("Alpine:v{major}.{minor}"))
        }
        "ubuntu" => {
            let lts = version.split_once('.').is_some_and(|(year, month)| {
                month == "04" && year.parse::<u32>().is_ok_and(|y| y % 2 == 0)
            });
            Some(if lts {
                format!("Ubuntu:{version}:LTS")
            } else {
                format!("Ubuntu:{version}")
            })
        }
        "rocky" => Some(format!(
            "Rocky Linux:{}",
            version.split('.').next().unwrap_or(version)
        )),
        "almalinux" => Some(format!(
            "AlmaLinux:{}",
            version.split('.').next().unwrap_or(version)
        )),
        "wolfi" => Some("Wolfi".to_owned()),
        "chainguard" => Some("Chainguard".to_owned()),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn pypi_names_compare_as_pep_503_says() {
        assert_eq!(
            normalize_name("PyPI", "Friendly_Bard.Extra"),
            "friendly-bard-extra"
        );
        assert_eq!(normalize_name("PyPI", "a--_b"), "a-b");
        assert_eq!(normalize_name("npm", "@Types/Node"), "@Types/Node");
    }

    #[test]
    fn operating_systems_map_to_osv_ecosystems() {
        assert_eq!(os_ecosystem("debian", Some("12")).unwrap(), "Debian:12");
        assert_eq!(
            os_ecosystem("alpine", Some("3.18.4")).unwrap(),
            "Alpine:v3.18"
        );
        assert_eq!(
            os_ecosystem("ubuntu", Some("22.04")).unwrap(),
            "Ubuntu:22.04:LTS"
        );
        assert_eq!(
            os_ecosystem("ubuntu", Some("23.10")).unwrap(),
            "Ubuntu:23.10"
        );
        assert_eq!(os_ecosystem("debian", None), None);
        assert_eq!(os_ecosystem("plan9", Some("4")), None);
    }
}
