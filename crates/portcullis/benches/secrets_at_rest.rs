//! Secrets at rest benchmark.
//!
//! 1. Envelope encryption in-process (a fresh data key per Secret, wrapped by an AES-256
//!    master key, then AES-256-GCM over the object), for 1 KiB and 1 MiB Secrets, beside
//!    the AES-256-GCM limit `openssl speed -evp aes-256-gcm` measures on the same machine.
//! 2. Through the server (HTTPS, one connection): creating and reading a 1 KiB Secret,
//!    which is encrypted at rest, against the same for a ConfigMap of the same size, which
//!    is not: the overhead ratio of encryption on the whole request. Run for a cluster on a
//!    platform-managed key and one on a customer-managed key (IAM-authorized per use).
//!
//! `cargo bench -p portcullis --bench secrets_at_rest`; `BENCH_SECONDS` bounds each phase.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark driver: a panic is a failed run"
)]

mod support;

use std::time::{Duration, Instant};

use portcullis_kms::crypto;
use portcullis_kms::envelope::{self, DataKey};
use portcullis_kms::{KeyMaterial, KeyShape};
use support::{client, percentile};

fn main() {
    envelope_throughput();
    support::run(through_the_server());
}

fn envelope_throughput() {
    let master = KeyMaterial::generate(KeyShape::AES_256).unwrap();
    println!(
        "envelope encryption, one thread (seal = new DEK + wrap + AES-256-GCM; open = unwrap + AES-256-GCM)"
    );
    for size in [1024usize, 1024 * 1024] {
        let object = vec![0x5au8; size];
        let rounds = if size == 1024 { 100_000 } else { 400 };
        let seal = || {
            let dek = DataKey::generate().unwrap();
            let (wrapped, _) = crypto::encrypt(
                &master,
                "ocid1.keyversion.oc1..bench",
                dek.as_bytes(),
                None,
                None,
            )
            .unwrap();
            envelope::seal(
                "portcullis",
                "k8s/c/core/secrets/default/s",
                &object,
                &dek,
                wrapped,
                "ocid1.keyversion.oc1..bench".into(),
            )
            .unwrap()
        };
        let sealed = seal();
        let started = Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(seal());
        }
        let seal_time = started.elapsed();
        let started = Instant::now();
        for _ in 0..rounds {
            let parsed = envelope::parse("portcullis", &sealed).unwrap();
            let (dek, _) = crypto::decrypt(
                &master,
                &parsed.key_id,
                &parsed.encrypted_dek_source,
                None,
                None,
            )
            .unwrap();
            let dek = DataKey::from_bytes(&dek).unwrap();
            std::hint::black_box(
                envelope::open(&parsed, "k8s/c/core/secrets/default/s", &dek).unwrap(),
            );
        }
        let open_time = started.elapsed();
        let mb = (size * rounds) as f64 / 1e6;
        let (seal_rate, open_rate) = (mb / seal_time.as_secs_f64(), mb / open_time.as_secs_f64());
        let openssl =
            portcullis_testing::openssl_speed("aes-256-gcm", size).expect("openssl is installed");
        println!(
            "  {:>7} B: seal {:>8.1} MB/s ({:>6.2} µs/op), open {:>8.1} MB/s ({:>6.2} µs/op); openssl aes-256-gcm {:>8.1} MB/s; seal/openssl {:.2}",
            size,
            seal_rate,
            seal_time.as_secs_f64() * 1e6 / rounds as f64,
            open_rate,
            open_time.as_secs_f64() * 1e6 / rounds as f64,
            openssl,
            seal_rate / openssl
        );
    }
}

struct Timings {
    writes: Vec<Duration>,
    reads: Vec<Duration>,
}

impl Timings {
    fn summary(&mut self) -> (Duration, Duration, Duration, Duration) {
        self.writes.sort();
        self.reads.sort();
        (
            percentile(&self.writes, 0.5),
            percentile(&self.writes, 0.99),
            percentile(&self.reads, 0.5),
            percentile(&self.reads, 0.99),
        )
    }
}

