//! Package databases found in image filesystems. Each parser takes a file's bytes and
//! returns the packages it names; none of them touches the filesystem or the network.
//!
//! The caller walks an image's flattened filesystem, asks [`classify`] which parser a file
//! needs, reads it (capped at 64 MiB) and hands the bytes to [`parse`]. Everything here
//! treats its input as hostile: no panics, no recursion without a depth limit, and no
//! allocation larger than a small multiple of the input.

mod apk;
mod cargo;
mod dpkg;
mod go;
mod npm;
mod os_release;
mod python;
mod rpm;

pub use apk::apk_installed;
pub use cargo::cargo_lock;
pub use dpkg::dpkg_status;
pub use go::{GoBuildInfo, GoModule, go_build_info, go_buildinfo};
pub use npm::{npm_package_json, npm_package_lock};
pub use os_release::{OsRelease, os_release};
pub use python::{normalize_pypi_name, python_metadata};
pub use rpm::{rpm_header, rpm_sqlite};

/// Where a package's advisories come from: the OSV ecosystem family. The caller adds the
/// OS release where the ecosystem needs one (e.g. "Debian:12").
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Ecosystem {
    /// dpkg packages (Debian, Ubuntu, distroless).
    Debian,
    /// apk packages (Alpine, Wolfi).
    Alpine,
    /// rpm packages (RHEL, Fedora, Rocky, Alma, SUSE...).
    Rpm,
    /// Python distributions.
    PyPI,
    /// npm packages.
    Npm,
    /// Rust crates from crates.io.
    CratesIo,
    /// Go modules (and the Go standard library as `stdlib`).
    Go,
}

/// One installed package.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Package {
    /// Which advisory database applies.
    pub ecosystem: Ecosystem,
    /// The name as advisories use it: PyPI names PEP 503-normalised, npm names with their
    /// scope (`@types/node`).
    pub name: String,
    /// The version as the ecosystem writes it; rpm: `[epoch:]version-release`, the epoch
    /// only when present and non-zero.
    pub version: String,
    /// The source package it was built from, when the database records one: dpkg `Source:`,
    /// apk origin (`o:`), rpm `SOURCERPM`. `None` for dpkg means the source package has the
    /// binary package's name and version.
    pub source: Option<Source>,
}

/// The source package a binary package was built from; distributions publish advisories
/// against source packages.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Source {
    /// Source package name.
    pub name: String,
    /// Source version when the database records one that may differ from the binary's
    /// (dpkg `Source: name (version)`, rpm `version-release` from the SRPM file name).
    pub version: Option<String>,
}

/// Which parser a file needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `var/lib/dpkg/status`.
    DpkgStatus,
    /// One file of `var/lib/dpkg/status.d/` (distroless: one package per file).
    DpkgStatusD,
    /// `lib/apk/db/installed`.
    ApkInstalled,
    /// rpm's sqlite database `rpmdb.sqlite`.
    RpmSqlite,
    /// Python core metadata: `METADATA`, `PKG-INFO` or an `.egg-info` file.
    PythonMetadata,
    /// An npm `package-lock.json` outside `node_modules`.
    NpmPackageLock,
    /// The `package.json` of an installed npm package (`node_modules/<name>/package.json`).
    NpmPackageJson,
    /// A Rust `Cargo.lock`.
    CargoLock,
    /// `os-release`: no packages, but the caller needs it to name the distribution.
    OsRelease,
    /// An executable that may be a Go binary; [`go_buildinfo`] checks its content.
    MaybeExecutable,
}

/// `S_IFMT`: the file-type bits of a Unix mode.
const MODE_TYPE_MASK: u32 = 0o170_000;
/// `S_IFREG`: a regular file.
const MODE_REGULAR: u32 = 0o100_000;
/// Smaller executables are scripts or stubs, never Go binaries (the runtime alone is
/// megabytes), so reading them would be wasted work.
const MIN_EXECUTABLE_SIZE: u64 = 1024;

