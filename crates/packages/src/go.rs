//! Go build information, embedded by the Go linker in every binary built with modules.
//!
//! The linker writes a 32-byte header that starts with the magic `\xff Go buildinf:`,
//! followed by the pointer size and a flags byte. Since Go 1.18 (flag bit 2) the toolchain
//! version and the module information follow the header inline, each as a uvarint length
//! and bytes. Older binaries store two pointers instead, which would need the executable's
//! segment table to follow; they are not read (see [`go_build_info`]).

use crate::{Ecosystem, Package, PackageError};

const MAGIC: &[u8] = b"\xff Go buildinf:";
const HEADER_SIZE: usize = 32;
const FLAG_INLINE_STRINGS: u8 = 0b10;
/// The module information is framed by 16 bytes of sentinel on each side.
const SENTINEL: usize = 16;
/// How many magic occurrences to try. A Go binary has one; the bound keeps a file stuffed
/// with copies of the magic from costing quadratic time.
const MAX_CANDIDATES: usize = 16;
/// A uvarint longer than this does not fit in 64 bits.
const MAX_UVARINT_BYTES: usize = 10;

/// A module named in a binary's build information, after `=>` replacements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoModule {
    /// Module path (the replacement's path when the module was replaced).
    pub path: String,
    /// Module version; empty for a replacement by a local directory, `(devel)` for a main
    /// module built from a work tree.
    pub version: String,
}

/// What a Go binary says about how it was built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoBuildInfo {
    /// The toolchain version exactly as recorded, e.g. `go1.21.3` or
    /// `go1.23.1 X:nocoverageredesign`.
    pub go_version: String,
    /// The main package's import path (`path` line), present even in GOPATH-mode builds.
    pub path: Option<String>,
    /// The main module (`mod` line), absent in GOPATH-mode builds such as Debian's.
    pub main: Option<GoModule>,
    /// Every dependency module (`dep` lines).
    pub deps: Vec<GoModule>,
}

/// The build information of a Go binary; `Ok(None)` when `bytes` is not a Go binary, or is
/// one built before Go 1.18 (pointer format, not read).
pub fn go_build_info(bytes: &[u8]) -> Result<Option<GoBuildInfo>, PackageError> {
    let mut from = 0;
    for _ in 0..MAX_CANDIDATES {
        let Some(found) = find(bytes.get(from..).unwrap_or_default(), MAGIC) else {
            break;
        };
        let at = from.saturating_add(found);
        if let Some(info) = read_inline(bytes.get(at..).unwrap_or_default()) {
            return Ok(Some(info));
        }
        from = at.saturating_add(1);
    }
    Ok(None)
}

/// The packages a Go binary contains: the main module (unless it is `(devel)`), every
/// dependency, and the standard library as `stdlib` with the toolchain version (its first
/// word: `go1.23.1 X:nocoverageredesign` gives `go1.23.1`; development toolchains, whose
/// version starts with `devel`, give no `stdlib`). `Ok(empty)` when `bytes` is not a Go
/// binary.
pub fn go_buildinfo(bytes: &[u8]) -> Result<Vec<Package>, PackageError> {
    let Some(info) = go_build_info(bytes)? else {
        return Ok(Vec::new());
    };
    let mut packages = Vec::new();
    let modules = info.main.iter().chain(info.deps.iter());
    for module in modules {
        if module.version.is_empty() || module.version == "(devel)" {
            continue;
        }
        packages.push(Package {
            ecosystem: Ecosystem::Go,
            name: module.path.clone(),
            version: module.version.clone(),
            source: None,
        });
    }
    if let Some(toolchain) = info
        .go_version
        .split_whitespace()
        .next()
        .filter(|v| v.starts_with("go"))
    {
        packages.push(Package {
            ecosystem: Ecosystem::Go,
            name: "stdlib".to_owned(),
            version: toolchain.to_owned(),
            source: None,
        });
    }
    Ok(packages)
}

/// Reads the header at the start of `bytes`; `None` when it is not a well-formed inline
/// build information header (a stray copy of the magic, or the pre-1.18 pointer format).
fn read_inline(bytes: &[u8]) -> Option<GoBuildInfo> {
    let header = bytes.get(..HEADER_SIZE)?;
    let pointer_size = *header.get(MAGIC.len())?;
    let flags = *header.get(MAGIC.len().checked_add(1)?)?;
    if !matches!(pointer_size, 4 | 8) || flags & FLAG_INLINE_STRINGS == 0 {
        return None;
    }
    let rest = bytes.get(HEADER_SIZE..)?;
    let (version, rest) = read_string(rest)?;
    let (modinfo, _) = read_string(rest)?;
    let go_version = std::str::from_utf8(version).ok()?;
    if go_version.is_empty() || go_version.chars().any(char::is_control) {
        return None;
    }
    let modinfo = strip_sentinels(modinfo);
    let modinfo = std::str::from_utf8(modinfo).ok()?;
    let mut info = parse_modinfo(modinfo);
    info.go_version = go_version.to_owned();
    Some(info)
}

