//! Vaults, keys, crypto and vault secrets through the official `oci` CLI, cross-checked
//! with `openssl`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_testing::OciCli;
use serde_json::Value;

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} missing in {value}"))
        .to_owned()
}

fn encrypt(crypto: &OciCli, key: &str, plaintext: &[u8]) -> Value {
    crypto.json(&[
        "kms",
        "crypto",
        "encrypt",
        "--key-id",
        key,
        "--plaintext",
        &b64(plaintext),
    ])
}

/// Decrypts and returns the plaintext, base64
fn decrypt(crypto: &OciCli, key: &str, ciphertext: &str) -> String {
    let decrypted = crypto.json(&[
        "kms",
        "crypto",
        "decrypt",
        "--key-id",
        key,
        "--ciphertext",
        ciphertext,
    ]);
    text(&decrypted, "/data/plaintext")
}

/// Creates a key of `shape` in the vault and returns (key id, current version id)
fn create_key(management: &OciCli, tenancy: &str, name: &str, shape: &str) -> (String, String) {
    let key = management.json(&[
        "kms",
        "management",
        "key",
        "create",
        "--compartment-id",
        tenancy,
        "--display-name",
        name,
        "--key-shape",
        shape,
        "--protection-mode",
        "SOFTWARE",
    ]);
    assert_eq!(key["data"]["lifecycle-state"], "ENABLED", "{key}");
    (
        text(&key, "/data/id"),
        text(&key, "/data/current-key-version"),
    )
}