/// Creates then reads `count` objects of `resource`, alternating with the caller's other kind
async fn one(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    resource: &str,
    name: &str,
    t: &mut Timings,
) {
    let payload = "x".repeat(1024);
    let body = if resource == "secrets" {
        serde_json::json!({"metadata": {"name": name}, "stringData": {"value": payload}})
    } else {
        serde_json::json!({"metadata": {"name": name}, "data": {"value": payload}})
    };
    let started = Instant::now();
    let created = http
        .post(format!("{base}/api/v1/namespaces/default/{resource}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.status(),
        201,
        "{}",
        created.text().await.unwrap_or_default()
    );
    created.bytes().await.unwrap();
    t.writes.push(started.elapsed());
    let started = Instant::now();
    let read = http
        .get(format!(
            "{base}/api/v1/namespaces/default/{resource}/{name}"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    read.bytes().await.unwrap();
    t.reads.push(started.elapsed());
}

async fn through_the_server() {
    let seconds = support::seconds();
    let support::Setup {
        server,
        cluster,
        token,
        signer,
        ..
    } = support::setup().await;
    let admin = server.admin();
    let tenancy = server.tenancy();
    // A second cluster on a customer-managed key, allowed to use it.
    let vault = admin
        .send(
            "POST",
            "/20180608/vaults",
            Some(serde_json::json!({"compartmentId": tenancy, "displayName": "bench"})),
        )
        .await;
    let management = format!("/kms/{}/management", vault.field("id"));
    let key = admin
        .send(
            "POST",
            &format!("{management}/20180608/keys"),
            Some(serde_json::json!({"compartmentId": tenancy, "displayName": "mek", "keyShape": {"algorithm": "AES", "length": 32}})),
        )
        .await
        .field("id");
    admin
        .send(
            "POST",
            "/20160918/policies",
            Some(serde_json::json!({"compartmentId": tenancy, "name": "mek", "description": "d",
                "statements": [format!("Allow any-user to use keys in tenancy where ALL {{request.principal.type = 'cluster', target.key.id = '{key}'}}")]})),
        )
        .await;
    let customer = support::create_cluster(
        &admin,
        serde_json::json!({"compartmentId": tenancy, "name": "byok", "kubernetesVersion": "v1.32.1", "kmsKeyId": key}),
    )
    .await;
    let customer_token = portcullis_containerengine::generate_token(
        &signer,
        &customer,
        "us-ashburn-1",
        jiff::Timestamp::now(),
    )
    .unwrap();

    let http = client(&server);
    println!("\nthrough the server, one HTTPS connection, 1 KiB objects (p50 / p99)");
    for (label, cluster, token) in [
        ("platform key", &cluster, &token),
        ("customer key", &customer, &customer_token),
    ] {
        let base = format!("{}/clusters/{cluster}", server.endpoint());
        let mut secrets = Timings {
            writes: Vec::new(),
            reads: Vec::new(),
        };
        let mut configmaps = Timings {
            writes: Vec::new(),
            reads: Vec::new(),
        };
        // Warm-up, then alternate the two kinds so that drift affects both alike.
        for i in 0..50 {
            one(
                &http,
                &base,
                token,
                "secrets",
                &format!("warm-{i}"),
                &mut Timings {
                    writes: Vec::new(),
                    reads: Vec::new(),
                },
            )
            .await;
            one(
                &http,
                &base,
                token,
                "configmaps",
                &format!("warm-{i}"),
                &mut Timings {
                    writes: Vec::new(),
                    reads: Vec::new(),
                },
            )
            .await;
        }
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut i = 0;
        while Instant::now() < deadline {
            one(
                &http,
                &base,
                token,
                "secrets",
                &format!("s-{i}"),
                &mut secrets,
            )
            .await;
            one(
                &http,
                &base,
                token,
                "configmaps",
                &format!("c-{i}"),
                &mut configmaps,
            )
            .await;
            i += 1;
        }
        let (sw50, sw99, sr50, sr99) = secrets.summary();
        let (cw50, cw99, cr50, cr99) = configmaps.summary();
        let mean = |v: &[Duration]| v.iter().sum::<Duration>() / v.len() as u32;
        println!("  {label}: {i} of each");
        println!(
            "    write  Secret {sw50:>9.2?} / {sw99:>9.2?}   ConfigMap {cw50:>9.2?} / {cw99:>9.2?}   mean ratio {:.3}",
            mean(&secrets.writes).as_secs_f64() / mean(&configmaps.writes).as_secs_f64()
        );
        println!(
            "    read   Secret {sr50:>9.2?} / {sr99:>9.2?}   ConfigMap {cr50:>9.2?} / {cr99:>9.2?}   mean ratio {:.3}",
            mean(&secrets.reads).as_secs_f64() / mean(&configmaps.reads).as_secs_f64()
        );
    }
}
