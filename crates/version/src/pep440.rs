//! Python's version order (PEP 440), through `pep440_rs`.
//!
//! PEP 440's normalisations are accepted (`V1.0`, `1.0-RC1`, `1.0_post1`, implicit post
//! release `1.0-1`, surrounding spaces); legacy non-PEP-440 versions are rejected.

use std::str::FromStr;

/// `pep440_rs`'s version, whose equality and hash already agree with its order
/// (`1.0` = `1.0.0`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Pep440Version(pep440_rs::Version);

pub(crate) fn parse(version: &str) -> Result<Pep440Version, String> {
    pep440_rs::Version::from_str(version.trim())
        .map(Pep440Version)
        .map_err(|e| e.to_string())
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
    fn pep440_chain() {
        let chain = [
            "1.0.dev0",
            "1.0a1.dev0",
            "1.0a1",
            "1.0a1.post1",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local",
            "1.0.post1.dev0",
            "1.0.post1",
            "1!0.1",
        ];
        for pair in chain.windows(2) {
            if let [a, b] = pair {
                assert_eq!(cmp(a, b), Less, "{a} < {b}");
            }
        }
    }

    #[test]
    fn pep440_normalisation() {
        let same = [
            ("1.0", "1.0.0"),
            ("v1.0", "1.0"),
            ("1.0-RC1", "1.0rc1"),
            ("1.0_post1", "1.0.post1"),
            ("1.0-1", "1.0.post1"),
            ("1.0c1", "1.0rc1"),
            ("1.0alpha1", "1.0a1"),
            (" 1.0 ", "1.0"),
            ("0!1.0", "1.0"),
        ];
        for (a, b) in same {
            assert_eq!(cmp(a, b), Equal, "{a} = {b}");
        }
        assert!(parse("not a version").is_err());
        assert!(parse("0").is_ok());
    }
}