#[test]
fn oci_cli_keys_crypto_and_secrets_round_trip() {
    let server = common::server();
    let tenancy = server.tenancy();
    let oci = OciCli::new(&server, &server.config_file());
    let vault = oci.json(&[
        "kms",
        "management",
        "vault",
        "create",
        "--compartment-id",
        &tenancy,
        "--display-name",
        "v1",
        "--vault-type",
        "DEFAULT",
    ]);
    let vault_id = text(&vault, "/data/id");
    let management = oci.at(&text(&vault, "/data/management-endpoint"));
    let crypto = oci.at(&text(&vault, "/data/crypto-endpoint"));

    // AES: encrypt, decrypt, data keys.
    let (aes, aes_version) = create_key(
        &management,
        &tenancy,
        "aes",
        r#"{"algorithm":"AES","length":32}"#,
    );
    let encrypted = encrypt(&crypto, &aes, b"hunter2");
    assert_eq!(text(&encrypted, "/data/key-version-id"), aes_version);
    let ciphertext = text(&encrypted, "/data/ciphertext");
    assert_eq!(decrypt(&crypto, &aes, &ciphertext), b64(b"hunter2"));
    let dek = crypto.json(&[
        "kms",
        "crypto",
        "generate-data-encryption-key",
        "--key-id",
        &aes,
        "--include-plaintext-key",
        "true",
        "--key-shape",
        r#"{"algorithm":"AES","length":32}"#,
    ]);
    let unwrapped = crypto.json(&[
        "kms",
        "crypto",
        "decrypt",
        "--key-id",
        &aes,
        "--ciphertext",
        &text(&dek, "/data/ciphertext"),
    ]);
    assert_eq!(
        text(&unwrapped, "/data/plaintext"),
        text(&dek, "/data/plaintext")
    );
    assert_eq!(
        STANDARD
            .decode(text(&dek, "/data/plaintext"))
            .unwrap()
            .len(),
        32
    );

    // Sign and verify, one algorithm of each family, against the vault's crypto endpoint.
    let (rsa, rsa_version) = create_key(
        &management,
        &tenancy,
        "rsa",
        r#"{"algorithm":"RSA","length":256}"#,
    );
    let (ec, ec_version) = create_key(
        &management,
        &tenancy,
        "ec",
        r#"{"algorithm":"ECDSA","length":32,"curveId":"NIST_P256"}"#,
    );
    for (key, version, algorithm) in [
        (&rsa, &rsa_version, "SHA_256_RSA_PKCS_PSS"),
        (&rsa, &rsa_version, "SHA_224_RSA_PKCS1_V1_5"),
        (&ec, &ec_version, "ECDSA_SHA_256"),
    ] {
        let message = b64(b"sign me");
        let signed = crypto.json(&[
            "kms",
            "crypto",
            "signed-data",
            "sign",
            "--key-id",
            key,
            "--message",
            &message,
            "--signing-algorithm",
            algorithm,
        ]);
        assert_eq!(&text(&signed, "/data/key-version-id"), version);
        let verified = crypto.json(&[
            "kms",
            "crypto",
            "verified-data",
            "verify",
            "--key-id",
            key,
            "--key-version-id",
            version,
            "--message",
            &message,
            "--signature",
            &text(&signed, "/data/signature"),
            "--signing-algorithm",
            algorithm,
        ]);
        assert_eq!(verified["data"]["is-signature-valid"], true, "{algorithm}");
        let forged = crypto.json(&[
            "kms",
            "crypto",
            "verified-data",
            "verify",
            "--key-id",
            key,
            "--key-version-id",
            version,
            "--message",
            &b64(b"something else"),
            "--signature",
            &text(&signed, "/data/signature"),
            "--signing-algorithm",
            algorithm,
        ]);
        assert_eq!(forged["data"]["is-signature-valid"], false, "{algorithm}");
    }

    // Vault secrets: create, read the bundle by id and by name, update, read by stage.
    let secret = oci.json(&[
        "vault",
        "secret",
        "create-base64",
        "--compartment-id",
        &tenancy,
        "--secret-name",
        "db-password",
        "--vault-id",
        &vault_id,
        "--key-id",
        &aes,
        "--secret-content-content",
        &b64(b"first"),
    ]);
    let secret_id = text(&secret, "/data/id");
    let bundle = oci.json(&["secrets", "secret-bundle", "get", "--secret-id", &secret_id]);
    assert_eq!(
        text(&bundle, "/data/secret-bundle-content/content"),
        b64(b"first")
    );
    assert_eq!(bundle["data"]["version-number"], 1);
    oci.json(&[
        "vault",
        "secret",
        "update-base64",
        "--secret-id",
        &secret_id,
        "--secret-content-content",
        &b64(b"second"),
    ]);
    let by_name = oci.json(&[
        "secrets",
        "secret-bundle",
        "get-secret-bundle-by-name",
        "--secret-name",
        "db-password",
        "--vault-id",
        &vault_id,
    ]);
    assert_eq!(
        text(&by_name, "/data/secret-bundle-content/content"),
        b64(b"second")
    );
    assert_eq!(by_name["data"]["version-number"], 2);
    let previous = oci.json(&[
        "secrets",
        "secret-bundle",
        "get",
        "--secret-id",
        &secret_id,
        "--stage",
        "PREVIOUS",
    ]);
    assert_eq!(
        text(&previous, "/data/secret-bundle-content/content"),
        b64(b"first")
    );

    // Rotation: the new version encrypts; the old ciphertext still decrypts.
    let rotated = management.json(&[
        "kms",
        "management",
        "key-version",
        "create",
        "--key-id",
        &aes,
    ]);
    let new_version = text(&rotated, "/data/id");
    assert_ne!(new_version, aes_version);
    let again = encrypt(&crypto, &aes, b"x");
    assert_eq!(text(&again, "/data/key-version-id"), new_version);
    assert_eq!(decrypt(&crypto, &aes, &ciphertext), b64(b"hunter2"));
    let versions = management.json(&["kms", "management", "key-version", "list", "--key-id", &aes]);
    assert_eq!(versions["data"].as_array().unwrap().len(), 2);
}

/// The signed API client, answering the body of 200s and failing the test otherwise
struct Api(portcullis_testing::ApiClient);

impl Api {
    async fn post_json(&self, path: &str, body: &Value) -> Value {
        let reply = self.0.send("POST", path, Some(body.clone())).await;
        assert_eq!(reply.status, 200, "POST {path}: {}", reply.body);
        reply.body
    }

