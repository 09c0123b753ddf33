//! The upload path with many small chunks (more than one vectored write, more than one
//! batch), a chunked session, and a stream that breaks off, against a real store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::sync::Arc;

use bytes::Bytes;
use portcullis_distribution::range::ByteRange;
use portcullis_distribution::{Algorithm, Digest, RepositoryName};
use portcullis_identity::IdentityService;
use portcullis_registry::Registry;
use portcullis_store::{EmbeddedStore, Store};

async fn registry(dir: &std::path::Path) -> Registry {
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir.join("store.redb")).unwrap());
    portcullis_identity::bootstrap(&*store, "t", "us-ashburn-1", |_, _, _, _| Ok(()))
        .await
        .unwrap();
    let identity = IdentityService::open(store, "us-ashburn-1").await.unwrap();
    Registry::open(identity, &dir.join("registry"), b"k").unwrap()
}

/// `bytes` cut into pieces of `size`
fn pieces(bytes: &[u8], size: usize) -> Vec<Result<Bytes, std::io::Error>> {
    bytes
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect()
}

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test]
async fn small_chunks_across_batches_arrive_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(dir.path()).await;
    let name = RepositoryName::parse("uploads/many").unwrap();
    // 20 MiB in 3 KiB pieces: thousands of slices per vectored write, three batches.
    let bytes = content(20 << 20);
    let digest = Digest::of(Algorithm::Sha256, &bytes);
    let session = registry.start_upload(&name).await.unwrap();
    registry
        .finish_upload(
            &name,
            &session,
            &digest,
            futures::stream::iter(pieces(&bytes, 3 << 10)),
            "t",
        )
        .await
        .unwrap();
    let (size, path) = registry.blob(&name, &digest).await.unwrap();
    assert_eq!(size, bytes.len() as u64);
    assert!(std::fs::read(path).unwrap() == bytes);
}

#[tokio::test]
async fn a_chunked_session_and_a_sha512_digest_commit_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(dir.path()).await;
    let name = RepositoryName::parse("uploads/chunked").unwrap();
    let bytes = content(9 << 20);
    let digest = Digest::of(Algorithm::Sha512, &bytes);
    let session = registry.start_upload(&name).await.unwrap();
    let (first, rest) = bytes.split_at(5 << 20);
    let range = ByteRange {
        start: 0,
        end: first.len() as u64 - 1,
    };
    let held = registry
        .append(
            &name,
            &session,
            Some(range),
            futures::stream::iter(pieces(first, 64 << 10)),
        )
        .await
        .unwrap();
    assert_eq!(held, first.len() as u64);
    registry
        .finish_upload(
            &name,
            &session,
            &digest,
            futures::stream::iter(pieces(rest, 1 << 20)),
            "t",
        )
        .await
        .unwrap();
    let (_, path) = registry.blob(&name, &digest).await.unwrap();
    assert!(std::fs::read(path).unwrap() == bytes);
}

#[tokio::test]
async fn a_broken_stream_keeps_what_arrived_and_the_session_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(dir.path()).await;
    let name = RepositoryName::parse("uploads/broken").unwrap();
    let bytes = content(10 << 20);
    let session = registry.start_upload(&name).await.unwrap();
    let mut broken = pieces(&bytes[..4 << 20], 1 << 20);
    broken.push(Err(std::io::Error::other("connection reset")));
    let failed = registry
        .append(&name, &session, None, futures::stream::iter(broken))
        .await;
    assert!(failed.is_err());
    // The client resumes from what the session holds, as the spec's status request tells it.
    let held = registry
        .append(&name, &session, None, futures::stream::iter(pieces(&[], 1)))
        .await
        .unwrap();
    assert_eq!(held, 4 << 20);
    let digest = Digest::of(Algorithm::Sha256, &bytes);
    registry
        .finish_upload(
            &name,
            &session,
            &digest,
            futures::stream::iter(pieces(&bytes[4 << 20..], 1 << 20)),
            "t",
        )
        .await
        .unwrap();
    let (_, path) = registry.blob(&name, &digest).await.unwrap();
    assert!(std::fs::read(path).unwrap() == bytes);
}
