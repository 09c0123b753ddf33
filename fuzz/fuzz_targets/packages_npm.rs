//! Any bytes as a package-lock.json and as an installed package.json: packages or an
//! error, never a panic or unbounded recursion.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_packages::npm_package_lock(data);
    let _ = portcullis_packages::npm_package_json(data);
});
