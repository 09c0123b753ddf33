//! The byte format of a symmetric ciphertext. OCI's symmetric ciphertexts carry the key
//! version that made them, so callers need not track it (`oci-reference.md` §7.1); ours do
//! too, in a small authenticated header:
//!
//! ```text
//! 0xC1            format byte (version 1)
//! u16 big-endian  length L of the key version OCID
//! L bytes         the key version OCID (UTF-8)
//! 12 bytes        AES-GCM nonce
//! rest            AES-GCM ciphertext and 16-byte tag
//! ```
//!
//! The whole header (format byte to OCID) is part of the AES-GCM associated data, so a
//! ciphertext whose version was edited no longer opens.

use crate::{KmsError, KmsResult};

/// The format byte of version 1
pub const FORMAT_V1: u8 = 0xC1;
/// AES-GCM's nonce length
pub const NONCE_LEN: usize = 12;
/// AES-GCM's tag length
pub const TAG_LEN: usize = 16;
/// The longest key version OCID a ciphertext may name
pub const MAX_VERSION_ID_LEN: usize = 255;

/// A parsed symmetric ciphertext, borrowing from its bytes
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Ciphertext<'a> {
    /// The key version that made it
    pub key_version_id: &'a str,
    /// The header bytes (authenticated)
    pub header: &'a [u8],
    /// The AES-GCM nonce
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext and tag
    pub sealed: &'a [u8],
}

/// The header for `key_version_id`
pub fn header(key_version_id: &str) -> KmsResult<Vec<u8>> {
    let len = key_version_id.len();
    if len == 0 || len > MAX_VERSION_ID_LEN {
        return Err(KmsError::InvalidParameter(
            "a key version OCID is between 1 and 255 bytes".into(),
        ));
    }
    let mut out = Vec::with_capacity(3 + len);
    out.push(FORMAT_V1);
    out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(key_version_id.as_bytes());
    Ok(out)
}

impl<'a> Ciphertext<'a> {
    /// Parses ciphertext bytes; anything malformed is [`KmsError::InvalidCiphertext`]
    pub fn parse(bytes: &'a [u8]) -> KmsResult<Ciphertext<'a>> {
        let (&format, rest) = bytes.split_first().ok_or(KmsError::InvalidCiphertext)?;
        if format != FORMAT_V1 {
            return Err(KmsError::InvalidCiphertext);
        }
        let (len, rest) = rest
            .split_first_chunk::<2>()
            .ok_or(KmsError::InvalidCiphertext)?;
        let len = usize::from(u16::from_be_bytes(*len));
        if len == 0 || len > MAX_VERSION_ID_LEN {
            return Err(KmsError::InvalidCiphertext);
        }
        let (id, rest) = rest
            .split_at_checked(len)
            .ok_or(KmsError::InvalidCiphertext)?;
        let key_version_id = std::str::from_utf8(id).map_err(|_| KmsError::InvalidCiphertext)?;
        let (nonce, sealed) = rest
            .split_first_chunk::<NONCE_LEN>()
            .ok_or(KmsError::InvalidCiphertext)?;
        if sealed.len() < TAG_LEN {
            return Err(KmsError::InvalidCiphertext);
        }
        let header = bytes.get(..3 + len).ok_or(KmsError::InvalidCiphertext)?;
        Ok(Ciphertext {
            key_version_id,
            header,
            nonce: *nonce,
            sealed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_what_it_writes() {
        let mut bytes = header("ocid1.keyversion.oc1..v1").unwrap();
        bytes.extend_from_slice(&[7; NONCE_LEN]);
        bytes.extend_from_slice(&[9; TAG_LEN + 3]);
        let parsed = Ciphertext::parse(&bytes).unwrap();
        assert_eq!(parsed.key_version_id, "ocid1.keyversion.oc1..v1");
        assert_eq!(parsed.nonce, [7; NONCE_LEN]);
        assert_eq!(parsed.sealed.len(), TAG_LEN + 3);
        assert_eq!(parsed.header, header("ocid1.keyversion.oc1..v1").unwrap());
    }

    #[test]
    fn truncations_are_refused() {
        let mut bytes = header("v").unwrap();
        bytes.extend_from_slice(&[0; NONCE_LEN + TAG_LEN]);
        for cut in 0..bytes.len() {
            assert_eq!(
                Ciphertext::parse(&bytes[..cut]),
                Err(KmsError::InvalidCiphertext)
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Ciphertext::parse(&bytes);
        }
    }
}
