//! Version orders of package ecosystems, as vulnerability matching needs them.
//!
//! Each ecosystem orders versions its own way; an OSV range is only meaningful in the order
//! of its ecosystem. No I/O.
//!
//! ```
//! use portcullis_version::Scheme;
//! use std::cmp::Ordering;
//!
//! let scheme = Scheme::for_ecosystem("Debian:12").unwrap();
//! assert_eq!(scheme.compare("2.2~rc-4", "2.2-1").unwrap(), Ordering::Less);
//! ```

mod apk;
mod dpkg;
mod go;
mod pep440;
mod rpm;
mod semver;

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// An ecosystem's version order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Debian and Ubuntu packages (`dpkg --compare-versions`).
    Dpkg,
    /// Alpine, Wolfi and Chainguard packages (apk-tools).
    Apk,
    /// Red Hat family and SUSE packages (`rpmvercmp` over epoch, version, release).
    Rpm,
    /// Python packages (PEP 440).
    Pep440,
    /// npm and crates.io packages (SemVer 2.0 precedence).
    Semver,
    /// Go modules and the Go toolchain (SemVer with Go's spellings).
    Go,
}

impl Scheme {
    /// The scheme of an OSV ecosystem string such as `Debian:12`, `Alpine:v3.18` or `PyPI`;
    /// `None` for ecosystems whose order this crate does not know.
    pub fn for_ecosystem(ecosystem: &str) -> Option<Scheme> {
        // OSV appends release and variant after a colon (`Ubuntu:Pro:18.04:LTS`,
        // `Red Hat:enterprise_linux:9::appstream`); only the base name picks the order.
        let base = ecosystem.split(':').next().unwrap_or(ecosystem).trim();
        match base {
            "Debian" | "Ubuntu" => Some(Scheme::Dpkg),
            "Alpine" | "Wolfi" | "Chainguard" => Some(Scheme::Apk),
            "Red Hat" | "Rocky Linux" | "AlmaLinux" | "openSUSE" | "SUSE" => Some(Scheme::Rpm),
            "PyPI" => Some(Scheme::Pep440),
            "npm" | "crates.io" => Some(Scheme::Semver),
            "Go" => Some(Scheme::Go),
            _ => None,
        }
    }

    /// Parses `version` in this scheme's syntax.
    pub fn parse(self, version: &str) -> Result<Version, VersionError> {
        let key = match self {
            Scheme::Dpkg => dpkg::parse(version).map(Key::Dpkg),
            Scheme::Apk => apk::parse(version).map(Key::Apk),
            Scheme::Rpm => rpm::parse(version).map(Key::Rpm),
            Scheme::Pep440 => pep440::parse(version).map(Key::Pep440),
            Scheme::Semver => semver::parse(version).map(Key::Semver),
            Scheme::Go => go::parse(version).map(Key::Go),
        }
        .map_err(|reason| VersionError::Invalid {
            scheme: self,
            version: version.to_owned(),
            reason,
        })?;
        Ok(Version {
            text: version.to_owned(),
            key,
        })
    }

    /// Compares two versions in this scheme's order.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        Ok(self.parse(a)?.cmp(&self.parse(b)?))
    }

    /// A short lowercase name: `dpkg`, `apk`, `rpm`, `pep440`, `semver` or `go`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Apk => "apk",
            Scheme::Rpm => "rpm",
            Scheme::Pep440 => "pep440",
            Scheme::Semver => "semver",
            Scheme::Go => "go",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version that parsed in one scheme.
///
/// Equality, order and hash follow the scheme's order, not the text: in dpkg `1.0-0` equals
/// `1.0`, in PEP 440 `1.0` equals `1.0.0`. Versions of different schemes order by scheme
/// first; that order exists only so that `Version` can be a map key, and means nothing.
#[derive(Clone, Debug)]
pub struct Version {
    text: String,
    key: Key,
}

impl Version {
    /// The scheme this version was parsed in.
    pub fn scheme(&self) -> Scheme {
        match self.key {
            Key::Dpkg(_) => Scheme::Dpkg,
            Key::Apk(_) => Scheme::Apk,
            Key::Rpm(_) => Scheme::Rpm,
            Key::Pep440(_) => Scheme::Pep440,
            Key::Semver(_) => Scheme::Semver,
            Key::Go(_) => Scheme::Go,
        }
    }

    /// The text as given to [`Scheme::parse`].
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

/// The parsed form each scheme compares. The variant order is the cross-scheme order, and
/// each inner type keeps `Eq`, `Ord` and `Hash` consistent with its ecosystem's order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    Dpkg(dpkg::DpkgVersion),
    Apk(apk::ApkVersion),
    Rpm(rpm::RpmVersion),
    Pep440(pep440::Pep440Version),
    Semver(semver::SemVersion),
    Go(semver::SemVersion),
}

/// Why a version string could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    /// The string is not a version in the scheme's syntax.
    #[error("invalid {scheme} version {version:?}: {reason}")]
    Invalid {
        /// The scheme asked for.
        scheme: Scheme,
        /// The string as given.
        version: String,
        /// What is wrong with it.
        reason: String,
    },
}
