//! `portcullis kms ...`, `portcullis vault secret ...` and `portcullis secrets ...`: our CLI
//! mirrors `oci`'s commands, and the `keys` permission table decides who may do what.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::kubectl::{allow, iam_user, portcullis};
use portcullis_testing::{OciCli, Server};
use serde_json::Value;

/// Runs our CLI as `config` and parses its JSON, failing on error
fn json(server: &Server, config: &Path, args: &[&str]) -> Value {
    let out = portcullis(server, config, args);
    assert!(
        out.status.success(),
        "portcullis {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs our CLI as `config`, expecting a refusal, and returns what it printed
fn refused(server: &Server, config: &Path, args: &[&str]) -> String {
    let out = portcullis(server, config, args);
    assert!(!out.status.success(), "portcullis {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap()
        .to_owned()
}

#[test]
fn our_cli_manages_keys_crypto_and_secrets_under_the_keys_permission_table() {
    let server = common::server();
    let tenancy = server.tenancy();
    let admin = server.config_file();
    let dir = tempfile::tempdir().unwrap();
    let vault = json(
        &server,
        &admin,
        &[
            "kms",
            "management",
            "vault",
            "create",
            "--compartment-id",
            &tenancy,
            "--display-name",
            "team",
        ],
    );
    let vault_id = text(&vault, "/data/id");
    let management = text(&vault, "/data/management-endpoint");
    let crypto = text(&vault, "/data/crypto-endpoint");
    let key = json(
        &server,
        &admin,
        &[
            "--endpoint",
            &management,
            "kms",
            "management",
            "key",
            "create",
            "--compartment-id",
            &tenancy,
            "--display-name",
            "app",
            "--key-shape",
            r#"{"algorithm":"AES","length":32}"#,
        ],
    );
    let key_id = text(&key, "/data/id");
    assert_eq!(key["data"]["key-shape"]["length"], 32);
    let rsa = json(
        &server,
        &admin,
        &[
            "--endpoint",
            &management,
            "kms",
            "management",
            "key",
            "create",
            "--compartment-id",
            &tenancy,
            "--display-name",
            "signer",
            "--key-shape",
            r#"{"algorithm":"RSA","length":256}"#,
        ],
    );
    let rsa_id = text(&rsa, "/data/id");

    // A user allowed to `use keys` encrypts, decrypts and signs, but cannot rotate or disable.
    let oci = OciCli::new(&server, &server.config_file());
    let carol = iam_user(&server, &oci, "carol", "crypto-users", dir.path());
    allow(
        &server,
        &oci,
        "crypto-users-use-keys",
        "Allow group crypto-users to use keys in tenancy",
    );
    let plaintext = STANDARD.encode("attack at dawn");
    let encrypted = json(
        &server,
        &carol.config,
        &[
            "--endpoint",
            &crypto,
            "kms",
            "crypto",
            "encrypt",
            "--key-id",
            &key_id,
            "--plaintext",
            &plaintext,
        ],
    );
    let decrypted = json(
        &server,
        &carol.config,
        &[
            "--endpoint",
            &crypto,
            "kms",
            "crypto",
            "decrypt",
            "--key-id",
            &key_id,
            "--ciphertext",
            &text(&encrypted, "/data/ciphertext"),
        ],
    );
    assert_eq!(text(&decrypted, "/data/plaintext"), plaintext);
    let signed = json(
        &server,
        &carol.config,
        &[
            "--endpoint",
            &crypto,
            "kms",
            "crypto",
            "sign",
            "--key-id",
            &rsa_id,
            "--message",
            &plaintext,
            "--signing-algorithm",
            "SHA_384_RSA_PKCS1_V1_5",
        ],
    );
    let verified = json(
        &server,
        &carol.config,
        &[
            "--endpoint",
            &crypto,
            "kms",
            "crypto",
            "verified-data",
            "verify",
            "--key-id",
            &rsa_id,
            "--key-version-id",
            &text(&signed, "/data/key-version-id"),
            "--message",
            &plaintext,
            "--signature",
            &text(&signed, "/data/signature"),
            "--signing-algorithm",
            "SHA_384_RSA_PKCS1_V1_5",
        ],
    );
    assert_eq!(verified["data"]["is-signature-valid"], true);
    let dek = json(
        &server,
        &carol.config,
        &[
            "--endpoint",
            &crypto,
            "kms",
            "crypto",
            "generate-data-encryption-key",
            "--key-id",
            &key_id,
            "--key-shape",
            r#"{"algorithm":"AES","length":32}"#,
        ],
    );
    assert!(
        dek["data"]["plaintext"].is_null(),
        "no plaintext unless asked"
    );
    for forbidden in [
        vec![
            "kms",
            "management",
            "key-version",
            "create",
            "--key-id",
            key_id.as_str(),
        ],
        vec![
            "kms",
            "management",
            "key",
            "disable",
            "--key-id",
            key_id.as_str(),
        ],
        vec![
            "kms",
            "management",
            "key",
            "schedule-deletion",
            "--key-id",
            key_id.as_str(),
        ],
    ] {
        let mut args = vec!["--endpoint", management.as_str()];
        args.extend(forbidden.iter().copied());
        let said = refused(&server, &carol.config, &args);
        assert!(
            said.contains("NotAuthorizedOrNotFound"),
            "{forbidden:?}: {said}"
        );
    }

    // Secrets: the admin stores one; carol cannot read it until a policy says so.
    let secret = json(
        &server,
        &admin,
        &[
            "vault",
            "secret",
            "create-base64",
            "--compartment-id",
            &tenancy,
            "--secret-name",
            "api-token",
            "--vault-id",
            &vault_id,
            "--key-id",
            &key_id,
            "--secret-content-content",
            &plaintext,
        ],
    );
    let secret_id = text(&secret, "/data/id");
    let said = refused(
        &server,
        &carol.config,
        &["secrets", "secret-bundle", "get", "--secret-id", &secret_id],
    );
    assert!(said.contains("NotAuthorizedOrNotFound"), "{said}");
    allow(
        &server,
        &oci,
        "crypto-users-read-bundles",
        "Allow group crypto-users to read secret-bundles in tenancy where target.secret.name = 'api-token'",
    );
    let bundle = json(
        &server,
        &carol.config,
        &[
            "secrets",
            "secret-bundle",
            "get-secret-bundle-by-name",
            "--secret-name",
            "api-token",
            "--vault-id",
            &vault_id,
        ],
    );
    assert_eq!(
        text(&bundle, "/data/secret-bundle-content/content"),
        plaintext
    );
    json(
        &server,
        &admin,
        &[
            "vault",
            "secret",
            "update-base64",
            "--secret-id",
            &secret_id,
            "--secret-content-content",
            &STANDARD.encode("v2"),
            "--secret-content-stage",
            "PENDING",
        ],
    );
    let current = json(
        &server,
        &admin,
        &["secrets", "secret-bundle", "get", "--secret-id", &secret_id],
    );
    assert_eq!(
        current["data"]["version-number"], 1,
        "a PENDING version is not current yet"
    );
    json(
        &server,
        &admin,
        &[
            "vault",
            "secret",
            "update-base64",
            "--secret-id",
            &secret_id,
            "--current-version-number",
            "2",
        ],
    );
    let promoted = json(
        &server,
        &admin,
        &["secrets", "secret-bundle", "get", "--secret-id", &secret_id],
    );
    assert_eq!(promoted["data"]["version-number"], 2);
    let previous = json(
        &server,
        &admin,
        &[
            "secrets",
            "secret-bundle",
            "get",
            "--secret-id",
            &secret_id,
            "--stage",
            "PREVIOUS",
        ],
    );
    assert_eq!(previous["data"]["version-number"], 1);
}
