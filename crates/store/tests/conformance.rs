//! The store contract, run against every backend: the same test bodies, once per backend.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use portcullis_store::{EmbeddedStore, Event, Store, StoreError, Txn};
use portcullis_testing::{Etcd, unique_prefix};

/// A store plus whatever keeps it alive, and the key prefix this test owns
struct Fixture {
    store: Arc<dyn Store>,
    prefix: String,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    fn key(&self, k: &str) -> String {
        format!("{}{k}", self.prefix)
    }
}

async fn embedded(test: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("store.redb")).unwrap();
    Fixture {
        store: Arc::new(store),
        prefix: unique_prefix(test),
        _dir: Some(dir),
    }
}

async fn etcd(test: &str) -> Fixture {
    let etcd = Etcd::shared();
    let store =
        portcullis_store::EtcdStore::connect(&[etcd.endpoint().to_owned()], "/portcullis-test/")
            .await
            .unwrap();
    Fixture {
        store: Arc::new(store),
        prefix: unique_prefix(test),
        _dir: None,
    }
}

async fn get_and_create(f: Fixture) {
    let s = &f.store;
    assert_eq!(s.get(&f.key("a")).await.unwrap(), None);
    let r1 = s.create(&f.key("a"), b"one".to_vec()).await.unwrap();
    let got = s.get(&f.key("a")).await.unwrap().unwrap();
    assert_eq!(got.value, b"one");
    assert_eq!(got.mod_revision, r1);
    assert_eq!(got.create_revision, r1);
    // Creating again conflicts and changes nothing.
    assert_eq!(
        s.create(&f.key("a"), b"two".to_vec()).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(s.get(&f.key("a")).await.unwrap().unwrap().value, b"one");
    assert!(s.revision().await.unwrap() >= r1);
}

async fn compare_and_swap(f: Fixture) {
    let s = &f.store;
    let r1 = s.create(&f.key("cas"), b"v1".to_vec()).await.unwrap();
    let r2 = s.update(&f.key("cas"), b"v2".to_vec(), r1).await.unwrap();
    assert!(r2 > r1);
    // A stale revision loses.
    assert_eq!(
        s.update(&f.key("cas"), b"v3".to_vec(), r1).await,
        Err(StoreError::Conflict)
    );
    let got = s.get(&f.key("cas")).await.unwrap().unwrap();
    assert_eq!(
        (got.value.as_slice(), got.mod_revision, got.create_revision),
        (&b"v2"[..], r2, r1)
    );
    // Updating a missing key conflicts.
    assert_eq!(
        s.update(&f.key("missing"), b"x".to_vec(), r1).await,
        Err(StoreError::Conflict)
    );
}

async fn delete(f: Fixture) {
    let s = &f.store;
    let r = s.create(&f.key("d"), b"x".to_vec()).await.unwrap();
    assert_eq!(
        s.delete(&f.key("d"), Some(r + 1000)).await,
        Err(StoreError::Conflict)
    );
    s.delete(&f.key("d"), Some(r)).await.unwrap();
    assert_eq!(s.get(&f.key("d")).await.unwrap(), None);
    assert_eq!(s.delete(&f.key("d"), None).await, Err(StoreError::Conflict));
    // A recreated key gets a new create revision.
    let again = s.create(&f.key("d"), b"y".to_vec()).await.unwrap();
    assert!(again > r);
}

async fn atomic_transactions(f: Fixture) {
    let s = &f.store;
    s.create(&f.key("names/alice"), b"u1".to_vec())
        .await
        .unwrap();
    // One failing precondition: nothing applies.
    let txn = Txn::new()
        .require_absent(f.key("names/alice"))
        .put(f.key("names/alice"), b"u2".to_vec())
        .put(f.key("users/u2"), b"{}".to_vec());
    assert_eq!(s.commit(txn).await, Err(StoreError::Conflict));
    assert_eq!(s.get(&f.key("users/u2")).await.unwrap(), None);
    // All hold: everything applies at one revision.
    let txn = Txn::new()
        .require_absent(f.key("names/bob"))
        .require_exists(f.key("names/alice"))
        .put(f.key("names/bob"), b"u3".to_vec())
        .put(f.key("users/u3"), b"{}".to_vec())
        .delete(f.key("names/alice"));
    let r = s.commit(txn).await.unwrap();
    assert_eq!(
        s.get(&f.key("names/bob"))
            .await
            .unwrap()
            .unwrap()
            .mod_revision,
        r
    );
    assert_eq!(
        s.get(&f.key("users/u3"))
            .await
            .unwrap()
            .unwrap()
            .mod_revision,
        r
    );
    assert_eq!(s.get(&f.key("names/alice")).await.unwrap(), None);
    // Malformed transactions are refused before reaching the backend.
    assert!(matches!(
        s.commit(Txn::new()).await,
        Err(StoreError::Invalid(_))
    ));
    let twice = Txn::new()
        .put(f.key("k"), b"1".to_vec())
        .put(f.key("k"), b"2".to_vec());
    assert!(matches!(s.commit(twice).await, Err(StoreError::Invalid(_))));
    let huge = Txn::new().put(f.key("big"), vec![0u8; 2 * 1024 * 1024]);
    assert!(matches!(s.commit(huge).await, Err(StoreError::Invalid(_))));
}

async fn list_pages_by_prefix(f: Fixture) {
    let s = &f.store;
    for i in 0..25 {
        s.create(
            &f.key(&format!("items/{i:03}")),
            format!("{i}").into_bytes(),
        )
        .await
        .unwrap();
    }
    s.create(&f.key("itemsx"), b"outside".to_vec())
        .await
        .unwrap();
    s.create(&f.key("other/1"), b"outside".to_vec())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = s
            .list(&f.key("items/"), after.as_deref(), 10)
            .await
            .unwrap();
        pages += 1;
        assert!(page.entries.len() <= 10);
        seen.extend(page.entries.iter().map(|e| e.key.clone()));
        match page.next_start() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..25).map(|i| f.key(&format!("items/{i:03}"))).collect();
    assert_eq!(seen, expected);
    assert_eq!(s.list_all(&f.key("items/")).await.unwrap().len(), 25);
    assert!(
        s.list(&f.key("none/"), None, 10)
            .await
            .unwrap()
            .entries
            .is_empty()
    );
}

