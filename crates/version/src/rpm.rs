//! RPM's version order (`rpmvercmp` over epoch, version and release), as Red Hat, Rocky,
//! Alma and SUSE use it.
//!
//! Syntax `[epoch:]version[-release]`, split as rpm splits it: the epoch is the digits
//! before a first `:`, the release follows the last `-`. A version without a release sorts
//! before the same version with any release (rpm's dependency matching would instead let it
//! match every release, which is no order).

use rpm_version::EvrSortKey;

/// The memcmp-ordered key of `rpm-version`, whose derived equality and hash therefore agree
/// with rpm's order (`1.0` = `1.00` = `1_0`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RpmVersion(EvrSortKey);

pub(crate) fn parse(evr: &str) -> Result<RpmVersion, String> {
    if evr.is_empty() {
        return Err("version string is empty".into());
    }
    let (epoch, rest) = match evr.split_once(':') {
        Some((epoch, rest)) if epoch.bytes().all(|b| b.is_ascii_digit()) => (epoch, rest),
        _ => ("", evr),
    };
    if !epoch.is_empty() && epoch.parse::<u32>().is_err() {
        return Err("epoch is larger than 32 bits".into());
    }
    let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
    // The key stores a digit run's length in one byte.
    let longest_run = rest
        .split(|c: char| !c.is_ascii_digit())
        .map(|run| run.trim_start_matches('0').len())
        .max()
        .unwrap_or(0);
    if longest_run > usize::from(u8::MAX) {
        return Err("a number has more than 255 digits".into());
    }
    Ok(RpmVersion(EvrSortKey::from_values(epoch, version, release)))
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
    fn rpm_vectors() {
        let cases = [
            ("1.0~rc1", "1.0", Less),
            ("2.0.1a", "2.0.1", Greater),
            ("10.0001", "10.1", Equal),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git1", "1.01", Less),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0a", "1.0.1", Less),
            ("1.0", "1_0", Equal),
            ("1:1.0-1", "2.0-1", Greater),
            ("0:1.0-1", "1.0-1", Equal),
            ("1.0-1.el8", "1.0-1.el8_1", Less),
            ("1.0", "1.0-1", Less),
            ("0", "0:0", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(cmp(a, b), want, "{a} vs {b}");
            assert_eq!(cmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn rpm_errors() {
        assert!(parse("").is_err());
        assert!(parse("99999999999:1").is_err());
        assert!(parse(&"9".repeat(300)).is_err());
    }
}
