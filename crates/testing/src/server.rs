//! Driving the real `portcullis` binary: start it on a free port with its own data
//! directory, talk to it with signed requests or the official `oci` CLI, kill it, restart it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use portcullis_auth::{ApiPrivateKey, RequestSigner};

fn failed(message: &str) -> ! {
    #[expect(clippy::panic, reason = "test support: a broken setup fails the test")]
    {
        panic!("{message}")
    }
}

/// How to start a server
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// `--store etcd --etcd-endpoints <this>` when set
    pub etcd: Option<(String, String)>,
    /// Extra arguments
    pub args: Vec<String>,
    /// A command to run the server under, such as `faketime -f +11m`
    pub wrapper: Vec<String>,
}

/// A running `portcullis serve`
#[derive(Debug)]
pub struct Server {
    binary: PathBuf,
    data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
    child: Option<Child>,
    endpoint: String,
    options: ServerOptions,
    log: PathBuf,
}

/// What `docker login`, `skopeo --creds` and the registry's token endpoint take for the
/// server's admin: the tenancy and user names and a fresh auth token
#[derive(Clone, Debug)]
pub struct RegistryLogin {
    /// The tenancy's name
    pub tenancy_name: String,
    /// The admin user's name
    pub user_name: String,
    /// A new auth token of the admin
    pub token: String,
}

impl RegistryLogin {
    /// `<tenancy>/<user>:<auth token>`
    pub fn creds(&self) -> String {
        format!("{}/{}:{}", self.tenancy_name, self.user_name, self.token)
    }
}

impl Server {
    /// Starts a server with a fresh data directory
    pub fn start(binary: &Path, options: ServerOptions) -> Server {
        Server::start_in(binary, options, &std::env::temp_dir())
    }

    /// Starts a server whose data directory is under `parent` (`/dev/shm` for a benchmark
    /// that must leave the disk out)
    pub fn start_in(binary: &Path, options: ServerOptions, parent: &Path) -> Server {
        let dir = tempfile::tempdir_in(parent).unwrap_or_else(|e| failed(&format!("tempdir: {e}")));
        let mut server = Server {
            binary: binary.to_path_buf(),
            data_dir: dir.path().join("data"),
            log: dir.path().join("server.log"),
            _dir: Some(dir),
            child: None,
            endpoint: String::new(),
            options,
        };
        server.launch();
        server
    }

