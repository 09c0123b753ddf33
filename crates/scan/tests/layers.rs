//! The layer walker on layers built here: whiteouts and opaque directories, and hostile
//! layers (paths out of the root, links out of the tree, a gzip bomb, garbage).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::io::Write as _;

use portcullis_packages::Ecosystem;
use portcullis_scan::Layers;

/// A tar layer: (path, contents) files, plus raw entries for links
struct Layer {
    builder: tar::Builder<Vec<u8>>,
}

impl Layer {
    fn new() -> Layer {
        Layer {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn file(mut self, path: &str, contents: &str, mode: u32) -> Layer {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(mode);
        header.set_entry_type(tar::EntryType::Regular);
        // Raw name bytes: the builder's own path checks would refuse the hostile ones.
        let name = &mut header.as_old_mut().name;
        name.fill(0);
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        self.builder.append(&header, contents.as_bytes()).unwrap();
        self
    }

    fn link(mut self, kind: tar::EntryType, path: &str, target: &str) -> Layer {
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        header.set_mode(0o777);
        header.set_entry_type(kind);
        let name = &mut header.as_old_mut().name;
        name.fill(0);
        name[..path.len()].copy_from_slice(path.as_bytes());
        let link = &mut header.as_old_mut().linkname;
        link.fill(0);
        link[..target.len()].copy_from_slice(target.as_bytes());
        header.set_cksum();
        self.builder.append(&header, std::io::empty()).unwrap();
        self
    }

    fn tar(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }

    fn gzip(self) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&self.tar()).unwrap();
        encoder.finish().unwrap()
    }
}

