//! Any bytes as a dpkg status file: packages or an error naming the line, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_packages::dpkg_status(data);
});
