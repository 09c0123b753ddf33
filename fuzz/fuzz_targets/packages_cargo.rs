//! Any bytes as a Cargo.lock: crates or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_packages::cargo_lock(data);
});
