//! Reading OSV records from what operators have: a directory tree, single `.json` files,
//! and `.tar.gz`/`.tgz`/`.zip` archives (osv.dev's `all.zip`, our seed's `*.tar.gz`).
//! Records are streamed one at a time; nothing is unpacked to disk.

use std::io::Read;
use std::path::Path;

use crate::VulnDbError;

/// Records larger than this are refused as broken: the largest real OSV record is far
/// smaller, and a cap keeps a hostile archive from exhausting memory.
pub const MAX_RECORD_BYTES: u64 = 16 << 20;

/// One file found in a source: where it came from, and its bytes (or why they were not read)
pub(crate) type Found = (String, Result<Vec<u8>, String>);

/// Calls `found` for every `.json` file under `path`. Errors reading the source itself
/// (a missing path, a corrupt archive) end the walk; a single oversized record does not.
pub(crate) fn walk(
    path: &Path,
    found: &mut dyn FnMut(Found) -> Result<(), VulnDbError>,
) -> Result<(), VulnDbError> {
    let io = |e: std::io::Error| VulnDbError::Source {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(io)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(io)?;
        // A stable order makes "which of two copies wins" reproducible.
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let child = entry.path();
            let kind = entry.file_type().map_err(io)?;
            if kind.is_dir() || is_source_file(&child) {
                walk(&child, found)?;
            }
        }
        return Ok(());
    }
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        let file = std::fs::File::open(path).map_err(io)?;
        read_tar(
            path,
            flate2::read::GzDecoder::new(std::io::BufReader::new(file)),
            found,
        )
    } else if name.ends_with(".tar") {
        read_tar(path, std::fs::File::open(path).map_err(io)?, found)
    } else if name.ends_with(".zip") {
        read_zip(path, found)
    } else {
        let bytes = if meta.len() > MAX_RECORD_BYTES {
            Err(format!(
                "{} bytes is more than a record may have",
                meta.len()
            ))
        } else {
            std::fs::read(path).map_err(|e| e.to_string())
        };
        found((path.display().to_string(), bytes))
    }
}

fn is_source_file(path: &Path) -> bool {
    let name = path.to_string_lossy().to_ascii_lowercase();
    [".json", ".tar.gz", ".tgz", ".tar", ".zip"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

fn read_tar(
    path: &Path,
    reader: impl Read,
    found: &mut dyn FnMut(Found) -> Result<(), VulnDbError>,
) -> Result<(), VulnDbError> {
    let broken = |e: std::io::Error| VulnDbError::Source {
        path: path.display().to_string(),
        reason: format!("not a readable tar archive: {e}"),
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(broken)? {
        let entry = entry.map_err(broken)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(broken)?.display().to_string();
        if !name.to_ascii_lowercase().ends_with(".json") {
            continue;
        }
        let origin = format!("{}:{name}", path.display());
        let bytes = read_capped(entry).map_err(broken)?;
        found((origin, bytes))?;
    }
    Ok(())
}

fn read_zip(
    path: &Path,
    found: &mut dyn FnMut(Found) -> Result<(), VulnDbError>,
) -> Result<(), VulnDbError> {
    let broken = |reason: String| VulnDbError::Source {
        path: path.display().to_string(),
        reason: format!("not a readable zip archive: {reason}"),
    };
    let file = std::fs::File::open(path).map_err(|e| broken(e.to_string()))?;
    let mut archive =
        zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| broken(e.to_string()))?;
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(|e| broken(e.to_string()))?;
        let name = entry
            .name()
            .map_err(|e| broken(e.to_string()))?
            .into_owned();
        if !entry.is_file() || !name.to_ascii_lowercase().ends_with(".json") {
            continue;
        }
        let origin = format!("{}:{name}", path.display());
        let bytes = read_capped(entry).map_err(|e| broken(e.to_string()))?;
        found((origin, bytes))?;
    }
    Ok(())
}

/// Reads at most [`MAX_RECORD_BYTES`]; an entry over the cap is reported, not read whole.
/// The outer error is the archive's (it stops the walk), the inner one the record's.
fn read_capped(reader: impl Read) -> std::io::Result<Result<Vec<u8>, String>> {
    let mut bytes = Vec::new();
    reader.take(MAX_RECORD_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_RECORD_BYTES {
        return Ok(Err(format!(
            "more than {MAX_RECORD_BYTES} bytes is more than a record may have"
        )));
    }
    Ok(Ok(bytes))
}
