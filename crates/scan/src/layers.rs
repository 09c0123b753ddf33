//! An image's filesystem as a scanner needs it: layers applied in order, whiteouts and
//! opaque directories honoured, and only the files that hold package databases kept,
//! already parsed. Nothing is written to disk and no link is ever followed, so a hostile
//! layer (`../` paths, absolute symlinks, hard links out of the tree) has nothing to reach.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use portcullis_packages::{Kind, OsRelease, Package};

/// The largest file read into memory; package databases are far smaller, and binaries
/// over this size are reported and left out rather than held whole
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// A package as found in the image
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Installed {
    /// The package
    pub package: Package,
    /// The file it was read from (no leading `/`)
    pub path: String,
    /// The layer that put that file there (its digest)
    pub layer: String,
}

/// What the layers hold, for matching
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Inventory {
    /// `/etc/os-release` (or `/usr/lib/os-release`) of the top of the stack
    pub os: Option<OsRelease>,
    /// Every package of every database still present
    pub packages: Vec<Installed>,
    /// What could not be read, and why: the result is partial, not wrong
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug)]
enum Content {
    Packages(Vec<Package>),
    OsRelease(OsRelease),
}

#[derive(Clone, Debug)]
struct File {
    layer: usize,
    /// The parser that read it: a hard link must name the same kind of file
    kind: Kind,
    // Shared: a hard link to a database must not copy its packages (a layer of a million
    // links would otherwise need a million copies).
    content: Arc<Content>,
}

/// Applies layers bottom to top
#[derive(Debug, Default)]
pub struct Layers {
    files: BTreeMap<String, File>,
    layers: Vec<String>,
    warnings: Vec<String>,
}

impl Layers {
    /// An empty filesystem
    pub fn new() -> Layers {
        Layers::default()
    }

    /// Applies the next layer, read from `blob` (tar, gzip'd tar or zstd'd tar, told apart
    /// by their magic bytes). A layer that breaks off is kept up to the break, with a warning.
    pub fn apply(&mut self, digest: &str, blob: impl Read) {
        let index = self.layers.len();
        self.layers.push(digest.to_owned());
        let mut reader = BufReader::with_capacity(256 << 10, blob);
        let magic = match reader.fill_buf() {
            Ok(bytes) => bytes.get(..4).map(<[u8]>::to_vec).unwrap_or_default(),
            Err(e) => {
                self.warn(digest, format!("unreadable: {e}"));
                return;
            }
        };
        let result = if magic.starts_with(&[0x1f, 0x8b]) {
            self.read_tar(index, flate2::read::MultiGzDecoder::new(reader))
        } else if magic == [0x28, 0xb5, 0x2f, 0xfd] {
            match ruzstd::decoding::StreamingDecoder::new(reader) {
                Ok(decoder) => self.read_tar(
                    index,
                    Zstd {
                        decoder: Some(decoder),
                    },
                ),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            }
        } else {
            self.read_tar(index, reader)
        };
        if let Err(e) = result {
            self.warn(
                digest,
                format!("the layer breaks off ({e}); what came before is kept"),
            );
        }
    }

    fn warn(&mut self, layer: &str, message: String) {
        // A hostile layer can hold millions of bad entries; the first thousand tell the story.
        if self.warnings.len() < 1000 {
            self.warnings.push(format!("layer {layer}: {message}"));
        }
    }

    fn read_tar(&mut self, index: usize, reader: impl Read) -> std::io::Result<()> {
        let mut hidden = Hidden::default();
        let result = self.read_entries(index, reader, &mut hidden);
        // Whiteouts seen before a break still apply; they hide what the layers below put
        // there, never what this layer adds.
        self.files
            .retain(|path, file| file.layer >= index || !hidden.hides(path));
        result
    }

