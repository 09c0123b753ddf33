//! Secret writes and reads with encryption at rest on and off, in-process on the embedded
//! store: the same `KubeService` path, once with `ClusterSecrets` installed and once
//! without, so the ratio is the cost of encryption alone (HTTP, TLS and authentication
//! excluded; `portcullis`'s `secrets_at_rest` bench measures those too).
//!
//! `cargo bench -p portcullis-vault --bench secret_store`; `BENCH_OPS` sets the count
//! (default 5,000 of each).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark driver: a panic is a failed run"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_containerengine::ContainerEngine;
use portcullis_containerengine::model::CreateClusterDetails;
use portcullis_identity::IdentityService;
use portcullis_kube::KubeService;
use portcullis_kube::resources::find;
use portcullis_store::{EmbeddedStore, Store};
use portcullis_vault::VaultService;
use portcullis_vault::at_rest::ClusterSecrets;
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

struct Run {
    writes: Vec<Duration>,
    reads: Vec<Duration>,
}

async fn measure(kube: &KubeService, cluster: &str, label: &str, ops: usize) -> Run {
    let secrets = find("", "v1", "secrets").unwrap();
    let value = "x".repeat(1024);
    let mut run = Run {
        writes: Vec::with_capacity(ops),
        reads: Vec::with_capacity(ops),
    };
    for i in 0..ops + 200 {
        let name = format!("{label}-{i}");
        let object = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": {"value": value}});
        let started = Instant::now();
        kube.create(
            cluster,
            secrets,
            Some("default"),
            object,
            "https://bench",
            None,
        )
        .await
        .unwrap();
        let written = started.elapsed();
        let started = Instant::now();
        kube.get(cluster, secrets, Some("default"), &name)
            .await
            .unwrap();
        let read = started.elapsed();
        if i >= 200 {
            run.writes.push(written);
            run.reads.push(read);
        }
    }
    run.writes.sort();
    run.reads.sort();
    run
}

fn mean(v: &[Duration]) -> Duration {
    v.iter().sum::<Duration>() / u32::try_from(v.len()).unwrap()
}

fn main() {
    let ops: usize = std::env::var("BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir.path().join("store.redb")).unwrap());
        let outcome = portcullis_identity::bootstrap(&*store, "bench", "us-ashburn-1", |_, _, _, _| Ok(())).await.unwrap();
        let identity = IdentityService::open(store.clone(), "us-ashburn-1").await.unwrap();
        let admin = identity.user_principal(&outcome.admin_user_id.unwrap()).await.unwrap().unwrap();
        let engine = Arc::new(ContainerEngine::new(identity.clone(), "127.0.0.1:1", None));
        let root = [7u8; 32];
        let vault = Arc::new(VaultService::new(identity.clone(), portcullis_kms::RootKey::derive(&root).unwrap(), "https://127.0.0.1:1").await.unwrap());
        let details: CreateClusterDetails = serde_json::from_value(json!({
            "compartmentId": outcome.tenancy.id, "name": "bench", "kubernetesVersion": "v1.32.1",
        }))
        .unwrap();
        let (plain_cluster, _) = engine.create_cluster(&admin, details.clone()).await.unwrap();
        let (sealed_cluster, _) = engine.create_cluster(&admin, details).await.unwrap();

        let plain = KubeService::new(store.clone(), portcullis_kube::tokens::RootKey::from_bytes(root));
        let sealed = KubeService::new(store.clone(), portcullis_kube::tokens::RootKey::from_bytes(root));
        sealed.encrypt_secrets_with(Arc::new(ClusterSecrets::new(vault.clone(), engine.clone())));
        plain.bootstrap(&plain_cluster.id).await.unwrap();
        sealed.bootstrap(&sealed_cluster.id).await.unwrap();

        println!("Secret create and get in-process, embedded store, 1 KiB value, {ops} of each (p50 / p99 / mean)");
        // Alternate rounds so that the store's growth affects both alike.
        let mut off = Run { writes: Vec::new(), reads: Vec::new() };
        let mut on = Run { writes: Vec::new(), reads: Vec::new() };
        for round in 0..5 {
            let a = measure(&plain, &plain_cluster.id, &format!("off{round}"), ops / 5).await;
            let b = measure(&sealed, &sealed_cluster.id, &format!("on{round}"), ops / 5).await;
            off.writes.extend(a.writes);
            off.reads.extend(a.reads);
            on.writes.extend(b.writes);
            on.reads.extend(b.reads);
        }
        for run in [&mut off, &mut on] {
            run.writes.sort();
            run.reads.sort();
        }
        for (what, off, on) in [("write", &off.writes, &on.writes), ("read", &off.reads, &on.reads)] {
            println!(
                "  {what:<5} off {:>9.2?} / {:>9.2?} / {:>9.2?}   on (platform key) {:>9.2?} / {:>9.2?} / {:>9.2?}   mean ratio {:.3}",
                percentile(off, 0.5), percentile(off, 0.99), mean(off),
                percentile(on, 0.5), percentile(on, 0.99), mean(on),
                mean(on).as_secs_f64() / mean(off).as_secs_f64()
            );
        }
    });
}
