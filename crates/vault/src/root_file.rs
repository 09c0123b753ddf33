//! The root key file: 32 random bytes, created once at bootstrap with mode 0600 in the data
//! directory (or wherever `--root-key-file` points, for example a mounted secret), and
//! never written to the store or the log. Losing it loses every key in the vault.
//!
//! The file's bytes are input keying material: the vault's root key is derived from them
//! (HKDF, see [`RootKey::derive`]) so that it never equals the key other subsystems derive
//! or use from the same file.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use portcullis_kms::KmsError;
#[cfg(doc)]
use portcullis_kms::RootKey;
use portcullis_kms::root::ROOT_KEY_LEN;
use zeroize::Zeroizing;

/// Why the root key file could not be used
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootFileError {
    /// Reading or creating it failed
    #[error("root key file {path}: {source}")]
    Io {
        /// The file
        path: String,
        /// The failure
        source: std::io::Error,
    },
    /// It is readable by others than its owner
    #[error("root key file {0} is readable by group or others (mode {1:o}); run `chmod 600 {0}`")]
    Permissions(String, u32),
    /// It does not hold a root key
    #[error("root key file {0} does not hold a {ROOT_KEY_LEN}-byte key: {1}")]
    Invalid(String, KmsError),
}

/// Reads the root key file at `path`, creating it (0600, fresh random bytes) if absent
pub fn load_or_create(path: &Path) -> Result<Zeroizing<[u8; ROOT_KEY_LEN]>, RootFileError> {
    let shown = path.display().to_string();
    let io = |source| RootFileError::Io {
        path: shown.clone(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(metadata) => {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(RootFileError::Permissions(shown, mode));
            }
            let bytes = Zeroizing::new(std::fs::read(path).map_err(io)?);
            let array: [u8; ROOT_KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
                RootFileError::Invalid(
                    shown.clone(),
                    KmsError::InvalidParameter(format!("it holds {} bytes", bytes.len())),
                )
            })?;
            Ok(Zeroizing::new(array))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            let bytes = portcullis_kms::root::random_bytes::<ROOT_KEY_LEN>()
                .map_err(|e| RootFileError::Invalid(shown.clone(), e))?;
            // create_new: two processes racing never overwrite each other's key.
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(io)?;
            file.write_all(bytes.as_slice()).map_err(io)?;
            file.sync_all().map_err(io)?;
            tracing::info!(path = %shown, "created the root key file");
            Ok(bytes)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_with_owner_only_mode_then_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let first = load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = load_or_create(&path).unwrap();
        assert_eq!(*first, *again);
    }

    #[test]
    fn refuses_a_world_readable_or_short_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        std::fs::write(&path, [0u8; 32]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load_or_create(&path),
            Err(RootFileError::Permissions(..))
        ));
        std::fs::write(&path, [0u8; 5]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            load_or_create(&path),
            Err(RootFileError::Invalid(..))
        ));
    }
}
