//! Server-side ingest of one 1 GiB blob: the registry's own upload path (hash, write,
//! fsync, rename) fed from memory in 64 KiB chunks, as hyper hands them over, with no
//! client or transport competing for this machine's two cores. Compared, in the same
//! run, with the SHA-256 limit `openssl speed -evp sha256` measures and with how fast a
//! plain `write` + `fsync` of a new 1 GiB file goes on the same filesystem.
//!
//! `cargo bench -p portcullis-registry --bench ingest`. `BENCH_ROUNDS` (default 3); the
//! best round counts. The end-to-end numbers over HTTPS, against `docker-registry`, are in
//! `cargo bench -p portcullis --bench registry`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark driver: a panic is a failed run"
)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use portcullis_distribution::{Algorithm, Digest, RepositoryName};
use portcullis_identity::IdentityService;
use portcullis_registry::Registry;
use portcullis_store::{EmbeddedStore, Store};
use rand::RngCore as _;

const SIZE: usize = 1 << 30;

/// Seconds to write `blob` to a new file under `dir` and fsync it: the filesystem's limit
fn plain_write(dir: &Path, blob: &[u8]) -> Duration {
    use std::io::Write as _;
    let path = dir.join("plain-write");
    let started = Instant::now();
    let mut file = std::fs::File::create(&path).unwrap();
    for chunk in blob.chunks(8 << 20) {
        file.write_all(chunk).unwrap();
    }
    file.sync_all().unwrap();
    let took = started.elapsed();
    std::fs::remove_file(&path).unwrap();
    took
}

async fn registry(dir: &Path) -> Registry {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir.join("store.redb")).unwrap());
    portcullis_identity::bootstrap(&*store, "bench", "us-ashburn-1", |_, _, _, _| Ok(()))
        .await
        .unwrap();
    let identity = IdentityService::open(store, "us-ashburn-1").await.unwrap();
    Registry::open(identity, &dir.join("registry"), b"bench").unwrap()
}

/// Seconds for one upload session of `blob`, from the first byte to the committed blob
async fn ingest(registry: &Registry, round: usize, blob: &Bytes, digest: &Digest) -> Duration {
    let name = RepositoryName::parse(&format!("bench/ingest{round}")).unwrap();
    let session = registry.start_upload(&name).await.unwrap();
    let chunks: Vec<Result<Bytes, std::io::Error>> = (0..blob.len())
        .step_by(64 << 10)
        .map(|o| Ok(blob.slice(o..(o + (64 << 10)).min(blob.len()))))
        .collect();
    let started = Instant::now();
    registry
        .finish_upload(
            &name,
            &session,
            digest,
            futures::stream::iter(chunks),
            "bench",
        )
        .await
        .unwrap();
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let mut blob = vec![0u8; SIZE];
    rand::rng().fill_bytes(&mut blob);
    let blob = Bytes::from(blob);
    let digest = Digest::of(Algorithm::Sha256, &blob);
    let limit = portcullis_testing::openssl_speed("sha256", 16384).expect("openssl is installed");
    println!(
        "\nserver-side ingest of one 1 GiB blob (best of {rounds}); openssl sha256 {limit:.0} MB/s"
    );
    let on_disk = tempfile::tempdir().unwrap();
    let on_tmpfs = tempfile::tempdir_in("/dev/shm").unwrap();
    for (label, dir) in [
        ("data on disk", on_disk.path()),
        ("data on tmpfs", on_tmpfs.path()),
    ] {
        let registry = registry(dir).await;
        let mut best = Duration::MAX;
        let mut plain = Duration::MAX;
        for round in 0..rounds {
            plain = plain.min(plain_write(dir, &blob));
            best = best.min(ingest(&registry, round, &blob, &digest).await);
            registry.collect_garbage(Duration::ZERO).await.unwrap();
        }
        let rate = SIZE as f64 / best.as_secs_f64() / 1e6;
        let plain_rate = SIZE as f64 / plain.as_secs_f64() / 1e6;
        println!(
            "  {label:<14} {:.2} s, {rate:.0} MB/s, {:.0}% of the sha256 limit; write+fsync of a new file there: {plain_rate:.0} MB/s",
            best.as_secs_f64(),
            100.0 * rate / limit
        );
    }
}
