//! Repository names, tags and references (`supply-chain.md` §1.1).
//!
//! A name is path components of lower-case letters and digits joined by `.`, `_`, `__` or
//! runs of `-`, separated by `/`; so `..`, upper case, empty components and leading or
//! trailing separators are all invalid. The whole name is at most 255 characters.

use crate::digest::Digest;
use crate::error::{Code, DistributionError, DistributionResult};

/// The longest name accepted (clients cap `host/` + name at 255)
pub const MAX_NAME_LEN: usize = 255;
/// The longest tag
pub const MAX_TAG_LEN: usize = 128;

/// A valid repository name
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct RepositoryName(String);

fn alphanumeric(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(component: &[u8]) -> bool {
    let mut i = 0;
    let mut expect_alnum = true;
    while let Some(&c) = component.get(i) {
        if alphanumeric(c) {
            while component.get(i).is_some_and(|c| alphanumeric(*c)) {
                i += 1;
            }
            expect_alnum = false;
            continue;
        }
        if expect_alnum {
            return false;
        }
        let separator_len = match c {
            b'.' => 1,
            b'_' if component.get(i + 1) == Some(&b'_') => 2,
            b'_' => 1,
            b'-' => component
                .get(i..)
                .map_or(0, |rest| rest.iter().take_while(|c| **c == b'-').count()),
            _ => return false,
        };
        i += separator_len;
        expect_alnum = true;
    }
    !expect_alnum
}

impl RepositoryName {
    /// Parses a name, refusing anything outside the spec's grammar with `NAME_INVALID`
    pub fn parse(name: &str) -> DistributionResult<RepositoryName> {
        let valid = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name.split('/').all(|c| valid_component(c.as_bytes()));
        if valid {
            Ok(RepositoryName(name.to_owned()))
        } else {
            Err(DistributionError::new(
                Code::NameInvalid,
                format!("invalid repository name `{}`", truncate(name)),
            ))
        }
    }

    /// The name
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RepositoryName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Quoted input is cut short in messages
fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
pub fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            bytes.len() <= MAX_TAG_LEN
                && (first.is_ascii_alphanumeric() || *first == b'_')
                && rest
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        }
        None => false,
    }
}

/// What `<reference>` in a manifest path names
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Reference {
    /// A tag
    Tag(String),
    /// A digest
    Digest(Digest),
}

impl Reference {
    /// A digest if it has a `:`, else a tag; invalid either way is an error with the code
    /// the spec gives (`DIGEST_INVALID` / `MANIFEST_INVALID`)
    pub fn parse(reference: &str) -> DistributionResult<Reference> {
        if reference.contains(':') {
            return Digest::parse(reference).map(Reference::Digest);
        }
        if valid_tag(reference) {
            Ok(Reference::Tag(reference.to_owned()))
        } else {
            Err(DistributionError::new(
                Code::ManifestInvalid,
                format!("invalid tag `{}`", truncate(reference)),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_follow_the_grammar() {
        for good in [
            "a",
            "library/ubuntu",
            "team-a/web.app",
            "a__b",
            "a---b/c_d",
            "0/1/2",
        ] {
            assert!(RepositoryName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "a/../b", "..", "a..b", "a___b", "-a", "a-", "a.", "a b",
            "a:b",
        ] {
            assert_eq!(
                RepositoryName::parse(bad).unwrap_err().code,
                Code::NameInvalid,
                "{bad}"
            );
        }
        assert!(RepositoryName::parse(&"a".repeat(256)).is_err());
    }

    #[test]
    fn tags_and_references() {
        assert!(valid_tag("v1.0_rc-2"));
        assert!(valid_tag("_x"));
        assert!(!valid_tag("-x"));
        assert!(!valid_tag(".x"));
        assert!(!valid_tag(&"a".repeat(129)));
        assert_eq!(
            Reference::parse("latest").unwrap(),
            Reference::Tag("latest".into())
        );
        assert!(matches!(
            Reference::parse(&format!("sha256:{}", "a".repeat(64))).unwrap(),
            Reference::Digest(_)
        ));
        assert_eq!(
            Reference::parse("sha256:totallywrong").unwrap_err().code,
            Code::DigestInvalid
        );
    }

    proptest! {
        #[test]
        fn arbitrary_names_never_panic(name in ".{0,300}") {
            let _ = RepositoryName::parse(&name);
            let _ = Reference::parse(&name);
        }

        #[test]
        fn generated_names_parse(parts in proptest::collection::vec("[a-z0-9]{1,5}([._-][a-z0-9]{1,5}){0,2}", 1..4)) {
            let name = parts.join("/");
            prop_assert!(RepositoryName::parse(&name).is_ok(), "{}", name);
        }
    }
}
