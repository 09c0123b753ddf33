//! Every parser, fed arbitrary bytes or mutations of valid inputs, returns a result
//! without panicking.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use portcullis_packages::{Kind, classify, go_build_info, os_release, parse};
use proptest::prelude::*;

const KINDS: [Kind; 10] = [
    Kind::DpkgStatus,
    Kind::DpkgStatusD,
    Kind::ApkInstalled,
    Kind::RpmSqlite,
    Kind::PythonMetadata,
    Kind::NpmPackageLock,
    Kind::NpmPackageJson,
    Kind::CargoLock,
    Kind::OsRelease,
    Kind::MaybeExecutable,
];

fn valid_inputs() -> Vec<(Kind, Vec<u8>)> {
    vec![
        (
            Kind::DpkgStatus,
            b"Package: libc6\nStatus: install ok installed\nSource: glibc (2.36-9)\nVersion: 2.36-9+b1\nDescription: x\n y\n .\n\nPackage: b\nVersion: 1\n".to_vec(),
        ),
        (
            Kind::ApkInstalled,
            b"C:Q1abc=\nP:musl\nV:1.2.4-r4\nA:x86_64\no:musl\nF:lib\nR:libc.so\nZ:Q1=\n\nP:b\nV:2-r0\no:bb\n".to_vec(),
        ),
        (Kind::PythonMetadata, b"Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.0\nClassifier: a\n\nbody\n".to_vec()),
        (
            Kind::NpmPackageLock,
            br#"{"lockfileVersion":3,"packages":{"":{"name":"a"},"node_modules/@s/b":{"version":"1.0.0"},"node_modules/c":{"link":true}}}"#.to_vec(),
        ),
        (
            Kind::NpmPackageLock,
            br#"{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","dependencies":{"b":{"version":"npm:c@2.0.0"}}}}}"#.to_vec(),
        ),
        (Kind::NpmPackageJson, br#"{"name":"@types/node","version":"20.1.0"}"#.to_vec()),
        (
            Kind::CargoLock,
            b"version = 4\n[[package]]\nname = \"serde\"\nversion = \"1.0.0\"\nsource = \"registry+x\"\n".to_vec(),
        ),
        (Kind::OsRelease, b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME='x \\\"y'\n".to_vec()),
        (Kind::MaybeExecutable, go_blob()),
        (Kind::RpmSqlite, rpm_database(&rpm_header())),
    ]
}

fn go_blob() -> Vec<u8> {
    let mut out = b"\x7fELF".to_vec();
    out.resize(64, 0);
    out.extend_from_slice(b"\xff Go buildinf:\x08\x02");
    out.resize(96, 0);
    let version = b"go1.21.3";
    out.push(version.len() as u8);
    out.extend_from_slice(version);
    let mut modinfo = vec![0x30u8; 16];
    modinfo.extend_from_slice(
        b"path\tx\nmod\tx\tv1.0.0\th1:=\ndep\ty\tv0.1.0\th1:=\n=>\tz\tv0.2.0\th1:=\n",
    );
    modinfo.extend_from_slice(&[0xf9; 16]);
    out.push(modinfo.len() as u8);
    out.extend_from_slice(&modinfo);
    out
}

/// An rpm header blob with NAME, VERSION, RELEASE, EPOCH and SOURCERPM.
fn rpm_header() -> Vec<u8> {
    let mut data = Vec::new();
    let mut index = Vec::new();
    let mut entry = |tag: u32, kind: u32, bytes: &[u8], data: &mut Vec<u8>| {
        for word in [tag, kind, data.len() as u32, 1] {
            index.extend_from_slice(&word.to_be_bytes());
        }
        data.extend_from_slice(bytes);
    };
    entry(1000, 6, b"bash\0", &mut data);
    entry(1001, 6, b"5.1\0", &mut data);
    entry(1002, 6, b"1.el9\0", &mut data);
    entry(1003, 4, &1u32.to_be_bytes(), &mut data);
    entry(1044, 6, b"bash-5.1-1.el9.src.rpm\0", &mut data);
    let mut blob = Vec::new();
    blob.extend_from_slice(&5u32.to_be_bytes());
    blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
    blob.extend_from_slice(&index);
    blob.extend_from_slice(&data);
    blob
}

fn rpm_database(blob: &[u8]) -> Vec<u8> {
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
    )
    .unwrap();
    conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [blob])
        .unwrap();
    conn.serialize(rusqlite::MAIN_DB).unwrap().to_vec()
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    for &(at, value) in edits {
        let len = bytes.len();
        bytes[at % len] = value;
    }
    if let Some(cut) = cut {
        bytes.truncate(cut % (bytes.len() + 1));
    }
    bytes
}

#[test]
fn valid_inputs_parse() {
    for (kind, bytes) in valid_inputs() {
        let got = parse(kind, &bytes).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(got.is_empty(), kind == Kind::OsRelease, "{kind:?}: {got:?}");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for kind in KINDS {
            let _ = parse(kind, &bytes);
        }
        let _ = os_release(&bytes);
        let _ = go_build_info(&bytes);
    }

    #[test]
    fn arbitrary_text(text in "[A-Za-z:=\"'\\\\ \t\n\\[\\]{}.,@/#-]{0,400}") {
        for kind in KINDS {
            let _ = parse(kind, text.as_bytes());
        }
        let _ = os_release(text.as_bytes());
    }

    #[test]
    fn mutated_valid_inputs(
        which in 0usize..10,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let inputs = valid_inputs();
        let (kind, bytes) = inputs[which % inputs.len()].clone();
        let _ = parse(kind, &mutate(bytes, &edits, cut));
    }

    #[test]
    fn mutated_rpm_headers(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let blob = mutate(rpm_header(), &edits, cut);
        let _ = parse(Kind::RpmSqlite, &rpm_database(&blob));
    }

    #[test]
    fn classify_any_path(path in "[a-z@._/-]{0,60}", mode in any::<u32>(), size in any::<u64>()) {
        let _ = classify(&path, mode, size);
    }
}
