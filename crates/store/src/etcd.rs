//! The etcd v3 backend, over gRPC.
//!
//! Keys live under a prefix (`/portcullis/` by default) so Portcullis can share an etcd
//! cluster. Preconditions map to etcd `Txn` compares (version 0 for "absent", `mod_revision`
//! for compare-and-swap), revisions are etcd's own, and the change feed is an etcd watch.

use async_trait::async_trait;
use futures::StreamExt as _;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

use crate::{Entry, Event, Mutation, Page, Precondition, Store, StoreError, Txn, WatchStream};

#[allow(
    clippy::all,
    clippy::allow_attributes_without_reason,
    clippy::pedantic,
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    reason = "generated protobuf and gRPC code"
)]
mod pb {
    tonic::include_proto!("etcdserverpb");
}

use pb::compare::{CompareResult, CompareTarget, TargetUnion};
use pb::kv_client::KvClient;
use pb::request_op::Request;
use pb::watch_client::WatchClient;
use pb::watch_request::RequestUnion;

/// The etcd v3 backend
#[derive(Clone, Debug)]
pub struct EtcdStore {
    channel: Channel,
    prefix: String,
}

fn unavailable(status: tonic::Status) -> StoreError {
    StoreError::Unavailable(format!("etcd: {}", status.message()))
}

/// The smallest key greater than every key starting with `prefix` (etcd's `range_end`)
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte was 0xff: the range is open-ended.
    vec![0]
}

impl EtcdStore {
    /// Connects to the given endpoints (`http://127.0.0.1:2379`) and checks that etcd answers
    pub async fn connect(endpoints: &[String], prefix: &str) -> Result<Self, StoreError> {
        let endpoints: Vec<Endpoint> = endpoints
            .iter()
            .map(|e| {
                Endpoint::from_shared(e.clone())
                    .map(|e| {
                        e.connect_timeout(std::time::Duration::from_secs(5))
                            .tcp_nodelay(true)
                    })
                    .map_err(|err| {
                        StoreError::Unavailable(format!("bad etcd endpoint `{e}`: {err}"))
                    })
            })
            .collect::<Result<_, _>>()?;
        if endpoints.is_empty() {
            return Err(StoreError::Unavailable("no etcd endpoints given".into()));
        }
        let channel = Channel::balance_list(endpoints.into_iter());
        let store = EtcdStore {
            channel,
            prefix: prefix.to_owned(),
        };
        // Fail fast with a clear message rather than on the first request.
        tokio::time::timeout(std::time::Duration::from_secs(10), store.revision())
            .await
            .map_err(|_| StoreError::Unavailable("etcd did not answer within 10 s".into()))??;
        Ok(store)
    }

    fn full_key(&self, key: &str) -> Vec<u8> {
        format!("{}{}", self.prefix, key).into_bytes()
    }

    fn entry(&self, kv: pb::KeyValue) -> Result<Entry, StoreError> {
        let key = String::from_utf8(kv.key)
            .map_err(|_| StoreError::Corrupt("a key is not UTF-8".into()))?;
        let key = key
            .strip_prefix(&self.prefix)
            .ok_or_else(|| StoreError::Corrupt("a key is outside the prefix".into()))?
            .to_owned();
        Ok(Entry {
            key,
            value: kv.value,
            create_revision: u64::try_from(kv.create_revision).unwrap_or(0),
            mod_revision: u64::try_from(kv.mod_revision).unwrap_or(0),
        })
    }

    fn kv(&self) -> KvClient<Channel> {
        KvClient::new(self.channel.clone())
    }
}

fn compare(
    key: Vec<u8>,
    result: CompareResult,
    target: CompareTarget,
    value: TargetUnion,
) -> pb::Compare {
    pb::Compare {
        result: result.into(),
        target: target.into(),
        key,
        target_union: Some(value),
    }
}

