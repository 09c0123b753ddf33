//! The advisory database. OSV records are imported offline (directories, `.json` files,
//! `.tar.gz` and `.zip` archives), kept in a redb file of their own beside the server's data,
//! and indexed by (ecosystem, package) so a scan looks up only its packages' advisories.
//!
//! It is derived data, rebuilt from the same sources on any node, so it is kept out of the
//! shared store (as registry blobs are). An import is one write transaction: it either lands
//! whole or leaves the previous database in use. Every import that changes something gets a
//! new generation and logs the packages it touched, which is what rescans are planned from.

mod sources;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use portcullis_osv::{EcosystemKey, Record};
use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition};
use serde::{Deserialize, Serialize};

pub use sources::MAX_RECORD_BYTES;

/// Record id → the record, re-serialised compactly
const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");
/// `ecosystem \0 name \0 record id` → nothing: the index lookups scan
const INDEX: TableDefinition<&str, &[u8]> = TableDefinition::new("index");
/// Generation → the JSON list of `ecosystem \0 name` keys that import touched
const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");
/// `status` → [`Status`] as JSON
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// What went wrong
#[derive(Debug, thiserror::Error)]
pub enum VulnDbError {
    /// A source could not be read (missing, unreadable, a corrupt archive): the import is
    /// abandoned and the previous database stays in use
    #[error("cannot read {path}: {reason}")]
    Source {
        /// The file or directory
        path: String,
        /// Why
        reason: String,
    },
    /// The database file itself failed
    #[error("advisory database: {0}")]
    Database(String),
    /// Another process holds the file: a server keeps its database open, and takes new
    /// advisories through its incoming directory instead
    #[error(
        "{0} is open in another process (a running `portcullis serve`?); to add advisories to a running server, move the files into <data-dir>/vulndb/incoming"
    )]
    InUse(String),
}

fn database<E: std::fmt::Display>(e: E) -> VulnDbError {
    VulnDbError::Database(e.to_string())
}

/// What the database holds, for `vulndb status` and the API
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Increases with every import that changed something
    pub generation: u64,
    /// When the last import that changed something committed (RFC 3339)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_updated: Option<String>,
    /// The newest `modified` of any record: how fresh the data itself is
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_record: Option<String>,
    /// Records that match (withdrawn ones are kept but do not)
    pub records: u64,
    /// Withdrawn records
    pub withdrawn: u64,
    /// Matching records per ecosystem family (`Debian`, `Alpine`, `PyPI`, …)
    pub ecosystems: BTreeMap<String, u64>,
}

/// What one import did
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Files read
    pub read: u64,
    /// New records
    pub added: u64,
    /// Records replaced by a newer `modified`
    pub replaced: u64,
    /// Records already present with the same or a newer `modified`
    pub unchanged: u64,
    /// Records withdrawn by this import (now out of matching)
    pub withdrawn: u64,
    /// Files that are not valid OSV records, skipped
    pub skipped: u64,
    /// The first few skipped files and why
    pub problems: Vec<String>,
    /// The generation after the import
    pub generation: u64,
}

/// How many skipped files an import names; the count covers the rest
const PROBLEMS_KEPT: usize = 20;

/// The advisory database
#[derive(Debug)]
pub struct VulnDb {
    db: Database,
}

