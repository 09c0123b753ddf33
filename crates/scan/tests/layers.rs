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
    // `..` is clamped at the image's root, as container runtimes unpack it: the files land
    // inside the image, where the scanner sees them too.
    let mut found: Vec<(&str, &str)> = inventory
        .packages
        .iter()
        .map(|i| (i.package.name.as_str(), i.path.as_str()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("evil", "etc/node_modules/evil/package.json"),
            ("evil2", "node_modules/evil2/package.json"),
            ("ok", "x/node_modules/ok/package.json")
        ]
    );
    assert_eq!(
        inventory
            .warnings
            .iter()
            .filter(|w| w.contains("climbs above the root"))
            .count(),
        2,
        "{:?}",
        inventory.warnings
    );
}

#[test]
fn a_file_replacing_a_lower_directory_hides_what_it_held_and_links_share_content() {
    let mut layers = Layers::new();
    layers.apply(
        "sha256:one",
        &Layer::new()
            .file(
                "srv/app/node_modules/lodash/package.json",
                &package_json("lodash", "4.17.10"),
                0o644,
            )
            .file(
                "opt/node_modules/qs/package.json",
                &package_json("qs", "6.0.0"),
                0o644,
            )
            .tar()[..],
    );
    layers.apply(
        "sha256:two",
        &Layer::new()
            // `srv/app` becomes a file: everything under it is gone.
            .file("srv/app", "not a directory any more", 0o644)
            // A hard link at a database path shares the target's packages; one elsewhere
            // is not a database and is not reported.
            .link(
                tar::EntryType::Link,
                "opt/node_modules/qs2/package.json",
                "opt/node_modules/qs/package.json",
            )
            .link(
                tar::EntryType::Link,
                "tmp/copy",
                "opt/node_modules/qs/package.json",
            )
            .tar()[..],
    );
    let mut found: Vec<(String, String)> = layers
        .inventory()
        .packages
        .into_iter()
        .map(|i| (i.package.name, i.path))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            (
                "qs".to_owned(),
                "opt/node_modules/qs/package.json".to_owned()
            ),
            (
                "qs".to_owned(),
                "opt/node_modules/qs2/package.json".to_owned()
            ),
        ]
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

#[test]
fn zstd_layers_of_several_frames_are_read_to_the_end() {
    // zstd:chunked layers are many frames back to back; each half of this tar is one frame.
    let tar = Layer::new()
        .file(
            "a/node_modules/first/package.json",
            &package_json("first", "1.0.0"),
            0o644,
        )
        .file(
            "z/node_modules/second/package.json",
            &package_json("second", "1.0.0"),
            0o644,
        )
        .tar();
    let (front, back) = tar.split_at(1536);
    let mut frames = Vec::new();
    for half in [front, back] {
        ruzstd::encoding::compress(
            half,
            &mut frames,
            ruzstd::encoding::CompressionLevel::Fastest,
        );
    }
    let mut layers = Layers::new();
    layers.apply("sha256:zstd", &frames[..]);
    let inventory = layers.inventory();
    let mut found: Vec<&str> = inventory
        .packages
        .iter()
        .map(|i| i.package.name.as_str())
        .collect();
    found.sort();
    assert_eq!(found, ["first", "second"], "{:?}", inventory.warnings);
}

#[test]
fn an_oversized_extension_header_ends_the_layer_before_it_is_held() {
    // A PAX header announcing 1 GiB (what a gzip'd hostile layer can inflate to): refused on
    // sight, with the files before it kept.
    let mut tar = Layer::new()
        .file(
            "a/node_modules/before/package.json",
            &package_json("before", "1.0.0"),
            0o644,
        )
        .tar();
    tar.truncate(tar.len() - 1024); // drop the end-of-archive blocks
    let mut header = tar::Header::new_ustar();
    header.set_path("PaxHeaders/x").unwrap();
    header.set_size(1 << 30);
    header.set_entry_type(tar::EntryType::XHeader);
    header.set_cksum();
    tar.extend_from_slice(header.as_bytes());
    tar.extend(std::iter::repeat_n(b'a', 4096));
    let mut layers = Layers::new();
    layers.apply("sha256:pax", &tar[..]);
    let inventory = layers.inventory();
    let found: Vec<&str> = inventory
        .packages
        .iter()
        .map(|i| i.package.name.as_str())
        .collect();
    assert_eq!(found, ["before"]);
    assert!(
        inventory
            .warnings
            .iter()
            .any(|w| w.contains("extension header")),
        "{:?}",
        inventory.warnings
    );
}
