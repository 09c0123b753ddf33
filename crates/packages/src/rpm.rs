//! rpm's sqlite database (`rpmdb.sqlite`, rpm >= 4.16): table `Packages(hnum, blob)`, one
//! rpm header per row. The header blob is rpm's on-disk header without the lead magic:
//! `il` and `dl` (big-endian u32 entry count and data length), `il` 16-byte index entries
//! (tag, type, offset, count) and `dl` bytes of data store.

use rusqlite::{Connection, MAIN_DB, OpenFlags, config::DbConfig, types::ValueRef};

use crate::{Ecosystem, Package, PackageError, Source};

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_I18NSTRING: u32 = 9;

/// Size of one index entry.
const ENTRY_SIZE: usize = 16;
/// rpm refuses headers with more entries than this (`HEADER_TAGS_MAX`); so do we.
const MAX_ENTRIES: usize = 0xffff;

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
/// Bytes 18 and 19 of the sqlite header: file format write/read versions; 2 means WAL.
const WAL_VERSION_BYTES: std::ops::Range<usize> = 18..20;

/// The packages of an rpm sqlite database, opened in memory from `bytes` (read-only, in
/// SQLite's defensive mode, with an untrusted schema).
///
/// Versions are `[epoch:]version-release`, the epoch only when present and non-zero. The
/// source is the name of the source rpm, with its `version-release` as the source version.
/// A malformed header fails the whole database with an error naming its `hnum`.
pub fn rpm_sqlite(bytes: &[u8]) -> Result<Vec<Package>, PackageError> {
    if !bytes.starts_with(SQLITE_MAGIC) {
        return Err(PackageError::Invalid {
            database: "rpm database",
            message: "not an SQLite database (no `SQLite format 3` header)".to_owned(),
        });
    }
    let mut image = bytes.to_vec();
    // rpm leaves its database in WAL mode; an in-memory database cannot use a WAL, and the
    // caller only has the main file (rpm checkpoints it on exit), so read it as a rollback
    // journal database instead.
    if let Some(versions) = image.get_mut(WAL_VERSION_BYTES) {
        for byte in versions.iter_mut().filter(|b| **b == 2) {
            *byte = 1;
        }
    }
    let mut conn = Connection::open_in_memory_with_flags(
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    let len = image.len();
    conn.deserialize_read_exact(MAIN_DB, image.as_slice(), len, true)?;
    conn.pragma_update(None, "cell_size_check", true)?;

    // A view named Packages could make the query below run arbitrary (slow) SQL.
    let kind: Option<String> = conn
        .query_row(
            "SELECT type FROM sqlite_master WHERE name = 'Packages'",
            [],
            |row| row.get(0),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            other => Err(other),
        })?;
    if kind.as_deref() != Some("table") {
        return Err(PackageError::Invalid {
            database: "rpm database",
            message: "no `Packages` table".to_owned(),
        });
    }

    let mut statement = conn.prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")?;
    let mut rows = statement.query([])?;
    let mut packages = Vec::new();
    while let Some(row) = rows.next()? {
        let hnum: i64 = match row.get_ref(0)? {
            ValueRef::Integer(n) => n,
            _ => -1,
        };
        let blob = match row.get_ref(1)? {
            ValueRef::Blob(blob) => blob,
            _ => {
                return Err(PackageError::RpmHeader {
                    hnum,
                    message: "`blob` column is not a BLOB".to_owned(),
                });
            }
        };
        packages.push(read_header(hnum, blob)?);
    }
    Ok(packages)
}

/// The package one rpm header blob describes (the blob as rpm stores it in its database:
/// no lead magic). The sqlite, Berkeley DB and NDB backends all store these blobs, so this is
/// the part a reader of another backend would reuse. Errors report `hnum` 0.
pub fn rpm_header(blob: &[u8]) -> Result<Package, PackageError> {
    read_header(0, blob)
}

fn read_header(hnum: i64, blob: &[u8]) -> Result<Package, PackageError> {
    Header::parse(blob)
        .and_then(|header| header.package())
        .map_err(|message| PackageError::RpmHeader { hnum, message })
}

/// One index entry.
#[derive(Clone, Copy)]
struct Entry {
    tag: u32,
    kind: u32,
    offset: u32,
    count: u32,
}

/// A header blob whose index and data store have been bounds-checked as a whole; each
/// entry's offset is checked again when it is read.
struct Header<'a> {
    index: &'a [u8],
    data: &'a [u8],
}

impl<'a> Header<'a> {
    fn parse(blob: &'a [u8]) -> Result<Self, String> {
        let il = be32(blob, 0).ok_or("header shorter than its 8-byte preamble")?;
        let dl = be32(blob, 4).ok_or("header shorter than its 8-byte preamble")?;
        let il = usize::try_from(il).map_err(|_| "entry count too large")?;
        let dl = usize::try_from(dl).map_err(|_| "data length too large")?;
        if il == 0 || il > MAX_ENTRIES {
            return Err(format!("implausible entry count {il}"));
        }
        let index_len = il.checked_mul(ENTRY_SIZE).ok_or("entry count overflows")?;
        let data_start = index_len.checked_add(8).ok_or("entry count overflows")?;
        let data_end = data_start.checked_add(dl).ok_or("data length overflows")?;
        let index = blob
            .get(8..data_start)
            .ok_or_else(|| format!("{il} index entries do not fit in {} bytes", blob.len()))?;
        let data = blob.get(data_start..data_end).ok_or_else(|| {
            format!(
                "data store of {dl} bytes does not fit in {} bytes",
                blob.len()
            )
        })?;
        Ok(Self { index, data })
    }

