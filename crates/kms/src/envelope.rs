//! The envelope a Kubernetes Secret is stored in: Kubernetes' own KMS v2 layout, so the
//! stored value reads like any kube-apiserver's (`k8s-interfaces.md` §4.4):
//!
//! ```text
//! k8s:enc:kms:v2:<provider>:<EncryptedObject protobuf>
//! ```
//!
//! `encryptedData` is `nonce || AES-256-GCM(DEK, object, aad = store key)`: binding the store
//! key means a ciphertext copied onto another Secret's key does not open. The data
//! encryption key (DEK) is fresh for every write (OKE: "a new DEK is generated for each
//! encryption") and is stored wrapped by the master key in `encryptedDEKSource`, with the
//! master key version in `keyID`. OKE documents AES-CBC for the DEK; we use AES-GCM, which
//! also authenticates, as a deliberate deviation.

use std::collections::HashMap;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use prost::Message as _;
use zeroize::Zeroizing;

use crate::ciphertext::{NONCE_LEN, TAG_LEN};
use crate::root::random_bytes;
use crate::{KmsError, KmsResult};

/// Every encrypted value starts with this
pub const ENCRYPTED_PREFIX: &[u8] = b"k8s:enc:";
/// The KMS v2 prefix, before the provider name
pub const KMS_V2_PREFIX: &str = "k8s:enc:kms:v2:";

/// `EncryptedObject` of `k8s.io/apiserver/pkg/storage/value/encrypt/envelope/kmsv2/v2`,
/// written from the field list in the reference
#[derive(Clone, PartialEq, prost::Message)]
pub struct EncryptedObject {
    /// `nonce || ciphertext || tag` of the object under the DEK
    #[prost(bytes = "vec", tag = "1")]
    pub encrypted_data: Vec<u8>,
    /// The master key version that wrapped the DEK
    #[prost(string, tag = "2")]
    pub key_id: String,
    /// The DEK, wrapped by the master key
    #[prost(bytes = "vec", tag = "3")]
    pub encrypted_dek_source: Vec<u8>,
    /// Plaintext annotations from the KMS (none from ours)
    #[prost(map = "string, bytes", tag = "4")]
    pub annotations: HashMap<String, Vec<u8>>,
    /// 0 = `AES_GCM_KEY`: `encrypted_dek_source` is the DEK itself
    #[prost(int32, tag = "5")]
    pub encrypted_dek_source_type: i32,
}

/// A data encryption key, zeroed on drop
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A fresh random DEK
    pub fn generate() -> KmsResult<DataKey> {
        Ok(DataKey(random_bytes::<32>()?))
    }

    /// A DEK from unwrapped bytes
    pub fn from_bytes(bytes: &[u8]) -> KmsResult<DataKey> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| KmsError::InvalidCiphertext)?;
        Ok(DataKey(Zeroizing::new(array)))
    }

    /// The key bytes, to wrap under the master key
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    fn aead(&self) -> KmsResult<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, self.0.as_slice())
            .map(LessSafeKey::new)
            .map_err(|_| KmsError::Crypto("AES-256-GCM key setup"))
    }
}

/// Whether a stored value is encrypted (anything else is a plaintext object written before
/// encryption applied, which Kubernetes' identity provider also reads)
pub fn is_encrypted(stored: &[u8]) -> bool {
    stored.starts_with(ENCRYPTED_PREFIX)
}

