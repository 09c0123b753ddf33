//! The one store every Portcullis domain keeps its state in.
//!
//! A small etcd-shaped contract: revisioned keys, reads and prefix listings with paging,
//! atomic transactions guarded by preconditions (create-if-absent, compare-and-swap on a
//! revision), and a change feed that can resume from a revision. Two backends implement it:
//! [`EmbeddedStore`] (redb, the default; every commit is fsynced before it returns) and
//! [`EtcdStore`] (etcd v3 over gRPC). The same conformance tests run against both.

use std::fmt;
use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;

mod embedded;
mod etcd;

pub use embedded::EmbeddedStore;
pub use etcd::EtcdStore;

/// Longest key accepted, in bytes
pub const MAX_KEY_BYTES: usize = 4 * 1024;

/// Largest value accepted, in bytes (etcd's default request limit is 1.5 MiB)
pub const MAX_VALUE_BYTES: usize = 1024 * 1024 + 512 * 1024;

/// Most mutations one transaction may carry (etcd's default `--max-txn-ops`)
pub const MAX_TXN_OPS: usize = 128;

/// A stored key with its value and revisions
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Entry {
    /// The key
    pub key: String,
    /// The value
    pub value: Vec<u8>,
    /// The store revision that created the key
    pub create_revision: u64,
    /// The store revision that last modified the key; compare-and-swap checks this
    pub mod_revision: u64,
}

/// One page of a prefix listing
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Page {
    /// Entries in key order
    pub entries: Vec<Entry>,
    /// Whether more entries follow the last one
    pub more: bool,
}

impl Page {
    /// The key to pass as `start_after` for the next page, if there is one
    pub fn next_start(&self) -> Option<&str> {
        if self.more {
            self.entries.last().map(|e| e.key.as_str())
        } else {
            None
        }
    }
}

/// A condition a transaction requires before it applies
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Precondition {
    /// The key must not exist
    Absent(String),
    /// The key must exist
    Exists(String),
    /// The key must exist with exactly this modification revision
    Revision(String, u64),
}

impl Precondition {
    fn key(&self) -> &str {
        match self {
            Precondition::Absent(k) | Precondition::Exists(k) | Precondition::Revision(k, _) => k,
        }
    }
}

/// A change a transaction makes
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Mutation {
    /// Create or replace a key
    Put(String, Vec<u8>),
    /// Remove a key (absent keys are ignored)
    Delete(String),
}

impl Mutation {
    fn key(&self) -> &str {
        match self {
            Mutation::Put(k, _) | Mutation::Delete(k) => k,
        }
    }
}

/// An atomic batch: every precondition holds and every mutation applies, or nothing does
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Txn {
    /// Conditions checked first
    pub preconditions: Vec<Precondition>,
    /// Changes applied if they all hold
    pub mutations: Vec<Mutation>,
}

impl Txn {
    /// An empty transaction
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires `key` not to exist
    #[must_use]
    pub fn require_absent(mut self, key: impl Into<String>) -> Self {
        self.preconditions.push(Precondition::Absent(key.into()));
        self
    }

    /// Requires `key` to exist
    #[must_use]
    pub fn require_exists(mut self, key: impl Into<String>) -> Self {
        self.preconditions.push(Precondition::Exists(key.into()));
        self
    }

    /// Requires `key` to be at `revision`
    #[must_use]
    pub fn require_revision(mut self, key: impl Into<String>, revision: u64) -> Self {
        self.preconditions
            .push(Precondition::Revision(key.into(), revision));
        self
    }

    /// Puts `key`
    #[must_use]
    pub fn put(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.mutations.push(Mutation::Put(key.into(), value.into()));
        self
    }

    /// Deletes `key`
    #[must_use]
    pub fn delete(mut self, key: impl Into<String>) -> Self {
        self.mutations.push(Mutation::Delete(key.into()));
        self
    }

