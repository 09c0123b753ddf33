//! `os-release` (`etc/os-release`, `usr/lib/os-release`): shell-compatible `KEY=value`
//! assignments, values optionally in single or double quotes.

use crate::PackageError;

/// The fields of `os-release` the scanner needs to name the distribution's advisories.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OsRelease {
    /// `ID`, e.g. `debian`, `alpine`, `rhel`; `linux` when absent, as os-release(5) says.
    pub id: String,
    /// `VERSION_ID`, e.g. `12` or `3.19.1`.
    pub version_id: Option<String>,
    /// `VERSION_CODENAME`, e.g. `bookworm`.
    pub version_codename: Option<String>,
    /// `PRETTY_NAME`, for display.
    pub pretty_name: Option<String>,
}

/// Parses `os-release`. Comments, blank lines and lines that are not assignments are
/// ignored (os-release(5) leaves them undefined); a later assignment of a key wins, as it
/// would in a shell. The only error is text that is not UTF-8.
pub fn os_release(bytes: &[u8]) -> Result<OsRelease, PackageError> {
    let text = std::str::from_utf8(bytes).map_err(|e| PackageError::Invalid {
        database: "os-release",
        message: format!("not valid UTF-8: {e}"),
    })?;
    let mut release = OsRelease {
        id: String::new(),
        version_id: None,
        version_codename: None,
        pretty_name: None,
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(raw.trim());
        match key.trim() {
            "ID" => release.id = value,
            "VERSION_ID" => release.version_id = Some(value),
            "VERSION_CODENAME" => release.version_codename = Some(value),
            "PRETTY_NAME" => release.pretty_name = Some(value),
            _ => {}
        }
    }
    if release.id.is_empty() {
        "linux".clone_into(&mut release.id);
    }
    for field in [
        &mut release.version_id,
        &mut release.version_codename,
        &mut release.pretty_name,
    ] {
        if field.as_deref() == Some("") {
            *field = None;
        }
    }
    Ok(release)
}

/// Shell quoting as os-release uses it: double quotes with backslash escapes for `"`, `\`,
/// `$` and `` ` ``; single quotes taken literally; bare words with backslash escapes.
fn unquote(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            (None, '#') => break,
            _ => out.push(c),
        }
    }
    out
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

    #[test]
    fn debian() {
        let text = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"#;
        let got = os_release(text.as_bytes()).unwrap();
        assert_eq!(
            got,
            OsRelease {
                id: "debian".into(),
                version_id: Some("12".into()),
                version_codename: Some("bookworm".into()),
                pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
            }
        );
    }

    #[test]
    fn quoting_comments_and_defaults() {
        let text = "# comment\nID='alpine'\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Say \\\"hi\\\" \\$x\"\nnonsense\nVERSION_CODENAME=\n";
        let got = os_release(text.as_bytes()).unwrap();
        assert_eq!(got.id, "alpine");
        assert_eq!(got.version_id.as_deref(), Some("3.19.1"));
        assert_eq!(got.pretty_name.as_deref(), Some("Say \"hi\" $x"));
        assert_eq!(got.version_codename, None);
        assert_eq!(os_release(b"").unwrap().id, "linux");
        assert_eq!(os_release(b"ID=a\nID=b\n").unwrap().id, "b");
        assert_eq!(
            os_release(b"ID=\"unterminated\n").unwrap().id,
            "unterminated"
        );
        assert!(
            os_release(b"ID=\xff")
                .unwrap_err()
                .to_string()
                .contains("UTF-8")
        );
    }
}
