//! The layer walker on arbitrary bytes: as a layer (tar, or gzip'd tar when the bytes start
//! with gzip's magic) and as a second layer over a known one. It must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut layers = portcullis_scan::Layers::new();
    layers.apply("sha256:fuzz", data);
    let _ = layers.inventory();

    // Through gzip too, so the decoder and the tar reader meet the same bytes.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = std::io::Write::write_all(&mut encoder, data);
    if let Ok(gzipped) = encoder.finish() {
        let mut layers = portcullis_scan::Layers::new();
        layers.apply("sha256:fuzz-gz", &gzipped[..]);
        let _ = layers.inventory();
    }
});
