//! Garbage collection and upload expiry against a real embedded store and blob directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use portcullis_distribution::{Algorithm, Digest, Reference, RepositoryName};
use portcullis_identity::IdentityService;
use portcullis_registry::{Registry, RegistryError};
use portcullis_store::{EmbeddedStore, Store};

fn body(bytes: &[u8]) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
    futures::stream::iter(vec![Ok(Bytes::copy_from_slice(bytes))])
}

async fn push(registry: &Registry, name: &RepositoryName, bytes: &[u8]) -> Digest {
    let digest = Digest::of(Algorithm::Sha256, bytes);
    let session = registry.start_upload(name).await.unwrap();
    registry
        .finish_upload(name, &session, &digest, body(bytes), "test")
        .await
        .unwrap();
    digest
}

#[tokio::test]
async fn unreferenced_blobs_go_after_the_grace_period_and_stale_uploads_expire() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(EmbeddedStore::open(&dir.path().join("store.redb")).unwrap());
    portcullis_identity::bootstrap(&*store, "t", "us-ashburn-1", |_, _, _, _| Ok(()))
        .await
        .unwrap();
    let identity = IdentityService::open(store, "us-ashburn-1").await.unwrap();
    let registry = Registry::open(identity, &dir.path().join("registry"), b"k").unwrap();
    let name = RepositoryName::parse("gc/app").unwrap();

    let config = push(&registry, &name, b"{}").await;
    let layer = push(&registry, &name, b"layer").await;
    let orphan = push(&registry, &name, b"pushed, never referenced").await;
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.to_string(), "size": 5}],
    })
    .to_string();
    registry
        .put_manifest(
            &name,
            &Reference::Tag("v1".into()),
            None,
            manifest.as_bytes(),
            "test",
        )
        .await
        .unwrap();

    // Within the grace period nothing goes, not even the orphan (its push may be in flight).
    assert_eq!(
        registry
            .collect_garbage(Duration::from_secs(3600))
            .await
            .unwrap()
            .blobs,
        0
    );
    let collected = registry.collect_garbage(Duration::ZERO).await.unwrap();
    assert_eq!(collected.blobs, 1);
    assert_eq!(collected.bytes, 24);
    assert!(matches!(
        registry.blob(&name, &orphan).await,
        Err(RegistryError::Distribution(_))
    ));
    for kept in [&config, &layer] {
        assert!(registry.blob(&name, kept).await.is_ok());
    }
    assert!(
        registry
            .manifest(&name, &Reference::Tag("v1".into()))
            .await
            .is_ok()
    );

    // Once the manifest is deleted, its blobs are garbage too.
    registry
        .delete_manifest(&name, &Reference::Tag("v1".into()))
        .await
        .unwrap();
    let digest = Digest::of(Algorithm::Sha256, manifest.as_bytes());
    registry
        .delete_manifest(&name, &Reference::Digest(digest))
        .await
        .unwrap();
    assert_eq!(
        registry
            .collect_garbage(Duration::ZERO)
            .await
            .unwrap()
            .blobs,
        3
    );

    // Upload sessions: young ones stay, old ones go with their data.
    let session = registry.start_upload(&name).await.unwrap();
    assert_eq!(
        registry
            .expire_uploads(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert_eq!(registry.upload_offset(&name, &session).await.unwrap(), 0);
    assert_eq!(registry.expire_uploads(Duration::ZERO).await.unwrap(), 1);
    assert!(registry.upload_offset(&name, &session).await.is_err());
}
