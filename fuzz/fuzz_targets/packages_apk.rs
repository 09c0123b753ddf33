//! Any bytes as an apk installed database: packages or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_packages::apk_installed(data);
});
