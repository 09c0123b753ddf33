//! The embedded backend: one redb file.
//!
//! redb is a copy-on-write B-tree with ACID transactions; with `Durability::Immediate` (its
//! default) a commit returns only after the data is fsynced, so an acknowledged write survives
//! a crash, and a file cut short by a crash opens at its last committed state. Each commit
//! bumps a store-wide revision and appends its changes to an event log that the change feed
//! replays; live watchers are fed from a broadcast channel.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt as _;
use redb::{Database, ReadableDatabase as _, ReadableTable, TableDefinition};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::{Entry, Event, Mutation, Page, Precondition, Store, StoreError, Txn, WatchStream};

/// key → (create revision, mod revision, value)
const KV: TableDefinition<&str, (u64, u64, &[u8])> = TableDefinition::new("kv");
/// (revision, index in the commit) → (key, deleted, value)
const EVENTS: TableDefinition<(u64, u32), (&str, bool, &[u8])> = TableDefinition::new("events");
/// "revision" → current revision; "compacted" → oldest revision still in EVENTS
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// How many revisions of history the change feed keeps
const HISTORY: u64 = 20_000;

/// Capacity of the live-event channel, in commits
const LIVE_CAPACITY: usize = 4096;

/// The embedded redb backend
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    live: broadcast::Sender<Arc<Vec<Event>>>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore").finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl EmbeddedStore {
    /// Opens (or creates) the database file at `path`, recovering it if the last process
    /// crashed
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(unavailable)?;
        {
            let txn = db.begin_write().map_err(unavailable)?;
            {
                txn.open_table(KV).map_err(unavailable)?;
                txn.open_table(EVENTS).map_err(unavailable)?;
                txn.open_table(META).map_err(unavailable)?;
            }
            txn.commit().map_err(unavailable)?;
        }
        let (live, _) = broadcast::channel(LIVE_CAPACITY);
        Ok(EmbeddedStore {
            db: Arc::new(db),
            live,
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(unavailable)?
    }
}

fn read_revision(db: &Database) -> Result<u64, StoreError> {
    let txn = db.begin_read().map_err(unavailable)?;
    let meta = txn.open_table(META).map_err(unavailable)?;
    Ok(meta
        .get("revision")
        .map_err(unavailable)?
        .map_or(0, |v| v.value()))
}

fn apply(db: &Database, txn: &Txn) -> Result<(u64, Vec<Event>), StoreError> {
    let write = db.begin_write().map_err(unavailable)?;
    let (revision, events) = {
        let mut kv = write.open_table(KV).map_err(unavailable)?;
        let mut meta = write.open_table(META).map_err(unavailable)?;
        let mut log = write.open_table(EVENTS).map_err(unavailable)?;
        for precondition in &txn.preconditions {
            let current = match precondition {
                Precondition::Absent(k)
                | Precondition::Exists(k)
                | Precondition::Revision(k, _) => kv
                    .get(k.as_str())
                    .map_err(unavailable)?
                    .map(|v| v.value().1),
            };
            let holds = match precondition {
                Precondition::Absent(_) => current.is_none(),
                Precondition::Exists(_) => current.is_some(),
                Precondition::Revision(_, r) => current == Some(*r),
            };
            if !holds {
                // Dropping the write transaction without committing aborts it.
                return Err(StoreError::Conflict);
            }
        }
        let revision = meta
            .get("revision")
            .map_err(unavailable)?
            .map_or(0, |v| v.value())
            + 1;
        let mut events = Vec::with_capacity(txn.mutations.len());
        for (index, mutation) in txn.mutations.iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            match mutation {
                Mutation::Put(key, value) => {
                    let created = kv
                        .get(key.as_str())
                        .map_err(unavailable)?
                        .map_or(revision, |v| v.value().0);
                    kv.insert(key.as_str(), (created, revision, value.as_slice()))
                        .map_err(unavailable)?;
                    log.insert((revision, index), (key.as_str(), false, value.as_slice()))
                        .map_err(unavailable)?;
                    events.push(Event::Put(Entry {
                        key: key.clone(),
                        value: value.clone(),
                        create_revision: created,
                        mod_revision: revision,
                    }));
                }
                Mutation::Delete(key) => {
                    let existed = kv.remove(key.as_str()).map_err(unavailable)?.is_some();
                    if existed {
                        log.insert((revision, index), (key.as_str(), true, &[][..]))
                            .map_err(unavailable)?;
                        events.push(Event::Delete {
                            key: key.clone(),
                            revision,
                        });
                    }
                }
            }
        }
        meta.insert("revision", revision).map_err(unavailable)?;
        if revision % 1000 == 0 && revision > HISTORY {
            let cut = revision - HISTORY;
            log.retain_in(..(cut, 0), |_, _| false)
                .map_err(unavailable)?;
            meta.insert("compacted", cut).map_err(unavailable)?;
        }
        (revision, events)
    };
    write.commit().map_err(unavailable)?;
    Ok((revision, events))
}