#[async_trait]
impl Store for EtcdStore {
    fn backend(&self) -> &'static str {
        "etcd"
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        crate::check_key(key)?;
        let response = self
            .kv()
            .range(pb::RangeRequest {
                key: self.full_key(key),
                ..Default::default()
            })
            .await
            .map_err(unavailable)?
            .into_inner();
        response
            .kvs
            .into_iter()
            .next()
            .map(|kv| self.entry(kv))
            .transpose()
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let full_prefix = self.full_key(prefix);
        let start = match start_after {
            Some(after) if after >= prefix => {
                let mut k = self.full_key(after);
                // The smallest key after `after`.
                k.push(0);
                k
            }
            _ => full_prefix.clone(),
        };
        let limit = limit.clamp(1, 10_000);
        let response = self
            .kv()
            .range(pb::RangeRequest {
                key: start,
                range_end: prefix_end(&full_prefix),
                limit: i64::try_from(limit).unwrap_or(1000),
                // ASCEND by KEY
                sort_order: 1,
                sort_target: 0,
                ..Default::default()
            })
            .await
            .map_err(unavailable)?
            .into_inner();
        Ok(Page {
            entries: response
                .kvs
                .into_iter()
                .map(|kv| self.entry(kv))
                .collect::<Result<_, _>>()?,
            more: response.more,
        })
    }

    async fn commit(&self, txn: Txn) -> Result<u64, StoreError> {
        txn.validate()?;
        let compares = txn
            .preconditions
            .iter()
            .map(|p| match p {
                Precondition::Absent(k) => compare(
                    self.full_key(k),
                    CompareResult::Equal,
                    CompareTarget::Version,
                    TargetUnion::Version(0),
                ),
                Precondition::Exists(k) => compare(
                    self.full_key(k),
                    CompareResult::Greater,
                    CompareTarget::Version,
                    TargetUnion::Version(0),
                ),
                Precondition::Revision(k, r) => compare(
                    self.full_key(k),
                    CompareResult::Equal,
                    CompareTarget::Mod,
                    TargetUnion::ModRevision(i64::try_from(*r).unwrap_or(i64::MAX)),
                ),
            })
            .collect();
        let success = txn
            .mutations
            .iter()
            .map(|m| pb::RequestOp {
                request: Some(match m {
                    Mutation::Put(k, v) => Request::RequestPut(pb::PutRequest {
                        key: self.full_key(k),
                        value: v.clone(),
                        ..Default::default()
                    }),
                    Mutation::Delete(k) => Request::RequestDeleteRange(pb::DeleteRangeRequest {
                        key: self.full_key(k),
                        ..Default::default()
                    }),
                }),
            })
            .collect();
        let response = self
            .kv()
            .txn(pb::TxnRequest {
                compare: compares,
                success,
                failure: Vec::new(),
            })
            .await
            .map_err(unavailable)?
            .into_inner();
        if !response.succeeded {
            return Err(StoreError::Conflict);
        }
        Ok(response
            .header
            .and_then(|h| u64::try_from(h.revision).ok())
            .unwrap_or(0))
    }

    async fn revision(&self) -> Result<u64, StoreError> {
        let response = self
            .kv()
            .range(pb::RangeRequest {
                key: self.full_key("\u{0}"),
                count_only: true,
                ..Default::default()
            })
            .await
            .map_err(unavailable)?
            .into_inner();
        Ok(response
            .header
            .and_then(|h| u64::try_from(h.revision).ok())
            .unwrap_or(0))
    }

    async fn watch(&self, prefix: &str, after: Option<u64>) -> Result<WatchStream, StoreError> {
        let full_prefix = self.full_key(prefix);
        let (requests, rx) = mpsc::channel(1);
        let create = pb::WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(pb::WatchCreateRequest {
                range_end: prefix_end(&full_prefix),
                key: full_prefix,
                start_revision: after
                    .map(|a| i64::try_from(a.saturating_add(1)).unwrap_or(i64::MAX))
                    .unwrap_or(0),
                ..Default::default()
            })),
        };
        requests
            .send(create)
            .await
            .map_err(|_| StoreError::Unavailable("etcd watch closed".into()))?;
        let responses = WatchClient::new(self.channel.clone())
            .watch(ReceiverStream::new(rx))
            .await
            .map_err(unavailable)?
            .into_inner();
        let store = self.clone();
        let stream = responses.flat_map(move |response| {
            // The request sender lives as long as the stream: dropping it would end the watch.
            let _keep_open = &requests;
            let events: Vec<Result<Event, StoreError>> = match response {
                Err(status) => vec![Err(unavailable(status))],
                Ok(r) if r.canceled && r.compact_revision > 0 => vec![Err(StoreError::Compacted(
                    u64::try_from(r.compact_revision).unwrap_or(0),
                ))],
                Ok(r) if r.canceled => vec![Err(StoreError::Unavailable(format!(
                    "etcd cancelled the watch: {}",
                    r.cancel_reason
                )))],
                Ok(r) => r
                    .events
                    .into_iter()
                    .filter_map(|e| {
                        let deleted = e.r#type == i32::from(pb::event::EventType::Delete);
                        let kv = e.kv?;
                        Some(store.entry(kv).map(|entry| {
                            if deleted {
                                Event::Delete {
                                    key: entry.key,
                                    revision: entry.mod_revision,
                                }
                            } else {
                                Event::Put(entry)
                            }
                        }))
                    })
                    .collect(),
            };
            futures::stream::iter(events)
        });
        Ok(Box::pin(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"abc"), b"abd");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
    }
}