/// Seals `plaintext` stored at `store_key` under `dek`, recording the wrapped DEK.
///
/// The object is copied once, into the output, and encrypted there: `encryptedData` (the
/// first field) is written by hand ahead of the others, which prost then appends, so a
/// 1 MiB Secret costs one allocation rather than three.
pub fn seal(
    provider: &str,
    store_key: &str,
    plaintext: &[u8],
    dek: &DataKey,
    wrapped_dek: Vec<u8>,
    key_id: String,
) -> KmsResult<Vec<u8>> {
    let rest = EncryptedObject {
        encrypted_data: Vec::new(),
        key_id,
        encrypted_dek_source: wrapped_dek,
        annotations: HashMap::new(),
        encrypted_dek_source_type: 0,
    };
    let data_len = NONCE_LEN + plaintext.len() + TAG_LEN;
    let data_len_u64 = u64::try_from(data_len).map_err(|_| KmsError::Crypto("object too large"))?;
    let mut out = Vec::with_capacity(
        KMS_V2_PREFIX.len()
            + provider.len()
            + 1
            + 1
            + prost::encoding::encoded_len_varint(data_len_u64)
            + data_len
            + rest.encoded_len(),
    );
    out.extend_from_slice(KMS_V2_PREFIX.as_bytes());
    out.extend_from_slice(provider.as_bytes());
    out.push(b':');
    prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut out);
    prost::encoding::encode_varint(data_len_u64, &mut out);
    let nonce = random_bytes::<NONCE_LEN>()?;
    out.extend_from_slice(nonce.as_slice());
    let start = out.len();
    out.extend_from_slice(plaintext);
    let body = out
        .get_mut(start..)
        .ok_or(KmsError::Crypto("envelope layout"))?;
    let tag = dek
        .aead()?
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(store_key.as_bytes()),
            body,
        )
        .map_err(|_| KmsError::Crypto("AES-GCM seal"))?;
    out.extend_from_slice(tag.as_ref());
    rest.encode(&mut out)
        .map_err(|_| KmsError::Crypto("protobuf encoding"))?;
    Ok(out)
}

/// Why a stored value cannot be opened by this server's provider
fn foreign(stored: &[u8]) -> KmsError {
    let shown: String = String::from_utf8_lossy(stored.get(..40).unwrap_or(stored))
        .chars()
        .take_while(|c| *c != '\u{fffd}')
        .collect();
    KmsError::Unsupported(format!(
        "the stored value was encrypted by a provider this server does not have (`{shown}...`)"
    ))
}

/// A parsed envelope, borrowing the encrypted object from the stored bytes
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Sealed<'a> {
    /// The master key version that wrapped the DEK
    pub key_id: String,
    /// The wrapped DEK
    pub encrypted_dek_source: Vec<u8>,
    /// `nonce || ciphertext || tag`, in the stored bytes
    encrypted_data: &'a [u8],
}

fn malformed(_: prost::DecodeError) -> KmsError {
    KmsError::InvalidCiphertext
}

/// Parses a sealed value written by `provider`. The object's ciphertext is not copied:
/// a 1 MiB Secret is copied once, by [`open`], into the buffer it is decrypted in.
pub fn parse<'a>(provider: &str, stored: &'a [u8]) -> KmsResult<Sealed<'a>> {
    use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
    let mut buf = stored
        .strip_prefix(KMS_V2_PREFIX.as_bytes())
        .and_then(|r| r.strip_prefix(provider.as_bytes()))
        .and_then(|r| r.strip_prefix(b":"))
        .ok_or_else(|| foreign(stored))?;
    let mut sealed = Sealed {
        key_id: String::new(),
        encrypted_dek_source: Vec::new(),
        encrypted_data: &[],
    };
    let mut source_type = 0i32;
    while !buf.is_empty() {
        let (tag, wire) = decode_key(&mut buf).map_err(malformed)?;
        match tag {
            1 if wire == WireType::LengthDelimited => {
                let len = usize::try_from(decode_varint(&mut buf).map_err(malformed)?)
                    .map_err(|_| KmsError::InvalidCiphertext)?;
                let (data, rest) = buf
                    .split_at_checked(len)
                    .ok_or(KmsError::InvalidCiphertext)?;
                sealed.encrypted_data = data;
                buf = rest;
            }
            2 => prost::encoding::string::merge(
                wire,
                &mut sealed.key_id,
                &mut buf,
                DecodeContext::default(),
            )
            .map_err(malformed)?,
            3 => prost::encoding::bytes::merge(
                wire,
                &mut sealed.encrypted_dek_source,
                &mut buf,
                DecodeContext::default(),
            )
            .map_err(malformed)?,
            5 => prost::encoding::int32::merge(
                wire,
                &mut source_type,
                &mut buf,
                DecodeContext::default(),
            )
            .map_err(malformed)?,
            // Annotations (4) and anything newer: ours are never written with any.
            _ => skip_field(wire, tag, &mut buf, DecodeContext::default()).map_err(malformed)?,
        }
    }
    if source_type != 0
        || sealed.key_id.is_empty()
        || sealed.encrypted_dek_source.is_empty()
        || sealed.encrypted_data.len() < NONCE_LEN + TAG_LEN
    {
        return Err(KmsError::InvalidCiphertext);
    }
    Ok(sealed)
}