    fn launch(&mut self) {
        let ready = self.data_dir.with_file_name("ready");
        let _ = std::fs::remove_file(&ready);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| failed(&format!("log file: {e}")));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| failed(&format!("log file: {e}")));
        let mut command = match self.options.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&self.binary);
                c
            }
            None => Command::new(&self.binary),
        };
        // A restart keeps the port: cluster endpoints and token issuers are URLs that include it.
        let port = self
            .endpoint
            .rsplit_once(':')
            .map_or("0", |(_, port)| port)
            .to_owned();
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--port")
            .arg(&port)
            .arg("--ready-file")
            .arg(&ready)
            .args(&self.options.args)
            .env("PORTCULLIS_LOG", "info,portcullis::audit=debug")
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        if let Some((endpoint, prefix)) = &self.options.etcd {
            command
                .arg("--store")
                .arg("etcd")
                .arg("--etcd-endpoints")
                .arg(endpoint)
                .arg("--etcd-prefix")
                .arg(prefix);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| failed(&format!("starting portcullis: {e}")));
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Ok(endpoint) = std::fs::read_to_string(&ready)
                && !endpoint.is_empty()
            {
                self.endpoint = endpoint;
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                failed(&format!(
                    "portcullis exited with {status} before serving:\n{}",
                    self.log_text()
                ));
            }
            if started.elapsed() > Duration::from_secs(60) {
                failed(&format!(
                    "portcullis did not start in 60 s:\n{}",
                    self.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The server's log so far
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `https://127.0.0.1:<port>`
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The data directory
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The bootstrap CLI config
    pub fn config_file(&self) -> PathBuf {
        self.data_dir.join("oci").join("config")
    }

    /// The CA bundle
    pub fn ca_bundle(&self) -> PathBuf {
        self.data_dir.join("tls").join("ca.pem")
    }

    /// A value from the bootstrap config (`tenancy`, `user`, `fingerprint`, `key_file`)
    pub fn config_value(&self, key: &str) -> String {
        let text = std::fs::read_to_string(self.config_file())
            .unwrap_or_else(|e| failed(&format!("reading the config: {e}")));
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
            .unwrap_or_else(|| failed(&format!("no `{key}` in the config")))
    }

    /// The tenancy OCID
    pub fn tenancy(&self) -> String {
        self.config_value("tenancy")
    }

    /// Registry credentials for the admin (mints a new auth token)
    pub async fn registry_login(&self) -> RegistryLogin {
        let admin = self.admin();
        let user = self.config_value("user");
        let token = admin
            .send(
                "POST",
                &format!("/20160918/users/{user}/authTokens"),
                Some(serde_json::json!({"description": "registry"})),
            )
            .await
            .field("token");
        let tenancy_name = admin
            .send(
                "GET",
                &format!("/20160918/tenancies/{}", self.tenancy()),
                None,
            )
            .await
            .field("name");
        let user_name = admin
            .send("GET", &format!("/20160918/users/{user}"), None)
            .await
            .field("name");
        RegistryLogin {
            tenancy_name,
            user_name,
            token,
        }
    }

    /// A client signing as the bootstrap administrator
    pub fn admin(&self) -> ApiClient {
        let key = std::fs::read_to_string(self.config_value("key_file"))
            .unwrap_or_else(|e| failed(&format!("reading the admin key: {e}")));
        ApiClient::new(
            self.endpoint(),
            &self.ca_bundle(),
            &self.tenancy(),
            &self.config_value("user"),
            &self.config_value("fingerprint"),
            &key,
        )
    }

    /// Kills the server with SIGKILL, as a crash would
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits; returns whether it exited successfully
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same data directory (and a new port)
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Restarts the server under a wrapper command (`faketime -f +11m` moves its clock)
    pub fn restart_under(&mut self, wrapper: &[&str]) {
        self.options.wrapper = wrapper.iter().map(|w| (*w).to_owned()).collect();
        self.restart();
    }

    /// Whether the process is still running
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A reply from the API
#[derive(Debug)]
pub struct ApiReply {
    /// Status code
    pub status: u16,
    /// Response headers, lowercase names
    pub headers: Vec<(String, String)>,
    /// The body, parsed as JSON (`Null` when empty or not JSON)
    pub body: serde_json::Value,
}

impl ApiReply {
    /// A header's value
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The OCI error `code`
    pub fn code(&self) -> Option<&str> {
        self.body.get("code").and_then(serde_json::Value::as_str)
    }

    /// A string field of the body
    pub fn field(&self, name: &str) -> String {
        self.body
            .get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_else(|| failed(&format!("no `{name}` in {}", self.body)))
            .to_owned()
    }
}

/// A signed REST client for tests
#[derive(Debug)]
pub struct ApiClient {
    http: reqwest::Client,
    endpoint: String,
    signer: RequestSigner,
}

impl ApiClient {
    /// A client for `endpoint` trusting `ca`, signing with `key_pem`
    pub fn new(
        endpoint: &str,
        ca: &Path,
        tenancy: &str,
        user: &str,
        fingerprint: &str,
        key_pem: &str,
    ) -> ApiClient {
        let pem = std::fs::read(ca).unwrap_or_else(|e| failed(&format!("reading the CA: {e}")));
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .unwrap_or_else(|e| failed(&format!("parsing the CA: {e}")));
        let http = reqwest::Client::builder()
            .tls_certs_only(certs)
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_else(|e| failed(&format!("building the client: {e}")));
        let key = ApiPrivateKey::from_pem(key_pem)
            .unwrap_or_else(|e| failed(&format!("loading the key: {e}")));
        ApiClient {
            http,
            endpoint: endpoint.to_owned(),
            signer: RequestSigner::new(tenancy, user, fingerprint, key),
        }
    }

    /// Sends a signed request with a raw body; panics if the server cannot be reached
    pub async fn send_raw(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> ApiReply {
        match self
            .try_send_raw(method, path_and_query, body, headers)
            .await
        {
            Ok(reply) => reply,
            Err(e) => failed(&format!("request failed: {e}")),
        }
    }

    /// Sends a signed request with a raw body; `Err` when the server cannot be reached
    pub async fn try_send_raw(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Result<ApiReply, String> {
        let url = format!("{}{}", self.endpoint, path_and_query);
        let host = self
            .endpoint
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        let signed = self
            .signer
            .sign(
                method,
                path_and_query,
                &host,
                jiff::Timestamp::now(),
                body.as_deref().map(|b| (b, "application/json")),
            )
            .unwrap_or_else(|e| failed(&format!("signing: {e}")));
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .unwrap_or_else(|e| failed(&format!("method: {e}")));
        let mut request = self
            .http
            .request(method, url)
            .header("date", signed.date)
            .header("authorization", signed.authorization);
        if let Some((length, content_type, hash)) = signed.body {
            request = request
                .header("content-length", length)
                .header("content-type", content_type)
                .header("x-content-sha256", hash);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(|e| format!("{e:?}"))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let bytes = response.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok(ApiReply {
            status,
            headers,
            body,
        })
    }

    /// Sends a signed JSON request
    pub async fn send(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<serde_json::Value>,
    ) -> ApiReply {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap_or_default());
        self.send_raw(method, path_and_query, bytes, &[]).await
    }

    /// The underlying HTTP client, for unsigned requests
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// Finds the official OCI CLI: `$PORTCULLIS_OCI`, the repo's `.venv`, or `PATH`
pub fn find_oci() -> PathBuf {
    if let Some(path) = std::env::var_os("PORTCULLIS_OCI") {
        return PathBuf::from(path);
    }
    let venv = crate::workspace_root().join(".venv/bin/oci");
    if venv.is_file() {
        return venv;
    }
    crate::find_program("oci").unwrap_or_else(|| {
        failed("the OCI CLI is not installed: run scripts/test (it installs oci-cli into .venv)")
    })
}

/// Runs the official `oci` CLI against a server
#[derive(Debug)]
pub struct OciCli {
    /// A command to run the CLI under (`faketime -f +400d`), empty for none
    wrapper: Vec<String>,
    program: PathBuf,
    config: PathBuf,
    endpoint: String,
    ca: PathBuf,
}

impl OciCli {
    /// `oci` with this config file, against this server
    pub fn new(server: &Server, config: &Path) -> OciCli {
        OciCli {
            wrapper: Vec::new(),
            program: find_oci(),
            config: config.to_path_buf(),
            endpoint: server.endpoint().to_owned(),
            ca: server.ca_bundle(),
        }
    }

    /// The same CLI against another endpoint (a vault's management or crypto endpoint)
    pub fn at(&self, endpoint: &str) -> OciCli {
        OciCli {
            wrapper: self.wrapper.clone(),
            program: self.program.clone(),
            config: self.config.clone(),
            endpoint: endpoint.to_owned(),
            ca: self.ca.clone(),
        }
    }

    /// The same CLI run under a wrapper command: `faketime -f +400d` signs requests with the
    /// clock of a server restarted under the same wrapper
    pub fn under(&self, wrapper: &[&str]) -> OciCli {
        OciCli {
            wrapper: wrapper.iter().map(|w| (*w).to_owned()).collect(),
            program: self.program.clone(),
            config: self.config.clone(),
            endpoint: self.endpoint.clone(),
            ca: self.ca.clone(),
        }
    }

    /// Runs `oci --config-file .. --endpoint .. <args>`
    ///
    /// `REQUESTS_CA_BUNDLE` is how the CLI's HTTP library is told about our CA: when the
    /// environment already sets it (as many images do), it overrides `--cert-bundle`.
    pub fn run(&self, args: &[&str]) -> Output {
        let started = Instant::now();
        let mut command = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&self.program);
                c
            }
            None => Command::new(&self.program),
        };
        let output = command
            .arg("--config-file")
            .arg(&self.config)
            .arg("--endpoint")
            .arg(&self.endpoint)
            .arg("--no-retry")
            .args(args)
            .env("REQUESTS_CA_BUNDLE", &self.ca)
            .env_remove("CURL_CA_BUNDLE")
            .env("SUPPRESS_LABEL_WARNING", "True")
            .env("OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING", "True")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| failed(&format!("running oci: {e}")));
        let elapsed = started.elapsed();
        if elapsed > Duration::from_secs(3) {
            eprintln!("slow: oci {args:?} took {elapsed:?}");
        }
        output
    }

    /// Runs and parses stdout as JSON, failing the test if the command failed
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        if !out.status.success() {
            failed(&format!(
                "oci {args:?} failed: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            failed(&format!(
                "oci {args:?} printed non-JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            ))
        })
    }
}