async fn watch_resumes_and_follows(f: Fixture) {
    let s = &f.store;
    let r1 = s.create(&f.key("w/1"), b"a".to_vec()).await.unwrap();
    let r2 = s.create(&f.key("w/2"), b"b".to_vec()).await.unwrap();
    s.create(&f.key("elsewhere"), b"x".to_vec()).await.unwrap();
    // Resume after r1: sees w/2 from history, then live changes.
    let mut watch = s.watch(&f.key("w/"), Some(r1)).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.key(), f.key("w/2"));
    assert_eq!(first.revision(), r2);
    let r3 = s.update(&f.key("w/1"), b"a2".to_vec(), r1).await.unwrap();
    s.create(&f.key("elsewhere2"), b"x".to_vec()).await.unwrap();
    s.delete(&f.key("w/2"), None).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match next {
        Event::Put(entry) => {
            assert_eq!(entry.key, f.key("w/1"));
            assert_eq!(entry.value, b"a2");
            assert_eq!(entry.mod_revision, r3);
            assert_eq!(entry.create_revision, r1);
        }
        other => panic!("{other:?}"),
    }
    let deleted = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(deleted, Event::Delete { ref key, .. } if *key == f.key("w/2")));
    // A watch from now sees only later changes.
    let mut fresh = s.watch(&f.key("w/"), None).await.unwrap();
    s.create(&f.key("w/3"), b"c".to_vec()).await.unwrap();
    let only = tokio::time::timeout(Duration::from_secs(10), fresh.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(only.key(), f.key("w/3"));
}

async fn concurrent_creates_have_one_winner(f: Fixture) {
    let s = f.store.clone();
    let key = f.key("race");
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let s = s.clone();
            let key = key.clone();
            tokio::spawn(async move { s.create(&key, vec![i]).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(wins, 1);
}

macro_rules! conformance {
    ($backend:ident) => {
        mod $backend {
            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let fixture = super::$backend(stringify!($name)).await;
                        super::$name(fixture).await;
                    }
                };
            }
            case!(get_and_create);
            case!(compare_and_swap);
            case!(delete);
            case!(atomic_transactions);
            case!(list_pages_by_prefix);
            case!(watch_resumes_and_follows);
            case!(concurrent_creates_have_one_winner);
        }
    };
}

conformance!(embedded);
conformance!(etcd);

#[tokio::test]
async fn embedded_reopens_with_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = EmbeddedStore::open(&path).unwrap();
    let r = store.create("k", b"v".to_vec()).await.unwrap();
    drop(store);
    let store = EmbeddedStore::open(&path).unwrap();
    let got = store.get("k").await.unwrap().unwrap();
    assert_eq!((got.value.as_slice(), got.mod_revision), (&b"v"[..], r));
    // Revisions keep increasing across restarts, so watchers can resume.
    let r2 = store.create("k2", b"v".to_vec()).await.unwrap();
    assert!(r2 > r);
    let mut watch = store.watch("", Some(r)).await.unwrap();
    assert_eq!(watch.next().await.unwrap().unwrap().key(), "k2");
}

#[tokio::test]
async fn etcd_unreachable_is_a_clear_error() {
    let port = portcullis_testing::free_port();
    let err = portcullis_store::EtcdStore::connect(&[format!("http://127.0.0.1:{port}")], "/p/")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
}
