//! Serving a gRPC service on a Unix socket, the way kube-apiserver and the CSI driver reach
//! their plugins. The socket is made owner-only: whoever can connect can decrypt.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;

use crate::PluginError;

/// The socket path of `unix:///path` (or a bare path)
pub fn socket_path(listen: &str) -> Result<PathBuf, PluginError> {
    let path = listen.strip_prefix("unix://").unwrap_or(listen);
    if !path.starts_with('/') {
        return Err(PluginError::Config(format!(
            "`{listen}` is not an absolute unix:// socket path"
        )));
    }
    Ok(PathBuf::from(path))
}

/// Binds `path`, replacing a stale socket left by an earlier run, with mode 0600
pub fn bind(path: &Path) -> Result<UnixListenerStream, PluginError> {
    let config = |e: std::io::Error| PluginError::Config(format!("{}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(config)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(config(e)),
    }
    let listener = UnixListener::bind(path).map_err(config)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(config)?;
    Ok(UnixListenerStream::new(listener))
}

/// A client channel to a plugin's Unix socket (for tests and health checks)
pub async fn connect(path: &Path) -> Result<tonic::transport::Channel, PluginError> {
    let path = path.to_path_buf();
    tonic::transport::Endpoint::try_from("http://[::]:50051")
        .map_err(|e| PluginError::Config(e.to_string()))?
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(path).await?,
                ))
            }
        }))
        .await
        .map_err(|e| PluginError::Transport(e.to_string()))
}