impl VulnDb {
    /// Opens (or creates) the database file
    pub fn open(path: &Path) -> Result<VulnDb, VulnDbError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(database)?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                VulnDbError::InUse(path.display().to_string())
            }
            other => database(other),
        })?;
        let txn = db.begin_write().map_err(database)?;
        {
            txn.open_table(RECORDS).map_err(database)?;
            txn.open_table(INDEX).map_err(database)?;
            txn.open_table(CHANGES).map_err(database)?;
            txn.open_table(META).map_err(database)?;
        }
        txn.commit().map_err(database)?;
        Ok(VulnDb { db })
    }

    /// What the database holds
    pub fn status(&self) -> Result<Status, VulnDbError> {
        let txn = self.db.begin_read().map_err(database)?;
        let meta = txn.open_table(META).map_err(database)?;
        read_status(&meta)
    }

    /// Imports every record under `paths`, in one transaction
    pub fn import(&self, paths: &[&Path]) -> Result<ImportReport, VulnDbError> {
        let mut report = ImportReport::default();
        let mut touched = BTreeSet::new();
        let txn = self.db.begin_write().map_err(database)?;
        {
            let mut records = txn.open_table(RECORDS).map_err(database)?;
            let mut index = txn.open_table(INDEX).map_err(database)?;
            let mut meta = txn.open_table(META).map_err(database)?;
            let mut status = read_status(&meta)?;
            for path in paths {
                sources::walk(path, &mut |(origin, bytes)| {
                    report.read += 1;
                    let parsed = bytes.and_then(|b| Record::parse(&b).map_err(|e| e.to_string()));
                    let record = match parsed {
                        Ok(record) => record,
                        Err(reason) => {
                            report.skipped += 1;
                            if report.problems.len() < PROBLEMS_KEPT {
                                report.problems.push(format!("{origin}: {reason}"));
                            }
                            return Ok(());
                        }
                    };
                    merge(
                        &mut records,
                        &mut index,
                        &mut status,
                        &mut report,
                        &mut touched,
                        record,
                    )
                })?;
            }
            if !touched.is_empty() || report.added + report.replaced > 0 {
                status.generation += 1;
                status.time_updated = Some(jiff::Timestamp::now().to_string());
                let keys: Vec<String> = touched.iter().map(key_string).collect();
                let mut changes = txn.open_table(CHANGES).map_err(database)?;
                let encoded = serde_json::to_vec(&keys).map_err(database)?;
                changes
                    .insert(status.generation, encoded.as_slice())
                    .map_err(database)?;
            }
            report.generation = status.generation;
            let encoded = serde_json::to_vec(&status).map_err(database)?;
            meta.insert("status", encoded.as_slice())
                .map_err(database)?;
        }
        txn.commit().map_err(database)?;
        Ok(report)
    }

    /// The matching (not withdrawn) records that name `key`'s package
    pub fn lookup(&self, key: &EcosystemKey) -> Result<Vec<Record>, VulnDbError> {
        let txn = self.db.begin_read().map_err(database)?;
        let index = txn.open_table(INDEX).map_err(database)?;
        let records = txn.open_table(RECORDS).map_err(database)?;
        let prefix = format!("{}\0", key_string(key));
        let mut found = Vec::new();
        for entry in index.range(prefix.as_str()..).map_err(database)? {
            let (k, _) = entry.map_err(database)?;
            let Some(id) = k.value().strip_prefix(prefix.as_str()) else {
                break;
            };
            if let Some(bytes) = records.get(id).map_err(database)? {
                // Stored records were validated on the way in; one that no longer parses
                // (a newer schema rule) is left out rather than failing the whole scan.
                if let Ok(record) = Record::parse(bytes.value()) {
                    found.push(record);
                }
            }
        }
        Ok(found)
    }

    /// One record by id, withdrawn or not
    pub fn record(&self, id: &str) -> Result<Option<Record>, VulnDbError> {
        let txn = self.db.begin_read().map_err(database)?;
        let records = txn.open_table(RECORDS).map_err(database)?;
        Ok(match records.get(id).map_err(database)? {
            Some(bytes) => Record::parse(bytes.value()).ok(),
            None => None,
        })
    }

    /// The packages imports after `generation` touched; `None` when the log no longer reaches
    /// back that far (then everything must be rematched)
    pub fn touched_since(
        &self,
        generation: u64,
    ) -> Result<Option<BTreeSet<EcosystemKey>>, VulnDbError> {
        let txn = self.db.begin_read().map_err(database)?;
        let changes = txn.open_table(CHANGES).map_err(database)?;
        // A generation from the future is from another (or a recreated) database: the
        // caller's picture of it says nothing about this one.
        let current = read_status(&txn.open_table(META).map_err(database)?)?.generation;
        if generation > current {
            return Ok(None);
        }
        let mut keys = BTreeSet::new();
        let mut expected = generation.saturating_add(1);
        for entry in changes.range(expected..).map_err(database)? {
            let (at, value) = entry.map_err(database)?;
            if at.value() != expected {
                return Ok(None);
            }
            expected = expected.saturating_add(1);
            let listed: Vec<String> = serde_json::from_slice(value.value()).map_err(database)?;
            keys.extend(listed.iter().filter_map(|k| parse_key(k)));
        }
        Ok(Some(keys))
    }
}