/// Which parser a file needs, from its path inside the image (relative, no leading `/`,
/// `/` separators), its mode and its size; `None` when no parser wants it.
///
/// `mode` may be the permission bits alone (as in a tar header) or a full `st_mode`; when it
/// carries file-type bits, anything but a regular file gives `None`.
pub fn classify(path: &str, mode: u32, size: u64) -> Option<Kind> {
    let file_type = mode & MODE_TYPE_MASK;
    if file_type != 0 && file_type != MODE_REGULAR {
        return None;
    }
    let path = path.trim_start_matches("./").trim_start_matches('/');
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    match path {
        "var/lib/dpkg/status" => return Some(Kind::DpkgStatus),
        "lib/apk/db/installed" => return Some(Kind::ApkInstalled),
        "var/lib/rpm/rpmdb.sqlite" | "usr/lib/sysimage/rpm/rpmdb.sqlite" => {
            return Some(Kind::RpmSqlite);
        }
        "etc/os-release" | "usr/lib/os-release" => return Some(Kind::OsRelease),
        _ => {}
    }
    // distroless keeps `<package>.md5sums` beside each package's stanza.
    if dir == "var/lib/dpkg/status.d" && !file.is_empty() && !file.ends_with(".md5sums") {
        return Some(Kind::DpkgStatusD);
    }
    let parent = dir.rsplit('/').next().unwrap_or(dir);
    if (file == "METADATA" && parent.ends_with(".dist-info"))
        || (file == "PKG-INFO" && parent.ends_with(".egg-info"))
        || file.ends_with(".egg-info")
    {
        return Some(Kind::PythonMetadata);
    }
    if file == "package-lock.json" && !dir.split('/').any(|c| c == "node_modules") {
        return Some(Kind::NpmPackageLock);
    }
    if file == "package.json" && is_installed_npm_package_dir(dir) {
        return Some(Kind::NpmPackageJson);
    }
    if file == "Cargo.lock" {
        return Some(Kind::CargoLock);
    }
    if mode & 0o111 != 0 && size >= MIN_EXECUTABLE_SIZE {
        return Some(Kind::MaybeExecutable);
    }
    None
}

/// Whether `dir` is `.../node_modules/<name>` or `.../node_modules/@scope/<name>`: only
/// those hold a package's own `package.json`; deeper ones belong to its internals.
fn is_installed_npm_package_dir(dir: &str) -> bool {
    let mut components = dir.rsplit('/');
    let (Some(name), Some(up1)) = (components.next(), components.next()) else {
        return false;
    };
    if name.is_empty() || name.starts_with('@') || name.starts_with('.') {
        return false;
    }
    if up1 == "node_modules" {
        return true;
    }
    up1.len() > 1 && up1.starts_with('@') && components.next() == Some("node_modules")
}

/// Parses `bytes` with the parser for `kind`. [`Kind::OsRelease`] names no packages and
/// gives an empty list: call [`os_release`] for its content.
pub fn parse(kind: Kind, bytes: &[u8]) -> Result<Vec<Package>, PackageError> {
    match kind {
        Kind::DpkgStatus | Kind::DpkgStatusD => dpkg_status(bytes),
        Kind::ApkInstalled => apk_installed(bytes),
        Kind::RpmSqlite => rpm_sqlite(bytes),
        Kind::PythonMetadata => python_metadata(bytes),
        Kind::NpmPackageLock => npm_package_lock(bytes),
        Kind::NpmPackageJson => npm_package_json(bytes),
        Kind::CargoLock => cargo_lock(bytes),
        Kind::OsRelease => Ok(Vec::new()),
        Kind::MaybeExecutable => go_buildinfo(bytes),
    }
}

