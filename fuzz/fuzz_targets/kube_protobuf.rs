//! Any bytes as a Kubernetes protobuf body: decoded or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // With and without the magic, so the envelope decoder is reached quickly.
    let _ = portcullis_kube::protobuf::decode_body(data);
    let mut framed = portcullis_kube::protobuf::MAGIC.to_vec();
    framed.extend_from_slice(data);
    let _ = portcullis_kube::protobuf::decode_body(&framed);
});