fn package_json(name: &str, version: &str) -> String {
    format!(r#"{{"name":"{name}","version":"{version}"}}"#)
}

fn names(layers: Layers) -> Vec<(String, String, String)> {
    let mut found: Vec<_> = layers
        .inventory()
        .packages
        .into_iter()
        .map(|i| (i.package.name, i.path, i.layer))
        .collect();
    found.sort();
    found
}

#[test]
fn whiteouts_hide_lower_files_and_opaque_directories_hide_lower_trees() {
    let mut layers = Layers::new();
    layers.apply(
        "sha256:base",
        &Layer::new()
            .file(
                "app/node_modules/left-pad/package.json",
                &package_json("left-pad", "1.0.0"),
                0o644,
            )
            .file(
                "app/node_modules/lodash/package.json",
                &package_json("lodash", "4.17.10"),
                0o644,
            )
            .file(
                "./opt/node_modules/minimist/package.json",
                &package_json("minimist", "0.0.8"),
                0o644,
            )
            .file(
                "opt/node_modules/qs/package.json",
                &package_json("qs", "6.0.0"),
                0o644,
            )
            .gzip()[..],
    );
    layers.apply(
        "sha256:upper",
        &Layer::new()
            .file("app/node_modules/.wh.left-pad", "", 0o644)
            .file("opt/node_modules/.wh..wh..opq", "", 0o644)
            // Added in the same layer as the opaque marker: stays.
            .file(
                "opt/node_modules/express/package.json",
                &package_json("express", "4.0.0"),
                0o644,
            )
            .tar()[..],
    );
    assert_eq!(
        names(layers),
        [
            (
                "express".into(),
                "opt/node_modules/express/package.json".into(),
                "sha256:upper".into()
            ),
            (
                "lodash".into(),
                "app/node_modules/lodash/package.json".into(),
                "sha256:base".into()
            ),
        ]
    );
}

#[test]
fn an_upper_layer_replacing_a_database_wins_and_keeps_its_layer() {
    let mut layers = Layers::new();
    layers.apply(
        "sha256:one",
        &Layer::new()
            .file(
                "srv/Cargo.lock",
                "version = 3\n[[package]]\nname = \"smallvec\"\nversion = \"0.6.9\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
                0o644,
            )
            .tar()[..],
    );
    layers.apply(
        "sha256:two",
        &Layer::new()
            .file(
                "srv/Cargo.lock",
                "version = 3\n[[package]]\nname = \"smallvec\"\nversion = \"1.13.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
                0o644,
            )
            .tar()[..],
    );
    let inventory = layers.inventory();
    assert_eq!(inventory.packages.len(), 1);
    assert_eq!(inventory.packages[0].package.version, "1.13.0");
    assert_eq!(inventory.packages[0].package.ecosystem, Ecosystem::CratesIo);
    assert_eq!(inventory.packages[0].layer, "sha256:two");
}

#[test]
fn hostile_layers_reach_nothing_outside_and_end_with_warnings() {
    let mut layers = Layers::new();
    layers.apply(
        "sha256:hostile",
        &Layer::new()
            .file(
                "../../etc/node_modules/evil/package.json",
                &package_json("evil", "1.0.0"),
                0o644,
            )
            .file(
                "a/../../node_modules/evil2/package.json",
                &package_json("evil2", "1.0.0"),
                0o644,
            )
            // Links to the host's files: never followed, never read.
            .link(tar::EntryType::Symlink, "etc/os-release", "/etc/os-release")
            .link(
                tar::EntryType::Link,
                "usr/lib/os-release",
                "../../../etc/os-release",
            )
            .link(
                tar::EntryType::Link,
                "var/lib/dpkg/status",
                "/var/lib/dpkg/status",
            )
            .file(
                "x/node_modules/ok/package.json",
                &package_json("ok", "1.0.0"),
                0o644,
            )
            .tar()[..],
    );
    let inventory = layers.inventory();
    assert!(
        inventory.os.is_none(),
        "a symlink to the host's os-release was followed"
    );
    let found: Vec<_> = inventory
        .packages
        .iter()
        .map(|i| i.package.name.as_str())
        .collect();
    assert_eq!(found, ["ok"]);
    assert_eq!(
        inventory
            .warnings
            .iter()
            .filter(|w| w.contains("leaves the image's root"))
            .count(),
        2,
        "{:?}",
        inventory.warnings
    );
}

#[test]
fn garbage_and_truncated_layers_give_partial_results_with_warnings() {
    let mut layers = Layers::new();
    let good = Layer::new()
        .file(
            "a/node_modules/one/package.json",
            &package_json("one", "1.0.0"),
            0o644,
        )
        .file(
            "a/node_modules/two/package.json",
            &package_json("two", "1.0.0"),
            0o644,
        )
        .gzip();
    layers.apply("sha256:truncated", &good[..good.len() - 30]);
    layers.apply("sha256:garbage", &b"\x1f\x8bnot gzip at all"[..]);
    layers.apply("sha256:empty", &b""[..]);
    let inventory = layers.inventory();
    assert!(
        inventory
            .warnings
            .iter()
            .any(|w| w.contains("sha256:garbage")),
        "{:?}",
        inventory.warnings
    );
    assert!(
        inventory
            .warnings
            .iter()
            .any(|w| w.contains("sha256:truncated")),
        "{:?}",
        inventory.warnings
    );
}

#[test]
fn a_gzip_bomb_is_streamed_not_held() {
    // 1 GiB of zeros, gzip'd: a tar of zero blocks is an empty archive, read in constant memory.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(
        bomb.len() < 64 << 20,
        "{} bytes is not much of a bomb",
        bomb.len()
    );
    let mut layers = Layers::new();
    layers.apply("sha256:bomb", &bomb[..]);
    assert!(layers.inventory().packages.is_empty());

    // And a database file that inflates past the per-file limit is refused, not read.
    let mut big = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_path("var/lib/dpkg/status").unwrap();
    header.set_size(200 << 20);
    header.set_mode(0o644);
    header.set_cksum();
    big.append(
        &header,
        std::io::Read::take(std::io::repeat(b'a'), 200 << 20),
    )
    .unwrap();
    let bytes = big.into_inner().unwrap().finish().unwrap();
    let mut layers = Layers::new();
    layers.apply("sha256:big", &bytes[..]);
    let inventory = layers.inventory();
    assert!(
        inventory.warnings.iter().any(|w| w.contains("over the")),
        "{:?}",
        inventory.warnings
    );
}