/// Why a package database could not be read. Each message names the database and what is
/// wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// A line-oriented database (dpkg, apk, Python metadata, os-release) has a bad line.
    #[error("{database}: line {line}: {message}")]
    Line {
        /// Which database.
        database: &'static str,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The database is malformed in a way not tied to one line.
    #[error("{database}: {message}")]
    Invalid {
        /// Which database.
        database: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A JSON database (npm) is not valid JSON.
    #[error("{database}: invalid JSON: {source}")]
    Json {
        /// Which database.
        database: &'static str,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// `Cargo.lock` is not valid TOML or lacks the expected shape.
    #[error("Cargo.lock: invalid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    /// The rpm database is not a usable sqlite database.
    #[error("rpm database (sqlite): {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// One rpm header blob in the database is malformed.
    #[error("rpm database: package header {hnum}: {message}")]
    RpmHeader {
        /// The row's `hnum` (rpm's package instance number).
        hnum: i64,
        /// What is wrong.
        message: String,
    },
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
    fn classify_paths() {
        let cases: &[(&str, u32, u64, Option<Kind>)] = &[
            ("var/lib/dpkg/status", 0o644, 10, Some(Kind::DpkgStatus)),
            ("var/lib/dpkg/status-old", 0o644, 10, None),
            (
                "var/lib/dpkg/status.d/libc6",
                0o644,
                10,
                Some(Kind::DpkgStatusD),
            ),
            ("var/lib/dpkg/status.d/libc6.md5sums", 0o644, 10, None),
            ("var/lib/dpkg/status.d/x/y", 0o644, 10, None),
            ("lib/apk/db/installed", 0o644, 10, Some(Kind::ApkInstalled)),
            ("var/lib/rpm/rpmdb.sqlite", 0o644, 10, Some(Kind::RpmSqlite)),
            (
                "usr/lib/sysimage/rpm/rpmdb.sqlite",
                0o644,
                10,
                Some(Kind::RpmSqlite),
            ),
            ("var/lib/rpm/Packages", 0o644, 10, None),
            (
                "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
                0o644,
                10,
                Some(Kind::PythonMetadata),
            ),
            (
                "x/foo.egg-info/PKG-INFO",
                0o644,
                10,
                Some(Kind::PythonMetadata),
            ),
            ("x/foo-1.0.egg-info", 0o644, 10, Some(Kind::PythonMetadata)),
            ("x/foo.egg-info", 0o040_755, 10, None),
            ("x/foo.dist-info/RECORD", 0o644, 10, None),
            (
                "app/package-lock.json",
                0o644,
                10,
                Some(Kind::NpmPackageLock),
            ),
            ("package-lock.json", 0o644, 10, Some(Kind::NpmPackageLock)),
            ("app/node_modules/x/package-lock.json", 0o644, 10, None),
            (
                "app/node_modules/x/package.json",
                0o644,
                10,
                Some(Kind::NpmPackageJson),
            ),
            (
                "node_modules/@types/node/package.json",
                0o644,
                10,
                Some(Kind::NpmPackageJson),
            ),
            ("app/node_modules/x/lib/package.json", 0o644, 10, None),
            ("app/node_modules/@s/x/lib/package.json", 0o644, 10, None),
            ("app/node_modules/@s/package.json", 0o644, 10, None),
            ("app/package.json", 0o644, 10, None),
            (
                "a/node_modules/x/node_modules/y/package.json",
                0o644,
                10,
                Some(Kind::NpmPackageJson),
            ),
            ("src/app/Cargo.lock", 0o644, 10, Some(Kind::CargoLock)),
            ("etc/os-release", 0o644, 10, Some(Kind::OsRelease)),
            ("usr/lib/os-release", 0o644, 10, Some(Kind::OsRelease)),
            ("usr/bin/app", 0o755, 4096, Some(Kind::MaybeExecutable)),
            ("usr/bin/app", 0o100_700, 4096, Some(Kind::MaybeExecutable)),
            ("usr/bin/app", 0o120_777, 4096, None),
            ("usr/bin/script", 0o755, 100, None),
            ("usr/share/doc", 0o644, 1 << 20, None),
        ];
        for (path, mode, size, want) in cases {
            assert_eq!(
                classify(path, *mode, *size),
                *want,
                "{path} {mode:o} {size}"
            );
        }
    }

    #[test]
    fn parse_dispatches() {
        assert!(parse(Kind::OsRelease, b"ID=debian\n").unwrap().is_empty());
        assert!(
            parse(Kind::MaybeExecutable, b"\x7fELF not go")
                .unwrap()
                .is_empty()
        );
        let got = parse(Kind::DpkgStatusD, b"Package: a\nVersion: 1\n").unwrap();
        assert_eq!(got.len(), 1);
    }
}
