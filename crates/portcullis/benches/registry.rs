//! Registry benchmark against Debian's `docker-registry` 2.8.2, in the same run, with the
//! same client (skopeo) on the same machine:
//!
//! - push and pull of one image of 384 MiB in two layers;
//! - push and pull of one image of 200 layers of 64 KiB;
//! - server-side ingest of a single 1 GiB blob (one monolithic PUT from this process),
//!   against the SHA-256 limit `openssl speed -evp sha256` measures here.
//!
//! Both registries serve HTTPS with the same certificate, so the transport is the same;
//! Portcullis also runs token auth and IAM on every request, docker-registry runs no auth
//! (its Debian default needs an htpasswd file), so the comparison favours the peer.
//! The registry's own ingest path without a client competing for the two cores is
//! `cargo bench -p portcullis-registry --bench ingest`.
//!
//! `cargo bench -p portcullis --bench registry`. `BENCH_ROUNDS` (default 2) repeats each
//! transfer; the best round counts. `BENCH_ONLY=skopeo` or `BENCH_ONLY=ingest` runs one half.

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

/// docker-registry on a free port, serving HTTPS with the certificate in `tls`
fn docker_registry(dir: &Path, tls: &Path) -> (DockerRegistry, String) {
    let port = portcullis_testing::free_port();
    let config = dir.join("docker-registry.yml");
    std::fs::write(
        &config,
        format!("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {}\n    key: {}\n",
            dir.join("docker-registry-data").display(),
            tls.join("server.pem").display(),
            tls.join("server-key.pem").display()),
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

async fn run() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    let dir = tempfile::tempdir().unwrap();
    let support::Setup { server, .. } = support::setup().await;
    let portcullis_testing::RegistryLogin {
        tenancy_name: tenancy,
        user_name: name,
        token,
    } = server.registry_login().await;
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(server.ca_bundle(), certs.join("ca.crt")).unwrap();
    let (_peer, peer_address) = docker_registry(dir.path(), &server.data_dir().join("tls"));

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
        auth: vec![format!("--{{dir}}-cert-dir={}", certs.display())],
    };
    let out = dir.path().join("pulled");
    println!("\nskopeo copy, best of {rounds} (seconds; lower is better)");
    println!(
        "  {:<28} {:>12} {:>12} {:>12} {:>12}",
        "registry", "push 384MiB", "pull 384MiB", "push 200x64K", "pull 200x64K"
    );
    let transfers = std::env::var("BENCH_ONLY").map_or(true, |only| only == "skopeo");
    for target in [&peer, &ours].into_iter().filter(|_| transfers) {
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

    if std::env::var("BENCH_ONLY").is_ok_and(|only| only != "ingest") {
        return;
    }
    // Ingest: one 1 GiB blob, POST then a single streamed PUT over HTTPS from this
    // process; to both registries with data on this machine's disk, and to both with
    // data on tmpfs, which leaves the disk's write speed out (new blocks on this machine's
    // disk go at about 400 MB/s).
    let size = 1usize << 30;
    let mut blob = vec![0u8; size];
    rand::rng().fill_bytes(&mut blob);
    let blob = bytes::Bytes::from(blob);
    let limit = portcullis_testing::openssl_speed("sha256", 16384).expect("openssl is installed");
    println!(
        "\ningest of one 1 GiB blob over HTTPS, client on the same 2 cores (best of {rounds}); openssl sha256 {limit:.0} MB/s"
    );
    let on_tmpfs = portcullis_testing::Server::start_in(
        Path::new(env!("CARGO_BIN_EXE_portcullis")),
        portcullis_testing::ServerOptions::default(),
        Path::new("/dev/shm"),
    );
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    let (_peer_on_tmpfs, peer_on_tmpfs) =
        docker_registry(shm.path(), &server.data_dir().join("tls"));
    let http = support::client(&server);
    let targets = [
        (
            "docker-registry, disk",
            format!("https://{}", peer.host),
            None,
        ),
        (
            "docker-registry, tmpfs",
            format!("https://{peer_on_tmpfs}"),
            None,
        ),
        (
            "portcullis, disk",
            server.endpoint().to_owned(),
            Some(bearer(&server).await),
        ),
        (
            "portcullis, tmpfs",
            on_tmpfs.endpoint().to_owned(),
            Some(bearer(&on_tmpfs).await),
        ),
    ];
    for (label, base, bearer) in targets {
        let http = if base == on_tmpfs.endpoint() {
            support::client(&on_tmpfs)
        } else {
            http.clone()
        };
        let took = ingest(&http, &base, bearer.as_deref(), &blob, rounds).await;
        let rate = size as f64 / took.as_secs_f64() / 1e6;
        println!(
            "  {label:<22} {:.2} s, {rate:.0} MB/s, {:.0}% of the sha256 limit",
            took.as_secs_f64(),
            100.0 * rate / limit
        );
    }
}

/// A registry token for the admin, with every scope
async fn bearer(server: &portcullis_testing::Server) -> String {
    let login = server.registry_login().await;
    support::client(server)
        .get(format!("{}/20180419/docker/token", server.endpoint()))
        .basic_auth(
            format!("{}/{}", login.tenancy_name, login.user_name),
            Some(&login.token),
        )
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The best time of `rounds` monolithic uploads of `blob` to the registry at `base`
async fn ingest(
    http: &reqwest::Client,
    base: &str,
    bearer: Option<&str>,
    blob: &bytes::Bytes,
    rounds: usize,
) -> Duration {
    let digest = format!("sha256:{}", sha256_hex(blob));
    let authorized = |request: reqwest::RequestBuilder| match bearer {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let mut best = Duration::MAX;
    for round in 0..rounds {
        let started =
            authorized(http.post(format!("{base}/v2/bench/ingest{round}/blobs/uploads/")))
                .send()
                .await
                .unwrap();
        assert_eq!(started.status(), 202);
        // docker-registry answers with an absolute URL and a query; Portcullis with a path.
        let location = started.headers()["location"].to_str().unwrap().to_owned();
        let location = if location.starts_with("https://") {
            location
        } else {
            format!("{base}{location}")
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..blob.len())
            .step_by(1 << 20)
            .map(|o| Ok(blob.slice(o..(o + (1 << 20)).min(blob.len()))))
            .collect();
        let begun = Instant::now();
        let done = authorized(http.put(format!("{location}{separator}digest={digest}")))
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
