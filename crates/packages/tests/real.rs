//! The parsers against real databases and binaries on this machine, compared with the
//! tools that own those formats (dpkg-query, rpm) where they exist. A missing tool or file
//! fails with the Debian package that provides it (`scripts/test` installs them).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_packages::{
    Ecosystem, Kind, Package, cargo_lock, classify, dpkg_status, go_build_info, go_buildinfo,
    normalize_pypi_name, npm_package_json, parse, python_metadata, rpm_sqlite,
};

fn run(program: &str, args: &[&str], debian_package: &str) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` ({e}): install the Debian package `{debian_package}`")
        });
    assert!(
        output.status.success(),
        "`{program} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn read(path: &Path, debian_package: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): install the Debian package `{debian_package}`",
            path.display()
        )
    })
}

#[test]
fn dpkg_status_matches_dpkg_query() {
    let ours = dpkg_status(&read(Path::new("/var/lib/dpkg/status"), "dpkg")).unwrap();
    assert_eq!(
        classify("var/lib/dpkg/status", 0o644, 1),
        Some(Kind::DpkgStatus)
    );
    let listing = run(
        "dpkg-query",
        &[
            "-W",
            "-f",
            "${db:Status-Status}\t${Package}\t${Version}\t${source:Package}\t${source:Version}\n",
        ],
        "dpkg",
    );
    let mut theirs: Vec<[String; 4]> = listing
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            (fields[0] == "installed").then(|| [1, 2, 3, 4].map(|i| fields[i].to_owned()))
        })
        .collect();
    // dpkg-query fills in the source from the binary package when `Source:` is absent.
    let mut mine: Vec<[String; 4]> = ours
        .iter()
        .map(|p| {
            let source_name = p.source.as_ref().map_or(p.name.clone(), |s| s.name.clone());
            let source_version = p
                .source
                .as_ref()
                .and_then(|s| s.version.clone())
                .unwrap_or_else(|| p.version.clone());
            [
                p.name.clone(),
                p.version.clone(),
                source_name,
                source_version,
            ]
        })
        .collect();
    theirs.sort();
    mine.sort();
    assert!(
        theirs.len() > 50,
        "only {} installed packages?",
        theirs.len()
    );
    assert_eq!(
        mine.len(),
        theirs.len(),
        "package count differs from dpkg-query"
    );
    assert_eq!(mine, theirs);
    assert!(ours.iter().all(|p| p.ecosystem == Ecosystem::Debian));
    let with_source = ours.iter().filter(|p| p.source.is_some()).count();
    let with_source_version = ours
        .iter()
        .filter(|p| p.source.as_ref().is_some_and(|s| s.version.is_some()))
        .count();
    eprintln!(
        "dpkg: {} installed packages, {with_source} with Source:, {with_source_version} with a source version; all match dpkg-query",
        ours.len()
    );
}

fn python_metadata_files() -> Vec<PathBuf> {
    let dir = Path::new("/usr/lib/python3/dist-packages");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{} ({e}): install `python3`", dir.display()))
    {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".dist-info") {
            files.push(path.join("METADATA"));
        } else if name.ends_with(".egg-info") {
            files.push(if path.is_dir() {
                path.join("PKG-INFO")
            } else {
                path
            });
        }
    }
    files.sort();
    files
}

