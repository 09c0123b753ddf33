//! Any bytes as an rpm header blob and as an rpm sqlite database: packages or an error,
//! never a panic or an out-of-bounds read.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_packages::rpm_header(data);
    let _ = portcullis_packages::rpm_sqlite(data);
});
