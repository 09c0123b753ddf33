//! Registry benchmark against Debian's `docker-registry` 2.8.2, in the same run, with the
//! same client (skopeo) on the same machine:
//!
//! - push and pull of one image of 384 MiB in two layers;
//! - push and pull of one image of 200 layers of 64 KiB;
//! - server-side ingest of a single 1 GiB blob (one monolithic PUT from this process),
//!   against the SHA-256 limit `openssl speed -evp sha256` measures here.
//!
//! Portcullis serves HTTPS with token auth; docker-registry serves plain HTTP without auth
//! (its Debian default needs an htpasswd file), so the comparison favours the peer.
//!
//! `cargo bench -p portcullis --bench registry`. `BENCH_ROUNDS` (default 2) repeats each
//! transfer; the best round counts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark driver: a panic is a failed run"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::RngCore as _;
use serde_json::json;

fn main() {
    support::run(run());
}

fn sha256_hex(bytes: &[u8]) -> String {
    portcullis_distribution::Digest::of(portcullis_distribution::Algorithm::Sha256, bytes)
        .hex()
        .to_owned()
}

/// An OCI layout with one image of `layers` random layers of `size` bytes
fn layout(dir: &Path, name: &str, layers: usize, size: usize) -> PathBuf {
    let root = dir.join(name);
    let blobs = root.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let mut rng = rand::rng();
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    let mut buffer = vec![0u8; size];
    for _ in 0..layers {
        rng.fill_bytes(&mut buffer);
        let digest = sha256_hex(&buffer);
        std::fs::write(blobs.join(&digest), &buffer).unwrap();
        descriptors.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{digest}"), "size": size}));
        diff_ids.push(format!("sha256:{digest}"));
    }
    let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}).to_string();
    std::fs::write(blobs.join(sha256_hex(config.as_bytes())), &config).unwrap();
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha256_hex(config.as_bytes())), "size": config.len()},
        "layers": descriptors})
    .to_string();
    std::fs::write(blobs.join(sha256_hex(manifest.as_bytes())), &manifest).unwrap();
    std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(root.join("index.json"), json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": format!("sha256:{}", sha256_hex(manifest.as_bytes())), "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}).to_string()).unwrap();
    root
}

