//! Any bearer token: decoded as an OKE cluster token or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = portcullis_containerengine::token::decode_token(text);
        let _ = portcullis_containerengine::token::prepare_token(
            text,
            "ocid1.cluster.oc1.iad.aaaa",
            "us-ashburn-1",
            jiff_now(),
        );
    }
});

fn jiff_now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}
