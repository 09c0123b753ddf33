//! Debian's version order, as `dpkg --compare-versions` decides it.
//!
//! Syntax `[epoch:]upstream[-revision]`: the epoch ends at the first `:`, the revision starts
//! after the last `-`. Errors are the ones dpkg refuses to compare with (empty version,
//! embedded space, bad epoch, empty upstream or revision). dpkg only *warns* when the upstream
//! does not start with a digit or a character is outside its alphabet, and then compares
//! anyway; real archives contain such versions, so they parse here too and order as dpkg
//! orders them.

use std::cmp::Ordering;

/// A parsed dpkg version, kept in the canonical form that makes derived equality and hash
/// agree with the order: digit runs without leading zeros, trailing empty parts dropped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DpkgVersion {
    epoch: u32,
    upstream: Vec<Part>,
    revision: Vec<Part>,
}

/// One step of dpkg's comparison: a run of non-digits, then a run of digits (as a number).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
struct Part {
    text: Vec<u8>,
    /// Decimal digits without leading zeros; empty means 0.
    number: String,
}

pub(crate) fn parse(version: &str) -> Result<DpkgVersion, String> {
    let version = version.trim_matches(|c: char| c.is_ascii_whitespace());
    if version.is_empty() {
        return Err("version string is empty".into());
    }
    if version.contains(|c: char| c.is_ascii_whitespace()) {
        return Err("version string has embedded spaces".into());
    }
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) => (parse_epoch(epoch)?, rest),
        None => (0, version),
    };
    if rest.is_empty() {
        return Err("nothing after colon in version number".into());
    }
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((_, "")) => return Err("revision number is empty".into()),
        Some(("", _)) => return Err("version number is empty".into()),
        Some((upstream, revision)) => (upstream, revision),
        None => (rest, ""),
    };
    Ok(DpkgVersion {
        epoch,
        upstream: parts(upstream),
        revision: parts(revision),
    })
}

fn parse_epoch(epoch: &str) -> Result<u32, String> {
    if epoch.is_empty() {
        return Err("epoch in version is empty".into());
    }
    if !epoch.bytes().all(|b| b.is_ascii_digit()) {
        return Err("epoch in version is not number".into());
    }
    // dpkg keeps the epoch in an int and refuses anything above INT_MAX.
    epoch
        .parse::<u32>()
        .ok()
        .filter(|e| i32::try_from(*e).is_ok())
        .ok_or_else(|| "epoch in version is too big".into())
}

fn parts(s: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut bytes = s.bytes().peekable();
    while bytes.peek().is_some() {
        let mut part = Part::default();
        while let Some(b) = bytes.next_if(|b| !b.is_ascii_digit()) {
            part.text.push(b);
        }
        while let Some(b) = bytes.next_if(u8::is_ascii_digit) {
            if b != b'0' || !part.number.is_empty() {
                part.number.push(char::from(b));
            }
        }
        parts.push(part);
    }
    // A missing part compares like an empty one, so trailing empty parts carry no order.
    while parts
        .last()
        .is_some_and(|p| p.text.is_empty() && p.number.is_empty())
    {
        parts.pop();
    }
    parts
}

/// dpkg's weight of a non-digit byte: `~` before the end of the run, letters before
/// everything else. dpkg adds 256 to a C `char`, which is signed on amd64, so a non-ASCII
/// byte lands between the letters and the ASCII punctuation (`1.0z < 1.0é < 1.0+`).
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_alphabetic() || !c.is_ascii() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn cmp_text(a: &[u8], b: &[u8]) -> Ordering {
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| weight(a.get(i).copied()).cmp(&weight(b.get(i).copied())))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

fn cmp_number(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_parts(a: &[Part], b: &[Part]) -> Ordering {
    let empty = Part::default();
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| {
            let (pa, pb) = (a.get(i).unwrap_or(&empty), b.get(i).unwrap_or(&empty));
            cmp_text(&pa.text, &pb.text).then_with(|| cmp_number(&pa.number, &pb.number))
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| cmp_parts(&self.upstream, &other.upstream))
            .then_with(|| cmp_parts(&self.revision, &other.revision))
    }
}

impl PartialOrd for DpkgVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
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
    fn dpkg_vectors() {
        let cases = [
            ("2.2~rc-4", "2.2-1", Less),
            ("1.0000-1", "1.0-1", Equal),
            ("1", "0:1", Equal),
            ("0foo~~", "0foo~", Less),
            ("1.09", "1.9", Equal),
            ("1a", "1000a", Less),
            ("0foo.bar", "0foobar", Greater),
            ("1.0", "1.0-0", Equal),
            ("1:0.1", "2.0", Greater),
            ("1.0~", "1.0", Less),
            ("1.0+b1", "1.0", Greater),
            ("1.2.1-2.2+wheezy3", "1.2.1-2.2", Greater),
            ("0", "0:0", Equal),
            ("1.0a", "1.0+", Less),
            ("1.0-1~bpo1", "1.0-1", Less),
            ("1.0z", "1.0é", Less),
            ("1.0é", "1.0+", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(cmp(a, b), want, "{a} vs {b}");
            assert_eq!(cmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn dpkg_errors_and_leniency() {
        for bad in [
            "",
            " ",
            "1 0",
            "a:1",
            ":1",
            "1:",
            "1.0-",
            "-1",
            "99999999999:1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        // dpkg only warns about these.
        for ok in ["a1.0", "1.0_1", "1:1:1", " 1.0 ", "0"] {
            assert!(parse(ok).is_ok(), "{ok:?} should parse");
        }
    }
}