#[test]
fn python_metadata_of_system_packages() {
    let files = python_metadata_files();
    assert!(
        !files.is_empty(),
        "no Python metadata: install `python3-yaml` or any python3 package"
    );
    let mut checked_against_dir_name = 0;
    for file in &files {
        let relative = file.strip_prefix("/").unwrap().to_str().unwrap();
        assert_eq!(
            classify(relative, 0o644, 1),
            Some(Kind::PythonMetadata),
            "{relative}"
        );
        let got = python_metadata(&std::fs::read(file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(got.len(), 1);
        let package = &got[0];
        assert_eq!(package.ecosystem, Ecosystem::PyPI);
        assert_eq!(
            package.name,
            normalize_pypi_name(&package.name),
            "not normalised"
        );
        // `<name>-<version>.dist-info` / `.egg-info` (the name with `-` escaped as `_`).
        let dir = file
            .ancestors()
            .find(|p| {
                p.extension()
                    .is_some_and(|e| e == "egg-info" || e == "dist-info")
            })
            .unwrap();
        let stem = dir.file_stem().unwrap().to_str().unwrap();
        if let Some((name, version)) = stem.split_once('-') {
            let version = version.split('-').next().unwrap();
            assert_eq!(
                normalize_pypi_name(name),
                package.name,
                "{}",
                file.display()
            );
            assert_eq!(version, package.version, "{}", file.display());
            checked_against_dir_name += 1;
        }
    }
    eprintln!(
        "python: {} metadata files parsed, {checked_against_dir_name} matched their directory's name and version",
        files.len()
    );
}

#[test]
fn npm_package_json_of_debian_node_modules() {
    let root = Path::new("/usr/share/nodejs");
    assert!(
        root.is_dir(),
        "{} is missing: install `node-semver`",
        root.display()
    );
    let mut checked = 0;
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.starts_with('@') {
            for inner in std::fs::read_dir(&path).unwrap() {
                let inner = inner.unwrap().path();
                let inner_name = inner.file_name().unwrap().to_str().unwrap().to_owned();
                dirs.push((format!("{name}/{inner_name}"), inner));
            }
        } else {
            dirs.push((name, path));
        }
    }
    for (expected_name, dir) in dirs {
        let manifest = dir.join("package.json");
        let Ok(bytes) = std::fs::read(&manifest) else {
            continue;
        };
        let image_path = format!("app/node_modules/{expected_name}/package.json");
        assert_eq!(classify(&image_path, 0o644, 1), Some(Kind::NpmPackageJson));
        let got =
            npm_package_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        assert_eq!(got.len(), 1, "{}", manifest.display());
        assert_eq!(got[0].name, expected_name);
        assert!(
            got[0].version.chars().next().unwrap().is_ascii_digit(),
            "{:?}",
            got[0]
        );
        checked += 1;
    }
    assert!(
        checked > 0,
        "no package.json under {}: install `node-semver`",
        root.display()
    );
    eprintln!("npm: {checked} package.json files matched their directory names");
}

#[test]
fn this_repositorys_cargo_lock() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    let text = std::fs::read_to_string(&path).unwrap();
    let got = cargo_lock(text.as_bytes()).unwrap();
    // An independent count: `[[package]]` blocks that have a `source` line.
    let sourced = text
        .split("[[package]]")
        .skip(1)
        .filter(|block| block.lines().any(|l| l.starts_with("source = ")))
        .count();
    assert_eq!(got.len(), sourced);
    let names: BTreeSet<&str> = got.iter().map(|p| p.name.as_str()).collect();
    for known in [
        "serde",
        "serde_json",
        "thiserror",
        "rusqlite",
        "toml",
        "proptest",
    ] {
        assert!(names.contains(known), "{known} missing");
    }
    assert!(
        !names.contains("portcullis-packages"),
        "workspace members are not crates.io packages"
    );
    let rusqlite = got.iter().find(|p| p.name == "rusqlite").unwrap();
    assert!(rusqlite.version.starts_with("0.43."), "{rusqlite:?}");
    assert!(got.iter().all(|p| p.ecosystem == Ecosystem::CratesIo));
    eprintln!("Cargo.lock: {} crates from registries or git", got.len());
}

/// `mod`/`dep`/`=>` lines, in order, with replacements applied: the reference for
/// comparisons, read from `strings` or `go version -m` output. Binaries may hold the module
/// information twice (`runtime/debug` keeps a copy), so reading stops where the first
/// module line repeats.
fn modules_from_lines(text: &str) -> Vec<(String, String)> {
    let mut modules: Vec<(String, String)> = Vec::new();
    let mut first: Option<String> = None;
    let mut replaceable = false;
    for line in text.lines() {
        let line = line.trim_start();
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["mod" | "dep", path, version, ..] => {
                if first.as_deref() == Some(line) {
                    break;
                }
                first.get_or_insert_with(|| line.to_owned());
                modules.push(((*path).to_owned(), (*version).to_owned()));
                replaceable = true;
            }
            ["=>", path, rest @ ..] if replaceable => {
                let version = rest.first().copied().unwrap_or_default();
                *modules.last_mut().unwrap() = ((*path).to_owned(), version.to_owned());
                replaceable = false;
            }
            _ => replaceable = false,
        }
    }
    modules
}

