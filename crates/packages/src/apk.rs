//! apk's installed database (`lib/apk/db/installed`): one record per package, records
//! separated by blank lines, every line a one-letter key, a colon and a value (`P:` name,
//! `V:` version, `o:` origin, and many `F:`/`R:`/`Z:` file lines).

use crate::{Ecosystem, Package, PackageError, Source};

const DATABASE: &str = "apk installed database";

#[derive(Default)]
struct Record {
    first_line: usize,
    name: Option<String>,
    version: Option<String>,
    origin: Option<String>,
}

/// The packages of an apk installed database. The origin (`o:`) is the source package
/// (the APKBUILD that produced it), which Alpine's advisories name; it shares the package's
/// version, so [`Source::version`] is `None`.
///
/// Lines that are not `K:value`, a duplicated `P:`/`V:`/`o:` in one record and a record
/// without a name or version are errors.
pub fn apk_installed(bytes: &[u8]) -> Result<Vec<Package>, PackageError> {
    let mut packages = Vec::new();
    let mut record: Option<Record> = None;
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = index.saturating_add(1);
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            if let Some(done) = record.take() {
                packages.push(finish(done)?);
            }
            continue;
        }
        let (key, value) = match line {
            [key, b':', value @ ..] if key.is_ascii_alphanumeric() => (*key, value),
            _ => {
                return Err(line_error(
                    line_no,
                    "expected a one-letter key, `:` and a value",
                ));
            }
        };
        let current = record.get_or_insert_with(|| Record {
            first_line: line_no,
            ..Record::default()
        });
        let slot = match key {
            b'P' => &mut current.name,
            b'V' => &mut current.version,
            b'o' => &mut current.origin,
            _ => continue,
        };
        let key = char::from(key);
        if slot.is_some() {
            return Err(line_error(
                line_no,
                &format!("duplicate `{key}:` in one package"),
            ));
        }
        let value = std::str::from_utf8(value)
            .map_err(|_| line_error(line_no, &format!("`{key}:` is not valid UTF-8")))?
            .trim();
        *slot = Some(value.to_owned());
    }
    if let Some(done) = record.take() {
        packages.push(finish(done)?);
    }
    Ok(packages)
}

fn finish(record: Record) -> Result<Package, PackageError> {
    let line = record.first_line;
    let name = record
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| line_error(line, "package has no name (`P:`)"))?;
    let version = record
        .version
        .filter(|v| !v.is_empty())
        .ok_or_else(|| line_error(line, &format!("package `{name}` has no version (`V:`)")))?;
    let source = record.origin.filter(|o| !o.is_empty()).map(|name| Source {
        name,
        version: None,
    });
    Ok(Package {
        ecosystem: Ecosystem::Alpine,
        name,
        version,
        source,
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

    /// Shaped after an Alpine 3.19 image's database: checksums, sizes, dependencies,
    /// provides and file lists between the fields this parser reads.
    pub(crate) const INSTALLED: &str = "\
C:Q1Nj8w1wQmJTt8mvMHKnK4Y1kEuHQ=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407255
I:663552
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1705403335
c:f93af038c3de7146121c2ea8124ba5ce29b4b058
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1lsqB/WBFEgXc1n04pRjTOjDuHj4=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1lZ3mq5ZEmbLQBlHjQ2LZRPMW5WA=
P:libcrypto3
V:3.1.4-r5
A:x86_64
S:1771139
I:4423680
T:Crypto library from openssl
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
t:1706024493
c:7fdc41eaf2bd7b1ea7d5c0c8e0e6b6fe0ad1ef9b
D:so:libc.musl-x86_64.so.1
p:so:libcrypto.so.3=3
F:etc
F:etc/ssl
R:openssl.cnf.dist
Z:Q1Q3c0UyHTCh8AuttQp+ECqoZ9vcs=
F:usr/lib
R:libcrypto.so.3
a:0:0:755
Z:Q1lQYCU5vbd3aQH2Lz7zNNwJbH0GI=

C:Q1F6qQHJ/RNHGnDGWR1bJdLpPs7nw=
P:ca-certificates-bundle
V:20230506-r0
A:x86_64
S:125158
I:233472
T:Pre generated bundle of Mozilla certificates
U:https://www.mozilla.org/en-US/about/governance/policies/security-group/certs/
L:MPL-2.0 AND MIT
o:ca-certificates
m:Natanael Copa <ncopa@alpinelinux.org>
t:1683629452
c:59a6b0fefa4b8a8b3b6e6d2c11ac5a0bc3a0a2b4
p:ca-certificates-cacert=20230506-r0
F:etc
F:etc/ssl
F:etc/ssl/certs
R:ca-certificates.crt
Z:Q1hfUvyW7UBNN2DhOTWTQ0ZQ2kLyM=
";

    #[test]
    fn parses_records() {
        let got = apk_installed(INSTALLED.as_bytes()).unwrap();
        let summary: Vec<_> = got
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.version.as_str(),
                    p.source.as_ref().map(|s| s.name.as_str()),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("musl", "1.2.4_git20230717-r4", Some("musl")),
                ("libcrypto3", "3.1.4-r5", Some("openssl")),
                (
                    "ca-certificates-bundle",
                    "20230506-r0",
                    Some("ca-certificates")
                ),
            ]
        );
        assert!(got.iter().all(|p| p.ecosystem == Ecosystem::Alpine));
    }

    #[test]
    fn without_origin_and_blank_runs() {
        let got = apk_installed(b"\n\nP:a\nV:1-r0\n\n\n\nP:b\r\nV:2-r0\r\n").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].source, None);
        assert_eq!(got[1].version, "2-r0");
    }

    #[test]
    fn malformed() {
        let err = apk_installed(b"P:a\nP:b\nV:1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "apk installed database: line 2: duplicate `P:` in one package"
        );
        let err = apk_installed(b"P:a\nversion=1\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = apk_installed(b"P:a\nA:x86_64\n").unwrap_err();
        assert!(err.to_string().contains("no version"), "{err}");
        let err = apk_installed(b"V:1\n").unwrap_err();
        assert!(err.to_string().contains("no name"), "{err}");
        assert!(apk_installed(b"\x7fELF\x02\x01").is_err());
        // Truncated mid-record: the last record has no version.
        let cut = INSTALLED.find("V:20230506").unwrap();
        assert!(apk_installed(&INSTALLED.as_bytes()[..cut]).is_err());
    }
}
