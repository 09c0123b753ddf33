//! What the benchmark drivers share: a server with one cluster, the admin's OKE token for
//! it, an HTTPS client trusting the server's CA, and percentiles.

#![allow(dead_code, reason = "each benchmark uses a different part")]

use std::path::Path;
use std::time::Duration;

use portcullis_testing::{Server, ServerOptions};

/// A running server with one active cluster
pub(crate) struct Setup {
    /// The server (stopped when dropped)
    pub(crate) server: Server,
    /// The cluster's OCID
    pub(crate) cluster: String,
    /// An OKE user token of the admin for the cluster (valid five minutes)
    pub(crate) token: String,
    /// The admin's request signer
    pub(crate) signer: portcullis_auth::RequestSigner,
    /// The admin's private key (PEM)
    pub(crate) key: String,
}

/// Starts the release server and creates a cluster
pub(crate) async fn setup() -> Setup {
    let server = Server::start(
        Path::new(env!("CARGO_BIN_EXE_portcullis")),
        ServerOptions::default(),
    );
    let admin = server.admin();
    let tenancy = server.tenancy();
    let cluster = create_cluster(
        &admin,
        serde_json::json!({"compartmentId": tenancy, "name": "bench", "kubernetesVersion": "v1.32.1"}),
    )
    .await;
    let key = std::fs::read_to_string(server.config_value("key_file")).unwrap();
    let signer = portcullis_auth::RequestSigner::new(
        &tenancy,
        &server.config_value("user"),
        &server.config_value("fingerprint"),
        portcullis_auth::ApiPrivateKey::from_pem(&key).unwrap(),
    );
    let token = portcullis_containerengine::generate_token(
        &signer,
        &cluster,
        "us-ashburn-1",
        jiff::Timestamp::now(),
    )
    .unwrap();
    Setup {
        server,
        cluster,
        token,
        signer,
        key,
    }
}

/// An HTTP/1.1 client trusting the server's CA, one connection per client
/// Creates a cluster from `details` and returns its OCID (from the work request)
pub(crate) async fn create_cluster(
    admin: &portcullis_testing::ApiClient,
    details: serde_json::Value,
) -> String {
    let created = admin
        .send("POST", "/20180222/clusters", Some(details))
        .await;
    assert_eq!(created.status, 202, "{}", created.body);
    let work = created.header("opc-work-request-id").unwrap().to_owned();
    admin
        .send("GET", &format!("/20180222/workRequests/{work}"), None)
        .await
        .body["resources"][0]["identifier"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) fn client(server: &Server) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only(
            reqwest::Certificate::from_pem_bundle(&std::fs::read(server.ca_bundle()).unwrap())
                .unwrap(),
        )
        .no_proxy()
        .http1_only()
        .build()
        .unwrap()
}

/// `BENCH_SECONDS`, or 10
pub(crate) fn seconds() -> u64 {
    std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

/// The `p` quantile of sorted latencies
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Runs an async driver on a multi-threaded runtime
pub(crate) fn run<F: std::future::Future<Output = ()>>(driver: F) {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(driver);
}
