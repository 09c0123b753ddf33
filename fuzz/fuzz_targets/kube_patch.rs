//! Arbitrary JSON documents and patches: every patch kind applies or fails cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_kube::patch;

fuzz_target!(|data: &[u8]| {
    let (left, right) = data.split_at(data.len() / 2);
    let (Ok(target), Ok(patch_doc)) = (
        serde_json::from_slice::<serde_json::Value>(left),
        serde_json::from_slice::<serde_json::Value>(right),
    ) else {
        return;
    };
    let _ = patch::merge_patch(&target, &patch_doc);
    let _ = patch::json_patch(&target, &patch_doc);
    let _ = patch::strategic_merge_patch(&target, &patch_doc);
});
