//! `portcullis scan image` on a real image built here: this machine's Debian dpkg database,
//! Python wheels, npm packages and a Cargo.lock pinned to old versions, fetched from their
//! registries, and a later layer whose whiteout deletes one npm package. The findings for
//! the PyPI, npm and crates.io parts must equal what an independent checker
//! (`tests/scan/expected.py`, Debian's python3-packaging) computes from the seed data.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

mod common;

const WHEELS: &[&str] = &[
    "urllib3==1.24.1",
    "requests==2.19.0",
    "Jinja2==2.10",
    "Django==2.2.0",
];
const NPM: &[(&str, &str)] = &[
    ("lodash", "4.17.10"),
    ("minimist", "0.0.8"),
    ("qs", "6.0.0"),
    ("marked", "0.3.5"),
];
const CRATES: &[(&str, &str)] = &[
    ("smallvec", "0.6.13"),
    ("regex", "1.5.4"),
    ("time", "0.1.43"),
];

fn seed() -> PathBuf {
    portcullis_testing::seed_vulndb()
}

fn portcullis(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .env_remove("PORTCULLIS_VULNDB")
        .output()
        .unwrap()
}

/// A gzip'd tar of (path, bytes) files
fn layer(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, path, bytes.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// `*.dist-info/METADATA` of each wheel, downloaded by pip from PyPI
fn python_layer(work: &Path) -> Vec<(String, Vec<u8>)> {
    let pip = std::env::var("PORTCULLIS_OCI")
        .map(|oci| PathBuf::from(oci).with_file_name("pip"))
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/pip"));
    let wheels = work.join("wheels");
    let out = Command::new(&pip)
        .args([
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary",
            ":all:",
            "-d",
        ])
        .arg(&wheels)
        .args(WHEELS)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/test makes the venv)", pip.display()));
    assert!(
        out.status.success(),
        "pip download: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files = Vec::new();
    for wheel in std::fs::read_dir(&wheels).unwrap() {
        let mut archive =
            zip::ZipArchive::new(std::fs::File::open(wheel.unwrap().path()).unwrap()).unwrap();
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).unwrap();
            let name = entry.name().unwrap().into_owned();
            if name.ends_with(".dist-info/METADATA") {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).unwrap();
                files.push((
                    format!("usr/local/lib/python3.11/site-packages/{name}"),
                    bytes,
                ));
            }
        }
    }
    assert_eq!(files.len(), WHEELS.len());
    files
}

/// `package.json` of each npm package, from its tarball on registry.npmjs.org
async fn npm_layer() -> Vec<(String, Vec<u8>)> {
    let http = reqwest::Client::new();
    let mut files = Vec::new();
    for (name, version) in NPM {
        let url = format!("https://registry.npmjs.org/{name}/-/{name}-{version}.tgz");
        let tarball = http
            .get(&url)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&tarball[..]));
        let mut found = None;
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap().to_string_lossy() == "package/package.json" {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).unwrap();
                found = Some(bytes);
                break;
            }
        }
        files.push((
            format!("srv/app/node_modules/{name}/package.json"),
            found.expect(&url),
        ));
    }
    files
}

/// A Cargo.lock resolved by cargo from crates.io for exact old versions
fn cargo_layer(work: &Path) -> Vec<(String, Vec<u8>)> {
    let project = work.join("crate");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("src/lib.rs"), "").unwrap();
    let deps: String = CRATES
        .iter()
        .map(|(n, v)| format!("{n} = \"={v}\"\n"))
        .collect();
    std::fs::write(
        project.join("Cargo.toml"),
        format!("[package]\nname = \"scanned\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n\n[dependencies]\n{deps}"),
    )
    .unwrap();
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("generate-lockfile")
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo generate-lockfile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    vec![(
        "srv/Cargo.lock".into(),
        std::fs::read(project.join("Cargo.lock")).unwrap(),
    )]
}