    fn read_entries(
        &mut self,
        index: usize,
        reader: impl Read,
        hidden: &mut Hidden,
    ) -> std::io::Result<()> {
        let digest = self.layers.get(index).cloned().unwrap_or_default();
        let mut archive = tar::Archive::new(Framed::new(reader));
        for entry in archive.entries()? {
            let mut entry = entry?;
            let raw = entry.path()?.to_string_lossy().into_owned();
            let (path, clamped) = normalize(&raw);
            if clamped {
                self.warn(
                    &digest,
                    format!(
                        "{raw:?} climbs above the root; read as {path:?}, as container runtimes do"
                    ),
                );
            }
            if path.is_empty() {
                continue;
            }
            let (dir, name) = match path.rsplit_once('/') {
                Some((dir, name)) => (Some(dir), name),
                None => (None, path.as_str()),
            };
            if name == ".wh..wh..opq" {
                hidden.opaque.insert(dir.unwrap_or("").to_owned());
                continue;
            }
            if let Some(target) = name.strip_prefix(".wh.") {
                if !target.is_empty() {
                    hidden.whiteouts.insert(match dir {
                        Some(dir) => format!("{dir}/{target}"),
                        None => target.to_owned(),
                    });
                }
                continue;
            }
            let header = entry.header();
            let kind = header.entry_type();
            if !kind.is_dir() {
                // A file, link or device here replaces a lower directory and all it held.
                hidden.replaced.insert(path.clone());
            }
            let mode = header.mode().unwrap_or(0o644);
            if kind.is_hard_link() {
                // A hard link names a file already in the tree; it gets that file's content,
                // from this layer or below, and never anything outside the tree.
                let target = entry
                    .link_name()?
                    .map(|t| normalize(&t.to_string_lossy()).0);
                let linked = target.and_then(|t| self.files.get(&t).cloned());
                match linked {
                    // The link's own path must name the same kind of database (its size is the
                    // target's, which the link header does not give).
                    Some(file)
                        if portcullis_packages::classify(&path, mode, 1 << 20)
                            == Some(file.kind) =>
                    {
                        self.files.insert(
                            path,
                            File {
                                layer: index,
                                ..file
                            },
                        );
                    }
                    _ => {
                        self.files.remove(&path);
                    }
                }
                continue;
            }
            if !kind.is_file() {
                self.files.remove(&path);
                continue;
            }
            let size = entry.size();
            let Some(what) = portcullis_packages::classify(&path, mode, size) else {
                self.files.remove(&path);
                continue;
            };
            if size > MAX_FILE_BYTES {
                let what = if what == Kind::MaybeExecutable {
                    "executable (Go build info not read)"
                } else {
                    "database"
                };
                self.warn(&digest, format!("{path}: a {size}-byte {what}, over the {MAX_FILE_BYTES}-byte limit; not read"));
                self.files.remove(&path);
                continue;
            }
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            (&mut entry).take(MAX_FILE_BYTES).read_to_end(&mut bytes)?;
            let content = match what {
                Kind::OsRelease => portcullis_packages::os_release(&bytes).map(Content::OsRelease),
                Kind::MaybeExecutable => {
                    portcullis_packages::go_buildinfo(&bytes).map(Content::Packages)
                }
                other => portcullis_packages::parse(other, &bytes).map(Content::Packages),
            };
            match content {
                Ok(Content::Packages(found)) if found.is_empty() => {
                    self.files.remove(&path);
                }
                Ok(content) => {
                    self.files.insert(
                        path,
                        File {
                            layer: index,
                            kind: what,
                            content: Arc::new(content),
                        },
                    );
                }
                Err(e) => {
                    self.warn(&digest, format!("{path}: {e}"));
                    self.files.remove(&path);
                }
            }
        }
        Ok(())
    }

    /// The packages and OS of the finished stack
    pub fn inventory(self) -> Inventory {
        let mut inventory = Inventory {
            warnings: self.warnings,
            ..Inventory::default()
        };
        for candidate in ["etc/os-release", "usr/lib/os-release"] {
            if let Some(Content::OsRelease(os)) =
                self.files.get(candidate).map(|f| f.content.as_ref())
            {
                inventory.os = Some(os.clone());
                break;
            }
        }
        for (path, file) in self.files {
            if let Content::Packages(packages) = file.content.as_ref() {
                let layer = self.layers.get(file.layer).cloned().unwrap_or_default();
                inventory
                    .packages
                    .extend(packages.iter().map(|package| Installed {
                        package: package.clone(),
                        path: path.clone(),
                        layer: layer.clone(),
                    }));
            }
        }
        inventory
    }
}

/// What one layer hides of the layers below it
#[derive(Default)]
struct Hidden {
    /// `.wh.<name>`: the path and everything under it
    whiteouts: BTreeSet<String>,
    /// `.wh..wh..opq`: everything under the directory (`""`: the root)
    opaque: BTreeSet<String>,
    /// Non-directories this layer puts at a path: everything under it
    replaced: BTreeSet<String>,
}

impl Hidden {
    /// Whether a lower layer's `path` is hidden; checks the path's ancestors, so the cost
    /// is its depth, not the number of whiteouts
    fn hides(&self, path: &str) -> bool {
        if self.whiteouts.contains(path) || self.opaque.contains("") {
            return true;
        }
        path.match_indices('/').any(|(at, _)| {
            let ancestor = path.get(..at).unwrap_or("");
            self.whiteouts.contains(ancestor)
                || self.opaque.contains(ancestor)
                || self.replaced.contains(ancestor)
        })
    }
}

/// A tar path as a path from the image's root: `./`, leading `/` and empty parts dropped,
/// and `..` clamped at the root, as container runtimes unpack it. Returns whether it had to
/// clamp.
fn normalize(raw: &str) -> (String, bool) {
    let mut parts: Vec<&str> = Vec::new();
    let mut clamped = false;
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => clamped |= parts.pop().is_none(),
            part => parts.push(part),
        }
    }
    (parts.join("/"), clamped)
}

