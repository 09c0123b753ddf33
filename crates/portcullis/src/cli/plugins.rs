//! `portcullis kms-plugin` and `portcullis csi-provider`: the gRPC plugins of an attached
//! cluster, on Unix sockets, reaching the vault as the cluster (see `portcullis-plugins`).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use portcullis_plugins::client::{ClusterCredential, PortcullisClient};
use portcullis_plugins::csi::CsiProvider;
use portcullis_plugins::kms::KmsPlugin;
use portcullis_plugins::proto::csi::csi_driver_provider_server::CsiDriverProviderServer;
use portcullis_plugins::proto::kms_v2::key_management_service_server::KeyManagementServiceServer;
use portcullis_plugins::serve::{bind, socket_path};

/// `portcullis kms-plugin`
#[derive(Debug, Args)]
pub(crate) struct KmsPluginArgs {
    /// The socket kube-apiserver's EncryptionConfiguration names (`unix:///path.sock`)
    #[arg(long)]
    listen: String,
    /// The vault key that wraps kube-apiserver's data keys
    #[arg(long)]
    key_id: String,
    /// `cluster-credential.json`, written by `portcullis ce cluster attach`
    #[arg(long)]
    credential_file: PathBuf,
}

/// `portcullis csi-provider`
#[derive(Debug, Args)]
pub(crate) struct CsiProviderArgs {
    /// The socket the Secrets Store CSI driver dials
    /// (`/var/run/secrets-store-csi-providers/portcullis.sock`)
    #[arg(long)]
    socket: String,
    /// `cluster-credential.json` from `ce cluster attach`: for `authType: cluster`, and the
    /// server's address and CA
    #[arg(long)]
    credential_file: Option<PathBuf>,
    /// The server (`https://host:port`) when there is no credential file
    #[arg(long)]
    endpoint: Option<String>,
    /// The server's CA (PEM) when there is no credential file
    #[arg(long)]
    ca_file: Option<PathBuf>,
}

/// Serves the KMS v2 plugin until SIGTERM or Ctrl-C
pub(crate) async fn kms_plugin(args: KmsPluginArgs) -> anyhow::Result<i32> {
    let credential = ClusterCredential::read(&args.credential_file)?;
    let plugin = KmsPlugin::new(PortcullisClient::as_cluster(&credential)?, &args.key_id);
    let path = socket_path(&args.listen)?;
    let incoming = bind(&path)?;
    tracing::info!(socket = %path.display(), key = %args.key_id, cluster = %credential.cluster_id, "KMS v2 plugin serving");
    tonic::transport::Server::builder()
        .add_service(KeyManagementServiceServer::new(plugin))
        .serve_with_incoming_shutdown(incoming, crate::serve::shutdown_signal())
        .await
        .context("serving the KMS plugin")?;
    std::fs::remove_file(&path).ok();
    Ok(0)
}

/// Serves the CSI provider until SIGTERM or Ctrl-C
pub(crate) async fn csi_provider(args: CsiProviderArgs) -> anyhow::Result<i32> {
    let provider = match &args.credential_file {
        Some(file) => {
            let credential = ClusterCredential::read(file)?;
            CsiProvider::new(
                &credential.endpoint,
                credential.ca_certificate.clone(),
                Some(PortcullisClient::as_cluster(&credential)?),
            )
        }
        None => {
            let endpoint = args.endpoint.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "give --credential-file, or --endpoint (and --ca-file) for authType user"
                )
            })?;
            let ca = args
                .ca_file
                .as_ref()
                .map(|f| {
                    std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))
                })
                .transpose()?;
            CsiProvider::new(&endpoint, ca, None)
        }
    };
    let path = socket_path(&args.socket)?;
    let incoming = bind(&path)?;
    tracing::info!(socket = %path.display(), "Secrets Store CSI provider serving");
    tonic::transport::Server::builder()
        .add_service(CsiDriverProviderServer::new(provider))
        .serve_with_incoming_shutdown(incoming, crate::serve::shutdown_signal())
        .await
        .context("serving the CSI provider")?;
    std::fs::remove_file(&path).ok();
    Ok(0)
}
