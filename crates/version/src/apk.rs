//! Alpine's version order, as apk-tools (3.x) decides it.
//!
//! A valid version is `digits{.digits}[letter]{_suffix[digits]}[~hexhash][-rdigits]`. apk
//! compares token by token; when one version runs out or breaks the grammar first, the token
//! kinds decide: a pre-release suffix sorts lowest, then an invalid rest, then the end, then
//! revision, commit hash, suffix number, post-release suffix, letter and digits. An invalid
//! version is therefore still ordered (everything after the first bad character is ignored),
//! which is what apk does; only the empty string is rejected.
//!
//! Deviation: apk keeps numbers in a wrapping 64-bit integer; here numbers of any length
//! compare by value.

/// The tokens of a version up to its end or its first invalid character.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ApkVersion(Vec<Token>);

/// A number without leading zeros, ordered by value (length first, then digits).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Number {
    len: usize,
    digits: String,
}

impl Number {
    fn new(digits: &str) -> Number {
        let digits = digits.trim_start_matches('0').to_owned();
        Number {
            len: digits.len(),
            digits,
        }
    }
}

/// A digit group after `.`. apk compares two groups as text when either has a leading zero
/// (so `1.05 < 1.1` and `1.0 < 1.00`), else by value; since every group with a leading zero
/// sorts below every group without one, this is a total order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Group {
    LeadingZero(String),
    Value(Number),
}

/// Pre-release suffixes, lowest first; they sort below the bare version.
const PRE: [&str; 4] = ["alpha", "beta", "pre", "rc"];
/// Post-release suffixes, lowest first; they sort above the bare version.
const POST: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

/// Variant order is the order of token kinds where two versions diverge; equal kinds then
/// compare by value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Token {
    PreSuffix(usize),
    Invalid,
    End,
    Revision(Number),
    CommitHash(String),
    SuffixNumber(Number),
    PostSuffix(usize),
    Letter(u8),
    Digits(Group),
    First(Number),
}

/// What the previous token allows next, in apk's grammar order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Digit,
    Letter,
    Suffix,
    SuffixNumber,
    CommitHash,
    Revision,
}

pub(crate) fn parse(version: &str) -> Result<ApkVersion, String> {
    if version.is_empty() {
        return Err("version string is empty".into());
    }
    Ok(ApkVersion(tokens(version)))
}

fn take_while(s: &str, f: impl Fn(char) -> bool) -> (&str, &str) {
    s.split_at_checked(s.find(|c: char| !f(c)).unwrap_or(s.len()))
        .unwrap_or((s, ""))
}

fn tokens(version: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let (first, mut rest) = take_while(version, |c| c.is_ascii_digit());
    if first.is_empty() {
        out.push(Token::Invalid);
        return out;
    }
    out.push(Token::First(Number::new(first)));
    let mut stage = Stage::Digit;
    loop {
        let Some(c) = rest.chars().next() else {
            out.push(Token::End);
            return out;
        };
        let after = rest.get(c.len_utf8()..).unwrap_or("");
        let next = match c {
            'a'..='z' if stage == Stage::Digit => {
                rest = after;
                u8::try_from(c)
                    .ok()
                    .map(|b| (Token::Letter(b), Stage::Letter))
            }
            '.' if stage == Stage::Digit => {
                let (digits, tail) = take_while(after, |c| c.is_ascii_digit());
                rest = tail;
                group(digits).map(|g| (Token::Digits(g), Stage::Digit))
            }
            '_' if stage <= Stage::SuffixNumber => {
                let (name, tail) = take_while(after, |c| c.is_ascii_lowercase());
                let (number, tail) = take_while(tail, |c| c.is_ascii_digit());
                rest = tail;
                suffix(name).map(|s| {
                    // The number after a suffix is a token of its own.
                    if !number.is_empty() {
                        out.push(s);
                        return (
                            Token::SuffixNumber(Number::new(number)),
                            Stage::SuffixNumber,
                        );
                    }
                    (s, Stage::Suffix)
                })
            }
            '~' if stage < Stage::CommitHash => {
                let (hash, tail) = take_while(after, |c| matches!(c, '0'..='9' | 'a'..='f'));
                rest = tail;
                (!hash.is_empty()).then(|| (Token::CommitHash(hash.to_owned()), Stage::CommitHash))
            }
            '-' if stage < Stage::Revision => {
                let (number, tail) = after
                    .strip_prefix('r')
                    .map_or(("", after), |r| take_while(r, |c| c.is_ascii_digit()));
                rest = tail;
                (!number.is_empty())
                    .then(|| (Token::Revision(Number::new(number)), Stage::Revision))
            }
            _ => None,
        };
        match next {
            Some((token, next_stage)) => {
                out.push(token);
                stage = next_stage;
            }
            None => {
                out.push(Token::Invalid);
                return out;
            }
        }
    }
}

fn group(digits: &str) -> Option<Group> {
    if digits.is_empty() {
        None
    } else if digits.starts_with('0') {
        Some(Group::LeadingZero(digits.to_owned()))
    } else {
        Some(Group::Value(Number::new(digits)))
    }
}

fn suffix(name: &str) -> Option<Token> {
    let position = |list: &[&str]| list.iter().position(|s| *s == name);
    position(&PRE)
        .map(Token::PreSuffix)
        .or_else(|| position(&POST).map(Token::PostSuffix))
}

impl ApkVersion {
    /// Whether apk-tools accepts the version as well-formed (it still orders the others).
    #[cfg(test)]
    pub(crate) fn is_valid(&self) -> bool {
        self.0.last() == Some(&Token::End)
    }
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
    fn apk_vectors() {
        let cases = [
            ("0.1.0_alpha_pre2", "0.1.0_alpha", Less),
            ("1.0_p10-r0", "1.0_p9-r0", Greater),
            ("1.3_pre1-r1", "1.3.2", Less),
            ("1.0", "1.0bc", Less),
            ("2.3.0b-r1", "2.3.0b-r2", Less),
            ("1.0", "1.0-r0", Less),
            ("1.0_rc1", "1.0", Less),
            ("1.0_git20240101", "1.0", Greater),
            ("1.05", "1.1", Less),
            ("1.0", "1.00", Less),
            ("01", "1", Equal),
            ("1.0~abc", "1.0", Greater),
            ("1.0~abc-r1", "1.0~abd", Less),
            ("1.2a", "1.2.1", Less),
            ("1.0_alpha1", "1.0_alpha", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(cmp(a, b), want, "{a} vs {b}");
            assert_eq!(cmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn apk_validity() {
        for ok in [
            "0",
            "1.2",
            "0.1_pre2",
            "0.1_pre2~1234abcd",
            "0.1_p1_pre2",
            "1.0-r1",
        ] {
            assert!(parse(ok).unwrap().is_valid(), "{ok}");
        }
        for bad in [
            "0.1bc",
            "0.1a1",
            "0.1_foobar",
            "0.1-r",
            "0.1-r2_pre1",
            "a",
            "0.1_pre2~",
        ] {
            assert!(!parse(bad).unwrap().is_valid(), "{bad}");
        }
        assert!(parse("").is_err());
    }
}