struct DockerRegistry(Child);

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn docker_registry(dir: &Path) -> (DockerRegistry, String) {
    let port = portcullis_testing::free_port();
    let config = dir.join("docker-registry.yml");
    std::fs::write(
        &config,
        format!("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n", dir.join("docker-registry-data").display()),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry is installed (Debian package docker-registry)");
    let address = format!("127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(&address).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "docker-registry did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (DockerRegistry(child), address)
}

/// Runs skopeo and returns how long it took
fn skopeo(args: &[&str]) -> Duration {
    // A fresh HOME each time: skopeo's blob-info cache would otherwise turn later pushes
    // into cross-repository mounts.
    let home = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new("skopeo")
        .args(args)
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

struct Target {
    label: &'static str,
    host: String,
    auth: Vec<String>,
}

impl Target {
    fn push(&self, layout: &Path, repo: &str) -> Duration {
        let mut args = vec!["copy".to_owned(), "--quiet".to_owned()];
        args.extend(self.auth.iter().map(|a| a.replace("{dir}", "dest")));
        args.push(format!("oci:{}:bench", layout.display()));
        args.push(format!("docker://{}/{repo}:v1", self.host));
        skopeo(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn pull(&self, repo: &str, out: &Path) -> Duration {
        std::fs::remove_dir_all(out).ok();
        let mut args = vec!["copy".to_owned(), "--quiet".to_owned()];
        args.extend(self.auth.iter().map(|a| a.replace("{dir}", "src")));
        args.push(format!("docker://{}/{repo}:v1", self.host));
        args.push(format!("oci:{}:bench", out.display()));
        skopeo(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }
}

fn openssl_sha256() -> f64 {
    let out = Command::new("openssl")
        .args([
            "speed", "-evp", "sha256", "-seconds", "2", "-bytes", "16384",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.to_ascii_lowercase().starts_with("sha256"))
        .unwrap();
    line.split_whitespace()
        .last()
        .unwrap()
        .trim_end_matches('k')
        .parse::<f64>()
        .unwrap()
        / 1000.0
}

async fn run() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    let dir = tempfile::tempdir().unwrap();
    let support::Setup { server, .. } = support::setup().await;
    let (tenancy, name, token) = credentials(&server).await;
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(server.ca_bundle(), certs.join("ca.crt")).unwrap();
    let (_peer, peer_address) = docker_registry(dir.path());

    let ours = Target {
        label: "portcullis",
        host: server.endpoint().trim_start_matches("https://").to_owned(),
        auth: vec![
            format!("--{{dir}}-creds={tenancy}/{name}:{token}"),
            format!("--{{dir}}-cert-dir={}", certs.display()),
        ],
    };
    let peer = Target {
        label: "docker-registry 2.8.2",
        host: peer_address,
        auth: vec!["--{dir}-tls-verify=false".to_owned()],
    };
    let out = dir.path().join("pulled");
    println!("\nskopeo copy, best of {rounds} (seconds; lower is better)");
    println!(
        "  {:<28} {:>12} {:>12} {:>12} {:>12}",
        "registry", "push 384MiB", "pull 384MiB", "push 200x64K", "pull 200x64K"
    );
    for target in [&peer, &ours] {
        let mut best = [Duration::MAX; 4];
        for round in 0..rounds {
            // Fresh content every round: skopeo's blob-info cache (for root, under
            // /var/lib/containers) would otherwise turn pushes into cross-repository mounts.
            let big = layout(dir.path(), "big", 2, 192 * 1024 * 1024);
            let many = layout(dir.path(), "many", 200, 64 * 1024);
            let repo_big = format!("bench/big{round}");
            let repo_many = format!("bench/many{round}");
            let times = [
                target.push(&big, &repo_big),
                target.pull(&repo_big, &out),
                target.push(&many, &repo_many),
                target.pull(&repo_many, &out),
            ];
            for (b, t) in best.iter_mut().zip(times) {
                *b = (*b).min(t);
            }
            std::fs::remove_dir_all(&big).ok();
            std::fs::remove_dir_all(&many).ok();
        }
        println!(
            "  {:<28} {:>12.2} {:>12.2} {:>12.2} {:>12.2}",
            target.label,
            best[0].as_secs_f64(),
            best[1].as_secs_f64(),
            best[2].as_secs_f64(),
            best[3].as_secs_f64()
        );
    }

    // Ingest: one 1 GiB blob, POST then a single streamed PUT; once to the server above
    // (data on this machine's disk) and once to a server whose data is on tmpfs, which
    // leaves the disk's sustained write speed out.
    let size = 1usize << 30;
    let mut blob = vec![0u8; size];
    rand::rng().fill_bytes(&mut blob);
    let blob = bytes::Bytes::from(blob);
    let limit = openssl_sha256();
    println!(
        "\ningest of one 1 GiB blob over HTTPS (best of {rounds}); openssl sha256 {limit:.0} MB/s"
    );
    let on_tmpfs = portcullis_testing::Server::start_in(
        Path::new(env!("CARGO_BIN_EXE_portcullis")),
        portcullis_testing::ServerOptions::default(),
        Path::new("/dev/shm"),
    );
    for (label, target) in [("data on disk", &server), ("data on tmpfs", &on_tmpfs)] {
        let took = ingest(target, &blob, rounds).await;
        let rate = size as f64 / took.as_secs_f64() / 1e6;
        println!(
            "  {label:<14} {:.2} s, {rate:.0} MB/s, {:.0}% of the sha256 limit",
            took.as_secs_f64(),
            100.0 * rate / limit
        );
    }
}

/// The admin's tenancy name, user name and a fresh auth token
async fn credentials(server: &portcullis_testing::Server) -> (String, String, String) {
    let admin = server.admin();
    let user = server.config_value("user");
    let token = admin
        .send(
            "POST",
            &format!("/20160918/users/{user}/authTokens"),
            Some(json!({"description": "bench"})),
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let tenancy = admin
        .send(
            "GET",
            &format!("/20160918/tenancies/{}", server.tenancy()),
            None,
        )
        .await
        .field("name");
    let name = admin
        .send("GET", &format!("/20160918/users/{user}"), None)
        .await
        .field("name");
    (tenancy, name, token)
}

/// The best time of `rounds` monolithic uploads of `blob` to `server`
async fn ingest(
    server: &portcullis_testing::Server,
    blob: &bytes::Bytes,
    rounds: usize,
) -> Duration {
    let (tenancy, name, token) = credentials(server).await;
    let digest = format!("sha256:{}", sha256_hex(blob));
    let http = support::client(server);
    let base = server.endpoint().to_owned();
    let bearer = http
        .get(format!("{base}/20180419/docker/token"))
        .basic_auth(format!("{tenancy}/{name}"), Some(&token))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut best = Duration::MAX;
    for round in 0..rounds {
        let started = http
            .post(format!("{base}/v2/bench/ingest{round}/blobs/uploads/"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        let location = started.headers()["location"].to_str().unwrap().to_owned();
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..blob.len())
            .step_by(1 << 20)
            .map(|o| Ok(blob.slice(o..(o + (1 << 20)).min(blob.len()))))
            .collect();
        let begun = Instant::now();
        let done = http
            .put(format!("{base}{location}?digest={digest}"))
            .bearer_auth(&bearer)
            .header("content-type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await
            .unwrap();
        let took = begun.elapsed();
        assert_eq!(
            done.status(),
            201,
            "{}",
            done.text().await.unwrap_or_default()
        );
        best = best.min(took);
    }
    best
}
