//! Test support: real dependencies on free loopback ports, stopped when the test process ends.
//!
//! Tests use the real etcd (Debian's `etcd-server`), never a mock. A helper process is tied
//! to the test process with a small shell watchdog, so a test that panics or is killed never
//! leaves an etcd behind.

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests)
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Finds an executable on `PATH` or in the usual system directories
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/local/bin", "/usr/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A running etcd on loopback
#[derive(Debug)]
pub struct Etcd {
    endpoint: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Etcd {
    /// Starts etcd on free ports with a fresh data directory and waits until it serves
    ///
    /// Panics if etcd is not installed: the test command installs it, so a missing etcd is a
    /// broken setup, not a reason to skip.
    pub fn start() -> Etcd {
        let etcd = find_program("etcd")
            .unwrap_or_else(|| failed("etcd is not installed (apt-get install -y etcd-server)"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| failed(&format!("tempdir: {e}")));
        let (client, peer) = (free_port(), free_port());
        let endpoint = format!("http://127.0.0.1:{client}");
        let script = format!(
            "\"$0\" --name test --data-dir \"$1\" \
             --listen-client-urls {endpoint} --advertise-client-urls {endpoint} \
             --listen-peer-urls http://127.0.0.1:{peer} \
             --initial-advertise-peer-urls http://127.0.0.1:{peer} \
             --initial-cluster test=http://127.0.0.1:{peer} & pid=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 0.5; done; \
             kill $pid 2>/dev/null; wait $pid",
            parent = std::process::id()
        );
        let child = Command::new("sh")
            .process_group(0)
            .arg("-c")
            .arg(script)
            .arg(&etcd)
            .arg(dir.path())
            .env("ETCD_UNSUPPORTED_ARCH", "")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| failed(&format!("starting etcd: {e}")));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", client)).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                failed("etcd did not start listening within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Etcd {
            endpoint,
            child,
            _dir: dir,
        }
    }

    /// One etcd shared by every test in this process (each test should use its own prefix)
    pub fn shared() -> &'static Etcd {
        static SHARED: OnceLock<Etcd> = OnceLock::new();
        SHARED.get_or_init(Etcd::start)
    }

    /// The client URL, `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The process id of the watchdog shell
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        kill_group(self.child.id());
        let _ = self.child.wait();
    }
}

/// Sends SIGTERM to a process group started with `process_group(0)`
pub fn kill_group(leader: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg("--")
        .arg(format!("-{leader}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A unique key prefix for one test, so tests can share a store
pub fn unique_prefix(test: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{test}-{}-{n}/", std::process::id())
}

/// The workspace's root directory (for locating built binaries and fixtures)
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn failed(message: &str) -> ! {
    #[expect(clippy::panic, reason = "test support: a broken setup fails the test")]
    {
        panic!("{message}")
    }
}

mod server;

pub use server::{ApiClient, ApiReply, OciCli, RegistryLogin, Server, ServerOptions, find_oci};

/// The claims of a JWT, without checking its signature (tests inspect what was issued)
pub fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// What `openssl speed -evp <algorithm>` measures here for blocks of `bytes`, in MB/s: the
/// limit benchmarks put their own numbers beside. `None` when openssl is missing or prints
/// something else.
pub fn openssl_speed(algorithm: &str, bytes: usize) -> Option<f64> {
    let out = std::process::Command::new("openssl")
        .args(["speed", "-evp", algorithm, "-seconds", "2", "-bytes"])
        .arg(bytes.to_string())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // The result line: `AES-256-GCM  123456.78k` (thousands of bytes per second).
    let line = text.lines().rev().find(|l| {
        l.to_ascii_lowercase()
            .starts_with(&algorithm.to_ascii_lowercase())
    })?;
    let value = line.split_whitespace().last()?.trim_end_matches('k');
    value.parse::<f64>().ok().map(|k| k / 1000.0)
}

/// The seed advisory data (OSV records of PyPI, Go, crates.io, Alpine, Debian and npm):
/// `PORTCULLIS_SEED_VULNDB`, else `shared/vulndb` beside the checkout. `scripts/test`
/// points the variable at the origin's copy when it runs in a fresh clone elsewhere.
pub fn seed_vulndb() -> PathBuf {
    let candidate = std::env::var_os("PORTCULLIS_SEED_VULNDB")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/vulndb"));
    if !candidate.join("MANIFEST.json").is_file() {
        failed(&format!(
            "the seed advisory data is not at {} (set PORTCULLIS_SEED_VULNDB to the shared/vulndb directory)",
            candidate.display()
        ));
    }
    candidate
}
