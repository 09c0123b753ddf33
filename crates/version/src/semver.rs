//! SemVer 2.0 precedence, as npm and crates.io order versions, through the `semver` crate.
//!
//! The crate's parser is strict, so the text is normalised first, as node-semver and Cargo
//! users write versions: surrounding spaces, a leading `=` or `v`, and partial versions
//! (`1` is `1.0.0`, `1.2` is `1.2.0`). Build metadata is parsed and then ignored.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// A SemVer version ordered by precedence; equality and hash ignore build metadata too.
#[derive(Clone, Debug)]
pub(crate) struct SemVersion(semver::Version);

impl SemVersion {
    /// Parses text that is already SemVer apart from missing minor or patch numbers.
    pub(crate) fn parse_padded(version: &str) -> Result<SemVersion, String> {
        let split = version.find(['-', '+']).unwrap_or(version.len());
        let (core, tail) = version.split_at_checked(split).unwrap_or((version, ""));
        let padding = match core.matches('.').count() {
            0 => ".0.0",
            1 => ".0",
            _ => "",
        };
        semver::Version::parse(&format!("{core}{padding}{tail}"))
            .map(SemVersion)
            .map_err(|e| e.to_string())
    }
}

pub(crate) fn parse(version: &str) -> Result<SemVersion, String> {
    let trimmed = version.trim();
    let bare = trimmed.strip_prefix('=').unwrap_or(trimmed).trim_start();
    let bare = bare.strip_prefix('v').unwrap_or(bare);
    SemVersion::parse_padded(bare)
}

impl Ord for SemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp_precedence(&other.0)
    }
}

impl PartialOrd for SemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for SemVersion {}

impl Hash for SemVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Numeric identifiers have no leading zeros, so equal precedence means equal text.
        (
            self.0.major,
            self.0.minor,
            self.0.patch,
            self.0.pre.as_str(),
        )
            .hash(state);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

    use super::parse;
    use std::cmp::Ordering::{self, Equal, Less};

    fn cmp(a: &str, b: &str) -> Ordering {
        parse(a).unwrap().cmp(&parse(b).unwrap())
    }

    #[test]
    fn semver_precedence() {
        // semver.org §11's example chain.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "2.0.0",
        ];
        for pair in chain.windows(2) {
            if let [a, b] = pair {
                assert_eq!(cmp(a, b), Less, "{a} < {b}");
            }
        }
    }

    #[test]
    fn semver_leniency() {
        let same = [
            ("1.0.0+build.1", "1.0.0+build.2"),
            ("v1.2.3", "1.2.3"),
            ("=1.2.3", "1.2.3"),
            (" 1.2.3 ", "1.2.3"),
            ("1", "1.0.0"),
            ("1.2", "1.2.0"),
            ("1.2-beta", "1.2.0-beta"),
            ("0", "0.0.0"),
        ];
        for (a, b) in same {
            assert_eq!(cmp(a, b), Equal, "{a} = {b}");
        }
        for bad in ["", "1.2.3.4", "01.2.3", "x", "1.2.3-", "v"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
