//! `portcullis serve`: TLS, the store, first-start bootstrap, and graceful shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use portcullis_api::tls;
use portcullis_identity::IdentityService;
use portcullis_store::{EmbeddedStore, EtcdStore, Store};

/// Where state lives
#[derive(Clone, Copy, Debug, Eq, PartialEq, clap::ValueEnum)]
pub(crate) enum StoreKind {
    /// One redb file in the data directory
    Embedded,
    /// An etcd v3 cluster
    Etcd,
}

/// `portcullis serve`
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Directory for the store, certificates and the bootstrap CLI config
    #[arg(long, env = "PORTCULLIS_DATA_DIR", default_value = "portcullis-data")]
    data_dir: PathBuf,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 9443)]
    port: u16,
    /// Where to keep state
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreKind,
    /// etcd client URLs, comma separated
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    etcd_endpoints: Vec<String>,
    /// Key prefix in etcd
    #[arg(long, default_value = "/portcullis/")]
    etcd_prefix: String,
    /// PEM certificate chain to serve instead of the generated one
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Extra DNS names or IP addresses for the generated server certificate
    #[arg(long)]
    tls_san: Vec<String>,
    /// The region this endpoint presents (used in OCIDs and cluster tokens)
    #[arg(long, default_value = "us-ashburn-1")]
    region: String,
    /// Name of the tenancy created at first start
    #[arg(long, default_value = "portcullis")]
    tenancy_name: String,
    /// `host:port` clients use to reach this server, if not the listening address (kubeconfigs
    /// and cluster endpoints carry it)
    #[arg(long)]
    public_address: Option<String>,
    /// The root key that seals secrets at rest (made at first start; servers sharing an etcd
    /// must share it)
    #[arg(long)]
    root_key_file: Option<PathBuf>,
    /// OSV advisories (directories, `.json`, `.tar.gz`, `.zip`) to seed the scanner's
    /// database with at first start, when it is empty
    #[arg(long)]
    vulndb_seed: Vec<PathBuf>,
    /// Seconds between looks at `<data-dir>/vulndb/incoming`, where advisory files moved in
    /// are imported into the running server
    #[arg(long, default_value_t = 30)]
    vulndb_poll_seconds: u64,
    /// Write the listening address to this file once serving (for scripts and tests)
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}

fn private_dir(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("securing {}", path.display()))?;
    Ok(())
}

/// The bootstrap CLI config: OCI's INI format plus our `endpoint` and `cert_bundle` keys
fn config_text(
    user: &str,
    fingerprint: &str,
    key_file: &Path,
    tenancy: &str,
    region: &str,
    endpoint: &str,
    ca: Option<&Path>,
) -> String {
    let mut text = format!(
        "[DEFAULT]\nuser={user}\nfingerprint={fingerprint}\nkey_file={}\ntenancy={tenancy}\nregion={region}\nendpoint={endpoint}\n",
        key_file.display()
    );
    if let Some(ca) = ca {
        text.push_str(&format!("cert_bundle={}\n", ca.display()));
    }
    text
}

/// Rewrites the `endpoint=` line of an existing config, so a restart on another port keeps
/// the printed config usable
fn refresh_endpoint(config: &Path, endpoint: &str) -> anyhow::Result<()> {
    let Ok(text) = std::fs::read_to_string(config) else {
        return Ok(());
    };
    let updated: Vec<String> = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("endpoint=") {
                format!("endpoint={endpoint}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    tls::write_private(config, format!("{}\n", updated.join("\n")).as_bytes())
        .with_context(|| format!("updating {}", config.display()))
}

async fn open_store(args: &ServeArgs, data_dir: &Path) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match args.store {
        StoreKind::Embedded => {
            let path = data_dir.join("store.redb");
            Arc::new(
                EmbeddedStore::open(&path)
                    .with_context(|| format!("opening the store at {}", path.display()))?,
            )
        }
        StoreKind::Etcd => Arc::new(
            EtcdStore::connect(&args.etcd_endpoints, &args.etcd_prefix)
                .await
                .with_context(|| format!("connecting to etcd at {:?}", args.etcd_endpoints))?,
        ),
    })
}