fn strip_sentinels(modinfo: &[u8]) -> &[u8] {
    // The Go toolchain's own rule: without the trailing sentinel right after a newline,
    // the string is not module information.
    let len = modinfo.len();
    let Some(newline_at) = len.checked_sub(SENTINEL.saturating_add(1)) else {
        return &[];
    };
    if len < 2 * SENTINEL + 1 || modinfo.get(newline_at) != Some(&b'\n') {
        return &[];
    }
    modinfo
        .get(SENTINEL..len.saturating_sub(SENTINEL))
        .unwrap_or_default()
}

fn parse_modinfo(text: &str) -> GoBuildInfo {
    let mut info = GoBuildInfo {
        go_version: String::new(),
        path: None,
        main: None,
        deps: Vec::new(),
    };
    // Where the last `mod`/`dep` went, so that a `=>` line can replace it.
    #[derive(Clone, Copy)]
    enum Last {
        None,
        Main,
        Dep,
    }
    let mut last = Last::None;
    for line in text.lines() {
        let mut fields = line.split('\t');
        let key = fields.next().unwrap_or_default();
        let path = fields.next().unwrap_or_default();
        let version = fields.next().unwrap_or_default();
        let module = || GoModule {
            path: path.to_owned(),
            version: version.to_owned(),
        };
        match key {
            "path" => {
                info.path = Some(path.to_owned());
                last = Last::None;
            }
            "mod" if !path.is_empty() => {
                info.main = Some(module());
                last = Last::Main;
            }
            "dep" if !path.is_empty() => {
                info.deps.push(module());
                last = Last::Dep;
            }
            "=>" if !path.is_empty() => {
                let target = match last {
                    Last::Main => info.main.as_mut(),
                    Last::Dep => info.deps.last_mut(),
                    Last::None => None,
                };
                if let Some(target) = target {
                    *target = module();
                }
                last = Last::None;
            }
            _ => last = Last::None,
        }
    }
    info
}

/// A uvarint-length-prefixed string; `None` when the length is malformed or runs past
/// the end.
fn read_string(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut len: u64 = 0;
    let mut used = 0;
    for (i, &byte) in bytes.iter().take(MAX_UVARINT_BYTES).enumerate() {
        let shift = u32::try_from(i.checked_mul(7)?).ok()?;
        let bits = u64::from(byte & 0x7f).checked_shl(shift)?;
        len |= bits;
        if byte & 0x80 == 0 {
            used = i.checked_add(1)?;
            break;
        }
    }
    if used == 0 {
        return None;
    }
    let len = usize::try_from(len).ok()?;
    let rest = bytes.get(used..)?;
    let end = len.min(rest.len());
    if end != len {
        return None;
    }
    Some((rest.get(..len)?, rest.get(len..)?))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    loop {
        let offset = haystack.get(from..)?.iter().position(|&b| b == first)?;
        let at = from.checked_add(offset)?;
        if haystack.get(at..)?.starts_with(needle) {
            return Some(at);
        }
        from = at.checked_add(1)?;
    }
}