    fn entry(&self, tag: u32) -> Option<Entry> {
        self.index.chunks_exact(ENTRY_SIZE).find_map(|raw| {
            let entry = Entry {
                tag: be32(raw, 0)?,
                kind: be32(raw, 4)?,
                offset: be32(raw, 8)?,
                count: be32(raw, 12)?,
            };
            (entry.tag == tag).then_some(entry)
        })
    }

    /// A STRING (or the first I18NSTRING) tag: NUL-terminated text in the data store.
    fn string(&self, tag: u32, label: &str) -> Result<Option<&'a str>, String> {
        let Some(entry) = self.entry(tag) else {
            return Ok(None);
        };
        if entry.kind != TYPE_STRING && entry.kind != TYPE_I18NSTRING {
            return Err(format!("{label} has type {}, not a string", entry.kind));
        }
        let start =
            usize::try_from(entry.offset).map_err(|_| format!("{label} offset too large"))?;
        let rest = self
            .data
            .get(start..)
            .ok_or_else(|| format!("{label} offset {start} is outside the data store"))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("{label} is not NUL-terminated"))?;
        let bytes = rest.get(..end).unwrap_or_default();
        std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| format!("{label} is not valid UTF-8"))
    }

    fn int32(&self, tag: u32, label: &str) -> Result<Option<u32>, String> {
        let Some(entry) = self.entry(tag) else {
            return Ok(None);
        };
        if entry.kind != TYPE_INT32 || entry.count == 0 {
            return Err(format!(
                "{label} has type {} count {}, not INT32",
                entry.kind, entry.count
            ));
        }
        let start =
            usize::try_from(entry.offset).map_err(|_| format!("{label} offset too large"))?;
        be32(self.data, start)
            .map(Some)
            .ok_or_else(|| format!("{label} offset {start} is outside the data store"))
    }

    fn package(&self) -> Result<Package, String> {
        let name = self.string(TAG_NAME, "NAME")?.filter(|s| !s.is_empty());
        let version = self
            .string(TAG_VERSION, "VERSION")?
            .filter(|s| !s.is_empty());
        let release = self
            .string(TAG_RELEASE, "RELEASE")?
            .filter(|s| !s.is_empty());
        let (Some(name), Some(version)) = (name, version) else {
            return Err("no NAME or VERSION".to_owned());
        };
        let epoch = self.int32(TAG_EPOCH, "EPOCH")?.filter(|&e| e != 0);
        let mut full = String::new();
        if let Some(epoch) = epoch {
            full.push_str(&format!("{epoch}:"));
        }
        full.push_str(version);
        if let Some(release) = release {
            full.push('-');
            full.push_str(release);
        }
        let source = self
            .string(TAG_SOURCERPM, "SOURCERPM")?
            .and_then(parse_source_rpm);
        Ok(Package {
            ecosystem: Ecosystem::Rpm,
            name: name.to_owned(),
            version: full,
            source,
        })
    }
}

/// `name-version-release.src.rpm` (or `.nosrc.rpm`): names may contain `-`, versions and
/// releases may not, so split from the right.
fn parse_source_rpm(file: &str) -> Option<Source> {
    let stem = file.strip_suffix(".rpm")?;
    let (nvr, _arch) = stem.rsplit_once('.')?;
    let (nv, release) = nvr.rsplit_once('-')?;
    let (name, version) = nv.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return None;
    }
    Some(Source {
        name: name.to_owned(),
        version: Some(format!("{version}-{release}")),
    })
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    let raw: [u8; 4] = bytes.get(at..end)?.try_into().ok()?;
    Some(u32::from_be_bytes(raw))
}

/// Builds header blobs for tests (unit tests and the proptests).
#[cfg(test)]
pub(crate) fn test_header(
    name: &str,
    version: &str,
    release: &str,
    epoch: Option<u32>,
    srpm: Option<&str>,
) -> Vec<u8> {
    let mut entries: Vec<(u32, u32, Vec<u8>)> = Vec::new();
    let string = |s: &str| {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    };
    entries.push((TAG_NAME, TYPE_STRING, string(name)));
    entries.push((TAG_VERSION, TYPE_STRING, string(version)));
    entries.push((TAG_RELEASE, TYPE_STRING, string(release)));
    if let Some(epoch) = epoch {
        entries.push((TAG_EPOCH, TYPE_INT32, epoch.to_be_bytes().to_vec()));
    }
    if let Some(srpm) = srpm {
        entries.push((TAG_SOURCERPM, TYPE_STRING, string(srpm)));
    }
    let mut index = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    for (tag, kind, bytes) in entries {
        if kind == TYPE_INT32 {
            while !data.len().is_multiple_of(4) {
                data.push(0);
            }
        }
        for word in [tag, kind, data.len() as u32, 1] {
            index.extend_from_slice(&word.to_be_bytes());
        }
        data.extend_from_slice(&bytes);
    }
    let mut blob = Vec::new();
    blob.extend_from_slice(&((index.len() / ENTRY_SIZE) as u32).to_be_bytes());
    blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
    blob.extend_from_slice(&index);
    blob.extend_from_slice(&data);
    blob
}

