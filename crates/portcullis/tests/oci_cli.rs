//! The official OCI CLI (from PyPI) against `portcullis serve`, using the bootstrap config.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    reason = "test code: a panic is a failed test"
)]

use std::path::Path;
use std::process::Command;

use portcullis_testing::{OciCli, Server, ServerOptions};

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_portcullis"))
}

fn id(value: &serde_json::Value) -> String {
    value["data"]["id"].as_str().unwrap().to_owned()
}

/// Writes a second user's key pair with openssl, as a user would
fn openssl_key(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let private = dir.join("bob.pem");
    let public = dir.join("bob_public.pem");
    let status = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&private)
        .arg("2048")
        .output()
        .unwrap();
    assert!(status.status.success(), "openssl genrsa failed");
    let status = Command::new("openssl")
        .args(["rsa", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .output()
        .unwrap();
    assert!(status.status.success(), "openssl rsa -pubout failed");
    (private, public)
}

#[test]
fn official_oci_cli_manages_identity_and_is_authorized_by_policy() {
    let server = Server::start(binary(), ServerOptions::default());
    let tenancy = server.tenancy();
    let admin = OciCli::new(&server, &server.config_file());

    // Compartments: create, list, get, delete
    let created = admin.json(&[
        "iam",
        "compartment",
        "create",
        "--compartment-id",
        &tenancy,
        "--name",
        "team-a",
        "--description",
        "Team A",
    ]);
    let compartment = id(&created);
    assert_eq!(created["data"]["lifecycle-state"], "ACTIVE");
    assert!(created["etag"].is_string());
    let listed = admin.json(&[
        "iam",
        "compartment",
        "list",
        "--compartment-id",
        &tenancy,
        "--all",
    ]);
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == compartment.as_str())
    );
    let got = admin.json(&[
        "iam",
        "compartment",
        "get",
        "--compartment-id",
        &compartment,
    ]);
    assert_eq!(got["data"]["name"], "team-a");
    let nested = admin.json(&[
        "iam",
        "compartment",
        "create",
        "--compartment-id",
        &compartment,
        "--name",
        "inner",
        "--description",
        "nested",
    ]);
    // A compartment that is not empty cannot be deleted.
    let refused = admin.run(&[
        "iam",
        "compartment",
        "delete",
        "--compartment-id",
        &compartment,
        "--force",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("IncorrectState"));
    let out = admin.run(&[
        "iam",
        "compartment",
        "delete",
        "--compartment-id",
        &id(&nested),
        "--force",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Groups, users, membership, API keys
    let group = id(&admin.json(&[
        "iam",
        "group",
        "create",
        "--name",
        "Developers",
        "--description",
        "devs",
    ]));
    let user = id(&admin.json(&[
        "iam",
        "user",
        "create",
        "--name",
        "bob",
        "--description",
        "Bob",
    ]));
    let membership = admin.json(&[
        "iam",
        "group",
        "add-user",
        "--user-id",
        &user,
        "--group-id",
        &group,
    ]);
    assert_eq!(membership["data"]["user-id"], user.as_str());
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = openssl_key(dir.path());
    let uploaded = admin.json(&[
        "iam",
        "user",
        "api-key",
        "upload",
        "--user-id",
        &user,
        "--key-file",
        public.to_str().unwrap(),
    ]);
    let fingerprint = uploaded["data"]["fingerprint"].as_str().unwrap().to_owned();
    // The fingerprint is OCI's: MD5 of the DER public key, as `openssl md5 -c` prints it.
    let der = Command::new("openssl")
        .args(["rsa", "-pubin", "-outform", "DER", "-in"])
        .arg(&public)
        .output()
        .unwrap()
        .stdout;
    let md5 = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl rsa -pubin -outform DER -in {} 2>/dev/null | openssl md5 -c",
            public.display()
        ))
        .output()
        .unwrap();
    assert!(!der.is_empty());
    assert!(String::from_utf8_lossy(&md5.stdout).contains(&fingerprint));

    // Dynamic groups: rules are validated on write
    let dg = admin.json(&[
        "iam",
        "dynamic-group",
        "create",
        "--name",
        "oke-clusters",
        "--description",
        "clusters",
        "--matching-rule",
        &format!("ALL {{resource.type = 'cluster', resource.compartment.id = '{compartment}'}}"),
    ]);
    assert_eq!(dg["data"]["name"], "oke-clusters");
    let bad = admin.run(&[
        "iam",
        "dynamic-group",
        "create",
        "--name",
        "broken",
        "--description",
        "x",
        "--matching-rule",
        "ALL {resource.type = 'cluster'",
    ]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("InvalidParameter") && stderr.contains("column 31"),
        "{stderr}"
    );

    // The second user is denied until a policy grants access, and allowed after.
    let bob_config = dir.path().join("bob.config");
    std::fs::write(
        &bob_config,
        format!(
            "[DEFAULT]\nuser={user}\nfingerprint={fingerprint}\nkey_file={}\ntenancy={tenancy}\nregion=us-ashburn-1\n",
            private.display()
        ),
    )
    .unwrap();
    let bob = OciCli::new(&server, &bob_config);
    for args in [
        &["iam", "compartment", "list", "--compartment-id", &tenancy][..],
        &[
            "iam",
            "compartment",
            "create",
            "--compartment-id",
            &compartment,
            "--name",
            "bobs",
            "--description",
            "x",
        ][..],
        &["iam", "user", "list"][..],
    ] {
        let denied = bob.run(args);
        assert!(!denied.status.success(), "{args:?} should be denied");
        let stderr = String::from_utf8_lossy(&denied.stderr);
        assert!(stderr.contains("NotAuthorizedOrNotFound"), "{stderr}");
        assert!(stderr.contains("404"), "{stderr}");
    }
    let policy = admin.json(&[
        "iam", "policy", "create", "--compartment-id", &tenancy, "--name", "developers",
        "--description", "what developers may do",
        "--statements",
        r#"["Allow group Developers to inspect compartments in tenancy", "Allow group Developers to manage compartments in compartment team-a"]"#,
    ]);
    assert_eq!(policy["data"]["statements"].as_array().unwrap().len(), 2);
    let listed = bob.json(&["iam", "compartment", "list", "--compartment-id", &tenancy]);
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "team-a")
    );
    let made = bob.json(&[
        "iam",
        "compartment",
        "create",
        "--compartment-id",
        &compartment,
        "--name",
        "bobs",
        "--description",
        "x",
    ]);
    assert_eq!(made["data"]["compartment-id"], compartment.as_str());
    // Still no access to users: the policy does not grant it.
    assert!(!bob.run(&["iam", "user", "list"]).status.success());
    // Nor to manage compartments at the tenancy level.
    assert!(
        !bob.run(&[
            "iam",
            "compartment",
            "create",
            "--compartment-id",
            &tenancy,
            "--name",
            "top",
            "--description",
            "x",
        ])
        .status
        .success()
    );
    // The audit log records who was denied what and why.
    let log = server.log_text();
    assert!(log.contains("denied"), "{log}");
    assert!(log.contains("user bob"), "{log}");
    assert!(log.contains("COMPARTMENT_CREATE"), "{log}");

    // A malformed statement is rejected with its position.
    let bad_policy = admin.run(&[
        "iam",
        "policy",
        "create",
        "--compartment-id",
        &tenancy,
        "--name",
        "typo",
        "--description",
        "x",
        "--statements",
        r#"["Allow group Developers to inspekt compartments in tenancy"]"#,
    ]);
    let stderr = String::from_utf8_lossy(&bad_policy.stderr);
    assert!(stderr.contains("line 1, column 27"), "{stderr}");
}