fn history(db: &Database, prefix: &str, after: u64) -> Result<(u64, Vec<Event>), StoreError> {
    let txn = db.begin_read().map_err(unavailable)?;
    let meta = txn.open_table(META).map_err(unavailable)?;
    let current = meta
        .get("revision")
        .map_err(unavailable)?
        .map_or(0, |v| v.value());
    let compacted = meta
        .get("compacted")
        .map_err(unavailable)?
        .map_or(0, |v| v.value());
    if after + 1 < compacted {
        return Err(StoreError::Compacted(compacted));
    }
    let log = txn.open_table(EVENTS).map_err(unavailable)?;
    let kv = txn.open_table(KV).map_err(unavailable)?;
    let mut events = Vec::new();
    for row in log
        .range((Bound::Excluded((after, u32::MAX)), Bound::Unbounded))
        .map_err(unavailable)?
    {
        let (k, v) = row.map_err(unavailable)?;
        let (revision, _) = k.value();
        let (key, deleted, value) = v.value();
        if !key.starts_with(prefix) {
            continue;
        }
        events.push(if deleted {
            Event::Delete {
                key: key.to_owned(),
                revision,
            }
        } else {
            // The create revision is not logged; the current row has it unless the key was
            // deleted and recreated since, in which case this revision is the best answer.
            let created = kv
                .get(key)
                .map_err(unavailable)?
                .map(|v| v.value().0)
                .filter(|c| *c <= revision)
                .unwrap_or(revision);
            Event::Put(Entry {
                key: key.to_owned(),
                value: value.to_vec(),
                create_revision: created,
                mod_revision: revision,
            })
        });
    }
    Ok((current, events))
}

#[async_trait]
impl Store for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        crate::check_key(key)?;
        let key = key.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let kv = txn.open_table(KV).map_err(unavailable)?;
            Ok(kv.get(key.as_str()).map_err(unavailable)?.map(|v| {
                let (created, modified, value) = v.value();
                Entry {
                    key: key.clone(),
                    value: value.to_vec(),
                    create_revision: created,
                    mod_revision: modified,
                }
            }))
        })
        .await
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let prefix = prefix.to_owned();
        let start = start_after.map(str::to_owned);
        let limit = limit.clamp(1, 10_000);
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let kv = txn.open_table(KV).map_err(unavailable)?;
            let lower = match &start {
                Some(s) if s.as_str() >= prefix.as_str() => Bound::Excluded(s.as_str()),
                _ => Bound::Included(prefix.as_str()),
            };
            let mut page = Page::default();
            for row in kv
                .range::<&str>((lower, Bound::Unbounded))
                .map_err(unavailable)?
            {
                let (k, v) = row.map_err(unavailable)?;
                let key = k.value();
                if !key.starts_with(prefix.as_str()) {
                    break;
                }
                if page.entries.len() == limit {
                    page.more = true;
                    break;
                }
                let (created, modified, value) = v.value();
                page.entries.push(Entry {
                    key: key.to_owned(),
                    value: value.to_vec(),
                    create_revision: created,
                    mod_revision: modified,
                });
            }
            Ok(page)
        })
        .await
    }

    async fn commit(&self, txn: Txn) -> Result<u64, StoreError> {
        txn.validate()?;
        let (revision, events) = self.blocking(move |db| apply(db, &txn)).await?;
        if !events.is_empty() {
            // No receivers is fine: nobody is watching.
            let _ = self.live.send(Arc::new(events));
        }
        Ok(revision)
    }

    async fn revision(&self) -> Result<u64, StoreError> {
        self.blocking(read_revision).await
    }

    async fn watch(&self, prefix: &str, after: Option<u64>) -> Result<WatchStream, StoreError> {
        // Subscribe before reading history so no commit falls between the two.
        let live = BroadcastStream::new(self.live.subscribe());
        let owned_prefix = prefix.to_owned();
        let (current, past) = match after {
            Some(after) => {
                let prefix = owned_prefix.clone();
                self.blocking(move |db| history(db, &prefix, after)).await?
            }
            None => (self.revision().await?, Vec::new()),
        };
        let seen = past.last().map_or(current, |e| e.revision().max(current));
        let live = live.flat_map(move |batch| {
            let events: Vec<Result<Event, StoreError>> = match batch {
                Ok(events) => events
                    .iter()
                    .filter(|e| e.revision() > seen && e.key().starts_with(&owned_prefix))
                    .cloned()
                    .map(Ok)
                    .collect(),
                Err(BroadcastStreamRecvError::Lagged(_)) => vec![Err(StoreError::Lagged)],
            };
            futures::stream::iter(events)
        });
        Ok(Box::pin(
            futures::stream::iter(past.into_iter().map(Ok)).chain(live),
        ))
    }
}