/// Builds an rpm-shaped sqlite database image from header blobs.
#[cfg(test)]
#[allow(clippy::panic, reason = "test support: a panic is a failed test")]
pub(crate) fn test_database(blobs: &[Vec<u8>]) -> Vec<u8> {
    let mut conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for blob in blobs {
        conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [blob])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    conn.serialize(MAIN_DB)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_vec()
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
    fn reads_packages() {
        let db = test_database(&[
            test_header(
                "bash",
                "5.1.8",
                "6.el9",
                None,
                Some("bash-5.1.8-6.el9.src.rpm"),
            ),
            test_header(
                "openssl-libs",
                "3.0.7",
                "27.el9",
                Some(1),
                Some("openssl-3.0.7-27.el9.src.rpm"),
            ),
            test_header("zero", "1", "1", Some(0), None),
        ]);
        let got = rpm_sqlite(&db).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].name, "bash");
        assert_eq!(got[0].version, "5.1.8-6.el9");
        assert_eq!(
            got[0].source,
            Some(Source {
                name: "bash".into(),
                version: Some("5.1.8-6.el9".into())
            })
        );
        assert_eq!(got[1].version, "1:3.0.7-27.el9");
        assert_eq!(got[1].source.as_ref().unwrap().name, "openssl");
        assert_eq!(got[2].version, "1-1");
        assert_eq!(got[2].source, None);
        assert!(got.iter().all(|p| p.ecosystem == Ecosystem::Rpm));
    }

    #[test]
    fn wal_mode_header_is_read() {
        let mut db = test_database(&[test_header("a", "1", "1", None, None)]);
        db[18] = 2;
        db[19] = 2;
        assert_eq!(rpm_sqlite(&db).unwrap().len(), 1);
    }

    #[test]
    fn source_rpm_names() {
        let s = parse_source_rpm("python3-dnf-plugins-core-4.3.0-5.el9.src.rpm").unwrap();
        assert_eq!(s.name, "python3-dnf-plugins-core");
        assert_eq!(s.version.as_deref(), Some("4.3.0-5.el9"));
        assert!(parse_source_rpm("garbage").is_none());
        assert!(parse_source_rpm("-1-2.src.rpm").is_none());
    }

    #[test]
    fn malformed_databases() {
        let err = rpm_sqlite(b"").unwrap_err();
        assert!(err.to_string().contains("not an SQLite database"), "{err}");
        let err = rpm_sqlite(b"SQLite format 3\0garbage").unwrap_err();
        assert!(err.to_string().starts_with("rpm database"), "{err}");
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE Other (x);").unwrap();
        let db = conn.serialize(MAIN_DB).unwrap().to_vec();
        let err = rpm_sqlite(&db).unwrap_err();
        assert!(err.to_string().contains("no `Packages` table"), "{err}");
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE VIEW Packages AS SELECT 1 AS hnum, x'00' AS blob;")
            .unwrap();
        let db = conn.serialize(MAIN_DB).unwrap().to_vec();
        assert!(rpm_sqlite(&db).is_err());
        // A truncated database file.
        let db = test_database(&[test_header("a", "1", "1", None, None)]);
        assert!(rpm_sqlite(&db[..db.len() / 2]).is_err());
    }

    #[test]
    fn malformed_headers() {
        let good = test_header(
            "bash",
            "5.1.8",
            "6.el9",
            Some(2),
            Some("bash-5.1.8-6.el9.src.rpm"),
        );
        for cut in 0..good.len() {
            let db = test_database(&[good[..cut].to_vec()]);
            let err = rpm_sqlite(&db).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("rpm database: package header 1:"),
                "{err}"
            );
        }
        // Entry count far beyond the blob.
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&0x0fff_ffffu32.to_be_bytes());
        assert!(rpm_sqlite(&test_database(&[huge])).is_err());
        // NAME's offset points past the data store.
        let mut bad = good.clone();
        bad[16..20].copy_from_slice(&u32::MAX.to_be_bytes());
        let err = rpm_sqlite(&test_database(&[bad])).unwrap_err();
        assert!(err.to_string().contains("outside the data store"), "{err}");
        // NAME typed as INT32.
        let mut bad = good;
        bad[12..16].copy_from_slice(&TYPE_INT32.to_be_bytes());
        let err = rpm_sqlite(&test_database(&[bad])).unwrap_err();
        assert!(err.to_string().contains("not a string"), "{err}");
    }
}