#[test]
fn go_build_info_of_real_binaries() {
    // Debian builds these in GOPATH mode: a `path` line but no `mod`/`dep` lines.
    let debian = [
        ("/usr/bin/skopeo", "github.com/containers/skopeo/cmd/skopeo"),
        ("/usr/bin/podman", "github.com/containers/podman/cmd/podman"),
        (
            "/usr/bin/docker-registry",
            "github.com/docker/distribution/cmd/registry",
        ),
        ("/usr/bin/etcd", "go.etcd.io/etcd"),
    ];
    // Module-mode builds, present on some machines; compared line by line when found.
    let optional = [
        "/usr/local/bin/terraform",
        "/usr/lib/google-cloud-sdk/bin/kubectl",
        "/usr/lib/google-cloud-sdk/bin/kpt",
        "/usr/lib/google-cloud-sdk/bin/cbt",
        "/usr/lib/google-cloud-sdk/bin/anthoscli",
    ];
    let go_toolchain = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut found = 0;
    let mut with_deps = 0;
    let binaries = debian
        .iter()
        .map(|(p, main)| (*p, Some(*main)))
        .chain(optional.iter().map(|p| (*p, None)));
    for (binary, expected_path) in binaries {
        let Ok(bytes) = std::fs::read(binary) else {
            continue;
        };
        found += 1;
        let relative = binary.trim_start_matches('/');
        assert_eq!(
            classify(relative, 0o755, bytes.len() as u64),
            Some(Kind::MaybeExecutable)
        );
        let info = go_build_info(&bytes)
            .unwrap()
            .unwrap_or_else(|| panic!("{binary}: no build info"));
        assert!(
            info.go_version.starts_with("go1."),
            "{binary}: {}",
            info.go_version
        );
        if let Some(expected) = expected_path {
            assert_eq!(info.path.as_deref(), Some(expected), "{binary}");
        }
        let packages = parse(Kind::MaybeExecutable, &bytes).unwrap();
        assert_eq!(packages, go_buildinfo(&bytes).unwrap());
        let stdlib = packages.iter().find(|p| p.name == "stdlib").unwrap();
        assert_eq!(
            Some(stdlib.version.as_str()),
            info.go_version.split_whitespace().next()
        );

        let ours: Vec<(String, String)> = info
            .main
            .iter()
            .chain(&info.deps)
            .map(|m| (m.path.clone(), m.version.clone()))
            .collect();
        let reference = if go_toolchain {
            modules_from_lines(&run("go", &["version", "-m", binary], "golang-go"))
        } else {
            // GNU strings splits the module information at its newlines (tabs count as
            // printable), so each `dep` line comes out on its own.
            modules_from_lines(&run("strings", &["-n", "4", binary], "binutils"))
        };
        assert_eq!(ours, reference, "{binary}");
        if !info.deps.is_empty() {
            with_deps += 1;
            assert!(packages.len() > 10, "{binary}: {} packages", packages.len());
        }
        eprintln!(
            "go: {binary}: {} path {:?} main {:?}, {} deps, {} packages",
            info.go_version,
            info.path,
            info.main.as_ref().map(|m| (&m.path, &m.version)),
            info.deps.len(),
            packages.len()
        );
    }
    assert!(
        found > 0,
        "no Go binary found: install the Debian package `skopeo` (or podman, etcd-server, docker-registry)"
    );
    eprintln!("go: {found} binaries read, {with_deps} with module dependencies");
    // A non-Go executable.
    let bytes = read(Path::new("/usr/bin/dpkg"), "dpkg");
    assert_eq!(go_build_info(&bytes).unwrap(), None);
    assert!(go_buildinfo(&bytes).unwrap().is_empty());
}