/// Extension headers (PAX `x`/`g`, GNU long names `L`/`K`) larger than this end the layer:
/// the tar reader holds them whole in memory, and real ones are a few hundred bytes
pub const MAX_EXTENSION_HEADER: u64 = 1 << 20;

/// Follows the tar stream's 512-byte framing as it passes through, so an extension header
/// that announces an absurd size is refused before the tar reader allocates for it
struct Framed<R> {
    inner: R,
    header: Vec<u8>,
    /// Bytes of entry data (padded to 512) still to pass before the next header
    data_left: u64,
}

impl<R: Read> Framed<R> {
    fn new(inner: R) -> Framed<R> {
        Framed {
            inner,
            header: Vec::with_capacity(512),
            data_left: 0,
        }
    }

    /// Reads an entry's size field: octal text, or GNU's base-256 when the top bit is set
    fn size(header: &[u8]) -> u64 {
        let field = header.get(124..136).unwrap_or_default();
        if field.first().is_some_and(|b| b & 0x80 != 0) {
            return field.iter().skip(1).fold(0u64, |n, b| {
                n.saturating_mul(256).saturating_add(u64::from(*b))
            });
        }
        field
            .iter()
            .skip_while(|b| **b == b' ')
            .take_while(|b| (b'0'..=b'7').contains(*b))
            .fold(0u64, |n, b| {
                n.saturating_mul(8).saturating_add(u64::from(b - b'0'))
            })
    }

    fn track(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            if self.data_left > 0 {
                let skip = usize::try_from(self.data_left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.data_left -= skip as u64;
                bytes = bytes.get(skip..).unwrap_or_default();
                continue;
            }
            let want = 512 - self.header.len();
            let take = want.min(bytes.len());
            self.header
                .extend_from_slice(bytes.get(..take).unwrap_or_default());
            bytes = bytes.get(take..).unwrap_or_default();
            if self.header.len() == 512 {
                let kind = self.header.get(156).copied().unwrap_or(0);
                // The size field, as the tar reader itself frames entries.
                let size = Self::size(&self.header);
                if matches!(kind, b'x' | b'g' | b'L' | b'K') && size > MAX_EXTENSION_HEADER {
                    return Err(std::io::Error::other(format!(
                        "a tar extension header of {size} bytes (more than {MAX_EXTENSION_HEADER})"
                    )));
                }
                self.data_left = size.div_ceil(512).saturating_mul(512);
                self.header.clear();
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Framed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.track(buf.get(..read).unwrap_or_default())?;
        Ok(read)
    }
}

/// A zstd stream of one or more frames (zstd:chunked layers are many)
struct Zstd<R: BufRead> {
    decoder: Option<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>,
}

impl<R: BufRead> Read for Zstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(decoder) = self.decoder.as_mut() else {
                return Ok(0);
            };
            let read = decoder.read(buf)?;
            if read > 0 || buf.is_empty() {
                return Ok(read);
            }
            let Some(mut rest) = self.decoder.take().map(|d| d.into_inner()) else {
                return Ok(0);
            };
            if rest.fill_buf()?.is_empty() {
                return Ok(0);
            }
            let next = ruzstd::decoding::StreamingDecoder::new(rest)
                .map_err(|e| std::io::Error::other(format!("zstd: {e}")))?;
            self.decoder = Some(next);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn paths_are_rooted_and_clamped_at_the_root() {
        assert_eq!(
            normalize("./var/lib/dpkg/status"),
            ("var/lib/dpkg/status".into(), false)
        );
        assert_eq!(
            normalize("/etc//os-release"),
            ("etc/os-release".into(), false)
        );
        assert_eq!(normalize("a/b/../c"), ("a/c".into(), false));
        assert_eq!(normalize("../etc/passwd"), ("etc/passwd".into(), true));
        assert_eq!(normalize("a/../../etc/passwd"), ("etc/passwd".into(), true));
    }

    #[test]
    fn hidden_paths_are_found_through_their_ancestors() {
        let mut hidden = Hidden::default();
        hidden.whiteouts.insert("usr/lib/x".into());
        hidden.opaque.insert("opt".into());
        hidden.replaced.insert("srv".into());
        assert!(hidden.hides("usr/lib/x"));
        assert!(hidden.hides("usr/lib/x/deep/file"));
        assert!(!hidden.hides("usr/lib/xy"));
        assert!(hidden.hides("opt/a/b"));
        assert!(!hidden.hides("opt"));
        assert!(hidden.hides("srv/app/package.json"));
        assert!(!hidden.hides("srv"));
    }
}
