//! Any bytes as an executable: Go build information, nothing, never a panic; and the
//! package list agrees with the build information it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let info = portcullis_packages::go_build_info(data);
    let packages = portcullis_packages::go_buildinfo(data);
    if let (Ok(None), Ok(packages)) = (info, packages) {
        assert!(packages.is_empty());
    }
});
