//! Crash safety: SIGKILL the server while 20 clients push, restart it, and check that every
//! manifest the server acknowledged is pullable with every blob intact, and that no blob on
//! disk differs from its digest.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::registry::{Registry, digest};
use reqwest::{Method, StatusCode};
use serde_json::Value;

fn random(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    for chunk in bytes.chunks_mut(32) {
        let block: [u8; 32] = rand::random();
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
    bytes
}

#[test]
fn sigkill_during_twenty_pushes_loses_no_acknowledged_manifest() {
    let mut server = common::server();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let registry = Arc::new(runtime.block_on(Registry::login(&server)));
    let acknowledged: Arc<std::sync::Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..20 {
        let (registry, acknowledged, stop) = (registry.clone(), acknowledged.clone(), stop.clone());
        workers.push(runtime.spawn(async move {
            let repo = format!("crash/w{worker}");
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                // Two layers of 256 KiB and a config; the manifest last.
                let seed = format!("{worker}-{round}-{}", hex(&random(8)));
                let (registry, target, seed) = (registry.clone(), repo.clone(), seed.clone());
                let pushed = async move {
                    let repo = target;
                    let layer = random(256 * 1024);
                    let layer_digest = registry.push_blob(&repo, &layer).await;
                    let layer2 = random(256 * 1024);
                    let layer2_digest = registry.push_blob(&repo, &layer2).await;
                    let config = format!("{{\"seed\":\"{seed}\"}}");
                    let config_digest = registry.push_blob(&repo, config.as_bytes()).await;
                    let manifest = serde_json::json!({
                        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
                        "layers": [
                            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()},
                            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer2_digest, "size": layer2.len()},
                        ],
                    })
                    .to_string();
                    let reply = registry
                        .send(Method::PUT, &format!("/v2/{repo}/manifests/r{round}"), &[("content-type", "application/vnd.oci.image.manifest.v1+json")], Some(manifest.clone().into_bytes()))
                        .await;
                    (reply.status() == StatusCode::CREATED).then(|| digest(manifest.as_bytes()))
                };
                // Once the server is gone, pushes fail; a panic inside means "not acknowledged".
                match tokio::spawn(pushed).await {
                    Ok(Some(d)) => acknowledged.lock().unwrap().push((repo.clone(), d)),
                    _ => return,
                }
                round += 1;
            }
        }));
    }
    // Kill once a good number of pushes are acknowledged and many more are in flight.
    let started = std::time::Instant::now();
    while acknowledged.lock().unwrap().len() < 30
        && started.elapsed() < std::time::Duration::from_secs(60)
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = runtime.block_on(worker);
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 30,
        "only {} pushes were acknowledged",
        acknowledged.len()
    );

    server.restart();
    let registry = runtime.block_on(Registry::login(&server));
    runtime.block_on(async {
        for (repo, manifest_digest) in &acknowledged {
            let got = registry
                .send(
                    Method::GET,
                    &format!("/v2/{repo}/manifests/{manifest_digest}"),
                    &[],
                    None,
                )
                .await;
            assert_eq!(
                got.status(),
                StatusCode::OK,
                "{repo}@{manifest_digest} was acknowledged"
            );
            let bytes = got.bytes().await.unwrap();
            assert_eq!(&digest(&bytes), manifest_digest);
            let manifest: Value = serde_json::from_slice(&bytes).unwrap();
            let mut blobs = vec![manifest["config"]["digest"].as_str().unwrap().to_owned()];
            blobs.extend(
                manifest["layers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["digest"].as_str().unwrap().to_owned()),
            );
            for blob in blobs {
                let got = registry
                    .send(Method::GET, &format!("/v2/{repo}/blobs/{blob}"), &[], None)
                    .await;
                assert_eq!(got.status(), StatusCode::OK, "{repo} {blob}");
                assert_eq!(digest(&got.bytes().await.unwrap()), blob);
            }
        }
    });
    // No file under a digest holds other content.
    let mut checked = 0;
    for entry in walk(&server.data_dir().join("registry/blobs/sha256")) {
        let bytes = std::fs::read(&entry).unwrap();
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            digest(&bytes),
            format!("sha256:{name}"),
            "{}",
            entry.display()
        );
        checked += 1;
    }
    assert!(checked > acknowledged.len());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
