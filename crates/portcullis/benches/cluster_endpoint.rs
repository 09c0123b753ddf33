//! Cluster endpoint benchmark: authenticated `GET` of one Secret with 32 connections over
//! loopback (requests/s, p50, p99), and the cost of verifying one OKE user token.
//!
//! `cargo bench -p portcullis --bench cluster_endpoint` (release build of the server too).
//! `BENCH_SECONDS` sets the load duration (default 10).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark driver: a panic is a failed run"
)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{client, percentile};

fn main() {
    support::run(run());
}

async fn run() {
    let seconds = support::seconds();
    let support::Setup {
        server,
        cluster,
        token,
        signer,
        key,
    } = support::setup().await;
    let admin = server.admin();
    let base = format!("{}/clusters/{cluster}", server.endpoint());
    let http = admin.http().clone();
    let create = http
        .post(format!("{base}/api/v1/namespaces/default/secrets"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"metadata": {"name": "bench"}, "stringData": {"password": "hunter2"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 201);
    let url = Arc::new(format!("{base}/api/v1/namespaces/default/secrets/bench"));
    let token = Arc::new(token);

    // Warm up, then 32 connections for the measured period.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for _ in 0..32 {
        let (http, url, token) = (client(&server), url.clone(), token.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for _ in 0..20 {
                let _ = http
                    .get(url.as_str())
                    .bearer_auth(token.as_str())
                    .send()
                    .await;
            }
            while Instant::now() < deadline {
                let started = Instant::now();
                let response = http
                    .get(url.as_str())
                    .bearer_auth(token.as_str())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let _ = response.bytes().await.unwrap();
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!("## Cluster endpoint: GET one Secret, 32 connections, loopback, {seconds} s");
    println!();
    println!("| requests | requests/s | p50 | p99 |");
    println!("|---:|---:|---:|---:|");
    println!(
        "| {} | {:.0} | {:.2} ms | {:.2} ms |",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );

    // Verifying one OKE user token in-process: decode, freshness, and the RSA signature.
    let public = portcullis_auth::ApiPrivateKey::from_pem(&key)
        .unwrap()
        .public_key()
        .unwrap();
    let fresh = portcullis_containerengine::generate_token(
        &signer,
        &cluster,
        "us-ashburn-1",
        jiff::Timestamp::now(),
    )
    .unwrap();
    let rounds = 20_000;
    let started = Instant::now();
    for _ in 0..rounds {
        let (header, _, signing) = portcullis_containerengine::token::prepare_token(
            std::hint::black_box(&fresh),
            &cluster,
            "us-ashburn-1",
            jiff::Timestamp::now(),
        )
        .unwrap();
        assert!(public.verify(signing.as_bytes(), &header.signature));
    }
    let per = started.elapsed() / rounds;
    println!();
    println!(
        "## Verifying one OKE user token (decode, checks, RSA-2048 signature): {:.1} µs",
        per.as_secs_f64() * 1e6
    );
}
