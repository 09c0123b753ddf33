//! Our own CLI, `portcullis iam ...`: the same config file and command names as `oci`, the
//! same `{"data": ...}` output.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::process::{Command, Output};

use portcullis_testing::Server;
use serde_json::Value;

struct Cli<'a> {
    server: &'a Server,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(common::binary())
            .arg("--config-file")
            .arg(self.server.config_file())
            .args(args)
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "portcullis {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn portcullis_cli_mirrors_oci_iam() {
    let server = common::server();
    let cli = Cli { server: &server };
    let tenancy = server.tenancy();

    let created = cli.json(&[
        "iam",
        "compartment",
        "create",
        "--compartment-id",
        &tenancy,
        "--name",
        "cli",
        "--description",
        "from the CLI",
        "--freeform-tags",
        r#"{"Team":"blue"}"#,
    ]);
    let compartment = created["data"]["id"].as_str().unwrap().to_owned();
    // oci's shape: kebab-case fields, user tag keys untouched, an etag beside the data
    assert_eq!(created["data"]["lifecycle-state"], "ACTIVE");
    assert_eq!(created["data"]["freeform-tags"]["Team"], "blue");
    assert!(created["etag"].is_string());
    assert!(
        created["data"]["time-created"]
            .as_str()
            .unwrap()
            .ends_with("+00:00")
    );
    let updated = cli.json(&[
        "iam",
        "compartment",
        "update",
        "--compartment-id",
        &compartment,
        "--description",
        "renamed",
        "--name",
        "cli2",
    ]);
    assert_eq!(updated["data"]["name"], "cli2");
    let got = cli.json(&[
        "iam",
        "compartment",
        "get",
        "--compartment-id",
        &compartment,
    ]);
    assert_eq!(got["data"]["description"], "renamed");

    let user = cli.json(&[
        "iam",
        "user",
        "create",
        "--name",
        "erin",
        "--description",
        "Erin",
        "--email",
        "erin@example.com",
    ]);
    let user = user["data"]["id"].as_str().unwrap().to_owned();
    let group = cli.json(&[
        "iam",
        "group",
        "create",
        "--name",
        "ops",
        "--description",
        "Ops",
    ]);
    let group = group["data"]["id"].as_str().unwrap().to_owned();
    cli.json(&[
        "iam",
        "group",
        "add-user",
        "--user-id",
        &user,
        "--group-id",
        &group,
    ]);
    let members = cli.json(&["iam", "group", "list-users", "--group-id", &group]);
    assert_eq!(members["data"][0]["name"], "erin");
    let groups = cli.json(&["iam", "user", "list-groups", "--user-id", &user]);
    assert_eq!(groups["data"][0]["name"], "ops");

    let dir = tempfile::tempdir().unwrap();
    let public = dir.path().join("erin.pub.pem");
    let key = portcullis_auth::ApiPrivateKey::generate().unwrap();
    std::fs::write(&public, key.public_key().unwrap().to_pem()).unwrap();
    let uploaded = cli.json(&[
        "iam",
        "user",
        "api-key",
        "upload",
        "--user-id",
        &user,
        "--key-file",
        public.to_str().unwrap(),
    ]);
    assert_eq!(
        uploaded["data"]["fingerprint"],
        key.public_key().unwrap().fingerprint()
    );
    let keys = cli.json(&["iam", "user", "api-key", "list", "--user-id", &user]);
    assert_eq!(keys["data"].as_array().unwrap().len(), 1);
    let token = cli.json(&[
        "iam",
        "auth-token",
        "create",
        "--user-id",
        &user,
        "--description",
        "registry",
    ]);
    assert_eq!(token["data"]["token"].as_str().unwrap().len(), 20);

    let statements = dir.path().join("statements.json");
    std::fs::write(&statements, r#"["Allow group ops to use clusters in compartment cli2", "Allow group ops to read repos in tenancy where target.repo.name = /team-*/"]"#).unwrap();
    let policy = cli.json(&[
        "iam",
        "policy",
        "create",
        "--compartment-id",
        &tenancy,
        "--name",
        "ops-policy",
        "--description",
        "ops",
        "--statements",
        &format!("file://{}", statements.display()),
    ]);
    assert_eq!(policy["data"]["statements"].as_array().unwrap().len(), 2);
    let listed = cli.json(&["iam", "policy", "list", "--all"]);
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    let dg = cli.json(&[
        "iam",
        "dynamic-group",
        "create",
        "--name",
        "clusters",
        "--description",
        "all clusters in cli2",
        "--matching-rule",
        &format!("ALL {{resource.type = 'cluster', resource.compartment.id = '{compartment}'}}"),
    ]);
    assert!(
        dg["data"]["matching-rule"]
            .as_str()
            .unwrap()
            .contains("resource.type")
    );

    // The simulator: a user, then a resource principal, with candidate statements
    let sim = cli.json(&[
        "iam",
        "policy",
        "simulate",
        "--user",
        "erin",
        "--operation",
        "CreateKubeconfig",
        "--compartment-id",
        &compartment,
    ]);
    assert_eq!(sim["data"]["decision"], "ALLOWED");
    assert_eq!(
        sim["data"]["granted"][0]["statements"][0]["policy-name"],
        "ops-policy"
    );
    let sim = cli.json(&[
        "iam",
        "policy",
        "simulate",
        "--user",
        &user,
        "--permission",
        "REPOSITORY_READ",
        "--variable",
        "target.repo.name=other",
    ]);
    assert_eq!(sim["data"]["decision"], "DENIED");
    assert_eq!(sim["data"]["missing"][0], "REPOSITORY_READ");
    assert!(
        sim["data"]["near-misses"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("condition")
    );
    let sim = cli.json(&[
        "iam",
        "policy",
        "simulate",
        "--resource-type",
        "cluster",
        "--resource-id",
        "ocid1.cluster.oc1.iad.aaaaclusterone",
        "--resource-compartment-id",
        &compartment,
        "--operation",
        "PullImage",
        "--statements",
        r#"["Allow dynamic-group clusters to read repos in tenancy"]"#,
    ]);
    assert_eq!(sim["data"]["decision"], "ALLOWED");
    assert_eq!(
        sim["data"]["granted"][0]["statements"][0]["policy-id"],
        "candidate"
    );
    let sim = cli.json(&["iam", "policy", "simulate", "--user", "erin", "--operation", "Encrypt", "--statements", r#"["Define tenancy Other as ocid1.tenancy.oc1..aaaaother", "Endorse group ops to use keys in tenancy Other"]"#]);
    assert_eq!(sim["data"]["decision"], "DENIED");
    assert!(
        sim["data"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("no effect")
    );

    // Failures look like oci's: ServiceError on stderr, exit status 1
    let out = cli.run(&[
        "iam",
        "group",
        "get",
        "--group-id",
        "ocid1.group.oc1..aaaanothere",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("ServiceError:") && stderr.contains("NotAuthorizedOrNotFound"),
        "{stderr}"
    );

    // Cleanup in dependency order, as a user would
    let out = cli.run(&[
        "iam",
        "group",
        "remove-user",
        "--user-id",
        &user,
        "--group-id",
        &group,
        "--force",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Compartment deletion is asynchronous in OCI: the CLI prints the work request.
    let deleted = cli.json(&[
        "iam",
        "compartment",
        "delete",
        "--compartment-id",
        &compartment,
        "--force",
    ]);
    assert!(
        deleted["opc-work-request-id"]
            .as_str()
            .unwrap()
            .starts_with("ocid1.workrequest.")
    );
    let out = cli.run(&["iam", "user", "delete", "--user-id", &user, "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without --force and no terminal, nothing is deleted.
    let out = cli.run(&["iam", "group", "delete", "--group-id", &group]);
    assert!(!out.status.success());
    cli.json(&["iam", "group", "get", "--group-id", &group]);
}
