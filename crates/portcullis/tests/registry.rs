//! The registry with real clients: skopeo copies an OCI layout in and out byte for byte,
//! lists tags, inspects and deletes, authenticated with an IAM auth token; IAM policies
//! decide who may push and pull which repositories.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use portcullis_testing::{ApiClient, Server};
use serde_json::{Value, json};

/// sha256 of bytes, hex
fn sha256(bytes: &[u8]) -> String {
    portcullis_distribution::Digest::of(portcullis_distribution::Algorithm::Sha256, bytes)
        .hex()
        .to_owned()
}

/// Writes an OCI image layout with one image (a config and one gzipped tar layer)
fn oci_layout(dir: &Path, tag: &str, content: &str) -> PathBuf {
    let layout = dir.join(format!("layout-{tag}"));
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let files = dir.join(format!("files-{tag}"));
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("hello.txt"), content).unwrap();
    // A real image: the config's diff_ids name the uncompressed layer, so podman can
    // unpack it into its storage.
    let tar_file = dir.join(format!("layer-{tag}.tar"));
    let status = Command::new("tar")
        .args(["--mtime=@0", "--owner=0", "--group=0", "-cf"])
        .arg(&tar_file)
        .arg("-C")
        .arg(&files)
        .arg("hello.txt")
        .status()
        .unwrap();
    assert!(status.success());
    let tar = std::fs::read(&tar_file).unwrap();
    let gzipped = Command::new("gzip")
        .args(["-n", "-c"])
        .arg(&tar_file)
        .output()
        .unwrap();
    assert!(gzipped.status.success());
    let layer = gzipped.stdout;
    let config = json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256(&tar))]},
        "config": {"Cmd": ["/hello.txt"]}})
    .to_string();
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha256(config.as_bytes())), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{}", sha256(&layer)), "size": layer.len()}],
    })
    .to_string();
    for bytes in [config.as_bytes(), &layer, manifest.as_bytes()] {
        std::fs::write(blobs.join(sha256(bytes)), bytes).unwrap();
    }
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        layout.join("index.json"),
        json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", sha256(manifest.as_bytes())), "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag}}]})
        .to_string(),
    )
    .unwrap();
    layout
}

/// skopeo, trusting the server's CA
struct Skopeo {
    certs: PathBuf,
}

impl Skopeo {
    fn new(server: &Server, dir: &Path) -> Skopeo {
        let certs = dir.join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::copy(server.ca_bundle(), certs.join("ca.crt")).unwrap();
        Skopeo { certs }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("skopeo")
            .args(args)
            .env("HOME", self.certs.parent().unwrap())
            .output()
            .expect("skopeo is installed (Debian package skopeo)")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "skopeo {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn cert_dir(&self) -> String {
        self.certs.display().to_string()
    }
}