    async fn get_json(&self, path: &str) -> Value {
        let reply = self.0.send("GET", path, None).await;
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
        reply.body
    }
}

/// Runs openssl, failing the test with its stderr if it fails
fn openssl(args: &[&str], dir: &std::path::Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn signatures_verify_with_openssl_and_openssl_ciphertexts_decrypt() {
    let server = common::server();
    let tenancy = server.tenancy();
    let api = Api(server.admin());
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let vault = api
            .post_json("/20180608/vaults", &serde_json::json!({"compartmentId": tenancy, "displayName": "x"}))
            .await;
        let vault_id = vault["id"].as_str().unwrap().to_owned();
        let management = format!("/kms/{vault_id}/management");
        let crypto = format!("/kms/{vault_id}/crypto");
        let shapes = [
            (serde_json::json!({"algorithm": "RSA", "length": 256}), vec![
                ("SHA_224_RSA_PKCS_PSS", "sha224", true), ("SHA_256_RSA_PKCS_PSS", "sha256", true),
                ("SHA_384_RSA_PKCS_PSS", "sha384", true), ("SHA_512_RSA_PKCS_PSS", "sha512", true),
                ("SHA_224_RSA_PKCS1_V1_5", "sha224", false), ("SHA_256_RSA_PKCS1_V1_5", "sha256", false),
                ("SHA_384_RSA_PKCS1_V1_5", "sha384", false), ("SHA_512_RSA_PKCS1_V1_5", "sha512", false),
            ]),
            (serde_json::json!({"algorithm": "ECDSA", "length": 32, "curveId": "NIST_P256"}), vec![("ECDSA_SHA_256", "sha256", false)]),
            (serde_json::json!({"algorithm": "ECDSA", "length": 48, "curveId": "NIST_P384"}), vec![("ECDSA_SHA_384", "sha384", false)]),
            (serde_json::json!({"algorithm": "ECDSA", "length": 66, "curveId": "NIST_P521"}), vec![("ECDSA_SHA_512", "sha512", false)]),
        ];
        std::fs::write(dir.path().join("message"), b"the message openssl checks").unwrap();
        for (index, (shape, algorithms)) in shapes.iter().enumerate() {
            let key = api
                .post_json(
                    &format!("{management}/20180608/keys"),
                    &serde_json::json!({"compartmentId": tenancy, "displayName": format!("k{index}"), "keyShape": shape, "protectionMode": "SOFTWARE"}),
                )
                .await;
            let key_id = key["id"].as_str().unwrap().to_owned();
            let version_id = key["currentKeyVersion"].as_str().unwrap().to_owned();
            let version = api
                .get_json(&format!("{management}/20180608/keys/{key_id}/keyVersions/{version_id}"))
                .await;
            let public = format!("public{index}.pem");
            std::fs::write(dir.path().join(&public), version["publicKey"].as_str().unwrap()).unwrap();
            for (algorithm, digest, pss) in algorithms {
                let signed = api
                    .post_json(
                        &format!("{crypto}/20180608/sign"),
                        &serde_json::json!({"keyId": key_id, "message": b64(b"the message openssl checks"), "signingAlgorithm": algorithm}),
                    )
                    .await;
                let signature = STANDARD.decode(signed["signature"].as_str().unwrap()).unwrap();
                let file = format!("{algorithm}.sig");
                std::fs::write(dir.path().join(&file), signature).unwrap();
                let digest_flag = format!("-{digest}");
                let mut args = vec!["dgst", digest_flag.as_str(), "-verify", public.as_str(), "-signature", file.as_str()];
                if *pss {
                    args.extend(["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]);
                }
                args.push("message");
                let out = openssl(&args, dir.path());
                assert!(String::from_utf8_lossy(&out).contains("Verified OK"), "{algorithm}");
            }
            if shape["algorithm"] == "RSA" {
                // RSA-OAEP made by openssl decrypts through the API, with both hashes.
                std::fs::write(dir.path().join("plain"), b"from openssl").unwrap();
                for (algorithm, oaep) in [("RSA_OAEP_SHA_256", "sha256"), ("RSA_OAEP_SHA_1", "sha1")] {
                    let md = format!("rsa_oaep_md:{oaep}");
                    let mgf = format!("rsa_mgf1_md:{oaep}");
                    let ciphertext = openssl(
                        &["pkeyutl", "-encrypt", "-pubin", "-inkey", &public, "-in", "plain",
                          "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", &md, "-pkeyopt", &mgf],
                        dir.path(),
                    );
                    let decrypted = api
                        .post_json(
                            &format!("{crypto}/20180608/decrypt"),
                            &serde_json::json!({"keyId": key_id, "ciphertext": b64(&ciphertext), "encryptionAlgorithm": algorithm}),
                        )
                        .await;
                    assert_eq!(decrypted["plaintext"], b64(b"from openssl"), "{algorithm}");
                }
            }
        }
    });
}

#[test]
fn bad_crypto_input_gets_oci_errors() {
    let server = common::server();
    let tenancy = server.tenancy();
    let api = server.admin();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let send = |method: &'static str, path: String, body: Value| {
            let api = &api;
            async move { api.send(method, &path, Some(body)).await }
        };
        let vault = send("POST", "/20180608/vaults".into(), serde_json::json!({"compartmentId": tenancy, "displayName": "bad"})).await;
        let management = format!("/kms/{}/management", vault.body["id"].as_str().unwrap());
        let crypto = format!("/kms/{}/crypto", vault.body["id"].as_str().unwrap());
        let create = |shape: Value, mode: &'static str| {
            send("POST", format!("{management}/20180608/keys"), serde_json::json!({"compartmentId": tenancy, "displayName": "k", "keyShape": shape, "protectionMode": mode}))
        };
        let expect = |reply: portcullis_testing::ApiReply, status: u16, code: &str, words: &str| {
            assert_eq!(reply.status, status, "{}", reply.body);
            assert_eq!(reply.body["code"], code, "{}", reply.body);
            let message = reply.body["message"].as_str().unwrap();
            assert!(message.contains(words), "{message}");
        };

        // Key shapes and protection modes.
        expect(create(serde_json::json!({"algorithm": "AES", "length": 64}), "SOFTWARE").await, 400, "InvalidParameter", "16, 24 or 32");
        expect(create(serde_json::json!({"algorithm": "RSA", "length": 128}), "SOFTWARE").await, 400, "InvalidParameter", "256, 384 or 512");
        expect(create(serde_json::json!({"algorithm": "DES", "length": 8}), "SOFTWARE").await, 400, "InvalidParameter", "unknown variant `DES`");
        expect(create(serde_json::json!({"algorithm": "AES", "length": 32}), "HSM").await, 400, "InvalidParameter", "HSM");
        let aes = create(serde_json::json!({"algorithm": "AES", "length": 32}), "SOFTWARE").await;
        let aes_id = aes.body["id"].as_str().unwrap().to_owned();
        let first = aes.body["currentKeyVersion"].as_str().unwrap().to_owned();
        let ec = create(serde_json::json!({"algorithm": "ECDSA", "length": 32}), "SOFTWARE").await;
        let ec_id = ec.body["id"].as_str().unwrap().to_owned();
        assert_eq!(ec.body["keyShape"]["curveId"], "NIST_P256");

        // Sizes.
        let big = b64(&[0u8; 4097]);
        expect(send("POST", format!("{crypto}/20180608/encrypt"), serde_json::json!({"keyId": aes_id, "plaintext": big})).await, 400, "InvalidParameter", "at most 4096");
        expect(send("POST", format!("{crypto}/20180608/sign"), serde_json::json!({"keyId": ec_id, "message": big, "signingAlgorithm": "ECDSA_SHA_256"})).await, 400, "InvalidParameter", "at most 4096");
        expect(send("POST", format!("{crypto}/20180608/sign"), serde_json::json!({"keyId": ec_id, "message": b64(&[1; 31]), "messageType": "DIGEST", "signingAlgorithm": "ECDSA_SHA_256"})).await, 400, "InvalidParameter", "32-byte digest");
        expect(send("POST", format!("{crypto}/20180608/encrypt"), serde_json::json!({"keyId": aes_id, "plaintext": "%%%"})).await, 400, "InvalidParameter", "base64");

        // Unknown algorithms and the wrong family.
        expect(send("POST", format!("{crypto}/20180608/sign"), serde_json::json!({"keyId": ec_id, "message": b64(b"m"), "signingAlgorithm": "SHA_999_MAGIC"})).await, 400, "InvalidParameter", "SHA_999_MAGIC");
        expect(send("POST", format!("{crypto}/20180608/encrypt"), serde_json::json!({"keyId": ec_id, "plaintext": b64(b"m")})).await, 400, "InvalidParameter", "only sign and verify");
        expect(send("POST", format!("{crypto}/20180608/sign"), serde_json::json!({"keyId": aes_id, "message": b64(b"m"), "signingAlgorithm": "ECDSA_SHA_256"})).await, 400, "InvalidParameter", "encrypt and decrypt");
        expect(send("POST", format!("{crypto}/20180608/verify"), serde_json::json!({"keyId": ec_id, "message": b64(b"m"), "signature": b64(b"s"), "signingAlgorithm": "ECDSA_SHA_256"})).await, 400, "MissingParameter", "keyVersionId");

        // Tampered ciphertexts and the wrong key version.
        let encrypted = send("POST", format!("{crypto}/20180608/encrypt"), serde_json::json!({"keyId": aes_id, "plaintext": b64(b"secret")})).await;
        let ciphertext = STANDARD.decode(encrypted.body["ciphertext"].as_str().unwrap()).unwrap();
        let mut tampered = ciphertext.clone();
        *tampered.last_mut().unwrap() ^= 1;
        expect(send("POST", format!("{crypto}/20180608/decrypt"), serde_json::json!({"keyId": aes_id, "ciphertext": b64(&tampered)})).await, 400, "InvalidParameter", "ciphertext");
        expect(send("POST", format!("{crypto}/20180608/decrypt"), serde_json::json!({"keyId": aes_id, "ciphertext": b64(b"not a ciphertext at all")})).await, 400, "InvalidParameter", "ciphertext");
        let rotated = send("POST", format!("{management}/20180608/keys/{aes_id}/keyVersions"), Value::Null).await;
        let second = rotated.body["id"].as_str().unwrap().to_owned();
        expect(send("POST", format!("{crypto}/20180608/decrypt"), serde_json::json!({"keyId": aes_id, "ciphertext": b64(&ciphertext), "keyVersionId": second})).await, 400, "InvalidParameter", &first);
        expect(send("POST", format!("{crypto}/20180608/encrypt"), serde_json::json!({"keyId": aes_id, "plaintext": b64(b"x"), "keyVersionId": first})).await, 400, "InvalidParameter", "only the current version");
        // A ciphertext of one key does not decrypt under another.
        let other = create(serde_json::json!({"algorithm": "AES", "length": 32}), "SOFTWARE").await;
        expect(send("POST", format!("{crypto}/20180608/decrypt"), serde_json::json!({"keyId": other.body["id"], "ciphertext": b64(&ciphertext)})).await, 400, "InvalidParameter", "ciphertext");
        // Malformed JSON and unknown keys.
        let raw = api.send_raw("POST", &format!("{crypto}/20180608/encrypt"), Some(b"{not json".to_vec()), &[]).await;
        assert_eq!(raw.status, 400);
        assert_eq!(raw.body["code"], "CannotParseRequest");
        expect(send("POST", format!("{crypto}/20180608/encrypt"), serde_json::json!({"keyId": "ocid1.key.oc1..nope", "plaintext": b64(b"x")})).await, 404, "NotAuthorizedOrNotFound", "not found");
    });
}

