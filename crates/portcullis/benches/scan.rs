//! Scanner benchmark: import all of `../shared/vulndb/` into a fresh database, then scan an
//! image of about 125 MB (gzip'd; 267 MB unpacked) built from this machine's own files with
//! a warm database, timing each `portcullis` process and reading its peak memory (maximum
//! resident set) from GNU time.
//!
//! The image: layer 1 this machine's `os-release`, dpkg database and `/usr/lib/python3`;
//! layer 2 four real Go binaries (skopeo, podman, docker-registry, etcd, whichever exist);
//! layer 3 `/usr/share/doc` (bulk the walker must stream through).
//!
//! `cargo bench -p portcullis --bench scan`. `BENCH_ROUNDS` (default 3); the best round
//! counts. Needs GNU time (`apt-get install time`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark driver: a panic is a failed run"
)]

use std::path::Path;
use std::process::Command;

use serde_json::json;

/// Runs `portcullis args` under GNU time: (seconds, peak MB)
fn timed(args: &[&str]) -> (f64, f64) {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%e %M"])
        .arg(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .output()
        .expect("GNU time is installed (apt-get install time)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "portcullis {args:?}: {stderr}");
    let last = stderr.lines().last().unwrap();
    let (seconds, kilobytes) = last.split_once(' ').unwrap();
    (
        seconds.parse().unwrap(),
        kilobytes.parse::<f64>().unwrap() / 1024.0,
    )
}

fn best(rounds: usize, mut run: impl FnMut() -> (f64, f64)) -> (f64, f64) {
    (0..rounds)
        .map(|_| run())
        .fold((f64::MAX, 0.0), |(t, m), (rt, rm)| {
            (t.min(rt), f64::max(m, rm))
        })
}

fn sha256(bytes: &[u8]) -> String {
    portcullis_distribution::Digest::of(portcullis_distribution::Algorithm::Sha256, bytes)
        .to_string()
}

fn build_image(dir: &Path) -> u64 {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let go: Vec<&str> = [
        "usr/bin/skopeo",
        "usr/bin/podman",
        "usr/bin/docker-registry",
        "usr/bin/etcd",
    ]
    .into_iter()
    .filter(|p| Path::new("/").join(p).exists())
    .collect();
    let sets: Vec<Vec<&str>> = vec![
        vec!["etc/os-release", "var/lib/dpkg/status", "usr/lib/python3"],
        go,
        vec!["usr/share/doc"],
    ];
    let mut layers = Vec::new();
    let mut total = 0;
    for set in sets {
        let out = Command::new("tar")
            .arg("-czf")
            .arg("-")
            .arg("-C")
            .arg("/")
            .args(&set)
            .output()
            .unwrap();
        // tar exits 1 when a file changed while read; the layer is still whole.
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let digest = sha256(&out.stdout);
        std::fs::write(
            blobs.join(digest.trim_start_matches("sha256:")),
            &out.stdout,
        )
        .unwrap();
        total += out.stdout.len() as u64;
        layers.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": out.stdout.len()}));
    }
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).to_string();
    let config_digest = sha256(config.as_bytes());
    std::fs::write(
        blobs.join(config_digest.trim_start_matches("sha256:")),
        &config,
    )
    .unwrap();
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": layers})
    .to_string();
    let digest = sha256(manifest.as_bytes());
    std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), &manifest).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(dir.join("index.json"), json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": manifest.len()}]}).to_string()).unwrap();
    total
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let seed = portcullis_testing::seed_vulndb();
    let seed = seed.to_str().unwrap();
    let mut round = 0;
    let (import_s, import_mb) = best(rounds, || {
        round += 1;
        let db = dir.path().join(format!("import{round}.redb"));
        timed(&["vulndb", "import", seed, "--db", db.to_str().unwrap()])
    });
    let db = dir.path().join("import1.redb");
    let image = dir.path().join("image");
    let size = build_image(&image);
    let reference = format!("oci:{}", image.display());
    let (scan_s, scan_mb) = best(rounds, || {
        timed(&[
            "scan",
            "image",
            &reference,
            "--db",
            db.to_str().unwrap(),
            "-o",
            "json",
        ])
    });
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "scan",
            "image",
            &reference,
            "--db",
            db.to_str().unwrap(),
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!(
        "\nscanner, best of {rounds} (peak memory: largest maximum resident set of any round)"
    );
    println!(
        "  import all of ../shared/vulndb into a new database  {import_s:>6.2} s  {import_mb:>6.0} MB peak"
    );
    println!(
        "  scan a {:.0} MB image ({} packages, {} findings), warm database  {scan_s:>6.2} s  {scan_mb:>6.0} MB peak",
        size as f64 / 1e6,
        report["packages"],
        report["findings"].as_array().map_or(0, Vec::len)
    );
}
