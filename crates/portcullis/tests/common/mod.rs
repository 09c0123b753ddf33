//! Helpers shared by the integration tests.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test helpers; each test binary uses a different subset"
)]

pub(crate) mod kubectl;
pub(crate) mod registry;

use std::path::Path;

use portcullis_testing::{ApiClient, Server, ServerOptions};

/// The binary under test
pub(crate) fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_portcullis"))
}

/// A server on the embedded store
pub(crate) fn server() -> Server {
    Server::start(binary(), ServerOptions::default())
}

/// A server on a shared etcd, under its own prefix
pub(crate) fn etcd_server(test: &str) -> Server {
    let etcd = portcullis_testing::Etcd::shared();
    Server::start(
        binary(),
        ServerOptions {
            etcd: Some((
                etcd.endpoint().to_owned(),
                format!("/{}", portcullis_testing::unique_prefix(test)),
            )),
            args: Vec::new(),
            wrapper: Vec::new(),
        },
    )
}

/// Creates a group and returns its OCID
pub(crate) async fn create_group(admin: &ApiClient, tenancy: &str, name: &str) -> String {
    let reply = admin
        .send(
            "POST",
            "/20160918/groups",
            Some(
                serde_json::json!({"compartmentId": tenancy, "name": name, "description": "test"}),
            ),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.field("id")
}

/// Creates a cluster through our CLI and returns its OCID
pub(crate) fn create_cluster(server: &Server, name: &str) -> String {
    create_cluster_with(server, name, &[])
}

/// Creates a cluster with extra `ce cluster create` arguments (`--kms-key-id K`)
pub(crate) fn create_cluster_with(server: &Server, name: &str, extra: &[&str]) -> String {
    let out = std::process::Command::new(binary())
        .arg("--config-file")
        .arg(server.config_file())
        .args([
            "ce",
            "cluster",
            "create",
            "--compartment-id",
            &server.tenancy(),
            "--name",
            name,
            "--kubernetes-version",
            "v1.32.1",
            "--wait-for-state",
            "SUCCEEDED",
        ])
        .args(extra)
        .output()
        .expect("portcullis runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let work: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    work["data"]["resources"][0]["identifier"]
        .as_str()
        .expect("a cluster id")
        .to_owned()
}

/// Sends an API request that must succeed; returns its body
pub(crate) async fn ok(
    api: &ApiClient,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let reply = api.send(method, path, body).await;
    assert!(
        reply.status < 300,
        "{method} {path}: {} {}",
        reply.status,
        reply.body
    );
    reply.body
}
