//! Any bytes as a KMS ciphertext or a stored Secret envelope: refused or opened, never a
//! panic, and never opened unless they were made under the key.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_kms::crypto;
use portcullis_kms::envelope::{self, DataKey};
use portcullis_kms::{KeyMaterial, KeyShape};

fn key() -> &'static KeyMaterial {
    static KEY: OnceLock<KeyMaterial> = OnceLock::new();
    KEY.get_or_init(|| KeyMaterial::generate(KeyShape::AES_256).expect("key generation"))
}

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_kms::Ciphertext::parse(data);
    if let Ok(version) = crypto::ciphertext_key_version(data) {
        let version = version.to_owned();
        assert!(crypto::decrypt(key(), &version, data, None, None).is_err());
    }
    let mut stored = envelope::KMS_V2_PREFIX.as_bytes().to_vec();
    stored.extend_from_slice(b"portcullis:");
    stored.extend_from_slice(data);
    if let Ok(object) = envelope::parse("portcullis", &stored) {
        let dek = DataKey::from_bytes(&[7; 32]).expect("a 32-byte key");
        assert!(envelope::open(&object, "k8s/c/core/secrets/ns/s", &dek).is_err());
    }
});