fn write_spec(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn rpm_sqlite_database_built_by_rpm() {
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("top");
    let db = tmp.path().join("db");
    // Two spec files: one with an epoch and a subpackage (whose source rpm is the main
    // package's), one without an epoch.
    let with_epoch = write_spec(
        tmp.path(),
        "a.spec",
        "Name: pc-test-alpha\nVersion: 1.2.3\nRelease: 4.el9\nEpoch: 2\nSummary: alpha\nLicense: MIT\nBuildArch: noarch\n\
         %description\nalpha\n\
         %package -n pc-test-alpha-libs\nSummary: libs\n%description -n pc-test-alpha-libs\nlibs\n\
         %files\n%files -n pc-test-alpha-libs\n",
    );
    let without_epoch = write_spec(
        tmp.path(),
        "b.spec",
        "Name: pc-test-beta\nVersion: 0.9~rc1\nRelease: 1\nSummary: beta\nLicense: MIT\nBuildArch: noarch\n\
         %description\nbeta\n%files\n",
    );
    let topdir = format!("_topdir {}", top.display());
    for spec in [&with_epoch, &without_epoch] {
        run(
            "rpmbuild",
            &[
                "--quiet",
                "-bb",
                "--define",
                &topdir,
                spec.to_str().unwrap(),
            ],
            "rpm",
        );
    }
    let mut rpms: Vec<String> = std::fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path().to_str().unwrap().to_owned())
        .collect();
    rpms.sort();
    assert_eq!(rpms.len(), 3, "{rpms:?}");
    let dbpath = db.to_str().unwrap();
    let backend = ["--define", "_db_backend sqlite"];
    let mut init = vec!["--dbpath", dbpath];
    init.extend(backend);
    init.push("--initdb");
    run("rpm", &init, "rpm");
    let mut install = vec![
        "-i",
        "--justdb",
        "--nodeps",
        "--noscripts",
        "--dbpath",
        dbpath,
    ];
    install.extend(backend);
    install.extend(rpms.iter().map(String::as_str));
    run("rpm", &install, "rpm");
    let mut query = vec!["-qa", "--dbpath", dbpath];
    query.extend(backend);
    query.extend([
        "--qf",
        "%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{SOURCERPM}\n",
    ]);
    let listing = run("rpm", &query, "rpm");

    let file = db.join("rpmdb.sqlite");
    assert_eq!(
        classify("var/lib/rpm/rpmdb.sqlite", 0o644, 1),
        Some(Kind::RpmSqlite)
    );
    let mut ours: Vec<Package> = rpm_sqlite(&std::fs::read(&file).unwrap()).unwrap();
    ours.sort_by(|a, b| a.name.cmp(&b.name));
    let mut theirs: Vec<Vec<String>> = listing
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    theirs.sort();
    assert_eq!(ours.len(), theirs.len());
    for (package, row) in ours.iter().zip(&theirs) {
        let [name, epoch, version, release, srpm] = row.as_slice() else {
            panic!("{row:?}");
        };
        assert_eq!(&package.name, name);
        let expected = if epoch == "0" {
            format!("{version}-{release}")
        } else {
            format!("{epoch}:{version}-{release}")
        };
        assert_eq!(package.version, expected);
        let source = package.source.as_ref().unwrap();
        assert_eq!(
            format!(
                "{}-{}.src.rpm",
                source.name,
                source.version.as_deref().unwrap()
            ),
            *srpm
        );
        assert_eq!(package.ecosystem, Ecosystem::Rpm);
    }
    let summary: Vec<(&str, &str, &str)> = ours
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.version.as_str(),
                p.source.as_ref().unwrap().name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("pc-test-alpha", "2:1.2.3-4.el9", "pc-test-alpha"),
            ("pc-test-alpha-libs", "2:1.2.3-4.el9", "pc-test-alpha"),
            ("pc-test-beta", "0.9~rc1-1", "pc-test-beta"),
        ]
    );
}
