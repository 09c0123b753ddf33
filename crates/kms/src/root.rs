//! The root key: the one secret kept outside the store. Every key version's material is
//! stored only as `wrap(material)` under it, bound by AES-GCM's associated data to the
//! key version it belongs to, so wrapped material cannot be moved to another version.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::{KmsError, KmsResult};

/// Length of a root key in bytes (AES-256)
pub const ROOT_KEY_LEN: usize = 32;

/// The first byte of wrapped material: the wrapping format, so it can change later
const WRAP_FORMAT_V1: u8 = 1;

/// AES-256-GCM under the root key. The raw bytes are not kept: aws-lc holds the expanded
/// key and clears it when this is dropped.
pub struct RootKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(..)")
    }
}

/// Fresh random bytes from the system generator
pub fn random_bytes<const N: usize>() -> KmsResult<Zeroizing<[u8; N]>> {
    let mut bytes = Zeroizing::new([0u8; N]);
    aws_lc_rs::rand::fill(bytes.as_mut_slice())
        .map_err(|_| KmsError::Crypto("the system random generator failed"))?;
    Ok(bytes)
}

/// A 32-byte key for `purpose`, derived from the root key file's bytes with HKDF-SHA256:
/// each subsystem (the vault, registry tokens) gets its own key from the one file
pub fn derive_key(file_bytes: &[u8], purpose: &str) -> KmsResult<Zeroizing<[u8; ROOT_KEY_LEN]>> {
    use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
    let salt = Salt::new(HKDF_SHA256, b"portcullis");
    let info: &[&[u8]] = &[purpose.as_bytes()];
    let mut derived = Zeroizing::new([0u8; ROOT_KEY_LEN]);
    salt.extract(file_bytes)
        .expand(info, HKDF_SHA256)
        .and_then(|okm| okm.fill(derived.as_mut_slice()))
        .map_err(|_| KmsError::Crypto("HKDF"))?;
    Ok(derived)
}

impl RootKey {
    /// A root key from its 32 bytes (as read from the root key file)
    pub fn from_bytes(bytes: &[u8]) -> KmsResult<RootKey> {
        if bytes.len() != ROOT_KEY_LEN {
            return Err(KmsError::InvalidParameter(format!(
                "a root key is {ROOT_KEY_LEN} bytes, not {}",
                bytes.len()
            )));
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| KmsError::Crypto("AES-256-GCM key setup"))?;
        Ok(RootKey {
            key: LessSafeKey::new(key),
        })
    }

    /// The vault's root key derived from the root key file's bytes with HKDF-SHA256, so the
    /// vault never shares a key with other users of the same file
    pub fn derive(file_bytes: &[u8]) -> KmsResult<RootKey> {
        let derived = derive_key(file_bytes, "portcullis/vault/root-key/v1")?;
        RootKey::from_bytes(derived.as_slice())
    }

    /// A new random root key and its bytes (for writing to the root key file once)
    pub fn generate() -> KmsResult<(RootKey, Zeroizing<[u8; ROOT_KEY_LEN]>)> {
        let bytes = random_bytes::<ROOT_KEY_LEN>()?;
        Ok((RootKey::from_bytes(bytes.as_slice())?, bytes))
    }

    /// Wraps `material` for the key version named by `bound_to`
    pub fn wrap(&self, bound_to: &str, material: &[u8]) -> KmsResult<Vec<u8>> {
        let nonce = random_bytes::<NONCE_LEN>()?;
        let mut sealed = material.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(bound_to.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| KmsError::Crypto("wrapping key material"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(WRAP_FORMAT_V1);
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Unwraps material wrapped for `bound_to`
    pub fn unwrap(&self, bound_to: &str, wrapped: &[u8]) -> KmsResult<Zeroizing<Vec<u8>>> {
        let Some((&WRAP_FORMAT_V1, rest)) = wrapped.split_first() else {
            return Err(KmsError::Unwrap);
        };
        let (nonce, sealed) = rest.split_at_checked(NONCE_LEN).ok_or(KmsError::Unwrap)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KmsError::Unwrap)?;
        let mut buffer = Zeroizing::new(sealed.to_vec());
        let plaintext_len = self
            .key
            .open_in_place(nonce, Aad::from(bound_to.as_bytes()), buffer.as_mut_slice())
            .map_err(|_| KmsError::Unwrap)?
            .len();
        buffer.truncate(plaintext_len);
        Ok(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_round_trips_and_is_bound_to_its_version() {
        let (root, _) = RootKey::generate().unwrap();
        let wrapped = root.wrap("v1", b"material").unwrap();
        assert_eq!(root.unwrap("v1", &wrapped).unwrap().as_slice(), b"material");
        assert_eq!(root.unwrap("v2", &wrapped), Err(KmsError::Unwrap));
        let (other, _) = RootKey::generate().unwrap();
        assert_eq!(other.unwrap("v1", &wrapped), Err(KmsError::Unwrap));
        for cut in 0..wrapped.len() {
            assert!(root.unwrap("v1", &wrapped[..cut]).is_err());
        }
    }
}
