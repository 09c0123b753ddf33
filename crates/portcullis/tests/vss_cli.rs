//! Our CLI's `vulnerability-scanning container scan ...` against a real server: recipes,
//! targets and results in `oci`'s command names and `{"data": ...}` output, plus the
//! Portcullis additions (`advisory-database get`, a repository's `scan-allowlist`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

use std::path::Path;
use std::process::{Command, Output};

use portcullis_testing::{Server, ServerOptions};
use serde_json::{Value, json};

struct Cli<'a> {
    server: &'a Server,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
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

    /// Runs a command that must fail; returns its stderr
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "portcullis {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }
}

/// The ids in a `{"data": {"items": [...]}}` listing
fn ids(listing: &Value) -> Vec<String> {
    listing["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

const RECIPE: &[&str] = &["vulnerability-scanning", "container", "scan", "recipe"];
const TARGET: &[&str] = &["vulnerability-scanning", "container", "scan", "target"];
const RESULT: &[&str] = &["vulnerability-scanning", "container", "scan", "result"];

fn args<'a>(group: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    group.iter().chain(rest).copied().collect()
}

#[test]
fn vulnerability_scanning_cli_mirrors_oci() {
    let server = Server::start(
        Path::new(env!("CARGO_BIN_EXE_portcullis")),
        ServerOptions::default(),
    );
    let cli = Cli { server: &server };
    let tenancy = server.tenancy();

    // Recipes: create, get, list (the tenancy by default), in oci's kebab-case shape
    let recipe = cli.json(&args(
        RECIPE,
        &[
            "create",
            "--compartment-id",
            &tenancy,
            "--scan-settings",
            r#"{"scanLevel":"STANDARD"}"#,
            "--display-name",
            "standard",
            "--image-count",
            "2",
        ],
    ));
    assert_eq!(recipe["data"]["display-name"], "standard");
    assert_eq!(recipe["data"]["scan-settings"]["scan-level"], "STANDARD");
    assert_eq!(recipe["data"]["image-count"], 2);
    assert_eq!(recipe["data"]["lifecycle-state"], "ACTIVE");
    let recipe_id = recipe["data"]["id"].as_str().unwrap().to_owned();
    assert!(recipe_id.starts_with("ocid1.vsscontainerscanrecipe."));
    let got = cli.json(&args(
        RECIPE,
        &["get", "--container-scan-recipe-id", &recipe_id],
    ));
    assert_eq!(got["data"]["id"], recipe_id.as_str());
    assert_eq!(
        ids(&cli.json(&args(RECIPE, &["list"]))),
        [recipe_id.as_str()]
    );
    assert_eq!(
        ids(&cli.json(&args(
            RECIPE,
            &["list", "--compartment-id", &tenancy, "--all"]
        ))),
        [recipe_id.as_str()]
    );

    // Malformed settings are refused before anything is sent, naming the option
    let stderr = cli.fails(&args(
        RECIPE,
        &[
            "create",
            "--compartment-id",
            &tenancy,
            "--scan-settings",
            "{scanLevel: STANDARD",
        ],
    ));
    assert!(
        stderr.contains("--scan-settings is not valid JSON"),
        "{stderr}"
    );

    // Targets: create with the flattened registry options, list, get
    let target = cli.json(&args(
        TARGET,
        &[
            "create",
            "--compartment-id",
            &tenancy,
            "--container-scan-recipe-id",
            &recipe_id,
            "--target-registry-compartment-id",
            &tenancy,
            "--target-registry-repositories",
            r#"["team-a/web","team-a/api"]"#,
            "--display-name",
            "team-a",
            "--description",
            "team A's images",
        ],
    ));
    let target_id = target["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        target["data"]["container-scan-recipe-id"],
        recipe_id.as_str()
    );
    assert_eq!(target["data"]["description"], "team A's images");
    assert_eq!(target["data"]["target-registry"]["type"], "OCIR");
    assert_eq!(
        target["data"]["target-registry"]["compartment-id"],
        tenancy.as_str()
    );
    assert_eq!(
        target["data"]["target-registry"]["repositories"],
        json!(["team-a/web", "team-a/api"])
    );
    assert_eq!(
        ids(&cli.json(&args(TARGET, &["list", "--compartment-id", &tenancy]))),
        [target_id.as_str()]
    );
    let got = cli.json(&args(
        TARGET,
        &["get", "--container-scan-target-id", &target_id],
    ));
    assert_eq!(got["data"]["display-name"], "team-a");
    // ... and with oci's own `--target-registry` JSON
    let registry = json!({"type": "OCIR", "compartmentId": tenancy}).to_string();
    let whole = cli.json(&args(
        TARGET,
        &[
            "create",
            "--compartment-id",
            &tenancy,
            "--container-scan-recipe-id",
            &recipe_id,
            "--target-registry",
            &registry,
        ],
    ));
    assert!(whole["data"]["target-registry"]["url"].is_string());
    let whole_id = whole["data"]["id"].as_str().unwrap().to_owned();
    let out = cli.run(&args(
        TARGET,
        &["delete", "--container-scan-target-id", &whole_id, "--force"],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A recipe in use cannot go; the target can, and then the recipe
    let stderr = cli.fails(&args(
        RECIPE,
        &[
            "delete",
            "--container-scan-recipe-id",
            &recipe_id,
            "--force",
        ],
    ));
    assert!(stderr.contains("IncorrectState"), "{stderr}");
    let out = cli.run(&args(
        TARGET,
        &[
            "delete",
            "--container-scan-target-id",
            &target_id,
            "--force",
        ],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = cli.json(&args(
        TARGET,
        &["get", "--container-scan-target-id", &target_id],
    ));
    assert_eq!(got["data"]["lifecycle-state"], "DELETED");
    let out = cli.run(&args(
        RECIPE,
        &[
            "delete",
            "--container-scan-recipe-id",
            &recipe_id,
            "--force",
        ],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(ids(&cli.json(&args(RECIPE, &["list"]))).is_empty());

    // A target naming a recipe that does not exist (any more)
    let stderr = cli.fails(&args(
        TARGET,
        &[
            "create",
            "--compartment-id",
            &tenancy,
            "--container-scan-recipe-id",
            &recipe_id,
            "--target-registry-compartment-id",
            &tenancy,
        ],
    ));
    assert!(stderr.contains("NotAuthorizedOrNotFound"), "{stderr}");

    // Results of a compartment nothing was scanned in, with every filter
    let compartment = cli.json(&[
        "iam",
        "compartment",
        "create",
        "--compartment-id",
        &tenancy,
        "--name",
        "unscanned",
        "--description",
        "no images",
    ]);
    let compartment = compartment["data"]["id"].as_str().unwrap().to_owned();
    let results = cli.json(&args(
        RESULT,
        &[
            "list",
            "--compartment-id",
            &compartment,
            "--repository",
            "team-a/web",
            "--highest-problem-severity",
            "critical",
            "--is-latest-only",
            "true",
            "--time-started-greater-than-or-equal-to",
            "2026-01-01T00:00:00Z",
            "--sort-by",
            "highestProblemSeverity",
            "--sort-order",
            "ASC",
        ],
    ));
    assert_eq!(results, json!({"data": {"items": []}}));

    // The advisory database (empty: nothing was imported)
    let database = cli.json(&["vulnerability-scanning", "advisory-database", "get"]);
    assert!(database["data"]["generation"].is_u64(), "{database}");
    assert!(database["data"]["ecosystems"].is_object(), "{database}");

    // A repository's allowlist: empty at first, replaced, read back
    let repository = cli.json(&[
        "artifacts",
        "container",
        "repository",
        "create",
        "--compartment-id",
        &tenancy,
        "--display-name",
        "team-a/web",
    ]);
    let repository_id = repository["data"]["id"].as_str().unwrap().to_owned();
    let allowlist = ["artifacts", "container", "repository", "scan-allowlist"];
    let empty = cli.json(&args(
        &allowlist,
        &["get", "--repository-id", &repository_id],
    ));
    assert_eq!(empty["data"]["entries"], json!([]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("allowlist.json");
    let entries = json!({"entries": [{
        "id": "CVE-2023-1234",
        "package": "openssl",
        "expires": "2099-01-31T00:00:00Z",
        "author": "erin@example.com",
        "reason": "not reachable: we never use TLS renegotiation"
    }]});
    std::fs::write(&file, entries.to_string()).unwrap();
    let file_arg = file.to_str().unwrap();
    let put = cli.json(&args(
        &allowlist,
        &["put", "--repository-id", &repository_id, "--file", file_arg],
    ));
    assert_eq!(put["data"], entries);
    let got = cli.json(&args(
        &allowlist,
        &["get", "--repository-id", &repository_id],
    ));
    assert_eq!(got["data"], entries);

    // An entry must say why
    std::fs::write(
        &file,
        json!({"entries": [{
            "id": "CVE-2023-9999",
            "expires": "2099-01-31T00:00:00Z",
            "author": "erin@example.com"
        }]})
        .to_string(),
    )
    .unwrap();
    let stderr = cli.fails(&args(
        &allowlist,
        &["put", "--repository-id", &repository_id, "--file", file_arg],
    ));
    assert!(stderr.contains("InvalidParameter"), "{stderr}");
    assert!(stderr.contains("400"), "{stderr}");
    assert!(stderr.contains("reason"), "{stderr}");
    // and the refused list did not replace the stored one
    let got = cli.json(&args(
        &allowlist,
        &["get", "--repository-id", &repository_id],
    ));
    assert_eq!(got["data"], entries);
}
