//! dpkg's status database (`var/lib/dpkg/status`) and distroless's `status.d` files: deb822
//! stanzas separated by blank lines, `Field: value` lines with continuation lines that start
//! with whitespace.

use crate::{Ecosystem, Package, PackageError, Source};

const DATABASE: &str = "dpkg status";

/// The fields a stanza needs; everything else (descriptions, file lists, dependencies) is
/// skipped without decoding, so non-UTF-8 text there does not matter.
#[derive(Default)]
struct Stanza {
    first_line: usize,
    package: Option<String>,
    version: Option<String>,
    status: Option<String>,
    source: Option<String>,
}

/// The packages of a dpkg status file (or one `status.d` file).
///
/// A stanza counts when its `Status` says the package is installed (`install ok
/// installed`, or `hold ok installed` for a held package) or when it has no `Status` at all,
/// as in distroless's `status.d`. Removed packages whose configuration files remain are
/// skipped. Lines that are neither fields nor continuations, duplicated fields that this
/// parser reads, and installed stanzas without `Package` or `Version` are errors: dpkg
/// itself refuses such a database.
pub fn dpkg_status(bytes: &[u8]) -> Result<Vec<Package>, PackageError> {
    let mut packages = Vec::new();
    let mut stanza: Option<Stanza> = None;
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = index.saturating_add(1);
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(u8::is_ascii_whitespace) {
            if let Some(done) = stanza.take() {
                finish(done, &mut packages)?;
            }
            continue;
        }
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            if stanza.is_none() {
                return Err(line_error(line_no, "continuation line outside a stanza"));
            }
            continue;
        }
        if line.first() == Some(&b'#') {
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(line_error(line_no, "expected `Field: value`"));
        };
        let (name, rest) = line.split_at(colon);
        let value = rest.get(1..).unwrap_or_default();
        if name.is_empty()
            || name
                .iter()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(line_error(line_no, "invalid field name"));
        }
        let current = stanza.get_or_insert_with(|| Stanza {
            first_line: line_no,
            ..Stanza::default()
        });
        let slot = if name.eq_ignore_ascii_case(b"Package") {
            &mut current.package
        } else if name.eq_ignore_ascii_case(b"Version") {
            &mut current.version
        } else if name.eq_ignore_ascii_case(b"Status") {
            &mut current.status
        } else if name.eq_ignore_ascii_case(b"Source") {
            &mut current.source
        } else {
            continue;
        };
        let field = String::from_utf8_lossy(name);
        if slot.is_some() {
            return Err(line_error(line_no, &format!("duplicate `{field}` field")));
        }
        let value = std::str::from_utf8(value)
            .map_err(|_| line_error(line_no, &format!("`{field}` is not valid UTF-8")))?
            .trim();
        *slot = Some(value.to_owned());
    }
    if let Some(done) = stanza.take() {
        finish(done, &mut packages)?;
    }
    Ok(packages)
}

fn finish(stanza: Stanza, packages: &mut Vec<Package>) -> Result<(), PackageError> {
    if let Some(status) = &stanza.status {
        // "want flag status": the third word says what is on disk.
        if status.split_whitespace().nth(2) != Some("installed") {
            return Ok(());
        }
    }
    let line = stanza.first_line;
    let name = stanza
        .package
        .filter(|p| !p.is_empty())
        .ok_or_else(|| line_error(line, "stanza has no `Package` field"))?;
    let version = stanza.version.filter(|v| !v.is_empty()).ok_or_else(|| {
        line_error(
            line,
            &format!("installed package `{name}` has no `Version`"),
        )
    })?;
    let source = stanza.source.as_deref().and_then(parse_source);
    packages.push(Package {
        ecosystem: Ecosystem::Debian,
        name,
        version,
        source,
    });
    Ok(())
}

/// `Source: name` or `Source: name (version)`; the version appears when the binary package
/// was given a different version than its source (binNMUs, packages like `gcc-defaults`).
fn parse_source(value: &str) -> Option<Source> {
    let (name, version) = match value.split_once('(') {
        Some((name, rest)) => {
            let version = rest.trim().trim_end_matches(')').trim();
            (
                name.trim(),
                (!version.is_empty()).then(|| version.to_owned()),
            )
        }
        None => (value.trim(), None),
    };
    (!name.is_empty()).then(|| Source {
        name: name.to_owned(),
        version,
    })
}

fn line_error(line: usize, message: &str) -> PackageError {
    PackageError::Line {
        database: DATABASE,
        line,
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        reason = "test code: a panic is a failed test"
    )]
    use super::*;

    const STATUS: &str = "\
Package: libc6
Status: install ok installed
Priority: optional
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries.
 .
 More text.

Package: removed
Status: deinstall ok config-files
Version: 1.0

Package: libgcc-s1
Status: hold ok installed
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14+b1

Package: half
Status: install ok half-installed
Version: 3
";

    #[test]
    fn installed_packages_with_sources() {
        let got = dpkg_status(STATUS.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "libc6");
        assert_eq!(got[0].version, "2.36-9+deb12u4");
        assert_eq!(got[0].ecosystem, Ecosystem::Debian);
        assert_eq!(
            got[0].source,
            Some(Source {
                name: "glibc".into(),
                version: None
            })
        );
        assert_eq!(got[1].name, "libgcc-s1");
        assert_eq!(
            got[1].source,
            Some(Source {
                name: "gcc-12".into(),
                version: Some("12.2.0-14".into())
            })
        );
    }

    #[test]
    fn status_d_without_status_and_crlf() {
        let got = dpkg_status(b"Package: base-files\r\nVersion: 12.4\r\n").unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].version, "12.4");
        assert_eq!(got[0].source, None);
    }

    #[test]
    fn empty_input() {
        assert!(dpkg_status(b"").unwrap().is_empty());
        assert!(dpkg_status(b"\n\n  \n").unwrap().is_empty());
    }

    #[test]
    fn non_utf8_description_is_fine() {
        let got = dpkg_status(b"Package: a\nVersion: 1\nDescription: caf\xe9\n \xff\n").unwrap();
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn malformed() {
        let err = dpkg_status(b"Package: a\nPackage: b\nVersion: 1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "dpkg status: line 2: duplicate `Package` field"
        );
        let err = dpkg_status(b"Package: a\ngarbage\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = dpkg_status(b" continuation\n").unwrap_err();
        assert!(err.to_string().contains("continuation"), "{err}");
        let err = dpkg_status(b"Package: a\nStatus: install ok installed\n").unwrap_err();
        assert!(err.to_string().contains("no `Version`"), "{err}");
        let err = dpkg_status(b"Version: 1\n").unwrap_err();
        assert!(err.to_string().contains("no `Package`"), "{err}");
        let err = dpkg_status(b"\x00\x01\x02\xff").unwrap_err();
        assert!(err.to_string().starts_with("dpkg status: line 1"), "{err}");
        let err = dpkg_status(b"Package: \xff\n").unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }

    #[test]
    fn truncated_stanza_still_counts_when_complete() {
        let text = STATUS.as_bytes();
        let cut = STATUS.find("Package: removed").unwrap();
        assert_eq!(dpkg_status(&text[..cut]).unwrap().len(), 1);
    }
}
