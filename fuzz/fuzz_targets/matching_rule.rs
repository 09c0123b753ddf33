//! Any text: dynamic-group matching rules parse or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_iam::MatchingRule;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(rule) = MatchingRule::parse(text) {
            let printed = rule.to_string();
            assert_eq!(MatchingRule::parse(&printed).expect("reparse"), rule);
        }
    }
});