fn read_status(
    meta: &impl redb::ReadableTable<&'static str, &'static [u8]>,
) -> Result<Status, VulnDbError> {
    match meta.get("status").map_err(database)? {
        Some(bytes) => serde_json::from_slice(bytes.value()).map_err(database),
        None => Ok(Status::default()),
    }
}

fn key_string(key: &EcosystemKey) -> String {
    format!("{}\0{}", key.ecosystem, key.name)
}

fn parse_key(key: &str) -> Option<EcosystemKey> {
    let (ecosystem, name) = key.split_once('\0')?;
    Some(EcosystemKey {
        ecosystem: ecosystem.to_owned(),
        name: name.to_owned(),
    })
}

/// The ecosystem family counts are kept by: `Debian:12` → `Debian`
fn family(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

/// The index keys of a record: one per affected package
fn keys_of(record: &Record) -> BTreeSet<EcosystemKey> {
    record
        .affected
        .iter()
        .filter_map(|a| a.package.as_ref())
        .map(|p| EcosystemKey::new(&p.ecosystem, &p.name))
        .collect()
}

fn count(status: &mut Status, record: &Record, delta: i64) {
    let families: BTreeSet<&str> = record
        .affected
        .iter()
        .filter_map(|a| a.package.as_ref())
        .map(|p| family(&p.ecosystem))
        .collect();
    let apply = |n: &mut u64| *n = n.saturating_add_signed(delta);
    if record.is_withdrawn() {
        apply(&mut status.withdrawn);
        return;
    }
    apply(&mut status.records);
    for f in families {
        let n = status.ecosystems.entry(f.to_owned()).or_default();
        apply(n);
        if *n == 0 {
            status.ecosystems.remove(f);
        }
    }
}

/// Adds, replaces or keeps one incoming record
fn merge(
    records: &mut redb::Table<'_, &'static str, &'static [u8]>,
    index: &mut redb::Table<'_, &'static str, &'static [u8]>,
    status: &mut Status,
    report: &mut ImportReport,
    touched: &mut BTreeSet<EcosystemKey>,
    record: Record,
) -> Result<(), VulnDbError> {
    let previous = match records.get(record.id.as_str()).map_err(database)? {
        Some(bytes) => Record::parse(bytes.value()).ok(),
        None => None,
    };
    if let Some(previous) = &previous {
        if !newer(&record.modified, &previous.modified) {
            report.unchanged += 1;
            return Ok(());
        }
        for key in keys_of(previous) {
            index
                .remove(format!("{}\0{}", key_string(&key), previous.id).as_str())
                .map_err(database)?;
            touched.insert(key);
        }
        count(status, previous, -1);
        report.replaced += 1;
    } else {
        report.added += 1;
    }
    if record.is_withdrawn() && !previous.as_ref().is_some_and(Record::is_withdrawn) {
        report.withdrawn += 1;
    }
    if !record.is_withdrawn() {
        for key in keys_of(&record) {
            index
                .insert(
                    format!("{}\0{}", key_string(&key), record.id).as_str(),
                    [].as_slice(),
                )
                .map_err(database)?;
            touched.insert(key);
        }
    }
    count(status, &record, 1);
    if status
        .newest_record
        .as_ref()
        .is_none_or(|newest| newer(&record.modified, newest))
    {
        status.newest_record = Some(record.modified.clone());
    }
    let encoded = serde_json::to_vec(&record).map_err(database)?;
    records
        .insert(record.id.as_str(), encoded.as_slice())
        .map_err(database)?;
    Ok(())
}

/// Whether RFC 3339 time `a` is after `b` (both were validated when parsed)
fn newer(a: &str, b: &str) -> bool {
    match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}
