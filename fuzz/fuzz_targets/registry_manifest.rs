//! Any bytes as a pushed manifest, under each media type: parsed or refused with the
//! spec's error, never a panic; and whatever parses yields a referrers descriptor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_distribution::manifest::{self, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use portcullis_distribution::{Algorithm, Digest};

fuzz_target!(|data: &[u8]| {
    for content_type in [None, Some(OCI_MANIFEST), Some(OCI_INDEX), Some(DOCKER_MANIFEST)] {
        if let Ok(parsed) = manifest::parse(data, content_type) {
            let _ = parsed.referrer(&Digest::of(Algorithm::Sha256, data), data.len() as u64);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = portcullis_distribution::RepositoryName::parse(text);
        let _ = portcullis_distribution::Reference::parse(text);
        let _ = portcullis_distribution::range::content_range(text);
        let _ = portcullis_distribution::range::read_range(text, 1000);
    }
});
