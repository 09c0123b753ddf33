//! The registry's vulnerability scanning, end to end against the real binary: images pushed
//! over the distribution API, a scanner added through the Vulnerability Scanning API, the
//! four-most-recent rule, scans on push, rescans when advisories are imported into the
//! running server (and only of the images they touch), `FIXED` after a withdrawal, no scans
//! after the scanner is removed, queued work across a kill, and 13-month retention with the
//! server's clock moved by faketime. The official `oci` CLI reads the results (and prints
//! their fields in its kebab-case).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use portcullis_testing::{OciCli, Server, ServerOptions};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

mod common;

use common::registry::Registry;

const REPO: &str = "scan/app";

/// An OSV record for a PyPI package, fixed in 2.0
fn advisory(id: &str, cve: &str, package: &str, modified: &str, withdrawn: bool) -> Value {
    let mut record = json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": modified,
        "published": "2026-01-01T00:00:00Z",
        "aliases": [cve],
        "summary": format!("{package} lets anyone in"),
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": package},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
        }],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    });
    if withdrawn {
        record["withdrawn"] = json!(modified);
    }
    record
}

/// Pushes an image of one layer under `tag`; returns its digest
async fn push(registry: &Registry, tag: &str, packages: &[(&str, &str)]) -> String {
    let layer = common::registry::python_layer(packages);
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [common::registry::digest(&layer)]},
        "config": {"Labels": {"tag": tag}},
    }))
    .unwrap();
    let config_digest = registry.push_blob(REPO, &config).await;
    let layer_digest = registry.push_blob(REPO, &layer).await;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
    }))
    .unwrap();
    let reply = registry
        .send(
            Method::PUT,
            &format!("/v2/{REPO}/manifests/{tag}"),
            &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
            Some(manifest.clone()),
        )
        .await;
    assert_eq!(reply.status(), StatusCode::CREATED);
    common::registry::digest(&manifest)
}

/// Every result of the tenancy, through the official CLI
fn results(oci: &OciCli, tenancy: &str) -> Vec<Value> {
    let listed = oci.json(&[
        "vulnerability-scanning",
        "container",
        "scan",
        "result",
        "list",
        "--compartment-id",
        tenancy,
        "--all",
    ]);
    listed["data"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The advisory the tests import into the running server, for `pcdemo-beta`
fn beta_advisory(modified: &str, withdrawn: bool) -> Value {
    advisory(
        "PCTEST-0002",
        "CVE-2099-0002",
        "pcdemo-beta",
        modified,
        withdrawn,
    )
}

/// An image's most recent result
fn newest(results: &[Value], digest: &str) -> Value {
    of_image(results, digest)
        .into_iter()
        .max_by_key(|r| r["time-started"].as_str().unwrap().to_owned())
        .unwrap()
        .clone()
}

/// A server seeded with `write_seed`'s advisory that looks at its incoming directory every
/// second
fn seeded_server(seed: &Path, etcd: Option<(String, String)>) -> Server {
    write_seed(seed);
    Server::start(
        common::binary(),
        ServerOptions {
            args: vec![
                "--vulndb-seed".into(),
                seed.display().to_string(),
                "--vulndb-poll-seconds".into(),
                "1".into(),
            ],
            etcd,
            ..ServerOptions::default()
        },
    )
}

fn of_image<'a>(results: &'a [Value], digest: &str) -> Vec<&'a Value> {
    results.iter().filter(|r| r["image"] == digest).collect()
}