fn findings_of(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            ["PyPI", "npm", "crates.io"].contains(&f["ecosystem"].as_str().unwrap())
                || f["path"] == "var/lib/dpkg/status.d/openssl"
        })
        .map(|f| {
            let ecosystem = f["ecosystem"].as_str().unwrap();
            let mut name = f["package"].as_str().unwrap().to_owned();
            if ecosystem == "PyPI" {
                name = name.to_lowercase().replace(['_', '.'], "-");
            }
            format!(
                "{}|{ecosystem}|{name}|{}",
                f["id"].as_str().unwrap(),
                f["version"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_image_is_scanned_and_its_language_findings_match_an_independent_check() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("vulndb.redb");
    let imported = portcullis(&[
        "vulndb",
        "import",
        seed().to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );

    // This machine's dpkg database is up to date, newer than every fix in the seed's
    // Debian data; a distroless-style `status.d` entry holds an openssl from before bookworm's release.
    let os = vec![
        (
            "etc/os-release".to_owned(),
            std::fs::read("/etc/os-release").unwrap(),
        ),
        (
            "var/lib/dpkg/status".to_owned(),
            std::fs::read("/var/lib/dpkg/status").unwrap(),
        ),
        (
            "var/lib/dpkg/status.d/openssl".to_owned(),
            b"Package: openssl\nVersion: 3.0.8-1\nArchitecture: amd64\n".to_vec(),
        ),
    ];
    let python = python_layer(work.path());
    let npm = npm_layer().await;
    let cargo = cargo_layer(work.path());
    // The last layer deletes minimist, as `RUN rm -r node_modules/minimist` would.
    let whiteout = vec![("srv/app/node_modules/.wh.minimist".to_owned(), Vec::new())];
    let image = work.path().join("image");
    common::registry::oci_layout(
        &image,
        &[
            layer(&os),
            layer(&python),
            layer(&npm),
            layer(&cargo),
            layer(&whiteout),
        ],
    );

    let reference = format!("oci:{}:v1", image.display());
    let out = portcullis(&[
        "scan",
        "image",
        &reference,
        "--db",
        db.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["osEcosystem"], "Debian:12");
    let findings = report["findings"].as_array().unwrap();
    assert!(
        !findings.iter().any(|f| f["package"] == "minimist"),
        "a whited-out package was reported"
    );
    for (package, path_part, layer_index) in [
        ("urllib3", "site-packages", 1),
        ("lodash", "node_modules", 2),
        ("smallvec", "Cargo.lock", 3),
    ] {
        let finding = findings
            .iter()
            .find(|f| f["package"] == package)
            .unwrap_or_else(|| panic!("no finding for {package}"));
        assert!(
            finding["path"].as_str().unwrap().contains(path_part),
            "{finding}"
        );
        // Each finding names the layer its file came from.
        let manifest_layers = layer_digests(&image);
        assert_eq!(finding["layer"], manifest_layers[layer_index], "{finding}");
        assert!(
            finding["url"].as_str().unwrap().starts_with("https://"),
            "{finding}"
        );
    }
    let debian = findings
        .iter()
        .filter(|f| f["ecosystem"] == "Debian:12")
        .count();
    assert!(debian > 0, "an old openssl matched no Debian advisory");

    // The independent check, over the same packages.
    let mut packages = String::new();
    for (_, metadata) in &python {
        let metadata = String::from_utf8_lossy(metadata);
        let field = |name: &str| {
            metadata
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap()
                .trim()
                .to_owned()
        };
        packages.push_str(&format!("PyPI {} {}\n", field("Name:"), field("Version:")));
    }
    packages.push_str("Debian:12 openssl 3.0.8-1\n");
    for (name, version) in NPM.iter().filter(|(n, _)| *n != "minimist") {
        packages.push_str(&format!("npm {name} {version}\n"));
    }
    let lock: toml::Value =
        toml::from_str(&String::from_utf8(cargo[0].1.clone()).unwrap()).unwrap();
    for package in lock["package"].as_array().unwrap() {
        packages.push_str(&format!(
            "crates.io {} {}\n",
            package["name"].as_str().unwrap(),
            package["version"].as_str().unwrap()
        ));
    }
    let mut checker = Command::new("/usr/bin/python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scan/expected.py"))
        .arg(seed())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 (Debian python3-packaging)");
    checker
        .stdin
        .take()
        .unwrap()
        .write_all(packages.as_bytes())
        .unwrap();
    let expected = checker.wait_with_output().unwrap();
    assert!(
        expected.status.success(),
        "{}",
        String::from_utf8_lossy(&expected.stderr)
    );
    let expected: BTreeSet<String> = String::from_utf8(expected.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let ours = findings_of(&report);
    eprintln!(
        "{} findings compared with the independent check",
        ours.len()
    );
    assert!(
        expected.len() >= 10,
        "too few findings to mean much: {expected:?}"
    );
    assert_eq!(
        ours,
        expected,
        "ours minus expected: {:?}\nexpected minus ours: {:?}",
        ours.difference(&expected).collect::<Vec<_>>(),
        expected.difference(&ours).collect::<Vec<_>>()
    );

    // The same image as `docker save` writes it gives the same findings.
    let archive = work.path().join("image.tar");
    docker_archive(
        &archive,
        &[
            layer(&os),
            layer(&python),
            layer(&npm),
            layer(&cargo),
            layer(&whiteout),
        ],
    );
    let saved = portcullis(&[
        "scan",
        "image",
        &format!("docker-archive:{}", archive.display()),
        "--db",
        db.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert!(
        saved.status.success(),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    let saved: Value = serde_json::from_slice(&saved.stdout).unwrap();
    assert_eq!(findings_of(&saved), ours);

    // The same image pushed to our registry with skopeo, scanned from there.
    let server = portcullis_testing::Server::start(
        Path::new(env!("CARGO_BIN_EXE_portcullis")),
        portcullis_testing::ServerOptions::default(),
    );
    let creds = common::registry::creds(&server).await;
    let certs = work.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(server.ca_bundle(), certs.join("ca.crt")).unwrap();
    let host = server.endpoint().trim_start_matches("https://").to_owned();
    let pushed = Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            "--dest-creds",
            &creds,
            "--dest-cert-dir",
            certs.to_str().unwrap(),
            &reference,
        ])
        .arg(format!("docker://{host}/scan/app:v1"))
        .env("HOME", work.path())
        .output()
        .expect("skopeo is installed (scripts/test installs it)");
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let ca = server.ca_bundle();
    let from_registry = portcullis(&[
        "scan",
        "image",
        &format!("{host}/scan/app:v1"),
        "--creds",
        &creds,
        "--cert-bundle",
        ca.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert!(
        from_registry.status.success(),
        "{}",
        String::from_utf8_lossy(&from_registry.stderr)
    );
    let from_registry: Value = serde_json::from_slice(&from_registry.stdout).unwrap();
    assert_eq!(findings_of(&from_registry), ours);
    let anonymous = portcullis(&[
        "scan",
        "image",
        &format!("docker://{host}/scan/app:v1"),
        "--cert-bundle",
        ca.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(anonymous.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&anonymous.stderr).contains("401 Unauthorized"),
        "{}",
        String::from_utf8_lossy(&anonymous.stderr)
    );

    // An allowlist: a live entry moves a finding aside, an expired one is reported, one
    // that matches nothing is reported, an entry without an author is refused.
    let accepted = findings.iter().find(|f| f["package"] == "lodash").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let expired = findings
        .iter()
        .find(|f| f["package"] != "lodash" && f["ecosystem"] == "npm")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let allowlist = work.path().join("allowlist.yaml");
    std::fs::write(
        &allowlist,
        format!(
            "entries:\n  - id: {accepted}\n    package: lodash\n    expires: 2999-01-01T00:00:00Z\n    author: alice@example.com\n    reason: not reachable from our code\n  - id: {expired}\n    expires: 2020-01-01T00:00:00Z\n    author: bob@example.com\n    reason: waiting for upstream\n  - id: CVE-1999-0001\n    expires: 2999-01-01T00:00:00Z\n    author: carol@example.com\n    reason: stale\n"
        ),
    )
    .unwrap();
    let allowed = portcullis(&[
        "scan",
        "image",
        &reference,
        "--db",
        db.to_str().unwrap(),
        "-o",
        "json",
        "--allowlist",
        allowlist.to_str().unwrap(),
    ]);
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let allowed: Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert!(
        allowed["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["id"] != accepted.as_str())
    );
    assert!(
        allowed["suppressed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["finding"]["id"] == accepted.as_str()
                && s["entry"]["author"] == "alice@example.com")
    );
    let warnings = allowed["warnings"].to_string();
    assert!(
        warnings.contains(&format!("{expired} (by bob@example.com) expired")),
        "{warnings}"
    );
    assert!(
        warnings.contains("CVE-1999-0001 (by carol@example.com) matches no finding"),
        "{warnings}"
    );
    std::fs::write(
        &allowlist,
        "entries:\n  - id: X\n    expires: 2999-01-01T00:00:00Z\n    author: ''\n    reason: r\n",
    )
    .unwrap();
    let refused = portcullis(&[
        "scan",
        "image",
        &reference,
        "--db",
        db.to_str().unwrap(),
        "--allowlist",
        allowlist.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("needs an author"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // A mistyped --db fails instead of passing the gate with no data.
    let typo = work.path().join("vulndb-typo.redb");
    let typo = portcullis(&[
        "scan",
        "image",
        &reference,
        "--db",
        typo.to_str().unwrap(),
        "--fail-on",
        "high",
    ]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("no advisory database"),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );

    // SARIF and the CI gate.
    let sarif = portcullis(&[
        "scan",
        "image",
        &reference,
        "--db",
        db.to_str().unwrap(),
        "-o",
        "sarif",
    ]);
    let sarif: Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        findings.len()
    );
    let gated = portcullis(&[
        "scan",
        "image",
        &reference,
        "--db",
        db.to_str().unwrap(),
        "--fail-on",
        "critical",
    ]);
    assert_eq!(
        gated.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&gated.stdout)
    );
    let table = String::from_utf8(gated.stdout).unwrap();
    assert!(
        table.contains("Debian GNU/Linux 12") && table.contains("lodash"),
        "{table}"
    );
}

/// Writes a `docker save` archive: `manifest.json` naming `<n>/layer.tar` members
fn docker_archive(path: &Path, layers: &[Vec<u8>]) {
    let mut builder = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut names = Vec::new();
    let add = |builder: &mut tar::Builder<std::fs::File>, name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, bytes).unwrap();
    };
    for (i, layer) in layers.iter().enumerate() {
        let name = format!("{i:02}/layer.tar");
        add(&mut builder, &name, layer);
        names.push(name);
    }
    add(
        &mut builder,
        "config.json",
        br#"{"architecture":"amd64","os":"linux"}"#,
    );
    let manifest =
        json!([{"Config": "config.json", "RepoTags": ["scanned:v1"], "Layers": names}]).to_string();
    add(&mut builder, "manifest.json", manifest.as_bytes());
    builder.finish().unwrap();
}

fn layer_digests(image: &Path) -> Vec<String> {
    let index: Value =
        serde_json::from_slice(&std::fs::read(image.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(image.join("blobs/sha256").join(digest)).unwrap())
            .unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn bad_references_and_databases_get_clear_errors() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("vulndb.redb");
    let missing = portcullis(&[
        "scan",
        "image",
        "/nonexistent/image",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not an OCI layout"));
    std::fs::write(work.path().join("index.json"), "{not json").unwrap();
    let broken = portcullis(&[
        "scan",
        "image",
        work.path().to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("index.json"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
    std::fs::write(work.path().join("garbage.redb"), "not a database").unwrap();
    let garbage = portcullis(&[
        "vulndb",
        "status",
        "--db",
        work.path().join("garbage.redb").to_str().unwrap(),
    ]);
    assert_eq!(garbage.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&garbage.stderr).contains("advisory database"));
}
