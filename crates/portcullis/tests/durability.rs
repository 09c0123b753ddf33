//! Crash safety: SIGKILL the server during a burst of writes, restart it, and find every
//! write it acknowledged.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_testing::Server;

async fn burst_then_kill(mut server: Server) {
    let tenancy = server.tenancy();
    let admin = Arc::new(server.admin());
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let mut writers = Vec::new();
    for writer in 0..8 {
        let admin = admin.clone();
        let acknowledged = acknowledged.clone();
        let tenancy = tenancy.clone();
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let name = format!("crash-{writer}-{n}");
                let body = serde_json::json!({"compartmentId": tenancy, "name": name, "description": "burst"});
                let Ok(Ok(reply)) = tokio::time::timeout(
                    Duration::from_secs(10),
                    admin.try_send_raw(
                        "POST",
                        "/20160918/groups",
                        Some(serde_json::to_vec(&body).unwrap()),
                        &[],
                    ),
                )
                .await
                else {
                    // The server is gone.
                    return;
                };
                if reply.status == 200 {
                    acknowledged.lock().unwrap().insert(name);
                }
            }
        }));
    }
    // Let the burst run, then crash mid-flight.
    while acknowledged.lock().unwrap().len() < 200 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    for w in writers {
        w.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 200);

    server.restart();
    let admin = server.admin();
    let mut present = BTreeSet::new();
    let mut page: Option<String> = None;
    loop {
        let mut path = format!("/20160918/groups?compartmentId={tenancy}&limit=1000");
        if let Some(p) = &page {
            path.push_str(&format!("&page={p}"));
        }
        let reply = admin.send("GET", &path, None).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        for g in reply.body.as_array().unwrap() {
            present.insert(g["name"].as_str().unwrap().to_owned());
        }
        match reply.header("opc-next-page") {
            Some(p) => page = Some(p.to_owned()),
            None => break,
        }
    }
    let lost: Vec<_> = acknowledged.difference(&present).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but lost after SIGKILL: {lost:?}"
    );
    // And the store works: new writes succeed after recovery.
    common::create_group(&admin, &tenancy, "after-crash").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_loses_no_acknowledged_write_embedded() {
    burst_then_kill(common::server()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_loses_no_acknowledged_write_etcd() {
    burst_then_kill(common::etcd_server("durability")).await;
}
