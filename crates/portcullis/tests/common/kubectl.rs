//! kubectl, and IAM users with their own CLI configs, for the tests that drive real kubectl.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use portcullis_testing::{OciCli, Server};

/// kubectl with its own kubeconfig
pub(crate) struct Kubectl {
    /// The kubeconfig file
    pub(crate) kubeconfig: PathBuf,
}

pub(crate) fn path_with_binary() -> String {
    let dir = super::binary().parent().unwrap().display().to_string();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

impl Kubectl {
    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new(
            portcullis_testing::find_program("kubectl").expect("kubectl is installed"),
        );
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .env("PATH", path_with_binary())
            .env_remove("REQUESTS_CA_BUNDLE")
            .stdin(std::process::Stdio::null());
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub(crate) fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "kubectl {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// A copy of `base`'s kubeconfig whose current user holds `token`, made as OKE's procedure does
pub(crate) fn with_token(base: &Kubectl, token: &str, file: &Path) -> Kubectl {
    std::fs::copy(&base.kubeconfig, file).unwrap();
    let kubectl = Kubectl {
        kubeconfig: file.to_path_buf(),
    };
    kubectl.ok(&[
        "config",
        "set-credentials",
        "kubeconfig-sa",
        &format!("--token={token}"),
    ]);
    kubectl.ok(&["config", "set-context", "--current", "--user=kubeconfig-sa"]);
    kubectl
}

/// Runs our CLI with a config file
pub(crate) fn portcullis(_server: &Server, config: &Path, args: &[&str]) -> Output {
    Command::new(super::binary())
        .arg("--config-file")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

/// A kubeconfig made by `ce cluster create-kubeconfig` with `config`
pub(crate) fn kubeconfig_for(server: &Server, config: &Path, cluster: &str, dir: &Path) -> Kubectl {
    let owner = config.file_stem().unwrap().to_string_lossy();
    let file = dir.join(format!(
        "kubeconfig-{owner}-{}",
        &cluster[cluster.len() - 6..]
    ));
    let out = portcullis(
        server,
        config,
        &[
            "ce",
            "cluster",
            "create-kubeconfig",
            "--cluster-id",
            cluster,
            "--file",
            file.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Kubectl { kubeconfig: file }
}

/// An IAM user in a group, with an API key and a CLI config of their own
pub(crate) struct IamUser {
    /// The user's OCID
    pub(crate) id: String,
    /// The group's OCID
    pub(crate) group: String,
    /// Their CLI config file
    pub(crate) config: PathBuf,
}

/// Creates `name` in a new group `group` (through the official CLI), uploads an API key and
/// writes a config for them
pub(crate) fn iam_user(
    server: &Server,
    admin: &OciCli,
    name: &str,
    group: &str,
    dir: &Path,
) -> IamUser {
    let id_of = |value: serde_json::Value| value["data"]["id"].as_str().unwrap().to_owned();
    let group = id_of(admin.json(&[
        "iam",
        "group",
        "create",
        "--name",
        group,
        "--description",
        "d",
    ]));
    let id = id_of(admin.json(&[
        "iam",
        "user",
        "create",
        "--name",
        name,
        "--description",
        "d",
    ]));
    admin.json(&[
        "iam",
        "group",
        "add-user",
        "--user-id",
        &id,
        "--group-id",
        &group,
    ]);
    let key = portcullis_auth::ApiPrivateKey::generate().unwrap();
    let key_file = dir.join(format!("{name}.pem"));
    std::fs::write(&key_file, key.to_pkcs8_pem()).unwrap();
    let public_file = dir.join(format!("{name}.pub"));
    std::fs::write(&public_file, key.public_key().unwrap().to_pem()).unwrap();
    let fingerprint = admin.json(&[
        "iam",
        "user",
        "api-key",
        "upload",
        "--user-id",
        &id,
        "--key-file",
        public_file.to_str().unwrap(),
    ])["data"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let config = dir.join(format!("{name}.config"));
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nuser={id}\nfingerprint={fingerprint}\nkey_file={}\ntenancy={}\nregion=us-ashburn-1\nendpoint={}\ncert_bundle={}\n",
            key_file.display(),
            server.tenancy(),
            server.endpoint(),
            server.ca_bundle().display()
        ),
    )
    .unwrap();
    IamUser { id, group, config }
}

/// Attaches a policy with one statement to the tenancy, through the official CLI
pub(crate) fn allow(server: &Server, admin: &OciCli, name: &str, statement: &str) {
    let statements = serde_json::json!([statement]).to_string();
    admin.json(&[
        "iam",
        "policy",
        "create",
        "--compartment-id",
        &server.tenancy(),
        "--name",
        name,
        "--description",
        "d",
        "--statements",
        &statements,
    ]);
}

/// `ce cluster attach --out DIR` as the admin
pub(crate) fn attach(
    server: &portcullis_testing::Server,
    cluster: &str,
    out: &str,
) -> std::process::Output {
    portcullis(
        server,
        &server.config_file(),
        &[
            "ce",
            "cluster",
            "attach",
            "--cluster-id",
            cluster,
            "--out",
            out,
        ],
    )
}
