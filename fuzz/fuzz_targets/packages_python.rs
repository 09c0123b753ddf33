//! Any bytes as Python core metadata: one package or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(packages) = portcullis_packages::python_metadata(data) {
        assert_eq!(packages.len(), 1);
    }
});