/// Polls until `done` holds for the results, or fails after a minute with what it saw
fn wait_for(
    oci: &OciCli,
    tenancy: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let now = results(oci, tenancy);
        if done(&now) {
            return now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}; results: {now:#?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Moves an advisory into the server's incoming directory the way operators are told to:
/// written under a dot name, then renamed
fn drop_advisory(server: &Server, name: &str, record: &Value) {
    let incoming = server.data_dir().join("vulndb/incoming");
    let temporary = incoming.join(format!(".{name}"));
    std::fs::write(&temporary, serde_json::to_vec(record).unwrap()).unwrap();
    std::fs::rename(&temporary, incoming.join(name)).unwrap();
}

fn problems(oci: &OciCli, result: &Value) -> Vec<Value> {
    let id = result["id"].as_str().unwrap();
    let full = oci.json(&[
        "vulnerability-scanning",
        "container",
        "scan",
        "result",
        "get",
        "--container-scan-result-id",
        id,
    ]);
    full["data"]["problems"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn write_seed(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let record = advisory(
        "PCTEST-0001",
        "CVE-2099-0001",
        "pcdemo-alpha",
        "2026-01-01T00:00:00Z",
        false,
    );
    std::fs::write(
        dir.join("PCTEST-0001.json"),
        serde_json::to_vec(&record).unwrap(),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn scanners_scan_on_push_rescan_on_advisory_changes_and_keep_thirteen_months() {
    scanning_flow(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_flow_on_etcd() {
    let etcd = portcullis_testing::Etcd::shared();
    scanning_flow(Some((
        etcd.endpoint().to_owned(),
        format!("/{}", portcullis_testing::unique_prefix("vss-flow")),
    )))
    .await;
}

async fn scanning_flow(etcd: Option<(String, String)>) {
    let work = tempfile::tempdir().unwrap();
    let seed = work.path().join("seed");
    let mut server = seeded_server(&seed, etcd);
    let tenancy = server.tenancy();
    let admin = server.admin();
    let oci = OciCli::new(&server, &server.config_file());
    let registry = Registry::login_to(&server, REPO).await;

    // Five images before any scanner; the newest four are scanned when one is added.
    let oldest = push(&registry, "v0", &[("pcdemo-alpha", "1.0")]).await;
    std::thread::sleep(Duration::from_millis(20));
    let alpha = push(&registry, "v1", &[("pcdemo-alpha", "1.5")]).await;
    std::thread::sleep(Duration::from_millis(20));
    let beta = push(&registry, "v2", &[("pcdemo-beta", "1.0")]).await;
    std::thread::sleep(Duration::from_millis(20));
    let gamma = push(&registry, "v3", &[("pcdemo-gamma", "1.0")]).await;
    std::thread::sleep(Duration::from_millis(20));
    let fixed = push(&registry, "v4", &[("pcdemo-alpha", "2.0")]).await;

    // The server holds its database: an offline import is pointed at the incoming directory.
    let offline = std::process::Command::new(common::binary())
        .args(["vulndb", "import"])
        .arg(&seed)
        .arg("--db")
        .arg(server.data_dir().join("vulndb/vulndb.redb"))
        .output()
        .unwrap();
    assert!(!offline.status.success());
    let said = String::from_utf8_lossy(&offline.stderr);
    assert!(said.contains("vulndb/incoming"), "{said}");

    let status = admin.send("GET", "/20210215/advisoryDatabase", None).await;
    assert_eq!(status.status, 200, "{:?}", status.body);
    assert_eq!(status.body["records"], 1, "{:?}", status.body);
    assert_eq!(status.body["ecosystems"]["PyPI"], 1);

    let recipe = admin
        .send(
            "POST",
            "/20210215/containerScanRecipes",
            Some(json!({"compartmentId": tenancy, "displayName": "standard", "scanSettings": {"scanLevel": "STANDARD"}})),
        )
        .await;
    assert_eq!(recipe.status, 200, "{:?}", recipe.body);
    let target = admin
        .send(
            "POST",
            "/20210215/containerScanTargets",
            Some(json!({
                "compartmentId": tenancy, "displayName": "app scanner",
                "containerScanRecipeId": recipe.field("id"),
                "targetRegistry": {"type": "OCIR", "compartmentId": tenancy, "repositories": [REPO]},
            })),
        )
        .await;
    assert_eq!(target.status, 200, "{:?}", target.body);
    assert_eq!(target.body["lifecycleState"], "ACTIVE");

    let seen = wait_for(&oci, &tenancy, "the four newest images scanned", |r| {
        r.len() >= 4
    });
    std::thread::sleep(Duration::from_millis(1500));
    let seen = {
        let again = results(&oci, &tenancy);
        assert_eq!(again.len(), seen.len().max(4), "{again:#?}");
        again
    };
    assert!(
        of_image(&seen, &oldest).is_empty(),
        "the fifth-newest image is not scanned at once"
    );
    let alpha_result = of_image(&seen, &alpha)[0].clone();
    assert_eq!(alpha_result["highest-problem-severity"], "CRITICAL");
    assert_eq!(alpha_result["problem-count"], 1);
    assert_eq!(alpha_result["repository"], REPO);
    let alpha_problems = problems(&oci, &alpha_result);
    assert_eq!(alpha_problems.len(), 1, "{alpha_problems:#?}");
    assert_eq!(alpha_problems[0]["name"], "CVE-2099-0001");
    assert_eq!(alpha_problems[0]["cve-reference"], "CVE-2099-0001");
    assert_eq!(alpha_problems[0]["severity"], "CRITICAL");
    assert_eq!(alpha_problems[0]["state"], "OPEN");
    let package = &alpha_problems[0]["vulnerable-packages"][0];
    assert_eq!(package["name"], "pcdemo-alpha");
    assert_eq!(package["version"], "1.5");
    assert_eq!(package["cve-fix-version"], "2.0");
    assert!(
        package["locations"][0]
            .as_str()
            .unwrap()
            .contains("pcdemo_alpha-1.5.dist-info/METADATA")
            || package["locations"][0]
                .as_str()
                .unwrap()
                .contains("pcdemo-alpha-1.5.dist-info/METADATA"),
        "{package}"
    );
    for clean in [&beta, &gamma, &fixed] {
        let result = of_image(&seen, clean)[0];
        assert_eq!(result["highest-problem-severity"], "NONE", "{result}");
        assert_eq!(result["problem-count"], 0);
    }

    // A push is scanned.
    let pushed = push(
        &registry,
        "v5",
        &[("pcdemo-alpha", "0.9"), ("pcdemo-gamma", "1.0")],
    )
    .await;
    let seen = wait_for(&oci, &tenancy, "the pushed image scanned", |r| {
        !of_image(r, &pushed).is_empty()
    });
    assert_eq!(of_image(&seen, &pushed)[0]["problem-count"], 1);

    // The repository's allowlist accepts the alpha advisory: a new image with it has the
    // problem as NOT_APPLICABLE and no open problem.
    let repositories = admin
        .send(
            "GET",
            &format!("/20160918/container/repositories?compartmentId={tenancy}&displayName={REPO}"),
            None,
        )
        .await;
    let repository_id = repositories.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let allowed = admin
        .send(
            "PUT",
            &format!("/20160918/container/repositories/{repository_id}/scanAllowlist"),
            Some(json!({"entries": [{
                "id": "CVE-2099-0001", "package": "pcdemo-alpha", "expires": "2099-01-01T00:00:00Z",
                "author": "security@example.com", "reason": "not reachable in this image",
            }]})),
        )
        .await;
    assert_eq!(allowed.status, 200, "{:?}", allowed.body);
    let accepted = push(&registry, "v5b", &[("pcdemo-alpha", "1.2")]).await;
    let seen = wait_for(&oci, &tenancy, "the allowlisted image scanned", |r| {
        !of_image(r, &accepted).is_empty()
    });
    let accepted_result = of_image(&seen, &accepted)[0].clone();
    assert_eq!(accepted_result["problem-count"], 0, "{accepted_result}");
    assert_eq!(accepted_result["highest-problem-severity"], "NONE");
    let accepted_problems = problems(&oci, &accepted_result);
    assert_eq!(accepted_problems.len(), 1, "{accepted_problems:#?}");
    assert_eq!(accepted_problems[0]["state"], "NOT_APPLICABLE");

    // An advisory for beta arrives in the running server: beta is rescanned and has it;
    // gamma, whose packages it does not touch, is not rescanned.
    drop_advisory(
        &server,
        "beta.json",
        &beta_advisory("2026-02-01T00:00:00Z", false),
    );
    let seen = wait_for(&oci, &tenancy, "beta rescanned", |r| {
        of_image(r, &beta).len() >= 2
    });
    let newest_beta = newest(&seen, &beta);
    assert_eq!(newest_beta["problem-count"], 1, "{newest_beta}");
    assert_eq!(newest_beta["highest-problem-severity"], "CRITICAL");
    assert_eq!(
        of_image(&seen, &gamma).len(),
        1,
        "gamma was rescanned needlessly"
    );
    assert!(
        server
            .data_dir()
            .join("vulndb/imported")
            .read_dir()
            .unwrap()
            .count()
            >= 1
    );
    let latest = oci.json(&[
        "vulnerability-scanning",
        "container",
        "scan",
        "result",
        "list",
        "--compartment-id",
        &tenancy,
        "--image",
        &beta,
        "--is-latest-only",
        "true",
    ]);
    assert_eq!(
        latest["data"]["items"].as_array().unwrap().len(),
        1,
        "{latest}"
    );
    assert_eq!(latest["data"]["items"][0]["id"], newest_beta["id"]);

    // The advisory is withdrawn: the next scan marks the problem FIXED.
    drop_advisory(
        &server,
        "beta-withdrawn.json",
        &beta_advisory("2026-03-01T00:00:00Z", true),
    );
    let seen = wait_for(&oci, &tenancy, "beta rescanned after the withdrawal", |r| {
        of_image(r, &beta).len() >= 3
    });
    let third = newest(&seen, &beta);
    assert_eq!(third["problem-count"], 0, "{third}");
    assert_eq!(third["highest-problem-severity"], "NONE");
    let third_problems = problems(&oci, &third);
    assert_eq!(third_problems.len(), 1, "{third_problems:#?}");
    assert_eq!(third_problems[0]["name"], "CVE-2099-0002");
    assert_eq!(third_problems[0]["state"], "FIXED");

    // A broken archive in the incoming directory changes nothing and is set aside.
    drop_advisory(&server, "broken.zip", &json!("not a zip"));
    let failed = server.data_dir().join("vulndb/failed");
    let started = Instant::now();
    while !failed.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "broken.zip was not set aside"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The scanner is removed: pushes are no longer scanned; the history stays.
    let before = results(&oci, &tenancy).len();
    let removed = admin
        .send(
            "DELETE",
            &format!("/20210215/containerScanTargets/{}", target.field("id")),
            None,
        )
        .await;
    assert_eq!(removed.status, 204, "{:?}", removed.body);
    let unscanned = push(&registry, "v6", &[("pcdemo-alpha", "1.1")]).await;
    std::thread::sleep(Duration::from_secs(3));
    let after = results(&oci, &tenancy);
    assert_eq!(after.len(), before, "{after:#?}");
    assert!(of_image(&after, &unscanned).is_empty());

    // Queued work survives a kill: a new scanner's first images are queued, the server is
    // killed at once, and after the restart every one of them has a result.
    let second = admin
        .send(
            "POST",
            "/20210215/containerScanTargets",
            Some(json!({
                "compartmentId": tenancy,
                "containerScanRecipeId": recipe.field("id"),
                "targetRegistry": {"type": "OCIR", "compartmentId": tenancy},
            })),
        )
        .await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    server.kill();
    server.restart();
    let second_id = second.field("id");
    let oci = OciCli::new(&server, &server.config_file());
    let seen = wait_for(&oci, &tenancy, "the second scanner's images", |r| {
        r.iter()
            .filter(|x| x["container-scan-target-id"] == second_id.as_str())
            .count()
            >= 4
    });
    assert!(
        seen.iter()
            .any(|x| x["container-scan-target-id"] == second_id.as_str()
                && x["image"] == unscanned.as_str()),
        "the newest image is among the second scanner's first four"
    );

    // Thirteen months on, every result is older than the retention: a restart under a clock
    // 400 days ahead prunes them, and the CLI (on the same clock) lists none.
    let total = seen.len();
    assert_eq!(
        total, 12,
        "4 first images, 2 pushes, 2 rescans of beta, 4 for the second scanner"
    );
    let later = ["faketime", "-f", "+400d"];
    server.restart_under(&later);
    let oci_later = OciCli::new(&server, &server.config_file()).under(&later);
    let started = Instant::now();
    loop {
        let left = results(&oci_later, &tenancy);
        // The restarted worker may scan queued rescans; only results from before are old.
        let old = left
            .iter()
            .filter(|r| r["time-started"].as_str().unwrap() < "2027-06-01")
            .count();
        if old == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{old} old results left: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let log = server.log_text();
    assert!(log.contains("pruned scan results older than 13 months"));
    // The images' kept package inventories go with their last results.
    assert!(log.contains("inventories="), "{log}");
}

/// Thousands of queued rescans neither hold up a push's scan nor the API: pushes and new
/// scanners come before rescans, and scans run off the async threads.
#[tokio::test(flavor = "multi_thread")]
async fn a_long_rescan_queue_starves_neither_pushes_nor_the_api() {
    const IMAGES: usize = 1500;
    let work = tempfile::tempdir().unwrap();
    let seed = work.path().join("seed");
    let server = seeded_server(&seed, None);
    let tenancy = server.tenancy();
    let admin = server.admin();
    let registry = Registry::login_to(&server, REPO).await;
    // Many images sharing one layer (so the store, not the disk, is what grows).
    let layer = common::registry::python_layer(&[("pcdemo-beta", "1.0")]);
    let layer_digest = registry.push_blob(REPO, &layer).await;
    for i in 0..IMAGES {
        let config =
            serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux", "n": i})).unwrap();
        let config_digest = registry.push_blob(REPO, &config).await;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
        }))
        .unwrap();
        let reply = registry
            .send(
                Method::PUT,
                &format!(
                    "/v2/{REPO}/manifests/{}",
                    common::registry::digest(&manifest)
                ),
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                Some(manifest),
            )
            .await;
        assert_eq!(reply.status(), StatusCode::CREATED);
    }
    let recipe = admin
        .send(
            "POST",
            "/20210215/containerScanRecipes",
            Some(json!({"compartmentId": tenancy, "imageCount": IMAGES, "scanSettings": {"scanLevel": "STANDARD"}})),
        )
        .await;
    assert_eq!(recipe.status, 200, "{:?}", recipe.body);
    let target = admin
        .send(
            "POST",
            "/20210215/containerScanTargets",
            Some(json!({
                "compartmentId": tenancy, "containerScanRecipeId": recipe.field("id"),
                "targetRegistry": {"type": "OCIR", "compartmentId": tenancy, "repositories": [REPO]},
            })),
        )
        .await;
    assert_eq!(target.status, 200, "{:?}", target.body);
    let count = |body: &Value| body["items"].as_array().map_or(0, Vec::len);
    let list = format!("/20210215/containerScanResults?compartmentId={tenancy}");
    let started = Instant::now();
    loop {
        let listed = admin.send("GET", &list, None).await;
        if count(&listed.body) >= IMAGES {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "first scans: {}",
            count(&listed.body)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let first_pass = started.elapsed();
    let mut idle = Vec::new();
    for _ in 0..10 {
        let asked = Instant::now();
        admin.send("GET", &list, None).await;
        idle.push(asked.elapsed());
    }
    idle.sort();

    // An advisory for the shared package queues a rescan of every image.
    drop_advisory(
        &server,
        "beta.json",
        &beta_advisory("2026-02-01T00:00:00Z", false),
    );
    let started = Instant::now();
    while server
        .data_dir()
        .join("vulndb/imported")
        .read_dir()
        .map_or(0, Iterator::count)
        == 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the advisory was not imported"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // While the rescans run: the API answers, and a push is scanned ahead of them.
    let pushed = push(&registry, "while-busy", &[("pcdemo-alpha", "1.0")]).await;
    let mut latencies = Vec::new();
    let pushed_at = Instant::now();
    let (scanned_after, rescans_done) = loop {
        let asked = Instant::now();
        let listed = admin
            .send("GET", &format!("{list}&image={pushed}"), None)
            .await;
        latencies.push(asked.elapsed());
        assert_eq!(listed.status, 200);
        let recipes = admin
            .send(
                "GET",
                &format!("/20210215/containerScanRecipes?compartmentId={tenancy}"),
                None,
            )
            .await;
        assert_eq!(recipes.status, 200);
        if count(&listed.body) == 1 {
            let all = admin.send("GET", &list, None).await;
            break (pushed_at.elapsed(), count(&all.body) - IMAGES - 1);
        }
        assert!(
            pushed_at.elapsed() < Duration::from_secs(60),
            "the push was not scanned"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Keep asking until the rescans are done, timing every answer.
    loop {
        let asked = Instant::now();
        let all = admin.send("GET", &list, None).await;
        latencies.push(asked.elapsed());
        if count(&all.body) > 2 * IMAGES {
            break;
        }
        assert!(
            pushed_at.elapsed() < Duration::from_secs(240),
            "rescans did not finish"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drained = pushed_at.elapsed();
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let max = latencies[latencies.len() - 1];
    println!(
        "{IMAGES} images: first scans took {first_pass:?}; with {IMAGES} rescans queued a push was scanned in {scanned_after:?} ({rescans_done} rescans done by then), all rescans in {drained:?}; API latency (listing every result) while draining: p50 {p50:?}, max {max:?} over {} calls; idle: p50 {:?}",
        latencies.len(),
        idle[idle.len() / 2]
    );
    assert!(
        rescans_done < IMAGES,
        "the push waited for every rescan ({rescans_done} done)"
    );
}