/// Builds the inline build information block a Go >= 1.18 linker writes (for tests).
#[cfg(test)]
pub(crate) fn test_blob(version: &str, modinfo: &str) -> Vec<u8> {
    fn push_string(out: &mut Vec<u8>, s: &[u8]) {
        let mut n = s.len() as u64;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
        out.extend_from_slice(s);
    }
    let mut out = MAGIC.to_vec();
    out.push(8);
    out.push(FLAG_INLINE_STRINGS);
    out.resize(HEADER_SIZE, 0);
    push_string(&mut out, version.as_bytes());
    let mut framed = vec![0x30u8; SENTINEL];
    framed.extend_from_slice(modinfo.as_bytes());
    framed.extend_from_slice(&[0xf9; SENTINEL]);
    push_string(&mut out, &framed);
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

    const MODINFO: &str = "path\texample.com/app/cmd/app
mod\texample.com/app\tv1.2.3\th1:abc=
dep\tgolang.org/x/net\tv0.17.0\th1:def=
dep\tgithub.com/old/thing\tv1.0.0
=>\tgithub.com/fork/thing\tv1.0.1\th1:ghi=
dep\texample.com/local\tv0.0.0-00010101000000-000000000000
=>\t../local\t
build\t-compiler=gc
build\tCGO_ENABLED=1
";

    fn binary(version: &str, modinfo: &str) -> Vec<u8> {
        let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
        bytes.resize(4096, 0);
        // A stray copy of the magic, as in the Go toolchain's own binaries.
        bytes.extend_from_slice(b"\xff Go buildinf:not a header at all....");
        bytes.resize(8192, 0);
        bytes.extend_from_slice(&test_blob(version, modinfo));
        bytes.resize(bytes.len() + 100, 0);
        bytes
    }

    #[test]
    fn reads_inline_build_info() {
        let info = go_build_info(&binary("go1.21.3", MODINFO))
            .unwrap()
            .unwrap();
        assert_eq!(info.go_version, "go1.21.3");
        assert_eq!(info.path.as_deref(), Some("example.com/app/cmd/app"));
        assert_eq!(info.main.as_ref().unwrap().version, "v1.2.3");
        assert_eq!(info.deps.len(), 3);
        assert_eq!(info.deps[1].path, "github.com/fork/thing");
        assert_eq!(info.deps[1].version, "v1.0.1");
        assert_eq!(info.deps[2].path, "../local");
        assert_eq!(info.deps[2].version, "");

        let got = go_buildinfo(&binary("go1.21.3", MODINFO)).unwrap();
        let pairs: Vec<_> = got
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("example.com/app", "v1.2.3"),
                ("golang.org/x/net", "v0.17.0"),
                ("github.com/fork/thing", "v1.0.1"),
                ("stdlib", "go1.21.3"),
            ]
        );
        assert!(got.iter().all(|p| p.ecosystem == Ecosystem::Go));
    }

    #[test]
    fn devel_main_and_experiments() {
        let got = go_buildinfo(&binary(
            "go1.23.1 X:nocoverageredesign",
            "path\tx\nmod\tx\t(devel)\t\ndep\ty\tv1.0.0\th1:=\n",
        ))
        .unwrap();
        let pairs: Vec<_> = got
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(pairs, [("y", "v1.0.0"), ("stdlib", "go1.23.1")]);
        let got = go_buildinfo(&binary("devel go1.24-abcdef", "")).unwrap();
        assert!(got.is_empty());
    }

    #[test]
    fn gopath_build_has_only_stdlib() {
        let info = go_build_info(&binary(
            "go1.19.8",
            "path\tgithub.com/containers/skopeo/cmd/skopeo\nbuild\t-compiler=gc\n",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(info.main, None);
        assert_eq!(
            info.path.as_deref(),
            Some("github.com/containers/skopeo/cmd/skopeo")
        );
        let got = go_buildinfo(&binary("go1.19.8", "path\tx\n")).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "stdlib");
    }

    #[test]
    fn not_go_or_old_or_malformed() {
        assert_eq!(go_build_info(b"").unwrap(), None);
        assert_eq!(go_build_info(b"#!/bin/sh\necho hi\n").unwrap(), None);
        // Pre-1.18 pointer format: flags without the inline bit.
        let mut old = MAGIC.to_vec();
        old.extend_from_slice(&[8, 0]);
        old.resize(64, 0);
        assert_eq!(go_build_info(&old).unwrap(), None);
        // Every truncation of a valid block gives None or a result, never a panic; cut
        // inside the strings gives None.
        let blob = test_blob("go1.22.0", MODINFO);
        for cut in 0..blob.len() {
            let got = go_build_info(&blob[..cut]).unwrap();
            assert_eq!(got, None, "cut at {cut}");
        }
        // Length prefix claiming more than the file holds.
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&[8, 2]);
        huge.resize(HEADER_SIZE, 0);
        huge.extend_from_slice(&[0xff; 10]);
        huge.push(0x01);
        assert_eq!(go_build_info(&huge).unwrap(), None);
        // Modinfo without its trailing sentinel is ignored, as Go does.
        let mut no_sentinel = MAGIC.to_vec();
        no_sentinel.extend_from_slice(&[8, 2]);
        no_sentinel.resize(HEADER_SIZE, 0);
        no_sentinel.extend_from_slice(b"\x08go1.22.0\x05mod\tx");
        let info = go_build_info(&no_sentinel).unwrap().unwrap();
        assert_eq!(info.main, None);
    }
}