/// Opens a parsed envelope with its unwrapped DEK.
///
/// The plaintext is the object, handed to the caller to decode; like kube-apiserver, we
/// zero keys, not objects (zeroing a 1 MiB Secret byte by byte costs more than decrypting
/// it, and its decoded form is not zeroed anyway).
pub fn open(sealed: &Sealed<'_>, store_key: &str, dek: &DataKey) -> KmsResult<Vec<u8>> {
    let (nonce, body) = sealed
        .encrypted_data
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(KmsError::InvalidCiphertext)?;
    let mut data = body.to_vec();
    let len = dek
        .aead()?
        .open_in_place(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(store_key.as_bytes()),
            data.as_mut_slice(),
        )
        .map_err(|_| KmsError::InvalidCiphertext)?
        .len();
    data.truncate(len);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seal_then_open() {
        let dek = DataKey::generate().unwrap();
        let stored = seal(
            "portcullis",
            "k8s/c/core/secrets/ns/s",
            b"{\"data\":1}",
            &dek,
            vec![1, 2, 3],
            "kv1".into(),
        )
        .unwrap();
        assert!(stored.starts_with(b"k8s:enc:kms:v2:portcullis:"));
        assert!(is_encrypted(&stored));
        let object = parse("portcullis", &stored).unwrap();
        assert_eq!(object.key_id, "kv1");
        assert_eq!(object.encrypted_dek_source, vec![1, 2, 3]);
        assert_eq!(
            open(&object, "k8s/c/core/secrets/ns/s", &dek)
                .unwrap()
                .as_slice(),
            b"{\"data\":1}"
        );
        assert_eq!(
            open(&object, "k8s/c/core/secrets/ns/other", &dek),
            Err(KmsError::InvalidCiphertext)
        );
        assert!(matches!(
            parse("other", &stored),
            Err(KmsError::Unsupported(_))
        ));
        assert!(!is_encrypted(b"{\"kind\":\"Secret\"}"));
    }

    #[test]
    fn the_hand_parser_agrees_with_prost() {
        let dek = DataKey::generate().unwrap();
        let stored = seal(
            "portcullis",
            "k",
            b"object",
            &dek,
            vec![9; 40],
            "kv7".into(),
        )
        .unwrap();
        let body = stored.strip_prefix(b"k8s:enc:kms:v2:portcullis:").unwrap();
        let decoded = EncryptedObject::decode(body).unwrap();
        let parsed = parse("portcullis", &stored).unwrap();
        assert_eq!(parsed.key_id, decoded.key_id);
        assert_eq!(parsed.encrypted_dek_source, decoded.encrypted_dek_source);
        assert_eq!(parsed.encrypted_data, decoded.encrypted_data.as_slice());
        // Fields in another order, and annotations, parse too.
        let reordered = EncryptedObject {
            annotations: [("a.example.com".to_owned(), b"v".to_vec())].into(),
            ..decoded
        };
        let mut again = b"k8s:enc:kms:v2:portcullis:".to_vec();
        reordered.encode(&mut again).unwrap();
        assert_eq!(
            open(&parse("portcullis", &again).unwrap(), "k", &dek).unwrap(),
            b"object"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_values_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut stored = b"k8s:enc:kms:v2:portcullis:".to_vec();
            stored.extend_from_slice(&tail);
            if let Ok(object) = parse("portcullis", &stored) {
                let dek = DataKey::generate().unwrap();
                prop_assert!(open(&object, "k", &dek).is_err());
            }
        }
    }
}
