//! Where an image's layers come from on the scanning machine: an OCI image layout
//! directory, or a `docker save` archive. (Images in a registry are read through the
//! registry's own blob store, or over HTTP by the CLI, and handed over as layer streams.)

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ScanError;

/// One layer to apply: its digest (or archive path) and how to read it
#[derive(Debug)]
pub struct LayerRef {
    /// `sha256:…`, or the archive member for `docker save` archives without digests
    pub digest: String,
    /// Compressed size, for progress
    pub size: u64,
    source: LayerSource,
}

#[derive(Debug)]
enum LayerSource {
    File(PathBuf),
    Member {
        archive: PathBuf,
        offset: u64,
        size: u64,
    },
}

impl LayerRef {
    /// Opens the layer's bytes
    pub fn open(&self) -> Result<Box<dyn Read + Send>, ScanError> {
        match &self.source {
            LayerSource::File(path) => Ok(Box::new(
                std::fs::File::open(path).map_err(|e| io(path, e))?,
            )),
            LayerSource::Member {
                archive,
                offset,
                size,
            } => {
                let mut file = std::fs::File::open(archive).map_err(|e| io(archive, e))?;
                file.seek(SeekFrom::Start(*offset))
                    .map_err(|e| io(archive, e))?;
                Ok(Box::new(file.take(*size)))
            }
        }
    }
}

fn io(path: &Path, e: std::io::Error) -> ScanError {
    ScanError::Image(format!("{}: {e}", path.display()))
}

fn bad(what: impl std::fmt::Display) -> ScanError {
    ScanError::Image(what.to_string())
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// Manifests and configs are small; anything larger is not one
const MAX_JSON: u64 = 4 << 20;

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ScanError> {
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_JSON)
        .read_to_end(&mut bytes)
        .map_err(|e| io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| bad(format!("{}: {e}", path.display())))
}

fn blob_path(root: &Path, digest: &str) -> Result<PathBuf, ScanError> {
    let (algorithm, hex) = digest
        .split_once(':')
        .filter(|(a, h)| {
            matches!(*a, "sha256" | "sha512")
                && !h.is_empty()
                && h.chars().all(|c| c.is_ascii_hexdigit())
        })
        .ok_or_else(|| bad(format!("{digest:?} is not a digest")))?;
    Ok(root.join("blobs").join(algorithm).join(hex))
}

/// The layers of the image in an OCI layout at `root`: the one named `tag` (its
/// `org.opencontainers.image.ref.name`), or the only one; an index picks linux/amd64, else
/// its first manifest.
pub fn oci_layout(root: &Path, tag: Option<&str>) -> Result<Vec<LayerRef>, ScanError> {
    let index: Index = read_json(&root.join("index.json"))?;
    let chosen = match tag {
        Some(tag) => index
            .manifests
            .iter()
            .find(|m| {
                m.annotations
                    .get("org.opencontainers.image.ref.name")
                    .map(String::as_str)
                    == Some(tag)
            })
            .ok_or_else(|| bad(format!("no image tagged {tag:?} in {}", root.display())))?,
        None => match index.manifests.as_slice() {
            [only] => only,
            [] => return Err(bad(format!("{} holds no image", root.display()))),
            _ => {
                return Err(bad(format!(
                    "{} holds several images: name one with :TAG",
                    root.display()
                )));
            }
        },
    };
    let mut digest = chosen.digest.clone();
    // An index (multi-platform image) nests manifests: follow it to one platform.
    for _ in 0..4 {
        let manifest: Manifest = read_json(&blob_path(root, &digest)?)?;
        if manifest.manifests.is_empty() {
            return manifest
                .layers
                .into_iter()
                .map(|layer| {
                    Ok(LayerRef {
                        source: LayerSource::File(blob_path(root, &layer.digest)?),
                        digest: layer.digest,
                        size: layer.size,
                    })
                })
                .collect();
        }
        let pick = manifest
            .manifests
            .iter()
            .find(|m| {
                m.platform
                    .as_ref()
                    .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
            })
            .or_else(|| {
                manifest
                    .manifests
                    .iter()
                    .find(|m| !m.media_type.contains("attestation"))
            })
            .ok_or_else(|| bad("an empty image index"))?;
        digest = pick.digest.clone();
    }
    Err(bad("image indexes nested too deep"))
}

#[derive(Deserialize)]
struct DockerEntry {
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// The layers of the first image in a `docker save` archive
pub fn docker_archive(archive: &Path) -> Result<Vec<LayerRef>, ScanError> {
    let file = std::fs::File::open(archive).map_err(|e| io(archive, e))?;
    let mut tar = tar::Archive::new(file);
    let mut members = std::collections::BTreeMap::new();
    let mut manifest = None;
    for entry in tar.entries().map_err(|e| io(archive, e))? {
        let mut entry = entry.map_err(|e| io(archive, e))?;
        let name = entry
            .path()
            .map_err(|e| io(archive, e))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        if name == "manifest.json" {
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_JSON)
                .read_to_end(&mut bytes)
                .map_err(|e| io(archive, e))?;
            let entries: Vec<DockerEntry> = serde_json::from_slice(&bytes)
                .map_err(|e| bad(format!("{}: manifest.json: {e}", archive.display())))?;
            manifest = entries.into_iter().next();
        } else if entry.header().entry_type().is_file() {
            members.insert(name, (entry.raw_file_position(), entry.size()));
        }
    }
    let manifest = manifest.ok_or_else(|| {
        bad(format!(
            "{} has no manifest.json: not a docker save archive",
            archive.display()
        ))
    })?;
    manifest
        .layers
        .into_iter()
        .map(|layer| {
            let (offset, size) = *members.get(layer.trim_start_matches("./")).ok_or_else(|| {
                bad(format!(
                    "{} names layer {layer} but does not hold it",
                    archive.display()
                ))
            })?;
            // Newer docker writes OCI-layout archives: the member name is the digest.
            let digest = match layer.strip_prefix("blobs/sha256/") {
                Some(hex) => format!("sha256:{hex}"),
                None => layer.clone(),
            };
            Ok(LayerRef {
                digest,
                size,
                source: LayerSource::Member {
                    archive: archive.to_path_buf(),
                    offset,
                    size,
                },
            })
        })
        .collect()
}
