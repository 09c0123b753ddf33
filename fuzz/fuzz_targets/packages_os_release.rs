//! Any bytes as os-release, and any path, mode and size for `classify`: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_packages::os_release(data);
    if let Some((head, path)) = data.split_first_chunk::<12>() {
        let mode = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let size = u64::from_le_bytes([head[4], head[5], head[6], head[7], head[8], head[9], head[10], head[11]]);
        if let Ok(path) = std::str::from_utf8(path) {
            if let Some(kind) = portcullis_packages::classify(path, mode, size) {
                let _ = portcullis_packages::parse(kind, data);
            }
        }
    }
});