/// Every `host:port` pods may name this registry by: the public address, the names in the
/// certificate, and loopback. The image policy governs images under any of them; one it
/// did not know would pass as "another registry's".
fn registry_hosts(public_address: &str, sans: &[String], port: u16) -> Vec<String> {
    let mut hosts = vec![public_address.to_ascii_lowercase()];
    for name in sans
        .iter()
        .map(String::as_str)
        .chain(["localhost", "127.0.0.1", "[::1]"])
    {
        hosts.push(format!("{}:{port}", name.to_ascii_lowercase()));
        if port == 443 {
            hosts.push(name.to_ascii_lowercase());
        }
    }
    hosts.dedup();
    hosts
}

pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = terminate => {},
    }
    tracing::info!("signal received");
}

/// Runs the server until SIGTERM or SIGINT
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let data_dir = absolute(&args.data_dir)?;
    private_dir(&data_dir)?;
    let tls_files = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => tls::TlsFiles {
            ca_bundle: None,
            certificate: cert.clone(),
            private_key: key.clone(),
        },
        _ => tls::ensure_self_signed(&data_dir.join("tls"), &args.tls_san)?,
    };
    let tls_config = tls::server_config(&tls_files.certificate, &tls_files.private_key)?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("listening on {}:{}", args.host, args.port))?;
    let address: SocketAddr = listener.local_addr()?;
    let host = if address.ip().is_ipv6() {
        format!("[{}]", address.ip())
    } else {
        address.ip().to_string()
    };
    let endpoint = format!("https://{host}:{}", address.port());

    let store = open_store(&args, &data_dir).await?;
    let oci_dir = data_dir.join("oci");
    private_dir(&oci_dir)?;
    let key_file = oci_dir.join("admin_api_key.pem");
    let config_file = oci_dir.join("config");
    let ca = tls_files.ca_bundle.clone();
    let outcome = portcullis_identity::bootstrap(
        &*store,
        &args.tenancy_name,
        &args.region,
        |key, tenancy, user, fingerprint| {
            // The label line is OCI's marker of an API signing key; `oci` warns on every
            // call about a key file without it.
            let pem = zeroize::Zeroizing::new(format!("{}OCI_API_KEY\n", key.to_pkcs8_pem()));
            tls::write_private(&key_file, pem.as_bytes())
                .map_err(|e| format!("{}: {e}", key_file.display()))?;
            let text = config_text(
                user,
                fingerprint,
                &key_file,
                &tenancy.id,
                &args.region,
                &endpoint,
                ca.as_deref(),
            );
            tls::write_private(&config_file, text.as_bytes())
                .map_err(|e| format!("{}: {e}", config_file.display()))
        },
    )
    .await
    .context("bootstrapping the tenancy")?;
    if !outcome.created {
        refresh_endpoint(&config_file, &endpoint)?;
    }
    let identity = IdentityService::open(store.clone(), &args.region)
        .await
        .context("loading IAM state")?;
    let watcher = identity.spawn_watcher();
    let ca_pem = match &tls_files.ca_bundle {
        Some(path) => Some(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        None => None,
    };
    let public_address = args
        .public_address
        .clone()
        .unwrap_or_else(|| endpoint.trim_start_matches("https://").to_owned());
    let containerengine = Arc::new(portcullis_containerengine::ContainerEngine::new(
        identity.clone(),
        &public_address,
        ca_pem,
    ));
    let root_key_file = args
        .root_key_file
        .clone()
        .unwrap_or_else(|| data_dir.join("root.key"));
    let root_bytes = portcullis_vault::root_file::load_or_create(&root_key_file)?;
    let kube = Arc::new(portcullis_kube::KubeService::new(
        store.clone(),
        portcullis_kube::tokens::RootKey::from_bytes(*root_bytes),
    ));
    let vault = Arc::new(
        portcullis_vault::VaultService::new(
            identity.clone(),
            portcullis_kms::RootKey::derive(root_bytes.as_slice())?,
            &format!("https://{public_address}"),
        )
        .await?,
    );
    let registry = Arc::new(portcullis_registry::Registry::open(
        identity.clone(),
        &data_dir.join("registry"),
        portcullis_kms::root::derive_key(root_bytes.as_slice(), "portcullis/registry/tokens/v1")?
            .as_slice(),
    )?);
    drop(root_bytes);
    let vulndb_dir = data_dir.join("vulndb");
    let incoming = vulndb_dir.join("incoming");
    std::fs::create_dir_all(&incoming)
        .with_context(|| format!("creating {}", incoming.display()))?;
    let vulndb_path = vulndb_dir.join("vulndb.redb");
    let vulndb = Arc::new(
        portcullis_vulndb::VulnDb::open(&vulndb_path)
            .with_context(|| format!("opening the advisory database {}", vulndb_path.display()))?,
    );
    let vss = portcullis_vss::ScanningService::new(
        identity.clone(),
        registry.clone(),
        vulndb,
        portcullis_vss::Settings {
            registry_url: public_address.clone(),
            incoming: Some(incoming),
            poll: std::time::Duration::from_secs(args.vulndb_poll_seconds.max(1)),
        },
    );
    let seed: Vec<PathBuf> = args
        .vulndb_seed
        .iter()
        .map(|p| absolute(p))
        .collect::<anyhow::Result<_>>()?;
    if let Some(report) = vss
        .seed(seed)
        .await
        .context("seeding the advisory database")?
    {
        println!(
            "Seeded the advisory database: {} advisories ({} skipped)",
            report.added, report.skipped
        );
    }
    let scanning = vss.spawn();
    let imagepolicy = portcullis_imagepolicy::ImagePolicyService::new(
        identity.clone(),
        registry.clone(),
        vault.clone(),
        containerengine.clone(),
        vss.clone(),
        registry_hosts(&public_address, &args.tls_san, address.port()),
    );
    kube.admit_with(imagepolicy.clone());
    // Registry housekeeping: upload sessions expire after a day; blobs no manifest uses go
    // an hour after they were last pushed or linked (the grace that protects pushes whose
    // manifest has not arrived yet).
    let housekeeping = {
        let registry = registry.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
            loop {
                tick.tick().await;
                if let Err(e) = registry
                    .expire_uploads(std::time::Duration::from_secs(24 * 3600))
                    .await
                {
                    tracing::warn!(error = %e, "expiring upload sessions failed; retrying later");
                }
                if let Err(e) = registry
                    .collect_garbage(std::time::Duration::from_secs(3600))
                    .await
                {
                    tracing::warn!(error = %e, "registry garbage collection failed; retrying later");
                }
            }
        })
    };
    kube.encrypt_secrets_with(Arc::new(portcullis_vault::at_rest::ClusterSecrets::new(
        vault.clone(),
        containerengine.clone(),
    )));
    let finalizer = {
        let kube = kube.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                if let Err(e) = kube.finalize_namespaces().await {
                    tracing::warn!(error = %e, "namespace finalizer failed; retrying");
                }
            }
        })
    };
    // Another server sharing the etcd cluster may change RBAC objects: follow its writes.
    let rbac_follower = tokio::spawn(kube.clone().follow_rbac_changes());
    let app = portcullis_api::app(portcullis_api::AppState {
        identity: identity.clone(),
        containerengine,
        kube,
        vault,
        registry,
        vss,
        imagepolicy,
    });

    println!(
        "Portcullis is serving {endpoint} (store: {})",
        store.backend()
    );
    println!("  tenancy:    {}", outcome.tenancy.id);
    if config_file.exists() {
        println!("  CLI config: {}", config_file.display());
        println!("  API key:    {}", key_file.display());
    } else {
        println!("  this store was bootstrapped elsewhere; use that server's CLI config and key");
    }
    if let Some(ca) = &tls_files.ca_bundle {
        println!("  CA bundle:  {}", ca.display());
    }
    // `REQUESTS_CA_BUNDLE` rather than `--cert-bundle`: when the environment already sets the
    // variable, as many images do, it overrides the flag inside the CLI's HTTP library.
    println!(
        "Try: {}oci --config-file {} --endpoint {endpoint} iam compartment list --all",
        tls_files
            .ca_bundle
            .as_ref()
            .map(|c| format!("REQUESTS_CA_BUNDLE={} ", c.display()))
            .unwrap_or_default(),
        config_file.display(),
    );
    if let Some(ready) = &args.ready_file {
        std::fs::write(ready, &endpoint).with_context(|| format!("writing {}", ready.display()))?;
    }
    if outcome.created {
        tracing::info!(tenancy = %outcome.tenancy.id, "bootstrapped a new tenancy");
    }
    if args.store == StoreKind::Etcd && args.etcd_endpoints.iter().any(|e| e.starts_with("http://"))
    {
        tracing::warn!("etcd is reached over plain HTTP; use https:// endpoints outside loopback");
    }
    portcullis_api::server::serve_tls(listener, tls_config, app, shutdown_signal()).await;
    watcher.abort();
    finalizer.abort();
    rbac_follower.abort();
    housekeeping.abort();
    for task in scanning {
        task.abort();
    }
    tracing::info!("stopped");
    Ok(())
}