#[test]
fn bad_secret_vault_and_deletion_input_gets_oci_errors() {
    let server = common::server();
    let tenancy = server.tenancy();
    let api = server.admin();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let expect = |reply: portcullis_testing::ApiReply, code: &str, words: &str| {
            assert_eq!(reply.status, 400, "{}", reply.body);
            assert_eq!(reply.body["code"], code, "{}", reply.body);
            let message = reply.body["message"].as_str().unwrap();
            assert!(message.contains(words), "{message}");
        };
        let post = |path: String, body: Value| {
            let api = &api;
            async move { api.send("POST", &path, Some(body)).await }
        };
        expect(post("/20180608/vaults".into(), serde_json::json!({"compartmentId": tenancy, "displayName": "v", "vaultType": "VIRTUAL_PRIVATE"})).await, "InvalidParameter", "VIRTUAL_PRIVATE");
        expect(post("/20180608/vaults".into(), serde_json::json!({"compartmentId": tenancy, "displayName": "v", "vaultType": "SHARED"})).await, "InvalidParameter", "vaultType");
        let vault = post("/20180608/vaults".into(), serde_json::json!({"compartmentId": tenancy, "displayName": "v"})).await.body;
        let vault_id = vault["id"].as_str().unwrap().to_owned();
        let management = format!("/kms/{vault_id}/management");
        let key = post(format!("{management}/20180608/keys"), serde_json::json!({"compartmentId": tenancy, "displayName": "k", "keyShape": {"algorithm": "AES", "length": 32}})).await.body;
        let key_id = key["id"].as_str().unwrap().to_owned();
        expect(post("/20180608/keys".into(), serde_json::json!({"compartmentId": tenancy, "displayName": "k", "keyShape": {"algorithm": "AES", "length": 32}})).await, "InvalidParameter", "managementEndpoint");
        let soon = jiff::Timestamp::now().saturating_add(jiff::SignedDuration::from_hours(48)).unwrap().to_string();
        expect(post(format!("{management}/20180608/keys/{key_id}/actions/scheduleDeletion"), serde_json::json!({"timeOfDeletion": soon})).await, "InvalidParameter", "between 7 and 30 days");
        expect(post(format!("{management}/20180608/keys/{key_id}/actions/scheduleDeletion"), serde_json::json!({"timeOfDeletion": "next tuesday"})).await, "InvalidParameter", "RFC 3339");

        let secret = |name: &str, content: Value| {
            serde_json::json!({"compartmentId": tenancy, "vaultId": vault_id, "keyId": key_id, "secretName": name, "secretContent": content})
        };
        expect(post("/20180608/secrets".into(), secret("s", serde_json::json!({"contentType": "BASE64", "content": "%%%"}))).await, "InvalidParameter", "base64");
        expect(post("/20180608/secrets".into(), secret("has space", serde_json::json!({"contentType": "BASE64", "content": b64(b"x")}))).await, "InvalidParameter", "secretName");
        expect(post("/20180608/secrets".into(), secret("s", serde_json::json!({"contentType": "BASE64", "content": b64(b"x"), "stage": "OLD"}))).await, "InvalidParameter", "stage");
        expect(post("/20180608/secrets".into(), serde_json::json!({"compartmentId": tenancy, "vaultId": vault_id, "keyId": key_id, "secretContent": {"content": b64(b"x")}})).await, "MissingParameter", "secretName");
        let created = post("/20180608/secrets".into(), secret("ok", serde_json::json!({"contentType": "BASE64", "content": b64(b"x")}))).await;
        assert_eq!(created.status, 200, "{}", created.body);
        let id = created.body["id"].as_str().unwrap().to_owned();
        for query in ["stage=CURRENT&versionNumber=1", "stage=NEVER", "versionNumber=0"] {
            let reply = api.send("GET", &format!("/20190301/secretbundles/{id}?{query}"), None).await;
            expect(reply, "InvalidParameter", "");
        }
        let missing = api.send("GET", &format!("/20190301/secretbundles/{id}?versionNumber=9"), None).await;
        assert_eq!(missing.status, 404, "{}", missing.body);
    });
}
