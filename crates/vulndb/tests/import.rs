//! Imports from directories, JSON files and archives: incremental, atomic, withdrawn records
//! out of matching, broken records skipped and counted; and the whole seed data.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_osv::EcosystemKey;
use portcullis_vulndb::VulnDb;

fn record(id: &str, modified: &str, package: &str, fixed: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{id}","modified":"{modified}","aliases":["CVE-2099-{n}"]{extra},"affected":[{{"package":{{"ecosystem":"PyPI","name":"{package}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#,
        n = id.len()
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn ids(db: &VulnDb, package: &str) -> Vec<String> {
    let mut ids: Vec<String> = db
        .lookup(&EcosystemKey::new("PyPI", package))
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn imports_are_incremental_and_withdrawn_records_stop_matching() {
    let dir = tempfile::tempdir().unwrap();
    let db = VulnDb::open(&dir.path().join("db/vulndb.redb")).unwrap();
    let feed = dir.path().join("feed");
    write(
        &feed,
        "a/PYSEC-1.json",
        &record("PYSEC-1", "2024-01-01T00:00:00Z", "Pillow", "8.2.0", ""),
    );
    write(
        &feed,
        "b/PYSEC-2.json",
        &record("PYSEC-2", "2024-01-01T00:00:00Z", "pillow", "9.0.0", ""),
    );
    write(&feed, "README.md", "not a record, not read");
    write(&feed, "c/broken.json", "{\"id\": ");
    let first = db.import(&[&feed]).unwrap();
    assert_eq!(
        (first.read, first.added, first.skipped),
        (3, 2, 1),
        "{first:?}"
    );
    assert!(first.problems[0].contains("broken.json"), "{first:?}");
    assert_eq!(ids(&db, "PILLOW"), ["PYSEC-1", "PYSEC-2"], "PEP 503 names");
    let status = db.status().unwrap();
    assert_eq!(
        (status.records, status.ecosystems["PyPI"], status.generation),
        (2, 2, 1)
    );

    // The same data again changes nothing and makes no new generation.
    let again = db.import(&[&feed]).unwrap();
    assert_eq!(
        (
            again.added,
            again.replaced,
            again.unchanged,
            again.generation
        ),
        (0, 0, 2, 1)
    );

    // A newer `modified` replaces; an older one is ignored; withdrawn leaves matching.
    let update = dir.path().join("update");
    write(
        &update,
        "PYSEC-1.json",
        &record("PYSEC-1", "2024-02-01T00:00:00Z", "requests", "2.0", ""),
    );
    write(
        &update,
        "PYSEC-2.json",
        &record("PYSEC-2", "2023-01-01T00:00:00Z", "other", "1.0", ""),
    );
    let report = db.import(&[&update]).unwrap();
    assert_eq!(
        (report.replaced, report.unchanged, report.generation),
        (1, 1, 2)
    );
    assert_eq!(ids(&db, "pillow"), ["PYSEC-2"]);
    assert_eq!(ids(&db, "requests"), ["PYSEC-1"]);
    let touched = db.touched_since(1).unwrap().unwrap();
    assert!(touched.contains(&EcosystemKey::new("PyPI", "pillow")));
    assert!(touched.contains(&EcosystemKey::new("PyPI", "requests")));
    assert_eq!(touched.len(), 2);

    let withdraw = dir.path().join("withdraw");
    write(
        &withdraw,
        "PYSEC-2.json",
        &record(
            "PYSEC-2",
            "2024-03-01T00:00:00Z",
            "pillow",
            "9.0.0",
            r#","withdrawn":"2024-03-01T00:00:00Z""#,
        ),
    );
    let report = db.import(&[&withdraw]).unwrap();
    assert_eq!(report.withdrawn, 1);
    assert!(ids(&db, "pillow").is_empty());
    assert!(db.record("PYSEC-2").unwrap().unwrap().is_withdrawn());
    let status = db.status().unwrap();
    assert_eq!((status.records, status.withdrawn), (1, 1));
    assert_eq!(
        status.newest_record.as_deref(),
        Some("2024-03-01T00:00:00Z")
    );
    assert_eq!(db.touched_since(0).unwrap().unwrap().len(), 2);
    assert!(
        db.touched_since(99).unwrap().is_none(),
        "a generation this database never had"
    );
}

#[test]
fn archives_are_read_and_a_corrupt_one_leaves_the_previous_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = VulnDb::open(&dir.path().join("vulndb.redb")).unwrap();
    let staging = dir.path().join("staging");
    write(
        &staging,
        "osv/PYSEC-1.json",
        &record("PYSEC-1", "2024-01-01T00:00:00Z", "a", "1.0", ""),
    );
    write(
        &staging,
        "osv/PYSEC-2.json",
        &record("PYSEC-2", "2024-01-01T00:00:00Z", "b", "1.0", ""),
    );
    let tarball = dir.path().join("feed.tar.gz");
    let status = Command::new("tar")
        .args([
            "-czf",
            tarball.to_str().unwrap(),
            "-C",
            staging.to_str().unwrap(),
            "osv",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let zip = dir.path().join("all.zip");
    let status = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED); z.writestr('PYSEC-3.json', sys.argv[2]); z.writestr('notes.txt', 'x'); z.close()",
            zip.to_str().unwrap(),
            &record("PYSEC-3", "2024-01-01T00:00:00Z", "c", "1.0", ""),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let single = write(
        dir.path(),
        "PYSEC-4.json",
        &record("PYSEC-4", "2024-01-01T00:00:00Z", "d", "1.0", ""),
    );
    let report = db.import(&[&tarball, &zip, &single]).unwrap();
    assert_eq!((report.read, report.added), (4, 4), "{report:?}");
    for package in ["a", "b", "c", "d"] {
        assert_eq!(ids(&db, package).len(), 1, "{package}");
    }

    // A truncated archive fails the import; nothing of it lands, even records read before
    // the break.
    let bytes = std::fs::read(&tarball).unwrap();
    let truncated = dir.path().join("truncated.tar.gz");
    let mut cut = bytes[..bytes.len() / 2].to_vec();
    cut.extend_from_slice(&[0xff; 64]);
    std::fs::write(&truncated, cut).unwrap();
    let newer = dir.path().join("newer");
    write(
        &newer,
        "PYSEC-9.json",
        &record("PYSEC-9", "2024-01-01T00:00:00Z", "z", "1.0", ""),
    );
    let before = db.status().unwrap();
    let error = db.import(&[&newer, &truncated]).unwrap_err().to_string();
    assert!(error.contains("truncated.tar.gz"), "{error}");
    assert_eq!(db.status().unwrap(), before);
    assert!(ids(&db, "z").is_empty());
    let missing = db
        .import(&[Path::new("/nonexistent/osv")])
        .unwrap_err()
        .to_string();
    assert!(missing.contains("/nonexistent/osv"), "{missing}");
}

#[test]
fn a_gzip_bomb_costs_time_not_memory() {
    // 1 GiB of zeros inside one `.json` entry: read up to the record cap, then skipped.
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.tar.gz");
    let status = Command::new("sh")
        .args([
            "-c",
            &format!(
                "cd {} && head -c 1073741824 /dev/zero > zeros.json && tar -czf bomb.tar.gz zeros.json && rm zeros.json",
                dir.path().display()
            ),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let db = VulnDb::open(&dir.path().join("vulndb.redb")).unwrap();
    let report = db.import(&[&bomb]).unwrap();
    assert_eq!((report.read, report.skipped), (1, 1));
    assert!(report.problems[0].contains("more than"), "{report:?}");
}

#[test]
fn the_seed_data_imports_with_the_counts_its_manifest_gives() {
    let seed = portcullis_testing::seed_vulndb();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(seed.join("MANIFEST.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = VulnDb::open(&dir.path().join("vulndb.redb")).unwrap();
    let report = db.import(&[&seed]).unwrap();
    let status = db.status().unwrap();
    let mut expected_records = 0;
    let mut expected_withdrawn = 0;
    for source in manifest["sources"].as_object().unwrap().values() {
        expected_records += source["advisories"].as_u64().unwrap();
        expected_withdrawn += source["withdrawn"].as_u64().unwrap();
    }
    assert_eq!(
        report.added + report.unchanged,
        report.read - report.skipped
    );
    assert_eq!(report.added, expected_records, "{report:?}");
    assert_eq!(status.withdrawn, expected_withdrawn);
    for family in ["Debian", "Alpine", "PyPI", "npm", "crates.io", "Go"] {
        assert!(
            status.ecosystems.get(family).copied().unwrap_or(0) > 0,
            "{family}: {status:?}"
        );
    }
}