/// An auth token for `user` (through the Identity API)
async fn auth_token(api: &ApiClient, user: &str) -> String {
    let reply = api
        .send(
            "POST",
            &format!("/20160918/users/{user}/authTokens"),
            Some(json!({"description": "registry"})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["token"].as_str().unwrap().to_owned()
}

fn files_equal(a: &Path, b: &Path) {
    let mut left: Vec<(String, Vec<u8>)> = std::fs::read_dir(a.join("blobs/sha256"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    let mut right: Vec<(String, Vec<u8>)> = std::fs::read_dir(b.join("blobs/sha256"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    left.sort();
    right.sort();
    assert_eq!(
        left, right,
        "the copied-out layout differs from the original"
    );
}

#[test]
fn skopeo_copies_in_and_out_byte_identical_and_iam_decides_push_and_pull() {
    let server = common::server();
    let dir = tempfile::tempdir().unwrap();
    let admin = server.admin();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let portcullis_testing::RegistryLogin {
        tenancy_name,
        user_name,
        token,
    } = runtime.block_on(server.registry_login());
    let creds = format!("{tenancy_name}/{user_name}:{token}");
    let host = server.endpoint().trim_start_matches("https://").to_owned();
    let skopeo = Skopeo::new(&server, dir.path());
    let layout = oci_layout(dir.path(), "v1", "hello from portcullis");
    let image = format!("docker://{host}/team-a/app:v1");

    skopeo.ok(&[
        "copy",
        "--dest-creds",
        &creds,
        "--dest-cert-dir",
        &skopeo.cert_dir(),
        &format!("oci:{}:v1", layout.display()),
        &image,
    ]);
    let out = dir.path().join("out");
    skopeo.ok(&[
        "copy",
        "--src-creds",
        &creds,
        "--src-cert-dir",
        &skopeo.cert_dir(),
        &image,
        &format!("oci:{}:v1", out.display()),
    ]);
    files_equal(&layout, &out);

    let inspected: Value = serde_json::from_str(&skopeo.ok(&[
        "inspect",
        "--raw",
        "--creds",
        &creds,
        "--cert-dir",
        &skopeo.cert_dir(),
        &image,
    ]))
    .unwrap();
    assert_eq!(
        inspected["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    skopeo.ok(&[
        "copy",
        "--src-creds",
        &creds,
        "--dest-creds",
        &creds,
        "--src-cert-dir",
        &skopeo.cert_dir(),
        "--dest-cert-dir",
        &skopeo.cert_dir(),
        &image,
        &format!("docker://{host}/team-a/app:v2"),
    ]);
    let tags: Value = serde_json::from_str(&skopeo.ok(&[
        "list-tags",
        "--creds",
        &creds,
        "--cert-dir",
        &skopeo.cert_dir(),
        &format!("docker://{host}/team-a/app"),
    ]))
    .unwrap();
    assert_eq!(tags["Tags"], json!(["v1", "v2"]));
    skopeo.ok(&[
        "delete",
        "--creds",
        &creds,
        "--cert-dir",
        &skopeo.cert_dir(),
        &format!("docker://{host}/team-a/app:v2"),
    ]);
    // skopeo deletes by digest: every tag of that manifest goes with it, as the spec says.
    for tag in ["v1", "v2"] {
        let gone = skopeo.run(&[
            "inspect",
            "--creds",
            &creds,
            "--cert-dir",
            &skopeo.cert_dir(),
            &format!("docker://{host}/team-a/app:{tag}"),
        ]);
        assert!(!gone.status.success(), "{tag} is gone");
        assert!(String::from_utf8_lossy(&gone.stderr).contains("manifest unknown"));
    }
    skopeo.ok(&[
        "copy",
        "--dest-creds",
        &creds,
        "--dest-cert-dir",
        &skopeo.cert_dir(),
        &format!("oci:{}:v1", layout.display()),
        &image,
    ]);

    // A wrong password is refused at login.
    let wrong = skopeo.run(&[
        "inspect",
        "--creds",
        &format!("{tenancy_name}/{user_name}:nope"),
        "--cert-dir",
        &skopeo.cert_dir(),
        &image,
    ]);
    assert!(!wrong.status.success());
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        said.contains("unauthorized") || said.contains("401"),
        "{said}"
    );

    // A user with only `read repos` where the name starts with team-a: pulls there, nowhere else,
    // and no pushes.
    let oci = portcullis_testing::OciCli::new(&server, &server.config_file());
    let reader = common::kubectl::iam_user(&server, &oci, "rita", "pullers", dir.path());
    common::kubectl::allow(
        &server,
        &oci,
        "pullers",
        "Allow group pullers to read repos in tenancy where target.repo.name = /team-a*/",
    );
    let rita = format!(
        "{tenancy_name}/rita:{}",
        runtime.block_on(auth_token(&admin, &reader.id))
    );
    skopeo.ok(&[
        "copy",
        "--dest-creds",
        &creds,
        "--dest-cert-dir",
        &skopeo.cert_dir(),
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{host}/team-b/app:v1"),
    ]);
    skopeo.ok(&[
        "inspect",
        "--creds",
        &rita,
        "--cert-dir",
        &skopeo.cert_dir(),
        &image,
    ]);
    let elsewhere = skopeo.run(&[
        "inspect",
        "--creds",
        &rita,
        "--cert-dir",
        &skopeo.cert_dir(),
        &format!("docker://{host}/team-b/app:v1"),
    ]);
    assert!(
        !elsewhere.status.success(),
        "team-b is outside rita's policy"
    );
    let push = skopeo.run(&[
        "copy",
        "--dest-creds",
        &rita,
        "--dest-cert-dir",
        &skopeo.cert_dir(),
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{host}/team-a/rita:v1"),
    ]);
    assert!(!push.status.success(), "rita may not push");
    let said = String::from_utf8_lossy(&push.stderr);
    assert!(said.contains("denied"), "{said}");

    // podman: log in with the auth token, pull, retag, push, pull the copy.
    let podman = Podman::new(dir.path(), &skopeo.cert_dir());
    let login = podman.ok(&[
        "login",
        "-u",
        &format!("{tenancy_name}/{user_name}"),
        "-p",
        &token,
        &host,
    ]);
    assert!(login.contains("Login Succeeded"), "{login}");
    podman.ok(&["pull", &format!("{host}/team-a/app:v1")]);
    podman.ok(&[
        "tag",
        &format!("{host}/team-a/app:v1"),
        &format!("{host}/team-a/podman:v1"),
    ]);
    podman.ok(&["push", &format!("{host}/team-a/podman:v1")]);
    podman.ok(&[
        "rmi",
        &format!("{host}/team-a/podman:v1"),
        &format!("{host}/team-a/app:v1"),
    ]);
    podman.ok(&["pull", &format!("{host}/team-a/podman:v1")]);
    let images = podman.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(images.contains("team-a/podman:v1"), "{images}");
}

/// podman with its own storage (vfs), auth file and the server's CA
struct Podman {
    root: PathBuf,
    certs: String,
}

impl Podman {
    fn new(dir: &Path, certs: &str) -> Podman {
        Podman {
            root: dir.join("podman"),
            certs: certs.to_owned(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let mut command = Command::new("podman");
        command
            .arg("--root")
            .arg(self.root.join("storage"))
            .arg("--runroot")
            .arg(self.root.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args.first())
            .env("REGISTRY_AUTH_FILE", self.root.join("auth.json"))
            .env("HOME", &self.root);
        if matches!(args.first(), Some(&("login" | "pull" | "push"))) {
            command.args(["--cert-dir", &self.certs]);
        }
        let out = command
            .args(args.get(1..).unwrap_or_default())
            .output()
            .expect("podman is installed (Debian package podman)");
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

#[test]
fn repositories_and_images_as_oci_artifacts_public_and_immutable() {
    let server = common::server();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let portcullis_testing::RegistryLogin {
        tenancy_name,
        user_name,
        token,
    } = runtime.block_on(server.registry_login());
    let creds = format!("{tenancy_name}/{user_name}:{token}");
    let host = server.endpoint().trim_start_matches("https://").to_owned();
    let skopeo = Skopeo::new(&server, dir.path());
    let oci = portcullis_testing::OciCli::new(&server, &server.config_file());
    let tenancy = server.tenancy();

    let created = oci.json(&[
        "artifacts",
        "container",
        "repository",
        "create",
        "--compartment-id",
        &tenancy,
        "--display-name",
        "team-a/public",
        "--is-public",
        "true",
    ]);
    let repository = created["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["data"]["is-public"], true);
    let first = oci_layout(dir.path(), "one", "first image");
    let second = oci_layout(dir.path(), "two", "second image");
    let public = format!("docker://{host}/team-a/public:v1");
    skopeo.ok(&[
        "copy",
        "--dest-creds",
        &creds,
        "--dest-cert-dir",
        &skopeo.cert_dir(),
        &format!("oci:{}:one", first.display()),
        &public,
    ]);
    skopeo.ok(&[
        "copy",
        "--dest-creds",
        &creds,
        "--dest-cert-dir",
        &skopeo.cert_dir(),
        &format!("oci:{}:one", first.display()),
        &format!("docker://{host}/team-a/private:v1"),
    ]);

    // Anonymous pulls: the public repository only.
    skopeo.ok(&[
        "inspect",
        "--no-creds",
        "--cert-dir",
        &skopeo.cert_dir(),
        &public,
    ]);
    let private = skopeo.run(&[
        "inspect",
        "--no-creds",
        "--cert-dir",
        &skopeo.cert_dir(),
        &format!("docker://{host}/team-a/private:v1"),
    ]);
    assert!(!private.status.success());

    // Immutable: the tag cannot move to another image; pushing the same image again is fine.
    oci.json(&[
        "artifacts",
        "container",
        "repository",
        "update",
        "--repository-id",
        &repository,
        "--is-immutable",
        "true",
    ]);
    let moved = skopeo.run(&[
        "copy",
        "--dest-creds",
        &creds,
        "--dest-cert-dir",
        &skopeo.cert_dir(),
        &format!("oci:{}:two", second.display()),
        &public,
    ]);
    assert!(!moved.status.success());
    assert!(
        String::from_utf8_lossy(&moved.stderr).contains("immutable"),
        "{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    skopeo.ok(&[
        "copy",
        "--dest-creds",
        &creds,
        "--dest-cert-dir",
        &skopeo.cert_dir(),
        &format!("oci:{}:one", first.display()),
        &public,
    ]);

    // Images, through oci and our CLI.
    let images = oci.json(&[
        "artifacts",
        "container",
        "image",
        "list",
        "--compartment-id",
        &tenancy,
        "--repository-name",
        "team-a/public",
    ]);
    let items = images["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["version"], "v1");
    assert_eq!(items[0]["display-name"], "team-a/public:v1");
    let image = items[0]["id"].as_str().unwrap().to_owned();
    let ours = common::kubectl::portcullis(
        &server,
        &server.config_file(),
        &[
            "artifacts",
            "container",
            "image",
            "get",
            "--image-id",
            &image,
        ],
    );
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let detail: Value = serde_json::from_slice(&ours.stdout).unwrap();
    assert_eq!(
        detail["data"]["layers"].as_array().unwrap().len(),
        2,
        "config and one layer"
    );
    assert!(
        detail["data"]["pull-count"].as_u64().unwrap() >= 1,
        "{detail}"
    );
    assert!(detail["data"]["time-last-pulled"].is_string(), "{detail}");
    let got = oci.json(&[
        "artifacts",
        "container",
        "repository",
        "get",
        "--repository-id",
        &repository,
    ]);
    assert!(got["data"]["time-last-pushed"].is_string(), "{got}");
    assert_eq!(got["data"]["image-count"], 1);
    let listed = oci.json(&[
        "artifacts",
        "container",
        "repository",
        "list",
        "--compartment-id",
        &tenancy,
    ]);
    assert_eq!(listed["data"]["repository-count"], 2);
    let deleted = common::kubectl::portcullis(
        &server,
        &server.config_file(),
        &[
            "artifacts",
            "container",
            "image",
            "delete",
            "--image-id",
            &image,
            "--force",
        ],
    );
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    let gone = skopeo.run(&[
        "inspect",
        "--no-creds",
        "--cert-dir",
        &skopeo.cert_dir(),
        &public,
    ]);
    assert!(!gone.status.success());
}

#[test]
fn a_cluster_pulls_as_its_resource_principal_when_policy_allows() {
    let server = common::server();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let portcullis_testing::RegistryLogin {
        tenancy_name,
        user_name,
        token,
    } = runtime.block_on(server.registry_login());
    let host = server.endpoint().trim_start_matches("https://").to_owned();
    let skopeo = Skopeo::new(&server, dir.path());
    let layout = oci_layout(dir.path(), "c", "for the cluster");
    let image = format!("docker://{host}/apps/web:v1");
    skopeo.ok(&[
        "copy",
        "--dest-creds",
        &format!("{tenancy_name}/{user_name}:{token}"),
        "--dest-cert-dir",
        &skopeo.cert_dir(),
        &format!("oci:{}:c", layout.display()),
        &image,
    ]);

    let cluster = common::create_cluster(&server, "puller");
    let out = dir.path().join("attach");
    let attached = common::kubectl::attach(&server, &cluster, out.to_str().unwrap());
    assert!(
        attached.status.success(),
        "{}",
        String::from_utf8_lossy(&attached.stderr)
    );
    let credential: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("cluster-credential.json")).unwrap(),
    )
    .unwrap();
    let cluster_creds = format!("{cluster}:{}", credential["token"].as_str().unwrap());
    let refused = skopeo.run(&[
        "inspect",
        "--creds",
        &cluster_creds,
        "--cert-dir",
        &skopeo.cert_dir(),
        &image,
    ]);
    assert!(!refused.status.success(), "no policy yet");
    let oci = portcullis_testing::OciCli::new(&server, &server.config_file());
    common::kubectl::allow(
        &server,
        &oci,
        "cluster-pulls",
        &format!("Allow any-user to read repos in tenancy where request.user.id = '{cluster}'"),
    );
    skopeo.ok(&[
        "inspect",
        "--creds",
        &cluster_creds,
        "--cert-dir",
        &skopeo.cert_dir(),
        &image,
    ]);
    let push = skopeo.run(&[
        "copy",
        "--dest-creds",
        &cluster_creds,
        "--dest-cert-dir",
        &skopeo.cert_dir(),
        &format!("oci:{}:c", layout.display()),
        &format!("docker://{host}/apps/other:v1"),
    ]);
    assert!(!push.status.success(), "read repos does not push");
    let forged = skopeo.run(&[
        "inspect",
        "--creds",
        &format!("{cluster}:pcw1.{cluster}.forged"),
        "--cert-dir",
        &skopeo.cert_dir(),
        &image,
    ]);
    assert!(!forged.status.success());
}
