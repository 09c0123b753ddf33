//! Go's version order: SemVer precedence over Go's spellings.
//!
//! Module versions carry a `v` (`v1.2.3`, pseudo-versions such as
//! `v0.0.0-20191109021931-daa7c04131f5`, which are ordinary prereleases, and `+incompatible`,
//! which is build metadata and so ignored). The Go vulndb writes them without the `v`. The
//! toolchain and standard library use their own spelling, mapped onto SemVer: `go1.21` is
//! `1.21.0`, `go1.21rc2` is `1.21.0-rc.2`, `1.21beta1` is `1.21.0-beta.1`.

use crate::semver::SemVersion;

pub(crate) fn parse(version: &str) -> Result<SemVersion, String> {
    let trimmed = version.trim();
    let bare = trimmed
        .strip_prefix("go")
        .or_else(|| trimmed.strip_prefix('v'))
        .unwrap_or(trimmed);
    match toolchain_prerelease(bare) {
        Some((core, kind, number)) => SemVersion::parse_padded(&format!("{core}-{kind}.{number}")),
        None => SemVersion::parse_padded(bare),
    }
}

/// Splits a toolchain prerelease such as `1.21rc2` into (`1.21`, `rc`, `2`).
fn toolchain_prerelease(version: &str) -> Option<(&str, &str, &str)> {
    let letters = version.find(|c: char| c.is_ascii_lowercase())?;
    let (core, rest) = version.split_at_checked(letters)?;
    let digits = rest.find(|c: char| c.is_ascii_digit())?;
    let (kind, number) = rest.split_at_checked(digits)?;
    let is_core = !core.is_empty() && core.chars().all(|c| c.is_ascii_digit() || c == '.');
    let is_number = number.chars().all(|c| c.is_ascii_digit());
    (is_core && kind.chars().all(|c| c.is_ascii_lowercase()) && is_number)
        .then_some((core, kind, number))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

    use super::parse;
    use std::cmp::Ordering::{self, Equal, Greater, Less};

    fn cmp(a: &str, b: &str) -> Ordering {
        parse(a).unwrap().cmp(&parse(b).unwrap())
    }

    #[test]
    fn go_versions() {
        let cases = [
            ("v1.2.3", "1.2.3", Equal),
            ("v2.0.0+incompatible", "2.0.0", Equal),
            ("v0.0.0-20191109021931-daa7c04131f5", "0.0.0", Less),
            (
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.0.0-20200101000000-aaaaaaaaaaaa",
                Less,
            ),
            ("v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.3", Greater),
            ("v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.4-rc.1", Less),
            ("go1.21.3", "1.21.3", Equal),
            ("go1.21", "1.21.0", Equal),
            ("go1.21rc2", "1.21.0-rc.2", Equal),
            ("1.21beta1", "1.21.0-beta.1", Equal),
            ("go1.21rc2", "go1.21", Less),
            ("go1.21beta1", "go1.21rc1", Less),
            ("go1.9", "go1.10", Less),
            ("0", "0.0.0", Equal),
            ("v1", "v1.0.0", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(cmp(a, b), want, "{a} vs {b}");
            assert_eq!(cmp(b, a), want.reverse(), "{b} vs {a}");
        }
        for bad in ["", "go", "vx", "1.2.3.4", "1.2.3-"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
