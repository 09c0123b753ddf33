//! An image's filesystem as a scanner needs it: layers applied in order, whiteouts and
//! opaque directories honoured, and only the files that hold package databases kept,
//! already parsed. Nothing is written to disk and no link is ever followed, so a hostile
//! layer (`../` paths, absolute symlinks, hard links out of the tree) has nothing to reach.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};

use portcullis_packages::{Kind, OsRelease, Package};

/// The largest file read into memory; package databases are far smaller, and binaries
/// over this size are reported and left out rather than held whole
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// A package as found in the image
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    /// The package
    pub package: Package,
    /// The file it was read from (no leading `/`)
    pub path: String,
    /// The layer that put that file there (its digest)
    pub layer: String,
}

/// What the layers hold, for matching
#[derive(Clone, Debug, Default)]
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
    content: Content,
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
                Ok(decoder) => self.read_tar(index, decoder),
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
        let digest = self.layers.get(index).cloned().unwrap_or_default();
        let mut whiteouts = Vec::new();
        let mut opaque = Vec::new();
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let raw = entry.path()?.to_string_lossy().into_owned();
            let Some(path) = normalize(&raw) else {
                self.warn(&digest, format!("{raw:?} leaves the image's root; skipped"));
                continue;
            };
            let (dir, name) = match path.rsplit_once('/') {
                Some((dir, name)) => (Some(dir), name),
                None => (None, path.as_str()),
            };
            if name == ".wh..wh..opq" {
                opaque.push(dir.unwrap_or("").to_owned());
                continue;
            }
            if let Some(hidden) = name.strip_prefix(".wh.") {
                whiteouts.push(match dir {
                    Some(dir) => format!("{dir}/{hidden}"),
                    None => hidden.to_owned(),
                });
                continue;
            }
            let header = entry.header();
            let kind = header.entry_type();
            if kind.is_hard_link() {
                // A hard link names a file already in the tree; it gets that file's content,
                // from this layer or below, and never anything outside the tree.
                let target = entry
                    .link_name()?
                    .map(|t| t.to_string_lossy().into_owned())
                    .and_then(|t| normalize(&t));
                let linked = target.and_then(|t| self.files.get(&t).cloned());
                match linked {
                    Some(file) => {
                        self.files.insert(
                            path,
                            File {
                                layer: index,
                                ..file
                            },
                        );
                    }
                    None => {
                        self.files.remove(&path);
                    }
                }
                continue;
            }
            if !kind.is_file() {
                // A directory, symlink or device at this path hides a lower layer's file.
                if !kind.is_dir() {
                    self.files.remove(&path);
                }
                continue;
            }
            let mode = header.mode().unwrap_or(0o644);
            let size = entry.size();
            let Some(what) = portcullis_packages::classify(&path, mode, size) else {
                self.files.remove(&path);
                continue;
            };
            if size > MAX_FILE_BYTES {
                if what != Kind::MaybeExecutable {
                    self.warn(
                        &digest,
                        format!(
                            "{path} is {size} bytes, over the {MAX_FILE_BYTES}-byte limit; not read"
                        ),
                    );
                }
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
                            content,
                        },
                    );
                }
                Err(e) => {
                    self.warn(&digest, format!("{path}: {e}"));
                    self.files.remove(&path);
                }
            }
        }
        // Whiteouts hide what the layers below put there, never what this layer adds.
        self.files.retain(|path, file| {
            file.layer >= index
                || !(whiteouts.iter().any(|w| path == w || is_under(path, w))
                    || opaque.iter().any(|d| is_under(path, d)))
        });
        Ok(())
    }

    /// The packages and OS of the finished stack
    pub fn inventory(self) -> Inventory {
        let mut inventory = Inventory {
            warnings: self.warnings,
            ..Inventory::default()
        };
        for candidate in ["etc/os-release", "usr/lib/os-release"] {
            if let Some(File {
                content: Content::OsRelease(os),
                ..
            }) = self.files.get(candidate)
            {
                inventory.os = Some(os.clone());
                break;
            }
        }
        for (path, file) in self.files {
            if let Content::Packages(packages) = file.content {
                let layer = self.layers.get(file.layer).cloned().unwrap_or_default();
                inventory
                    .packages
                    .extend(packages.into_iter().map(|package| Installed {
                        package,
                        path: path.clone(),
                        layer: layer.clone(),
                    }));
            }
        }
        inventory
    }
}

/// `path` inside `dir` (`""` is the root)
fn is_under(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A tar path as a path from the image's root: `./`, leading `/` and empty parts dropped;
/// `None` when `..` would climb out
fn normalize(raw: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(parts.join("/"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn paths_are_rooted_and_never_climb_out() {
        assert_eq!(
            normalize("./var/lib/dpkg/status").unwrap(),
            "var/lib/dpkg/status"
        );
        assert_eq!(normalize("/etc//os-release").unwrap(), "etc/os-release");
        assert_eq!(normalize("a/b/../c").unwrap(), "a/c");
        assert_eq!(normalize("../etc/passwd"), None);
        assert_eq!(normalize("a/../../etc/passwd"), None);
        assert!(is_under("usr/lib/x", "usr/lib"));
        assert!(!is_under("usr/lib64/x", "usr/lib"));
        assert!(is_under("anything", ""));
    }
}