    /// Rejects what neither backend can apply: no mutations, too many, a key twice, oversize
    /// keys or values
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.mutations.is_empty() {
            return Err(StoreError::Invalid("a transaction needs a mutation".into()));
        }
        if self.mutations.len() > MAX_TXN_OPS {
            return Err(StoreError::Invalid(format!(
                "a transaction may change at most {MAX_TXN_OPS} keys"
            )));
        }
        let mut keys: Vec<&str> = self.mutations.iter().map(Mutation::key).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(StoreError::Invalid(
                "a transaction may change each key once".into(),
            ));
        }
        for key in keys
            .iter()
            .copied()
            .chain(self.preconditions.iter().map(Precondition::key))
        {
            check_key(key)?;
        }
        for mutation in &self.mutations {
            if let Mutation::Put(_, value) = mutation
                && value.len() > MAX_VALUE_BYTES
            {
                return Err(StoreError::Invalid(format!(
                    "values are limited to {MAX_VALUE_BYTES} bytes"
                )));
            }
        }
        Ok(())
    }
}

pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(StoreError::Invalid(format!(
            "keys must be 1 to {MAX_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

/// A change the feed reports
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Event {
    /// A key was created or replaced
    Put(Entry),
    /// A key was removed
    Delete {
        /// The key
        key: String,
        /// The revision of the deletion
        revision: u64,
    },
}

impl Event {
    /// The key the event is about
    pub fn key(&self) -> &str {
        match self {
            Event::Put(entry) => &entry.key,
            Event::Delete { key, .. } => key,
        }
    }

    /// The revision of the change
    pub fn revision(&self) -> u64 {
        match self {
            Event::Put(entry) => entry.mod_revision,
            Event::Delete { revision, .. } => *revision,
        }
    }
}

/// A change feed: events in revision order
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Event, StoreError>> + Send>>;

/// What can go wrong in a store
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A precondition did not hold; nothing was changed
    #[error("the store changed underneath the request (precondition failed)")]
    Conflict,
    /// The feed cannot resume that far back
    #[error("changes before revision {0} are no longer kept; re-list and watch from now")]
    Compacted(u64),
    /// A watcher fell too far behind the live feed
    #[error("the watcher fell behind the change feed; re-list and watch again")]
    Lagged,
    /// The backend cannot be reached or failed
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Stored data does not have the expected shape
    #[error("the store holds corrupt data: {0}")]
    Corrupt(String),
    /// The request cannot be applied by any backend
    #[error("invalid store request: {0}")]
    Invalid(String),
}

/// The contract every backend implements
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Which backend this is, for logs (`embedded`, `etcd`)
    fn backend(&self) -> &'static str;

    /// Reads one key
    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError>;

    /// Lists up to `limit` keys starting with `prefix`, in key order, after `start_after`
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError>;

    /// Applies a transaction atomically and durably; returns the new store revision
    async fn commit(&self, txn: Txn) -> Result<u64, StoreError>;

    /// The store's current revision
    async fn revision(&self) -> Result<u64, StoreError>;

    /// Changes to keys under `prefix` with revisions after `after` (or from now)
    async fn watch(&self, prefix: &str, after: Option<u64>) -> Result<WatchStream, StoreError>;

    /// Creates `key`; fails with [`StoreError::Conflict`] if it exists
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<u64, StoreError> {
        self.commit(Txn::new().require_absent(key).put(key, value))
            .await
    }

    /// Replaces `key` if it is still at `revision` (compare-and-swap)
    async fn update(&self, key: &str, value: Vec<u8>, revision: u64) -> Result<u64, StoreError> {
        self.commit(Txn::new().require_revision(key, revision).put(key, value))
            .await
    }

    /// Deletes `key`, only if it is at `revision` when one is given
    async fn delete(&self, key: &str, revision: Option<u64>) -> Result<u64, StoreError> {
        let txn = match revision {
            Some(r) => Txn::new().require_revision(key, r),
            None => Txn::new().require_exists(key),
        };
        self.commit(txn.delete(key)).await
    }

    /// Every key under `prefix`, following pages
    async fn list_all(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.list(prefix, after.as_deref(), 1000).await?;
            let next = page.next_start().map(str::to_owned);
            out.extend(page.entries);
            match next {
                Some(n) => after = Some(n),
                None => return Ok(out),
            }
        }
    }
}
