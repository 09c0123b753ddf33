//! Python core metadata (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, or an `.egg-info`
//! file): RFC 822-style headers, then a blank line and an optional body (the long
//! description), which is never read.

use crate::{Ecosystem, Package, PackageError};

const DATABASE: &str = "Python metadata";

/// The distribution a metadata file describes: one package, its name PEP 503-normalised.
///
/// Reading stops at the first blank line. A missing or duplicated `Name` or `Version` is an
/// error; other fields (classifiers, requirements) repeat freely and are skipped.
pub fn python_metadata(bytes: &[u8]) -> Result<Vec<Package>, PackageError> {
    let mut name: Option<String> = None;
    let mut version: Option<String> = None;
    let mut last_line = 0;
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = index.saturating_add(1);
        last_line = line_no;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(u8::is_ascii_whitespace) {
            break;
        }
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            if line_no == 1 {
                return Err(line_error(line_no, "continuation line before any field"));
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(line_error(line_no, "expected `Field: value`"));
        };
        let (field, rest) = line.split_at(colon);
        let value = rest.get(1..).unwrap_or_default();
        let slot = if field.eq_ignore_ascii_case(b"Name") {
            &mut name
        } else if field.eq_ignore_ascii_case(b"Version") {
            &mut version
        } else {
            continue;
        };
        let field = String::from_utf8_lossy(field);
        if slot.is_some() {
            return Err(line_error(line_no, &format!("duplicate `{field}` field")));
        }
        let value = std::str::from_utf8(value)
            .map_err(|_| line_error(line_no, &format!("`{field}` is not valid UTF-8")))?
            .trim();
        *slot = Some(value.to_owned());
    }
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| PackageError::Invalid {
            database: DATABASE,
            message: format!("no `Name` field in the headers (read {last_line} lines)"),
        })?;
    let version = version
        .filter(|v| !v.is_empty())
        .ok_or_else(|| PackageError::Invalid {
            database: DATABASE,
            message: format!("no `Version` field for `{name}`"),
        })?;
    Ok(vec![Package {
        ecosystem: Ecosystem::PyPI,
        name: normalize_pypi_name(&name),
        version,
        source: None,
    }])
}

/// PEP 503 normalisation: lower case, every run of `-`, `_` and `.` replaced by one `-`.
/// PyPI and OSV compare names in this form.
pub fn normalize_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                out.push('-');
            }
            in_separator_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_separator_run = false;
        }
    }
    out
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

    const METADATA: &str = "\
Metadata-Version: 2.1
Name: Typing_Extensions
Version: 4.9.0
Summary: Backported and Experimental Type Hints
Classifier: Development Status :: 5 - Production/Stable
Classifier: License :: OSI Approved :: Python Software Foundation License
License: PSF
 second line of a folded header
Requires-Python: >=3.8

Name: this is the body
Version: and is never read
";

    #[test]
    fn reads_headers_only() {
        let got = python_metadata(METADATA.as_bytes()).unwrap();
        assert_eq!(
            got,
            [Package {
                ecosystem: Ecosystem::PyPI,
                name: "typing-extensions".into(),
                version: "4.9.0".into(),
                source: None
            }]
        );
    }

    #[test]
    fn pkg_info_with_crlf_and_no_body() {
        let got =
            python_metadata(b"Metadata-Version: 1.1\r\nName: PyYAML\r\nVersion: 6.0\r\n").unwrap();
        assert_eq!(got[0].name, "pyyaml");
        assert_eq!(got[0].version, "6.0");
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize_pypi_name("Foo.Bar__baz-"), "foo-bar-baz-");
        assert_eq!(normalize_pypi_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_pypi_name("a-_.-b"), "a-b");
    }

    #[test]
    fn malformed() {
        let err = python_metadata(b"Name: a\nName: b\nVersion: 1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Python metadata: line 2: duplicate `Name` field"
        );
        let err = python_metadata(b"Version: 1\n").unwrap_err();
        assert!(err.to_string().contains("no `Name`"), "{err}");
        let err = python_metadata(b"Name: x\n\nVersion: 1\n").unwrap_err();
        assert!(err.to_string().contains("no `Version`"), "{err}");
        let err = python_metadata(b"\x89PNG\x0d\x0a\x1a\x0a\x00\x00").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(python_metadata(b"").is_err());
        let cut = METADATA.find("Version").unwrap();
        assert!(python_metadata(&METADATA.as_bytes()[..cut]).is_err());
    }
}
