//! Authorization webhook benchmark: SubjectAccessReviews per second through HTTPS with 64
//! connections over loopback (p50, p99), in a cluster holding 1,000 roles and 1,000
//! bindings; and the in-process cost of the webhook's decision (IAM's half).
//!
//! `cargo bench -p portcullis --bench webhook_authorize`. `BENCH_SECONDS` sets the load
//! duration (default 10).

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

use serde_json::{Value, json};
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
        ..
    } = support::setup().await;
    let admin = server.admin();
    let user = server.config_value("user");
    let base = format!("{}/clusters/{cluster}", server.endpoint());
    let http = client(&server);
    let post = |path: String, body: Value| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            let status = http
                .post(path)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status();
            assert!(status.is_success(), "{status}");
        }
    };
    // 1,000 roles and 1,000 bindings, written through the API (the admin binds themself to
    // cluster-admin first, as OKE's procedure has it).
    post(
        format!("{base}/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"),
        json!({"metadata": {"name": "admin"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}]}),
    )
    .await;
    let started = Instant::now();
    for i in 0..500 {
        post(
            format!("{base}/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles"),
            json!({"metadata": {"name": format!("r{i}")}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}),
        )
        .await;
        post(
            format!("{base}/apis/rbac.authorization.k8s.io/v1/clusterroles"),
            json!({"metadata": {"name": format!("cr{i}")}, "rules": [{"apiGroups": ["example.com"], "resources": [format!("w{i}")], "verbs": ["get"]}]}),
        )
        .await;
        post(
            format!("{base}/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings"),
            json!({"metadata": {"name": format!("rb{i}")}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": format!("r{i}")},
                   "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": format!("user{i}")}]}),
        )
        .await;
        post(
            format!("{base}/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"),
            json!({"metadata": {"name": format!("crb{i}")}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("cr{i}")},
                   "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": format!("group{i}")}]}),
        )
        .await;
    }
    let setup = started.elapsed();
    let attach = admin
        .send(
            "POST",
            &format!("/20180222/clusters/{cluster}/actions/attach"),
            None,
        )
        .await;
    let credential = Arc::new(attach.body["token"].as_str().unwrap().to_owned());
    let url = Arc::new(attach.body["authorizeUrl"].as_str().unwrap().to_owned());
    // The admin's groups, as the TokenReview webhook reports them
    let review: Value = http
        .post(attach.body["authenticateUrl"].as_str().unwrap())
        .bearer_auth(credential.as_str())
        .json(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let groups = review["status"]["user"]["groups"].clone();
    // Half the reviews are allowed by IAM, half get no opinion.
    let allowed = Arc::new(
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}, "user": user, "groups": groups}}),
    );
    let unknown = Arc::new(
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}, "user": "user7", "groups": ["group7", "system:authenticated"]}}),
    );

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for worker in 0..64 {
        let (http, url, credential) = (client(&server), url.clone(), credential.clone());
        let body = if worker % 2 == 0 {
            allowed.clone()
        } else {
            unknown.clone()
        };
        let expect = worker % 2 == 0;
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for _ in 0..10 {
                let _ = http
                    .post(url.as_str())
                    .bearer_auth(credential.as_str())
                    .json(&*body)
                    .send()
                    .await;
            }
            while Instant::now() < deadline {
                let started = Instant::now();
                let response = http
                    .post(url.as_str())
                    .bearer_auth(credential.as_str())
                    .json(&*body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let answer: Value = response.json().await.unwrap();
                assert_eq!(answer["status"]["allowed"], expect);
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
    println!(
        "## Authorization webhook: SubjectAccessReview, 64 connections, loopback, {seconds} s"
    );
    println!(
        "(cluster with 1,000 roles and 1,000 bindings, written in {:.1} s)",
        setup.as_secs_f64()
    );
    println!();
    println!("| reviews | reviews/s | p50 | p99 |");
    println!("|---:|---:|---:|---:|");
    println!(
        "| {} | {:.0} | {:.2} ms | {:.2} ms |",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );
}
